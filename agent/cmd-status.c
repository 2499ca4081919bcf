/* `asg-agent status`: asks the running daemon over its status socket and
 * prints its JSON answer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"

int cmd_status(const struct agent_config *cfg, int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct timeval tv = {5, 0};
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
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr,
		        "asg-agent: cannot reach the daemon at %s: %s\n"
		        "Is it running?  systemctl status asg-agent\n",
		        cfg->status_socket, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (n < 0) {
		fprintf(stderr, "asg-agent: reading %s: %s\n", cfg->status_socket, strerror(errno));
		return 1;
	}
	return 0;
}
