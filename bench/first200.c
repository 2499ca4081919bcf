/*
 * first200: time from exec of a server to its first "200" answer.
 *
 * Usage: first200 [-n RUNS] [-t TIMEOUT_MS] PORT PATH -- SERVER ARGV...
 *
 * For each run: note CLOCK_MONOTONIC, fork, exec the server, then poll
 * 127.0.0.1:PORT with "GET PATH" (a fresh connection each try, 100 us
 * apart) until a status line of 200 arrives.  Then SIGTERM the server by
 * its PID, reap it, and wait until the port refuses connections again
 * (nginx workers outlive their master by a moment and hold the listening
 * socket) before the next run.  Prints one line per run, milliseconds with
 * microsecond precision, and exits non-zero if any run failed.
 *
 * The fork is inside the timed span; on Linux it costs tens of
 * microseconds, well below what this measures.  The server's stdout and
 * stderr are inherited, so a server that fails to start says why.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void pause_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* 1: answered 200; 0: no answer or another status; -1: refused. */
static int probe(int port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 1 };
	char req[512], buf[64];
	ssize_t n, got = 0;
	int fd, r = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	/* A server that accepted but never answers must not stall the poll. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == ECONNREFUSED ? -1 : 0;
		close(fd);
		return r;
	}
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	if (write(fd, req, n) != n) {
		close(fd);
		return 0;
	}
	/* "HTTP/1.1 200" is 12 bytes; read until we have them or EOF. */
	while (got < 12) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	if (got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0)
		r = 1;
	close(fd);
	return r;
}

static int stop_server(pid_t pid, int port, double timeout_ms)
{
	double deadline = now_ms() + timeout_ms;
	int status;

	kill(pid, SIGTERM);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		pause_us(1000);
	}
	while (probe(port, "/") != -1) {
		if (now_ms() > deadline) {
			fprintf(stderr, "first200: port %d still open after the server exited\n", port);
			return -1;
		}
		pause_us(1000);
	}
	return 0;
}

static int one_run(int port, const char *path, char **argv, double timeout_ms, double *out_ms)
{
	double start, deadline;
	int status, r;
	pid_t pid;

	if (probe(port, "/") != -1) {
		fprintf(stderr, "first200: port %d is already in use\n", port);
		return -1;
	}
	start = now_ms();
	deadline = start + timeout_ms;
	pid = fork();
	if (pid < 0) {
		perror("first200: fork");
		return -1;
	}
	if (pid == 0) {
		/* Own process group: lighttpd's master, for one, stops its
		 * workers with kill(0, SIGTERM), which would reach us too. */
		setpgid(0, 0);
		execvp(argv[0], argv);
		fprintf(stderr, "first200: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (;;) {
		r = probe(port, path);
		if (r == 1) {
			*out_ms = now_ms() - start;
			return stop_server(pid, port, timeout_ms);
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "first200: server exited (status 0x%x) before answering 200\n",
				status);
			return -1;
		}
		if (now_ms() > deadline) {
			fprintf(stderr, "first200: no 200 from port %d%s within %.0f ms\n", port, path,
				timeout_ms);
			stop_server(pid, port, timeout_ms);
			return -1;
		}
		pause_us(100);
	}
}

int main(int argc, char **argv)
{
	double timeout_ms = 10000, ms;
	int runs = 5, opt, port, i;
	const char *path;

	while ((opt = getopt(argc, argv, "+n:t:")) != -1) {
		switch (opt) {
		case 'n':
			runs = atoi(optarg);
			break;
		case 't':
			timeout_ms = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind < 4 || strcmp(argv[optind + 2], "--") != 0 || runs < 1)
		goto usage;
	port = atoi(argv[optind]);
	path = argv[optind + 1];
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < runs; i++) {
		if (one_run(port, path, argv + optind + 3, timeout_ms, &ms) < 0)
			return 1;
		printf("%.3f\n", ms);
		fflush(stdout);
	}
	return 0;
usage:
	fprintf(stderr, "usage: first200 [-n RUNS] [-t TIMEOUT_MS] PORT PATH -- SERVER ARGV...\n");
	return 2;
}
