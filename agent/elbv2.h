/* Elastic Load Balancing v2, as the instance itself uses it: taking
 * itself out of (and back into) a target group when an interruption
 * (Spot, a scheduled event, a rebalance recommendation) drains it, which
 * the load balancer does not learn from Auto Scaling; the target health
 * the drain guard reads (guard.h); the settings `doctor` checks. */
#ifndef ASG_AGENT_ELBV2_H
#define ASG_AGENT_ELBV2_H

#include <stdbool.h>

#include "aws.h"

/* DeregisterTargets / RegisterTargets of this instance (its Id only: the
 * group registers instances on the target group's port). */
int elbv2_set_target(struct aws_client *aws, const char *arn, const char *instance_id,
                     bool registered, struct aws_response *resp);
/* The same without waiting (aws_query_start). */
int elbv2_set_target_start(struct aws_call *q, struct aws_client *aws, const char *arn,
                           const char *instance_id, bool registered, struct aws_response *resp,
                           aws_done_fn done, void *ctx);

/* DescribeTargetHealth of a target group, counted (aws.md section 11):
 * the other targets, those of them healthy, and this instance's state
 * ("" when it is not in the answer). */
struct elbv2_tg_health {
	int others;
	int others_healthy;
	char self_state[32];
};
int elbv2_target_health(struct aws_client *aws, const char *arn, const char *instance_id,
                        struct elbv2_tg_health *out, struct aws_response *resp);

/* DescribeTargetGroups of one target group: its health check settings
 * and load balancers. */
#define ELBV2_MAX_LBS 4
struct elbv2_tg_info {
	int interval_s;
	int timeout_s;
	int healthy_threshold;
	int unhealthy_threshold;
	char lbs[ELBV2_MAX_LBS][512];
	int n_lbs;
};
int elbv2_describe_target_group(struct aws_client *aws, const char *arn, struct elbv2_tg_info *out,
                                struct aws_response *resp);
/* One attribute of a target group (DescribeTargetGroupAttributes, lb
 * false) or a load balancer (DescribeLoadBalancerAttributes, lb true)
 * as an integer; -ENOENT when it is not in the answer. */
int elbv2_attribute(struct aws_client *aws, bool lb, const char *arn, const char *key, long *out,
                    struct aws_response *resp);

#endif
