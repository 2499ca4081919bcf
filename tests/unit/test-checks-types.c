/* Each check type run for real: statvfs on real paths, an injected
 * meminfo file, flag files, TCP against sockets this test opens, HTTP
 * against a small server thread in this test, and real child processes. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "timeutil.h"
#include "check-internal.h"

static char tmpdir[64];
static char detail[256];

static struct check_spec spec_of(enum check_kind kind, long long timeout_ms)
{
	struct check_spec s = {0};

	s.name = (char *)"t";
	s.kind = kind;
	s.critical = true;
	s.interval_ms = 10000;
	s.timeout_ms = timeout_ms;
	s.rise = s.fall = 1;
	return s;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup_tmpdir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-checks-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- disk ------------------------------------------------------------- */

static void test_disk(void **state)
{
	struct check_spec s = spec_of(CHECK_DISK, 1000);

	s.path = tmpdir;
	s.min_free_bytes = 1;
	assert_int_equal(check_disk_run(&s, -1, detail, sizeof(detail)), 1);
	assert_non_null(strstr(detail, " free on /tmp/test-checks-"));

	/* No filesystem in use is 100% free. */
	s.min_free_bytes = 0;
	s.min_free_percent = 100;
	assert_int_equal(check_disk_run(&s, -1, detail, sizeof(detail)), 0);
	assert_non_null(strstr(detail, "< 100%"));

	s.min_free_percent = 0;
	s.min_free_bytes = 1LL << 60; /* an exbibyte */
	assert_int_equal(check_disk_run(&s, -1, detail, sizeof(detail)), 0);
	assert_non_null(strstr(detail, " < 1024.0 PiB"));

	s.path = (char *)"/nonexistent/asg-health";
	s.min_free_bytes = 1;
	assert_int_equal(check_disk_run(&s, -1, detail, sizeof(detail)), -ENOENT);
	assert_string_equal(detail,
	                    "cannot statvfs /nonexistent/asg-health: No such file or directory");
}

/* --- memory ----------------------------------------------------------- */

static void test_memory_injected(void **state)
{
	struct check_spec s = spec_of(CHECK_MEMORY, 1000);
	char path[128];

	snprintf(path, sizeof(path), "%s/meminfo", tmpdir);
	/* 10% available: 100000 kB of 1000000 kB (97.7 MiB of 976.6 MiB). */
	write_file(path, "MemTotal:        1000000 kB\n"
	                 "MemFree:           20000 kB\n"
	                 "MemAvailable:     100000 kB\n"
	                 "Buffers:           10000 kB\n");
	s.path = path;

	s.min_free_percent = 5;
	assert_int_equal(check_memory_run(&s, -1, detail, sizeof(detail)), 1);
	assert_string_equal(detail, "97.7 MiB (10.0%) memory available");
	s.min_free_percent = 20;
	assert_int_equal(check_memory_run(&s, -1, detail, sizeof(detail)), 0);
	assert_string_equal(detail, "97.7 MiB (10.0%) memory available < 20%");

	s.min_free_percent = 0;
	s.min_free_bytes = 50LL << 20;
	assert_int_equal(check_memory_run(&s, -1, detail, sizeof(detail)), 1);
	s.min_free_bytes = 100LL << 20;
	assert_int_equal(check_memory_run(&s, -1, detail, sizeof(detail)), 0);
	assert_string_equal(detail, "97.7 MiB memory available < 100.0 MiB");

	/* Kernels before 3.14 have no MemAvailable: we cannot judge. */
	write_file(path, "MemTotal: 1000000 kB\nMemFree: 20000 kB\n");
	assert_int_equal(check_memory_run(&s, -1, detail, sizeof(detail)), -ENODATA);
}

static void test_memory_proc(void **state)
{
	struct check_spec s = spec_of(CHECK_MEMORY, 1000);

	s.min_free_bytes = 1;
	assert_int_equal(check_memory_run(&s, -1, detail, sizeof(detail)), 1);
	assert_non_null(strstr(detail, "memory available"));
	s.min_free_bytes = 0;
	s.min_free_percent = 100;
	assert_int_equal(check_memory_run(&s, -1, detail, sizeof(detail)), 0);
}

/* --- file ------------------------------------------------------------- */

static void test_file(void **state)
{
	struct check_spec s = spec_of(CHECK_FILE, 1000);
	char path[128];

	snprintf(path, sizeof(path), "%s/maintenance", tmpdir);
	s.path = path;
	unlink(path);

	s.must_exist = false;
	assert_int_equal(check_file_run(&s, -1, detail, sizeof(detail)), 1);
	s.must_exist = true;
	assert_int_equal(check_file_run(&s, -1, detail, sizeof(detail)), 0);
	assert_non_null(strstr(detail, "does not exist (it must)"));

	write_file(path, "");
	assert_int_equal(check_file_run(&s, -1, detail, sizeof(detail)), 1);
	s.must_exist = false;
	assert_int_equal(check_file_run(&s, -1, detail, sizeof(detail)), 0);
	assert_non_null(strstr(detail, "exists (it must not)"));
	unlink(path);

	/* A missing parent directory is "does not exist", not an error. */
	s.path = (char *)"/nonexistent/dir/flag";
	assert_int_equal(check_file_run(&s, -1, detail, sizeof(detail)), 1);
}

/* --- tcp -------------------------------------------------------------- */

/* A socket bound to 127.0.0.1 on a free port; listening if asked. */
static int loopback_socket(bool listening, int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	if (listening)
		assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static void test_tcp(void **state)
{
	struct check_spec s = spec_of(CHECK_TCP, 1000);
	int port, fd = loopback_socket(true, &port);
	char want[64];

	s.host = (char *)"127.0.0.1";
	s.port = port;
	assert_int_equal(check_tcp_run(&s, -1, detail, sizeof(detail)), 1);
	snprintf(want, sizeof(want), "connected to 127.0.0.1:%d", port);
	assert_string_equal(detail, want);
	/* A name from /etc/hosts works too. */
	s.host = (char *)"localhost";
	assert_int_equal(check_tcp_run(&s, -1, detail, sizeof(detail)), 1);
	close(fd);

	/* Bound but not listening: refused. */
	fd = loopback_socket(false, &port);
	s.host = (char *)"127.0.0.1";
	s.port = port;
	assert_int_equal(check_tcp_run(&s, -1, detail, sizeof(detail)), 0);
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: Connection refused", port);
	assert_string_equal(detail, want);
	close(fd);

	s.host = (char *)"no-such-host.invalid";
	assert_int_equal(check_tcp_run(&s, -1, detail, sizeof(detail)), 0);
	assert_non_null(strstr(detail, "cannot resolve no-such-host.invalid"));
}

/* --- http: a small server thread -------------------------------------- */

struct http_server {
	int listen_fd;
	int port;
	int stop_fd; /* eventfd: the test is done with the server */
	pthread_t thread;
	char last_request[1024];
};

static struct http_server srv;

/* Serves one connection: GET /status/NNN answers NNN, /redirect a 302,
 * /slow nothing until the server stops. */
static void http_serve(int fd)
{
	char req[1024] = "", resp[512];
	size_t n = 0;
	int status = 500;

	while (n + 1 < sizeof(req) && !strstr(req, "\r\n\r\n")) {
		ssize_t r = read(fd, req + n, sizeof(req) - 1 - n);
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
	}
	snprintf(srv.last_request, sizeof(srv.last_request), "%s", req);
	if (!strncmp(req, "GET /slow ", 10)) {
		struct pollfd p = {.fd = srv.stop_fd, .events = POLLIN};
		poll(&p, 1, 10000);
		return;
	}
	if (!strncmp(req, "GET /redirect ", 14)) {
		snprintf(resp, sizeof(resp),
		         "HTTP/1.1 302 Found\r\nLocation: /status/200\r\n"
		         "Content-Length: 0\r\nConnection: close\r\n\r\n");
	} else {
		sscanf(req, "GET /status/%d ", &status);
		snprintf(resp, sizeof(resp),
		         "HTTP/1.1 %d Whatever\r\nContent-Length: 5\r\n"
		         "Connection: close\r\n\r\nhello",
		         status);
	}
	if (write(fd, resp, strlen(resp)) < 0)
		return;
}

static void *http_thread(void *arg)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = srv.listen_fd, .events = POLLIN},
		                      {.fd = srv.stop_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			break;
		if (p[0].revents & POLLIN) {
			int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				http_serve(fd);
				close(fd);
			}
		}
	}
	return NULL;
}

static int setup_http(void **state)
{
	srv.listen_fd = loopback_socket(true, &srv.port);
	srv.stop_fd = eventfd(0, EFD_CLOEXEC);
	return pthread_create(&srv.thread, NULL, http_thread, NULL) == 0 ? 0 : -1;
}

static int teardown_http(void **state)
{
	uint64_t one = 1;

	if (write(srv.stop_fd, &one, sizeof(one)) < 0)
		return -1;
	pthread_join(srv.thread, NULL);
	close(srv.listen_fd);
	close(srv.stop_fd);
	return 0;
}

static int http_run(const char *path, int expect, long long timeout_ms)
{
	struct check_spec s = spec_of(CHECK_HTTP, timeout_ms);
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv.port, path);
	s.url = url;
	s.expect_status = expect;
	return check_http_run(&s, -1, detail, sizeof(detail));
}

static void test_http_status(void **state)
{
	char want[256];

	assert_int_equal(http_run("/status/200", 200, 2000), 1);
	snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/status/200: 200", srv.port);
	assert_string_equal(detail, want);
	assert_non_null(strstr(srv.last_request, "User-Agent: asg-health-check/"));

	assert_int_equal(http_run("/status/503", 200, 2000), 0);
	snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/status/503: 503, expected 200",
	         srv.port);
	assert_string_equal(detail, want);

	assert_int_equal(http_run("/status/204", 204, 2000), 1);
	assert_int_equal(http_run("/status/200", 204, 2000), 0);
}

/* A redirect is not followed: a 302 to a login page is not "up". */
static void test_http_no_redirect(void **state)
{
	assert_int_equal(http_run("/redirect", 200, 2000), 0);
	assert_non_null(strstr(detail, ": 302, expected 200"));
}

/* A proxy in the environment must not be used for the check. */
static void test_http_ignores_proxy(void **state)
{
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
	assert_int_equal(http_run("/status/200", 200, 2000), 1);
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
}

static void test_http_timeout(void **state)
{
	uint64_t t0 = now_mono_ms(), took;

	assert_int_equal(http_run("/slow", 200, 200), 0);
	took = now_mono_ms() - t0;
	/* At least the timeout; the detail says the timeout ended it (an
	 * upper bound in time would only measure the machine's load). */
	assert_true(took >= 190);
	assert_non_null(strstr(detail, "imed out")); /* curl: "Operation timed out ..." */
}

static void test_http_refused(void **state)
{
	struct check_spec s = spec_of(CHECK_HTTP, 1000);
	int port, fd = loopback_socket(false, &port);
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	s.url = url;
	s.expect_status = 200;
	assert_int_equal(check_http_run(&s, -1, detail, sizeof(detail)), 0);
	assert_non_null(strstr(detail, url));
	close(fd);
}

/* --- exec ------------------------------------------------------------- */

static int exec_run(long long timeout_ms, int cancel_fd, const char *script)
{
	struct check_spec s = spec_of(CHECK_EXEC, timeout_ms);
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)script, NULL};

	s.argv = argv;
	return check_exec_run(&s, cancel_fd, detail, sizeof(detail));
}

/* No child of ours is left, zombie or running. */
static void assert_no_children(void)
{
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_exec_exit_status(void **state)
{
	struct check_spec s = spec_of(CHECK_EXEC, 2000);
	char *t[] = {(char *)"/bin/true", NULL}, *f[] = {(char *)"/bin/false", NULL};

	s.argv = t;
	assert_int_equal(check_exec_run(&s, -1, detail, sizeof(detail)), 1);
	assert_string_equal(detail, "/bin/true exited 0");
	s.argv = f;
	assert_int_equal(check_exec_run(&s, -1, detail, sizeof(detail)), 0);
	assert_string_equal(detail, "/bin/false exited 1");

	assert_int_equal(exec_run(2000, -1, "echo 'database lag 3s'; echo second line; exit 3"), 0);
	assert_string_equal(detail, "/bin/sh exited 3: database lag 3s");
	assert_int_equal(exec_run(2000, -1, "echo ready >&2"), 1);
	assert_string_equal(detail, "/bin/sh exited 0: ready");
	assert_int_equal(exec_run(2000, -1, "kill -TERM $$"), 0);
	assert_string_equal(detail, "/bin/sh killed by signal 15 (Terminated)");
	/* We ignore SIGPIPE (main); the child gets the default back. */
	assert_int_equal(exec_run(2000, -1, "kill -PIPE $$; exit 0"), 0);
	assert_string_equal(detail, "/bin/sh killed by signal 13 (Broken pipe)");
	assert_no_children();
}

static void test_exec_missing_program(void **state)
{
	struct check_spec s = spec_of(CHECK_EXEC, 2000);
	char *argv[] = {(char *)"/nonexistent/ready", NULL};

	s.argv = argv;
	assert_int_equal(check_exec_run(&s, -1, detail, sizeof(detail)), -ENOENT);
	assert_string_equal(detail, "cannot run /nonexistent/ready: No such file or directory");
	assert_no_children();
}

/* With SIGCHLD ignored the child would be reaped behind our back. */
static void test_exec_sigchld_ignored(void **state)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;

	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	assert_int_equal(exec_run(2000, -1, "exit 0"), -ECHILD);
	assert_string_equal(detail, "cannot run /bin/sh: SIGCHLD is ignored in this process");
	assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0);
	assert_int_equal(exec_run(2000, -1, "exit 0"), 1);
}

/* stdin is /dev/null (a read gets EOF at once) and our descriptors do
 * not leak into the child. */
static void test_exec_environment(void **state)
{
	int leak = open("/dev/null", O_RDONLY); /* deliberately not O_CLOEXEC */
	char script[128];

	assert_true(leak > 2);
	snprintf(script, sizeof(script), "test ! -e /proc/self/fd/%d || echo leaked", leak);
	assert_int_equal(exec_run(2000, -1, script), 1);
	assert_string_equal(detail, "/bin/sh exited 0");
	close(leak);
	assert_int_equal(exec_run(2000, -1, "read line; echo \"read $?\""), 1);
	assert_string_equal(detail, "/bin/sh exited 0: read 1");
	/* A lot of output neither blocks the child nor fails it. */
	assert_int_equal(exec_run(5000, -1,
	                          "i=0; while [ $i -lt 20000 ]; do "
	                          "echo 'line of output'; i=$((i+1)); done"),
	                 1);
	assert_string_equal(detail, "/bin/sh exited 0: line of output");
}

/* A slow check fails at its timeout, and it and its children are killed:
 * the test is the subreaper, so an orphaned grandchild comes back to us
 * and we can see how it died. */
static void test_exec_timeout_kills_group(void **state)
{
	char pidfile[128], script[256], buf[32] = "";
	uint64_t t0, took;
	pid_t grandchild;
	FILE *f;
	int st = 0;

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", tmpdir);
	snprintf(script, sizeof(script), "sleep 10 & echo $! > %s; echo started; wait", pidfile);
	t0 = now_mono_ms();
	assert_int_equal(exec_run(200, -1, script), 0);
	took = now_mono_ms() - t0;
	/* At least the timeout; the detail says the timeout ended it (an
	 * upper bound in time would only measure the machine's load). */
	assert_true(took >= 190);
	assert_string_equal(detail, "/bin/sh timed out after 200ms and was killed: started");

	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	grandchild = (pid_t)atoi(buf);
	assert_true(grandchild > 1);
	/* It was killed with the group: it comes back to us dead of SIGKILL
	 * well before its 10 s are up. */
	for (int i = 0; i < 200; i++) {
		pid_t r = waitpid(grandchild, &st, WNOHANG);
		if (r == grandchild)
			break;
		assert_int_equal(r, 0);
		usleep(10000);
	}
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_no_children();
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

static void test_exec_sleep_timeout(void **state)
{
	struct check_spec s = spec_of(CHECK_EXEC, 200);
	char *argv[] = {(char *)"/bin/sleep", (char *)"10", NULL};
	uint64_t t0 = now_mono_ms(), took;

	s.argv = argv;
	assert_int_equal(check_exec_run(&s, -1, detail, sizeof(detail)), 0);
	took = now_mono_ms() - t0;
	assert_true(took >= 190);
	assert_string_equal(detail, "/bin/sleep timed out after 200ms and was killed");
	assert_no_children();
}

/* --- cancellation: checks_stop must not wait out a timeout ------------- */

struct canceller {
	int fd;
	int after_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	uint64_t one = 1;

	usleep((useconds_t)c->after_ms * 1000);
	if (write(c->fd, &one, sizeof(one)) < 0)
		abort();
	return NULL;
}

static void test_cancel(void **state)
{
	struct canceller c = {eventfd(0, EFD_CLOEXEC), 100};
	struct check_spec s = spec_of(CHECK_HTTP, 5000);
	pthread_t t;
	char url[128];

	assert_true(c.fd >= 0);

	pthread_create(&t, NULL, cancel_later, &c);
	assert_int_equal(exec_run(5000, c.fd, "sleep 10"), -ECANCELED);
	pthread_join(t, NULL);
	/* -ECANCELED, not the timeout's result: the cancel ended it. */
	assert_no_children();

	/* The fd stays readable once cancelled, as the runner's does. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", srv.port);
	s.url = url;
	s.expect_status = 200;
	assert_int_equal(check_http_run(&s, c.fd, detail, sizeof(detail)), -ECANCELED);
	/* -ECANCELED, not the timeout's result: the cancel ended it. */
	close(c.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_disk),
	        cmocka_unit_test(test_memory_injected),
	        cmocka_unit_test(test_memory_proc),
	        cmocka_unit_test(test_file),
	        cmocka_unit_test(test_tcp),
	        cmocka_unit_test(test_http_status),
	        cmocka_unit_test(test_http_no_redirect),
	        cmocka_unit_test(test_http_ignores_proxy),
	        cmocka_unit_test(test_http_timeout),
	        cmocka_unit_test(test_http_refused),
	        cmocka_unit_test(test_exec_exit_status),
	        cmocka_unit_test(test_exec_missing_program),
	        cmocka_unit_test(test_exec_sigchld_ignored),
	        cmocka_unit_test(test_exec_environment),
	        cmocka_unit_test(test_exec_timeout_kills_group),
	        cmocka_unit_test(test_exec_sleep_timeout),
	        cmocka_unit_test(test_cancel),
	};
	int r;

	/* Like the daemon, which must not die of a peer closing early. */
	signal(SIGPIPE, SIG_IGN);
	if (setup_tmpdir(NULL) < 0 || setup_http(NULL) < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	teardown_http(NULL);
	teardown_tmpdir(NULL);
	return r;
}
