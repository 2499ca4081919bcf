/* Memory check: MemAvailable from /proc/meminfo, the kernel's estimate of
 * what can be allocated without swapping (proc(5)); MemFree undercounts
 * because it ignores reclaimable page cache. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "check-internal.h"

/* Reads MemTotal and MemAvailable (kB in the file) as bytes. */
static int meminfo_read(const char *path, double *total, double *available)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[256];
	bool have_total = false, have_avail = false;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;
		/* the kernel's /proc/meminfo: decimal kB that fit */
		/* NOLINTNEXTLINE(cert-err34-c) */
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
			*total = (double)kb * 1024.0;
			have_total = true;
			/* NOLINTNEXTLINE(cert-err34-c) */
		} else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			*available = (double)kb * 1024.0;
			have_avail = true;
		}
	}
	if (ferror(f))
		return -EIO;
	/* MemAvailable exists since Linux 3.14; without it we cannot judge. */
	return have_total && have_avail ? 0 : -ENODATA;
}

int check_memory_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len)
{
	const char *path = s->path ? s->path : "/proc/meminfo";
	double total = 0, avail = 0, percent;
	char have[32], want[32];
	int r;

	r = meminfo_read(path, &total, &avail);
	if (r < 0) {
		snprintf(detail, len, "cannot read MemTotal and MemAvailable from %s: %s", path,
		         strerror(-r));
		return r;
	}
	percent = total > 0 ? avail * 100.0 / total : 0.0;
	check_format_size(have, sizeof(have), avail);
	if (s->min_free_bytes > 0 && avail < (double)s->min_free_bytes) {
		check_format_size(want, sizeof(want), (double)s->min_free_bytes);
		snprintf(detail, len, "%s memory available < %s", have, want);
		return 0;
	}
	if (s->min_free_percent > 0 && percent < s->min_free_percent) {
		snprintf(detail, len, "%s (%.1f%%) memory available < %g%%", have, percent,
		         s->min_free_percent);
		return 0;
	}
	snprintf(detail, len, "%s (%.1f%%) memory available", have, percent);
	return 1;
}
