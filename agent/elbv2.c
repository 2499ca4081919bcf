/* ELBv2 over the Query client (see elbv2.h). */
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
