/* TCP check: a connection to host:port completes within the timeout.
 * Nonblocking connect and poll, so the timeout is ours and not the
 * kernel's SYN retry schedule (about two minutes on Linux). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "timeutil.h"
#include "check-internal.h"

/* Waits for a connect in progress; 1 connected, 0 refused or timed out
 * (detail set), -ECANCELED when stopping. */
static int tcp_wait_connected(int fd, int cancel_fd, uint64_t deadline, char *detail, size_t len,
                              const char *target)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLOUT},
		                      {.fd = cancel_fd, .events = POLLIN}};
		uint64_t now = now_mono_ms();
		int err = 0, r;
		socklen_t elen = sizeof(err);

		if (now >= deadline) {
			snprintf(detail, len, "connect to %s timed out", target);
			return 0;
		}
		r = poll(p, cancel_fd >= 0 ? 2 : 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (cancel_fd >= 0 && (p[1].revents & POLLIN))
			return -ECANCELED;
		if (r == 0)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			return -errno;
		if (err == 0)
			return 1;
		snprintf(detail, len, "connect to %s: %s", target, strerror(err));
		return 0;
	}
}

static int tcp_try_address(const struct addrinfo *ai, int cancel_fd, uint64_t deadline,
                           char *detail, size_t len, const char *target)
{
	_cleanup_close_ int fd = socket(
	        ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);

	if (fd < 0) {
		int r = -errno;
		snprintf(detail, len, "socket for %s: %s", target, strerror(-r));
		return r;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 1;
	if (errno != EINPROGRESS) {
		snprintf(detail, len, "connect to %s: %s", target, strerror(errno));
		return 0;
	}
	return tcp_wait_connected(fd, cancel_fd, deadline, detail, len, target);
}

int check_tcp_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len)
{
	uint64_t deadline = now_mono_ms() + (uint64_t)s->timeout_ms;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char port[16], target[300];
	int r, g;

	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(target, sizeof(target), "%s:%d", s->host, s->port);
	/* A name is resolved with the system resolver, which blocks for up to
	 * resolv.conf's timeout rather than ours: configure addresses (or
	 * names in /etc/hosts) for checks with short timeouts. */
	g = getaddrinfo(s->host, port, &hints, &res);
	if (g != 0) {
		snprintf(detail, len, "cannot resolve %s: %s", s->host, gai_strerror(g));
		return 0;
	}
	r = 0;
	/* Try each address in turn (e.g. ::1 then 127.0.0.1 for localhost)
	 * until one connects or the deadline passes. */
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		r = tcp_try_address(ai, cancel_fd, deadline, detail, len, target);
		if (r == 1 || r == -ECANCELED || now_mono_ms() >= deadline)
			break;
	}
	freeaddrinfo(res);
	if (r == 1)
		snprintf(detail, len, "connected to %s", target);
	return r;
}
