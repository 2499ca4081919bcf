/* http.c as an event source of a poll loop: timers fire in the order of
 * their deadlines and only from dispatch, an interrupt ends every timer
 * and GET at the next dispatch (with -EINTR) but not a POST, a transfer
 * ends exactly once and never from http_start, and a wait with nothing
 * in flight is refused instead of sleeping forever. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "http.h"

struct fired {
	int order[8];
	bool interrupted[8];
	int n;
};

struct timer_arg {
	struct fired *f;
	int id;
};

static void on_timer(void *ctx, bool interrupted)
{
	struct timer_arg *t = ctx;

	t->f->interrupted[t->f->n] = interrupted;
	t->f->order[t->f->n++] = t->id;
}

/* Runs turns until n callbacks came. */
static void run_until(struct http_client *c, const int *count, int n)
{
	while (*count < n) {
		struct pollfd pfd[HTTP_MAX_SOCKETS];
		size_t np = http_client_fill_poll(c, pfd, HTTP_MAX_SOCKETS);

		assert_true(np > 0 || http_client_timeout_ms(c) >= 0);
		assert_true(poll(pfd, np, http_client_timeout_ms(c)) >= 0);
		http_client_dispatch(c, pfd, np);
	}
}

static void test_timers_in_deadline_order(void **state)
{
	struct http_client c;
	struct fired f = {0};
	struct timer_arg a[3] = {{&f, 30}, {&f, 10}, {&f, 20}};

	(void)state;
	assert_int_equal(http_client_init(&c), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(http_timer_start(&c, (uint64_t)a[i].id, on_timer, &a[i], NULL), 0);
	assert_int_equal(f.n, 0); /* never from the start */
	run_until(&c, &f.n, 3);
	assert_int_equal(f.order[0], 10);
	assert_int_equal(f.order[1], 20);
	assert_int_equal(f.order[2], 30);
	assert_false(f.interrupted[0] || f.interrupted[1] || f.interrupted[2]);
	assert_false(http_client_busy(&c));
	http_client_free(&c);
}

static void test_interrupt_and_cancel(void **state)
{
	struct http_client c;
	struct fired f = {0};
	struct timer_arg a[2] = {{&f, 1}, {&f, 2}};
	struct http_timer *t;

	(void)state;
	assert_int_equal(http_client_init(&c), 0);
	assert_int_equal(http_timer_start(&c, 600000, on_timer, &a[0], NULL), 0);
	assert_int_equal(http_timer_start(&c, 600000, on_timer, &a[1], &t), 0);
	http_timer_cancel(&c, t);
	assert_true(http_client_timeout_ms(&c) > 0);
	http_client_interrupt(&c);
	/* Due at once: the loop must not sleep ten minutes. */
	assert_int_equal(http_client_timeout_ms(&c), 0);
	http_client_dispatch(&c, NULL, 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.order[0], 1);
	assert_true(f.interrupted[0]);
	assert_false(http_client_busy(&c));
	http_client_free(&c);
}

struct answer {
	int calls;
	int r;
};

static void on_done(void *ctx, int r, struct http_response *resp)
{
	struct answer *a = ctx;

	a->calls++;
	a->r = r;
	http_response_free(resp);
}

/* A port on 127.0.0.1 with a listener that never accepts: connections
 * complete (the backlog takes them) and then nothing is answered. */
static int silent_listener(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_interrupt_ends_get_not_post(void **state)
{
	struct http_client c;
	struct http_response get_resp, post_resp;
	struct answer get = {0, 1}, post = {0, 1};
	char url[64];
	int port, fd = silent_listener(&port);

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	struct http_request g = {.method = "GET",
	                         .url = url,
	                         .connect_timeout_ms = 5000,
	                         .timeout_ms = 60000,
	                         .no_proxy = true};
	struct http_request p = {.method = "POST",
	                         .url = url,
	                         .body = "x",
	                         .body_len = 1,
	                         .connect_timeout_ms = 5000,
	                         .timeout_ms = 300,
	                         .no_proxy = true};
	assert_int_equal(http_client_init(&c), 0);
	assert_int_equal(http_start(&c, &g, &get_resp, on_done, &get, NULL), 0);
	assert_int_equal(http_start(&c, &p, &post_resp, on_done, &post, NULL), 0);
	assert_int_equal(get.calls + post.calls, 0); /* never from the start */
	http_client_interrupt(&c);
	run_until(&c, &get.calls, 1);
	assert_int_equal(get.r, -EINTR);
	assert_int_equal(post.calls, 0); /* a POST ends by itself: here its timeout */
	run_until(&c, &post.calls, 1);
	assert_int_equal(post.r, -ETIMEDOUT);
	assert_int_equal(get.calls, 1);
	assert_false(http_client_busy(&c));
	http_client_free(&c);
	close(fd);
}

static void test_wait_with_nothing_in_flight(void **state)
{
	struct http_client c, *clients[] = {&c};
	bool done = false;

	(void)state;
	assert_int_equal(http_client_init(&c), 0);
	assert_int_equal(http_wait(clients, 1, &done), -EDEADLK);
	http_client_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_timers_in_deadline_order),
	        cmocka_unit_test(test_interrupt_and_cancel),
	        cmocka_unit_test(test_interrupt_ends_get_not_post),
	        cmocka_unit_test(test_wait_with_nothing_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
