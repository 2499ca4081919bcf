/* config.c: defaults, every key's validation, errors as
 * file:line:col: key: reason, and the test-only period override. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

static void expect_error(const char *text, const char *want)
{
	struct agent_config cfg;
	char err[1024] = "";

	assert_int_equal(agent_config_parse(&cfg, "agent.json", text, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want)) {
		print_error("error %s does not contain %s\n", err, want);
		fail();
	}
}

static void test_defaults(void **state)
{
	struct agent_config cfg;
	char err[1024];

	unsetenv("ASG_AGENT_TEST_PERIOD_MS");
	assert_int_equal(agent_config_parse(&cfg, "agent.json", "{}", err, sizeof(err)), 0);
	assert_string_equal(cfg.namespace, "ASGAgent");
	assert_string_equal(cfg.cpu_metric_name, "CPUUtilization");
	assert_int_equal(cfg.period_ms, 60000);
	assert_int_equal(cfg.sample_interval_ms, 1000);
	assert_int_equal(cfg.backlog_ms, 7200000);
	assert_false(cfg.memory_metric);
	assert_null(cfg.region);
	assert_string_equal(cfg.status_socket, "/run/asg-agent/agent.sock");
	assert_string_equal(cfg.health_socket, "/run/asg-agent/health.sock");
	assert_null(cfg.metrics_listen); /* off */
	agent_config_free(&cfg);
}

static void test_full(void **state)
{
	static const char text[] =
	        "{\"region\": \"eu-west-1\", \"auto_scaling_group_name\": \"web\",\n"
	        " \"period\": 10, \"sample_interval\": \"500ms\", \"namespace\": \"Custom/App\",\n"
	        " \"memory_metric\": true, \"disk_metric\": true, \"disk_path\": \"/var\",\n"
	        " \"endpoint_urls\": {\"cloudwatch\": \"http://127.0.0.1:1\"},\n"
	        " \"backlog\": \"30m\", \"publish_jitter\": \"2s\", \"imds_token_ttl\": 300,\n"
	        " \"metrics_listen\": \"[::1]:9102\"}";
	struct agent_config cfg;
	struct aws_endpoint_config eps;
	char err[1024];

	assert_int_equal(agent_config_parse(&cfg, "agent.json", text, err, sizeof(err)), 0);
	assert_string_equal(cfg.region, "eu-west-1");
	assert_int_equal(cfg.period_ms, 10000);
	assert_int_equal(cfg.sample_interval_ms, 500);
	assert_int_equal(cfg.backlog_ms, 1800000);
	assert_int_equal(cfg.publish_jitter_ms, 2000);
	assert_int_equal(cfg.imds_token_ttl_s, 300);
	assert_true(cfg.memory_metric && cfg.disk_metric);
	assert_string_equal(cfg.metrics_listen, "[::1]:9102");
	agent_config_endpoints(&cfg, &eps);
	assert_string_equal(eps.service[AWS_CLOUDWATCH], "http://127.0.0.1:1");
	assert_null(eps.service[AWS_AUTO_SCALING]);
	agent_config_free(&cfg);
}

static void test_errors(void **state)
{
	unsetenv("ASG_AGENT_TEST_PERIOD_MS");
	expect_error("{\n  \"perod\": 10\n}", "agent.json:2:3: perod: unknown key");
	expect_error("{\"period\": 15}", "period: must be 10, 30 or 60");
	expect_error("{\"metrics_listen\": \"9102\"}", "metrics_listen: expected \"ADDR:PORT");
	expect_error("{\"metrics_listen\": \"\"}", "metrics_listen: must not be empty");
	expect_error("{\"period\": \"60\"}", "period: expected an integer");
	expect_error("{\"namespace\": \"AWS/EC2\"}", "namespace: must not start with");
	expect_error("{\"namespace\": \"\"}", "namespace: must not be empty");
	expect_error("{\"endpoint_url\": \"ftp://x\"}", "endpoint_url: expected an http");
	expect_error("{\"endpoint_urls\": {\"cloudwach\": \"http://x\"}}",
	             "endpoint_urls.cloudwach: unknown key");
	expect_error("{\"sample_interval\": \"10ms\"}",
	             "sample_interval: duration 10ms is out of range");
	expect_error("{\"period\": 10, \"sample_interval\": \"20s\"}",
	             "sample_interval: must not be longer than the period");
	expect_error("{\"imds_token_ttl\": 0}", "imds_token_ttl: 0 is out of range");
	expect_error("{\"log_level\": \"trace\"}", "log_level: must be");
	expect_error("{\"memory_metric\": 1}", "memory_metric: expected true or false");
	expect_error("[1]", "top level must be a JSON object");
	expect_error("{\"region\": \"x\",}", "agent.json:1:");
}

static void test_test_period(void **state)
{
	struct agent_config cfg;
	char err[1024];

	setenv("ASG_AGENT_TEST_PERIOD_MS", "1000", 1);
	assert_int_equal(agent_config_parse(&cfg, "agent.json", "{\"sample_interval\": \"100ms\"}",
	                                    err, sizeof(err)),
	                 0);
	assert_int_equal(cfg.period_ms, 1000);
	agent_config_free(&cfg);
	setenv("ASG_AGENT_TEST_PERIOD_MS", "5", 1);
	expect_error("{}", "ASG_AGENT_TEST_PERIOD_MS must be");
	unsetenv("ASG_AGENT_TEST_PERIOD_MS");
}

static void test_missing_explicit_file(void **state)
{
	struct agent_config cfg;
	char err[1024];

	assert_int_equal(agent_config_load(&cfg, "/nonexistent/agent.json", err, sizeof(err)),
	                 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/agent.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_full),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_test_period),
	        cmocka_unit_test(test_missing_explicit_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
