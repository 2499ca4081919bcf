/* Persistent lifecycle state (see state-file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup.h"
#include "state-file.h"

int state_file_save(const char *dir, json_t *doc)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL, *text = NULL;
	_cleanup_close_ int fd = -1;
	size_t len, off = 0;

	if (asprintf(&path, "%s/%s", dir, STATE_FILE_NAME) < 0 ||
	    asprintf(&tmp, "%s/.%s.tmp", dir, STATE_FILE_NAME) < 0)
		return -ENOMEM;
	text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	len = strlen(text);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			unlink(tmp);
			return r;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		int r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

int state_file_load(const char *dir, json_t **doc)
{
	_cleanup_free_ char *path = NULL;
	json_error_t err;

	*doc = NULL;
	if (asprintf(&path, "%s/%s", dir, STATE_FILE_NAME) < 0)
		return -ENOMEM;
	if (access(path, F_OK) < 0)
		return -errno;
	*doc = json_load_file(path, 0, &err);
	if (!*doc || !json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
		return -EBADMSG;
	}
	return 0;
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
