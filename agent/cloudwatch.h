/* CloudWatch, as the agent uses it: PutMetricData with the form
 * metrics_build_put() made (the metric's periods, metrics.h). */
#ifndef ASG_AGENT_CLOUDWATCH_H
#define ASG_AGENT_CLOUDWATCH_H

#include "aws.h"

/* 0, or the call's -errno (resp says why). */
int cloudwatch_put_metric_data(struct aws_client *aws, const struct strbuf *form,
                               struct aws_response *resp);

/* The same without waiting (aws_query_start). */
int cloudwatch_put_metric_data_start(struct aws_call *q, struct aws_client *aws,
                                     const struct strbuf *form, struct aws_response *resp,
                                     aws_done_fn done, void *ctx);

#endif
