/* retry.c: the standard mode's classification, backoff and quota. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "retry.h"

static void test_classify(void **state)
{
	assert_int_equal(retry_classify(0, 200, NULL, false), RETRY_NONE);
	assert_int_equal(retry_classify(0, 400, "Throttling", false), RETRY_THROTTLE);
	assert_int_equal(retry_classify(0, 400, "ThrottlingException", false), RETRY_THROTTLE);
	assert_int_equal(retry_classify(0, 429, "", false), RETRY_THROTTLE);
	assert_int_equal(retry_classify(0, 500, "InternalFailure", false), RETRY_TRANSIENT);
	assert_int_equal(retry_classify(0, 503, "", false), RETRY_TRANSIENT);
	assert_int_equal(retry_classify(0, 400, "RequestTimeout", false), RETRY_TRANSIENT);
	assert_int_equal(retry_classify(0, 400, "InvalidParameterValue", false), RETRY_NONE);
	assert_int_equal(retry_classify(0, 403, "AccessDenied", false), RETRY_NONE);
	assert_int_equal(retry_classify(-ECONNREFUSED, 0, NULL, false), RETRY_TRANSIENT);
	assert_int_equal(retry_classify(-ETIMEDOUT, 0, NULL, false), RETRY_TIMEOUT);
	assert_int_equal(retry_classify(-EINTR, 0, NULL, false), RETRY_NONE);
	assert_int_equal(retry_classify(0, 400, "RequestTimeTooSkewed", false), RETRY_CLOCK_SKEW);
	assert_int_equal(retry_classify(0, 400, "RequestExpired", false), RETRY_CLOCK_SKEW);
	/* SignatureDoesNotMatch is a skew only when the clocks disagree. */
	assert_int_equal(retry_classify(0, 403, "SignatureDoesNotMatch", true), RETRY_CLOCK_SKEW);
	assert_int_equal(retry_classify(0, 403, "SignatureDoesNotMatch", false), RETRY_NONE);
}

static void test_backoff(void **state)
{
	assert_int_equal(retry_backoff_ms(0, 0.0), 0);
	assert_int_equal(retry_backoff_ms(0, 0.5), 500);
	assert_int_equal(retry_backoff_ms(1, 0.5), 1000);
	assert_int_equal(retry_backoff_ms(3, 0.5), 4000);
	assert_int_equal(retry_backoff_ms(5, 0.5), 10000); /* 32 s capped at 20 s */
	assert_int_equal(retry_backoff_ms(30, 0.5), 10000);
	assert_true(retry_backoff_ms(30, 0.9999999) < 20000);
}

static void test_quota(void **state)
{
	struct retry_quota q;
	int taken = 0, n = 0;

	retry_quota_init(&q);
	assert_int_equal(q.available, 500);
	assert_int_equal(retry_quota_acquire(&q, RETRY_TRANSIENT), 5);
	assert_int_equal(retry_quota_acquire(&q, RETRY_TIMEOUT), 10);
	assert_int_equal(q.available, 485);
	retry_quota_release(&q, 15); /* success after retries refunds them */
	assert_int_equal(q.available, 500);
	retry_quota_release(&q, 0); /* success without retry: +1, capped */
	assert_int_equal(q.available, 500);
	while ((taken = retry_quota_acquire(&q, RETRY_THROTTLE)) > 0)
		n++;
	assert_int_equal(n, 100);
	assert_int_equal(taken, -ENOBUFS);
	retry_quota_release(&q, 0);
	assert_int_equal(q.available, 1);
}

static void test_max_attempts_env(void **state)
{
	unsetenv("AWS_MAX_ATTEMPTS");
	assert_int_equal(retry_max_attempts_from_env(), 3);
	setenv("AWS_MAX_ATTEMPTS", "5", 1);
	assert_int_equal(retry_max_attempts_from_env(), 5);
	setenv("AWS_MAX_ATTEMPTS", "zero", 1);
	assert_int_equal(retry_max_attempts_from_env(), 3);
	unsetenv("AWS_MAX_ATTEMPTS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_classify),
	        cmocka_unit_test(test_backoff),
	        cmocka_unit_test(test_quota),
	        cmocka_unit_test(test_max_attempts_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
