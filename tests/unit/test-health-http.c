/* Unit tests: path normalisation, MIME types, Range, conditional requests
 * and Accept-Encoding parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mime.h"
#include "path.h"
#include "range.h"
#include "timeutil.h"

static void expect_path(const char *raw, const char *want, int want_flags)
{
	char out[256];
	int flags = -1;
	int r = path_normalize(raw, out, sizeof(out), &flags);

	if (r != 0)
		fail_msg("%s: rejected (%d), wanted \"%s\"", raw, r, want);
	assert_string_equal(out, want);
	assert_int_equal(flags, want_flags);
}

static void expect_reject(const char *raw)
{
	char out[256];
	int flags;

	if (path_normalize(raw, out, sizeof(out), &flags) != -EINVAL)
		fail_msg("%s: accepted as \"%s\"", raw, out);
}

static void test_path_normal(void **state)
{
	expect_path("/", "", PATH_TRAILING_SLASH);
	expect_path("/index.html", "index.html", 0);
	expect_path("/a/b/", "a/b", PATH_TRAILING_SLASH);
	expect_path("//a///b", "a/b", 0);
	expect_path("/a/./b", "a/b", 0);
	expect_path("/a/b/../c", "a/c", 0);
	expect_path("/a/b/..", "a", PATH_TRAILING_SLASH);
	expect_path("/a/.", "a", PATH_TRAILING_SLASH);
	expect_path("/caf%C3%A9.txt", "caf\xc3\xa9.txt", 0);
	expect_path("/a%20b", "a b", 0);
	expect_path("/a+b", "a+b", 0);
	/* double encoding decodes once: a literal "%2e%2e" file name, harmless */
	expect_path("/%252e%252e/x", "%2e%2e/x", 0);
	expect_path("/.well-known/acme", ".well-known/acme", 0);
	expect_path("/.git/config", ".git/config", PATH_HAS_DOTFILE);
	expect_path("/a/.env", "a/.env", PATH_HAS_DOTFILE);
	expect_path("/.hidden/../ok", "ok", 0);
}

static void test_path_reject(void **state)
{
	expect_reject("");
	expect_reject("a/b");
	expect_reject("/..");
	expect_reject("/../etc/passwd");
	expect_reject("/a/../../etc/passwd");
	expect_reject("/%2e%2e/etc/passwd");
	expect_reject("/a/%2E%2E/%2e%2e/x");
	expect_reject("/a%2fb");
	expect_reject("/a%2F..%2F..%2Fetc");
	expect_reject("/a%00.html");
	expect_reject("/a%zz");
	expect_reject("/a%2");
	expect_reject("/a%");
}

static void test_path_too_long(void **state)
{
	char out[8];
	int flags;

	assert_int_equal(path_normalize("/abcdefghij", out, sizeof(out), &flags), -ENAMETOOLONG);
}

static void test_mime(void **state)
{
	static const struct { const char *name, *type; } cases[] = {
		{ "a.html", "text/html; charset=utf-8" },
		{ "a.css", "text/css; charset=utf-8" },
		{ "a.js", "text/javascript; charset=utf-8" },
		{ "a.mjs", "text/javascript; charset=utf-8" },
		{ "a.json", "application/json; charset=utf-8" },
		{ "a.js.map", "application/json; charset=utf-8" },
		{ "a.svg", "image/svg+xml; charset=utf-8" },
		{ "a.png", "image/png" },
		{ "a.JPG", "image/jpeg" },
		{ "a.jpeg", "image/jpeg" },
		{ "a.gif", "image/gif" },
		{ "a.webp", "image/webp" },
		{ "a.avif", "image/avif" },
		{ "favicon.ico", "image/x-icon" },
		{ "f.woff", "font/woff" },
		{ "f.woff2", "font/woff2" },
		{ "robots.txt", "text/plain; charset=utf-8" },
		{ "sitemap.xml", "application/xml; charset=utf-8" },
		{ "app.wasm", "application/wasm" },
		{ "doc.pdf", "application/pdf" },
		{ "noext", "application/octet-stream" },
		{ "dir.d/noext", "application/octet-stream" },
		{ "a.unknownext", "application/octet-stream" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(mime_type_for(cases[i].name), cases[i].type);
	assert_true(mime_is_compressible("text/html; charset=utf-8"));
	assert_true(mime_is_compressible("image/svg+xml; charset=utf-8"));
	assert_true(mime_is_compressible("application/wasm"));
	assert_false(mime_is_compressible("image/png"));
	assert_false(mime_is_compressible("font/woff2"));
}

static void expect_range(const char *h, uint64_t size, enum range_result want, uint64_t f,
			 uint64_t l)
{
	uint64_t first = 99, last = 99;
	enum range_result r = range_parse(h, size, &first, &last);

	if (r != want)
		fail_msg("Range %s on %llu: got %d want %d", h ? h : "(none)", (unsigned long long)size, r, want);
	if (want == RANGE_SINGLE) {
		assert_int_equal(first, f);
		assert_int_equal(last, l);
	}
}

static void test_range(void **state)
{
	expect_range(NULL, 100, RANGE_NONE, 0, 0);
	expect_range("bytes=0-9", 100, RANGE_SINGLE, 0, 9);
	expect_range("bytes=10-", 100, RANGE_SINGLE, 10, 99);
	expect_range("bytes=-10", 100, RANGE_SINGLE, 90, 99);
	expect_range("bytes=-1000", 100, RANGE_SINGLE, 0, 99);
	expect_range("bytes=50-1000", 100, RANGE_SINGLE, 50, 99);
	expect_range("bytes=99-99", 100, RANGE_SINGLE, 99, 99);
	expect_range("BYTES=0-0", 100, RANGE_SINGLE, 0, 0);
	expect_range("bytes=100-", 100, RANGE_UNSATISFIABLE, 0, 0);
	expect_range("bytes=200-300", 100, RANGE_UNSATISFIABLE, 0, 0);
	expect_range("bytes=-0", 100, RANGE_UNSATISFIABLE, 0, 0);
	expect_range("bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0);
	/* invalid or multiple: ignored, whole file */
	expect_range("bytes=0-1,5-6", 100, RANGE_NONE, 0, 0);
	expect_range("bytes=9-1", 100, RANGE_NONE, 0, 0);
	expect_range("items=0-1", 100, RANGE_NONE, 0, 0);
	expect_range("bytes=a-b", 100, RANGE_NONE, 0, 0);
	expect_range("bytes=1-2x", 100, RANGE_NONE, 0, 0);
	/* positions past 64 bits are past any file: 416, not ignored */
	expect_range("bytes=18446744073709551615-", 100, RANGE_UNSATISFIABLE, 0, 0);
	expect_range("bytes=18446744073709551616-", 100, RANGE_UNSATISFIABLE, 0, 0);
	expect_range("bytes=99999999999999999999999-", 100, RANGE_UNSATISFIABLE, 0, 0);
	expect_range("bytes=18446744073709551615-18446744073709551615", 100,
		     RANGE_UNSATISFIABLE, 0, 0);
	/* a last position past 64 bits means "to the end" */
	expect_range("bytes=5-99999999999999999999999", 100, RANGE_SINGLE, 5, 99);
	/* a suffix longer than 64 bits: the whole file */
	expect_range("bytes=-99999999999999999999999", 100, RANGE_SINGLE, 0, 99);
	expect_range("bytes=18446744073709551614-", UINT64_MAX, RANGE_SINGLE,
		     18446744073709551614u, 18446744073709551614u);
}

static void expect_location(const char *rel, const char *want)
{
	char out[256];

	assert_int_equal(path_location(rel, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

/* The directory redirect's Location: always a path with exactly one
 * leading '/', whatever the request target held (issue 9, item 1). */
static void test_location(void **state)
{
	const char *targets[] = { "//evil.example/../docs", "/\\evil.example/..",
				  "//evil.example/%2e%2e/docs", "/docs", "///docs",
				  "/\\evil.example/../docs", "/a%2F/..", "/%5Cevil.example" };
	char out[16];

	expect_location("docs", "/docs/");
	expect_location("", "/");
	expect_location("a b/c\xc3\xa9", "/a%20b/c%C3%A9/");
	expect_location("\\evil.example", "/%5Cevil.example/");
	expect_location("a?b#c;d", "/a%3Fb%23c%3Bd/");
	expect_location("a\r\nSet-Cookie: x", "/a%0D%0ASet-Cookie%3A%20x/");
	/* never two slashes, even from a path_normalize did not make */
	expect_location("/evil.example", "/evil.example/");
	assert_int_equal(path_location("abcdefghijklmnop", out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(path_location("%%%%%", out, sizeof(out)), -ENAMETOOLONG);

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		char rel[256], loc[1024];
		int flags;

		if (path_normalize(targets[i], rel, sizeof(rel), &flags) < 0)
			continue; /* refused with 400: no redirect at all */
		assert_int_equal(path_location(rel, loc, sizeof(loc)), 0);
		if (loc[0] != '/' || loc[1] == '/' || loc[1] == '\\')
			fail_msg("%s -> Location %s", targets[i], loc);
	}
}

static void test_conditional(void **state)
{
	const char *etag = "\"abc\"";
	time_t mtime;

	assert_int_equal(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &mtime), 0);
	assert_int_equal(mtime, 784111777);
	assert_true(etag_list_matches("\"abc\"", etag));
	assert_true(etag_list_matches("W/\"abc\"", etag));
	assert_true(etag_list_matches("\"x\", \"abc\"", etag));
	assert_true(etag_list_matches("*", etag));
	assert_false(etag_list_matches("\"abcd\"", etag));
	assert_false(etag_list_matches("\"ab\"", etag));
	assert_false(etag_list_matches("", etag));
	/* If-None-Match wins over If-Modified-Since */
	assert_false(request_not_modified("\"other\"", "Sun, 06 Nov 2044 08:49:37 GMT", etag, mtime));
	assert_true(request_not_modified(NULL, "Sun, 06 Nov 1994 08:49:37 GMT", etag, mtime));
	assert_true(request_not_modified(NULL, "Mon, 07 Nov 1994 08:49:37 GMT", etag, mtime));
	assert_false(request_not_modified(NULL, "Sat, 05 Nov 1994 08:49:37 GMT", etag, mtime));
	assert_false(request_not_modified(NULL, "garbage", etag, mtime));
	assert_true(request_not_modified(NULL, "Sunday, 06-Nov-94 08:49:37 GMT", etag, mtime));
	assert_false(request_not_modified(NULL, NULL, etag, mtime));
	assert_true(if_range_allows(NULL, etag, mtime));
	assert_true(if_range_allows("\"abc\"", etag, mtime));
	assert_false(if_range_allows("\"zzz\"", etag, mtime));
	assert_false(if_range_allows("W/\"abc\"", etag, mtime));
	assert_true(if_range_allows("Sun, 06 Nov 1994 08:49:37 GMT", etag, mtime));
	assert_false(if_range_allows("Sun, 06 Nov 1994 08:49:38 GMT", etag, mtime));
}

static void test_accept_encoding(void **state)
{
	const unsigned gz = 1u << ENC_GZIP, br = 1u << ENC_BR;

	assert_int_equal(accept_encoding_parse(NULL), 0);
	assert_int_equal(accept_encoding_parse("gzip"), gz);
	assert_int_equal(accept_encoding_parse("gzip, deflate, br"), gz | br);
	assert_int_equal(accept_encoding_parse("br;q=1.0, gzip;q=0.8"), gz | br);
	assert_int_equal(accept_encoding_parse("gzip;q=0, br"), br);
	assert_int_equal(accept_encoding_parse("GZIP"), gz);
	assert_int_equal(accept_encoding_parse("*"), gz | br);
	assert_int_equal(accept_encoding_parse("*, br;q=0"), gz);
	assert_int_equal(accept_encoding_parse("identity"), 0);
	assert_int_equal(accept_encoding_parse("gzipx, xbr"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_normal),
		cmocka_unit_test(test_path_reject),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test(test_mime),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_location),
		cmocka_unit_test(test_conditional),
		cmocka_unit_test(test_accept_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
