/* Issue 9 §1 item 13: secrets are wiped before their memory is freed.
 * Freed memory cannot be inspected portably (and ASan forbids it), so
 * this checks the helpers on live memory; every free of a secret goes
 * through them (secret.h lists the secrets). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "credentials.h"
#include "secret.h"
#include "strbuf.h"

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_wipe(void **state)
{
	char buf[64];
	char *p;

	(void)state;
	memset(buf, 'k', sizeof(buf));
	secret_wipe(buf, sizeof(buf));
	assert_true(all_zero(buf, sizeof(buf)));
	secret_wipe(NULL, 10); /* nothing to do, no crash */
	secret_free(NULL);
	p = strdup("AKIA-secret");
	secret_free(p);
	p = strdup("token");
	{
		_cleanup_secret_ char *q = p;
		(void)q;
	}
}

static void test_secret_strbuf(void **state)
{
	struct strbuf sb = STRBUF_INIT_SECRET;
	char big[1000];

	(void)state;
	/* Growth (malloc, copy, wipe, free instead of realloc) keeps it all. */
	memset(big, 's', sizeof(big));
	for (int i = 0; i < 20; i++)
		strbuf_append_len(&sb, big, sizeof(big));
	strbuf_printf(&sb, "%s", "-end");
	assert_int_equal(sb.len, 20 * sizeof(big) + 4);
	assert_true(sb.data[0] == 's' && sb.data[19999] == 's');
	assert_string_equal(sb.data + 20000, "-end");
	/* A reset wipes the whole capacity, not just the first byte. */
	strbuf_reset(&sb);
	assert_true(all_zero(sb.data, sb.cap));
	strbuf_append(&sb, "again");
	assert_string_equal(strbuf_str(&sb), "again");
	strbuf_free(&sb);
	assert_null(sb.data);
}

static void *other_malloc(size_t n)
{
	return malloc(n);
}

static void other_free(void *p)
{
	free(p);
}

/* The credentials parser swaps jansson's allocator for a wiping one and
 * must put back whatever was there. */
static void test_credentials_parse_restores_allocator(void **state)
{
	static const char ok[] = "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIA1\","
	                         "\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok\","
	                         "\"Expiration\":\"2024-01-01T06:00:00Z\"}";
	struct credentials c;
	json_malloc_t m;
	json_free_t f;

	(void)state;
	json_set_alloc_funcs(other_malloc, other_free);
	assert_int_equal(credentials_parse_imds(ok, strlen(ok), &c), 0);
	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(m, other_malloc);
	assert_ptr_equal(f, other_free);
	assert_string_equal(c.secret_access_key, "s3cr3t");
	credentials_clear(&c);
	assert_null(c.secret_access_key);
	assert_int_equal(credentials_parse_imds("{", 1, &c), -EBADMSG);
	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(f, other_free);
	json_set_alloc_funcs(malloc, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_wipe),
	        cmocka_unit_test(test_secret_strbuf),
	        cmocka_unit_test(test_credentials_parse_restores_allocator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
