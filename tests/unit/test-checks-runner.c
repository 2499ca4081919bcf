/* The background runner for real: a flag file toggled under a 100 ms
 * check flips the verdict after rise/fall runs, reads never wait on a
 * running check, a reload carries state over, and checks_stop() is prompt
 * even with a child running. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "timeutil.h"
#include "check-internal.h"

static char tmpdir[64];
static char flag[128];

static struct check_spec flag_spec(const char *name, int rise, int fall)
{
	struct check_spec s = {0};

	s.name = (char *)name;
	s.kind = CHECK_FILE;
	s.critical = true;
	s.interval_ms = 100;
	s.timeout_ms = 100;
	s.rise = rise;
	s.fall = fall;
	s.path = flag;
	s.must_exist = false; /* a maintenance flag */
	return s;
}

/* Waits up to ms for the verdict to become want; the time it took, or -1. */
static long long wait_healthy(const struct checks *c, bool want, int ms)
{
	uint64_t t0 = now_mono_ms();

	while (now_mono_ms() - t0 < (uint64_t)ms) {
		if (checks_healthy(c) == want)
			return (long long)(now_mono_ms() - t0);
		usleep(5000);
	}
	return -1;
}

static json_int_t status_field(const struct checks *c, const char *name, const char *field)
{
	json_t *st = checks_status_json(c);
	json_int_t v = json_integer_value(json_object_get(json_object_get(st, name), field));

	json_decref(st);
	return v;
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
}

static void test_verdict_follows_flag(void **state)
{
	struct check_spec s = flag_spec("maintenance", 2, 3);
	struct checks *c;
	long long took;
	uint64_t g;

	unlink(flag);
	assert_int_equal(checks_start(&c, &s, 1, NULL), 0);
	/* The first run happens at start and sets the state directly. */
	assert_true(wait_healthy(c, true, 30000) >= 0);
	g = checks_generation(c);

	touch(flag);
	took = wait_healthy(c, false, 30000);
	assert_true(took >= 0);
	/* fall 3: three failing runs 100 ms apart, the first within 100 ms. */
	assert_true(took >= 190);
	assert_true(status_field(c, "maintenance", "consecutive_failures") >= 3);
	assert_true(checks_generation(c) > g);

	unlink(flag);
	took = wait_healthy(c, true, 30000);
	assert_true(took >= 0);
	/* rise 2: two passing runs. */
	assert_true(took >= 90);
	assert_true(status_field(c, "maintenance", "consecutive_passes") >= 2);

	checks_stop(c);
}

/* A check's state does not flap back to pending on reload. */
static void test_reload_carries_state(void **state)
{
	struct check_spec s = flag_spec("maintenance", 2, 2);
	struct checks *a, *b;

	unlink(flag);
	assert_int_equal(checks_start(&a, &s, 1, NULL), 0);
	assert_true(wait_healthy(a, true, 30000) >= 0);
	assert_int_equal(checks_start(&b, &s, 1, a), 0);
	/* Healthy before b's thread could have run anything. */
	assert_true(checks_healthy(b));
	checks_stop(a);
	checks_stop(b);
}

/* While an exec check runs, reads answer at once.  Proved by order, not
 * by time: the exec check blocks on a FIFO until the test has read the
 * verdict and the status 20 times; a read that waited for the check would
 * never return (the alarm in main() fails the test). */
static void test_slow_check_does_not_block(void **state)
{
	struct check_spec specs[2] = {flag_spec("flag", 1, 1), {0}};
	char fifo[160], started[160], script[512];
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", script, NULL};
	struct checks *c;
	int fd;

	unlink(flag);
	snprintf(fifo, sizeof(fifo), "%s/release", tmpdir);
	snprintf(started, sizeof(started), "%s/started", tmpdir);
	unlink(fifo);
	unlink(started);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(script, sizeof(script), "touch %s; read x < %s", started, fifo);
	specs[1].name = (char *)"slow";
	specs[1].kind = CHECK_EXEC;
	specs[1].critical = false;
	specs[1].interval_ms = 60000;
	specs[1].timeout_ms = 60000;
	specs[1].rise = specs[1].fall = 1;
	specs[1].argv = argv;
	assert_int_equal(checks_start(&c, specs, 2, NULL), 0);
	for (int i = 0; i < 3000 && access(started, F_OK) != 0; i++)
		usleep(10000);
	assert_int_equal(access(started, F_OK), 0);

	for (int i = 0; i < 20; i++) {
		json_t *st;
		(void)checks_healthy(c);
		st = checks_status_json(c);
		assert_non_null(st);
		/* Still the slow check's first run: no result yet. */
		assert_true(
		        json_is_null(json_object_get(json_object_get(st, "slow"), "duration_ms")));
		json_decref(st);
	}
	fd = open(fifo, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "go\n", 3), 3);
	close(fd);
	/* Then the slow check passes and the flag check goes on running. */
	for (int i = 0; i < 3000 && status_field(c, "slow", "consecutive_passes") < 1; i++)
		usleep(10000);
	assert_true(status_field(c, "slow", "consecutive_passes") >= 1);
	for (int i = 0; i < 3000 && status_field(c, "flag", "consecutive_passes") < 3; i++)
		usleep(10000);
	assert_true(status_field(c, "flag", "consecutive_passes") >= 3);
	checks_stop(c);
	unlink(fifo);
	unlink(started);
}

/* Stopping kills a running child at once and reaps it. */
static void test_stop_kills_running_exec(void **state)
{
	char pidfile[128], script[512], buf[32] = "";
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", script, NULL};
	struct check_spec s = {0};
	struct checks *c;
	FILE *f = NULL;
	pid_t pid;

	snprintf(pidfile, sizeof(pidfile), "%s/exec.pid", tmpdir);
	unlink(pidfile);
	snprintf(script, sizeof(script), "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 600",
	         pidfile, pidfile, pidfile);
	s.name = (char *)"sleeper";
	s.kind = CHECK_EXEC;
	s.critical = true;
	s.interval_ms = 10000;
	s.timeout_ms = 8000;
	s.rise = s.fall = 1;
	s.argv = argv;
	assert_int_equal(checks_start(&c, &s, 1, NULL), 0);
	for (int i = 0; i < 300 && !(f = fopen(pidfile, "r")); i++)
		usleep(10000);
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	pid = (pid_t)atoi(buf);
	assert_true(pid > 1);
	assert_int_equal(kill(pid, 0), 0);

	/* sleep 600 outlives the test's alarm: stop must kill it. */
	checks_stop(c);
	/* Killed and reaped: the pid no longer exists, and no zombie. */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

static void test_no_checks(void **state)
{
	struct checks *c;

	assert_int_equal(checks_start(&c, NULL, 0, NULL), 0);
	assert_true(checks_healthy(c));
	checks_stop(c);
	checks_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_verdict_follows_flag),
	        cmocka_unit_test(test_reload_carries_state),
	        cmocka_unit_test(test_slow_check_does_not_block),
	        cmocka_unit_test(test_stop_kills_running_exec),
	        cmocka_unit_test(test_no_checks),
	};
	char cmd[128];
	int r;

	/* A hang (a read waiting for a check, a stop waiting for a child)
	 * fails the test instead of holding the suite. */
	alarm(300);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-checks-runner-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	snprintf(flag, sizeof(flag), "%s/maintenance", tmpdir);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		r = 1;
	return r;
}
