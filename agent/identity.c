/* Who and where this instance is (see agent.h): IMDS identity, region,
 * and the Auto Scaling group the metric is published for. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "autoscaling.h"
#include "identity.h"
#include "cleanup.h"
#include "log.h"

const char *imds_state_name(enum imds_state s)
{
	switch (s) {
	case IMDS_OK:
		return "ok";
	case IMDS_ABSENT:
		return "absent";
	case IMDS_DISABLED:
		return "disabled";
	default:
		return "unknown";
	}
}

void agent_record_error(struct agent *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->last_error, sizeof(a->last_error), fmt, ap);
	va_end(ap);
	a->last_error_at = time(NULL);
}

/* The first source that gives one wins, as in the SDKs; a value that is
 * not a region name is refused, not skipped for the next source: the
 * operator meant that one, and it must never become a host name. */
static void settle_region(struct agent *a)
{
	const char *v = NULL, *source = NULL;

	a->ident.region[0] = '\0';
	a->ident.region_source = NULL;
	a->ident.region_error[0] = '\0';
	/* SDKs read AWS_REGION, the CLI AWS_DEFAULT_REGION; both before any
	 * file, IMDS last (SDK reference guide, "AWS Region"). */
	if ((v = getenv("AWS_REGION")) && *v)
		source = "AWS_REGION";
	else if ((v = getenv("AWS_DEFAULT_REGION")) && *v)
		source = "AWS_DEFAULT_REGION";
	else if ((v = a->cfg->region))
		source = "config";
	else if (a->ident.imds == IMDS_OK && (v = a->ident.id.region) && *v)
		source = "imds";
	if (!source)
		return;
	if (!aws_region_valid(v)) {
		char shown[48];
		/* Shown escaped and cut: it is untrusted text. */
		size_t n = 0;
		for (const char *p = v; *p && n + 5 < sizeof(shown); p++)
			n += (size_t)snprintf(shown + n, sizeof(shown) - n,
			                      *p >= 0x21 && *p < 0x7f ? "%c" : "\\x%02x",
			                      (unsigned char)*p);
		format_into(a->ident.region_error, sizeof(a->ident.region_error),
		            "region \"%s\" (from %s) is not an AWS region name", shown, source);
		agent_record_error(a, "%s; no AWS call is made until it is corrected",
		                   a->ident.region_error);
		log_error("%s", a->last_error);
		return;
	}
	a->ident.region_source = source;
	format_into(a->ident.region, sizeof(a->ident.region), "%s", v);
}

/* What the identity read's result r means: IMDS ok or absent, and the
 * region. */
static void discovered(struct agent *a, int r)
{
	enum imds_state before = a->ident.imds;

	if (r == 0) {
		a->ident.imds = IMDS_OK;
		log_info("instance %s (%s, %s, %s) in %s", a->ident.id.instance_id,
		         a->ident.id.instance_type,
		         a->ident.id.life_cycle[0] ? a->ident.id.life_cycle : "unknown life cycle",
		         a->ident.id.availability_zone, a->ident.id.region);
	} else {
		a->ident.imds = IMDS_ABSENT;
		agent_record_error(a, "%s", a->imds.last_error);
		/* Once: off EC2 this is the normal state, not news. */
		if (before != IMDS_ABSENT)
			log_warning("instance metadata (IMDSv2) unavailable: %s; running without "
			            "it (set region, credentials and auto_scaling_group_name "
			            "another way); `asg-agent doctor` explains the usual causes",
			            a->imds.last_error);
	}
	settle_region(a);
}

static void lookup_finish(struct agent *a, int r)
{
	struct identity_lookup *l = &a->lookup;
	void (*done)(struct agent *, int) = l->done;
	void (*also)(struct agent *, int) = l->also;

	l->busy = false;
	l->also = NULL;
	strbuf_free(&l->tag);
	done(a, r);
	if (also)
		also(a, r);
}

static void on_identity(void *ctx, int r)
{
	struct agent *a = ctx;

	if (r != -EINTR)
		discovered(a, r);
	lookup_finish(a, r == -EINTR ? r : 0);
}

int identity_discover_start(struct agent *a, void (*done)(struct agent *a, int r))
{
	struct identity_lookup *l = &a->lookup;
	int r;

	if (l->busy)
		return -EBUSY;
	if (a->imds.disabled) {
		a->ident.imds = IMDS_DISABLED;
		settle_region(a);
		return 0;
	}
	l->done = done;
	l->finding_group = false;
	r = imds_read_identity_start(&l->identity, &a->imds, &a->ident.id, on_identity, a);
	if (r < 0)
		return r;
	l->busy = true;
	return 1;
}

static void found(struct agent *a, const char *name, const char *source)
{
	format_into(a->ident.asg_name, sizeof(a->ident.asg_name), "%s", name);
	a->ident.asg_source = source;
	format_into(a->metrics.asg_name, sizeof(a->metrics.asg_name), "%s", name);
	log_info("Auto Scaling group %s (from %s)", name, source);
}

static void on_describe_instance(void *ctx, int r, struct aws_response *resp)
{
	struct agent *a = ctx;
	char name[256];

	r = autoscaling_instance_result(r, resp, name, sizeof(name), NULL, 0);
	if (r == 0)
		found(a, name, "DescribeAutoScalingInstances");
	else if (r == -ENOENT)
		agent_record_error(a,
		                   "instance %s is in no Auto Scaling group "
		                   "(DescribeAutoScalingInstances); nothing to publish for",
		                   a->ident.id.instance_id);
	else
		agent_record_error(a, "DescribeAutoScalingInstances failed: %s%s%s", resp->code,
		                   resp->code[0] ? ": " : "", resp->message);
	aws_response_free(resp);
	lookup_finish(a, r);
}

static void on_tag(void *ctx, int r)
{
	struct agent *a = ctx;
	struct identity_lookup *l = &a->lookup;

	if (r == -EINTR) {
		lookup_finish(a, r);
		return;
	}
	if (r == 0 && l->tag.len && l->tag.len < sizeof(a->ident.asg_name) &&
	    !memchr(l->tag.data, '\n', l->tag.len)) {
		found(a, strbuf_str(&l->tag), "imds-tag");
		lookup_finish(a, 0);
		return;
	}
	if (!a->aws_ready) {
		lookup_finish(a, -ENOENT);
		return;
	}
	r = autoscaling_describe_instance_start(&l->call, &a->aws, a->ident.id.instance_id,
	                                        &l->resp, on_describe_instance, a);
	if (r < 0)
		lookup_finish(a, r);
}

int identity_find_asg_start(struct agent *a, void (*done)(struct agent *a, int r))
{
	struct identity_lookup *l = &a->lookup;
	int r;

	if (a->cfg->auto_scaling_group_name) {
		found(a, a->cfg->auto_scaling_group_name, "config");
		return 0;
	}
	if (a->ident.imds != IMDS_OK)
		return -ENOENT;
	if (l->busy) {
		/* The same lookup under way (the start's or a publish's): its
		 * answer is this one's too. */
		if (!l->finding_group || l->also)
			return -EBUSY;
		l->also = done;
		return 1;
	}
	l->done = done;
	l->finding_group = true;
	/* The group tags its instances aws:autoscaling:groupName; IMDS shows
	 * tags only with InstanceMetadataTags=enabled (404 otherwise). */
	r = imds_get_start(&l->rd, &a->imds, "tags/instance/aws:autoscaling:groupName", &l->tag,
	                   on_tag, a);
	if (r < 0)
		return r;
	l->busy = true;
	return 1;
}

void identity_lookup_cancel(struct agent *a)
{
	struct identity_lookup *l = &a->lookup;

	if (!l->busy)
		return;
	imds_identity_read_cancel(&l->identity);
	imds_read_cancel(&l->rd);
	if (a->aws_ready)
		aws_call_cancel(&l->call);
	strbuf_free(&l->tag);
	l->busy = false;
	l->also = NULL;
}

/* ---- blocking, for `asg-agent doctor` ---- */

static void sync_done(struct agent *a, int r)
{
	a->lookup.sync_done = true;
	a->lookup.sync_r = r;
}

static int wait_lookup(struct agent *a, int r)
{
	struct http_client *clients[] = {&a->imds.http, a->aws_ready ? &a->aws.http : NULL};

	if (r != 1)
		return r;
	a->lookup.sync_done = false;
	r = http_wait(clients, a->aws_ready ? 2 : 1, &a->lookup.sync_done);
	if (r < 0) {
		identity_lookup_cancel(a);
		return r;
	}
	return a->lookup.sync_r;
}

int identity_discover(struct agent *a)
{
	return wait_lookup(a, identity_discover_start(a, sync_done));
}

int identity_find_asg(struct agent *a)
{
	return wait_lookup(a, identity_find_asg_start(a, sync_done));
}
