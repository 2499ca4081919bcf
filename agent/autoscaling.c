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

static void hooks_form(struct strbuf *form, const char *group)
{
	aws_form_add(form, "AutoScalingGroupName", group);
}

int autoscaling_describe_lifecycle_hooks(struct aws_client *aws, const char *group,
                                         struct hook_set *out, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	hooks_form(&form, group);
	return autoscaling_lifecycle_hooks_result(
	        aws_query(aws, AWS_AUTO_SCALING, "DescribeLifecycleHooks", &form, resp), resp, out);
}

int autoscaling_describe_lifecycle_hooks_start(struct aws_call *q, struct aws_client *aws,
                                               const char *group, struct aws_response *resp,
                                               aws_done_fn done, void *ctx)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	hooks_form(&form, group);
	return aws_query_start(q, aws, AWS_AUTO_SCALING, "DescribeLifecycleHooks", &form, resp,
	                       done, ctx);
}

int autoscaling_lifecycle_hooks_result(int r, const struct aws_response *resp, struct hook_set *out)
{
	const struct xml_node *m;

	memset(out, 0, sizeof(*out));
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
		/* AWS keeps HeartbeatTimeout in 30..7200; garbage reads 0, which gets the default
		 * below */
		/* NOLINTNEXTLINE(cert-err34-c) */
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

	aws_form_add(&form, "AutoScalingGroupNames.member.1", group);
	return autoscaling_target_groups_result(
	        aws_query(aws, AWS_AUTO_SCALING, "DescribeAutoScalingGroups", &form, resp), resp,
	        arns, max, n);
}

int autoscaling_describe_target_groups_start(struct aws_call *q, struct aws_client *aws,
                                             const char *group, struct aws_response *resp,
                                             aws_done_fn done, void *ctx)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	aws_form_add(&form, "AutoScalingGroupNames.member.1", group);
	return aws_query_start(q, aws, AWS_AUTO_SCALING, "DescribeAutoScalingGroups", &form, resp,
	                       done, ctx);
}

int autoscaling_target_groups_result(int r, const struct aws_response *resp, char arns[][512],
                                     int max, int *n)
{
	const struct xml_node *g, *m;

	*n = 0;
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

int autoscaling_hook_call_result(int r, const struct aws_response *resp)
{
	return r == -EREMOTEIO && no_active_action(resp) ? -ENOENT : r;
}

int autoscaling_complete_lifecycle_action(struct aws_client *aws, const char *group,
                                          const char *hook, const char *instance_id, bool abandon,
                                          struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	int r;

	hook_form(&form, group, hook, instance_id, abandon ? "ABANDON" : "CONTINUE");
	r = autoscaling_hook_call_result(
	        aws_query(aws, AWS_AUTO_SCALING, "CompleteLifecycleAction", &form, resp), resp);
	if (r == 0)
		counters_hook_completed(abandon);
	return r;
}

int autoscaling_complete_lifecycle_action_start(struct aws_call *q, struct aws_client *aws,
                                                const char *group, const char *hook,
                                                const char *instance_id, bool abandon,
                                                struct aws_response *resp, aws_done_fn done,
                                                void *ctx)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	hook_form(&form, group, hook, instance_id, abandon ? "ABANDON" : "CONTINUE");
	return aws_query_start(q, aws, AWS_AUTO_SCALING, "CompleteLifecycleAction", &form, resp,
	                       done, ctx);
}

int autoscaling_record_heartbeat(struct aws_client *aws, const char *group, const char *hook,
                                 const char *instance_id, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	hook_form(&form, group, hook, instance_id, NULL);
	return autoscaling_hook_call_result(
	        aws_query(aws, AWS_AUTO_SCALING, "RecordLifecycleActionHeartbeat", &form, resp),
	        resp);
}

int autoscaling_record_heartbeat_start(struct aws_call *q, struct aws_client *aws,
                                       const char *group, const char *hook, const char *instance_id,
                                       struct aws_response *resp, aws_done_fn done, void *ctx)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	hook_form(&form, group, hook, instance_id, NULL);
	return aws_query_start(q, aws, AWS_AUTO_SCALING, "RecordLifecycleActionHeartbeat", &form,
	                       resp, done, ctx);
}

int autoscaling_describe_instance(struct aws_client *aws, const char *instance_id, char *asg,
                                  size_t asg_len, char *state, size_t state_len,
                                  struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	aws_form_add(&form, "InstanceIds.member.1", instance_id);
	return autoscaling_instance_result(
	        aws_query(aws, AWS_AUTO_SCALING, "DescribeAutoScalingInstances", &form, resp), resp,
	        asg, asg_len, state, state_len);
}

int autoscaling_describe_instance_start(struct aws_call *q, struct aws_client *aws,
                                        const char *instance_id, struct aws_response *resp,
                                        aws_done_fn done, void *ctx)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	aws_form_add(&form, "InstanceIds.member.1", instance_id);
	return aws_query_start(q, aws, AWS_AUTO_SCALING, "DescribeAutoScalingInstances", &form,
	                       resp, done, ctx);
}

int autoscaling_instance_result(int r, const struct aws_response *resp, char *asg, size_t asg_len,
                                char *state, size_t state_len)
{
	const struct xml_node *m;

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

int autoscaling_describe_instance_info(struct aws_client *aws, const char *instance_id,
                                       struct asg_instance *out, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	const struct xml_node *m;
	const char *v;
	int r;

	memset(out, 0, sizeof(*out));
	aws_form_add(&form, "InstanceIds.member.1", instance_id);
	r = aws_query(aws, AWS_AUTO_SCALING, "DescribeAutoScalingInstances", &form, resp);
	if (r < 0)
		return r;
	m = xml_find(resp->xml, "DescribeAutoScalingInstancesResult/AutoScalingInstances/member");
	if (!m || !(v = xml_find_text(m, "AutoScalingGroupName")))
		return -ENOENT;
	format_into(out->group, sizeof(out->group), "%s", v);
	if ((v = xml_find_text(m, "LifecycleState")))
		format_into(out->state, sizeof(out->state), "%s", v);
	if ((v = xml_find_text(m, "HealthStatus")))
		format_into(out->health, sizeof(out->health), "%s", v);
	v = xml_find_text(m, "ProtectedFromScaleIn");
	out->protected_from_scale_in = v && !strcmp(v, "true");
	return 0;
}

int autoscaling_describe_health_check_type(struct aws_client *aws, const char *group, char *type,
                                           size_t len, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	const struct xml_node *g;
	const char *v;
	int r;

	aws_form_add(&form, "AutoScalingGroupNames.member.1", group);
	r = aws_query(aws, AWS_AUTO_SCALING, "DescribeAutoScalingGroups", &form, resp);
	if (r < 0)
		return r;
	g = xml_find(resp->xml, "DescribeAutoScalingGroupsResult/AutoScalingGroups/member");
	if (!g)
		return -ENOENT;
	v = xml_find_text(g, "HealthCheckType");
	format_into(type, len, "%s", v ? v : "EC2");
	return 0;
}

static void standby_form(struct strbuf *form, const char *group, const char *instance_id)
{
	aws_form_add(form, "AutoScalingGroupName", group);
	aws_form_add(form, "InstanceIds.member.1", instance_id);
}

int autoscaling_enter_standby(struct aws_client *aws, const char *group, const char *instance_id,
                              bool decrement, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	standby_form(&form, group, instance_id);
	aws_form_add(&form, "ShouldDecrementDesiredCapacity", decrement ? "true" : "false");
	return aws_query(aws, AWS_AUTO_SCALING, "EnterStandby", &form, resp);
}

int autoscaling_exit_standby(struct aws_client *aws, const char *group, const char *instance_id,
                             struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	standby_form(&form, group, instance_id);
	return aws_query(aws, AWS_AUTO_SCALING, "ExitStandby", &form, resp);
}

int autoscaling_set_instance_protection(struct aws_client *aws, const char *group,
                                        const char *instance_id, bool protect,
                                        struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	aws_form_add(&form, "InstanceIds.member.1", instance_id);
	aws_form_add(&form, "AutoScalingGroupName", group);
	aws_form_add(&form, "ProtectedFromScaleIn", protect ? "true" : "false");
	return aws_query(aws, AWS_AUTO_SCALING, "SetInstanceProtection", &form, resp);
}
