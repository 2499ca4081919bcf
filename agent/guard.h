/* The cascade guard of `asg-agent drain` and `asg-agent standby enter`
 * (issue 12 section 4): draining this instance must not leave any of its
 * target groups without another healthy target.  An ALB whose targets
 * are all unhealthy fails open and routes to all of them anyway (aws.md
 * section 1), so such a drain protects nothing and hides the outage. */
#ifndef ASG_AGENT_GUARD_H
#define ASG_AGENT_GUARD_H

#include <stddef.h>

#include "elbv2.h"

struct agent;

struct guard_tg {
	const char *arn;
	struct elbv2_tg_health h;
};

/* Pure: 0 when every target group keeps another healthy target;
 * -EBUSY with why (which target group, how many healthy) otherwise. */
int guard_decide(const struct guard_tg *tgs, int n, char *why, size_t len);

/* Asks AWS (DescribeTargetHealth of each of the instance's target
 * groups, from the configuration or the group).  0: safe (or no target
 * group); -EBUSY: refused, why says which; other -errno: AWS could not
 * be asked (no instance identity, region, credentials or group, or the
 * call failed), why says so. */
int guard_check(struct agent *a, char *why, size_t len);

#endif
