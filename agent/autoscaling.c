/* Auto Scaling over the Query client (see autoscaling.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "autoscaling.h"
#include "counters.h"
#include "cleanup.h"
#include "strbuf.h"
#include "xml.h"

int autoscaling_describe_lifecycle_hooks(struct aws_client *aws, const char *group,
                                         struct hook_set *out, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	const struct xml_node *m;
	int r;

	memset(out, 0, sizeof(*out));
	aws_form_add(&form, "AutoScalingGroupName", group);
	r = aws_query(aws, AWS_AUTO_SCALING, "DescribeLifecycleHooks", &form, resp);
	if (r < 0)
		return r;
	m = xml_find(resp->xml, "DescribeLifecycleHooksResult/LifecycleHooks/member");
	for (; m && out->n < HOOKS_MAX; m = xml_next_named(m)) {
		const char *name = xml_find_text(m, "LifecycleHookName");
		const char *tr = xml_find_text(m, "LifecycleTransition");
		const char *hb = xml_find_text(m, "HeartbeatTimeout");
		const char *dr = xml_find_text(m, "DefaultResult");
		struct hook *h = &out->h[out->n];

		if (!name || !tr)
			continue;
		if (!strcmp(tr, "autoscaling:EC2_INSTANCE_LAUNCHING"))
			h->launching = true;
		else if (strcmp(tr, "autoscaling:EC2_INSTANCE_TERMINATING"))
			continue;
		format_into(h->name, sizeof(h->name), "%s", name);
		/* Defaults when absent: 3600 s and ABANDON (user guide). */
		h->heartbeat_timeout_s = hb ? atoi(hb) : 3600;
		if (h->heartbeat_timeout_s <= 0)
			h->heartbeat_timeout_s = 3600;
		h->default_abandon = !dr || strcmp(dr, "CONTINUE");
		out->n++;
	}
	return 0;
}

int autoscaling_describe_target_groups(struct aws_client *aws, const char *group, char arns[][512],
                                       int max, int *n, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	const struct xml_node *g, *m;
	int r;

	*n = 0;
	aws_form_add(&form, "AutoScalingGroupNames.member.1", group);
	r = aws_query(aws, AWS_AUTO_SCALING, "DescribeAutoScalingGroups", &form, resp);
	if (r < 0)
		return r;
	g = xml_find(resp->xml, "DescribeAutoScalingGroupsResult/AutoScalingGroups/member");
	if (!g)
		return -ENOENT;
	m = xml_find(g, "TargetGroupARNs/member");
	for (; m && *n < max; m = xml_next_named(m)) {
		const char *arn = m->text;
		if (arn && *arn)
			format_into(arns[(*n)++], 512, "%s", arn);
	}
	return 0;
}

/* AWS's answer when the instance has no pending action for the hook:
 * "ValidationError: No active Lifecycle Action found with instance ID
 * i-..." (aws.md section 2). */
static bool no_active_action(const struct aws_response *resp)
{
	return !strcmp(resp->code, "ValidationError") &&
	       strstr(resp->message, "No active Lifecycle Action found");
}

static void hook_form(struct strbuf *form, const char *group, const char *hook,
                      const char *instance_id, const char *result)
{
	aws_form_add(form, "LifecycleHookName", hook);
	aws_form_add(form, "AutoScalingGroupName", group);
	if (result)
		aws_form_add(form, "LifecycleActionResult", result);
	aws_form_add(form, "InstanceId", instance_id);
}

int autoscaling_complete_lifecycle_action(struct aws_client *aws, const char *group,
                                          const char *hook, const char *instance_id, bool abandon,
                                          struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	int r;

	hook_form(&form, group, hook, instance_id, abandon ? "ABANDON" : "CONTINUE");
	r = aws_query(aws, AWS_AUTO_SCALING, "CompleteLifecycleAction", &form, resp);
	if (r == 0)
		counters_hook_completed(abandon);
	return r == -EREMOTEIO && no_active_action(resp) ? -ENOENT : r;
}

int autoscaling_record_heartbeat(struct aws_client *aws, const char *group, const char *hook,
                                 const char *instance_id, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	int r;

	hook_form(&form, group, hook, instance_id, NULL);
	r = aws_query(aws, AWS_AUTO_SCALING, "RecordLifecycleActionHeartbeat", &form, resp);
	return r == -EREMOTEIO && no_active_action(resp) ? -ENOENT : r;
}

int autoscaling_describe_instance(struct aws_client *aws, const char *instance_id, char *asg,
                                  size_t asg_len, char *state, size_t state_len,
                                  struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	const struct xml_node *m;
	int r;

	aws_form_add(&form, "InstanceIds.member.1", instance_id);
	r = aws_query(aws, AWS_AUTO_SCALING, "DescribeAutoScalingInstances", &form, resp);
	if (r < 0)
		return r;
	m = xml_find(resp->xml, "DescribeAutoScalingInstancesResult/AutoScalingInstances/member");
	if (!m || !xml_find_text(m, "AutoScalingGroupName"))
		return -ENOENT; /* not (or no longer) in a group */
	format_into(asg, asg_len, "%s", xml_find_text(m, "AutoScalingGroupName"));
	if (state)
		format_into(state, state_len, "%s",
		            xml_find_text(m, "LifecycleState") ? xml_find_text(m, "LifecycleState")
		                                               : "");
	return 0;
}
