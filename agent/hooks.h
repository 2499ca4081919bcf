/* Auto Scaling lifecycle hooks and ELB target groups, as the instance
 * itself sees them (aws.md section 2): which hooks the group has
 * (DescribeLifecycleHooks), which target groups (DescribeAutoScalingGroups
 * TargetGroupARNs), and the calls that act on them.  Hooks are completed
 * with the InstanceId: the action token only comes in the SNS/SQS/
 * EventBridge notification, never to the instance. */
#ifndef ASG_AGENT_HOOKS_H
#define ASG_AGENT_HOOKS_H

#include <stdbool.h>

#include "config.h"

struct aws_client;
struct aws_response;

#define HOOKS_MAX 8

struct hook {
	char name[256];
	bool launching; /* autoscaling:EC2_INSTANCE_LAUNCHING, else TERMINATING */
	int heartbeat_timeout_s;
	bool default_abandon;
};

struct hook_set {
	struct hook h[HOOKS_MAX];
	int n;
};

/* DescribeLifecycleHooks for the group.  0, or the call's -errno (resp
 * says why). */
int hooks_describe(struct aws_client *aws, const char *group, struct hook_set *out,
                   struct aws_response *resp);
/* DescribeAutoScalingGroups: the group's TargetGroupARNs. */
int hooks_describe_target_groups(struct aws_client *aws, const char *group,
                                 char arns[][512], int max, int *n, struct aws_response *resp);
/* CompleteLifecycleAction with InstanceId.  0 done; -ENOENT when AWS
 * says "No active Lifecycle Action found" (nothing pending: the hook was
 * added after launch, already completed, or timed out); other -errno. */
int hooks_complete(struct aws_client *aws, const char *group, const char *hook,
                   const char *instance_id, bool abandon, struct aws_response *resp);
/* RecordLifecycleActionHeartbeat with InstanceId; same errors. */
int hooks_heartbeat(struct aws_client *aws, const char *group, const char *hook,
                    const char *instance_id, struct aws_response *resp);
/* DeregisterTargets / RegisterTargets of this instance (its Id only: the
 * group registers instances on the target group's port). */
int hooks_set_target(struct aws_client *aws, const char *arn, const char *instance_id,
                     bool registered, struct aws_response *resp);

#endif
