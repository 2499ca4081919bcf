/* The cascade guard's decision (agent/guard.h, issue 12 section 4): a
 * drain is refused when a target group of the instance would have no
 * other healthy target, whatever this instance's own state, and the
 * reason names the target group and the counts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "guard.h"

static struct guard_tg tg(const char *arn, int others, int healthy, const char *self)
{
	struct guard_tg t = {.arn = arn};

	t.h.others = others;
	t.h.others_healthy = healthy;
	strcpy(t.h.self_state, self);
	return t;
}

static void test_allowed(void **state)
{
	struct guard_tg tgs[] = {tg("arn:a", 2, 1, "healthy"), tg("arn:b", 1, 1, "")};
	char why[512] = "x";

	(void)state;
	assert_int_equal(guard_decide(tgs, 2, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	/* No target group: nothing to protect. */
	assert_int_equal(guard_decide(NULL, 0, why, sizeof(why)), 0);
}

static void test_refused(void **state)
{
	struct guard_tg tgs[] = {tg("arn:a", 3, 2, "healthy"), tg("arn:b", 2, 0, "healthy")};
	struct guard_tg alone = tg("arn:c", 0, 0, "healthy");
	struct guard_tg sick = tg("arn:d", 1, 0, "unhealthy");
	char why[512];

	(void)state;
	assert_int_equal(guard_decide(tgs, 2, why, sizeof(why)), -EBUSY);
	assert_non_null(strstr(why, "target group arn:b would have no other healthy target"));
	assert_non_null(strstr(why, "2 other target(s), 0 healthy"));
	assert_non_null(strstr(why, "fails open"));
	assert_null(strstr(why, "arn:a"));
	/* The only target. */
	assert_int_equal(guard_decide(&alone, 1, why, sizeof(why)), -EBUSY);
	assert_non_null(strstr(why, "0 other target(s), 0 healthy; this instance: healthy"));
	/* Already unhealthy itself: the group already fails open; still refused. */
	assert_int_equal(guard_decide(&sick, 1, why, sizeof(why)), -EBUSY);
	assert_non_null(strstr(why, "this instance: unhealthy"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_allowed),
	        cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
