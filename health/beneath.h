/* Opening a path beneath the site root without ever leaving it.
 *
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has it
 * (Linux 5.6); where the call fails with ENOSYS (older kernels, valgrind
 * 3.19, seccomp profiles that do not know it) or EPERM (seccomp profiles
 * that deny what they do not know), the same resolution done by hand, one
 * component at a time from the root, with the same answers. */
#ifndef ASG_HEALTH_BENEATH_H
#define ASG_HEALTH_BENEATH_H

#include <stdbool.h>
#include <stddef.h>

struct open_how;

/* Opens path (relative) beneath rootfd with the open flags (O_RDONLY,
 * O_PATH, O_CLOEXEC...; no O_CREAT): a descriptor, or -errno.  Answers as
 * openat2 with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: -EXDEV for an
 * absolute path, a '..' above the root or a symlink to an absolute path
 * or above the root; -ELOOP past 40 symlinks.  Probes for openat2 on
 * first use unless beneath_probe() ran. */
int beneath_open(int rootfd, const char *path, int flags);

/* Asks the kernel whether openat2 works and decides, for the life of the
 * process, how beneath_open resolves: 0 for openat2, or the -errno that
 * made it fall back to beneath_open_walk (-ENOSYS, -EPERM).  asg-health
 * calls it once at start-up and logs a fallback. */
int beneath_probe(void);

/* The fallback itself: openat() of each component from rootfd with
 * O_NOFOLLOW, symlinks read with readlinkat() and resolved by hand, '..'
 * taken by walking the resolved prefix again from the root.  Exposed so
 * that the tests compare it with openat2 on the same tree. */
int beneath_open_walk(int rootfd, const char *path, int flags);

/* The openat2 system call, as beneath_probe and beneath_open make it.
 * For tests only: a test points it at a function failing with ENOSYS to
 * run the whole server on the fallback. */
extern long (*beneath_openat2)(int dirfd, const char *path, struct open_how *how, size_t size);

#endif
