/* Unit tests: the decisions of connections.c (head deadline sweep,
 * lingering close, eviction order), enumerated over their inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "connections.h"

static void test_head_deadline(void **state)
{
	/* waiting for a head: cut exactly at the deadline, not before */
	assert_int_equal(conn_sweep_decide(CONN_HEAD, 1000, 0, 0, 10999, 10000), CONN_KEEP);
	assert_int_equal(conn_sweep_decide(CONN_HEAD, 1000, 0, 0, 11000, 10000), CONN_CUT);
	assert_int_equal(conn_sweep_decide(CONN_HEAD, 1000, 0, 0, 500000, 10000), CONN_CUT);
	/* bytes arriving never restart the clock of a head (the slowloris
	 * drip is exactly that) */
	assert_int_equal(conn_sweep_decide(CONN_HEAD, 1000, 0, 99999, 11000, 10000), CONN_CUT);
	/* a clock read before the head started (thread skew) is not a cut */
	assert_int_equal(conn_sweep_decide(CONN_HEAD, 2000, 0, 0, 1000, 10000), CONN_KEEP);
}

static void test_request_and_idle(void **state)
{
	/* a request being answered (a long download) is never cut here */
	assert_int_equal(conn_sweep_decide(CONN_REQUEST, 0, 0, 0, 1000000, 10000), CONN_KEEP);
	/* idle keep-alive: MHD's idle timeout applies, however long */
	assert_int_equal(conn_sweep_decide(CONN_IDLE, 0, 500, 500, 1000000, 10000), CONN_KEEP);
	/* the first byte of the next head starts its clock */
	assert_int_equal(conn_sweep_decide(CONN_IDLE, 0, 500, 501, 1000000, 10000),
	                 CONN_HEAD_STARTED);
}

static void test_linger(void **state)
{
	/* unread bytes: a plain close would reset and destroy the answer */
	assert_true(conn_should_linger(CONN_REQUEST, false, false, 10, 100));
	/* our own error answer (413, 431...): the client may still send */
	assert_true(conn_should_linger(CONN_REQUEST, true, false, 0, 100));
	/* MHD refused a head it could not hold (bytes came, head not done) */
	assert_true(conn_should_linger(CONN_HEAD, false, false, 0, 100));
	/* an idle or finished connection closes at once */
	assert_false(conn_should_linger(CONN_IDLE, false, false, 0, 100));
	assert_false(conn_should_linger(CONN_REQUEST, false, false, 0, 100));
	/* a connection that never sent a byte */
	assert_false(conn_should_linger(CONN_HEAD, false, false, 0, 0));
	/* cut by the head deadline: a slow client gets no more time */
	assert_false(conn_should_linger(CONN_HEAD, true, true, 10, 100));
}

static void test_data_after_idle(void **state)
{
	/* request ended at 1000; now 5000 */
	/* last data 4000 ms ago (at 1000): the request's own bytes */
	assert_false(conn_data_after(1000, 5000, 4000));
	/* within the jiffy slack of the end: still the request's */
	assert_false(conn_data_after(1000, 5000, 3985));
	/* well after the end: the next head has started */
	assert_true(conn_data_after(1000, 5000, 3900));
	assert_true(conn_data_after(1000, 5000, 0));
	/* no data ever (or no tcp_info): never */
	assert_false(conn_data_after(1000, 5000, UINT64_MAX));
	assert_false(conn_data_after(1000, 5000, 6000));
}

static void test_evict_order(void **state)
{
	struct conn_wait head_old = {CONN_HEAD, 1000, false};
	struct conn_wait head_new = {CONN_HEAD, 5000, false};
	struct conn_wait idle_old = {CONN_IDLE, 500, false};
	struct conn_wait idle_new = {CONN_IDLE, 9000, false};
	struct conn_wait busy = {CONN_REQUEST, 1, false};
	struct conn_wait cut = {CONN_HEAD, 1, true};

	/* the first candidate */
	assert_true(conn_evict_before(&head_new, NULL));
	assert_true(conn_evict_before(&idle_new, NULL));
	/* longest wait first, whatever it waits for */
	assert_true(conn_evict_before(&head_old, &head_new));
	assert_false(conn_evict_before(&head_new, &head_old));
	assert_true(conn_evict_before(&idle_old, &head_old));
	assert_true(conn_evict_before(&head_old, &idle_new));
	/* equal waits: the one looked at later (the caller goes from the
	 * newest connection to the oldest) */
	assert_true(conn_evict_before(&head_old, &head_old));
	/* a request being answered, or a connection already closing, never */
	assert_false(conn_evict_before(&busy, NULL));
	assert_false(conn_evict_before(&busy, &head_new));
	assert_false(conn_evict_before(&cut, NULL));
	assert_false(conn_evict_before(&cut, &idle_new));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_head_deadline),   cmocka_unit_test(test_request_and_idle),
	        cmocka_unit_test(test_linger),          cmocka_unit_test(test_evict_order),
	        cmocka_unit_test(test_data_after_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
