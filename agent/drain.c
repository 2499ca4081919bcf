/* drain.d: run-parts semantics, refusals, process-group kills (see drain.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup.h"
#include "drain.h"
#include "log.h"
#include "strbuf.h"
#include "timeutil.h"
#include "watchdog.h"

/* run-parts(8)'s default name filter (the LSB namespaces): a name with a
 * dot, such as foo.dpkg-old or foo.sh~, is not run. */
static bool run_parts_name(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '_' || *n == '-'))
			return false;
	return true;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void drain_d_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int drain_d_list(const char *dir, char ***names, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v;
	int count = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	v = calloc(DRAIN_D_MAX, sizeof(*v));
	if (!v) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d)) && count < DRAIN_D_MAX) {
		struct stat st;
		if (!run_parts_name(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode) ||
		    faccessat(dirfd(d), de->d_name, X_OK, 0) < 0)
			continue;
		v[count] = strdup(de->d_name);
		if (!v[count]) {
			closedir(d);
			drain_d_free(v, count);
			return -ENOMEM;
		}
		count++;
	}
	closedir(d);
	qsort(v, (size_t)count, sizeof(*v), cmp_names);
	*names = v;
	*n = count;
	return 0;
}

/* Logs complete lines of buf as the script's output; keeps the rest. */
static void log_lines(const char *name, struct strbuf *buf, bool all)
{
	char *start = buf->data;
	size_t left = buf->len;
	const char *fields[] = {"DRAIN_D=1", NULL, NULL};
	char f[300];

	format_into(f, sizeof(f), "DRAIN_D_SCRIPT=%s", name);
	fields[1] = f;
	while (left) {
		char *nl = memchr(start, '\n', left);
		size_t len;
		if (!nl && !all)
			break;
		len = nl ? (size_t)(nl - start) : left;
		log_fields(LOG_INFO, fields, "drain.d/%s: %.*s", name, (int)len, start);
		left -= nl ? len + 1 : len;
		start += nl ? len + 1 : len;
	}
	if (left)
		memmove(buf->data, start, left);
	buf->len = left;
}

/* True once the child has exited, without reaping it: while it is an
 * unreaped zombie its pid, which is also its process group's id, cannot
 * be given to another process, so kill(-pid) reaches only its group. */
static bool exited_unreaped(pid_t pid)
{
	siginfo_t si = {0};

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* SIGTERM to the group, SIGKILL a second later or as soon as the leader
 * exits (to what it left behind); the leader is reaped only after the
 * last signal to its group. */
static void kill_group(pid_t pid)
{
	int status;

	kill(-pid, SIGTERM);
	for (int i = 0; i < 10 && !exited_unreaped(pid); i++)
		sleep_ms(100);
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* In the child: every descriptor but 0, 1 and 2 closed.  O_CLOEXEC is
 * not enough: libcurl opens its sockets and wake-up pairs without it, and
 * a drain.d script (which runs with the instance role) must not inherit
 * the agent's IMDS and AWS connections.  Only async-signal-safe calls:
 * the agent may have other threads (libcurl's resolver). */
static void close_inherited_fds(void)
{
	char buf[4096];
	int dfd;
	long n;

	if (close_range(3, ~0U, 0) == 0)
		return;
	/* Kernels before 5.9: walk /proc/self/fd. */
	dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		bool closed;
		do {
			closed = false;
			lseek(dfd, 0, SEEK_SET);
			while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
				for (long off = 0; off < n;) {
					struct dirent64 *de = (struct dirent64 *)(buf + off);
					char *end;
					long fd = strtol(de->d_name, &end, 10);
					off += de->d_reclen;
					if (*end || end == de->d_name || fd < 3 || fd == dfd)
						continue;
					close((int)fd);
					closed = true;
				}
			}
		} while (closed);
		close(dfd);
		return;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		for (rlim_t fd = 3; fd < rl.rlim_cur && fd < 1048576; fd++)
			close((int)fd);
}

const char *drain_d_refusal(const struct stat *st, uid_t agent_uid, bool directory)
{
	if (st->st_uid != 0 && st->st_uid != agent_uid)
		return "not owned by root or the agent's user";
	if (st->st_mode & S_IWOTH)
		return directory ? "the directory is writable by others" : "writable by others";
	if (st->st_mode & S_IWGRP)
		return directory ? "the directory is writable by its group"
		                 : "writable by its group";
	return NULL;
}

int drain_d_check(const char *dir, const char *name, char *why, size_t len)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	const char *r;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	/* The directory: whoever may write it may replace the script. */
	if (stat(dir, &st) < 0) {
		int e = errno;
		format_into(why, len, "%s: %s", dir, strerror(e));
		return -e;
	}
	if ((r = drain_d_refusal(&st, geteuid(), true))) {
		format_into(why, len, "%s: %s (owner %u, mode %04o)", dir, r, (unsigned)st.st_uid,
		            (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	/* The file the name resolves to, as exec will. */
	if (stat(path, &st) < 0) {
		int e = errno;
		format_into(why, len, "%s: %s", path, strerror(e));
		return -e;
	}
	if ((r = drain_d_refusal(&st, geteuid(), false))) {
		format_into(why, len, "%s: %s (owner %u, mode %04o)", path, r, (unsigned)st.st_uid,
		            (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int drain_d_run(const char *dir, const char *name, const char *const *env, long long timeout_ms)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	int p[2], status = 0;
	uint64_t end = now_mono_ms() + (uint64_t)timeout_ms;
	bool open_pipe = true;
	pid_t pid;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		sigset_t none;
		/* Its own process group, killed whole on timeout; the signals
		 * the agent blocks and ignores are the child's again. */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		close_inherited_fds();
		for (const char *const *e = env; e && *e; e++)
			putenv((char *)*e);
		execl(path, path, (char *)NULL);
		dprintf(STDERR_FILENO, "cannot execute %s: %m\n", path);
		_exit(127);
	}
	setpgid(pid, pid);
	close(p[1]);
	for (;;) {
		uint64_t now = now_mono_ms();
		pid_t w;

		if (open_pipe) {
			struct pollfd pfd = {.fd = p[0], .events = POLLIN};
			if (poll(&pfd, 1, 100) > 0) {
				char buf[4096];
				ssize_t n = read(p[0], buf, sizeof(buf));
				if (n > 0) {
					strbuf_append_len(&out, buf, (size_t)n);
					log_lines(name, &out, out.len > 8192);
				} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
					open_pipe = false;
				}
			}
		} else {
			sleep_ms(50);
		}
		watchdog_idle();
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid && !open_pipe)
			break;
		if (w == pid) {
			/* Exited; a grandchild may hold the pipe: read what is
			 * there and stop. */
			char buf[4096];
			ssize_t n;
			fcntl(p[0], F_SETFL, O_NONBLOCK);
			while ((n = read(p[0], buf, sizeof(buf))) > 0)
				strbuf_append_len(&out, buf, (size_t)n);
			break;
		}
		if (now >= end) {
			close(p[0]);
			log_lines(name, &out, true);
			kill_group(pid);
			return -ETIME;
		}
	}
	close(p[0]);
	log_lines(name, &out, true);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
