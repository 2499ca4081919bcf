/* drain.d safety (issue 9 §1 items 10 and 13): which files are refused,
 * and kill_group never signals a process group whose leader it already
 * reaped (its pid, the group's id, may then belong to another process). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "drain.h"

/* Every kill() of drain.c comes here first (the executable's definition
 * wins over libc's): a signal to a group whose leader is no longer our
 * child (reaped, waitid says ECHILD) could reach a stranger's group. */
static int group_kills, unsafe_group_kills;

int kill(pid_t pid, int sig)
{
	if (pid < -1) {
		siginfo_t si = {0};
		group_kills++;
		if (waitid(P_PID, (id_t)-pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
		    errno == ECHILD)
			unsafe_group_kills++;
	}
	return (int)syscall(SYS_kill, pid, sig);
}

static void test_refusal(void **state)
{
	struct stat st = {0};

	(void)state;
	st.st_mode = S_IFREG | 0755;
	st.st_uid = 0;
	assert_null(drain_d_refusal(&st, 1000, false));
	st.st_uid = 1000;
	assert_null(drain_d_refusal(&st, 1000, false));
	st.st_uid = 1001;
	assert_string_equal(drain_d_refusal(&st, 1000, false),
	                    "not owned by root or the agent's user");
	st.st_uid = 0;
	st.st_mode = S_IFREG | 0775;
	assert_string_equal(drain_d_refusal(&st, 1000, false), "writable by its group");
	st.st_mode = S_IFREG | 0757;
	assert_string_equal(drain_d_refusal(&st, 1000, false), "writable by others");
	st.st_mode = S_IFDIR | 01777;
	assert_string_equal(drain_d_refusal(&st, 0, true), "the directory is writable by others");
	st.st_mode = S_IFDIR | 0700;
	assert_null(drain_d_refusal(&st, 0, true));
}

static void write_script(const char *dir, const char *name, const char *body, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static bool gone(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	bool zombie = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (fgets(buf, sizeof(buf), f))
		zombie = strstr(buf, ") Z ") != NULL;
	fclose(f);
	return zombie;
}

static void test_kill_group(void **state)
{
	char dir[] = "/tmp/test-drain-XXXXXX", why[512], cmd[128], pidfile[128], body[512];
	FILE *f;
	int gpid = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	/* Dies of the SIGTERM at once: the leader is gone before the SIGKILL
	 * for what it left behind. */
	write_script(dir, "10-slow", "sleep 5", 0755);
	group_kills = unsafe_group_kills = 0;
	assert_int_equal(drain_d_run(dir, "10-slow", NULL, 200), -ETIME);
	assert_true(group_kills >= 2);
	assert_int_equal(unsafe_group_kills, 0);

	/* A grandchild that ignores SIGTERM still gets the SIGKILL. */
	snprintf(pidfile, sizeof(pidfile), "%s/gpid", dir);
	snprintf(body, sizeof(body),
	         "(trap '' TERM; exec sleep 30) &\necho $! > %s.tmp && mv %s.tmp %s\nsleep 30",
	         pidfile, pidfile, pidfile);
	write_script(dir, "20-leaves-one", body, 0755);
	/* On a loaded machine the timeout may come before the script has
	 * started its grandchild: then try again with twice the time. */
	f = NULL;
	for (long long t = 300; !f && t <= 300 * 64; t *= 2) {
		group_kills = unsafe_group_kills = 0;
		assert_int_equal(drain_d_run(dir, "20-leaves-one", NULL, t), -ETIME);
		assert_int_equal(unsafe_group_kills, 0);
		f = fopen(pidfile, "r");
	}
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &gpid), 1);
	fclose(f);
	/* SIGKILL is synchronous for the target's state; its reaping by
	 * init is not, so a zombie counts as gone. */
	for (int i = 0; i < 100 && !gone(gpid); i++)
		usleep(20000);
	assert_true(gone(gpid));

	/* drain_d_check() on real files. */
	assert_int_equal(drain_d_check(dir, "10-slow", why, sizeof(why)), 0);
	assert_int_equal(chmod(dir, 0775), 0);
	assert_int_equal(drain_d_check(dir, "10-slow", why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "the directory is writable by its group"));
	assert_int_equal(chmod(dir, 0755), 0);
	write_script(dir, "30-open", "true", 0777);
	assert_int_equal(drain_d_check(dir, "30-open", why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "30-open: writable by others (owner"));
	assert_int_equal(drain_d_check(dir, "40-missing", why, sizeof(why)), -ENOENT);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_refusal),
	        cmocka_unit_test(test_kill_group),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
