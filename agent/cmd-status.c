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
#include "status.h"
#include "strbuf.h"

int cmd_status(const struct agent_config *cfg, int argc, char **argv)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	char err[512];

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: asg-agent status\n");
		return 2;
	}
	if (status_get(cfg->status_socket, &body, err, sizeof(err)) < 0) {
		fprintf(stderr, "asg-agent: %s\n", err);
		if (strstr(err, "cannot reach"))
			fprintf(stderr, "Is it running?  systemctl status asg-agent\n");
		return 1;
	}
	fwrite(strbuf_str(&body), 1, body.len, stdout);
	return 0;
}
