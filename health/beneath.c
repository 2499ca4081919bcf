/* Opening a path beneath the site root (see beneath.h).
 *
 * The fallback follows what fs/namei.c does for RESOLVE_BENEATH: every
 * component is looked up in the directory reached so far; '..' at the
 * root is -EXDEV (not "stay at the root" as for a chroot); a symlink is
 * read and its text resolved in the symlink's directory, an absolute one
 * is -EXDEV, and more than 40 of them in one resolution are -ELOOP.  The
 * kernel does each step atomically; here openat() with O_NOFOLLOW does
 * each step, so a symlink is never followed by the kernel, only by this
 * code, and '..' is never looked up in the file system: the directory
 * above is found by opening the resolved prefix (a string that never
 * holds '..') again from the root.  A directory renamed meanwhile can
 * make that prefix name something else, but always something beneath the
 * root, as with the kernel, which then answers -EAGAIN.
 *
 * RESOLVE_NO_MAGICLINKS: magic links (/proc/<pid>/fd/N and friends) only
 * exist in procfs, and readlinkat() cannot tell them from procfs's plain
 * symlinks, so every symlink in a procfs directory is -ELOOP here
 * (stricter than the kernel, for a tree no site root contains). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "beneath.h"

/* fs/namei.c's MAXSYMLINKS */
#define MAX_SYMLINKS 40

static long openat2_syscall(int dirfd, const char *path, struct open_how *how, size_t size)
{
	return syscall(SYS_openat2, dirfd, path, how, size);
}

long (*beneath_openat2)(int, const char *, struct open_how *, size_t) = openat2_syscall;

/* 0: not probed; 1: openat2; -errno: the fallback, and why */
static _Atomic int mode;

static int call_openat2(int rootfd, const char *path, int flags)
{
	struct open_how how = {
	        .flags = (unsigned)flags,
	        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	/* EAGAIN: a '..' raced with a rename or a mount anywhere in the
	 * system (the kernel checks global sequence counters), not a fault of
	 * this path; openat2(2) says to try again. */
	for (int tries = 0; tries < 16; tries++) {
		fd = beneath_openat2(rootfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd < 0 ? -errno : (int)fd;
}

/* Does openat2 answer at all?  ENOSYS: the kernel (or valgrind) does not
 * know it; EPERM: a seccomp filter denies it (opening "." beneath the
 * working directory cannot fail so otherwise). */
static bool unavailable(int r)
{
	return r == -ENOSYS || r == -EPERM;
}

int beneath_probe(void)
{
	int fd = call_openat2(AT_FDCWD, ".", O_PATH | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	atomic_store(&mode, unavailable(fd) ? fd : 1);
	return unavailable(fd) ? fd : 0;
}

int beneath_open(int rootfd, const char *path, int flags)
{
	int m = atomic_load(&mode), fd;

	if (m == 0) {
		beneath_probe();
		m = atomic_load(&mode);
	}
	if (m < 0)
		return beneath_open_walk(rootfd, path, flags);
	fd = call_openat2(rootfd, path, flags);
	if (fd == -ENOSYS) { /* the probe was right then; not any more */
		atomic_store(&mode, -ENOSYS);
		return beneath_open_walk(rootfd, path, flags);
	}
	return fd;
}

/* The state of one resolution. */
struct walk {
	int rootfd;          /* not owned */
	int cur;             /* the directory reached; owned unless rootfd */
	char done[PATH_MAX]; /* its path from the root: "" or "a/b" */
	char todo[PATH_MAX]; /* what is left to resolve */
	size_t pos;          /* next character of todo */
	unsigned links;      /* symlinks followed */
};

static void walk_set_cur(struct walk *w, int fd)
{
	if (w->cur != w->rootfd)
		close(w->cur);
	w->cur = fd;
}

/* Reopens w->done from the root: the directory above, after a '..'. */
static int walk_reopen(struct walk *w)
{
	char path[PATH_MAX];
	char *save = NULL, *name;

	walk_set_cur(w, w->rootfd);
	memcpy(path, w->done, sizeof(path));
	for (name = strtok_r(path, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
		int fd = openat(w->cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0) /* a rename since we came through here */
			return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? -EAGAIN
			                                                             : -errno;
		walk_set_cur(w, fd);
	}
	return 0;
}

/* Replaces the component just taken (a symlink in w->cur) by its text,
 * so that resolution goes on from there; slash: a slash followed the
 * name (it must then resolve to a directory). */
static int walk_follow(struct walk *w, const char *name, bool slash)
{
	char target[PATH_MAX];
	const char *rest = w->todo + w->pos;
	size_t rlen = strlen(rest);
	struct statfs fs;
	ssize_t n;

	if (++w->links > MAX_SYMLINKS)
		return -ELOOP;
	if (fstatfs(w->cur, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC)
		return -ELOOP;
	n = readlinkat(w->cur, name, target, sizeof(target));
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(target))
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT;
	if (target[0] == '/')
		return -EXDEV;
	if ((size_t)n + 1 + rlen >= sizeof(w->todo))
		return -ENAMETOOLONG;
	/* todo becomes target "/" rest, or target "/" for a trailing slash */
	memmove(w->todo + n + 1, rest, rlen + 1);
	memcpy(w->todo, target, (size_t)n);
	w->todo[n] = rlen || slash ? '/' : '\0';
	w->pos = 0;
	return 0;
}

/* Is fd (opened with O_NOFOLLOW | O_PATH) the symlink itself? */
static bool is_symlink_fd(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Is name in dir a symlink?  Asked only after an open failed in a way a
 * symlink makes it fail. */
static bool is_symlink_at(int dir, const char *name)
{
	char c;

	return readlinkat(dir, name, &c, 1) >= 0;
}

/* Adds name to the resolved prefix. */
static int walk_append(struct walk *w, const char *name)
{
	size_t n = strlen(w->done), len = strlen(name);

	if (n + 1 + len >= sizeof(w->done))
		return -ENAMETOOLONG;
	if (n)
		w->done[n++] = '/';
	memcpy(w->done + n, name, len + 1);
	return 0;
}

/* Resolves one component: 0 to go on (*fd stays -1), 0 with the result
 * in *fd when it was the last one, or -errno. */
static int walk_step(struct walk *w, const char *name, bool last, bool slash, int flags, int *fd)
{
	int oflags, r;

	if (!strcmp(name, "..")) {
		char *cut;

		if (!w->done[0])
			return -EXDEV;
		cut = strrchr(w->done, '/');
		*(cut ? cut : w->done) = '\0';
		if ((r = walk_reopen(w)) < 0)
			return r;
		name = ".";
	}
	if (!strcmp(name, ".")) {
		if (!last)
			return 0;
		*fd = openat(w->cur, ".", flags | O_NOFOLLOW);
		return *fd < 0 ? -errno : 0;
	}
	if (last)
		oflags = flags | O_NOFOLLOW | (slash ? O_DIRECTORY : 0);
	else
		oflags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	r = openat(w->cur, name, oflags);
	if (r < 0) {
		r = -errno;
		if ((r == -ELOOP || r == -ENOTDIR) && is_symlink_at(w->cur, name))
			return walk_follow(w, name, slash);
		return r;
	}
	if ((oflags & O_PATH) && is_symlink_fd(r)) {
		close(r);
		return walk_follow(w, name, slash);
	}
	if (last) {
		*fd = r;
		return 0;
	}
	walk_set_cur(w, r);
	return walk_append(w, name);
}

int beneath_open_walk(int rootfd, const char *path, int flags)
{
	struct walk w = {.rootfd = rootfd, .cur = rootfd};
	int r = -ENOENT, fd = -1; /* -ENOENT: an empty path */
	size_t plen = strlen(path);

	if (path[0] == '/')
		return -EXDEV;
	if (plen >= sizeof(w.todo))
		return -ENAMETOOLONG;
	memcpy(w.todo, path, plen + 1);
	while (fd < 0) {
		char name[NAME_MAX + 1];
		size_t len, end;
		bool last;

		while (w.todo[w.pos] == '/')
			w.pos++;
		if (!w.todo[w.pos])
			break; /* only an empty path ends here */
		len = strcspn(w.todo + w.pos, "/");
		if (len > NAME_MAX) {
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(name, w.todo + w.pos, len);
		name[len] = '\0';
		end = w.pos + len;
		for (w.pos = end; w.todo[w.pos] == '/';)
			w.pos++;
		last = !w.todo[w.pos];
		if ((r = walk_step(&w, name, last, last && w.pos > end, flags, &fd)) < 0)
			break;
	}
	walk_set_cur(&w, rootfd);
	return fd >= 0 ? fd : r;
}
