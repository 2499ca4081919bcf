/* CloudWatch, as the agent uses it: PutMetricData with the form
 * metrics_build_put() made (the metric's periods, metrics.h). */
#ifndef ASG_AGENT_CLOUDWATCH_H
#define ASG_AGENT_CLOUDWATCH_H

struct aws_client;
struct aws_response;
struct strbuf;

/* 0, or the call's -errno (resp says why). */
int cloudwatch_put_metric_data(struct aws_client *aws, const struct strbuf *form,
                               struct aws_response *resp);

#endif
