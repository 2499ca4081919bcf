/* `asg-agent protect on|off`: scale-in protection for this instance
 * (SetInstanceProtection, aws.md section 11), for work that must not be
 * interrupted by a scale-in.  It does not stop a health-check
 * replacement, a Spot interruption or a manual TerminateInstances. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "autoscaling.h"
#include "commands.h"
#include "log.h"

int cmd_protect(const struct agent_config *cfg, int argc, char **argv)
{
	struct asg_instance info;
	struct aws_response resp;
	struct agent a;
	bool on;
	int r, rc = 1;

	if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off"))) {
		fprintf(stderr, "usage: asg-agent protect on|off\n");
		return 2;
	}
	on = !strcmp(argv[1], "on");
	log_set_level(LOG_ERR);
	r = agent_open(&a, cfg, 0);
	if (r < 0) {
		fprintf(stderr, "asg-agent: cannot start: %s\n", strerror(-r));
		goto out;
	}
	if (a.ident.imds != IMDS_OK || !a.aws_ready || !a.ident.asg_source) {
		fprintf(stderr,
		        "asg-agent: %s: scale-in protection needs the instance's identity "
		        "(IMDS), a region and its Auto Scaling group; see asg-agent doctor\n",
		        a.last_error[0] ? a.last_error : "no instance identity, region or group");
		goto out;
	}
	r = autoscaling_set_instance_protection(&a.aws, a.ident.asg_name, a.ident.id.instance_id,
	                                        on, &resp);
	if (r < 0) {
		fprintf(stderr, "asg-agent: SetInstanceProtection failed: %s%s%s\n", resp.code,
		        resp.code[0] ? ": " : "", resp.message[0] ? resp.message : strerror(-r));
		aws_response_free(&resp);
		goto out;
	}
	aws_response_free(&resp);
	/* Read back: what status will show. */
	r = autoscaling_describe_instance_info(&a.aws, a.ident.id.instance_id, &info, &resp);
	aws_response_free(&resp);
	if (r == 0 && info.protected_from_scale_in != on) {
		fprintf(stderr, "asg-agent: the group still says ProtectedFromScaleIn %s\n",
		        info.protected_from_scale_in ? "true" : "false");
		goto out;
	}
	printf("scale-in protection %s for %s in %s%s\n", on ? "on" : "off", a.ident.id.instance_id,
	       a.ident.asg_name,
	       on ? " (a health-check replacement, a Spot interruption or a manual "
	            "termination still end it)"
	          : "");
	rc = 0;
out:
	agent_close(&a);
	return rc;
}
