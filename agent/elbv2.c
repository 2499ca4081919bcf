/* ELBv2 over the Query client (see elbv2.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "cleanup.h"
#include "elbv2.h"
#include "strbuf.h"

static void target_form(struct strbuf *form, const char *arn, const char *instance_id)
{
	aws_form_add(form, "TargetGroupArn", arn);
	aws_form_add(form, "Targets.member.1.Id", instance_id);
}

int elbv2_set_target(struct aws_client *aws, const char *arn, const char *instance_id,
                     bool registered, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	target_form(&form, arn, instance_id);
	/* Re-registered only when a canceled interruption had deregistered it. */
	if (registered)
		return aws_query(aws, AWS_ELBV2, "RegisterTargets", &form, resp);
	return aws_query(aws, AWS_ELBV2, "DeregisterTargets", &form, resp);
}

int elbv2_set_target_start(struct aws_call *q, struct aws_client *aws, const char *arn,
                           const char *instance_id, bool registered, struct aws_response *resp,
                           aws_done_fn done, void *ctx)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;

	target_form(&form, arn, instance_id);
	return aws_query_start(q, aws, AWS_ELBV2,
	                       registered ? "RegisterTargets" : "DeregisterTargets", &form, resp,
	                       done, ctx);
}

int elbv2_target_health(struct aws_client *aws, const char *arn, const char *instance_id,
                        struct elbv2_tg_health *out, struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	const struct xml_node *m;
	int r;

	memset(out, 0, sizeof(*out));
	aws_form_add(&form, "TargetGroupArn", arn);
	r = aws_query(aws, AWS_ELBV2, "DescribeTargetHealth", &form, resp);
	if (r < 0)
		return r;
	m = xml_find(resp->xml, "DescribeTargetHealthResult/TargetHealthDescriptions/member");
	for (; m; m = xml_next_named(m)) {
		const char *id = xml_find_text(m, "Target/Id");
		const char *state = xml_find_text(m, "TargetHealth/State");

		if (!id || !state)
			continue;
		if (!strcmp(id, instance_id)) {
			format_into(out->self_state, sizeof(out->self_state), "%s", state);
			continue;
		}
		out->others++;
		if (!strcmp(state, "healthy"))
			out->others_healthy++;
	}
	return 0;
}

static int int_of(const struct xml_node *n, const char *path)
{
	const char *v = xml_find_text(n, path);

	return v ? atoi(v) : 0;
}

int elbv2_describe_target_group(struct aws_client *aws, const char *arn, struct elbv2_tg_info *out,
                                struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	const struct xml_node *g, *m;
	int r;

	memset(out, 0, sizeof(*out));
	aws_form_add(&form, "TargetGroupArns.member.1", arn);
	r = aws_query(aws, AWS_ELBV2, "DescribeTargetGroups", &form, resp);
	if (r < 0)
		return r;
	g = xml_find(resp->xml, "DescribeTargetGroupsResult/TargetGroups/member");
	if (!g)
		return -ENOENT;
	out->interval_s = int_of(g, "HealthCheckIntervalSeconds");
	out->timeout_s = int_of(g, "HealthCheckTimeoutSeconds");
	out->healthy_threshold = int_of(g, "HealthyThresholdCount");
	out->unhealthy_threshold = int_of(g, "UnhealthyThresholdCount");
	for (m = xml_find(g, "LoadBalancerArns/member"); m && out->n_lbs < ELBV2_MAX_LBS;
	     m = xml_next_named(m))
		if (m->text && *m->text)
			format_into(out->lbs[out->n_lbs++], sizeof(out->lbs[0]), "%s", m->text);
	return 0;
}

int elbv2_attribute(struct aws_client *aws, bool lb, const char *arn, const char *key, long *out,
                    struct aws_response *resp)
{
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	const struct xml_node *m;
	int r;

	aws_form_add(&form, lb ? "LoadBalancerArn" : "TargetGroupArn", arn);
	if (lb)
		r = aws_query(aws, AWS_ELBV2, "DescribeLoadBalancerAttributes", &form, resp);
	else
		r = aws_query(aws, AWS_ELBV2, "DescribeTargetGroupAttributes", &form, resp);
	if (r < 0)
		return r;
	m = xml_find(resp->xml, lb ? "DescribeLoadBalancerAttributesResult/Attributes/member"
	                           : "DescribeTargetGroupAttributesResult/Attributes/member");
	for (; m; m = xml_next_named(m)) {
		const char *k = xml_find_text(m, "Key"), *v = xml_find_text(m, "Value");
		char *end;

		if (!k || !v || strcmp(k, key))
			continue;
		*out = strtol(v, &end, 10);
		return *end || end == v ? -EBADMSG : 0;
	}
	return -ENOENT;
}
