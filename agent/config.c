/* Configuration parsing and validation (see config.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "conf.h"
#include "aws.h"
#include "config.h"
#include "strbuf.h"

static const char *const top_keys[] = {
        "region",
        "auto_scaling_group_name",
        "imds_endpoint",
        "imds_token_ttl",
        "endpoint_url",
        "endpoint_urls",
        "namespace",
        "metric_name",
        "memory_metric",
        "memory_metric_name",
        "disk_metric",
        "disk_metric_name",
        "disk_path",
        "per_instance_metrics",
        "period",
        "sample_interval",
        "backlog",
        "publish_jitter",
        "proc_stat",
        "proc_meminfo",
        "status_socket",
        "health_socket",
        "health_config",
        "log_level",
        "lifecycle",
        "metrics_listen",
        NULL,
};

static const char *const lifecycle_keys[] = {
        "watch_interval", "launch_timeout", "launch_timeout_action", "launch_rise",
        "drain_timeout",  "drain_d",        "drain_d_timeout",       "stop_timeout",
        "hooks",          "target_groups",  "on_spot_interruption",  "on_scheduled_event",
        "on_rebalance",   "state_dir",      "drain_quiet",           NULL,
};

static const char *const hook_keys[] = {"launching", "terminating", NULL};

static const char *const endpoint_keys[] = {
        "cloudwatch",
        "auto_scaling",
        "elastic_load_balancing_v2",
        NULL,
};

static int set_defaults(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->imds_token_ttl_s = 21600;
	cfg->period_ms = 60000;
	cfg->sample_interval_ms = 1000;
	cfg->backlog_ms = 2 * 3600 * 1000;
	cfg->publish_jitter_ms = -1;
	cfg->namespace = strdup("ASGAgent");
	cfg->cpu_metric_name = strdup("CPUUtilization");
	cfg->memory_metric_name = strdup("MemoryUtilization");
	cfg->disk_metric_name = strdup("DiskUtilization");
	cfg->disk_path = strdup("/");
	cfg->proc_stat = strdup("/proc/stat");
	cfg->proc_meminfo = strdup("/proc/meminfo");
	cfg->status_socket = strdup(AGENT_DEFAULT_STATUS_SOCKET);
	cfg->health_socket = strdup(AGENT_DEFAULT_HEALTH_SOCKET);
	cfg->health_config = strdup(AGENT_DEFAULT_HEALTH_CONFIG);
	cfg->log_level = strdup("info");
	cfg->lc.watch_interval_ms = 5000;
	cfg->lc.launch_timeout_ms = 10 * 60 * 1000;
	cfg->lc.launch_timeout_abandon = true;
	cfg->lc.launch_rise = 2;
	cfg->lc.drain_timeout_ms = 60 * 1000;
	/* ALB nodes go on sending "for a few seconds" after a deregistration
	 * (kubernetes-sigs/aws-load-balancer-controller#1064). */
	cfg->lc.drain_quiet_ms = 5 * 1000;
	cfg->lc.drain_d = strdup(AGENT_DEFAULT_DRAIN_D);
	cfg->lc.drain_d_timeout_ms = 30 * 1000;
	/* systemd's DefaultTimeoutStopSec, and the packaged unit's value. */
	cfg->lc.stop_timeout_ms = 90 * 1000;
	cfg->lc.on_spot_interruption = true;
	cfg->lc.on_scheduled_event = true;
	cfg->lc.state_dir = strdup(AGENT_DEFAULT_STATE_DIR);
	if (!cfg->lc.drain_d || !cfg->lc.state_dir)
		return -ENOMEM;
	if (!cfg->namespace || !cfg->cpu_metric_name || !cfg->memory_metric_name ||
	    !cfg->disk_metric_name || !cfg->disk_path || !cfg->proc_stat || !cfg->proc_meminfo ||
	    !cfg->status_socket || !cfg->health_socket || !cfg->health_config || !cfg->log_level)
		return -ENOMEM;
	return 0;
}

/* Replaces *dst with a copy of the string at key, when present.  Empty
 * strings are refused unless allow_empty: "" is almost always a typo. */
static int get_str(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                   char **dst, bool allow_empty)
{
	const char *v = NULL;
	char p[256];
	int r = conf_get_string(doc, obj, objpath, key, &v);

	if (r <= 0)
		return r;
	if (!allow_empty && !*v)
		return conf_fail(doc, conf_path_join(p, sizeof(p), objpath, key),
		                 "must not be empty");
	free(*dst);
	*dst = strdup(v);
	return *dst ? 1 : -ENOMEM;
}

static int check_region(struct conf_doc *doc, const char *region)
{
	if (region && !aws_region_valid(region))
		return conf_fail(doc, "region",
		                 "not an AWS region name (two letters, words and a number: "
		                 "eu-west-1, us-gov-west-1, cn-north-1)");
	return 0;
}

static int check_url(struct conf_doc *doc, const char *keypath, const char *url)
{
	if (url && strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return conf_fail(doc, keypath, "expected an http:// or https:// URL");
	return 0;
}

/* CloudWatch metric and namespace names: 1-255 characters; a namespace
 * must not start with ':' and should not start with "AWS/" (reserved for
 * AWS services, PutMetricData reference). */
static int check_name(struct conf_doc *doc, const char *keypath, const char *v, bool ns)
{
	if (strlen(v) > 255)
		return conf_fail(doc, keypath, "longer than CloudWatch's 255 characters");
	if (ns && (v[0] == ':' || !strncmp(v, "AWS/", 4)))
		return conf_fail(doc, keypath, "must not start with ':' or \"AWS/\"");
	return 0;
}

static int parse_endpoints(struct conf_doc *doc, struct agent_config *cfg)
{
	json_t *eps = json_object_get(doc->root, "endpoint_urls");
	char p[128];
	int r;

	if (!eps)
		return 0;
	r = conf_check_keys(doc, eps, "endpoint_urls", endpoint_keys);
	for (int i = 0; r >= 0 && i < AWS_SERVICE_COUNT; i++) {
		r = get_str(doc, eps, "endpoint_urls", aws_service_name(i), &cfg->endpoint_urls[i],
		            false);
		if (r >= 0)
			r = check_url(
			        doc,
			        conf_path_join(p, sizeof(p), "endpoint_urls", aws_service_name(i)),
			        cfg->endpoint_urls[i]);
	}
	return r < 0 ? r : 0;
}

/* A test-only environment override of a duration in milliseconds (the
 * value of env_name, or NULL/empty for none), checked against min..max
 * and reported against keypath. */
static int test_override_ms(struct conf_doc *doc, const char *keypath, const char *env_name,
                            const char *value, long long min, long long max, long long *out)
{
	long long ms;

	if (!value || !*value)
		return 0;
	/* a test-only variable; the range check below refuses what atoll() makes of garbage */
	/* NOLINTNEXTLINE(cert-err34-c) */
	ms = atoll(value);
	if (ms < min || ms > max)
		return conf_fail(doc, keypath, "%s must be %lld..%lld", env_name, min, max);
	*out = ms;
	return 0;
}

static int parse_period(struct conf_doc *doc, struct agent_config *cfg)
{
	const char *test = getenv("ASG_AGENT_TEST_PERIOD_MS");
	long long period = 60;
	int r;

	r = conf_get_int(doc, doc->root, "", "period", 10, 60, &period);
	if (r < 0)
		return r;
	/* Target tracking supports metric periods of 10, 30 and 60 s
	 * (Auto Scaling user guide, high-resolution metrics). */
	if (period != 10 && period != 30 && period != 60)
		return conf_fail(doc, "period", "must be 10, 30 or 60 (seconds)");
	cfg->period_ms = period * 1000;
	/* Test-only: a faster clock for integration tests.  Not a
	 * production setting (CloudWatch stores nothing below 1 s). */
	return test_override_ms(doc, "period", "ASG_AGENT_TEST_PERIOD_MS", test, 100, 3600000,
	                        &cfg->period_ms);
}

/* A lifecycle hook name: 1-255 of [A-Za-z0-9-_/] (CompleteLifecycleAction). */
static int check_hook_name(struct conf_doc *doc, const char *keypath, const char *v)
{
	if (!v)
		return 0;
	if (strlen(v) > 255 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                 "0123456789-_/") != strlen(v))
		return conf_fail(doc, keypath, "a hook name is 1-255 of A-Z a-z 0-9 - _ /");
	return 0;
}

static int parse_target_groups(struct conf_doc *doc, json_t *lc, struct lifecycle_config *c)
{
	json_t *tgs = json_object_get(lc, "target_groups"), *v;
	char p[64];
	size_t i;

	if (!tgs)
		return 0;
	if (!json_is_array(tgs))
		return conf_fail(doc, "lifecycle.target_groups", "expected an array of ARNs");
	if (json_array_size(tgs) > LIFECYCLE_MAX_TARGET_GROUPS)
		return conf_fail(doc, "lifecycle.target_groups", "at most %d target groups",
		                 LIFECYCLE_MAX_TARGET_GROUPS);
	json_array_foreach(tgs, i, v)
	{
		format_into(p, sizeof(p), "lifecycle.target_groups[%zu]", i);
		if (!json_is_string(v) || strncmp(json_string_value(v), "arn:", 4) ||
		    !strstr(json_string_value(v), ":targetgroup/"))
			return conf_fail(doc, p, "expected a target group ARN");
		c->target_groups[c->n_target_groups] = strdup(json_string_value(v));
		if (!c->target_groups[c->n_target_groups++])
			return -ENOMEM;
	}
	c->target_groups_configured = true;
	return 0;
}

static int parse_lifecycle(struct conf_doc *doc, struct agent_config *cfg)
{
	struct lifecycle_config *c = &cfg->lc;
	json_t *lc = json_object_get(doc->root, "lifecycle"), *hooks;
	const char *action = NULL, *test = getenv("ASG_AGENT_TEST_WATCH_MS");
	long long rise = c->launch_rise;
	int r;

	if (lc && !json_is_object(lc))
		return conf_fail(doc, "lifecycle", "expected an object");
	if (lc) {
		if ((r = conf_check_keys(doc, lc, "lifecycle", lifecycle_keys)) < 0 ||
		    (r = conf_get_duration_ms(doc, lc, "lifecycle", "watch_interval", 1000, 60000,
		                              &c->watch_interval_ms)) < 0 ||
		    /* The hook's own limit: 48 h at most in a wait state. */
		    (r = conf_get_duration_ms(doc, lc, "lifecycle", "launch_timeout", 100,
		                              48 * 3600 * 1000LL, &c->launch_timeout_ms)) < 0 ||
		    (r = conf_get_string(doc, lc, "lifecycle", "launch_timeout_action", &action)) <
		            0 ||
		    (r = conf_get_int(doc, lc, "lifecycle", "launch_rise", 1, 100, &rise)) < 0 ||
		    (r = conf_get_duration_ms(doc, lc, "lifecycle", "drain_timeout", 0,
		                              2 * 3600 * 1000LL, &c->drain_timeout_ms)) < 0 ||
		    (r = conf_get_duration_ms(doc, lc, "lifecycle", "drain_quiet", 0, 600 * 1000LL,
		                              &c->drain_quiet_ms)) < 0 ||
		    (r = get_str(doc, lc, "lifecycle", "drain_d", &c->drain_d, false)) < 0 ||
		    (r = conf_get_duration_ms(doc, lc, "lifecycle", "drain_d_timeout", 10,
		                              2 * 3600 * 1000LL, &c->drain_d_timeout_ms)) < 0 ||
		    (r = conf_get_duration_ms(doc, lc, "lifecycle", "stop_timeout", 100,
		                              24 * 3600 * 1000LL, &c->stop_timeout_ms)) < 0 ||
		    (r = conf_get_bool(doc, lc, "lifecycle", "on_spot_interruption",
		                       &c->on_spot_interruption)) < 0 ||
		    (r = conf_get_bool(doc, lc, "lifecycle", "on_scheduled_event",
		                       &c->on_scheduled_event)) < 0 ||
		    (r = conf_get_bool(doc, lc, "lifecycle", "on_rebalance", &c->on_rebalance)) <
		            0 ||
		    (r = get_str(doc, lc, "lifecycle", "state_dir", &c->state_dir, false)) < 0 ||
		    (r = parse_target_groups(doc, lc, c)) < 0)
			return r;
		c->launch_rise = (int)rise;
		if (action && !strcmp(action, "CONTINUE"))
			c->launch_timeout_abandon = false;
		else if (action && strcmp(action, "ABANDON"))
			return conf_fail(doc, "lifecycle.launch_timeout_action",
			                 "must be \"ABANDON\" or \"CONTINUE\"");
		hooks = json_object_get(lc, "hooks");
		if (hooks) {
			if (!json_is_object(hooks))
				return conf_fail(doc, "lifecycle.hooks", "expected an object");
			if ((r = conf_check_keys(doc, hooks, "lifecycle.hooks", hook_keys)) < 0 ||
			    (r = get_str(doc, hooks, "lifecycle.hooks", "launching",
			                 &c->launching_hook, false)) < 0 ||
			    (r = check_hook_name(doc, "lifecycle.hooks.launching",
			                         c->launching_hook)) < 0 ||
			    (r = get_str(doc, hooks, "lifecycle.hooks", "terminating",
			                 &c->terminating_hook, false)) < 0 ||
			    (r = check_hook_name(doc, "lifecycle.hooks.terminating",
			                         c->terminating_hook)) < 0)
				return r;
			c->hooks_configured = true;
		}
	}
	/* Test-only, like ASG_AGENT_TEST_PERIOD_MS: a faster IMDS watch. */
	return test_override_ms(doc, "lifecycle.watch_interval", "ASG_AGENT_TEST_WATCH_MS", test,
	                        10, 60000, &c->watch_interval_ms);
}

static int parse(struct conf_doc *doc, struct agent_config *cfg)
{
	json_t *root = doc->root;
	int r;

	if ((r = conf_check_keys(doc, root, "", top_keys)) < 0)
		return r;
	if ((r = get_str(doc, root, "", "region", &cfg->region, false)) < 0 ||
	    (r = check_region(doc, cfg->region)) < 0 ||
	    (r = get_str(doc, root, "", "auto_scaling_group_name", &cfg->auto_scaling_group_name,
	                 false)) < 0 ||
	    (r = get_str(doc, root, "", "imds_endpoint", &cfg->imds_endpoint, false)) < 0 ||
	    (r = check_url(doc, "imds_endpoint", cfg->imds_endpoint)) < 0 ||
	    (r = conf_get_int(doc, root, "", "imds_token_ttl", 1, 21600, &cfg->imds_token_ttl_s)) <
	            0 ||
	    (r = get_str(doc, root, "", "endpoint_url", &cfg->endpoint_url, false)) < 0 ||
	    (r = check_url(doc, "endpoint_url", cfg->endpoint_url)) < 0 ||
	    (r = parse_endpoints(doc, cfg)) < 0)
		return r;
	if ((r = get_str(doc, root, "", "namespace", &cfg->namespace, false)) < 0 ||
	    (r = check_name(doc, "namespace", cfg->namespace, true)) < 0 ||
	    (r = get_str(doc, root, "", "metric_name", &cfg->cpu_metric_name, false)) < 0 ||
	    (r = check_name(doc, "metric_name", cfg->cpu_metric_name, false)) < 0 ||
	    (r = get_str(doc, root, "", "memory_metric_name", &cfg->memory_metric_name, false)) <
	            0 ||
	    (r = check_name(doc, "memory_metric_name", cfg->memory_metric_name, false)) < 0 ||
	    (r = get_str(doc, root, "", "disk_metric_name", &cfg->disk_metric_name, false)) < 0 ||
	    (r = check_name(doc, "disk_metric_name", cfg->disk_metric_name, false)) < 0 ||
	    (r = conf_get_bool(doc, root, "", "memory_metric", &cfg->memory_metric)) < 0 ||
	    (r = conf_get_bool(doc, root, "", "disk_metric", &cfg->disk_metric)) < 0 ||
	    (r = get_str(doc, root, "", "disk_path", &cfg->disk_path, false)) < 0 ||
	    (r = conf_get_bool(doc, root, "", "per_instance_metrics", &cfg->per_instance_metrics)) <
	            0 ||
	    (r = parse_period(doc, cfg)) < 0 ||
	    (r = conf_get_duration_ms(doc, root, "", "sample_interval", 100, 60000,
	                              &cfg->sample_interval_ms)) < 0 ||
	    (r = conf_get_duration_ms(doc, root, "", "backlog", 0, 24 * 3600 * 1000LL,
	                              &cfg->backlog_ms)) < 0 ||
	    (r = conf_get_duration_ms(doc, root, "", "publish_jitter", 0, 60000,
	                              &cfg->publish_jitter_ms)) < 0 ||
	    (r = get_str(doc, root, "", "proc_stat", &cfg->proc_stat, false)) < 0 ||
	    (r = get_str(doc, root, "", "proc_meminfo", &cfg->proc_meminfo, false)) < 0 ||
	    (r = get_str(doc, root, "", "status_socket", &cfg->status_socket, false)) < 0 ||
	    (r = get_str(doc, root, "", "health_socket", &cfg->health_socket, false)) < 0 ||
	    (r = get_str(doc, root, "", "health_config", &cfg->health_config, false)) < 0 ||
	    (r = get_str(doc, root, "", "log_level", &cfg->log_level, false)) < 0 ||
	    (r = get_str(doc, root, "", "metrics_listen", &cfg->metrics_listen, false)) < 0)
		return r;
	if (cfg->metrics_listen && !strrchr(cfg->metrics_listen, ':'))
		return conf_fail(doc, "metrics_listen",
		                 "expected \"ADDR:PORT\", e.g. \"127.0.0.1:9102\"");
	if ((r = parse_lifecycle(doc, cfg)) < 0)
		return r;
	if (strcmp(cfg->log_level, "info") && strcmp(cfg->log_level, "debug"))
		return conf_fail(doc, "log_level", "must be \"info\" or \"debug\"");
	if (cfg->sample_interval_ms > cfg->period_ms)
		return conf_fail(doc, "sample_interval", "must not be longer than the period");
	if (cfg->publish_jitter_ms >= cfg->period_ms)
		return conf_fail(doc, "publish_jitter", "must be shorter than the period");
	return 0;
}

static int finish(struct agent_config *cfg, struct conf_doc *doc, int r, char *err, size_t len)
{
	if (r < 0) {
		format_into(err, len, "%s", doc->error[0] ? doc->error : strerror(-r));
		conf_doc_free(doc);
		agent_config_free(cfg);
		return r;
	}
	conf_doc_free(doc);
	return 0;
}

int agent_config_parse(struct agent_config *cfg, const char *path, const char *text, char *err,
                       size_t err_len)
{
	struct conf_doc doc;
	int r = set_defaults(cfg);

	if (r < 0)
		return r;
	r = conf_doc_parse(&doc, path, text);
	if (r >= 0) {
		cfg->path = strdup(path);
		r = cfg->path ? parse(&doc, cfg) : -ENOMEM;
	}
	return finish(cfg, &doc, r, err, err_len);
}

int agent_config_load(struct agent_config *cfg, const char *path, char *err, size_t err_len)
{
	struct conf_doc doc;
	bool explicit_path = path != NULL;
	int r;

	if (!path)
		path = AGENT_DEFAULT_CONFIG;
	r = conf_doc_load(&doc, path);
	if (r == -ENOENT && !explicit_path) {
		/* No file: the agent runs on defaults and what IMDS says. */
		conf_doc_free(&doc);
		r = set_defaults(cfg);
		if (r >= 0) {
			struct conf_doc empty;
			r = conf_doc_parse(&empty, path, "{}");
			if (r >= 0)
				r = parse_period(&empty, cfg);
			if (r >= 0)
				r = parse_lifecycle(&empty, cfg);
			return finish(cfg, &empty, r, err, err_len);
		}
		return r;
	}
	if (r < 0) {
		format_into(err, err_len, "%s", doc.error);
		conf_doc_free(&doc);
		return r;
	}
	r = set_defaults(cfg);
	if (r >= 0) {
		cfg->path = strdup(path);
		r = cfg->path ? parse(&doc, cfg) : -ENOMEM;
	}
	return finish(cfg, &doc, r, err, err_len);
}

void agent_config_free(struct agent_config *cfg)
{
	char **strs[] = {
	        &cfg->path,
	        &cfg->region,
	        &cfg->auto_scaling_group_name,
	        &cfg->imds_endpoint,
	        &cfg->endpoint_url,
	        &cfg->namespace,
	        &cfg->cpu_metric_name,
	        &cfg->memory_metric_name,
	        &cfg->disk_metric_name,
	        &cfg->disk_path,
	        &cfg->proc_stat,
	        &cfg->proc_meminfo,
	        &cfg->status_socket,
	        &cfg->health_socket,
	        &cfg->health_config,
	        &cfg->log_level,
	        &cfg->metrics_listen,
	        &cfg->lc.drain_d,
	        &cfg->lc.launching_hook,
	        &cfg->lc.terminating_hook,
	        &cfg->lc.state_dir,
	};
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (int i = 0; i < AWS_SERVICE_COUNT; i++) {
		free(cfg->endpoint_urls[i]);
		cfg->endpoint_urls[i] = NULL;
	}
	for (int i = 0; i < cfg->lc.n_target_groups; i++) {
		free(cfg->lc.target_groups[i]);
		cfg->lc.target_groups[i] = NULL;
	}
	cfg->lc.n_target_groups = 0;
}

void agent_config_endpoints(const struct agent_config *cfg, struct aws_endpoint_config *out)
{
	out->global = cfg->endpoint_url;
	for (int i = 0; i < AWS_SERVICE_COUNT; i++)
		out->service[i] = cfg->endpoint_urls[i];
}
