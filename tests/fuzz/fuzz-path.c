/* Request targets: percent-decoding and normalisation (health/path.h),
 * the first thing asg-health does with bytes from the internet.  Beyond
 * "no crash", checks what the rest of the server relies on: an accepted
 * path is root-relative, has no empty, "." or ".." segment, no NUL, and
 * fits the buffer. */
#include <ctype.h>
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

/* The directory redirect's Location (issue 9 item 1): one leading '/',
 * never "//" or "/\\", only unreserved characters, '/' and %XX, and it
 * normalises back to the same path. */
static void check_location(const char *rel)
{
	char loc[3 * 4096 + 3], back[4096];
	int flags, r = path_location(rel, loc, sizeof(loc));

	FUZZ_ASSERT(r == 0 || r == -ENAMETOOLONG);
	if (r < 0)
		return;
	FUZZ_ASSERT(loc[0] == '/' && loc[1] != '/' && loc[1] != '\\');
	FUZZ_ASSERT(loc[strlen(loc) - 1] == '/');
	for (const char *p = loc; *p; p++)
		FUZZ_ASSERT(isalnum((unsigned char)*p) || strchr("-._~/%", *p));
	FUZZ_ASSERT(path_normalize(loc, back, sizeof(back), &flags) == 0);
	FUZZ_ASSERT(!strcmp(back, rel));
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
		check_location(out);
	}
	r = path_normalize(raw, small, sizeof(small), &flags);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
	if (r == 0)
		check_normalized(small, sizeof(small));
	free(raw);
	return 0;
}
