/* Durations ("500ms", "5s", "2m", "1h"), sizes ("64k", "10M", "1G"), HTTP
 * dates and ISO 8601 timestamps (common/conf.h, common/timeutil.h), and
 * the IMDS event times the agent reads (agent/watch.h).  A parse that
 * succeeds gives a value in range: no negative duration or size. */
#include <errno.h>
#include <time.h>

#include "conf.h"
#include "fuzz.h"
#include "timeutil.h"
#include "watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	long long v;
	time_t t;

	if (conf_parse_duration_ms(s, &v) == 0)
		FUZZ_ASSERT(v >= 0);
	if (conf_parse_size(s, &v) == 0)
		FUZZ_ASSERT(v >= 0);
	if (parse_http_date(s, &t) == 0) {
		char back[64];
		time_t t2;
		format_http_date(t, back, sizeof(back));
		FUZZ_ASSERT(parse_http_date(back, &t2) == 0 && t2 == t);
	}
	if (parse_iso8601(s, &t) == 0) {
		char back[64];
		time_t t2;
		format_iso8601(t, back, sizeof(back));
		FUZZ_ASSERT(parse_iso8601(back, &t2) == 0 && t2 == t);
	}
	(void)watch_parse_event_time(s, &t);
	free(s);
	return 0;
}
