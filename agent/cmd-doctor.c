/* `asg-agent doctor`: checks what the agent needs, one line each, and
 * prints a fix under every failure; then warns about settings that turn
 * one instance's trouble into a cascade (issue 12 section 4), each
 * warning saying what to change.  Exit status 1 if any check failed
 * (warnings do not fail).  Built on agent_open(), the daemon's own
 * set-up (config, identity, AWS client). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent.h"
#include "autoscaling.h"
#include "conf.h"
#include "elbv2.h"
#include "host.h"
#include "identity.h"
#include "cleanup.h"
#include "commands.h"
#include "control-protocol.h"
#include "health-client.h"
#include "log.h"

/* A Spot instance's notice (aws.md section 7). */
#define SPOT_NOTICE_S 120
/* asg-health's connection_timeout when its configuration says none
 * (health/config.c). */
#define HEALTH_DEFAULT_CONNECTION_TIMEOUT_MS (75 * 1000)

struct doctor {
	int failures;
	int warnings;
};

static void warn(struct doctor *d, const char *fix, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void warn(struct doctor *d, const char *fix, const char *fmt, ...)
{
	va_list ap;

	printf("[WARN] ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n       change: %s\n", fix);
	d->warnings++;
}

static void report(struct doctor *d, bool ok, const char *fix, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void report(struct doctor *d, bool ok, const char *fix, const char *fmt, ...)
{
	va_list ap;

	printf("[%s] ", ok ? " ok " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!ok) {
		d->failures++;
		if (fix)
			printf("       fix: %s\n", fix);
	}
}

static void check_imds(struct doctor *d, struct agent *a)
{
	int r;

	if (a->imds.disabled) {
		printf("[skip] IMDS disabled by AWS_EC2_METADATA_DISABLED=true\n");
		return;
	}
	r = imds_ensure_token(&a->imds);
	if (r == -ETIMEDOUT)
		report(d, false,
		       "on EC2 inside a container the token PUT's answer dies at the hop limit "
		       "(HttpPutResponseHopLimit, default 1): aws ec2 "
		       "modify-instance-metadata-options "
		       "--instance-id <id> --http-put-response-hop-limit 2; off EC2 set "
		       "AWS_EC2_METADATA_DISABLED=true",
		       "IMDSv2 token at %s: timed out", a->imds.endpoint);
	else if (r == -EACCES)
		report(d, false,
		       "the metadata service is turned off for this instance: aws ec2 "
		       "modify-instance-metadata-options --instance-id <id> --http-endpoint "
		       "enabled",
		       "IMDSv2 token: %s", a->imds.last_error);
	else if (r < 0)
		report(d, false,
		       "not on EC2? set AWS_EC2_METADATA_DISABLED=true and give region, "
		       "credentials "
		       "and auto_scaling_group_name another way",
		       "IMDSv2 token: %s", a->imds.last_error);
	else
		report(d, true, NULL, "IMDSv2 token from %s", a->imds.endpoint);
}

static void check_identity(struct doctor *d, struct agent *a)
{
	if (a->ident.imds == IMDS_OK)
		report(d, true, NULL, "identity: %s, %s, %s", a->ident.id.instance_id,
		       a->ident.id.instance_type, a->ident.id.availability_zone);
	if (a->ident.region[0])
		report(d, true, NULL, "region %s (from %s)", a->ident.region,
		       a->ident.region_source);
	else if (a->ident.region_error[0])
		report(d, false, "correct it: a region name is like eu-west-1", "%s",
		       a->ident.region_error);
	else
		report(d, false, "set AWS_REGION, or \"region\" in the configuration file",
		       "region: none found");
}

static void check_credentials(struct doctor *d, struct agent *a)
{
	struct sigv4_credentials c;
	int r = credentials_get(&a->creds, &c);

	if (r < 0)
		report(d, false,
		       "attach an instance profile whose role allows the agent's actions "
		       "(see docs/deploying.md), or set AWS_ACCESS_KEY_ID and "
		       "AWS_SECRET_ACCESS_KEY",
		       "credentials: %s", a->creds.last_error);
	else
		report(d, true, NULL, "credentials from %s%s%s",
		       credentials_source_name(a->creds.current.source),
		       a->creds.current.role[0] ? ", role " : "", a->creds.current.role);
}

static bool denied(const char *code)
{
	return strstr(code, "AccessDenied") || !strcmp(code, "UnauthorizedOperation") ||
	       !strcmp(code, "InvalidClientTokenId") || !strcmp(code, "SignatureDoesNotMatch") ||
	       !strcmp(code, "ExpiredToken");
}

static void check_permissions(struct doctor *d, struct agent *a)
{
	struct aws_response resp;
	char asg[256], state[64];
	int r;

	if (a->ident.imds == IMDS_OK) {
		r = autoscaling_describe_instance(&a->aws, a->ident.id.instance_id, asg,
		                                  sizeof(asg), state, sizeof(state), &resp);
		if (r == 0)
			report(d, true, NULL,
			       "autoscaling:DescribeAutoScalingInstances: in group %s, %s", asg,
			       state);
		else if (r == -ENOENT)
			report(d, false,
			       "launch the instance from the group's launch template, or set "
			       "auto_scaling_group_name",
			       "autoscaling:DescribeAutoScalingInstances: %s is in no Auto Scaling "
			       "group",
			       a->ident.id.instance_id);
		else
			report(d, false,
			       denied(resp.code)
			               ? "allow autoscaling:DescribeAutoScalingInstances "
			                 "in the instance role's policy"
			               : "check network access to the Auto Scaling endpoint",
			       "autoscaling:DescribeAutoScalingInstances: %s %s", resp.code,
			       resp.message);
		aws_response_free(&resp);
	} else {
		printf("[skip] autoscaling:DescribeAutoScalingInstances (no instance id without "
		       "IMDS)\n");
	}

	/* PutMetricData has no dry run.  A request without MetricData is
	 * authorised first and then refused as invalid, without storing
	 * anything: a validation error proves the permission. */
	_cleanup_strbuf_ struct strbuf form = STRBUF_INIT;
	aws_form_add(&form, "Namespace", a->cfg->namespace);
	r = aws_query(&a->aws, AWS_CLOUDWATCH, "PutMetricData", &form, &resp);
	if (r == 0 || (r == -EREMOTEIO && !denied(resp.code)))
		report(d, true, NULL,
		       "cloudwatch:PutMetricData allowed (checked with an empty request%s%s)",
		       resp.code[0] ? ": " : "", resp.code);
	else
		report(d, false,
		       r == -EREMOTEIO
		               ? "allow cloudwatch:PutMetricData in the instance role's policy"
		               : "check network access to the CloudWatch endpoint",
		       "cloudwatch:PutMetricData: %s %s", resp.code, resp.message);
	aws_response_free(&resp);
}

static void check_health(struct doctor *d, const struct agent_config *cfg)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	long status = 0;
	int r = health_control(cfg->health_socket, "GET", CONTROL_PATH_STATUS, &status, &body);

	if (r < 0)
		report(d, false, "start it: systemctl start asg-health (or set \"health_socket\")",
		       "asg-health control socket %s: %s", cfg->health_socket, strerror(-r));
	else
		report(d, status == 200, "see journalctl -u asg-health",
		       "asg-health control socket %s: HTTP %ld", cfg->health_socket, status);
}

/* ---- cascades (issue 12 section 4) ---- */

/* The host a check of asg-health's configuration depends on, or NULL
 * (file, disk, memory, exec checks, or a URL that does not parse). */
static char *check_host(json_t *check)
{
	const char *type = json_string_value(json_object_get(check, "type"));
	const char *url = json_string_value(json_object_get(check, "url"));
	const char *host = json_string_value(json_object_get(check, "host"));
	char *out = NULL, *h = NULL;
	CURLU *u;

	if (type && !strcmp(type, "tcp") && host)
		return strdup(host);
	if (!type || strcmp(type, "http") || !url || !(u = curl_url()))
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
		out = strdup(h);
	curl_free(h);
	curl_url_cleanup(u);
	return out;
}

/* asg-health's configuration as the agent can read it: its critical
 * checks of other hosts (asg-health's own rule: a check of a remote host
 * is critical only when the file says so) and connection_timeout. */
static void read_health_config(struct doctor *d, const struct agent_config *cfg, bool elb_health,
                               long long *conn_timeout_ms)
{
	struct conf_doc doc = {0};
	json_t *checks, *c;
	size_t i;

	*conn_timeout_ms = HEALTH_DEFAULT_CONNECTION_TIMEOUT_MS;
	if (conf_doc_load(&doc, cfg->health_config) < 0) {
		printf("[skip] asg-health's configuration: %s (set \"health_config\")\n",
		       doc.error);
		conf_doc_free(&doc);
		*conn_timeout_ms = 0;
		return;
	}
	if (conf_get_duration_ms(&doc, doc.root, "", "connection_timeout", 1000, 86400000,
	                         conn_timeout_ms) < 0)
		*conn_timeout_ms = HEALTH_DEFAULT_CONNECTION_TIMEOUT_MS;
	checks = json_object_get(doc.root, "checks");
	json_array_foreach(checks, i, c)
	{
		_cleanup_free_ char *host = check_host(c);
		const char *name = json_string_value(json_object_get(c, "name"));
		json_t *crit = json_object_get(c, "critical");
		bool local = !host || host_is_loopback(host);
		bool critical = json_is_boolean(crit) ? json_is_true(crit) : local;

		if (!elb_health || !critical || local)
			continue;
		warn(d,
		     "make it informational (\"critical\": false in asg-health's checks), or "
		     "check something of this instance's own",
		     "asg-health check \"%s\" is critical and depends on %s, which every "
		     "instance shares: when it fails, every instance fails /health together, "
		     "and with HealthCheckType ELB the group replaces them all together",
		     name ? name : "?", host);
	}
	conf_doc_free(&doc);
}

static void aws_skip(const char *what, int r, const struct aws_response *resp)
{
	printf("[skip] %s: %s%s%s\n", what, resp->code, resp->code[0] ? ": " : "",
	       resp->message[0] ? resp->message : strerror(-r));
}

static void check_target_group(struct doctor *d, struct agent *a, const char *arn, int term_hb,
                               long long conn_timeout_ms)
{
	struct elbv2_tg_info tg;
	struct aws_response resp;
	long delay, idle;
	int r;

	r = elbv2_describe_target_group(&a->aws, arn, &tg, &resp);
	if (r < 0) {
		aws_skip("elasticloadbalancing:DescribeTargetGroups", r, &resp);
		aws_response_free(&resp);
		return;
	}
	aws_response_free(&resp);
	if (tg.interval_s * tg.unhealthy_threshold > SPOT_NOTICE_S)
		warn(d,
		     "lower HealthCheckIntervalSeconds or UnhealthyThresholdCount (e.g. 10 s x "
		     "2 = 20 s)",
		     "target group %s: the load balancer needs up to %d s (interval %d s x "
		     "unhealthy threshold %d) to see a failing /health, longer than a Spot "
		     "instance's %d s notice",
		     arn, tg.interval_s * tg.unhealthy_threshold, tg.interval_s,
		     tg.unhealthy_threshold, SPOT_NOTICE_S);
	r = elbv2_attribute(&a->aws, false, arn, "deregistration_delay.timeout_seconds", &delay,
	                    &resp);
	if (r < 0)
		aws_skip("elasticloadbalancing:DescribeTargetGroupAttributes", r, &resp);
	else if (term_hb && delay > term_hb)
		warn(d,
		     "lower deregistration_delay.timeout_seconds below the HeartbeatTimeout (the "
		     "agent drains before deregistration: 30 s is plenty), or raise the hook's "
		     "HeartbeatTimeout",
		     "target group %s: deregistration delay %ld s is longer than the terminating "
		     "hook's HeartbeatTimeout %d s: a drain that waits for it outlives the hook "
		     "between heartbeats",
		     arn, delay, term_hb);
	else
		report(d, true, NULL,
		       "target group %s: health check %d s x %d, deregistration "
		       "delay %ld s",
		       arn, tg.interval_s, tg.unhealthy_threshold, delay);
	aws_response_free(&resp);
	for (int i = 0; i < tg.n_lbs; i++) {
		r = elbv2_attribute(&a->aws, true, tg.lbs[i], "idle_timeout.timeout_seconds", &idle,
		                    &resp);
		if (r < 0)
			aws_skip("elasticloadbalancing:DescribeLoadBalancerAttributes", r, &resp);
		else if (conn_timeout_ms && (long long)idle * 1000 >= conn_timeout_ms)
			warn(d,
			     "lower the load balancer's idle_timeout.timeout_seconds below "
			     "asg-health's connection_timeout, or raise connection_timeout",
			     "load balancer %s: idle timeout %ld s is not below asg-health's "
			     "connection_timeout %lld s: asg-health may close a kept-alive "
			     "connection the load balancer is about to reuse, and the client "
			     "gets a 502",
			     tg.lbs[i], idle, conn_timeout_ms / 1000);
		aws_response_free(&resp);
	}
}

static void check_cascades(struct doctor *d, struct agent *a)
{
	const struct lifecycle_config *lc = &a->cfg->lc;
	char type[64], arns[LIFECYCLE_MAX_TARGET_GROUPS][512];
	struct aws_response resp;
	struct hook_set hooks;
	long long conn_timeout_ms;
	int n = 0, term_hb = 0, r;

	if (!a->ident.asg_source) {
		printf("[skip] cascade checks (the Auto Scaling group is not known)\n");
		return;
	}
	r = autoscaling_describe_health_check_type(&a->aws, a->ident.asg_name, type, sizeof(type),
	                                           &resp);
	if (r < 0) {
		aws_skip("autoscaling:DescribeAutoScalingGroups", r, &resp);
		format_into(type, sizeof(type), "%s", "unknown");
	}
	aws_response_free(&resp);
	read_health_config(d, a->cfg, strstr(type, "ELB") != NULL, &conn_timeout_ms);
	r = autoscaling_describe_lifecycle_hooks(&a->aws, a->ident.asg_name, &hooks, &resp);
	if (r < 0)
		aws_skip("autoscaling:DescribeLifecycleHooks", r, &resp);
	for (int i = 0; r == 0 && i < hooks.n; i++)
		if (!hooks.h[i].launching && (!term_hb || hooks.h[i].heartbeat_timeout_s < term_hb))
			term_hb = hooks.h[i].heartbeat_timeout_s;
	aws_response_free(&resp);
	if (lc->target_groups_configured) {
		for (int i = 0; i < lc->n_target_groups; i++)
			format_into(arns[n++], sizeof(arns[0]), "%s", lc->target_groups[i]);
	} else {
		r = autoscaling_describe_target_groups(&a->aws, a->ident.asg_name, arns,
		                                       LIFECYCLE_MAX_TARGET_GROUPS, &n, &resp);
		if (r < 0)
			aws_skip("autoscaling:DescribeAutoScalingGroups", r, &resp);
		aws_response_free(&resp);
	}
	for (int i = 0; i < n; i++)
		check_target_group(d, a, arns[i], term_hb, conn_timeout_ms);
}

int cmd_doctor(const struct agent_config *cfg)
{
	struct doctor d = {0};
	struct agent a;
	int r;

	/* The checks print their own findings; the daemon's log lines
	 * (identity, IMDS absent...) would only repeat them. */
	log_set_level(LOG_ERR);
	report(&d, true, NULL, "configuration %s", cfg->path ? cfg->path : "(none: defaults)");
	/* One attempt per AWS call: the doctor reports, it does not wait. */
	r = agent_open(&a, cfg, 1);
	if (r < 0) {
		fprintf(stderr, "asg-agent: %s\n", strerror(-r));
		agent_close(&a);
		return 1;
	}
	check_imds(&d, &a);
	check_identity(&d, &a);
	check_credentials(&d, &a);
	if (a.aws_ready && a.creds.current.access_key_id) {
		check_permissions(&d, &a);
		check_cascades(&d, &a);
	} else {
		printf("[skip] AWS permissions (need a region and credentials first)\n");
	}
	check_health(&d, cfg);
	agent_close(&a);
	printf("%s\n", d.failures ? "Some checks failed." : "All checks passed.");
	if (d.warnings)
		printf("%d warning(s) above: settings that can turn one instance's trouble into "
		       "a cascade.\n",
		       d.warnings);
	return d.failures ? 1 : 0;
}
