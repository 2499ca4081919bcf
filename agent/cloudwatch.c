/* CloudWatch over the Query client (see cloudwatch.h). */
#include "aws.h"
#include "cloudwatch.h"

int cloudwatch_put_metric_data(struct aws_client *aws, const struct strbuf *form,
                               struct aws_response *resp)
{
	return aws_query(aws, AWS_CLOUDWATCH, "PutMetricData", form, resp);
}

int cloudwatch_put_metric_data_start(struct aws_call *q, struct aws_client *aws,
                                     const struct strbuf *form, struct aws_response *resp,
                                     aws_done_fn done, void *ctx)
{
	return aws_query_start(q, aws, AWS_CLOUDWATCH, "PutMetricData", form, resp, done, ctx);
}
