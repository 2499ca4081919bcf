/* `asg-agent run`: the daemon (agent.c) until SIGTERM. */
#include <errno.h>

#include "agent.h"
#include "commands.h"

int cmd_run(const struct agent_config *cfg)
{
	struct agent a;
	int r = agent_init(&a, cfg);

	if (r == 0)
		r = agent_run(&a);
	agent_free(&a);
	/* A SIGTERM during the start is a clean stop. */
	return r == 0 || r == -EINTR ? 0 : 1;
}
