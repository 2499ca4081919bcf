/* File check: a file that must exist (a readiness marker) or must not (a
 * maintenance flag an operator touches to drain the instance without
 * stopping it). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check-internal.h"

int check_file_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len)
{
	struct stat st;
	bool exists;

	/* Follow symlinks: a dangling link to a flag does not count. */
	if (fstatat(AT_FDCWD, s->path, &st, 0) == 0) {
		exists = true;
	} else if (errno == ENOENT || errno == ENOTDIR) {
		exists = false;
	} else {
		/* EACCES and the like: we cannot tell, so we do not pass. */
		int r = -errno;
		snprintf(detail, len, "cannot stat %s: %s", s->path, strerror(-r));
		return r;
	}
	if (exists == s->must_exist) {
		snprintf(detail, len, "%s %s", s->path, exists ? "exists" : "does not exist");
		return 1;
	}
	snprintf(detail, len, "%s %s", s->path,
	         exists ? "exists (it must not)" : "does not exist (it must)");
	return 0;
}
