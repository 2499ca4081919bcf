/* `asg-agent status`: asks the running daemon over its status socket and
 * prints its JSON answer, with the instance's scale-in protection added
 * ("scale_in_protection", from DescribeAutoScalingInstances: `protect`
 * changes it behind the daemon's back, so it is asked now, once, not
 * remembered by the daemon). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "autoscaling.h"
#include "cleanup.h"
#include "commands.h"
#include "log.h"
#include "status.h"

static json_t *protection(const struct agent_config *cfg, const json_t *doc)
{
	struct asg_instance info;
	struct aws_response resp;
	struct agent a;
	json_t *o;
	int r;

	if (!json_is_string(json_object_get(doc, "instance_id")) ||
	    !json_is_string(json_object_get(doc, "auto_scaling_group")))
		return json_pack("{s:n,s:s}", "protected", "error",
		                 "not known: no instance identity or Auto Scaling group");
	log_set_level(LOG_CRIT);
	r = agent_open(&a, cfg, 1);
	if (r == 0 && !a.aws_ready)
		r = -ENXIO;
	if (r < 0) {
		agent_close(&a);
		return json_pack("{s:n,s:s}", "protected", "error",
		                 a.last_error[0] ? a.last_error : "AWS cannot be asked");
	}
	r = autoscaling_describe_instance_info(&a.aws, a.ident.id.instance_id, &info, &resp);
	if (r == 0)
		o = json_pack("{s:b,s:s}", "protected", info.protected_from_scale_in,
		              "lifecycle_state", info.state);
	else
		o = json_pack("{s:n,s:s++}", "protected", "error",
		              "DescribeAutoScalingInstances: ", resp.code[0] ? resp.code : "",
		              resp.message[0] ? resp.message : strerror(-r));
	aws_response_free(&resp);
	agent_close(&a);
	return o;
}

int cmd_status(const struct agent_config *cfg, int argc, char **argv)
{
	_cleanup_json_ json_t *doc = NULL;
	_cleanup_free_ char *text = NULL;
	int r;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: asg-agent status\n");
		return 2;
	}
	r = status_fetch(cfg->status_socket, &doc);
	if (r == -EBADMSG) {
		fprintf(stderr, "asg-agent: %s did not answer a JSON document\n",
		        cfg->status_socket);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr,
		        "asg-agent: cannot reach the daemon at %s: %s\n"
		        "Is it running?  systemctl status asg-agent\n",
		        cfg->status_socket, strerror(-r));
		return 1;
	}
	json_object_set_new(doc, "scale_in_protection", protection(cfg, doc));
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text) {
		fprintf(stderr, "asg-agent: out of memory\n");
		return 1;
	}
	printf("%s\n", text);
	return 0;
}
