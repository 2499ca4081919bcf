/* `asg-agent drain|undrain`: POST /drain or /undrain to asg-health's
 * control socket (HTTP over AF_UNIX, CURLOPT_UNIX_SOCKET_PATH).  drain
 * first asks the cascade guard (guard.h) unless --force: it refuses when
 * no other target of a target group would be healthy, and when AWS
 * cannot be asked (a drain that may take the last healthy target out is
 * the operator's explicit choice).  undrain needs no guard. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "cleanup.h"
#include "commands.h"
#include "control-protocol.h"
#include "guard.h"
#include "health-client.h"
#include "log.h"

static int guard(const struct agent_config *cfg)
{
	struct agent a;
	char why[1024];
	int r;

	log_set_level(LOG_ERR);
	r = agent_open(&a, cfg, 0);
	if (r == 0)
		r = guard_check(&a, why, sizeof(why));
	else
		format_into(why, sizeof(why), "cannot start: %s", strerror(-r));
	agent_close(&a);
	if (r < 0)
		fprintf(stderr, "asg-agent: refusing to drain: %s\n%s\n", why,
		        r == -EBUSY ? "Use --force to drain anyway."
		                    : "Use --force to drain without this check.");
	return r;
}

int cmd_drain(const struct agent_config *cfg, const char *path, int argc, char **argv)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	bool drain = !strcmp(path, CONTROL_PATH_DRAIN), force = false;
	long status = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if (drain && !strcmp(argv[i], "--force")) {
			force = true;
		} else {
			fprintf(stderr, "usage: asg-agent drain [--force] | asg-agent undrain\n");
			return 2;
		}
	}
	if (drain && !force && guard(cfg) < 0)
		return 1;
	r = health_control(cfg->health_socket, "POST", path, &status, &body);

	if (r < 0) {
		fprintf(stderr,
		        "asg-agent: cannot reach asg-health at %s: %s\n"
		        "Is it running?  systemctl status asg-health\n",
		        cfg->health_socket, strerror(-r));
		return 1;
	}
	fwrite(strbuf_str(&body), 1, body.len, stdout);
	if (body.len && body.data[body.len - 1] != '\n')
		putchar('\n');
	if (status < 200 || status >= 300) {
		fprintf(stderr, "asg-agent: asg-health answered %s with HTTP %ld\n", path, status);
		return 1;
	}
	return 0;
}
