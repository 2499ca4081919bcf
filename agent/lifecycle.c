/* The lifecycle state machine (see lifecycle.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>

#include "agent.h"
#include "cleanup.h"
#include "lifecycle-state.h"
#include "lifecycle.h"
#include "log.h"
#include "state-file.h"
#include "timeutil.h"

/* A failed hook, ELB or discovery call is tried again this often (each
 * try already has the standard retry mode's attempts inside it). */
#define RETRY_PACE_MS 2000
/* While gating or draining, asg-health is asked this often. */
#define ACTIVE_TICK_MS 200

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const state_names[] = {
        [LC_BOOTING] = "booting", [LC_WARMED] = "warmed",   [LC_WARMING] = "warming",
        [LC_READY] = "ready",     [LC_DRAINING] = "draining", [LC_DRAINED] = "drained",
};

static const char *const step_names[] = {
        [LC_STEP_NONE] = "none",
        [LC_STEP_DRAIN_HEALTH] = "drain-health",
        [LC_STEP_DEREGISTER] = "deregister",
        [LC_STEP_WAIT_LB] = "wait-load-balancer",
        [LC_STEP_IN_FLIGHT] = "wait-in-flight",
        [LC_STEP_DRAIN_D] = "drain.d",
        [LC_STEP_FLUSH] = "flush-metrics",
        [LC_STEP_COMPLETE] = "complete-hook",
        [LC_STEP_DONE] = "done",
};

const char *lifecycle_state_name(enum lc_state s)
{
	return s >= 0 && (size_t)s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

const char *lifecycle_step_name(enum lc_step s)
{
	return s >= 0 && (size_t)s < ARRAY_SIZE(step_names) ? step_names[s] : "?";
}

const char *lifecycle_phase(const struct lifecycle *lc)
{
	switch (lc->state) {
	case LC_BOOTING:
		return "booting";
	case LC_WARMED:
		return "warmed";
	case LC_WARMING:
		return "gating launch";
	case LC_READY:
		return "serving";
	case LC_DRAINED:
		return "completed";
	case LC_DRAINING:
		break;
	}
	switch (lc->step) {
	case LC_STEP_WAIT_LB:
		return "waiting for the load balancer";
	case LC_STEP_IN_FLIGHT:
		return "waiting for in-flight";
	case LC_STEP_DRAIN_D:
		return "running drain.d";
	case LC_STEP_FLUSH:
	case LC_STEP_COMPLETE:
	case LC_STEP_DONE:
		return "completing";
	default:
		return "draining";
	}
}

static void causes_text(unsigned c, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	        {LC_CAUSE_TERMINATION, "termination"},
	        {LC_CAUSE_SPOT, "spot-interruption"},
	        {LC_CAUSE_SCHEDULED, "scheduled-event"},
	        {LC_CAUSE_REBALANCE, "rebalance-recommendation"},
	        {LC_CAUSE_WARM_POOL, "warm-pool"},
	        {LC_CAUSE_LAUNCH_ABANDONED, "launch-abandoned"},
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (c & names[i].bit)
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
			                        off ? "+" : "", names[i].name);
}

static void clock_text(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%SZ", &tm);
}

void lifecycle_summary(const struct lifecycle *lc, char *buf, size_t len)
{
	char since[16], causes[128];

	clock_text(lc->step_since_ms ? lc->step_since_ms : lc->since_ms, since, sizeof(since));
	causes_text(lc->causes, causes, sizeof(causes));
	snprintf(buf, len, "%s since %s%s%s%s", lifecycle_phase(lc), since, causes[0] ? " (" : "",
	         causes, causes[0] ? ")" : "");
}

/* ---- persistence ---- */

static void owner_of(const struct agent *a, struct lc_state_owner *o)
{
	memset(o, 0, sizeof(*o));
	state_file_boot_id(o->boot_id, sizeof(o->boot_id));
	format_into(o->instance_id, sizeof(o->instance_id), "%s", a->ident.id.instance_id);
}

static void save(struct agent *a)
{
	_cleanup_json_ json_t *doc = NULL;
	struct lc_state_owner owner;
	int r;

	owner_of(a, &owner);
	doc = lifecycle_state_to_json(&a->lc, &owner);
	if (!doc)
		return;
	r = state_file_save(a->cfg->lc.state_dir, doc);
	if (r < 0) {
		/* Not only in `status`: a full or read-only state directory
		 * means a restart cannot resume this step, which the operator
		 * must learn from the journal. */
		agent_record_error(a, "cannot save the lifecycle state in %s: %s",
		                   a->cfg->lc.state_dir, strerror(-r));
		log_warning("lifecycle: cannot save the lifecycle state in %s: %s; a restart "
		            "would not resume from here",
		            a->cfg->lc.state_dir, strerror(-r));
	}
}

/* A state file that does not validate is never trusted (a crash loop on
 * a bad field is worse than starting afresh): it is renamed for a
 * post-mortem and the agent starts as if there were none. */
static void set_aside(struct agent *a, const char *why)
{
	const char *dir = a->cfg->lc.state_dir;
	char name[128] = "";
	int r = state_file_set_aside(dir, name, sizeof(name));

	if (r < 0)
		agent_record_error(a, "invalid lifecycle state %s/%s (%s), and cannot set it aside: "
		                      "%s; ignoring it",
		                   dir, STATE_FILE_NAME, why, strerror(-r));
	else
		agent_record_error(a, "invalid lifecycle state %s/%s (%s); moved to %s/%s, starting "
		                      "afresh",
		                   dir, STATE_FILE_NAME, why, dir, name);
	log_error("lifecycle: %s", a->last_error);
}

/* Resumes from the state file when it is valid and this boot's and this
 * instance's: an agent restarted mid-drain carries on where it was. */
static void load(struct agent *a)
{
	struct lifecycle *lc = &a->lc;
	_cleanup_json_ json_t *doc = NULL;
	struct lc_state_owner now, saved;
	struct lifecycle v = *lc;
	char why[256];
	int r;

	r = state_file_load(a->cfg->lc.state_dir, &doc);
	if (r == -ENOENT)
		return;
	if (r == -EBADMSG) {
		set_aside(a, "not a JSON object, or not a regular file under 64 KiB");
		return;
	}
	if (r < 0) {
		agent_record_error(a, "cannot read %s/%s: %s", a->cfg->lc.state_dir,
		                   STATE_FILE_NAME, strerror(-r));
		log_error("lifecycle: %s", a->last_error);
		return;
	}
	if (lifecycle_state_from_json(doc, &v, &saved, why, sizeof(why)) < 0) {
		set_aside(a, why);
		return;
	}
	owner_of(a, &now);
	if (strcmp(saved.boot_id, now.boot_id) || strcmp(saved.instance_id, now.instance_id)) {
		log_info("lifecycle: ignoring %s/%s from another boot or instance",
		         a->cfg->lc.state_dir, STATE_FILE_NAME);
		return;
	}
	*lc = v;
	lc->loaded = true;
	log_info("lifecycle: resuming %s (%s) from %s/%s, entered %.1f s ago",
	         state_names[lc->state], lifecycle_phase(lc), a->cfg->lc.state_dir,
	         STATE_FILE_NAME, (double)(wall_ms() - lc->since_ms) / 1000);
}

/* ---- outputs ---- */

static void notify(struct agent *a)
{
	char s[256];

	lifecycle_summary(&a->lc, s, sizeof(s));
	sd_notifyf(0, "STATUS=%s", s);
}

/* READY=1 once booting is left: the launch gate is decided. */
static void outputs(struct agent *a)
{
	struct lifecycle *lc = &a->lc;

	metrics_set_publishing(&a->metrics, lc->state == LC_READY);
	if (lc->state != LC_BOOTING && !lc->ready_sent) {
		char s[256];
		lifecycle_summary(lc, s, sizeof(s));
		sd_notifyf(0, "READY=1\nSTATUS=%s", s);
		lc->ready_sent = true;
	} else {
		notify(a);
	}
}

static void enter(struct agent *a, enum lc_state to, const char *why)
{
	struct lifecycle *lc = &a->lc;
	int64_t now = wall_ms();
	const char *fields[] = {NULL, NULL};
	char f[64];

	format_into(f, sizeof(f), "LIFECYCLE_STATE=%s", state_names[to]);
	fields[0] = f;
	log_fields(LOG_NOTICE, fields, "lifecycle: %s -> %s after %.1f s: %s",
	           state_names[lc->state], state_names[to],
	           lc->since_ms ? (double)(now - lc->since_ms) / 1000 : 0.0, why);
	lc->state = to;
	lc->since_ms = now;
	lc->step = LC_STEP_NONE;
	lc->step_since_ms = 0;
	save(a);
	outputs(a);
}

static void step(struct agent *a, enum lc_step to)
{
	struct lifecycle *lc = &a->lc;
	int64_t now = wall_ms();

	if (lc->step != LC_STEP_NONE)
		log_info("lifecycle: drain step %s done in %.1f s", step_names[lc->step],
		         (double)(now - lc->step_since_ms) / 1000);
	lc->step = to;
	lc->step_since_ms = now;
	lc->quiet_since_mono = 0;
	if (to != LC_STEP_DONE)
		log_info("lifecycle: drain step %s (%s)", step_names[to], lifecycle_phase(lc));
	save(a);
	notify(a);
}

static void call_failed(struct agent *a, const char *what, int r, const struct aws_response *resp)
{
	agent_record_error(a, "%s failed: %s%s%s", what, resp->code[0] ? resp->code : "",
	                   resp->code[0] ? ": " : "",
	                   resp->message[0] ? resp->message : strerror(r < 0 ? -r : r));
	log_warning("lifecycle: %s failed: %s; retrying", what, a->last_error);
	a->lc.next_call_mono = now_mono_ms() + RETRY_PACE_MS;
}

/* ---- discovery ---- */

/* Hooks and target groups: from the configuration, else Describe calls
 * (which need autoscaling:DescribeLifecycleHooks/DescribeAutoScalingGroups;
 * naming them in the configuration avoids those permissions). */
static void discover(struct agent *a)
{
	const struct lifecycle_config *c = &a->cfg->lc;
	struct lifecycle *lc = &a->lc;
	struct aws_response resp;
	int r;

	if (lc->hooks_known && lc->tgs_known)
		return;
	if (now_mono_ms() < lc->next_discover_mono)
		return;
	lc->next_discover_mono = now_mono_ms() + RETRY_PACE_MS;
	if (c->hooks_configured && !lc->hooks_known) {
		memset(&lc->hooks, 0, sizeof(lc->hooks));
		if (c->launching_hook) {
			struct hook *h = &lc->hooks.h[lc->hooks.n++];
			format_into(h->name, sizeof(h->name), "%s", c->launching_hook);
			h->launching = true;
			h->heartbeat_timeout_s = 3600;
			h->default_abandon = true;
		}
		if (c->terminating_hook) {
			struct hook *h = &lc->hooks.h[lc->hooks.n++];
			format_into(h->name, sizeof(h->name), "%s", c->terminating_hook);
			h->heartbeat_timeout_s = 3600;
			h->default_abandon = true;
		}
		lc->hooks_known = true;
	}
	if (c->target_groups_configured && !lc->tgs_known) {
		for (int i = 0; i < c->n_target_groups; i++)
			format_into(lc->tgs[i], sizeof(lc->tgs[i]), "%s", c->target_groups[i]);
		lc->n_tgs = c->n_target_groups;
		lc->tgs_known = true;
	}
	if (lc->hooks_known && lc->tgs_known)
		return;
	if (!a->ident.asg_source && identity_find_asg(a) < 0)
		return;
	if (!a->aws_ready)
		return;
	if (!lc->hooks_known) {
		r = hooks_describe(&a->aws, a->ident.asg_name, &lc->hooks, &resp);
		if (r == 0) {
			lc->hooks_known = true;
			for (int i = 0; i < lc->hooks.n; i++)
				log_info("lifecycle: %s hook %s (HeartbeatTimeout %d s, "
				         "DefaultResult %s)",
				         lc->hooks.h[i].launching ? "launching" : "terminating",
				         lc->hooks.h[i].name, lc->hooks.h[i].heartbeat_timeout_s,
				         lc->hooks.h[i].default_abandon ? "ABANDON" : "CONTINUE");
			if (!lc->hooks.n)
				log_info("lifecycle: group %s has no lifecycle hooks",
				         a->ident.asg_name);
		} else if (r != -EINTR) {
			call_failed(a, "DescribeLifecycleHooks", r, &resp);
		}
		aws_response_free(&resp);
	}
	if (!lc->tgs_known) {
		r = hooks_describe_target_groups(&a->aws, a->ident.asg_name, lc->tgs,
		                                 LIFECYCLE_MAX_TARGET_GROUPS, &lc->n_tgs, &resp);
		if (r == 0) {
			lc->tgs_known = true;
			log_info("lifecycle: group %s has %d target group(s)", a->ident.asg_name,
			         lc->n_tgs);
		} else if (r != -EINTR) {
			call_failed(a, "DescribeAutoScalingGroups", r, &resp);
		}
		aws_response_free(&resp);
	}
}

static bool has_hook(const struct lifecycle *lc, bool launching)
{
	for (int i = 0; i < lc->hooks.n; i++)
		if (lc->hooks.h[i].launching == launching)
			return true;
	return false;
}

static int min_heartbeat_s(const struct lifecycle *lc, bool launching)
{
	int m = 0;

	for (int i = 0; i < lc->hooks.n; i++)
		if (lc->hooks.h[i].launching == launching &&
		    (!m || lc->hooks.h[i].heartbeat_timeout_s < m))
			m = lc->hooks.h[i].heartbeat_timeout_s;
	return m;
}

/* The instance's LifecycleState is one that comes before a hook's wait
 * state (Pending, Terminating, Warmed:Pending...), by
 * DescribeAutoScalingInstances; false when that cannot be known. */
static bool before_wait_state(struct agent *a)
{
	struct aws_response resp;
	char group[256], state[64] = "";
	int r;

	r = identity_describe_instance(&a->aws, a->ident.id.instance_id, group, sizeof(group),
	                               state, sizeof(state), &resp);
	aws_response_free(&resp);
	return r == 0 && (!strcmp(state, "Pending") || !strcmp(state, "Terminating") ||
	                  !strcmp(state, "Warmed:Pending") || !strcmp(state, "Warmed:Terminating"));
}

/* Completes every hook of the transition.  0 when all are done (or had
 * nothing pending), -EAGAIN to try again later. */
static int complete_hooks(struct agent *a, bool launching, bool abandon)
{
	struct lifecycle *lc = &a->lc;
	uint64_t t0 = now_mono_ms();
	int r = 0;

	if (!a->aws_ready || !a->ident.asg_source)
		return -EAGAIN;
	for (int i = 0; i < lc->hooks.n; i++) {
		const struct hook *h = &lc->hooks.h[i];
		struct aws_response resp;

		if (h->launching != launching)
			continue;
		r = hooks_complete(&a->aws, a->ident.asg_name, h->name, a->ident.id.instance_id,
		                   abandon, &resp);
		if (r == 0)
			log_notice("lifecycle: CompleteLifecycleAction %s %s for %s in %.1f s "
			           "(%d attempt(s))",
			           h->name, abandon ? "ABANDON" : "CONTINUE", a->ident.id.instance_id,
			           (double)(now_mono_ms() - t0) / 1000, resp.attempts);
		else if (r == -ENOENT && before_wait_state(a)) {
			/* Scale-in deregisters from the target groups (the
			 * deregistration delay) before Terminating:Wait: the
			 * action is not there yet. */
			log_info("lifecycle: hook %s: %s is not in its wait state yet; retrying",
			         h->name, a->ident.id.instance_id);
			a->lc.next_call_mono = now_mono_ms() + RETRY_PACE_MS / 4;
			r = -EAGAIN;
		} else if (r == -ENOENT)
			log_info("lifecycle: hook %s: no active lifecycle action for %s; nothing "
			         "pending",
			         h->name, a->ident.id.instance_id);
		else if (r != -EINTR)
			call_failed(a, "CompleteLifecycleAction", r, &resp);
		aws_response_free(&resp);
		if (r < 0 && r != -ENOENT)
			return -EAGAIN;
	}
	return 0;
}

/* RecordLifecycleActionHeartbeat at half the hook's HeartbeatTimeout
 * (a heartbeat restarts the whole timeout, aws.md section 2). */
/* Wall-clock time of this boot: a launching hook's timer starts with the
 * instance (or its start from a warm pool), before the agent runs. */
static int64_t boot_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return wall_ms() - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void heartbeat(struct agent *a, bool launching, int64_t started_ms)
{
	struct lifecycle *lc = &a->lc;
	int hb = min_heartbeat_s(lc, launching);
	int64_t now = wall_ms(), last;
	bool any = false;

	/* The terminating hook's timer starts after we saw Terminated (the
	 * group deregisters first); the launching one's at boot. */
	if (launching && started_ms > boot_wall_ms())
		started_ms = boot_wall_ms();
	last = lc->last_heartbeat_ms > started_ms ? lc->last_heartbeat_ms : started_ms;

	if (!hb || now - last < (int64_t)hb * 500 || !a->aws_ready || !a->ident.asg_source ||
	    now_mono_ms() < lc->next_call_mono)
		return;
	for (int i = 0; i < lc->hooks.n; i++) {
		const struct hook *h = &lc->hooks.h[i];
		struct aws_response resp;
		int r;

		if (h->launching != launching)
			continue;
		r = hooks_heartbeat(&a->aws, a->ident.asg_name, h->name, a->ident.id.instance_id,
		                    &resp);
		if (r == 0) {
			any = true;
			log_info("lifecycle: heartbeat for hook %s (%s for %.1f s)", h->name,
			         lifecycle_phase(lc), (double)(now - lc->since_ms) / 1000);
		} else if (r != -ENOENT && r != -EINTR) {
			call_failed(a, "RecordLifecycleActionHeartbeat", r, &resp);
		}
		aws_response_free(&resp);
	}
	lc->last_heartbeat_ms = now;
	if (any)
		save(a);
}

/* ---- drains ---- */

static bool is_warmed(const char *target)
{
	return !strncmp(target, "Warmed:", 7);
}

/* The causes the current events call for. */
static unsigned wanted_causes(const struct agent *a)
{
	const struct lc_events *ev = &a->lc.ev;
	const struct lifecycle_config *c = &a->cfg->lc;
	unsigned w = 0;

	if (ev->target_known && !strcmp(ev->target_state, "Terminated"))
		w |= LC_CAUSE_TERMINATION;
	if (ev->spot && c->on_spot_interruption)
		w |= LC_CAUSE_SPOT;
	if (ev->scheduled && c->on_scheduled_event)
		w |= LC_CAUSE_SCHEDULED;
	if (ev->rebalance && c->on_rebalance)
		w |= LC_CAUSE_REBALANCE;
	return w;
}

static void consider_deadline(struct lifecycle *lc, int64_t ms, const char *source)
{
	if (ms > 0 && (!lc->deadline_ms || ms < lc->deadline_ms)) {
		lc->deadline_ms = ms;
		format_into(lc->deadline_source, sizeof(lc->deadline_source), "%s", source);
	}
}

/* The earliest of the Spot action time, the scheduled event's start, the
 * terminating hook's timeout and systemd's stop timeout. */
static void update_deadline(struct agent *a)
{
	struct lifecycle *lc = &a->lc;
	int hb = min_heartbeat_s(lc, false);

	if (lc->causes & LC_CAUSE_SPOT && lc->ev.spot)
		consider_deadline(lc, (int64_t)lc->ev.spot_time * 1000, "spot-action");
	if (lc->causes & LC_CAUSE_SCHEDULED && lc->ev.scheduled)
		consider_deadline(lc, (int64_t)lc->ev.scheduled_time * 1000, "scheduled-event");
	/* Heartbeats restart the hook's timeout, up to its global timeout:
	 * 48 h or 100 heartbeat timeouts, whichever is smaller. */
	if (lc->causes & LC_CAUSE_TERMINATION && hb)
		consider_deadline(lc,
		                  lc->drain_started_ms +
		                          (hb < 1728 ? (int64_t)hb * 100 : 172800) * 1000,
		                  "hook-global-timeout");
	if (lc->stop_deadline_ms)
		consider_deadline(lc, lc->stop_deadline_ms, "stop-timeout");
}

/* Plans the in-flight wait and drain.d so that the drain ends before the
 * deadline, keeping a tenth of the time (0.2 to 5 s) for the metric
 * flush and the hook completion. */
static void plan(struct agent *a)
{
	const struct lifecycle_config *c = &a->cfg->lc;
	struct lifecycle *lc = &a->lc;
	int64_t now = wall_ms(), in_flight = c->drain_timeout_ms, scripts_ms = 0;
	char **names = NULL;
	int n = 0;

	if (drain_d_list(c->drain_d, &names, &n) == 0)
		scripts_ms = (int64_t)(n - lc->drain_d_next > 0 ? n - lc->drain_d_next : 0) *
		             c->drain_d_timeout_ms;
	drain_d_free(names, n);
	if (lc->deadline_ms) {
		int64_t total = lc->deadline_ms - now, margin = total / 10;
		if (margin < 200)
			margin = 200;
		if (margin > 5000)
			margin = 5000;
		int64_t avail = total - margin;
		if (avail < 0)
			avail = 0;
		/* drain.d gets at most half of what is left after the margin. */
		if (scripts_ms > avail / 2)
			scripts_ms = avail / 2;
		if (in_flight > avail - scripts_ms)
			in_flight = avail - scripts_ms;
	}
	lc->in_flight_until_ms = now + in_flight;
	lc->drain_d_until_ms = lc->in_flight_until_ms + scripts_ms;
	if (lc->deadline_ms) {
		char d[16];
		clock_text(lc->deadline_ms, d, sizeof(d));
		log_info("lifecycle: deadline %s (%s, in %.1f s): in-flight wait up to %.1f s, "
		         "drain.d up to %.1f s",
		         d, lc->deadline_source, (double)(lc->deadline_ms - now) / 1000,
		         (double)in_flight / 1000, (double)scripts_ms / 1000);
	}
}

static void start_drain(struct agent *a, unsigned causes)
{
	struct lifecycle *lc = &a->lc;
	char why[128];

	causes_text(causes, why, sizeof(why));
	lc->causes = causes;
	lc->drain_started_ms = wall_ms();
	lc->deadline_ms = 0;
	lc->deadline_source[0] = '\0';
	lc->deregistered = false;
	lc->drain_d_next = 0;
	lc->last_heartbeat_ms = 0;
	update_deadline(a);
	/* The serving periods go out with the flush; none after. */
	metrics_close_current(&a->metrics);
	enter(a, LC_DRAINING, why);
	plan(a);
	step(a, LC_STEP_DRAIN_HEALTH);
}

static void deregister(struct agent *a, bool registered)
{
	struct lifecycle *lc = &a->lc;

	for (int i = 0; i < lc->n_tgs; i++) {
		struct aws_response resp;
		uint64_t t0 = now_mono_ms();
		int r = hooks_set_target(&a->aws, lc->tgs[i], a->ident.id.instance_id, registered,
		                         &resp);
		if (r == 0)
			log_notice("lifecycle: %s %s %s in %.1f s",
			           registered ? "RegisterTargets" : "DeregisterTargets",
			           a->ident.id.instance_id, lc->tgs[i],
			           (double)(now_mono_ms() - t0) / 1000);
		else if (r != -EINTR)
			call_failed(a, registered ? "RegisterTargets" : "DeregisterTargets", r,
			            &resp);
		aws_response_free(&resp);
		if (r < 0)
			return;
	}
	lc->deregistered = !registered;
}

/* An interruption that went away (a canceled scheduled event, a
 * withdrawn rebalance recommendation) before drain.d ran: serve again. */
static bool maybe_cancel(struct agent *a, unsigned wanted)
{
	struct lifecycle *lc = &a->lc;

	if (wanted || !lc->causes ||
	    lc->causes & ~(unsigned)(LC_CAUSE_SCHEDULED | LC_CAUSE_REBALANCE))
		return false;
	/* drain.d is not undone: its scripts see ASG_AGENT_DRAIN_CAUSE. */
	if (lc->state == LC_DRAINED || lc->step > LC_STEP_DRAIN_D)
		log_warning("lifecycle: the interruption was canceled after drain.d ran");
	if (lc->deregistered) {
		if (!a->aws_ready || now_mono_ms() < lc->next_call_mono)
			return true; /* re-register first; retried */
		deregister(a, true);
		if (lc->deregistered)
			return true;
	}
	if (health_set_drain(a->cfg->health_socket, false) < 0)
		log_warning("lifecycle: cannot undrain asg-health at %s",
		            a->cfg->health_socket);
	lc->causes = 0;
	lc->deadline_ms = 0;
	enter(a, LC_READY, "the interruption was canceled; serving again");
	return true;
}

static bool past(int64_t ms)
{
	return ms && wall_ms() >= ms;
}

static void drain_tick(struct agent *a)
{
	const struct lifecycle_config *c = &a->cfg->lc;
	struct lifecycle *lc = &a->lc;
	unsigned wanted = wanted_causes(a);

	if (maybe_cancel(a, wanted))
		return;
	if (wanted & ~lc->causes) {
		char why[128];
		lc->causes |= wanted;
		causes_text(lc->causes, why, sizeof(why));
		log_notice("lifecycle: drain now also for %s", why);
		update_deadline(a);
		plan(a);
		save(a);
	}
	if (lc->causes & (LC_CAUSE_TERMINATION | LC_CAUSE_WARM_POOL) && !lc->terminate_done)
		heartbeat(a, false, lc->drain_started_ms);
	lc->health_err = health_read(a->cfg->health_socket, c->launch_rise, &lc->health);

	switch (lc->step) {
	case LC_STEP_NONE:
	case LC_STEP_DRAIN_HEALTH: {
		int r = health_set_drain(a->cfg->health_socket, true);
		if (r < 0)
			log_warning("lifecycle: cannot drain asg-health at %s: %s; going on",
			            a->cfg->health_socket, strerror(-r));
		else
			log_info("lifecycle: asg-health drained: /health answers 503");
		step(a, lc->causes & LC_CAUSE_INTERRUPTION ? LC_STEP_DEREGISTER
		                                            : LC_STEP_IN_FLIGHT);
		return;
	}
	case LC_STEP_DEREGISTER:
		/* The ALB does not know about interruptions: without this it
		 * routes here until the health checks fail.  On scale-in the
		 * group deregistered the instance before Terminating:Wait. */
		if (!lc->tgs_known)
			discover(a);
		if (!lc->deregistered && lc->tgs_known && lc->n_tgs && a->aws_ready &&
		    now_mono_ms() >= lc->next_call_mono)
			deregister(a, false);
		if (lc->deregistered || (lc->tgs_known && !lc->n_tgs))
			step(a, lc->deregistered ? LC_STEP_IN_FLIGHT : LC_STEP_WAIT_LB);
		else if (past(lc->in_flight_until_ms))
			step(a, LC_STEP_WAIT_LB);
		return;
	case LC_STEP_WAIT_LB:
		/* No deregistration: asg-health knows the ALB has stopped
		 * sending once every recent prober had its unhealthy
		 * threshold of 503s. */
		if (lc->health_err < 0 || lc->health.drain_confirmed || !lc->health.probers ||
		    past(lc->in_flight_until_ms)) {
			if (lc->health.drain_confirmed)
				log_info("lifecycle: the load balancer has seen the drain");
			step(a, LC_STEP_IN_FLIGHT);
		}
		return;
	case LC_STEP_IN_FLIGHT: {
		/* Nothing in flight is not enough: each load balancer node
		 * learns of a deregistration on its own, and some go on
		 * sending new requests for a few seconds.  The instance may
		 * leave once no request but the probes has arrived, and none
		 * has been in flight, for drain_quiet. */
		uint64_t now = now_mono_ms();
		unsigned long long traffic = lc->health.requests - lc->health.probes;

		if (lc->health_err == 0 &&
		    (!lc->quiet_since_mono || traffic != lc->traffic || lc->health.in_flight)) {
			lc->traffic = traffic;
			lc->quiet_since_mono = now;
		}
		if (lc->health_err < 0 ||
		    (lc->health.in_flight == 0 &&
		     now - lc->quiet_since_mono >= (uint64_t)c->drain_quiet_ms)) {
			step(a, LC_STEP_DRAIN_D);
		} else if (past(lc->in_flight_until_ms)) {
			if (lc->health.in_flight)
				log_warning("lifecycle: %ld request(s) still in flight at the end of "
				            "the planned wait; going on",
				            lc->health.in_flight);
			else
				log_warning("lifecycle: new requests still arriving at the end of "
				            "the planned wait; going on");
			step(a, LC_STEP_DRAIN_D);
		}
		return;
	}
	case LC_STEP_DRAIN_D: {
		char **names = NULL;
		int n = 0, r;

		r = drain_d_list(c->drain_d, &names, &n);
		if (r < 0)
			log_warning("lifecycle: cannot read %s: %s", c->drain_d, strerror(-r));
		if (lc->drain_d_next < n) {
			const char *name = names[lc->drain_d_next];
			int64_t left = lc->drain_d_until_ms - wall_ms();
			long long timeout = c->drain_d_timeout_ms < left ? c->drain_d_timeout_ms : left;
			char causes[160], deadline[64], inst[64];
			const char *env[] = {causes, deadline, inst, NULL};
			uint64_t t0 = now_mono_ms();

			if (timeout < 10)
				timeout = 10;
			char tmp[128];

			causes_text(lc->causes, tmp, sizeof(tmp));
			format_into(causes, sizeof(causes), "ASG_AGENT_DRAIN_CAUSE=%s", tmp);
			format_into(deadline, sizeof(deadline), "ASG_AGENT_DEADLINE=%lld",
			            (long long)(lc->deadline_ms / 1000));
			format_into(inst, sizeof(inst), "ASG_AGENT_INSTANCE_ID=%s",
			            a->ident.id.instance_id);
			char why[512];

			/* Skipped, not fatal: the drain (and the hook's completion)
			 * goes on, as run-parts skips what it must not run. */
			if (drain_d_check(c->drain_d, name, why, sizeof(why)) < 0) {
				agent_record_error(a, "drain.d: refusing %s: %s; skipped", name, why);
				log_error("lifecycle: %s", a->last_error);
				r = 0;
			} else {
				log_info("lifecycle: running %s/%s (timeout %.1f s)", c->drain_d, name,
				         (double)timeout / 1000);
				r = drain_d_run(c->drain_d, name, env, timeout);
				if (r == 0)
					log_info("lifecycle: %s/%s done in %.1f s", c->drain_d,
					         name, (double)(now_mono_ms() - t0) / 1000);
			}
			if (r == -ETIME)
				log_warning("lifecycle: %s/%s timed out after %.1f s; killed",
				            c->drain_d, name, (double)timeout / 1000);
			else if (r != 0)
				log_warning("lifecycle: %s/%s failed (%s %d) after %.1f s",
				            c->drain_d, name, r < 0 ? "error" : "exit status",
				            r < 0 ? -r : r, (double)(now_mono_ms() - t0) / 1000);
			lc->drain_d_next++;
			save(a);
		}
		if (lc->drain_d_next >= n)
			step(a, LC_STEP_FLUSH);
		drain_d_free(names, n);
		return;
	}
	case LC_STEP_FLUSH:
		/* The periods served before the drain; skipped when the
		 * deadline is too close for a call that may retry. */
		if (a->aws_ready && metrics_backlog(&a->metrics) &&
		    (!lc->deadline_ms || lc->deadline_ms - wall_ms() > 3000)) {
			if (metrics_publish(&a->metrics, &a->aws) < 0)
				agent_record_error(a, "%s", a->metrics.last_error);
		}
		step(a, LC_STEP_COMPLETE);
		return;
	case LC_STEP_COMPLETE:
		if (!(lc->causes & (LC_CAUSE_TERMINATION | LC_CAUSE_WARM_POOL)) ||
		    lc->terminate_done) {
			step(a, LC_STEP_DONE);
			enter(a, LC_DRAINED, "drain complete");
			return;
		}
		if (!lc->hooks_known)
			discover(a);
		if (!lc->hooks_known || now_mono_ms() < lc->next_call_mono)
			return;
		if (complete_hooks(a, false, false) == 0) {
			lc->terminate_done = true;
			step(a, LC_STEP_DONE);
			enter(a, LC_DRAINED, "drain complete, terminating hook completed");
		}
		return;
	case LC_STEP_DONE:
		enter(a, LC_DRAINED, "drain complete");
		return;
	}
}

/* ---- the launch gate ---- */

/* Whether a launching hook is pending for this instance: the group's
 * LifecycleState, when DescribeAutoScalingInstances is allowed; else
 * assume so (completing a hook with nothing pending is harmless). */
static bool launch_pending(struct agent *a)
{
	struct aws_response resp;
	char group[256], state[64] = "";
	int r;

	if (!a->aws_ready)
		return true;
	r = identity_describe_instance(&a->aws, a->ident.id.instance_id, group, sizeof(group),
	                               state, sizeof(state), &resp);
	aws_response_free(&resp);
	if (r == -ENOENT)
		return false; /* in no group */
	if (r < 0)
		return true;
	log_info("lifecycle: instance %s is %s in %s", a->ident.id.instance_id, state, group);
	return !strcmp(state, "Pending:Wait") || !strcmp(state, "Pending");
}

static void gate_tick(struct agent *a)
{
	const struct lifecycle_config *c = &a->cfg->lc;
	struct lifecycle *lc = &a->lc;
	int64_t waited = wall_ms() - lc->gate_started_ms;

	lc->health_err = health_read(a->cfg->health_socket, c->launch_rise, &lc->health);
	if (!lc->hooks_known)
		discover(a);
	if (lc->hooks_known)
		heartbeat(a, true, lc->gate_started_ms);
	if (lc->health_err == 0 && lc->health.checks_ready) {
		if (!lc->hooks_known || now_mono_ms() < lc->next_call_mono) {
			if (waited < c->launch_timeout_ms)
				return; /* AWS unreachable: retried until the timeout */
		} else if (complete_hooks(a, true, false) < 0) {
			if (waited < c->launch_timeout_ms)
				return;
		} else {
			char why[128];
			lc->launch_done = true;
			format_into(why, sizeof(why),
			            "critical checks passed %d times; launch hook completed",
			            c->launch_rise);
			enter(a, LC_READY, has_hook(lc, true) ? why : "critical checks passed");
			return;
		}
	}
	if (waited < c->launch_timeout_ms)
		return;
	log_error("lifecycle: not ready after %.1f s: %s; launch hook: %s",
	          (double)waited / 1000,
	          lc->health_err < 0 ? "asg-health unreachable"
	          : lc->health.failing[0] ? lc->health.failing
	                                 : "AWS unreachable",
	          c->launch_timeout_abandon ? "ABANDON" : "CONTINUE");
	agent_record_error(a, "launch gate timed out: %s",
	                   lc->health_err < 0 ? "asg-health unreachable" : lc->health.failing);
	if (lc->hooks_known && complete_hooks(a, true, c->launch_timeout_abandon) < 0 &&
	    waited < c->launch_timeout_ms + 60000)
		return; /* the hook's own timeout is the last resort */
	lc->launch_done = true;
	if (c->launch_timeout_abandon) {
		lc->causes = LC_CAUSE_LAUNCH_ABANDONED;
		enter(a, LC_DRAINED, "launch abandoned: the group replaces the instance");
	} else {
		enter(a, LC_READY, "launch timeout; continuing as configured");
	}
}

/* ---- the machine ---- */

static void boot_tick(struct agent *a)
{
	struct lifecycle *lc = &a->lc;
	const char *target = lc->ev.target_known ? lc->ev.target_state : "";

	if (a->ident.imds != IMDS_OK) {
		enter(a, LC_READY, "no instance metadata: no lifecycle to follow");
		return;
	}
	if (!lc->ev_valid)
		return;
	discover(a);
	if (is_warmed(target)) {
		enter(a, LC_WARMED, target);
		return;
	}
	if (!strcmp(target, "Terminated")) {
		start_drain(a, LC_CAUSE_TERMINATION);
		return;
	}
	if (lc->hooks_known && !has_hook(lc, true)) {
		enter(a, LC_READY, "no launching hook");
		return;
	}
	/* 404: the instance never transitioned, so no hook can be pending
	 * (in Pending:Wait it already reads InService). */
	if (!lc->ev.target_known) {
		enter(a, LC_READY, "no target lifecycle state");
		return;
	}
	if (!launch_pending(a)) {
		lc->launch_done = true;
		enter(a, LC_READY, "already in service");
		return;
	}
	lc->gate_started_ms = wall_ms();
	lc->last_heartbeat_ms = 0;
	enter(a, LC_WARMING,
	      lc->hooks_known ? "Pending:Wait under a launching hook: gating on asg-health's "
	                        "critical checks"
	                      : "hooks unknown (AWS unreachable): gating on asg-health's checks");
}

static void warmed_tick(struct agent *a)
{
	struct lifecycle *lc = &a->lc;
	const char *target = lc->ev.target_known ? lc->ev.target_state : "";

	if (!strcmp(target, "InService")) {
		lc->launch_done = false;
		lc->gate_started_ms = wall_ms();
		lc->last_heartbeat_ms = 0;
		enter(a, LC_WARMING, "leaving the warm pool");
		return;
	}
	if (!strcmp(target, "Terminated")) {
		start_drain(a, LC_CAUSE_TERMINATION);
		return;
	}
	/* Entering the pool pauses at Warmed:Pending:Wait under the launching
	 * hook: the instance serves nothing from the pool, so no gate. */
	if (!lc->launch_done) {
		discover(a);
		if (!lc->hooks_known || now_mono_ms() < lc->next_call_mono)
			return;
		if (complete_hooks(a, true, false) == 0) {
			lc->launch_done = true;
			save(a);
		}
	}
}

static void ready_tick(struct agent *a)
{
	struct lifecycle *lc = &a->lc;
	unsigned wanted = wanted_causes(a);

	if (lc->ev.target_known && is_warmed(lc->ev.target_state))
		wanted |= LC_CAUSE_WARM_POOL;
	if (wanted)
		start_drain(a, wanted);
}

static void drained_tick(struct agent *a)
{
	struct lifecycle *lc = &a->lc;
	unsigned wanted = wanted_causes(a);

	if (maybe_cancel(a, wanted))
		return;

	if (lc->causes & LC_CAUSE_WARM_POOL && lc->ev.target_known &&
	    !strcmp(lc->ev.target_state, "InService")) {
		health_set_drain(a->cfg->health_socket, false);
		lc->causes = 0;
		lc->launch_done = false;
		lc->terminate_done = false;
		lc->gate_started_ms = wall_ms();
		lc->last_heartbeat_ms = 0;
		enter(a, LC_WARMING, "back from the warm pool");
		return;
	}
	/* A drained instance the group now terminates (after a Spot notice,
	 * a scheduled event): complete its hook at once. */
	if (wanted & LC_CAUSE_TERMINATION && !lc->terminate_done &&
	    !(lc->causes & LC_CAUSE_LAUNCH_ABANDONED)) {
		if (!(lc->causes & LC_CAUSE_TERMINATION)) {
			lc->causes |= LC_CAUSE_TERMINATION;
			log_notice("lifecycle: terminating while drained: completing the hook");
			save(a);
		}
		discover(a);
		if (!lc->hooks_known || now_mono_ms() < lc->next_call_mono)
			return;
		if (!has_hook(lc, false) || complete_hooks(a, false, false) == 0) {
			lc->terminate_done = true;
			save(a);
			notify(a);
		}
	}
}

static void log_events(struct agent *a, const struct lc_events *old)
{
	const struct lc_events *ev = &a->lc.ev;
	char t[32];

	if (strcmp(old->target_state, ev->target_state) || old->target_known != ev->target_known)
		log_info("lifecycle: target lifecycle state %s",
		         ev->target_known ? ev->target_state : "unknown (404)");
	if (ev->spot && (!old->spot || old->spot_time != ev->spot_time)) {
		format_iso8601(ev->spot_time, t, sizeof(t));
		log_notice("lifecycle: Spot interruption notice: %s at %s", ev->spot_action, t);
	}
	if (ev->rebalance && !old->rebalance)
		log_notice("lifecycle: rebalance recommendation%s",
		           a->cfg->lc.on_rebalance ? "" : " (not acted on: on_rebalance is false)");
	if (ev->scheduled && (!old->scheduled || strcmp(old->scheduled_id, ev->scheduled_id))) {
		format_iso8601(ev->scheduled_time, t, sizeof(t));
		log_notice("lifecycle: scheduled event %s %s not before %s", ev->scheduled_id,
		           ev->scheduled_code, t);
	}
	if (!ev->scheduled && old->scheduled)
		log_notice("lifecycle: scheduled event %s no longer active", old->scheduled_id);
}

static void watch(struct agent *a)
{
	struct lifecycle *lc = &a->lc;
	struct lc_events old = lc->ev;
	int r;

	if (a->ident.imds != IMDS_OK)
		return;
	r = watch_poll(&a->imds, &lc->ev);
	if (r == -EINTR)
		return;
	/* At boot, a few failures are waited out; then the items are taken
	 * as absent rather than holding READY=1 back for ever. */
	if (r < 0 && !lc->ev_valid && ++lc->watch_failures < 3) {
		log_warning("lifecycle: cannot read the instance metadata: %s; retrying",
		            a->imds.last_error);
		return;
	}
	if (lc->ev_valid)
		log_events(a, &old);
	else
		log_events(a, &(struct lc_events){.target_known = false});
	lc->ev_valid = true;
}

void lifecycle_init(struct agent *a)
{
	struct lifecycle *lc = &a->lc;

	memset(lc, 0, sizeof(*lc));
	lc->since_ms = wall_ms();
	if (a->ident.imds == IMDS_OK)
		load(a);
	metrics_set_publishing(&a->metrics, lc->state == LC_READY);
}

uint64_t lifecycle_tick(struct agent *a)
{
	const struct lifecycle_config *c = &a->cfg->lc;
	struct lifecycle *lc = &a->lc;
	uint64_t now = now_mono_ms();
	enum lc_state before;

	if (now >= lc->next_watch_mono) {
		watch(a);
		lc->next_watch_mono = now_mono_ms() + (uint64_t)c->watch_interval_ms;
	}
	if (lc->loaded) {
		/* A resumed state: tell systemd, which restarted us. */
		lc->loaded = false;
		outputs(a);
	}
	do {
		before = lc->state;
		switch (lc->state) {
		case LC_BOOTING:
			boot_tick(a);
			break;
		case LC_WARMED:
			warmed_tick(a);
			break;
		case LC_WARMING:
			gate_tick(a);
			break;
		case LC_READY:
			ready_tick(a);
			break;
		case LC_DRAINING:
			drain_tick(a);
			break;
		case LC_DRAINED:
			drained_tick(a);
			break;
		}
		/* A transition may enable the next one at once (ready ->
		 * draining at boot). */
	} while (lc->state != before && lc->state != LC_DRAINED);
	if (lc->state == LC_WARMING || lc->state == LC_DRAINING) {
		uint64_t t = now_mono_ms() + ACTIVE_TICK_MS;
		return t < lc->next_watch_mono ? t : lc->next_watch_mono;
	}
	if (lc->state == LC_BOOTING && lc->ev_valid) {
		uint64_t t = now_mono_ms() + RETRY_PACE_MS;
		return t < lc->next_watch_mono ? t : lc->next_watch_mono;
	}
	return lc->next_watch_mono;
}

bool lifecycle_stop(struct agent *a)
{
	struct lifecycle *lc = &a->lc;

	if (lc->state != LC_DRAINING)
		return true;
	/* Keep some of systemd's stop timeout for the exit itself. */
	lc->stop_deadline_ms = wall_ms() + a->cfg->lc.stop_timeout_ms * 9 / 10;
	update_deadline(a);
	plan(a);
	log_notice("lifecycle: stop requested while draining; finishing within %.1f s",
	           (double)(lc->stop_deadline_ms - wall_ms()) / 1000);
	return false;
}

bool lifecycle_may_exit(const struct agent *a)
{
	const struct lifecycle *lc = &a->lc;

	return lc->state != LC_DRAINING || past(lc->stop_deadline_ms);
}

json_t *lifecycle_status(const struct agent *a)
{
	const struct lifecycle *lc = &a->lc;
	json_t *o = json_object(), *hooks = json_array(), *tgs = json_array(), *ev = json_object();
	char since[32], causes[128];

	if (!o || !hooks || !tgs || !ev) {
		json_decref(o);
		json_decref(hooks);
		json_decref(tgs);
		json_decref(ev);
		return NULL;
	}
	format_iso8601((time_t)(lc->since_ms / 1000), since, sizeof(since));
	causes_text(lc->causes, causes, sizeof(causes));
	json_object_set_new(o, "state", json_string(state_names[lc->state]));
	json_object_set_new(o, "phase", json_string(lifecycle_phase(lc)));
	json_object_set_new(o, "since", json_string(since));
	if (lc->step_since_ms) {
		format_iso8601((time_t)(lc->step_since_ms / 1000), since, sizeof(since));
		json_object_set_new(o, "step", json_string(step_names[lc->step]));
		json_object_set_new(o, "step_since", json_string(since));
	}
	json_object_set_new(o, "causes", json_string(causes));
	if (lc->deadline_ms) {
		format_iso8601((time_t)(lc->deadline_ms / 1000), since, sizeof(since));
		json_object_set_new(o, "deadline", json_string(since));
		json_object_set_new(o, "deadline_source", json_string(lc->deadline_source));
	}
	json_object_set_new(o, "launch_hook_completed", json_boolean(lc->launch_done));
	json_object_set_new(o, "terminating_hook_completed", json_boolean(lc->terminate_done));
	json_object_set_new(o, "deregistered", json_boolean(lc->deregistered));
	for (int i = 0; lc->hooks_known && i < lc->hooks.n; i++)
		json_array_append_new(
		        hooks, json_pack("{s:s,s:s,s:i}", "name", lc->hooks.h[i].name,
		                         "transition",
		                         lc->hooks.h[i].launching ? "launching" : "terminating",
		                         "heartbeat_timeout_s", lc->hooks.h[i].heartbeat_timeout_s));
	json_object_set_new(o, "hooks", lc->hooks_known ? hooks : json_null());
	if (!lc->hooks_known)
		json_decref(hooks);
	for (int i = 0; lc->tgs_known && i < lc->n_tgs; i++)
		json_array_append_new(tgs, json_string(lc->tgs[i]));
	json_object_set_new(o, "target_groups", lc->tgs_known ? tgs : json_null());
	if (!lc->tgs_known)
		json_decref(tgs);
	json_object_set_new(ev, "target_lifecycle_state",
	                    lc->ev.target_known ? json_string(lc->ev.target_state) : json_null());
	json_object_set_new(ev, "spot_action",
	                    lc->ev.spot ? json_string(lc->ev.spot_action) : json_null());
	json_object_set_new(ev, "rebalance_recommendation", json_boolean(lc->ev.rebalance));
	json_object_set_new(ev, "scheduled_event",
	                    lc->ev.scheduled ? json_string(lc->ev.scheduled_code) : json_null());
	json_object_set_new(o, "events", ev);
	if (lc->state == LC_WARMING || lc->state == LC_DRAINING) {
		json_object_set_new(o, "in_flight", json_integer(lc->health.in_flight));
		json_object_set_new(o, "failing_checks", json_string(lc->health.failing));
	}
	return o;
}
