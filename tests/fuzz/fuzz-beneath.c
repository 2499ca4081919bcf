/* Paths beneath the site root without openat2 (health/beneath.c): the
 * component-by-component walk must answer what the kernel's openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS answers, the same file or the
 * same errno, for any path, on a small tree of directories and symlinks
 * (inside, out of the root relative and absolute, loops, '..', trailing
 * slashes).  Where the kernel has no openat2, only "no crash, no
 * descriptor left, never a file outside the root" is checked. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "beneath.h"
#include "fuzz.h"

static char dir[64];
static int rootfd = -1;
static dev_t outside_dev;
static ino_t outside_ino;
static int have_openat2;

static void remove_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz-beneath: could not remove %s\n", dir);
}

static void make(const char *rel, const char *link_target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (!link_target) {
		FUZZ_ASSERT(mkdir(path, 0755) == 0);
	} else if (!*link_target) {
		FILE *f = fopen(path, "w");
		FUZZ_ASSERT(f);
		fclose(f);
	} else {
		FUZZ_ASSERT(symlink(link_target, path) == 0);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const tree[][2] = {
	        {"root", NULL},
	        {"outside", NULL},
	        {"outside/s", ""},
	        {"root/a", NULL},
	        {"root/a/b", NULL},
	        {"root/f", ""},
	        {"root/a/g", ""},
	        {"root/a/b/h", ""},
	        {"root/l", "f"},
	        {"root/a/up", "../f"},
	        {"root/a/out", "../../outside/s"},
	        {"root/abs", "/tmp"},
	        {"root/d", "a"},
	        {"root/ds", "a/"},
	        {"root/fs", "f/"},
	        {"root/x", "y"},
	        {"root/y", "x"},
	        {"root/n", "missing"},
	        {"root/dot", "."},
	        {"root/dd", ".."},
	        {"root/a/b/z", "../../a/b/../up"},
	};
	struct stat st;
	char path[128];

	(void)argc, (void)argv;
	snprintf(dir, sizeof(dir), "/tmp/fuzz-beneath.XXXXXX");
	FUZZ_ASSERT(mkdtemp(dir));
	atexit(remove_tree);
	for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++)
		make(tree[i][0], tree[i][1]);
	snprintf(path, sizeof(path), "%s/outside/s", dir);
	FUZZ_ASSERT(stat(path, &st) == 0);
	outside_dev = st.st_dev;
	outside_ino = st.st_ino;
	snprintf(path, sizeof(path), "%s/root", dir);
	rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_ASSERT(rootfd >= 0);
	have_openat2 = beneath_probe() == 0;
	return 0;
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

/* errno, or 0 and the identity; closes fd */
static int outcome(int fd, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	if (fd < 0)
		return fd;
	FUZZ_ASSERT(fstat(fd, st) == 0);
	close(fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int flag_sets[] = {O_RDONLY | O_CLOEXEC | O_NONBLOCK, O_PATH | O_CLOEXEC};
	char *path;
	int before;

	if (rootfd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size > 1024) /* longer ones only repeat what shorter ones reach */
		return 0;
	path = fuzz_cstr(data, size);
	before = dup(0);
	close(before);
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct stat w, k;
		int rw = outcome(beneath_open_walk(rootfd, path, flag_sets[i]), &w);

		FUZZ_ASSERT(!(rw == 0 && w.st_dev == outside_dev && w.st_ino == outside_ino));
		if (have_openat2) {
			int rk = outcome(kernel_open(path, flag_sets[i]), &k);
			/* The kernel can say ELOOP after only 20 links: a lookup
			 * that leaves RCU mode (a '..' under RESOLVE_BENEATH does)
			 * starts again without resetting its link count, so the
			 * first 20 count twice.  Nothing to copy: the walk keeps
			 * the documented 40 (found by this harness on 6.x). */
			if (rk == -ELOOP)
				continue;
			if (rk != rw || k.st_dev != w.st_dev || k.st_ino != w.st_ino)
				fprintf(stderr, "\"%s\": openat2 %d, walk %d\n", path, rk, rw);
			FUZZ_ASSERT(rk == rw && k.st_dev == w.st_dev && k.st_ino == w.st_ino);
		}
	}
	/* no descriptor left behind */
	FUZZ_ASSERT(dup(0) == before);
	close(before);
	free(path);
	return 0;
}
