/* The agent's /metrics (status.h): the lifecycle, the CloudWatch metric
 * pipeline, AWS and IMDS calls (counters.h) and the credentials, in the
 * Prometheus text format.  Read from the daemon's own state at scrape
 * time, on its one thread.  Names follow Prometheus' conventions:
 * asg_agent_ prefix, base units in the name, _total for counters;
 * docs/agent.md lists them. */
#include <time.h>

#include "agent.h"
#include "counters.h"
#include "prom.h"
#include "status.h"

static const enum lc_state lifecycle_states[] = {LC_BOOTING, LC_WARMED,   LC_WARMING,
                                                 LC_READY,   LC_DRAINING, LC_DRAINED};

static void write_lifecycle(const struct agent *a, struct prom *p)
{
	const struct agent_counters *c = counters_get();

	prom_family(p, "asg_agent_lifecycle_state", PROM_GAUGE,
	            "1 for the lifecycle state the agent is in, 0 for the others.");
	for (size_t i = 0; i < sizeof(lifecycle_states) / sizeof(lifecycle_states[0]); i++)
		prom_sample(p,
		            (const char *const[]){"state",
		                                  lifecycle_state_name(lifecycle_states[i]), NULL},
		            a->lc.state == lifecycle_states[i]);
	prom_family(p, "asg_agent_lifecycle_hooks_completed_total", PROM_COUNTER,
	            "CompleteLifecycleAction calls AWS accepted, by result.");
	prom_sample_u64(p, (const char *const[]){"result", "CONTINUE", NULL},
	                c->hooks_completed[0]);
	prom_sample_u64(p, (const char *const[]){"result", "ABANDON", NULL}, c->hooks_completed[1]);
}

static void write_publishing(const struct agent *a, struct prom *p)
{
	const struct metrics *m = &a->metrics;

	prom_single_u64(p, "asg_agent_metric_periods_published_total", PROM_COUNTER,
	                "Metric periods CloudWatch accepted.", m->published);
	prom_single_u64(p, "asg_agent_metric_periods_failed_total", PROM_COUNTER,
	                "Metric periods in PutMetricData calls that failed (a period kept and sent "
	                "again counts at each failure).",
	                m->failed);
	prom_single_u64(p, "asg_agent_metric_periods_dropped_total", PROM_COUNTER,
	                "Metric periods dropped: the backlog was full, or CloudWatch refused them "
	                "for good.",
	                m->dropped);
	prom_single_u64(p, "asg_agent_metric_backlog_periods", PROM_GAUGE,
	                "Closed metric periods waiting to be published.", m->q_len);
	prom_single(p, "asg_agent_metric_publishing", PROM_GAUGE,
	            "1 while closed periods are published, 0 while they are discarded (booting, "
	            "warming, draining).",
	            m->publishing);
	/* Both absent until the first accepted publish. */
	prom_family(p, "asg_agent_metric_last_publish_timestamp_seconds", PROM_GAUGE,
	            "Unix time of the last PutMetricData call CloudWatch accepted.");
	if (m->last_success_at)
		prom_sample(p, NULL, (double)m->last_success_at);
	prom_family(p, "asg_agent_metric_seconds_since_last_publish", PROM_GAUGE,
	            "Seconds since the last PutMetricData call CloudWatch accepted.");
	if (m->last_success_at) {
		time_t now = time(NULL);
		prom_sample(p, NULL,
		            now > m->last_success_at ? (double)(now - m->last_success_at) : 0);
	}
}

static void write_calls(struct prom *p)
{
	const struct agent_counters *c = counters_get();

	prom_family(p, "asg_agent_aws_requests_total", PROM_COUNTER,
	            "AWS API calls by service, action and final outcome (after retries).");
	for (size_t i = 0; i < c->n_aws; i++)
		for (int o = 0; o < AWS_OUTCOMES; o++)
			prom_sample_u64(p,
			                (const char *const[]){"service",
			                                      aws_service_name(c->aws[i].service),
			                                      "action", c->aws[i].action, "outcome",
			                                      counters_aws_outcome_name(o), NULL},
			                c->aws[i].outcomes[o]);
	prom_family(p, "asg_agent_aws_retries_total", PROM_COUNTER,
	            "AWS API attempts beyond the first, by service and action.");
	for (size_t i = 0; i < c->n_aws; i++)
		prom_sample_u64(p,
		                (const char *const[]){"service",
		                                      aws_service_name(c->aws[i].service), "action",
		                                      c->aws[i].action, NULL},
		                c->aws[i].retries);
	prom_family(p, "asg_agent_imds_errors_total", PROM_COUNTER,
	            "IMDS reads that failed after their retries, by reason (a 404 is an "
	            "answer, not an error).");
	for (int k = 0; k < IMDS_ERRORS; k++)
		prom_sample_u64(p,
		                (const char *const[]){"reason", counters_imds_error_name(k), NULL},
		                c->imds_errors[k]);
}

void status_metrics_write(const struct agent *a, struct prom *p)
{
	write_lifecycle(a, p);
	write_publishing(a, p);
	write_calls(p);
	prom_family(p, "asg_agent_credentials_expiry_timestamp_seconds", PROM_GAUGE,
	            "Unix time the current AWS credentials expire (absent for keys that do not "
	            "expire, or without credentials).");
	if (a->creds.current.expiration)
		prom_sample(p, NULL, (double)a->creds.current.expiration);
}
