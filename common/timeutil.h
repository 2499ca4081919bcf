/* Clocks: monotonic for intervals and timeouts, realtime only for what is
 * shown to people or sent to AWS. */
#ifndef ASG_TIMEUTIL_H
#define ASG_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

uint64_t now_mono_ms(void);
uint64_t now_mono_us(void);
/* Formats t as an RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). */
void format_http_date(time_t t, char *buf, size_t len);
/* Parses IMF-fixdate (and the two obsolete forms); -EINVAL if not a date. */
int parse_http_date(const char *s, time_t *out);
/* Parses RFC 3339 / ISO 8601 UTC "2017-09-18T08:22:00Z" (fraction allowed). */
int parse_iso8601(const char *s, time_t *out);
void format_iso8601(time_t t, char *buf, size_t len);
/* Sleeps up to ms, returning early (with -EINTR) if a signal arrives. */
int sleep_ms(uint64_t ms);

#endif
