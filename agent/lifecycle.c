/* The lifecycle engine: lifecycle_step() and the states booting, warmed,
 * ready and drained (the launch gate is lifecycle-gate.c, the drain
 * lifecycle-drain.c).  Pure: events in, actions out (lifecycle.h).
 *
 * The engine asks for one kind of call at a time and decides again only
 * once every call it asked for has answered (lc->pending == 0): the
 * decisions then always see the answers, whatever order events come in. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "lifecycle-internal.h"
#include "strbuf.h"
#include "timeutil.h"

struct lc_action *lc_emit(struct lc_ctx *c, enum lc_action_kind kind)
{
	struct lc_actions *out = c->out;
	struct lc_action *a;

	if (out->n >= LC_MAX_ACTIONS) {
		out->overflow = true;
		a = &out->spill;
	} else {
		a = &out->a[out->n++];
	}
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->index = -1;
	return a;
}

void lc_log(struct lc_ctx *c, int level, const char *fmt, ...)
{
	struct lc_action *a = lc_emit(c, LC_ACT_LOG);
	va_list ap;

	a->level = level;
	va_start(ap, fmt);
	vsnprintf(a->text, sizeof(a->text), fmt, ap);
	va_end(ap);
}

void lc_record_error(struct lc_ctx *c, const char *fmt, ...)
{
	struct lc_action *a = lc_emit(c, LC_ACT_RECORD_ERROR);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->text, sizeof(a->text), fmt, ap);
	va_end(ap);
}

struct lc_action *lc_call(struct lc_ctx *c, enum lc_action_kind kind, unsigned pending)
{
	c->lc->pending |= pending;
	return lc_emit(c, kind);
}

void lc_save(struct lc_ctx *c)
{
	lc_emit(c, LC_ACT_SAVE);
}

void lc_notify(struct lc_ctx *c)
{
	lc_emit(c, LC_ACT_NOTIFY);
}

void lc_outputs(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;

	lc_emit(c, LC_ACT_PUBLISHING)->flag = lc->state == LC_READY;
	if (lc->state != LC_BOOTING && !lc->ready_sent) {
		lc_emit(c, LC_ACT_NOTIFY)->flag = true;
		lc->ready_sent = true;
	} else {
		lc_notify(c);
	}
}

void lc_enter(struct lc_ctx *c, enum lc_state to, const char *why)
{
	struct lifecycle *lc = c->lc;
	struct lc_action *a;

	a = lc_emit(c, LC_ACT_LOG);
	a->level = LOG_NOTICE;
	a->index = (int)to;
	snprintf(a->text, sizeof(a->text), "lifecycle: %s -> %s after %.1f s: %s",
	         lifecycle_state_name(lc->state), lifecycle_state_name(to),
	         lc->since_ms ? (double)(c->now - lc->since_ms) / 1000 : 0.0, why);
	lc->state = to;
	lc->since_ms = c->now;
	lc->step = LC_STEP_NONE;
	lc->step_since_ms = 0;
	lc->health_fresh = false;
	lc_save(c);
	lc_outputs(c);
}

void lc_step_to(struct lc_ctx *c, enum lc_step to)
{
	struct lifecycle *lc = c->lc;

	if (lc->step != LC_STEP_NONE)
		lc_log(c, LOG_INFO, "lifecycle: drain step %s done in %.1f s",
		       lifecycle_step_name(lc->step), (double)(c->now - lc->step_since_ms) / 1000);
	lc->step = to;
	lc->step_since_ms = c->now;
	lc->quiet_since_ms = 0;
	/* Each step decides on what asg-health said after it began. */
	lc->health_fresh = false;
	if (to != LC_STEP_DONE)
		lc_log(c, LOG_INFO, "lifecycle: drain step %s (%s)", lifecycle_step_name(to),
		       lifecycle_phase(lc));
	lc_save(c);
	lc_notify(c);
}

bool lc_may_call(const struct lifecycle *lc, int64_t now)
{
	return lc->aws_ready && lc->asg_known && now >= lc->next_call_ms;
}

void lc_call_failed(struct lc_ctx *c, enum lc_result r)
{
	/* Scale-in deregisters from the target groups (the deregistration
	 * delay) before Terminating:Wait: the action is not there yet, and
	 * comes soon. */
	if (r == LC_RESULT_NOT_YET)
		c->lc->next_call_ms = c->now + LC_RETRY_PACE_MS / 4;
	else if (r == LC_RESULT_ERROR)
		c->lc->next_call_ms = c->now + LC_RETRY_PACE_MS;
}

bool lc_has_hook(const struct lifecycle *lc, bool launching)
{
	for (int i = 0; i < lc->hooks.n; i++)
		if (lc->hooks.h[i].launching == launching)
			return true;
	return false;
}

int lc_min_heartbeat_s(const struct lifecycle *lc, bool launching)
{
	int m = 0;

	for (int i = 0; i < lc->hooks.n; i++)
		if (lc->hooks.h[i].launching == launching &&
		    (!m || lc->hooks.h[i].heartbeat_timeout_s < m))
			m = lc->hooks.h[i].heartbeat_timeout_s;
	return m;
}

/* Hooks and target groups: from the configuration, else Describe calls
 * (which need autoscaling:DescribeLifecycleHooks/DescribeAutoScalingGroups;
 * naming them in the configuration avoids those permissions). */
bool lc_discover(struct lc_ctx *c)
{
	const struct lifecycle_config *cfg = c->cfg;
	struct lifecycle *lc = c->lc;

	if (lc->hooks_known && lc->tgs_known)
		return false;
	if (c->now < lc->next_discover_ms)
		return false;
	lc->next_discover_ms = c->now + LC_RETRY_PACE_MS;
	if (cfg->hooks_configured && !lc->hooks_known) {
		memset(&lc->hooks, 0, sizeof(lc->hooks));
		if (cfg->launching_hook) {
			struct hook *h = &lc->hooks.h[lc->hooks.n++];
			format_into(h->name, sizeof(h->name), "%s", cfg->launching_hook);
			h->launching = true;
			h->heartbeat_timeout_s = 3600;
			h->default_abandon = true;
		}
		if (cfg->terminating_hook) {
			struct hook *h = &lc->hooks.h[lc->hooks.n++];
			format_into(h->name, sizeof(h->name), "%s", cfg->terminating_hook);
			h->heartbeat_timeout_s = 3600;
			h->default_abandon = true;
		}
		lc->hooks_known = true;
	}
	if (cfg->target_groups_configured && !lc->tgs_known) {
		for (int i = 0; i < cfg->n_target_groups; i++)
			format_into(lc->tgs[i], sizeof(lc->tgs[i]), "%s", cfg->target_groups[i]);
		lc->n_tgs = cfg->n_target_groups;
		lc->tgs_known = true;
	}
	if (lc->hooks_known && lc->tgs_known)
		return false;
	/* The group's name may still come from the instance's tags. */
	if (!lc->aws_ready && lc->asg_known)
		return false;
	lc_call(c, LC_ACT_DISCOVER, LC_PENDING_DISCOVER);
	return true;
}

/* RecordLifecycleActionHeartbeat at half the hook's HeartbeatTimeout
 * (a heartbeat restarts the whole timeout, aws.md section 2). */
bool lc_heartbeat(struct lc_ctx *c, bool launching, int64_t started_ms)
{
	struct lifecycle *lc = c->lc;
	int hb = lc_min_heartbeat_s(lc, launching);
	int64_t last;

	/* The terminating hook's timer starts after we saw Terminated (the
	 * group deregisters first); the launching one's at boot. */
	if (launching && lc->boot_wall_ms && started_ms > lc->boot_wall_ms)
		started_ms = lc->boot_wall_ms;
	last = lc->last_heartbeat_ms > started_ms ? lc->last_heartbeat_ms : started_ms;
	if (!hb || c->now - last < (int64_t)hb * 500 || !lc_may_call(lc, c->now))
		return false;
	lc->last_heartbeat_ms = c->now;
	lc_call(c, LC_ACT_HEARTBEAT, LC_PENDING_HEARTBEAT)->launching = launching;
	return true;
}

static bool is_warmed(const char *target)
{
	return !strncmp(target, "Warmed:", 7);
}

static bool target_is(const struct lifecycle *lc, const char *state)
{
	return lc->ev.target_known && !strcmp(lc->ev.target_state, state);
}

/* Standby (aws.md section 11): the group deregistered the instance and
 * neither checks nor replaces it.  asg-health is drained (again: the
 * operator's `asg-agent standby enter` drained it before EnterStandby;
 * a standby entered from the console was not), and stays so until the
 * instance is back InService. */
static void enter_standby(struct lc_ctx *c, const char *why)
{
	struct lifecycle *lc = c->lc;

	lc->launch_unsettled = false;
	lc->instance_fresh = false;
	lc_enter(c, LC_STANDBY, why);
	lc_call(c, LC_ACT_DRAIN_HEALTH, LC_PENDING_HEALTH_SET)->flag = true;
}

static void standby_decide(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;
	unsigned wanted = lc_wanted_causes(lc, c->cfg);

	/* A termination (or an interruption) in standby drains as from
	 * ready: drain.d runs and the terminating hook is completed. */
	if (wanted) {
		lc_start_drain(c, wanted);
		return;
	}
	/* IMDS gives where the instance is going: InService as soon as
	 * ExitStandby put it in Pending.  The group's own word decides,
	 * when it can be asked. */
	if (!target_is(lc, "InService")) {
		lc->instance_fresh = false;
		return;
	}
	if (lc->aws_ready && lc->asg_known) {
		if (!lc->instance_fresh) {
			if (lc_may_call(lc, c->now))
				lc_call(c, LC_ACT_DESCRIBE_INSTANCE, LC_PENDING_INSTANCE);
			return;
		}
		if (lc->instance_r != -ENOENT &&
		    (lc->instance_r < 0 || strcmp(lc->instance_state, "InService"))) {
			/* Pending, or the call failed: asked again. */
			lc->instance_fresh = false;
			lc->next_call_ms = c->now + LC_RETRY_PACE_MS;
			return;
		}
	}
	/* No hook fires on the way out of standby (aws.md section 2). */
	lc->launch_done = true;
	lc_enter(c, LC_READY, "back in service after standby");
	lc_call(c, LC_ACT_DRAIN_HEALTH, LC_PENDING_HEALTH_SET)->flag = false;
}

static void boot_decide(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;
	const char *target = lc->ev.target_known ? lc->ev.target_state : "";

	if (!lc->imds_ok) {
		lc_enter(c, LC_READY, "no instance metadata: no lifecycle to follow");
		return;
	}
	if (!lc->ev_valid)
		return;
	if (lc_discover(c))
		return;
	if (is_warmed(target)) {
		lc_enter(c, LC_WARMED, target);
		return;
	}
	if (!strcmp(target, "Terminated")) {
		lc_start_drain(c, LC_CAUSE_TERMINATION);
		return;
	}
	if (!strcmp(target, "Standby")) {
		enter_standby(c, "target lifecycle state Standby");
		return;
	}
	if (lc->hooks_known && !lc_has_hook(lc, true)) {
		lc_enter(c, LC_READY, "no launching hook");
		return;
	}
	/* 404: the instance never transitioned, so no hook can be pending
	 * (in Pending:Wait it already reads InService). */
	if (!lc->ev.target_known) {
		lc_enter(c, LC_READY, "no target lifecycle state");
		return;
	}
	/* Whether a launching hook is pending: the group's LifecycleState by
	 * DescribeAutoScalingInstances; without AWS assume so (completing a
	 * hook with nothing pending is harmless). */
	if (lc->launch_pending == LC_LAUNCH_UNKNOWN && lc->aws_ready) {
		lc_call(c, LC_ACT_DESCRIBE_INSTANCE, LC_PENDING_INSTANCE);
		return;
	}
	if (lc->launch_pending == LC_LAUNCH_NOT_PENDING) {
		lc->launch_done = true;
		lc_enter(c, LC_READY, "already in service");
		return;
	}
	lc->gate_started_ms = c->now;
	lc->last_heartbeat_ms = 0;
	lc_enter(c, LC_WARMING,
	         lc->hooks_known
	                 ? "Pending:Wait under a launching hook: gating on asg-health's "
	                   "critical checks"
	                 : "hooks unknown (AWS unreachable): gating on asg-health's checks");
}

static void warmed_decide(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;
	const char *target = lc->ev.target_known ? lc->ev.target_state : "";

	if (!strcmp(target, "InService")) {
		lc->launch_done = false;
		lc->gate_started_ms = c->now;
		lc->last_heartbeat_ms = 0;
		lc_enter(c, LC_WARMING, "leaving the warm pool");
		return;
	}
	if (!strcmp(target, "Terminated")) {
		lc_start_drain(c, LC_CAUSE_TERMINATION);
		return;
	}
	/* Entering the pool pauses at Warmed:Pending:Wait under the launching
	 * hook: the instance serves nothing from the pool, so no gate. */
	if (!lc->launch_done) {
		if (lc_discover(c) || !lc->hooks_known || !lc_may_call(lc, c->now))
			return;
		lc_call(c, LC_ACT_COMPLETE, LC_PENDING_COMPLETE)->launching = true;
	}
}

/* Ready because IMDS could not say the target state at boot: once it
 * says InService, a launch hook may still be pending (Pending:Wait reads
 * InService).  Left alone it would time out with its DefaultResult
 * (ABANDON by default: a serving instance terminated), so the gate runs
 * now.  True while that is being found out. */
static bool settle_launch(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;

	if (!lc->launch_unsettled || lc->launch_done || !lc->ev.target_known)
		return false;
	if ((strcmp(lc->ev.target_state, "InService") && !is_warmed(lc->ev.target_state)) ||
	    (lc->hooks_known && !lc_has_hook(lc, true))) {
		lc->launch_unsettled = false;
		return false;
	}
	if (!lc->hooks_known && lc_discover(c))
		return true;
	if (lc->launch_pending == LC_LAUNCH_UNKNOWN) {
		if (lc->aws_ready)
			lc_call(c, LC_ACT_DESCRIBE_INSTANCE, LC_PENDING_INSTANCE);
		return lc->aws_ready;
	}
	lc->launch_unsettled = false;
	if (lc->launch_pending == LC_LAUNCH_NOT_PENDING) {
		/* Warmed:* then is a scale-in back into the pool: drained. */
		lc->launch_done = !is_warmed(lc->ev.target_state);
		return false;
	}
	if (is_warmed(lc->ev.target_state)) {
		/* Launched into the warm pool: its hook as at boot. */
		lc_enter(c, LC_WARMED, "IMDS answered after boot: launched into the warm pool");
		return true;
	}
	lc->gate_started_ms = c->now;
	lc->last_heartbeat_ms = 0;
	lc_enter(c, LC_WARMING,
	         "IMDS answered after boot: the launch hook is still pending; "
	         "gating on asg-health's critical checks");
	return true;
}

static void ready_decide(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;
	unsigned wanted = lc_wanted_causes(lc, c->cfg);

	if (settle_launch(c))
		return;

	if (lc->ev.target_known && is_warmed(lc->ev.target_state))
		wanted |= LC_CAUSE_WARM_POOL;
	if (wanted)
		lc_start_drain(c, wanted);
	else if (target_is(lc, "Standby"))
		enter_standby(c, "target lifecycle state Standby: the group neither routes to "
		                 "nor replaces the instance");
}

/* Runs the current state's decision until nothing changes, a call is
 * awaited or the instance is drained. */
static void decide(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;

	for (int i = 0; i < 16 && !lc->pending; i++) {
		enum lc_state state = lc->state;
		enum lc_step step = lc->step;

		switch (lc->state) {
		case LC_BOOTING:
			boot_decide(c);
			break;
		case LC_WARMED:
			warmed_decide(c);
			break;
		case LC_WARMING:
			lc_gate_decide(c);
			break;
		case LC_READY:
			ready_decide(c);
			break;
		case LC_DRAINING:
			lc_drain_decide(c);
			break;
		case LC_DRAINED:
			lc_drained_decide(c);
			break;
		case LC_STANDBY:
			standby_decide(c);
			break;
		}
		if ((lc->state == state && lc->step == step) || lc->state == LC_DRAINED)
			break;
	}
}

static void log_events(struct lc_ctx *c, const struct lc_events *old)
{
	const struct lc_events *ev = &c->lc->ev;
	char t[32];

	if (strcmp(old->target_state, ev->target_state) || old->target_known != ev->target_known)
		lc_log(c, LOG_INFO, "lifecycle: target lifecycle state %s",
		       ev->target_known ? ev->target_state : "unknown (404)");
	if (ev->spot && (!old->spot || old->spot_time != ev->spot_time)) {
		format_iso8601(ev->spot_time, t, sizeof(t));
		lc_log(c, LOG_NOTICE, "lifecycle: Spot interruption notice: %s at %s",
		       ev->spot_action, t);
	}
	if (ev->rebalance && !old->rebalance)
		lc_log(c, LOG_NOTICE, "lifecycle: rebalance recommendation%s",
		       c->cfg->on_rebalance ? "" : " (not acted on: on_rebalance is false)");
	if (ev->scheduled && (!old->scheduled || strcmp(old->scheduled_id, ev->scheduled_id))) {
		format_iso8601(ev->scheduled_time, t, sizeof(t));
		lc_log(c, LOG_NOTICE, "lifecycle: scheduled event %s %s not before %s",
		       ev->scheduled_id, ev->scheduled_code, t);
	}
	if (!ev->scheduled && old->scheduled)
		lc_log(c, LOG_NOTICE, "lifecycle: scheduled event %s no longer active",
		       old->scheduled_id);
}

static void on_imds(struct lc_ctx *c, const struct lc_event *ev)
{
	struct lifecycle *lc = c->lc;
	struct lc_events old = lc->ev;

	if (ev->r == -EINTR)
		return;
	/* At boot, a few failures are waited out; then the items are taken
	 * as absent rather than holding READY=1 back for ever. */
	if (ev->r < 0 && !lc->ev_valid && ++lc->watch_failures < 3) {
		lc_log(c, LOG_WARNING, "lifecycle: cannot read the instance metadata: %s; retrying",
		       ev->error);
		return;
	}
	/* Taken as absent after the failures: a launch hook may still be
	 * pending, to be looked at once IMDS answers. */
	if (ev->r < 0 && !lc->ev_valid)
		lc->launch_unsettled = true;
	lc->ev = ev->imds;
	log_events(c, lc->ev_valid ? &old : &(struct lc_events){.target_known = false});
	lc->ev_valid = true;
}

static void on_discovered(struct lc_ctx *c, const struct lc_event *ev)
{
	struct lifecycle *lc = c->lc;

	if (ev->hooks_known && ev->hooks && !lc->hooks_known) {
		lc->hooks = *ev->hooks;
		lc->hooks_known = true;
	}
	if (ev->tgs_known && !lc->tgs_known) {
		lc->n_tgs = ev->n_tgs < LIFECYCLE_MAX_TARGET_GROUPS ? ev->n_tgs
		                                                    : LIFECYCLE_MAX_TARGET_GROUPS;
		for (int i = 0; i < lc->n_tgs; i++)
			memcpy(lc->tgs[i], ev->tgs[i], sizeof(lc->tgs[i]));
		lc->tgs_known = true;
	}
	lc_call_failed(c, ev->result);
}

static void on_timer(struct lc_ctx *c, const struct lc_event *ev)
{
	struct lifecycle *lc = c->lc;

	lc->imds_ok = ev->imds_ok;
	lc->aws_ready = ev->aws_ready;
	lc->asg_known = ev->asg_known;
	lc->drain_d_count = ev->drain_d_count;
	lc->boot_wall_ms = ev->boot_wall_ms;
	if (c->now >= lc->next_watch_ms) {
		lc->next_watch_ms = c->now + c->cfg->watch_interval_ms;
		if (lc->imds_ok && !(lc->pending & LC_PENDING_WATCH))
			lc_call(c, LC_ACT_WATCH, LC_PENDING_WATCH);
	}
	if ((lc->state == LC_WARMING || lc->state == LC_DRAINING) &&
	    !(lc->pending & LC_PENDING_HEALTH))
		lc_call(c, LC_ACT_READ_HEALTH, LC_PENDING_HEALTH);
}

static void on_sigterm(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;

	if (lc->stop_requested)
		return;
	lc->stop_requested = true;
	if (lc->state != LC_DRAINING)
		return;
	/* Keep some of systemd's stop timeout for the exit itself. */
	lc->stop_deadline_ms = c->now + c->cfg->stop_timeout_ms * 9 / 10;
	lc_update_deadline(lc);
	lc_plan(c);
	lc_log(c, LOG_NOTICE, "lifecycle: stop requested while draining; finishing within %.1f s",
	       (double)(lc->stop_deadline_ms - c->now) / 1000);
}

static int64_t min_ms(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t wake_at(const struct lifecycle *lc, int64_t now)
{
	int64_t t = lc->next_watch_ms > now ? lc->next_watch_ms : now + 1;

	if (lc->state == LC_WARMING || lc->state == LC_DRAINING)
		t = min_ms(t, now + LC_ACTIVE_TICK_MS);
	else if (lc->state == LC_BOOTING && lc->ev_valid)
		t = min_ms(t, now + LC_RETRY_PACE_MS);
	else if (lc->state == LC_STANDBY && lc->next_call_ms > now)
		t = min_ms(t, lc->next_call_ms);
	if (lc->stop_requested && lc->stop_deadline_ms > now)
		t = min_ms(t, lc->stop_deadline_ms);
	return t;
}

void lifecycle_step(struct lifecycle *lc, const struct lifecycle_config *cfg,
                    const struct lc_event *ev, int64_t now, struct lc_actions *out)
{
	struct lc_ctx c = {lc, cfg, out, now};

	out->n = 0;
	out->overflow = false;
	switch (ev->kind) {
	case LC_EV_RESTART:
		if (!lc->since_ms)
			lc->since_ms = now;
		if (lc->loaded) {
			/* A resumed state: tell systemd, which restarted us. */
			lc->loaded = false;
			/* Ready with no launch hook completed: whether one is
			 * pending was not saved; found out again. */
			if (lc->state == LC_READY && !lc->launch_done)
				lc->launch_unsettled = true;
			lc_outputs(&c);
			/* asg-health may have restarted too and forgotten the
			 * drain: in standby it stays drained. */
			if (lc->state == LC_STANDBY)
				lc_call(&c, LC_ACT_DRAIN_HEALTH, LC_PENDING_HEALTH_SET)->flag =
				        true;
		} else {
			lc_emit(&c, LC_ACT_PUBLISHING)->flag = lc->state == LC_READY;
		}
		break;
	case LC_EV_TIMER:
		on_timer(&c, ev);
		break;
	case LC_EV_SIGTERM:
		on_sigterm(&c);
		break;
	case LC_EV_IMDS:
		lc->pending &= ~(unsigned)LC_PENDING_WATCH;
		/* The interval runs from the answer: an IMDS that answers
		 * slowly must not take the whole loop. */
		lc->next_watch_ms = now + cfg->watch_interval_ms;
		on_imds(&c, ev);
		break;
	case LC_EV_HEALTH:
		lc->pending &= ~(unsigned)LC_PENDING_HEALTH;
		lc->health_err = ev->r;
		if (ev->r == 0)
			lc->health = ev->health;
		lc->health_fresh = true;
		break;
	case LC_EV_HEALTH_SET:
		lc->pending &= ~(unsigned)LC_PENDING_HEALTH_SET;
		lc_drain_health_set(&c, ev);
		break;
	case LC_EV_DISCOVERED:
		lc->pending &= ~(unsigned)LC_PENDING_DISCOVER;
		on_discovered(&c, ev);
		break;
	case LC_EV_INSTANCE:
		lc->pending &= ~(unsigned)LC_PENDING_INSTANCE;
		if (lc->state == LC_STANDBY) {
			lc->instance_fresh = true;
			lc->instance_r = ev->r;
			memcpy(lc->instance_state, ev->instance_state, sizeof(lc->instance_state));
			lc->instance_state[sizeof(lc->instance_state) - 1] = '\0';
			break;
		}
		lc->launch_pending = ev->flag ? LC_LAUNCH_PENDING : LC_LAUNCH_NOT_PENDING;
		break;
	case LC_EV_COMPLETED:
		lc->pending &= ~(unsigned)LC_PENDING_COMPLETE;
		lc_call_failed(&c, ev->result);
		if (ev->launching)
			lc_gate_completed(&c, ev);
		else
			lc_terminate_completed(&c, ev);
		break;
	case LC_EV_HEARTBEAT:
		lc->pending &= ~(unsigned)LC_PENDING_HEARTBEAT;
		lc_call_failed(&c, ev->result);
		if (ev->result == LC_RESULT_OK)
			lc_save(&c);
		break;
	case LC_EV_TARGETS:
		lc->pending &= ~(unsigned)LC_PENDING_TARGETS;
		lc_call_failed(&c, ev->result);
		lc_drain_targets(&c, ev);
		break;
	case LC_EV_DRAIN_D_DONE:
		lc->pending &= ~(unsigned)LC_PENDING_DRAIN_D;
		lc_drain_d_done(&c);
		break;
	case LC_EV_FLUSHED:
		lc->pending &= ~(unsigned)LC_PENDING_FLUSH;
		lc_drain_flushed(&c);
		break;
	}
	/* The first decision waits for the first timer's facts. */
	if (ev->kind != LC_EV_RESTART)
		decide(&c);
	if (lc->stop_requested && !lc->exit_sent &&
	    (lc->state != LC_DRAINING || (lc->stop_deadline_ms && now >= lc->stop_deadline_ms))) {
		lc->exit_sent = true;
		lc_emit(&c, LC_ACT_EXIT);
	}
	out->wake_ms = wake_at(lc, now);
}
