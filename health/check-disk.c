/* Disk check: free space on the filesystem holding a path.  A full disk
 * breaks logging, uploads and caches long before the process dies, so an
 * instance that cannot write should leave the load balancer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "check-internal.h"

/* statvfs cannot be interrupted, so the timeout does not bound it: on a
 * hung network filesystem it would stall the runner.  Point disk checks
 * at local filesystems. */
int check_disk_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len)
{
	struct statvfs st;
	double avail, total, percent;
	char have[32], want[32];

	/* f_bavail, not f_bfree: the blocks reserved for root are not ours. */
	if (statvfs(s->path, &st) < 0) {
		int r = -errno;
		snprintf(detail, len, "cannot statvfs %s: %s", s->path, strerror(-r));
		return r;
	}
	avail = (double)st.f_bavail * (double)st.f_frsize;
	total = (double)st.f_blocks * (double)st.f_frsize;
	percent = total > 0 ? avail * 100.0 / total : 0.0;
	check_format_size(have, sizeof(have), avail);

	if (s->min_free_bytes > 0 && avail < (double)s->min_free_bytes) {
		check_format_size(want, sizeof(want), (double)s->min_free_bytes);
		snprintf(detail, len, "%s free on %s < %s", have, s->path, want);
		return 0;
	}
	if (s->min_free_percent > 0 && percent < s->min_free_percent) {
		snprintf(detail, len, "%s (%.1f%%) free on %s < %g%%", have, percent, s->path,
		         s->min_free_percent);
		return 0;
	}
	snprintf(detail, len, "%s (%.1f%%) free on %s", have, percent, s->path);
	return 1;
}
