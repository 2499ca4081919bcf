/* Elastic Load Balancing v2, as the instance itself uses it: taking
 * itself out of (and back into) a target group when an interruption
 * (Spot, a scheduled event, a rebalance recommendation) drains it, which
 * the load balancer does not learn from Auto Scaling. */
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

#endif
