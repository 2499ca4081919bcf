/* The executables of /etc/asg-agent/drain.d, run in order with run-parts
 * semantics during a drain (asg-health's side is health-client.h). */
#ifndef ASG_AGENT_DRAIN_H
#define ASG_AGENT_DRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define DRAIN_D_MAX 64

/* The names run-parts would run, in its order: regular executable files
 * (symlinks followed) whose names are only [A-Za-z0-9_-], sorted in the C
 * locale.  *names is owned by the caller (drain_d_free).  A missing
 * directory is an empty list. */
int drain_d_list(const char *dir, char ***names, int *n);
void drain_d_free(char **names, int n);
/* Why a drain.d executable (or, directory true, drain.d itself) must not
 * run, or NULL: they run with the instance role, so only root or the
 * agent's user may own them and neither group nor others may write them
 * (group/other-writable is refused even for root's files).  Pure. */
const char *drain_d_refusal(const struct stat *st, uid_t agent_uid, bool directory);
/* drain_d_refusal() for dir and dir/name (symlinks followed, as exec
 * does): 0, or -EPERM / -errno with why naming the path and the reason. */
int drain_d_check(const char *dir, const char *name, char *why, size_t len);
/* Runs dir/name with extra environment entries ("KEY=value", NULL-
 * terminated), its output logged line by line, for at most timeout_ms:
 * then its process group gets SIGTERM, and SIGKILL a second later.
 * Returns its exit status (0..255), -ETIME on timeout, -errno when it
 * could not be started.  The child gets the pipe as stdout/stderr,
 * /dev/null as stdin and no other descriptor of the agent. */
int drain_d_run(const char *dir, const char *name, const char *const *env, long long timeout_ms);

#endif
