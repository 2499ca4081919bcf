/* Clock and date helpers shared by both daemons. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

uint64_t now_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t now_mono_ms(void)
{
	return now_mono_us() / 1000u;
}

void format_http_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int parse_http_date(const char *s, time_t *out)
{
	static const char *formats[] = {
	        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
	        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
	        "%a %b %e %H:%M:%S %Y",      /* asctime */
	};
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm;
		const char *end;

		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (end && *end == '\0') {
			*out = timegm(&tm);
			return 0;
		}
	}
	return -EINVAL;
}

int parse_iso8601(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") && strcmp(end, "+00:00"))
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

void format_iso8601(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	return nanosleep(&ts, NULL) < 0 ? -errno : 0;
}
