/* Auto Scaling, as the instance itself uses it (aws.md section 2): its
 * group and LifecycleState (DescribeAutoScalingInstances), which hooks the group has
 * (DescribeLifecycleHooks), which target groups (DescribeAutoScalingGroups
 * TargetGroupARNs), and the calls that act on them.  Hooks are completed
 * with the InstanceId: the action token only comes in the SNS/SQS/
 * EventBridge notification, never to the instance. */
#ifndef ASG_AGENT_AUTOSCALING_H
#define ASG_AGENT_AUTOSCALING_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#include "aws.h"

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
int autoscaling_describe_lifecycle_hooks(struct aws_client *aws, const char *group,
                                         struct hook_set *out, struct aws_response *resp);
/* DescribeAutoScalingGroups: the group's TargetGroupARNs. */
int autoscaling_describe_target_groups(struct aws_client *aws, const char *group, char arns[][512],
                                       int max, int *n, struct aws_response *resp);
/* CompleteLifecycleAction with InstanceId.  0 done; -ENOENT when AWS
 * says "No active Lifecycle Action found" (nothing pending: the hook was
 * added after launch, already completed, or timed out); other -errno. */
int autoscaling_complete_lifecycle_action(struct aws_client *aws, const char *group,
                                          const char *hook, const char *instance_id, bool abandon,
                                          struct aws_response *resp);
/* RecordLifecycleActionHeartbeat with InstanceId; same errors. */
int autoscaling_record_heartbeat(struct aws_client *aws, const char *group, const char *hook,
                                 const char *instance_id, struct aws_response *resp);
/* DescribeAutoScalingInstances for one instance: its group's name and
 * its LifecycleState (state may be NULL).  -ENOENT when in no group. */
int autoscaling_describe_instance(struct aws_client *aws, const char *instance_id, char *asg,
                                  size_t asg_len, char *state, size_t state_len,
                                  struct aws_response *resp);

/* The same calls without waiting (aws_query_start): the caller's done
 * gets aws_query()'s r and resp, and the *_result functions below turn
 * them into what the blocking functions return. */
int autoscaling_describe_lifecycle_hooks_start(struct aws_call *q, struct aws_client *aws,
                                               const char *group, struct aws_response *resp,
                                               aws_done_fn done, void *ctx);
int autoscaling_lifecycle_hooks_result(int r, const struct aws_response *resp,
                                       struct hook_set *out);
int autoscaling_describe_target_groups_start(struct aws_call *q, struct aws_client *aws,
                                             const char *group, struct aws_response *resp,
                                             aws_done_fn done, void *ctx);
int autoscaling_target_groups_result(int r, const struct aws_response *resp, char arns[][512],
                                     int max, int *n);
int autoscaling_complete_lifecycle_action_start(struct aws_call *q, struct aws_client *aws,
                                                const char *group, const char *hook,
                                                const char *instance_id, bool abandon,
                                                struct aws_response *resp, aws_done_fn done,
                                                void *ctx);
int autoscaling_record_heartbeat_start(struct aws_call *q, struct aws_client *aws,
                                       const char *group, const char *hook, const char *instance_id,
                                       struct aws_response *resp, aws_done_fn done, void *ctx);
/* For both hook calls: -ENOENT for "No active Lifecycle Action found". */
int autoscaling_hook_call_result(int r, const struct aws_response *resp);
int autoscaling_describe_instance_start(struct aws_call *q, struct aws_client *aws,
                                        const char *instance_id, struct aws_response *resp,
                                        aws_done_fn done, void *ctx);
int autoscaling_instance_result(int r, const struct aws_response *resp, char *asg, size_t asg_len,
                                char *state, size_t state_len);
/* DescribeAutoScalingInstances for one instance, in full. */
struct asg_instance {
	char group[256];
	char state[64];  /* LifecycleState: InService, Standby, Pending... */
	char health[32]; /* HEALTHY or UNHEALTHY */
	bool protected_from_scale_in;
};
/* 0, -ENOENT when in no group, or the call's -errno. */
int autoscaling_describe_instance_info(struct aws_client *aws, const char *instance_id,
                                       struct asg_instance *out, struct aws_response *resp);
/* DescribeAutoScalingGroups: the group's HealthCheckType ("EC2", "ELB",
 * "EC2,ELB"...).  -ENOENT when there is no such group. */
int autoscaling_describe_health_check_type(struct aws_client *aws, const char *group, char *type,
                                           size_t len, struct aws_response *resp);
/* EnterStandby for this instance (aws.md section 11).  With decrement
 * the group's desired capacity goes down by one (AWS refuses with a
 * ValidationError when that would go below MinSize); without, a
 * replacement is launched. */
int autoscaling_enter_standby(struct aws_client *aws, const char *group, const char *instance_id,
                              bool decrement, struct aws_response *resp);
/* ExitStandby for this instance: Pending, then InService; desired + 1. */
int autoscaling_exit_standby(struct aws_client *aws, const char *group, const char *instance_id,
                             struct aws_response *resp);
/* SetInstanceProtection (scale-in protection) for this instance. */
int autoscaling_set_instance_protection(struct aws_client *aws, const char *group,
                                        const char *instance_id, bool protect,
                                        struct aws_response *resp);

#endif
