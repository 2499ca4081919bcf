/* Unit tests: opening beneath the site root without openat2 (health/beneath.c,
 * issue 9 section 5).  The fallback must answer what openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS answers: the same file, or the
 * same errno.  A tree with symlinks inside, out of the root (relative and
 * absolute), loops, chains at the limit, '..' everywhere, and each path
 * is resolved both ways with both kinds of flags the cache uses.  The
 * expected answers for the escapes are also written out, so the test
 * still means something on a kernel without openat2.  Last, the cache
 * itself on the fallback: the openat2 hook fails with ENOSYS. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "beneath.h"
#include "cache.h"
#include "config.h"

static char dir[64]; /* holds root/ and outside/ */
static int rootfd = -1;

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void link_(const char *target, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(symlink(target, path), 0);
}

static void mkdir_(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
	char path[256], name[32], target[32];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-health-beneath.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	mkdir_("root");
	mkdir_("outside");
	put("outside/secret", "secret");
	put("root/index.html", "index");
	mkdir_("root/dir");
	mkdir_("root/dir/sub");
	put("root/dir/file2", "file2");
	put("root/dir/sub/deep", "deep");
	link_("index.html", "root/in-link");              /* inside */
	link_("../index.html", "root/dir/up-link");       /* inside, through '..' */
	link_("sub/../../index.html", "root/dir/zigzag"); /* inside, '..' twice */
	link_("../../outside/secret", "root/dir/escape"); /* out, relative */
	link_("../outside/secret", "root/escape-top");    /* out, from the top */
	link_("/etc/passwd", "root/abs");                 /* out, absolute */
	link_(dir, "root/abs-dir");                       /* absolute, to our own tree */
	link_("dir", "root/dirlink");
	link_("dir/", "root/dirlink-slash");
	link_("index.html/", "root/file-slash");
	link_("loop2", "root/loop1");
	link_("loop1", "root/loop2");
	link_("missing", "root/dangling");
	link_(".", "root/dot");
	link_("..", "root/dotdot");
	link_("dir/..", "root/dir-dotdot");
	link_("dirlink/sub", "root/chained-dir");
	/* chain-0 -> chain-1 -> ... -> chain-41 -> index.html: from chain-2
	 * 40 links (the limit), from chain-1 41 */
	for (int i = 0; i < 42; i++) {
		snprintf(name, sizeof(name), "root/chain-%d", i);
		if (i == 41)
			snprintf(target, sizeof(target), "index.html");
		else
			snprintf(target, sizeof(target), "chain-%d", i + 1);
		link_(target, name);
	}
	snprintf(path, sizeof(path), "%s/root", dir);
	rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *const paths[] = {
        "index.html",
        ".",
        "",
        "/",
        "/index.html",
        "/etc/passwd",
        "..",
        "../",
        "../root/index.html",
        "../outside/secret",
        "dir/../index.html",
        "dir/../../outside/secret",
        "dir/sub/../../index.html",
        "dir/sub/../..",
        "dir/sub/../../..",
        "dir/..",
        "dir/../",
        "./index.html",
        "dir/./file2",
        "dir//file2",
        "dir/",
        "dir/file2/",
        "index.html/",
        "index.html/.",
        "index.html/..",
        "missing",
        "missing/x",
        "dir/missing/..",
        "in-link",
        "in-link/",
        "dir/up-link",
        "dir/zigzag",
        "dir/escape",
        "escape-top",
        "abs",
        "abs-dir",
        "abs-dir/root/index.html",
        "dirlink",
        "dirlink/",
        "dirlink/file2",
        "dirlink/../index.html",
        "dirlink/sub/deep",
        "dirlink/sub/../file2",
        "dirlink-slash",
        "dirlink-slash/file2",
        "file-slash",
        "loop1",
        "loop1/x",
        "dangling",
        "dangling/",
        "dot",
        "dot/index.html",
        "dot/dot/dot/index.html",
        "dotdot",
        "dotdot/root/index.html",
        "dir-dotdot",
        "dir-dotdot/index.html",
        "chained-dir",
        "chained-dir/deep",
        "chained-dir/../up-link",
        "chain-2",
        "chain-1",
        "chain-0",
        "chain-30/..",
        "dir/sub/deep/..",
        "dir/file2/..",
};

/* What a resolution gave: an errno, or the file's identity. */
struct outcome {
	int err;
	dev_t dev;
	ino_t ino;
};

static struct outcome outcome_of(int fd)
{
	struct outcome o = {0};
	struct stat st;

	if (fd < 0) {
		o.err = -fd;
		return o;
	}
	assert_int_equal(fstat(fd, &st), 0);
	o.dev = st.st_dev;
	o.ino = st.st_ino;
	close(fd);
	return o;
}

static int kernel_open(const char *path, int flags)
{
	struct open_how how = {.flags = (unsigned)flags,
	                       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	long fd;

	/* EAGAIN: a '..' raced with a rename somewhere on the machine (the
	 * kernel checks global counters); asg-health tries again, so do we */
	for (int tries = 0; tries < 100; tries++) {
		fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd < 0 ? -errno : (int)fd;
}

/* The fallback answers exactly what the kernel answers, path by path. */
static void walk_matches_openat2(void **state)
{
	static const int flag_sets[] = {O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	                                O_PATH | O_CLOEXEC};
	int probe = kernel_open(".", O_PATH | O_CLOEXEC);

	(void)state;
	if (probe == -ENOSYS || probe == -EPERM)
		skip(); /* no openat2 here to compare with: the next test still runs */
	close(probe);
	for (size_t f = 0; f < sizeof(flag_sets) / sizeof(flag_sets[0]); f++) {
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			struct outcome k = outcome_of(kernel_open(paths[i], flag_sets[f]));
			struct outcome w =
			        outcome_of(beneath_open_walk(rootfd, paths[i], flag_sets[f]));

			if (k.err != w.err || k.dev != w.dev || k.ino != w.ino)
				fail_msg("\"%s\" (flags %#x): openat2 %s (ino %llu), walk %s (ino "
				         "%llu)",
				         paths[i], flag_sets[f], strerror(k.err),
				         (unsigned long long)k.ino, strerror(w.err),
				         (unsigned long long)w.ino);
		}
	}
}

static ino_t ino_of(const char *rel)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* The answers written out: the escapes, loops and limits. */
static void walk_refuses_escapes(void **state)
{
	static const struct {
		const char *path;
		int err;          /* or 0, and then: */
		const char *file; /* the file reached, from dir */
	} cases[] = {
	        {"index.html", 0, "root/index.html"},
	        {"..", EXDEV, NULL},
	        {"../outside/secret", EXDEV, NULL},
	        {"dir/../../outside/secret", EXDEV, NULL},
	        {"/etc/passwd", EXDEV, NULL},
	        {"dir/escape", EXDEV, NULL},
	        {"escape-top", EXDEV, NULL},
	        {"abs", EXDEV, NULL},
	        {"abs-dir/root/index.html", EXDEV, NULL},
	        {"dotdot", EXDEV, NULL},
	        {"loop1", ELOOP, NULL},
	        {"chain-1", ELOOP, NULL},
	        {"chain-2", 0, "root/index.html"},
	        {"dir/up-link", 0, "root/index.html"},
	        {"dir/zigzag", 0, "root/index.html"},
	        {"dirlink/sub/deep", 0, "root/dir/sub/deep"},
	        {"dirlink/../index.html", 0, "root/index.html"},
	        {"dangling", ENOENT, NULL},
	        {"file-slash", ENOTDIR, NULL},
	        {"index.html/", ENOTDIR, NULL},
	        {"", ENOENT, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome w =
		        outcome_of(beneath_open_walk(rootfd, cases[i].path, O_RDONLY | O_CLOEXEC));

		if (w.err != cases[i].err || (cases[i].file && w.ino != ino_of(cases[i].file)))
			fail_msg("\"%s\": %s, expected %s", cases[i].path, strerror(w.err),
			         cases[i].file ? cases[i].file : strerror(cases[i].err));
	}
}

/* No descriptor is left behind, whatever the path. */
static void walk_leaves_no_descriptor(void **state)
{
	int before = dup(0), after;

	(void)state;
	close(before);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd = beneath_open_walk(rootfd, paths[i], O_PATH | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
	after = dup(0);
	close(after);
	assert_int_equal(after, before);
}

static unsigned enosys_calls;

static long openat2_enosys(int dirfd, const char *path, struct open_how *how, size_t size)
{
	(void)dirfd, (void)path, (void)how, (void)size;
	enosys_calls++;
	errno = ENOSYS;
	return -1;
}

/* The cache on the fallback: the probe sees ENOSYS once, then every open
 * and stat goes through the walk, with the walk's refusals. */
static void cache_on_fallback(void **state)
{
	struct health_config cfg;
	struct cache *c;
	struct stat st;
	int fd;

	(void)state;
	health_config_defaults(&cfg);
	assert_int_equal(cache_new(&c, &cfg, rootfd), 0);
	beneath_openat2 = openat2_enosys;
	assert_int_equal(beneath_probe(), -ENOSYS);
	assert_int_equal(enosys_calls, 1);

	fd = cache_open_file(c, "dir/up-link", VARIANT_IDENTITY);
	assert_true(fd >= 0);
	assert_int_equal(outcome_of(fd).ino, ino_of("root/index.html"));
	assert_int_equal(cache_stat_file(c, "dirlink/file2", VARIANT_IDENTITY, &st), 0);
	assert_int_equal(st.st_ino, ino_of("root/dir/file2"));
	assert_int_equal(cache_open_file(c, "dir/escape", VARIANT_IDENTITY), -EXDEV);
	assert_int_equal(cache_stat_file(c, "abs", VARIANT_IDENTITY, &st), -EXDEV);
	assert_int_equal(
	        cache_status_from_errno(cache_open_file(c, "escape-top", VARIANT_IDENTITY)),
	        -ENOENT);
	/* the probe's answer stands: openat2 is not asked again */
	assert_int_equal(enosys_calls, 1);

	cache_free(c);
	health_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(walk_matches_openat2),
	        cmocka_unit_test(walk_refuses_escapes),
	        cmocka_unit_test(walk_leaves_no_descriptor),
	        cmocka_unit_test(cache_on_fallback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
