/* `asg-agent status`: asks the running daemon for its status document
 * (GET /status on its status socket, status.h) and prints it.
 *
 * One HTTP/1.0 request written on the socket and the answer read to EOF
 * (the daemon closes after an HTTP/1.0 answer), not libcurl: the agent's
 * libcurl client wakes in 100 ms steps and costs a quarter of a second
 * to start here, and this command is what tests and operators poll. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "control-protocol.h"
#include "strbuf.h"

static const char request[] =
        "GET " CONTROL_AGENT_STATUS_PATH " HTTP/1.0\r\nHost: localhost\r\n\r\n";

int cmd_status(const struct agent_config *cfg, int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	_cleanup_strbuf_ struct strbuf answer = STRBUF_INIT;
	struct timeval tv = {5, 0};
	const char *body;
	char buf[4096];
	ssize_t n;

	if (argc > 1) {
		fprintf(stderr, "usage: asg-agent status\n");
		return 2;
	}
	if (strlen(cfg->status_socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "asg-agent: status socket path too long\n");
		return 1;
	}
	memcpy(sa.sun_path, cfg->status_socket, strlen(cfg->status_socket) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(request) - 1) {
		fprintf(stderr,
		        "asg-agent: cannot reach the daemon at %s: %s\n"
		        "Is it running?  systemctl status asg-agent\n",
		        cfg->status_socket, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_append_len(&answer, buf, (size_t)n);
	if (n < 0 || strbuf_error(&answer) < 0) {
		fprintf(stderr, "asg-agent: reading %s: %s\n", cfg->status_socket,
		        strerror(n < 0 ? errno : ENOMEM));
		return 1;
	}
	body = strstr(strbuf_str(&answer), "\r\n\r\n");
	if (strncmp(strbuf_str(&answer), "HTTP/1.", 7) != 0 || !body ||
	    strncmp(strbuf_str(&answer) + 8, " 200 ", 5) != 0) {
		fprintf(stderr, "asg-agent: %s answered: %.200s\n", cfg->status_socket,
		        strbuf_str(&answer));
		return 1;
	}
	body += 4;
	fwrite(body, 1, answer.len - (size_t)(body - strbuf_str(&answer)), stdout);
	return 0;
}
