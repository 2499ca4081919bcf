/* Request targets: percent-decoding and normalisation (health/path.h),
 * the first thing asg-health does with bytes from the internet.  Beyond
 * "no crash", checks what the rest of the server relies on: an accepted
 * path is root-relative, has no empty, "." or ".." segment, no NUL, and
 * fits the buffer. */
#include <errno.h>

#include "fuzz.h"
#include "path.h"

static void check_normalized(const char *out, size_t len)
{
	const char *seg = out;

	FUZZ_ASSERT(strlen(out) < len);
	if (!*out)
		return;
	FUZZ_ASSERT(out[0] != '/');
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		FUZZ_ASSERT(n > 0);
		FUZZ_ASSERT(!(n == 1 && seg[0] == '.'));
		FUZZ_ASSERT(!(n == 2 && seg[0] == '.' && seg[1] == '.'));
		if (!end)
			break;
		seg = end + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw = fuzz_cstr(data, size);
	char out[4096], small[16];
	int flags = -1, r;

	r = path_normalize(raw, out, sizeof(out), &flags);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
	if (r == 0) {
		check_normalized(out, sizeof(out));
		FUZZ_ASSERT(raw[0] == '/');
		/* Normalising is idempotent: "/" + out gives out again. */
		char again[4096 + 2], twice[4096];
		int f2;
		snprintf(again, sizeof(again), "/%s", out);
		/* out is decoded: a '%' in it would be decoded a second time,
		 * which is not the same path; compare only when there is none. */
		if (!strchr(out, '%')) {
			FUZZ_ASSERT(path_normalize(again, twice, sizeof(twice), &f2) == 0);
			FUZZ_ASSERT(!strcmp(out, twice));
		}
	}
	r = path_normalize(raw, small, sizeof(small), &flags);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
	if (r == 0)
		check_normalized(small, sizeof(small));
	free(raw);
	return 0;
}
