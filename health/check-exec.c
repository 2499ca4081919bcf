/* Exec check: an executable that exits 0 within the timeout passes.  It
 * runs in its own process group with stdin from /dev/null, none of our
 * descriptors (the server's sockets must not leak into it) and default
 * signal dispositions; on timeout or stop the whole group gets SIGKILL, so
 * a script's children cannot outlive it, and the child is always reaped.
 * The first line of its output becomes the detail. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "timeutil.h"
#include "check-internal.h"

extern char **environ;

#define EXEC_OUTPUT_MAX 512

struct exec_child {
	pid_t pid;
	int out_fd; /* read end of the stdout/stderr pipe, or -1 at EOF */
	int pid_fd; /* pidfd, or -1 when the kernel has none (< 5.3) */
	char out[EXEC_OUTPUT_MAX];
	size_t out_len;
};

static int exec_spawn(const struct check_spec *s, struct exec_child *ch)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int pipefd[2], r;

	/* Only our end is nonblocking: the flag lives in the open file
	 * description, and a child whose writes failed with EAGAIN would
	 * fail its check for no reason of its own. */
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                        POSIX_SPAWN_SETSIGDEF);
	r = posix_spawn(&ch->pid, s->argv[0], &fa, &attr, s->argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return -r;
	}
	ch->out_fd = pipefd[0];
	ch->pid_fd = (int)syscall(SYS_pidfd_open, ch->pid, 0);
	return 0;
}

/* Reads what is available; keeps the first EXEC_OUTPUT_MAX bytes. */
static void exec_drain(struct exec_child *ch)
{
	char buf[4096];

	while (ch->out_fd >= 0) {
		ssize_t n = read(ch->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* EAGAIN: nothing more now */
		if (n == 0) {
			close(ch->out_fd);
			ch->out_fd = -1;
			return;
		}
		size_t take = sizeof(ch->out) - 1 - ch->out_len;
		if (take > (size_t)n)
			take = (size_t)n;
		memcpy(ch->out + ch->out_len, buf, take);
		ch->out_len += take;
	}
}

static bool exec_exited(const struct exec_child *ch)
{
	siginfo_t si = {0};

	/* WNOWAIT: leave the zombie, so its pid (and our group id) cannot be
	 * reused before the group is killed. */
	if (waitid(P_PID, (id_t)ch->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return si.si_pid == ch->pid;
}

/* Waits until the child exits, the deadline passes (0) or we are
 * cancelled (-ECANCELED); 1 when it exited. */
static int exec_wait(struct exec_child *ch, int cancel_fd, uint64_t deadline)
{
	for (;;) {
		struct pollfd p[3];
		nfds_t n = 0;
		int cancel_at = -1, wait_ms;
		uint64_t now = now_mono_ms();

		if (exec_exited(ch))
			return 1;
		if (now >= deadline)
			return 0;
		wait_ms = (int)(deadline - now);
		if (ch->out_fd >= 0)
			p[n++] = (struct pollfd){.fd = ch->out_fd, .events = POLLIN};
		if (ch->pid_fd >= 0)
			p[n++] = (struct pollfd){.fd = ch->pid_fd, .events = POLLIN};
		else if (wait_ms > 10)
			wait_ms = 10; /* no pidfd: look at the child every 10 ms */
		if (cancel_fd >= 0) {
			cancel_at = (int)n;
			p[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
		}
		if (poll(p, n, wait_ms) < 0 && errno != EINTR)
			return -errno;
		if (cancel_at >= 0 && (p[cancel_at].revents & POLLIN))
			return -ECANCELED;
		exec_drain(ch);
	}
}

/* Kills what is left of the group and reaps the child; its status. */
static int exec_reap(struct exec_child *ch, int *status)
{
	kill(-ch->pid, SIGKILL);
	for (;;) {
		if (waitpid(ch->pid, status, 0) == ch->pid)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* First line of the output, printable, for the detail. */
static void exec_first_line(struct exec_child *ch, char *buf, size_t len)
{
	size_t n = 0;

	ch->out[ch->out_len] = '\0';
	for (const char *p = ch->out; *p && *p != '\n' && n + 1 < len && n < 200; p++)
		buf[n++] = (char)((*p >= 0x20 && *p < 0x7f) || *p == '\t' ? *p : '?');
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
}

int check_exec_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len)
{
	uint64_t deadline = now_mono_ms() + (uint64_t)s->timeout_ms;
	struct exec_child ch = {.pid = -1, .out_fd = -1, .pid_fd = -1};
	struct sigaction sa;
	char line[256];
	int r, w, status = 0;

	/* With SIGCHLD ignored the kernel reaps our child itself: we could
	 * neither read its status nor be sure its pid still names it. */
	if (sigaction(SIGCHLD, NULL, &sa) == 0 &&
	    (sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT))) {
		snprintf(detail, len, "cannot run %s: SIGCHLD is ignored in this process",
		         s->argv[0]);
		return -ECHILD;
	}
	r = exec_spawn(s, &ch);
	if (r < 0) {
		snprintf(detail, len, "cannot run %s: %s", s->argv[0], strerror(-r));
		return r;
	}
	w = exec_wait(&ch, cancel_fd, deadline);
	r = exec_reap(&ch, &status);
	exec_drain(&ch);
	if (ch.out_fd >= 0)
		close(ch.out_fd);
	if (ch.pid_fd >= 0)
		close(ch.pid_fd);
	exec_first_line(&ch, line, sizeof(line));

	if (w == -ECANCELED) {
		snprintf(detail, len, "%s: cancelled", s->argv[0]);
		return w;
	}
	if (w < 0 || r < 0) {
		r = w < 0 ? w : r;
		snprintf(detail, len, "cannot wait for %s: %s", s->argv[0], strerror(-r));
		return r;
	}
	if (w == 0) {
		snprintf(detail, len, "%s timed out after %lldms and was killed%s%s", s->argv[0],
		         s->timeout_ms, line[0] ? ": " : "", line);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		snprintf(detail, len, "%s exited 0%s%s", s->argv[0], line[0] ? ": " : "", line);
		return 1;
	}
	if (WIFEXITED(status))
		snprintf(detail, len, "%s exited %d%s%s", s->argv[0], WEXITSTATUS(status),
		         line[0] ? ": " : "", line);
	else
		snprintf(detail, len, "%s killed by signal %d (%s)%s%s", s->argv[0],
		         WTERMSIG(status), strsignal(WTERMSIG(status)), line[0] ? ": " : "", line);
	return 0;
}
