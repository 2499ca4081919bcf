/* prom.c: the text exposition format 0.0.4, byte for byte. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "prom.h"

static const char *finish(struct prom *p)
{
	const char *text = NULL;
	size_t len = 0;

	assert_int_equal(prom_finish(p, &text, &len), 0);
	assert_int_equal(len, strlen(text));
	return text;
}

static void test_family_and_samples(void **state)
{
	struct prom p;

	prom_init(&p);
	prom_family(&p, "asg_test_requests_total", PROM_COUNTER, "Requests answered.");
	prom_sample_u64(&p, (const char *const[]){"method", "GET", "code", "2xx", NULL}, 3);
	prom_sample_u64(&p, (const char *const[]){"method", "HEAD", "code", "4xx", NULL}, 0);
	prom_family(&p, "asg_test_draining", PROM_GAUGE, "1 while draining.");
	prom_sample(&p, NULL, 1);
	assert_string_equal(finish(&p), "# HELP asg_test_requests_total Requests answered.\n"
	                                "# TYPE asg_test_requests_total counter\n"
	                                "asg_test_requests_total{method=\"GET\",code=\"2xx\"} 3\n"
	                                "asg_test_requests_total{method=\"HEAD\",code=\"4xx\"} 0\n"
	                                "# HELP asg_test_draining 1 while draining.\n"
	                                "# TYPE asg_test_draining gauge\n"
	                                "asg_test_draining 1\n");
	prom_free(&p);
}

static void test_single(void **state)
{
	struct prom p;

	prom_init(&p);
	prom_single_u64(&p, "asg_test_bytes_total", PROM_COUNTER, "Bytes.", UINT64_MAX);
	prom_single(&p, "asg_test_ratio", PROM_GAUGE, "A ratio.", 0.25);
	prom_single(&p, "bad name", PROM_GAUGE, "Refused.", 1);
	assert_int_equal(prom_finish(&p, &(const char *){NULL}, &(size_t){0}), -EINVAL);
	prom_free(&p);
	prom_init(&p);
	prom_single_u64(&p, "asg_test_bytes_total", PROM_COUNTER, "Bytes.", UINT64_MAX);
	prom_single(&p, "asg_test_ratio", PROM_GAUGE, "A ratio.", 0.25);
	assert_string_equal(finish(&p), "# HELP asg_test_bytes_total Bytes.\n"
	                                "# TYPE asg_test_bytes_total counter\n"
	                                "asg_test_bytes_total 18446744073709551615\n"
	                                "# HELP asg_test_ratio A ratio.\n"
	                                "# TYPE asg_test_ratio gauge\n"
	                                "asg_test_ratio 0.25\n");
	prom_free(&p);
}

static void test_escaping(void **state)
{
	struct prom p;

	prom_init(&p);
	/* HELP escapes backslash and newline; a quote stays as it is. */
	prom_family(&p, "m", PROM_GAUGE, "a \\ b\nc \"d\"");
	/* Label values escape backslash, double quote and newline. */
	prom_sample(&p, (const char *const[]){"name", "x\\y\"z\nw", NULL}, 2);
	prom_sample(&p, (const char *const[]){"name", "", NULL}, 0);
	assert_string_equal(finish(&p), "# HELP m a \\\\ b\\nc \"d\"\n"
	                                "# TYPE m gauge\n"
	                                "m{name=\"x\\\\y\\\"z\\nw\"} 2\n"
	                                "m{name=\"\"} 0\n");
	prom_free(&p);
}

static void test_values(void **state)
{
	char buf[64];

	prom_format_double(INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "+Inf");
	prom_format_double(-INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "-Inf");
	prom_format_double(NAN, buf, sizeof(buf));
	assert_string_equal(buf, "NaN");
	prom_format_double(0.1, buf, sizeof(buf));
	assert_string_equal(buf, "0.1"); /* the shortest text that reads back */
	prom_format_double(0.25, buf, sizeof(buf));
	assert_string_equal(buf, "0.25");
	prom_format_double(1.0 / 3, buf, sizeof(buf));
	assert_true(strtod(buf, NULL) == 1.0 / 3);
	prom_format_double(1787000000.5, buf, sizeof(buf));
	assert_string_equal(buf, "1787000000.5");
	prom_format_double(-2, buf, sizeof(buf));
	assert_string_equal(buf, "-2");
	prom_format_double(1e300, buf, sizeof(buf));
	assert_string_equal(buf, "1e+300"); /* Go's ParseFloat reads it */

	struct prom p;
	prom_init(&p);
	prom_family(&p, "big", PROM_COUNTER, "h");
	/* Counters above 2^53 stay exact as integers. */
	prom_sample_u64(&p, NULL, UINT64_MAX);
	prom_sample(&p, NULL, NAN);
	assert_string_equal(finish(&p), "# HELP big h\n# TYPE big counter\n"
	                                "big 18446744073709551615\nbig NaN\n");
	prom_free(&p);
}

static void test_names(void **state)
{
	assert_true(prom_name_valid("asg_health_requests_total"));
	assert_true(prom_name_valid("a:b_c9"));
	assert_true(prom_name_valid("_x"));
	assert_false(prom_name_valid(""));
	assert_false(prom_name_valid("9x"));
	assert_false(prom_name_valid("a-b"));
	assert_false(prom_name_valid("a b"));
	assert_false(prom_name_valid(NULL));
	assert_true(prom_label_name_valid("method"));
	assert_false(prom_label_name_valid("a:b"));      /* colons are for metrics only */
	assert_false(prom_label_name_valid("__name__")); /* reserved */
	assert_false(prom_label_name_valid("1a"));
}

static void test_errors_are_sticky(void **state)
{
	struct prom p;
	const char *text;
	size_t len;

	/* A bad metric name fails the whole document. */
	prom_init(&p);
	prom_family(&p, "bad-name", PROM_GAUGE, "h");
	prom_family(&p, "good", PROM_GAUGE, "h");
	prom_sample(&p, NULL, 1);
	assert_int_equal(prom_finish(&p, &text, &len), -EINVAL);
	prom_free(&p);

	/* A sample before any family. */
	prom_init(&p);
	prom_sample(&p, NULL, 1);
	assert_int_equal(prom_finish(&p, &text, &len), -EINVAL);
	prom_free(&p);

	/* A bad label name, and a label without a value. */
	prom_init(&p);
	prom_family(&p, "m", PROM_GAUGE, "h");
	prom_sample(&p, (const char *const[]){"le-x", "1", NULL}, 1);
	assert_int_equal(prom_finish(&p, &text, &len), -EINVAL);
	prom_free(&p);

	/* Nothing written is an empty document, not an error. */
	prom_init(&p);
	assert_string_equal(finish(&p), "");
	prom_free(&p);
}

static void test_grows(void **state)
{
	struct prom p;
	char name[32];
	const char *text;

	/* Past the first 4 KiB buffer, several times. */
	prom_init(&p);
	prom_family(&p, "many", PROM_GAUGE, "h");
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		prom_sample(&p, (const char *const[]){"i", name, NULL}, i);
	}
	text = finish(&p);
	assert_non_null(strstr(text, "many{i=\"n0\"} 0\n"));
	assert_non_null(strstr(text, "many{i=\"n1999\"} 1999\n"));
	assert_true(p.len > 4 * 4096);
	prom_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_family_and_samples),
	        cmocka_unit_test(test_single),
	        cmocka_unit_test(test_escaping),
	        cmocka_unit_test(test_values),
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_errors_are_sticky),
	        cmocka_unit_test(test_grows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
