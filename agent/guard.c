/* The cascade guard (see guard.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "autoscaling.h"
#include "aws.h"
#include "guard.h"
#include "strbuf.h"

int guard_decide(const struct guard_tg *tgs, int n, char *why, size_t len)
{
	for (int i = 0; i < n; i++) {
		const struct elbv2_tg_health *h = &tgs[i].h;

		if (h->others_healthy > 0)
			continue;
		format_into(why, len,
		            "target group %s would have no other healthy target (%d other "
		            "target(s), %d healthy; this instance: %s): an ALB whose targets are "
		            "all unhealthy fails open and routes to all of them anyway, this one "
		            "included",
		            tgs[i].arn, h->others, h->others_healthy,
		            h->self_state[0] ? h->self_state : "not registered");
		return -EBUSY;
	}
	format_into(why, len, "%s", "");
	return 0;
}

static int cannot(char *why, size_t len, int r, const char *detail)
{
	format_into(why, len, "cannot ask AWS whether another target is healthy: %s", detail);
	return r;
}

int guard_check(struct agent *a, char *why, size_t len)
{
	const struct lifecycle_config *lcfg = &a->cfg->lc;
	struct guard_tg tgs[LIFECYCLE_MAX_TARGET_GROUPS];
	char found[LIFECYCLE_MAX_TARGET_GROUPS][512];
	struct aws_response resp;
	int n = 0, r;

	if (a->ident.imds != IMDS_OK)
		return cannot(why, len, -ENXIO,
		              "no instance identity (the instance metadata is unreachable)");
	if (!a->aws_ready)
		return cannot(why, len, -ENXIO, "no region");
	if (lcfg->target_groups_configured) {
		for (int i = 0; i < lcfg->n_target_groups; i++)
			format_into(found[n++], sizeof(found[0]), "%s", lcfg->target_groups[i]);
	} else {
		if (!a->ident.asg_source)
			return cannot(why, len, -ENXIO,
			              a->last_error[0] ? a->last_error
			                               : "the Auto Scaling group is not known");
		r = autoscaling_describe_target_groups(&a->aws, a->ident.asg_name, found,
		                                       LIFECYCLE_MAX_TARGET_GROUPS, &n, &resp);
		if (r < 0) {
			char text[700];
			format_into(text, sizeof(text), "DescribeAutoScalingGroups: %s%s%s",
			            resp.code, resp.code[0] ? ": " : "",
			            resp.message[0] ? resp.message : strerror(-r));
			aws_response_free(&resp);
			return cannot(why, len, r, text);
		}
		aws_response_free(&resp);
	}
	for (int i = 0; i < n; i++) {
		tgs[i].arn = found[i];
		r = elbv2_target_health(&a->aws, found[i], a->ident.id.instance_id, &tgs[i].h,
		                        &resp);
		if (r < 0) {
			char text[700];
			format_into(text, sizeof(text), "DescribeTargetHealth of %s: %s%s%s",
			            found[i], resp.code, resp.code[0] ? ": " : "",
			            resp.message[0] ? resp.message : strerror(-r));
			aws_response_free(&resp);
			return cannot(why, len, r, text);
		}
		aws_response_free(&resp);
	}
	/* tgs[].arn points into found, alive until here. */
	return guard_decide(tgs, n, why, len);
}
