/* Persistent lifecycle state (see state-file.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup.h"
#include "state-file.h"

/* The agent writes well under 1 KiB; anything far larger is not ours. */
#define STATE_FILE_MAX_BYTES (64 * 1024)
#define TMP_PREFIX           "." STATE_FILE_NAME "."

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int state_file_save(const char *dir, json_t *doc)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL, *text = NULL;
	_cleanup_close_ int fd = -1, dfd = -1;
	int r;

	if (asprintf(&path, "%s/%s", dir, STATE_FILE_NAME) < 0 ||
	    asprintf(&tmp, "%s/" TMP_PREFIX "XXXXXX", dir) < 0)
		return -ENOMEM;
	text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	/* A fresh, unique name created with O_EXCL (mkostemp): a symlink or
	 * file planted at a predictable temporary name is never followed
	 * nor written through. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		r = errno ? -errno : -EIO;
		unlink(tmp);
		return r;
	}
	/* The rename is durable only once the directory is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return -errno;
	return 0;
}

/* Temporary files of saves cut short by a crash (kill -9 between create
 * and rename).  unlinkat never follows a symlink. */
static void remove_stale_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) &&
		    strlen(de->d_name) == strlen(TMP_PREFIX) + 6)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

int state_file_load(const char *dir, json_t **doc)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t off = 0;

	*doc = NULL;
	if (asprintf(&path, "%s/%s", dir, STATE_FILE_NAME) < 0)
		return -ENOMEM;
	remove_stale_temporaries(dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size > STATE_FILE_MAX_BYTES)
		return -EBADMSG;
	buf = malloc(STATE_FILE_MAX_BYTES + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + off, STATE_FILE_MAX_BYTES + 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > STATE_FILE_MAX_BYTES)
			return -EBADMSG;
	}
	*doc = json_loadb(buf, off, JSON_REJECT_DUPLICATES, NULL);
	if (!*doc || !json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
		return -EBADMSG;
	}
	return 0;
}

int state_file_set_aside(const char *dir, char *name, size_t len)
{
	_cleanup_free_ char *path = NULL;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (asprintf(&path, "%s/%s", dir, STATE_FILE_NAME) < 0)
		return -ENOMEM;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 0; i < 100; i++) {
		_cleanup_free_ char *to = NULL;
		if ((i ? asprintf(&to, "%s/%s.invalid-%s.%d", dir, STATE_FILE_NAME, stamp, i)
		       : asprintf(&to, "%s/%s.invalid-%s", dir, STATE_FILE_NAME, stamp)) < 0)
			return -ENOMEM;
		/* Never over an earlier one: each is evidence. */
		if (renameat2(AT_FDCWD, path, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
			snprintf(name, len, "%s", strrchr(to, '/') + 1);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int state_file_boot_id(char *buf, size_t len)
{
	/* Test-only, like ASG_AGENT_TEST_PERIOD_MS: a reboot without one. */
	const char *test = getenv("ASG_AGENT_TEST_BOOT_ID");
	_cleanup_fclose_ FILE *f = NULL;

	if (test && *test) {
		snprintf(buf, len, "%s", test);
		return 0;
	}
	f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		return -EIO;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}
