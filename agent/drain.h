/* The executables of /etc/asg-agent/drain.d, run in order with run-parts
 * semantics during a drain (asg-health's side is health-client.h). */
#ifndef ASG_AGENT_DRAIN_H
#define ASG_AGENT_DRAIN_H

#include <stdbool.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "strbuf.h"

#define DRAIN_D_MAX 64

/* The names run-parts would run, in its order: regular executable files
 * (symlinks followed) whose names are only [A-Za-z0-9_-], sorted in the C
 * locale.  *names is owned by the caller (drain_d_free).  A missing
 * directory is an empty list. */
int drain_d_list(const char *dir, char ***names, int *n);
void drain_d_free(char **names, int n);
/* Why a drain.d executable (or, directory true, drain.d itself) must not
 * run, or NULL: they run with the instance role, so only root or the
 * agent's user may own them and neither group nor others may write them
 * (group/other-writable is refused even for root's files).  Pure. */
const char *drain_d_refusal(const struct stat *st, uid_t agent_uid, bool directory);
/* drain_d_refusal() for dir and dir/name (symlinks followed, as exec
 * does): 0, or -EPERM / -errno with why naming the path and the reason. */
int drain_d_check(const char *dir, const char *name, char *why, size_t len);
/* Starts dir/name with extra environment entries ("KEY=value", NULL-
 * terminated), its output logged line by line, for at most timeout_ms:
 * then its process group gets SIGTERM, and SIGKILL a second later.  The
 * loop watches its output pipe and a pidfd (drain_run_fill_poll,
 * drain_run_timeout_ms, drain_run_dispatch); done(ctx, r) gets its exit
 * status (0..255) or -ETIME on timeout.  Returns 0, or -errno when it
 * could not be started (no callback then).  The child gets the pipe as
 * stdout/stderr, /dev/null as stdin and no other descriptor of the
 * agent. */
struct drain_run {
	bool busy;
	pid_t pid;
	int pipe_fd;         /* owned, -1 once at its end */
	int pid_fd;          /* owned: readable when the child exited */
	uint64_t end_ms;     /* monotonic: the timeout */
	bool killing;        /* SIGTERM sent ... */
	uint64_t kill_at_ms; /* ... SIGKILL then */
	struct strbuf out;   /* owned: output not yet logged */
	char name[256];
	void (*done)(void *ctx, int r);
	void *ctx;
};

int drain_d_start(struct drain_run *dr, const char *dir, const char *name, const char *const *env,
                  long long timeout_ms, void (*done)(void *ctx, int r), void *ctx);
size_t drain_run_fill_poll(const struct drain_run *dr, struct pollfd *pfd, size_t max);
int drain_run_timeout_ms(const struct drain_run *dr);
void drain_run_dispatch(struct drain_run *dr, const struct pollfd *pfd, size_t n);
/* Kills it (the agent is going away). */
void drain_run_cancel(struct drain_run *dr);
/* The same, waiting for its end: its result, or -errno. */
int drain_d_run(const char *dir, const char *name, const char *const *env, long long timeout_ms);

#endif
