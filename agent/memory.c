/* /proc/meminfo reader (see memory.h). */
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "cleanup.h"
#include "memory.h"

int memory_used_percent(const char *meminfo_path, double *percent)
{
	_cleanup_fclose_ FILE *f = fopen(meminfo_path, "re");
	unsigned long long total = 0, avail = 0, v;
	bool have_avail = false;
	char line[256], key[64];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* the kernel's /proc/meminfo: decimal kB that fit */
		/* NOLINTNEXTLINE(cert-err34-c) */
		if (sscanf(line, "%63[^:]: %llu", key, &v) != 2)
			continue;
		if (!strcmp(key, "MemTotal"))
			total = v;
		else if (!strcmp(key, "MemAvailable")) {
			avail = v;
			have_avail = true;
		}
	}
	if (!total || !have_avail || avail > total)
		return -EBADMSG;
	*percent = 100.0 * (double)(total - avail) / (double)total;
	return 0;
}
