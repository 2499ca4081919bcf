/* Listening sockets for asg-health. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "cleanup.h"
#include "listen.h"

int listeners_from_systemd(struct listeners *l)
{
	int n = sd_listen_fds(1);

	l->n_http = 0;
	l->control = -1;
	l->activated = false;
	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
			if (l->control >= 0)
				close(l->control);
			l->control = fd;
		} else if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0 &&
		           l->n_http < LISTEN_MAX) {
			l->http[l->n_http++] = fd;
		} else {
			close(fd); /* not something we can serve on */
		}
	}
	l->activated = true;
	return n;
}

static int split_addr(const char *spec, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		snprintf(host, hlen, "%.*s", (int)(end - spec - 1), spec + 1);
		snprintf(port, plen, "%s", end + 2);
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return -EINVAL;
		snprintf(host, hlen, "%.*s", (int)(colon - spec), spec);
		snprintf(port, plen, "%s", colon + 1);
	}
	/* Digits only, at most five of them, so strtoul() cannot wrap:
	 * atoi("4294967377") was 81, and getaddrinfo() took it so too. */
	if (!port[0] || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    strtoul(port, NULL, 10) > 65535)
		return -EINVAL;
	return 0;
}

int listen_tcp(const char *spec, int *fd_out, char *err, size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
	                         .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	_cleanup_close_ int fd = -1;
	int one = 1, r;

	if (split_addr(spec, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "%s: expected ADDR:PORT such as 0.0.0.0:80 or [::]:80", spec);
		return -EINVAL;
	}
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (r) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Listening on [::] must not also take IPv4: "0.0.0.0:80" and
	 * "[::]:80" are configured side by side, as the .socket unit does. */
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0)
		goto fail;
	freeaddrinfo(ai);
	*fd_out = steal_fd(&fd);
	return 0;
fail:
	r = -errno;
	snprintf(err, errlen, "cannot listen on %s: %s%s", spec, strerror(errno),
	         errno == EACCES       ? " (ports below 1024 need the asg-health.socket unit or "
	                                 "CAP_NET_BIND_SERVICE)"
	         : errno == EADDRINUSE ? " (another server holds the port)"
	                               : "");
	freeaddrinfo(ai);
	return r;
}

/* The control socket, when systemd does not pass it.  It is bound under
 * a temporary name with a umask that makes it 0660 from birth, then
 * renamed over the final path: there is no moment when the path is
 * missing (the stale socket of a previous run is replaced atomically) or
 * when the socket exists with a wider mode (chmod after bind left such a
 * window), and no lstat-then-unlink of the final path.  umask is
 * process-wide: this runs before any other thread exists. */
int listen_unix(const char *path, int *fd_out, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct stat st;
	mode_t old_mask;
	int r;

	if (strlen(path) + 10 >= sizeof(sa.sun_path)) { /* room for ".PID~" */
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	/* Replace a socket left by a previous run; never anything else. */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
		         "cannot create the control socket %s: it exists and is not a socket",
		         path);
		return -EEXIST;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.%ld~", path, (long)getpid());
	if (lstat(sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(sa.sun_path); /* ours, from a crash with the same pid */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	old_mask = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (r < 0)
		goto fail;
	if (listen(fd, 64) < 0 || rename(sa.sun_path, path) < 0) {
		r = -errno;
		unlink(sa.sun_path);
		snprintf(err, errlen, "cannot create the control socket %s: %s", path,
		         strerror(-r));
		return r;
	}
	*fd_out = steal_fd(&fd);
	return 0;
fail:
	r = -errno;
	snprintf(err, errlen, "cannot create the control socket %s: %s", path, strerror(errno));
	return r;
}
