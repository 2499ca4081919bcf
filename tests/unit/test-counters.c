/* counters.c: outcomes and error kinds from return values, and the fixed
 * table that never grows past its bound. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "counters.h"

static void test_outcomes(void **state)
{
	assert_int_equal(counters_aws_outcome(0), AWS_OUTCOME_SUCCESS);
	assert_int_equal(counters_aws_outcome(-EREMOTEIO), AWS_OUTCOME_AWS_ERROR);
	assert_int_equal(counters_aws_outcome(-ETIMEDOUT), AWS_OUTCOME_TRANSPORT_ERROR);
	assert_int_equal(counters_aws_outcome(-ECONNREFUSED), AWS_OUTCOME_TRANSPORT_ERROR);
	assert_int_equal(counters_aws_outcome(-ENOKEY), AWS_OUTCOME_NO_CREDENTIALS);
	assert_int_equal(counters_aws_outcome(-EINTR), AWS_OUTCOME_INTERRUPTED);
	assert_string_equal(counters_aws_outcome_name(AWS_OUTCOME_AWS_ERROR), "aws_error");
}

static void test_imds_errors(void **state)
{
	enum imds_error_kind k;

	/* 404 is how IMDS says "no Spot notice": an answer, not an error. */
	assert_false(counters_imds_error_kind(0, &k));
	assert_false(counters_imds_error_kind(-ENOENT, &k));
	assert_false(counters_imds_error_kind(-EINTR, &k));
	assert_true(counters_imds_error_kind(-EIO, &k));
	assert_int_equal(k, IMDS_ERROR_UNREACHABLE);
	assert_true(counters_imds_error_kind(-ETIMEDOUT, &k));
	assert_int_equal(k, IMDS_ERROR_UNREACHABLE);
	assert_true(counters_imds_error_kind(-EACCES, &k));
	assert_int_equal(k, IMDS_ERROR_FORBIDDEN);
	assert_true(counters_imds_error_kind(-EHOSTDOWN, &k));
	assert_int_equal(k, IMDS_ERROR_DISABLED);
	assert_true(counters_imds_error_kind(-EPROTO, &k));
	assert_int_equal(k, IMDS_ERROR_PROTOCOL);

	counters_reset();
	counters_imds_result(-ENOENT);
	counters_imds_result(-EIO);
	counters_imds_result(-EIO);
	counters_imds_result(-EACCES);
	assert_int_equal(counters_get()->imds_errors[IMDS_ERROR_UNREACHABLE], 2);
	assert_int_equal(counters_get()->imds_errors[IMDS_ERROR_FORBIDDEN], 1);
	assert_int_equal(counters_get()->imds_errors[IMDS_ERROR_PROTOCOL], 0);
}

static void test_calls(void **state)
{
	const struct agent_counters *c = counters_get();

	counters_reset();
	counters_aws_call(AWS_CLOUDWATCH, "PutMetricData", 0, 1);
	counters_aws_call(AWS_CLOUDWATCH, "PutMetricData", 0, 3);
	counters_aws_call(AWS_CLOUDWATCH, "PutMetricData", -EREMOTEIO, 3);
	counters_aws_call(AWS_AUTO_SCALING, "PutMetricData", -ETIMEDOUT, 2); /* another service */
	assert_int_equal(c->n_aws, 2);
	assert_int_equal(c->aws[0].service, AWS_CLOUDWATCH);
	assert_string_equal(c->aws[0].action, "PutMetricData");
	assert_int_equal(c->aws[0].outcomes[AWS_OUTCOME_SUCCESS], 2);
	assert_int_equal(c->aws[0].outcomes[AWS_OUTCOME_AWS_ERROR], 1);
	assert_int_equal(c->aws[0].retries, 4);
	assert_int_equal(c->aws[1].outcomes[AWS_OUTCOME_TRANSPORT_ERROR], 1);
	assert_int_equal(c->aws[1].retries, 1);

	counters_hook_completed(false);
	counters_hook_completed(true);
	counters_hook_completed(false);
	assert_int_equal(c->hooks_completed[0], 2);
	assert_int_equal(c->hooks_completed[1], 1);
}

static void test_bounded(void **state)
{
	const struct agent_counters *c = counters_get();
	char action[32];
	uint64_t total = 0;

	/* Far more distinct actions than slots: the table stops at its bound
	 * and nothing is lost, the rest is "other". */
	counters_reset();
	for (int i = 0; i < 3 * COUNTERS_MAX_ACTIONS; i++) {
		snprintf(action, sizeof(action), "Action%d", i);
		counters_aws_call(AWS_ELBV2, action, 0, 1);
	}
	assert_int_equal(c->n_aws, COUNTERS_MAX_ACTIONS);
	assert_string_equal(c->aws[COUNTERS_MAX_ACTIONS - 1].action, "other");
	for (size_t i = 0; i < c->n_aws; i++)
		total += c->aws[i].outcomes[AWS_OUTCOME_SUCCESS];
	assert_int_equal(total, 3 * COUNTERS_MAX_ACTIONS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_outcomes),
	        cmocka_unit_test(test_imds_errors),
	        cmocka_unit_test(test_calls),
	        cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
