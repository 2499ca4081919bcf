/* Unit tests: the control socket is never world-accessible, not even for
 * a moment, and replaces a stale socket atomically but nothing else
 * (issue 9, section 1, item 13).  inotify shows what happened at the
 * path: the socket must arrive by rename (IN_MOVED_TO), never be created
 * there (IN_CREATE) and then chmod'ed (IN_ATTRIB). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "listen.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test-health-listen.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Reads the queued events; returns a mask of what happened to name. */
static uint32_t events_for(int ifd, const char *name)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint32_t mask = 0;
	ssize_t n;

	while ((n = read(ifd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			if (ev->len && !strcmp(ev->name, name))
				mask |= ev->mask;
			p += sizeof(*ev) + ev->len;
		}
	return mask;
}

static void test_socket_born_0660(void **state)
{
	char path[128], err[256];
	struct stat st;
	uint32_t mask;
	int ifd, fd = -1;
	mode_t old = umask(0); /* the worst case: a permissive umask */

	snprintf(path, sizeof(path), "%s/health.sock", dir);
	ifd = inotify_init1(IN_NONBLOCK);
	assert_true(ifd >= 0);
	assert_true(inotify_add_watch(ifd, dir, IN_CREATE | IN_ATTRIB | IN_MOVED_TO) >= 0);
	assert_int_equal(listen_unix(path, &fd, err, sizeof(err)), 0);
	umask(old);
	mask = events_for(ifd, "health.sock");
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	if (mask & (IN_CREATE | IN_ATTRIB))
		fail_msg("the socket was created at its path and then chmod'ed (events 0x%x)",
		         mask);
	assert_true(mask & IN_MOVED_TO);
	close(fd);

	/* a restart replaces the stale socket, atomically again */
	assert_int_equal(listen_unix(path, &fd, err, sizeof(err)), 0);
	mask = events_for(ifd, "health.sock");
	assert_true(mask & IN_MOVED_TO);
	assert_false(mask & IN_CREATE);
	close(fd);
	close(ifd);
	/* and no temporary name is left behind */
	{
		char tmp[160];
		snprintf(tmp, sizeof(tmp), "%s.%ld~", path, (long)getpid());
		assert_int_equal(access(tmp, F_OK), -1);
	}
}

static void test_never_replaces_a_file(void **state)
{
	char path[128], err[256];
	struct stat st;
	int fd = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/not-a-socket", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("keep me\n", f);
	fclose(f);
	assert_int_equal(listen_unix(path, &fd, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 8);
}

/* A port past 65535 is refused, however many digits: atoi() wrapped
 * "4294967377" to 81 and "4294967296" to 0 (a random port), and the
 * daemon listened there (clang-tidy cert-err34-c). */
static void test_port_out_of_range(void **state)
{
	static const char *const bad[] = {"127.0.0.1:65536",      "127.0.0.1:4294967296",
	                                  "127.0.0.1:4294967377", "127.0.0.1:18446744073709551697",
	                                  "[::1]:4294967376",     "127.0.0.1:",
	                                  "127.0.0.1:8x",         "127.0.0.1:-1"};
	char err[256];
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = -1;
		if (listen_tcp(bad[i], &fd, err, sizeof(err)) >= 0)
			fail_msg("%s accepted (fd %d)", bad[i], fd);
		assert_int_equal(fd, -1);
	}
	fd = -1;
	assert_true(listen_tcp("127.0.0.1:0", &fd, err, sizeof(err)) >= 0);
	assert_true(fd >= 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_socket_born_0660, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_never_replaces_a_file, setup, teardown),
	        cmocka_unit_test(test_port_out_of_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
