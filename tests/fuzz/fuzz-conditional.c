/* Conditional requests (health/range.h): If-None-Match lists, ETags,
 * If-Modified-Since and If-Range dates.  Input lines: the entity tag the
 * file has, If-None-Match, If-Modified-Since, If-Range.  Checks the
 * promises: "*" matches anything, a list holding the etag matches it, and
 * If-None-Match wins over If-Modified-Since. */
#include <time.h>

#include "fuzz.h"
#include "range.h"
#include "timeutil.h"

/* "\"...\"" with no quote, comma or space inside. */
static bool strong_etag(const char *e)
{
	size_t n = strlen(e);

	return n >= 2 && e[0] == '"' && e[n - 1] == '"' && strcspn(e + 1, "\", \t") == n - 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[4];
	char *buf = fuzz_fields(data, size, f, 4);
	const char *etag = f[0] && *f[0] ? f[0] : "\"0123456789abcdef0123456789abcdef\"";
	time_t mtime = 784111777, t;

	if (f[1]) {
		bool m = etag_list_matches(f[1], etag);
		if (!strcmp(f[1], "*"))
			FUZZ_ASSERT(m);
		/* If-None-Match present: its answer is the answer, whatever
		 * If-Modified-Since says. */
		FUZZ_ASSERT(request_not_modified(f[1], f[2], etag, mtime) == m);
		FUZZ_ASSERT(request_not_modified(f[1], NULL, etag, mtime) == m);
	}
	/* A strong etag listed alone always matches itself. */
	if (strong_etag(etag))
		FUZZ_ASSERT(etag_list_matches(etag, etag));
	if (f[2]) {
		(void)request_not_modified(NULL, f[2], etag, mtime);
		if (parse_http_date(f[2], &t) == 0) {
			char back[64];
			format_http_date(t, back, sizeof(back));
			time_t t2;
			FUZZ_ASSERT(parse_http_date(back, &t2) == 0 && t2 == t);
		}
	}
	if (f[3]) {
		(void)if_range_allows(f[3], etag, mtime);
		/* A weak validator never allows a range (RFC 9110 13.1.5). */
		if (!strncmp(f[3], "W/", 2))
			FUZZ_ASSERT(!if_range_allows(f[3], etag, mtime));
	}
	free(buf);
	return 0;
}
