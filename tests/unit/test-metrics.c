/* cpu.c, memory.c and metrics.c: utilisation from a known /proc/stat
 * sequence, period aggregation, the backlog, and the PutMetricData form. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cpu.h"
#include "memory.h"
#include "metrics.h"
#include "random.h"

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/test-metrics-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_cpu_times(void **state)
{
	/* user nice system idle iowait irq softirq steal guest guest_nice */
	char *a = write_temp("cpu  100 10 50 800 40 5 5 10 30 3\ncpu0 1 2 3 4\nintr 1\n");
	char *b = write_temp("cpu  160 10 70 880 80 5 15 20 60 3\n");
	struct cpu_times t0, t1;
	double pct;

	assert_int_equal(cpu_read_times(a, &t0), 0);
	assert_int_equal(t0.busy, 100 + 10 + 50 + 5 + 5 + 10); /* guest not added */
	assert_int_equal(t0.idle, 800 + 40);
	assert_int_equal(cpu_read_times(b, &t1), 0);
	/* busy +100 (60 user, 20 system, 10 softirq, 10 steal), idle +120 */
	assert_int_equal(cpu_utilisation(&t0, &t1, &pct), 0);
	assert_true(pct > 45.4545 && pct < 45.4546);
	assert_int_equal(cpu_utilisation(&t1, &t1, &pct), -ERANGE);
	assert_int_equal(cpu_utilisation(&t1, &t0, &pct), -ERANGE);
	unlink(a);
	unlink(b);
	free(a);
	free(b);
	assert_int_equal(cpu_read_times("/nonexistent/stat", &t0), -ENOENT);
}

static void test_memory(void **state)
{
	char *p = write_temp("MemTotal:       1000 kB\nMemFree:         100 kB\n"
	                     "MemAvailable:    250 kB\n");
	double pct;

	assert_int_equal(memory_used_percent(p, &pct), 0);
	assert_true(pct > 74.999 && pct < 75.001);
	unlink(p);
	free(p);
}

static struct metrics_settings settings(int64_t period_ms, size_t backlog)
{
	struct metrics_settings s = {
	        .namespace = "ASGAgent",
	        .names = {"CPUUtilization", "MemoryUtilization", "DiskUtilization"},
	        .enabled = {true, true, false},
	        .period_ms = period_ms,
	        .backlog_max = backlog,
	};
	return s;
}

static void test_aggregation(void **state)
{
	struct metrics_settings s = settings(60000, 10);
	struct metrics m;
	const struct metric_period *p;

	assert_int_equal(metrics_init(&m, &s), 0);
	metrics_add_sample(&m, 120000 + 1000, METRIC_CPU, 10, 1);
	metrics_add_sample(&m, 120000 + 2000, METRIC_CPU, 30, 1);
	metrics_add_sample(&m, 120000 + 5000, METRIC_CPU, 20, 3);  /* a late tick */
	metrics_add_sample(&m, 120000 + 5000, METRIC_DISK, 50, 1); /* disabled */
	metrics_add_sample(&m, 120000 + 5000, METRIC_MEMORY, 40, 1);
	assert_false(metrics_roll(&m, 179999));
	assert_int_equal(metrics_backlog(&m), 0);
	assert_true(metrics_roll(&m, 180000));
	assert_int_equal(metrics_backlog(&m), 1);
	p = metrics_queued(&m, 0);
	assert_int_equal(p->start_ms, 120000);
	assert_true(p->v[METRIC_CPU].count == 5);
	assert_true(p->v[METRIC_CPU].sum == 100);
	assert_true(p->v[METRIC_CPU].min == 10);
	assert_true(p->v[METRIC_CPU].max == 30);
	assert_true(p->v[METRIC_DISK].count == 0);
	assert_true(p->v[METRIC_MEMORY].count == 1);
	/* A sample in a later period closes the open one by itself. */
	metrics_add_sample(&m, 200000, METRIC_CPU, 1, 1);
	metrics_add_sample(&m, 250000, METRIC_CPU, 2, 1);
	assert_int_equal(metrics_backlog(&m), 2);
	assert_int_equal(metrics_queued(&m, 1)->start_ms, 180000);
	metrics_free(&m);
}

/* A sample stamped inside the period just closed must not reopen it: the
 * late-tick spread in cmd-run.c reads the monotonic and the wall clock a
 * scheduling delay apart, and once stamped a sample 100 ms before a
 * boundary the roll had already passed; the period went to CloudWatch twice
 * (agent-claims.py at load 47). */
static void test_closed_period_never_reopened(void **state)
{
	struct metrics_settings s = settings(10000, 10);
	struct metrics m;

	assert_int_equal(metrics_init(&m, &s), 0);
	metrics_add_sample(&m, 1000, METRIC_CPU, 5, 1);
	assert_true(metrics_roll(&m, 10050));
	metrics_add_sample(&m, 9950, METRIC_CPU, 7, 1); /* behind the roll */
	metrics_add_sample(&m, 10150, METRIC_CPU, 9, 1);
	metrics_close_current(&m);
	assert_int_equal(metrics_backlog(&m), 2);
	assert_int_equal(metrics_queued(&m, 0)->start_ms, 0);
	assert_int_equal(metrics_queued(&m, 1)->start_ms, 10000);
	assert_true(metrics_queued(&m, 1)->v[METRIC_CPU].count == 2);
	/* A wall clock stepped back by more than a period is followed. */
	metrics_add_sample(&m, 30000, METRIC_CPU, 1, 1);
	metrics_add_sample(&m, 5000, METRIC_CPU, 1, 1);
	metrics_close_current(&m);
	assert_int_equal(metrics_queued(&m, 3)->start_ms, 0);
	metrics_free(&m);
}

static void test_publishing_off_drops_periods(void **state)
{
	struct metrics_settings s = settings(10000, 10);
	struct metrics m;

	assert_int_equal(metrics_init(&m, &s), 0);
	metrics_set_publishing(&m, false);
	metrics_add_sample(&m, 1000, METRIC_CPU, 5, 1);
	metrics_roll(&m, 10000);
	assert_int_equal(metrics_backlog(&m), 0);
	metrics_set_publishing(&m, true);
	metrics_add_sample(&m, 11000, METRIC_CPU, 5, 1);
	metrics_close_current(&m);
	assert_int_equal(metrics_backlog(&m), 1);
	metrics_free(&m);
}

static void test_backlog_drops_oldest(void **state)
{
	struct metrics_settings s = settings(10000, 3);
	struct metrics m;

	assert_int_equal(metrics_init(&m, &s), 0);
	for (int i = 0; i < 5; i++)
		metrics_add_sample(&m, (int64_t)i * 10000 + 1, METRIC_CPU, i, 1);
	metrics_close_current(&m);
	assert_int_equal(metrics_backlog(&m), 3);
	assert_int_equal(m.dropped, 2);
	assert_true(m.overflowing);
	assert_int_equal(metrics_queued(&m, 0)->start_ms, 20000);
	assert_int_equal(metrics_queued(&m, 2)->start_ms, 40000);
	metrics_free(&m);
}

static void test_put_form(void **state)
{
	struct metrics_settings s = settings(10000, 10);
	struct strbuf form = STRBUF_INIT;
	struct metrics m;

	assert_int_equal(metrics_init(&m, &s), 0);
	metrics_add_sample(&m, 1700000000000 + 1, METRIC_CPU, 12.5, 1);
	metrics_add_sample(&m, 1700000000000 + 2, METRIC_CPU, 0.1, 1);
	metrics_close_current(&m);
	/* No ASG known and no per-instance dimension: nothing to send. */
	assert_int_equal(metrics_build_put(&m, 1, &form), 0);
	snprintf(m.asg_name, sizeof(m.asg_name), "web asg");
	assert_int_equal(metrics_build_put(&m, 1, &form), 1);
	assert_string_equal(strbuf_str(&form),
	                    "Namespace=ASGAgent"
	                    "&MetricData.member.1.MetricName=CPUUtilization"
	                    "&MetricData.member.1.Dimensions.member.1.Name=AutoScalingGroupName"
	                    "&MetricData.member.1.Dimensions.member.1.Value=web%20asg"
	                    "&MetricData.member.1.Timestamp=2023-11-14T22%3A13%3A20.000Z"
	                    "&MetricData.member.1.Unit=Percent"
	                    "&MetricData.member.1.StorageResolution=1"
	                    "&MetricData.member.1.StatisticValues.SampleCount=2"
	                    "&MetricData.member.1.StatisticValues.Sum=12.6"
	                    "&MetricData.member.1.StatisticValues.Minimum=0.1"
	                    "&MetricData.member.1.StatisticValues.Maximum=12.5");
	strbuf_free(&form);
	metrics_free(&m);
}

static void test_jitter_bounds(void **state)
{
	/* Default: a quarter period, at most 15 s. */
	assert_int_equal(metrics_publish_jitter_ms(1000, -1, 0.0), 0);
	assert_int_equal(metrics_publish_jitter_ms(1000, -1, 0.9999999), 250);
	assert_int_equal(metrics_publish_jitter_ms(10000, -1, 0.9999999), 2500);
	assert_int_equal(metrics_publish_jitter_ms(30000, -1, 0.9999999), 7500);
	assert_int_equal(metrics_publish_jitter_ms(60000, -1, 0.9999999), 15000);
	assert_int_equal(metrics_publish_jitter_ms(60000, -1, 0.5), 7500);
	/* Configured: publish_jitter, 0 turns it off. */
	assert_int_equal(metrics_publish_jitter_ms(60000, 0, 0.9), 0);
	assert_int_equal(metrics_publish_jitter_ms(60000, 5000, 0.9999999), 5000);
	assert_int_equal(metrics_publish_jitter_ms(60000, 5000, 1.0), 5000);
}

/* A fleet's publish offsets are spread evenly over the jitter window: 20000
 * instances with the real generator over a 60 s period, ten 1.5 s buckets of
 * 2000 each expected.  The bounds are 9 standard deviations wide (one bucket
 * has sd ~42), so this fails only for a skewed or stuck generator (a
 * constant draw, or a modulo that favours low values), never by chance. */
static void test_jitter_spread(void **state)
{
	enum { N = 20000, BUCKETS = 10 };
	unsigned count[BUCKETS] = {0};
	double sum = 0;

	for (int i = 0; i < N; i++) {
		uint64_t j = metrics_publish_jitter_ms(60000, -1, random_unit());

		assert_true(j <= 15000);
		count[j * BUCKETS / 15001]++;
		sum += (double)j;
	}
	for (int b = 0; b < BUCKETS; b++) {
		assert_true(count[b] > 1600);
		assert_true(count[b] < 2400);
	}
	/* Mean 7500 ms; its sd over 20000 draws is ~31 ms. */
	assert_true(sum / N > 7200 && sum / N < 7800);
}

static void test_format_double(void **state)
{
	char buf[40];

	metrics_format_double(0.1 + 0.2, buf, sizeof(buf));
	assert_true(strtod(buf, NULL) == 0.1 + 0.2);
	metrics_format_double(60, buf, sizeof(buf));
	assert_string_equal(buf, "60");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cpu_times),
	        cmocka_unit_test(test_memory),
	        cmocka_unit_test(test_aggregation),
	        cmocka_unit_test(test_publishing_off_drops_periods),
	        cmocka_unit_test(test_backlog_drops_oldest),
	        cmocka_unit_test(test_put_form),
	        cmocka_unit_test(test_format_double),
	        cmocka_unit_test(test_jitter_bounds),
	        cmocka_unit_test(test_closed_period_never_reopened),
	        cmocka_unit_test(test_jitter_spread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
