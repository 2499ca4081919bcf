/*
 * probe: a load balancer's view of /health while the server is under load.
 *
 * Usage: probe PORT PATH SECONDS INTERVAL_MS
 *
 * Sends "GET PATH" on one keep-alive connection to 127.0.0.1:PORT every
 * INTERVAL_MS for SECONDS, times each answer (request written -> whole
 * response read), and prints "samples p50_ms p99_ms max_ms errors".  An
 * error is a non-200 status, a timeout (1 s) or a closed connection (the
 * probe reconnects and goes on).
 *
 * wrk's own p99 cannot show this: with 50 connections in a closed loop
 * every request waits behind the others (Little's law: mean latency =
 * 50 / throughput), while an ALB sends one probe at a time beside the
 * traffic.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 200000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int open_conn(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 1 };
	int fd, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Reads one response (head plus Content-Length bytes of body).  Returns
 * the status code, or -1 on a closed connection, timeout or bad head. */
static int read_response(int fd)
{
	char buf[16384], *end, *cl;
	size_t got = 0, head_len, body_len = 0;
	ssize_t n;
	int status;

	for (;;) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			return -1;
		got += n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		if (got == sizeof(buf) - 1)
			return -1;
	}
	head_len = end + 4 - buf;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	*end = '\0';
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl)
		body_len = strtoul(cl + 17, NULL, 10);
	/* Drain the rest of the body, which may be larger than buf. */
	size_t have = got - head_len;
	while (have < body_len) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		have += n;
	}
	return status;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static double samples[MAX_SAMPLES];
	double deadline, next, interval_ms, t0;
	size_t n = 0, errors = 0;
	char req[512];
	int port, fd = -1, reqlen, status;

	if (argc != 5) {
		fprintf(stderr, "usage: probe PORT PATH SECONDS INTERVAL_MS\n");
		return 2;
	}
	port = atoi(argv[1]);
	interval_ms = atof(argv[4]);
	if (port <= 0 || interval_ms <= 0) {
		fprintf(stderr, "probe: bad port or interval\n");
		return 2;
	}
	reqlen = snprintf(req, sizeof(req),
			  "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench-probe\r\n\r\n",
			  argv[2]);
	signal(SIGPIPE, SIG_IGN);
	next = now_ms();
	deadline = next + atof(argv[3]) * 1e3;
	while (next < deadline && n < MAX_SAMPLES) {
		double wait = next - now_ms();
		if (wait > 0) {
			long long ns = (long long)(wait * 1e6);
			struct timespec ts = { .tv_sec = ns / 1000000000,
					       .tv_nsec = ns % 1000000000 };
			nanosleep(&ts, NULL);
		}
		next += interval_ms;
		if (fd < 0 && (fd = open_conn(port)) < 0) {
			errors++;
			fd = -1;
			continue;
		}
		t0 = now_ms();
		if (write(fd, req, reqlen) != reqlen) {
			errors++;
			close(fd);
			fd = -1;
			continue;
		}
		status = read_response(fd);
		samples[n++] = now_ms() - t0;
		if (status != 200) {
			errors++;
			if (status < 0) {
				close(fd);
				fd = -1;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	if (n == 0) {
		fprintf(stderr, "probe: no samples\n");
		return 1;
	}
	qsort(samples, n, sizeof(samples[0]), cmp_double);
	printf("%zu %.3f %.3f %.3f %zu\n", n, samples[n / 2], samples[(size_t)((n - 1) * 0.99)],
	       samples[n - 1], errors);
	return 0;
}
