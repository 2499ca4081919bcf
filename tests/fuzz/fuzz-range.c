/* Range (health/range.h) against a representation size.  Input: the size
 * in decimal on the first line, the Range header on the second, an
 * If-Range value on the third.  An answer of RANGE_SINGLE must be a range
 * inside the representation. */
#include <errno.h>
#include <inttypes.h>
#include <time.h>

#include "fuzz.h"
#include "range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[3];
	char *buf = fuzz_fields(data, size, f, 3);
	uint64_t len = f[0] ? strtoull(f[0], NULL, 10) : 0, first = 0, last = 0;
	enum range_result r;

	if (f[1]) {
		r = range_parse(f[1], len, &first, &last);
		FUZZ_ASSERT(r == RANGE_NONE || r == RANGE_SINGLE || r == RANGE_UNSATISFIABLE);
		if (r == RANGE_SINGLE) {
			FUZZ_ASSERT(len > 0);
			FUZZ_ASSERT(first <= last);
			FUZZ_ASSERT(last < len);
		}
		/* "bytes=N-" from at or past the end is 416, however large N
		 * (issue 9 item 13: bytes=18446744073709551615- answered 200). */
		if (len > 0 && !strncmp(f[1], "bytes=", 6) && f[1][6] &&
		    strspn(f[1] + 6, "0123456789") == strlen(f[1] + 6) - 1 &&
		    f[1][strlen(f[1]) - 1] == '-') {
			errno = 0;
			unsigned long long n = strtoull(f[1] + 6, NULL, 10);
			if (errno == ERANGE || n >= len)
				FUZZ_ASSERT(range_parse(f[1], len, &first, &last) ==
				            RANGE_UNSATISFIABLE);
		}
		/* A representation of size 0 has no satisfiable range. */
		FUZZ_ASSERT(range_parse(f[1], 0, &first, &last) != RANGE_SINGLE);
		r = range_parse(f[1], UINT64_MAX, &first, &last);
		if (r == RANGE_SINGLE)
			FUZZ_ASSERT(first <= last && last < UINT64_MAX);
	}
	if (f[2])
		(void)if_range_allows(f[2], "\"0123456789abcdef0123456789abcdef\"",
		                      (time_t)784111777);
	free(buf);
	return 0;
}
