/* statvfs-based disk usage (see disk.h). */
#include <errno.h>
#include <sys/statvfs.h>

#include "disk.h"

int disk_used_percent(const char *path, double *percent)
{
	struct statvfs st;
	double used, avail;

	if (statvfs(path, &st) < 0)
		return -errno;
	if (st.f_blocks < st.f_bfree)
		return -EBADMSG;
	used = (double)(st.f_blocks - st.f_bfree);
	avail = (double)st.f_bavail;
	if (used + avail <= 0)
		return -ERANGE;
	*percent = 100.0 * used / (used + avail);
	return 0;
}
