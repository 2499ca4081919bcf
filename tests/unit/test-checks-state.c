/* Rise/fall hysteresis and the runner's state, driven directly with
 * results (no thread): verdict, generation, status JSON, failing list and
 * carry-over on reload. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "check-internal.h"

/* Feeds a string of results ('p' pass, 'f' fail) and returns the states
 * after each, as 'P', 'F' ('-' for pending never follows a result). */
static void run_sequence(int rise, int fall, const char *results, char *states)
{
	struct check_hysteresis h = {CHECK_PENDING, 0, 0};
	size_t i;

	for (i = 0; results[i]; i++) {
		enum check_state before = h.state;
		bool changed = check_hysteresis_apply(&h, results[i] == 'p', rise, fall);
		assert_int_equal(changed, h.state != before);
		states[i] = h.state == CHECK_PASS ? 'P' : h.state == CHECK_FAIL ? 'F' : '-';
	}
	states[i] = '\0';
}

static void expect_sequence(int rise, int fall, const char *results, const char *want)
{
	char got[64];

	run_sequence(rise, fall, results, got);
	if (strcmp(got, want))
		fail_msg("rise %d fall %d, results %s: states %s, expected %s", rise, fall, results,
		         got, want);
}

static void test_first_result_sets_state(void **state)
{
	expect_sequence(2, 2, "p", "P");
	expect_sequence(2, 2, "f", "F");
	expect_sequence(5, 5, "f", "F");
	expect_sequence(5, 5, "p", "P");
}

static void test_rise_and_fall(void **state)
{
	/* fall 3: two failures keep it passing, the third fails it. */
	expect_sequence(2, 3, "pffpfff", "PPPPPPF");
	/* rise 2: one pass between failures does not bring it back. */
	expect_sequence(2, 3, "fpfppp", "FFFFPP");
	expect_sequence(1, 1, "pfpf", "PFPF");
	expect_sequence(3, 1, "pfppfppp", "PFFFFFFP");
}

static void test_counters(void **state)
{
	struct check_hysteresis h = {CHECK_PENDING, 0, 0};

	check_hysteresis_apply(&h, true, 2, 2);
	check_hysteresis_apply(&h, true, 2, 2);
	assert_int_equal(h.consecutive_passes, 2);
	assert_int_equal(h.consecutive_failures, 0);
	check_hysteresis_apply(&h, false, 2, 2);
	assert_int_equal(h.consecutive_passes, 0);
	assert_int_equal(h.consecutive_failures, 1);
	assert_int_equal(h.state, CHECK_PASS);
}

static struct check_spec make_spec(const char *name, enum check_kind kind, bool critical)
{
	struct check_spec s = {0};

	s.name = (char *)name;
	s.kind = kind;
	s.critical = critical;
	s.interval_ms = 1000;
	s.timeout_ms = 500;
	s.rise = 2;
	s.fall = 2;
	return s;
}

static void test_verdict_and_generation(void **state)
{
	struct check_spec specs[] = {make_spec("disk", CHECK_DISK, true),
	                             make_spec("db", CHECK_TCP, false)};
	struct checks *c;
	uint64_t g;

	assert_int_equal(checks_create(&c, specs, 2, NULL), 0);
	/* A pending critical check is not a pass. */
	assert_false(checks_healthy(c));
	g = checks_generation(c);

	checks_record(c, 0, 1, "10 GiB free", 1);
	assert_true(checks_healthy(c));
	assert_true(checks_generation(c) > g);

	/* The same result again changes nothing a reader can see. */
	g = checks_generation(c);
	checks_record(c, 0, 1, "10 GiB free", 1);
	assert_int_equal(checks_generation(c), g);
	/* A new detail is visible, so it bumps the generation. */
	checks_record(c, 0, 1, "9 GiB free", 1);
	assert_int_equal(checks_generation(c), g + 1);

	/* An informational check failing does not fail the verdict. */
	checks_record(c, 1, 0, "connection refused", 1);
	assert_true(checks_healthy(c));

	/* fall 2: one failure keeps it healthy, the second does not. */
	checks_record(c, 0, 0, "0.1 GiB free", 1);
	assert_true(checks_healthy(c));
	g = checks_generation(c);
	checks_record(c, 0, 0, "0.1 GiB free", 1);
	assert_false(checks_healthy(c));
	assert_int_equal(checks_generation(c), g + 1);

	/* An internal error counts as a failure, not as a pass. */
	checks_record(c, 0, 1, "ok", 1);
	checks_record(c, 0, -EACCES, "cannot statvfs", 1);
	checks_record(c, 0, 1, "ok", 1);
	assert_false(checks_healthy(c));
	checks_record(c, 0, 1, "ok", 1);
	assert_true(checks_healthy(c));
	checks_destroy(c);
}

static void test_status_json(void **state)
{
	struct check_spec specs[] = {make_spec("disk", CHECK_DISK, true),
	                             make_spec("db", CHECK_TCP, false),
	                             make_spec("flag", CHECK_FILE, true)};
	struct checks *c;
	json_t *st, *o, *failing;

	assert_int_equal(checks_create(&c, specs, 3, NULL), 0);
	checks_record(c, 0, 1, "10 GiB free", 7);
	checks_record(c, 1, 0, "refused", 3);
	checks_record(c, 1, 0, "refused", 3);

	st = checks_status_json(c);
	assert_non_null(st);
	assert_int_equal(json_object_size(st), 3);
	o = json_object_get(st, "disk");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "pass");
	assert_string_equal(json_string_value(json_object_get(o, "type")), "disk");
	assert_true(json_is_true(json_object_get(o, "critical")));
	assert_string_equal(json_string_value(json_object_get(o, "detail")), "10 GiB free");
	assert_int_equal(json_integer_value(json_object_get(o, "consecutive_passes")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "consecutive_failures")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "duration_ms")), 7);
	assert_true(json_is_integer(json_object_get(o, "last_run_ms_ago")));
	assert_true(json_integer_value(json_object_get(o, "last_run_ms_ago")) < 1000);

	o = json_object_get(st, "db");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "fail");
	assert_true(json_is_false(json_object_get(o, "critical")));
	assert_int_equal(json_integer_value(json_object_get(o, "consecutive_failures")), 2);

	o = json_object_get(st, "flag");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "pending");
	assert_true(json_is_null(json_object_get(o, "last_run_ms_ago")));
	json_decref(st);

	/* Critical: "flag" (pending) fails /health; informational: "db". */
	failing = checks_failing_json(c, false);
	assert_int_equal(json_array_size(failing), 1);
	assert_string_equal(json_string_value(json_array_get(failing, 0)), "flag");
	json_decref(failing);
	failing = checks_failing_json(c, true);
	assert_int_equal(json_array_size(failing), 2);
	assert_string_equal(json_string_value(json_array_get(failing, 0)), "db");
	assert_string_equal(json_string_value(json_array_get(failing, 1)), "flag");
	json_decref(failing);
	checks_destroy(c);
}

static void test_no_checks_is_healthy(void **state)
{
	struct checks *c;
	json_t *st;

	assert_int_equal(checks_create(&c, NULL, 0, NULL), 0);
	assert_true(checks_healthy(c));
	st = checks_status_json(c);
	assert_int_equal(json_object_size(st), 0);
	json_decref(st);
	checks_destroy(c);
	assert_true(checks_healthy(NULL));
}

/* A reload keeps the state of checks with the same name and kind, so a
 * failing instance does not pass (nor a passing one fail) just because
 * the config was reloaded. */
static void test_carry_over(void **state)
{
	struct check_spec old_specs[] = {make_spec("disk", CHECK_DISK, true),
	                                 make_spec("app", CHECK_TCP, true),
	                                 make_spec("gone", CHECK_FILE, true)};
	struct check_spec new_specs[] = {make_spec("disk", CHECK_DISK, true),
	                                 make_spec("app", CHECK_HTTP, true),
	                                 make_spec("new", CHECK_FILE, false)};
	struct checks *old, *cur;
	json_t *st, *o;

	assert_int_equal(checks_create(&old, old_specs, 3, NULL), 0);
	checks_record(old, 0, 0, "full", 1);
	checks_record(old, 1, 1, "connected", 1);
	checks_record(old, 2, 1, "absent", 1);

	assert_int_equal(checks_create(&cur, new_specs, 3, old), 0);
	checks_destroy(old);
	/* "disk" carried its failure; "app" changed kind, so it starts over. */
	assert_false(checks_healthy(cur));
	st = checks_status_json(cur);
	o = json_object_get(st, "disk");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "fail");
	assert_string_equal(json_string_value(json_object_get(o, "detail")), "full");
	assert_int_equal(json_integer_value(json_object_get(o, "consecutive_failures")), 1);
	o = json_object_get(st, "app");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "pending");
	assert_null(json_object_get(st, "gone"));
	json_decref(st);

	/* Carried over, the next pass goes through rise (2), not straight
	 * to PASS as a first result would. */
	checks_record(cur, 0, 1, "ok", 1);
	st = checks_status_json(cur);
	o = json_object_get(st, "disk");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "fail");
	json_decref(st);
	checks_destroy(cur);
}

/* A cache keyed on the generation must notice a reload: a new instance
 * never repeats a value an older one returned. */
static void test_generation_unique_across_instances(void **state)
{
	struct check_spec spec = make_spec("disk", CHECK_DISK, true);
	struct checks *a, *b;
	uint64_t ga;

	assert_int_equal(checks_create(&a, &spec, 1, NULL), 0);
	checks_record(a, 0, 1, "ok", 1);
	ga = checks_generation(a);
	assert_int_equal(checks_create(&b, &spec, 1, a), 0);
	assert_true(checks_generation(b) > ga);
	checks_record(a, 0, 0, "full", 1);
	assert_true(checks_generation(a) > checks_generation(b));
	checks_destroy(a);
	checks_destroy(b);
	assert_int_equal(checks_generation(NULL), 0);
}

static void test_format_size(void **state)
{
	char buf[32];

	check_format_size(buf, sizeof(buf), 300);
	assert_string_equal(buf, "300 B");
	check_format_size(buf, sizeof(buf), 1536);
	assert_string_equal(buf, "1.5 KiB");
	check_format_size(buf, sizeof(buf), 0.4 * 1024 * 1024 * 1024);
	assert_string_equal(buf, "409.6 MiB");
	check_format_size(buf, sizeof(buf), 1024.0 * 1024 * 1024);
	assert_string_equal(buf, "1.0 GiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_first_result_sets_state),
	        cmocka_unit_test(test_rise_and_fall),
	        cmocka_unit_test(test_counters),
	        cmocka_unit_test(test_verdict_and_generation),
	        cmocka_unit_test(test_status_json),
	        cmocka_unit_test(test_no_checks_is_healthy),
	        cmocka_unit_test(test_carry_over),
	        cmocka_unit_test(test_generation_unique_across_instances),
	        cmocka_unit_test(test_format_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
