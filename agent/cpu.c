/* /proc/stat sampler (see cpu.h for what counts as busy). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cpu.h"

int cpu_read_times(const char *path, struct cpu_times *out)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512];
	uint64_t v[10] = {0};
	int n;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu ", 4))
			continue;
		/* the kernel's /proc/stat: decimal counters that fit */
		/* NOLINTNEXTLINE(cert-err34-c) */
		n = sscanf(line + 4,
		           "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		           " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		           &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
		/* Fields from user to idle exist in every kernel; later ones
		 * (iowait 2.5.41, irq/softirq 2.6.0, steal 2.6.11) read as 0
		 * when missing. */
		if (n < 4)
			return -EBADMSG;
		out->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		out->idle = v[3] + v[4];
		return 0;
	}
	return -EBADMSG;
}

int cpu_utilisation(const struct cpu_times *prev, const struct cpu_times *cur, double *percent)
{
	uint64_t busy, total;

	if (cur->busy < prev->busy || cur->idle < prev->idle)
		return -ERANGE;
	busy = cur->busy - prev->busy;
	total = busy + (cur->idle - prev->idle);
	if (!total)
		return -ERANGE;
	*percent = 100.0 * (double)busy / (double)total;
	return 0;
}
