/* The drain (states draining and drained): asg-health drained first,
 * deregistration from the target groups for interruptions (the ALB does
 * not know about them), the wait for the load balancer and for in-flight
 * requests, drain.d one executable at a time, the metric flush, and the
 * terminating hook completed last.  Each step is planned to end before
 * the deadline (the Spot action, a scheduled event, the hook's global
 * timeout, systemd's stop timeout).  Pure, like lifecycle.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lifecycle-internal.h"
#include "strbuf.h"

static bool past(int64_t ms, int64_t now)
{
	return ms && now >= ms;
}

/* The causes the current events call for. */
unsigned lc_wanted_causes(const struct lifecycle *lc, const struct lifecycle_config *cfg)
{
	const struct lc_events *ev = &lc->ev;
	unsigned w = 0;

	if (ev->target_known && !strcmp(ev->target_state, "Terminated"))
		w |= LC_CAUSE_TERMINATION;
	if (ev->spot && cfg->on_spot_interruption)
		w |= LC_CAUSE_SPOT;
	if (ev->scheduled && cfg->on_scheduled_event)
		w |= LC_CAUSE_SCHEDULED;
	if (ev->rebalance && cfg->on_rebalance)
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
void lc_update_deadline(struct lifecycle *lc)
{
	int hb = lc_min_heartbeat_s(lc, false);

	if (lc->causes & LC_CAUSE_SPOT && lc->ev.spot)
		consider_deadline(lc, (int64_t)lc->ev.spot_time * 1000, "spot-action");
	if (lc->causes & LC_CAUSE_SCHEDULED && lc->ev.scheduled)
		consider_deadline(lc, (int64_t)lc->ev.scheduled_time * 1000, "scheduled-event");
	/* Heartbeats restart the hook's timeout, up to its global timeout:
	 * 48 h or 100 heartbeat timeouts, whichever is smaller. */
	if (lc->causes & LC_CAUSE_TERMINATION && hb)
		consider_deadline(
		        lc, lc->drain_started_ms + (hb < 1728 ? (int64_t)hb * 100 : 172800) * 1000,
		        "hook-global-timeout");
	if (lc->stop_deadline_ms)
		consider_deadline(lc, lc->stop_deadline_ms, "stop-timeout");
}

static void clock_text(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%SZ", &tm);
}

/* Plans the in-flight wait and drain.d so that the drain ends before the
 * deadline, keeping a tenth of the time (0.2 to 5 s) for the metric
 * flush and the hook completion. */
void lc_plan(struct lc_ctx *c)
{
	const struct lifecycle_config *cfg = c->cfg;
	struct lifecycle *lc = c->lc;
	int64_t now = c->now, in_flight = cfg->drain_timeout_ms, scripts_ms;
	int left = lc->drain_d_count - lc->drain_d_next;

	scripts_ms = (int64_t)(left > 0 ? left : 0) * cfg->drain_d_timeout_ms;
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
		lc_log(c, LOG_INFO,
		       "lifecycle: deadline %s (%s, in %.1f s): in-flight wait up to %.1f s, "
		       "drain.d up to %.1f s",
		       d, lc->deadline_source, (double)(lc->deadline_ms - now) / 1000,
		       (double)in_flight / 1000, (double)scripts_ms / 1000);
	}
}

void lc_start_drain(struct lc_ctx *c, unsigned causes)
{
	struct lifecycle *lc = c->lc;
	char why[128];

	lifecycle_causes_text(causes, why, sizeof(why));
	lc->causes = causes;
	lc->drain_started_ms = c->now;
	lc->deadline_ms = 0;
	lc->deadline_source[0] = '\0';
	lc->deregistered = false;
	lc->drain_d_next = 0;
	lc->last_heartbeat_ms = 0;
	lc_update_deadline(lc);
	/* The serving periods go out with the flush; none after. */
	lc_emit(c, LC_ACT_CLOSE_METRICS);
	lc_enter(c, LC_DRAINING, why);
	lc_plan(c);
	lc_step_to(c, LC_STEP_DRAIN_HEALTH);
}

/* An interruption that went away (a canceled scheduled event, a
 * withdrawn rebalance recommendation): serve again. */
bool lc_maybe_cancel(struct lc_ctx *c, unsigned wanted)
{
	struct lifecycle *lc = c->lc;

	if (wanted || !lc->causes ||
	    lc->causes & ~(unsigned)(LC_CAUSE_SCHEDULED | LC_CAUSE_REBALANCE))
		return false;
	/* drain.d is not undone: its scripts see ASG_AGENT_DRAIN_CAUSE. */
	if ((lc->state == LC_DRAINED || lc->step > LC_STEP_DRAIN_D) && !lc->deregistered)
		lc_log(c, LOG_WARNING,
		       "lifecycle: the interruption was canceled after drain.d ran");
	if (lc->ev.target_known && !strcmp(lc->ev.target_state, "Standby")) {
		/* Put in standby during the drain: the group deregistered the
		 * instance and re-registers it on ExitStandby; asg-health stays
		 * drained until then. */
		lc->causes = 0;
		lc->deadline_ms = 0;
		lc->deadline_source[0] = '\0';
		lc->deregistered = false;
		lc->instance_fresh = false;
		lc_enter(c, LC_STANDBY, "the interruption was canceled; in standby");
		return true;
	}
	if (lc->deregistered) {
		/* Registered again first; retried. */
		if (lc_may_call(lc, c->now))
			lc_call(c, LC_ACT_SET_TARGETS, LC_PENDING_TARGETS)->flag = true;
		return true;
	}
	lc_call(c, LC_ACT_DRAIN_HEALTH, LC_PENDING_HEALTH_SET)->flag = false;
	lc->causes = 0;
	lc->deadline_ms = 0;
	lc->deadline_source[0] = '\0';
	lc_enter(c, LC_READY, "the interruption was canceled; serving again");
	return true;
}

static void drain_d_step(struct lc_ctx *c)
{
	const struct lifecycle_config *cfg = c->cfg;
	struct lifecycle *lc = c->lc;

	if (lc->drain_d_next < lc->drain_d_count) {
		struct lc_action *a = lc_call(c, LC_ACT_RUN_DRAIN_D, LC_PENDING_DRAIN_D);
		int64_t left = lc->drain_d_until_ms - c->now;

		a->index = lc->drain_d_next;
		a->timeout_ms = cfg->drain_d_timeout_ms < left ? cfg->drain_d_timeout_ms : left;
		if (a->timeout_ms < 10)
			a->timeout_ms = 10;
		return;
	}
	lc_step_to(c, LC_STEP_FLUSH);
}

static void complete_step(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;

	if (!(lc->causes & (LC_CAUSE_TERMINATION | LC_CAUSE_WARM_POOL)) || lc->terminate_done) {
		lc_step_to(c, LC_STEP_DONE);
		lc_enter(c, LC_DRAINED, "drain complete");
		return;
	}
	if (!lc->hooks_known && lc_discover(c))
		return;
	/* No terminating hook: none configured, or the instance has left its
	 * group (a restart after AWS took the completion and before the state
	 * was saved).  Nothing to call, and no group to call it in: waiting
	 * for one (lc_may_call) held the drain for good, and a SIGTERM then
	 * waited out its stop deadline. */
	if (lc->hooks_known && !lc_has_hook(lc, false)) {
		lc->terminate_done = true;
		lc_step_to(c, LC_STEP_DONE);
		lc_enter(c, LC_DRAINED, "drain complete, no terminating hook to complete");
		return;
	}
	if (!lc->hooks_known || !lc_may_call(lc, c->now))
		return;
	lc_call(c, LC_ACT_COMPLETE, LC_PENDING_COMPLETE);
}

void lc_drain_decide(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;
	unsigned wanted = lc_wanted_causes(lc, c->cfg);

	if (lc_maybe_cancel(c, wanted))
		return;
	if (wanted & ~lc->causes) {
		char why[128];
		lc->causes |= wanted;
		lifecycle_causes_text(lc->causes, why, sizeof(why));
		lc_log(c, LOG_NOTICE, "lifecycle: drain now also for %s", why);
		lc_update_deadline(lc);
		lc_plan(c);
		lc_save(c);
	}
	if (lc->causes & (LC_CAUSE_TERMINATION | LC_CAUSE_WARM_POOL) && !lc->terminate_done &&
	    lc_heartbeat(c, false, lc->drain_started_ms))
		return;

	switch (lc->step) {
	case LC_STEP_NONE:
	case LC_STEP_DRAIN_HEALTH:
		lc_call(c, LC_ACT_DRAIN_HEALTH, LC_PENDING_HEALTH_SET)->flag = true;
		return;
	case LC_STEP_DEREGISTER:
		/* The ALB does not know about interruptions: without this it
		 * routes here until the health checks fail.  On scale-in the
		 * group deregistered the instance before Terminating:Wait. */
		if (!lc->tgs_known && lc_discover(c))
			return;
		if (!lc->deregistered && lc->tgs_known && lc->n_tgs && lc_may_call(lc, c->now)) {
			lc_call(c, LC_ACT_SET_TARGETS, LC_PENDING_TARGETS)->flag = false;
			return;
		}
		if (lc->deregistered || (lc->tgs_known && !lc->n_tgs))
			lc_step_to(c, lc->deregistered ? LC_STEP_IN_FLIGHT : LC_STEP_WAIT_LB);
		else if (past(lc->in_flight_until_ms, c->now))
			lc_step_to(c, LC_STEP_WAIT_LB);
		return;
	case LC_STEP_WAIT_LB:
		/* No deregistration: asg-health knows the ALB has stopped
		 * sending once every recent prober had its unhealthy
		 * threshold of 503s. */
		if (!lc->health_fresh)
			return;
		if (lc->health_err < 0 || lc->health.drain_confirmed || !lc->health.probers ||
		    past(lc->in_flight_until_ms, c->now)) {
			if (lc->health_err == 0 && lc->health.drain_confirmed)
				lc_log(c, LOG_INFO,
				       "lifecycle: the load balancer has seen the drain");
			lc_step_to(c, LC_STEP_IN_FLIGHT);
		}
		return;
	case LC_STEP_IN_FLIGHT: {
		/* Nothing in flight is not enough: each load balancer node
		 * learns of a deregistration on its own, and some go on
		 * sending new requests for a few seconds.  The instance may
		 * leave once no request but the probes has arrived, and none
		 * has been in flight, for drain_quiet. */
		unsigned long long traffic = lc->health.requests - lc->health.probes;

		if (!lc->health_fresh)
			return;
		if (lc->health_err == 0 &&
		    (!lc->quiet_since_ms || traffic != lc->traffic || lc->health.in_flight)) {
			lc->traffic = traffic;
			lc->quiet_since_ms = c->now;
		}
		if (lc->health_err < 0 || (lc->health.in_flight == 0 &&
		                           c->now - lc->quiet_since_ms >= c->cfg->drain_quiet_ms)) {
			lc_step_to(c, LC_STEP_DRAIN_D);
		} else if (past(lc->in_flight_until_ms, c->now)) {
			if (lc->health.in_flight)
				lc_log(c, LOG_WARNING,
				       "lifecycle: %ld request(s) still in flight at the end of "
				       "the "
				       "planned wait; going on",
				       lc->health.in_flight);
			else
				lc_log(c, LOG_WARNING,
				       "lifecycle: new requests still arriving at the end of the "
				       "planned wait; going on");
			lc_step_to(c, LC_STEP_DRAIN_D);
		}
		return;
	}
	case LC_STEP_DRAIN_D:
		drain_d_step(c);
		return;
	case LC_STEP_FLUSH:
		/* The periods served before the drain; skipped when the
		 * deadline is too close for a call that may retry. */
		if (lc->aws_ready && (!lc->deadline_ms || lc->deadline_ms - c->now > 3000)) {
			lc_call(c, LC_ACT_FLUSH_METRICS, LC_PENDING_FLUSH);
			return;
		}
		lc_step_to(c, LC_STEP_COMPLETE);
		return;
	case LC_STEP_COMPLETE:
		complete_step(c);
		return;
	case LC_STEP_DONE:
		lc_enter(c, LC_DRAINED, "drain complete");
		return;
	}
}

void lc_drain_health_set(struct lc_ctx *c, const struct lc_event *ev)
{
	struct lifecycle *lc = c->lc;

	if (!ev->flag) {
		if (ev->r < 0)
			lc_log(c, LOG_WARNING, "lifecycle: cannot undrain asg-health: %s",
			       strerror(-ev->r));
		return;
	}
	if (ev->r < 0)
		lc_log(c, LOG_WARNING, "lifecycle: cannot drain asg-health: %s; going on",
		       strerror(-ev->r));
	else
		lc_log(c, LOG_INFO, "lifecycle: asg-health drained: /health answers 503");
	if (lc->state == LC_DRAINING &&
	    (lc->step == LC_STEP_NONE || lc->step == LC_STEP_DRAIN_HEALTH))
		lc_step_to(c, lc->causes & LC_CAUSE_INTERRUPTION ? LC_STEP_DEREGISTER
		                                                 : LC_STEP_IN_FLIGHT);
}

void lc_drain_targets(struct lc_ctx *c, const struct lc_event *ev)
{
	if (ev->result == LC_RESULT_OK)
		c->lc->deregistered = !ev->flag;
}

void lc_drain_d_done(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;

	if (lc->state != LC_DRAINING || lc->step != LC_STEP_DRAIN_D)
		return;
	lc->drain_d_next++;
	lc_save(c);
}

void lc_drain_flushed(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;

	if (lc->state == LC_DRAINING && lc->step == LC_STEP_FLUSH)
		lc_step_to(c, LC_STEP_COMPLETE);
}

void lc_terminate_completed(struct lc_ctx *c, const struct lc_event *ev)
{
	struct lifecycle *lc = c->lc;

	if (ev->result != LC_RESULT_OK && ev->result != LC_RESULT_NO_ACTION)
		return;
	if (lc->terminate_done)
		return;
	lc->terminate_done = true;
	if (lc->state == LC_DRAINING) {
		lc_step_to(c, LC_STEP_DONE);
		lc_enter(c, LC_DRAINED, "drain complete, terminating hook completed");
	} else {
		lc_save(c);
		lc_notify(c);
	}
}

void lc_drained_decide(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;
	unsigned wanted = lc_wanted_causes(lc, c->cfg);

	if (lc_maybe_cancel(c, wanted))
		return;
	if (lc->causes & LC_CAUSE_WARM_POOL && lc->ev.target_known &&
	    !strcmp(lc->ev.target_state, "InService")) {
		lc_call(c, LC_ACT_DRAIN_HEALTH, LC_PENDING_HEALTH_SET)->flag = false;
		lc->causes = 0;
		lc->launch_done = false;
		lc->terminate_done = false;
		lc->gate_started_ms = c->now;
		lc->last_heartbeat_ms = 0;
		lc_enter(c, LC_WARMING, "back from the warm pool");
		return;
	}
	/* A drained instance the group now terminates (after a Spot notice,
	 * a scheduled event): complete its hook at once. */
	if (wanted & LC_CAUSE_TERMINATION && !lc->terminate_done &&
	    !(lc->causes & LC_CAUSE_LAUNCH_ABANDONED)) {
		if (!(lc->causes & LC_CAUSE_TERMINATION)) {
			lc->causes |= LC_CAUSE_TERMINATION;
			lc_log(c, LOG_NOTICE,
			       "lifecycle: terminating while drained: completing the hook");
			lc_save(c);
		}
		if (lc_discover(c) || !lc->hooks_known || c->now < lc->next_call_ms)
			return;
		if (!lc_has_hook(lc, false)) {
			lc->terminate_done = true;
			lc_save(c);
			lc_notify(c);
		} else if (lc_may_call(lc, c->now)) {
			lc_call(c, LC_ACT_COMPLETE, LC_PENDING_COMPLETE);
		}
	}
}
