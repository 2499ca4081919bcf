/* The lifecycle's persistent state: one JSON document in the state
 * directory (/run/asg-agent by default: it lives as long as the boot,
 * which is as long as a lifecycle action can), written atomically (a
 * temporary file with a unique name created O_EXCL, fsync, rename,
 * fsync of the directory) so a restarted agent resumes a drain where it
 * was and never completes a hook twice. */
#ifndef ASG_AGENT_STATE_FILE_H
#define ASG_AGENT_STATE_FILE_H

struct json_t;

#define STATE_FILE_NAME "lifecycle.json"

/* Writes doc to dir/lifecycle.json.  0 or -errno. */
int state_file_save(const char *dir, struct json_t *doc);
/* Reads it: 0 with *doc a new reference, -ENOENT when there is none,
 * -EBADMSG when it is not a JSON object (or a symlink, not a regular
 * file, over 64 KiB, with duplicate keys), other -errno.  Removes the
 * temporary files of saves a crash cut short. */
int state_file_load(const char *dir, struct json_t **doc);
/* Renames dir/lifecycle.json to lifecycle.json.invalid-<UTC time> (never
 * over an earlier one), so a file that does not validate is kept for a
 * post-mortem but never read again.  The new name goes into name. */
int state_file_set_aside(const char *dir, char *name, size_t len);
/* This boot's id (/proc/sys/kernel/random/boot_id): a state directory
 * under /var/lib outlives a reboot, and a state from another boot is
 * stale. */
int state_file_boot_id(char *buf, size_t len);

#endif
