/* `asg-agent status`: asks the running daemon for its status document
 * (GET /status on its status socket, status.h) and prints it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "control-protocol.h"
#include "health-client.h"
#include "strbuf.h"

int cmd_status(const struct agent_config *cfg, int argc, char **argv)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	long status = 0;
	int r;

	if (argc > 1) {
		fprintf(stderr, "usage: asg-agent status\n");
		return 2;
	}
	/* health_control() is the agent's HTTP-over-a-Unix-socket client;
	 * the status socket speaks the same HTTP as asg-health's. */
	r = health_control(cfg->status_socket, "GET", CONTROL_AGENT_STATUS_PATH, &status, &body);
	if (r < 0) {
		fprintf(stderr,
		        "asg-agent: cannot reach the daemon at %s: %s\n"
		        "Is it running?  systemctl status asg-agent\n",
		        cfg->status_socket, strerror(-r));
		return 1;
	}
	if (status != 200) {
		fprintf(stderr, "asg-agent: %s answered HTTP %ld: %s\n", cfg->status_socket, status,
		        strbuf_str(&body));
		return 1;
	}
	fwrite(strbuf_str(&body), 1, body.len, stdout);
	return 0;
}
