/* `asg-agent drain|undrain`: POST /drain or /undrain to asg-health's
 * control socket (HTTP over AF_UNIX, CURLOPT_UNIX_SOCKET_PATH). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "commands.h"
#include "health-client.h"

int cmd_drain(const struct agent_config *cfg, const char *path)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	long status = 0;
	int r = health_control(cfg->health_socket, "POST", path, &status, &body);

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
