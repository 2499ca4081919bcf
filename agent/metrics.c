/* Metric aggregation, backlog and PutMetricData (see metrics.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "cleanup.h"
#include "cloudwatch.h"
#include "log.h"
#include "metrics.h"
#include "timeutil.h"

/* PutMetricData allows 1000 metrics and 1 MB per request (CloudWatch
 * quotas); 20 periods of at most 6 data points each stay far below. */
#define METRICS_PERIODS_PER_CALL 20
/* Calls per publish moment while catching up, so a long backlog cannot
 * hold the loop for long; the rest goes at the next period. */
#define METRICS_CALLS_PER_PUBLISH 10

/* CloudWatch rejects values outside +-2^360 and NaN/Infinity. */
static bool value_ok(double v)
{
	return isfinite(v) && fabs(v) < 1e100;
}

int metrics_init(struct metrics *m, const struct metrics_settings *s)
{
	memset(m, 0, sizeof(*m));
	m->s = *s;
	if (s->period_ms <= 0 || !s->backlog_max)
		return -EINVAL;
	m->q_cap = s->backlog_max;
	m->queue = calloc(m->q_cap, sizeof(*m->queue));
	m->publishing = true;
	return m->queue ? 0 : -ENOMEM;
}

void metrics_free(struct metrics *m)
{
	free(m->queue);
	m->queue = NULL;
}

uint64_t metrics_publish_jitter_ms(long long period_ms, long long configured_ms, double u)
{
	long long max = configured_ms;
	uint64_t v;

	/* Spread a fleet's calls over a quarter period (at most 15 s): a
	 * thousand instances must not call PutMetricData in one second. */
	if (max < 0)
		max = period_ms / 4 < 15000 ? period_ms / 4 : 15000;
	if (max <= 0 || !(u > 0))
		return 0;
	v = (uint64_t)(u * (double)(max + 1));
	return v > (uint64_t)max ? (uint64_t)max : v;
}

void metrics_set_publishing(struct metrics *m, bool on)
{
	m->publishing = on;
}

size_t metrics_backlog(const struct metrics *m)
{
	return m->q_len;
}

const struct metric_period *metrics_queued(const struct metrics *m, size_t i)
{
	return i < m->q_len ? &m->queue[(m->q_head + i) % m->q_cap] : NULL;
}

static bool period_has_data(const struct metric_period *p)
{
	for (int k = 0; k < METRIC_KINDS; k++)
		if (p->v[k].count > 0)
			return true;
	return false;
}

static void enqueue(struct metrics *m, const struct metric_period *p)
{
	if (m->q_len == m->q_cap) {
		char ts[32];
		time_t t = (time_t)(m->queue[m->q_head].start_ms / 1000);

		format_iso8601(t, ts, sizeof(ts));
		/* Full: the oldest goes first, it is the least useful to a
		 * scaling policy and the nearest to CloudWatch's age limit. */
		m->q_head = (m->q_head + 1) % m->q_cap;
		m->q_len--;
		m->dropped++;
		/* Once per episode, not every period: the count is in status. */
		if (!m->overflowing)
			log_warning("metrics backlog full (%zu periods): dropping the oldest, from "
			            "%s on, until a publish succeeds; see `asg-agent status`",
			            m->q_cap, ts);
		m->overflowing = true;
	}
	m->queue[(m->q_head + m->q_len) % m->q_cap] = *p;
	m->q_len++;
}

void metrics_close_current(struct metrics *m)
{
	if (!m->current_open)
		return;
	m->current_open = false;
	m->closed++;
	m->closed_until_ms = m->current.start_ms + m->s.period_ms;
	if (m->publishing && period_has_data(&m->current))
		enqueue(m, &m->current);
}

bool metrics_roll(struct metrics *m, int64_t now_ms)
{
	if (!m->current_open || now_ms < m->current.start_ms + m->s.period_ms)
		return false;
	metrics_close_current(m);
	return true;
}

void metrics_add_sample(struct metrics *m, int64_t now_ms, enum metric_kind k, double value,
                        unsigned weight)
{
	struct stat_values *v;
	int64_t start;

	if (!m->s.enabled[k] || !value_ok(value) || !weight)
		return;
	/* Never reopen the period just closed: it may be queued or sent
	 * already.  A sample stamped inside it (the clocks were read a
	 * scheduling delay apart, or the wall clock stepped back a little)
	 * counts in the next one.  A step back of a period or more is
	 * followed. */
	if (m->closed_until_ms && now_ms < m->closed_until_ms &&
	    now_ms >= m->closed_until_ms - m->s.period_ms)
		now_ms = m->closed_until_ms;
	start = now_ms - (now_ms % m->s.period_ms);
	if (m->current_open && m->current.start_ms != start)
		metrics_close_current(m);
	if (!m->current_open) {
		memset(&m->current, 0, sizeof(m->current));
		m->current.start_ms = start;
		m->current_open = true;
	}
	v = &m->current.v[k];
	if (v->count == 0 || value < v->min)
		v->min = value;
	if (v->count == 0 || value > v->max)
		v->max = value;
	v->count += weight;
	v->sum += value * weight;
}

void metrics_format_double(double v, char *buf, size_t len)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void format_timestamp(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	/* ISO 8601 with milliseconds, as the Query wire wants timestamps. */
	snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

static void add_datum(const struct metrics *m, struct strbuf *form, int n,
                      const struct metric_period *p, enum metric_kind k, bool with_instance)
{
	const struct stat_values *v = &p->v[k];
	char name[96], num[40], ts[40];
	int d = 0;

	format_timestamp(p->start_ms, ts, sizeof(ts));
#define FIELD(suffix) (snprintf(name, sizeof(name), "MetricData.member.%d." suffix, n), name)
	aws_form_add(form, FIELD("MetricName"), m->s.names[k]);
	if (m->asg_name[0]) {
		d++;
		snprintf(name, sizeof(name), "MetricData.member.%d.Dimensions.member.%d.Name", n,
		         d);
		aws_form_add(form, name, "AutoScalingGroupName");
		snprintf(name, sizeof(name), "MetricData.member.%d.Dimensions.member.%d.Value", n,
		         d);
		aws_form_add(form, name, m->asg_name);
	}
	if (with_instance) {
		d++;
		snprintf(name, sizeof(name), "MetricData.member.%d.Dimensions.member.%d.Name", n,
		         d);
		aws_form_add(form, name, "InstanceId");
		snprintf(name, sizeof(name), "MetricData.member.%d.Dimensions.member.%d.Value", n,
		         d);
		aws_form_add(form, name, m->instance_id);
	}
	aws_form_add(form, FIELD("Timestamp"), ts);
	aws_form_add(form, FIELD("Unit"), "Percent");
	/* High resolution only below a minute (periods of 10 or 30 s);
	 * 60 is the default and costs less to alarm on. */
	if (m->s.period_ms < 60000)
		aws_form_add(form, FIELD("StorageResolution"), "1");
	metrics_format_double(v->count, num, sizeof(num));
	aws_form_add(form, FIELD("StatisticValues.SampleCount"), num);
	metrics_format_double(v->sum, num, sizeof(num));
	aws_form_add(form, FIELD("StatisticValues.Sum"), num);
	metrics_format_double(v->min, num, sizeof(num));
	aws_form_add(form, FIELD("StatisticValues.Minimum"), num);
	metrics_format_double(v->max, num, sizeof(num));
	aws_form_add(form, FIELD("StatisticValues.Maximum"), num);
#undef FIELD
}

int metrics_build_put(const struct metrics *m, size_t n, struct strbuf *form)
{
	bool group = m->asg_name[0] != '\0';
	bool instance = m->s.per_instance && m->instance_id[0];
	int members = 0;

	if (!group && !instance)
		return 0; /* no dimension to publish under yet */
	aws_form_add(form, "Namespace", m->s.namespace);
	for (size_t i = 0; i < n && i < m->q_len; i++) {
		const struct metric_period *p = metrics_queued(m, i);

		for (int k = 0; k < METRIC_KINDS; k++) {
			if (p->v[k].count <= 0)
				continue;
			/* The group-level series is the one target tracking
			 * reads: dimensions must equal the policy's exactly. */
			if (group)
				add_datum(m, form, ++members, p, k, false);
			if (instance)
				add_datum(m, form, ++members, p, k, true);
		}
	}
	return strbuf_error(form) ?: members;
}

static void pop(struct metrics *m, size_t n)
{
	if (n > m->q_len)
		n = m->q_len;
	m->q_head = (m->q_head + n) % m->q_cap;
	m->q_len -= n;
	m->published += n;
}

/* A request CloudWatch calls invalid will never be accepted: drop it
 * rather than block the periods behind it. */
static bool error_is_permanent(const char *code)
{
	return !strcmp(code, "InvalidParameterValue") ||
	       !strcmp(code, "InvalidParameterCombination") || !strcmp(code, "MissingParameter") ||
	       !strcmp(code, "ValidationError");
}

/* What a PutMetricData's answer means for the queue: 0 to go on with the
 * next call (accepted, or dropped as never acceptable), or the -errno that
 * ends this publish with the periods kept. */
static int put_result(struct metrics *m, int r, const struct aws_response *resp, size_t n)
{
	m->last_publish_result = r;
	if (r == 0) {
		m->last_success_at = m->last_publish_at;
		pop(m, n);
		m->overflowing = false;
		m->last_error[0] = '\0';
		return 0;
	}
	m->failed += n;
	format_into(m->last_error, sizeof(m->last_error),
	            "PutMetricData failed after %d attempt(s): %s%s%s", resp->attempts, resp->code,
	            resp->code[0] ? ": " : "", resp->message);
	if (r == -EREMOTEIO && error_is_permanent(resp->code)) {
		log_error("%s; dropping %zu period(s) CloudWatch will never accept", m->last_error,
		          n);
		m->dropped += n;
		m->q_head = (m->q_head + n) % m->q_cap;
		m->q_len -= n;
		return 0;
	}
	char code[160], backlog[48];
	const char *fields[] = {code, backlog, "AWS_ACTION=PutMetricData", NULL};

	/* Journal fields, so `journalctl AWS_ERROR_CODE=Throttling` finds them. */
	format_into(code, sizeof(code), "AWS_ERROR_CODE=%s",
	            resp->code[0] ? resp->code : "transport");
	format_into(backlog, sizeof(backlog), "METRICS_BACKLOG=%zu", m->q_len);
	log_fields(LOG_WARNING, fields, "%s; keeping %zu period(s) to send later", m->last_error,
	           m->q_len);
	return r;
}

static void on_put(void *ctx, int r, struct aws_response *resp);

/* Starts the next PutMetricData: 1 when one is in flight, else the
 * publish's result. */
static int next_put(struct metrics_publish *p)
{
	struct metrics *m = p->m;
	int r;

	if (p->calls >= METRICS_CALLS_PER_PUBLISH || !m->q_len)
		return 0;
	p->calls++;
	strbuf_free(&p->form);
	p->n = m->q_len < METRICS_PERIODS_PER_CALL ? m->q_len : METRICS_PERIODS_PER_CALL;
	r = metrics_build_put(m, p->n, &p->form);
	if (r <= 0) {
		if (r == 0)
			format_into(m->last_error, sizeof(m->last_error),
			            "not published: the Auto Scaling group is not known yet");
		return r;
	}
	m->last_publish_at = time(NULL);
	r = cloudwatch_put_metric_data_start(&p->call, p->aws, &p->form, &p->resp, on_put, p);
	return r < 0 ? r : 1;
}

static void on_put(void *ctx, int r, struct aws_response *resp)
{
	struct metrics_publish *p = ctx;

	r = put_result(p->m, r, resp, p->n);
	aws_response_free(resp);
	if (r == 0)
		r = next_put(p);
	if (r == 1)
		return;
	p->busy = false;
	strbuf_free(&p->form);
	p->done(p->ctx, r);
}

int metrics_publish_start(struct metrics_publish *p, struct metrics *m, struct aws_client *aws,
                          void (*done)(void *ctx, int r), void *ctx)
{
	int r;

	memset(p, 0, sizeof(*p));
	p->m = m;
	p->aws = aws;
	p->done = done;
	p->ctx = ctx;
	r = next_put(p);
	if (r == 1)
		p->busy = true;
	else
		strbuf_free(&p->form);
	return r;
}

void metrics_publish_cancel(struct metrics_publish *p)
{
	if (!p->busy)
		return;
	aws_call_cancel(&p->call);
	aws_response_free(&p->resp);
	strbuf_free(&p->form);
	p->busy = false;
}
