/* `asg-agent doctor`: checks what the agent needs, one line each, and
 * prints a fix under every failure.  Exit status 1 if any check failed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "autoscaling.h"
#include "identity.h"
#include "cleanup.h"
#include "commands.h"
#include "control-protocol.h"
#include "health-client.h"
#include "log.h"

struct doctor {
	int failures;
};

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
	identity_discover(a);
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

int cmd_doctor(const struct agent_config *cfg)
{
	struct doctor d = {0};
	struct agent a;
	struct aws_endpoint_config eps;
	int r;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	/* The checks print their own findings; the daemon's log lines
	 * (identity, IMDS absent...) would only repeat them. */
	log_set_level(LOG_ERR);
	report(&d, true, NULL, "configuration %s", cfg->path ? cfg->path : "(none: defaults)");
	r = imds_client_init(&a.imds, cfg->imds_endpoint, (int)cfg->imds_token_ttl_s);
	if (r < 0) {
		fprintf(stderr, "asg-agent: %s\n", strerror(-r));
		return 1;
	}
	credentials_provider_init(&a.creds, &a.imds);
	check_imds(&d, &a);
	check_identity(&d, &a);
	check_credentials(&d, &a);
	agent_config_endpoints(cfg, &eps);
	if (a.ident.region[0] && a.creds.current.access_key_id &&
	    aws_client_init(&a.aws, a.ident.region, &eps, &a.creds) == 0) {
		/* One attempt each: the doctor reports, it does not wait. */
		a.aws.max_attempts = 1;
		check_permissions(&d, &a);
		aws_client_free(&a.aws);
	} else {
		printf("[skip] AWS permissions (need a region and credentials first)\n");
	}
	check_health(&d, cfg);
	credentials_provider_free(&a.creds);
	imds_client_free(&a.imds);
	printf("%s\n", d.failures ? "Some checks failed." : "All checks passed.");
	return d.failures ? 1 : 0;
}
