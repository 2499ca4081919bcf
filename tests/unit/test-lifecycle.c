/* The lifecycle's pure parts: the IMDS item parsers (watch.c), the
 * "lifecycle" configuration and the state file round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "config.h"
#include "drain.h"
#include "state-file.h"
#include "watch.h"

static void test_event_time(void **state)
{
	time_t t;

	(void)state;
	/* The IMDS format, not ISO 8601 (EC2 user guide, scheduled events). */
	assert_int_equal(watch_parse_event_time("21 Jan 2019 09:00:43 GMT", &t), 0);
	assert_int_equal((long long)t, 1548061243LL);
	assert_int_equal(watch_parse_event_time("2019-01-21T09:00:43Z", &t), -EINVAL);
	assert_int_equal(watch_parse_event_time("21 Jan 2019 09:00:43 GMT x", &t), -EINVAL);
}

static void test_scheduled(void **state)
{
	char code[40], id[64];
	time_t t;

	(void)state;
	assert_int_equal(watch_parse_scheduled("[]", code, sizeof(code), id, sizeof(id), &t),
	                 -ENOENT);
	/* The earliest active one; canceled and completed ones never count. */
	assert_int_equal(
	        watch_parse_scheduled(
	                "[{\"Code\":\"system-reboot\",\"EventId\":\"e1\",\"State\":\"canceled\","
	                "\"NotBefore\":\"1 Jan 2020 00:00:00 GMT\"},"
	                "{\"Code\":\"instance-stop\",\"EventId\":\"e2\",\"State\":\"active\","
	                "\"NotBefore\":\"3 Jan 2020 00:00:00 GMT\"},"
	                "{\"Code\":\"instance-retirement\",\"EventId\":\"e3\","
	                "\"NotBefore\":\"2 Jan 2020 00:00:00 GMT\"}]",
	                code, sizeof(code), id, sizeof(id), &t),
	        0);
	assert_string_equal(code, "instance-retirement");
	assert_string_equal(id, "e3");
	assert_int_equal((long long)t, 1577923200LL);
	assert_int_equal(watch_parse_scheduled("{}", code, sizeof(code), id, sizeof(id), &t),
	                 -EINVAL);
}

static void test_spot_rebalance(void **state)
{
	char action[16];
	time_t t;

	(void)state;
	assert_int_equal(watch_parse_spot("{\"action\": \"terminate\", \"time\": "
	                                  "\"2017-09-18T08:22:00Z\"}",
	                                  action, sizeof(action), &t),
	                 0);
	assert_string_equal(action, "terminate");
	assert_int_equal((long long)t, 1505722920LL);
	assert_int_equal(watch_parse_spot("{\"action\": \"stop\"}", action, sizeof(action), &t),
	                 -EINVAL);
	assert_int_equal(watch_parse_rebalance("{\"noticeTime\": \"2020-10-27T08:22:00Z\"}", &t),
	                 0);
	assert_int_equal(watch_parse_rebalance("<html>404</html>", &t), -EINVAL);
}

static void test_config(void **state)
{
	struct agent_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(agent_config_parse(&cfg, "a.json", "{}", err, sizeof(err)), 0);
	assert_int_equal(cfg.lc.watch_interval_ms, 5000);
	assert_int_equal(cfg.lc.launch_timeout_ms, 600000);
	assert_true(cfg.lc.launch_timeout_abandon);
	assert_true(cfg.lc.on_spot_interruption && cfg.lc.on_scheduled_event);
	assert_false(cfg.lc.on_rebalance);
	assert_false(cfg.lc.hooks_configured || cfg.lc.target_groups_configured);
	agent_config_free(&cfg);

	assert_int_equal(
	        agent_config_parse(
	                &cfg, "a.json",
	                "{\"lifecycle\": {\"launch_timeout\": \"1500ms\", "
	                "\"launch_timeout_action\": \"CONTINUE\", \"hooks\": {\"terminating\": "
	                "\"web-term\"}, \"target_groups\": [\"arn:aws:elasticloadbalancing:us-east-"
	                "1:1:targetgroup/t/1\"], \"on_rebalance\": true}}",
	                err, sizeof(err)),
	        0);
	assert_int_equal(cfg.lc.launch_timeout_ms, 1500);
	assert_false(cfg.lc.launch_timeout_abandon);
	assert_true(cfg.lc.hooks_configured);
	assert_null(cfg.lc.launching_hook);
	assert_string_equal(cfg.lc.terminating_hook, "web-term");
	assert_int_equal(cfg.lc.n_target_groups, 1);
	assert_true(cfg.lc.on_rebalance);
	agent_config_free(&cfg);

	assert_int_equal(
	        agent_config_parse(&cfg, "a.json",
	                           "{\"lifecycle\": {\"launch_timeout_action\": \"STOP\"}}", err,
	                           sizeof(err)),
	        -EINVAL);
	assert_non_null(strstr(err, "lifecycle.launch_timeout_action"));
	assert_int_equal(
	        agent_config_parse(&cfg, "a.json",
	                           "{\"lifecycle\": {\"hooks\": {\"launching\": \"a b\"}}}", err,
	                           sizeof(err)),
	        -EINVAL);
	assert_non_null(strstr(err, "lifecycle.hooks.launching"));
	assert_int_equal(agent_config_parse(&cfg, "a.json",
	                                    "{\"lifecycle\": {\"watch_intervall\": 5}}", err,
	                                    sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "watch_intervall"));
	assert_int_equal(agent_config_parse(&cfg, "a.json",
	                                    "{\"lifecycle\": {\"target_groups\": [\"tg-1\"]}}", err,
	                                    sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "lifecycle.target_groups[0]"));
}

static void test_state_file_and_drain_d(void **state)
{
	char dir[] = "/tmp/test-lifecycle-XXXXXX", path[128];
	json_t *doc = NULL;
	char **names;
	int n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(state_file_load(dir, &doc), -ENOENT);
	json_t *w = json_pack("{s:s,s:b}", "state", "draining", "terminate_done", 1);
	assert_int_equal(state_file_save(dir, w), 0);
	json_decref(w);
	assert_int_equal(state_file_load(dir, &doc), 0);
	assert_string_equal(json_string_value(json_object_get(doc, "state")), "draining");
	json_decref(doc);

	/* run-parts names and order; the state file itself is not executable. */
	const char *files[] = {"20-b", "10-a", "x.sh", "30_c"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs("#!/bin/sh\necho hello from $ASG_X\n", f);
		fclose(f);
		chmod(path, 0755);
	}
	assert_int_equal(drain_d_list(dir, &names, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "10-a");
	assert_string_equal(names[1], "20-b");
	assert_string_equal(names[2], "30_c");
	const char *env[] = {"ASG_X=1", NULL};
	assert_int_equal(drain_d_run(dir, names[0], env, 5000), 0);
	drain_d_free(names, n);
	snprintf(path, sizeof(path), "%s/40-slow", dir);
	FILE *f = fopen(path, "w");
	fputs("#!/bin/sh\nsleep 5\n", f);
	fclose(f);
	chmod(path, 0755);
	assert_int_equal(drain_d_run(dir, "40-slow", NULL, 200), -ETIME);
	snprintf(path, sizeof(path), "%s/50-fail", dir);
	f = fopen(path, "w");
	fputs("#!/bin/sh\nexit 3\n", f);
	fclose(f);
	chmod(path, 0755);
	/* The script exits at once: the timeout only bounds a failure (2 s
	 * ran out under valgrind on a loaded machine). */
	assert_int_equal(drain_d_run(dir, "50-fail", NULL, 30000), 3);
	assert_int_equal(drain_d_list("/nonexistent-drain.d", &names, &n), 0);
	assert_int_equal(n, 0);
	drain_d_free(names, n);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_event_time),
	        cmocka_unit_test(test_scheduled),
	        cmocka_unit_test(test_spot_rebalance),
	        cmocka_unit_test(test_config),
	        cmocka_unit_test(test_state_file_and_drain_d),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
