/* The scaling metric: per-period aggregation of samples into CloudWatch
 * StatisticValues (SampleCount, Sum, Minimum, Maximum: CloudWatch's
 * Average is then Sum/SampleCount, exact over every sample), a bounded
 * backlog of periods not yet accepted by CloudWatch, and the
 * PutMetricData call that sends them in timestamp order.
 *
 * Periods are aligned to wall-clock multiples of the period, and each
 * data point carries its period's start as Timestamp, so it lands in the
 * same CloudWatch bucket whatever moment it is sent. */
#ifndef ASG_AGENT_METRICS_H
#define ASG_AGENT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "aws.h"
#include "strbuf.h"

enum metric_kind {
	METRIC_CPU,
	METRIC_MEMORY,
	METRIC_DISK,
	METRIC_KINDS,
};

struct stat_values {
	double count; /* 0: no sample this period */
	double sum;
	double min;
	double max;
};

struct metric_period {
	int64_t start_ms; /* Unix time in ms of the period's start */
	struct stat_values v[METRIC_KINDS];
};

struct metrics_settings {
	const char *namespace;           /* not owned */
	const char *names[METRIC_KINDS]; /* not owned */
	bool enabled[METRIC_KINDS];
	int64_t period_ms;
	size_t backlog_max; /* periods kept while CloudWatch is unreachable */
	bool per_instance;  /* also publish with an InstanceId dimension */
};

struct metrics {
	struct metrics_settings s;
	char asg_name[256]; /* the AutoScalingGroupName dimension, "" if unknown */
	char instance_id[32];
	bool publishing; /* false: periods are dropped (booting, draining...) */
	struct metric_period current;
	bool current_open;
	struct metric_period *queue; /* owned ring of closed periods, oldest at head */
	size_t q_cap, q_head, q_len;
	uint64_t closed;         /* periods closed so far, queued or not */
	int64_t closed_until_ms; /* end of the last closed period, 0 if none */
	bool overflowing;        /* the backlog is dropping periods (logged once) */
	uint64_t dropped;        /* periods dropped because the backlog was full */
	uint64_t published;      /* periods CloudWatch accepted */
	uint64_t failed;         /* periods in PutMetricData calls that failed (each time) */
	time_t last_success_at;  /* wall clock of the last accepted call, 0 if none */
	time_t last_publish_at;  /* wall clock of the last attempt, 0 if none */
	int last_publish_result; /* 0 or -errno */
	char last_error[512];
};

int metrics_init(struct metrics *m, const struct metrics_settings *s);

/* This instance's fixed delay after each period ends before it publishes,
 * for a draw u uniform in [0, 1): uniform in [0, bound], where bound is
 * configured_ms, or (configured_ms < 0) a quarter period, at most 15 s. */
uint64_t metrics_publish_jitter_ms(long long period_ms, long long configured_ms, double u);
void metrics_free(struct metrics *m);

/* The lifecycle hook: while off, samples are still taken but closed
 * periods are discarded instead of queued (an instance booting, warming
 * or draining must not pull the group's average). */
void metrics_set_publishing(struct metrics *m, bool on);

/* Adds a sample taken at now_ms (wall clock).  weight > 1 when the sample
 * covers several intervals (the loop was late): it counts as that many
 * samples of its mean, keeping Sum/SampleCount the time-weighted mean. */
void metrics_add_sample(struct metrics *m, int64_t now_ms, enum metric_kind k, double value,
                        unsigned weight);
/* Closes the current period if now_ms is past its end.  Returns true when
 * a period was closed. */
bool metrics_roll(struct metrics *m, int64_t now_ms);
/* Closes the current period even though it is not over (shutdown). */
void metrics_close_current(struct metrics *m);
size_t metrics_backlog(const struct metrics *m);
/* The i-th queued period (0 = oldest). */
const struct metric_period *metrics_queued(const struct metrics *m, size_t i);

/* Builds the PutMetricData form parameters (without Action/Version) for
 * the n oldest queued periods.  Returns the number of MetricData members,
 * 0 when there is nothing to send (e.g. no dimension known yet). */
int metrics_build_put(const struct metrics *m, size_t n, struct strbuf *form);
/* Sends the backlog oldest first, several periods per call, until it is
 * empty or a call fails; a period is removed only once CloudWatch
 * accepted it.  Returns 1 when calls are under way (done(ctx, r) comes
 * from the loop), else the result at once: 0 or -errno.  The result is
 * 0 or the failing call's -errno.  p is the caller's, kept in place
 * until done or metrics_publish_cancel(). */
struct metrics_publish {
	struct metrics *m;      /* not owned */
	struct aws_client *aws; /* not owned */
	void (*done)(void *ctx, int r);
	void *ctx;
	bool busy;
	int calls;
	size_t n;           /* periods in the call in flight */
	struct strbuf form; /* owned */
	struct aws_call call;
	struct aws_response resp;
};

int metrics_publish_start(struct metrics_publish *p, struct metrics *m, struct aws_client *aws,
                          void (*done)(void *ctx, int r), void *ctx);
void metrics_publish_cancel(struct metrics_publish *p);

/* Formats a double in the shortest text that reads back to it. */
void metrics_format_double(double v, char *buf, size_t len);

#endif
