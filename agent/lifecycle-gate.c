/* The launch gate (state warming): the launching hook is completed with
 * CONTINUE only once asg-health says every critical check passed
 * launch_rise times in a row; after launch_timeout it is completed with
 * launch_timeout_action.  Heartbeats while the wait may outlast the
 * hook's HeartbeatTimeout.  Pure, like lifecycle.c. */
#include <stdio.h>
#include <string.h>

#include "lifecycle-internal.h"
#include "strbuf.h"

/* How long past launch_timeout a failing completion is retried before
 * the hook's own timeout is left to decide. */
#define GATE_GIVE_UP_MS 60000

static void gate_leave(struct lc_ctx *c)
{
	struct lifecycle *lc = c->lc;

	lc->launch_done = true;
	if (c->cfg->launch_timeout_abandon) {
		lc->causes = LC_CAUSE_LAUNCH_ABANDONED;
		lc_enter(c, LC_DRAINED, "launch abandoned: the group replaces the instance");
	} else {
		lc_enter(c, LC_READY, "launch timeout; continuing as configured");
	}
}

void lc_gate_decide(struct lc_ctx *c)
{
	const struct lifecycle_config *cfg = c->cfg;
	struct lifecycle *lc = c->lc;
	int64_t waited = c->now - lc->gate_started_ms;
	const char *why;

	if (!lc->hooks_known && lc_discover(c))
		return;
	if (lc->hooks_known && lc_heartbeat(c, true, lc->gate_started_ms))
		return;
	/* Each reading is used once: a CONTINUE follows a reading that
	 * said ready, never an older one. */
	if (lc->health_fresh && lc->health_err == 0 && lc->health.checks_ready) {
		lc->health_fresh = false;
		if (lc->hooks_known && lc_may_call(lc, c->now)) {
			struct lc_action *a = lc_call(c, LC_ACT_COMPLETE, LC_PENDING_COMPLETE);
			a->launching = true;
			return;
		}
		/* AWS unreachable: retried until the timeout. */
	}
	if (waited < cfg->launch_timeout_ms)
		return;
	why = lc->health_err < 0      ? "asg-health unreachable"
	      : lc->health.failing[0] ? lc->health.failing
	                              : "AWS unreachable";
	lc_log(c, LOG_ERR, "lifecycle: not ready after %.1f s: %s; launch hook: %s",
	       (double)waited / 1000, why, cfg->launch_timeout_abandon ? "ABANDON" : "CONTINUE");
	lc_record_error(c, "launch gate timed out: %s",
	                lc->health_err < 0 ? "asg-health unreachable" : lc->health.failing);
	if (lc->hooks_known && lc_may_call(lc, c->now)) {
		struct lc_action *a = lc_call(c, LC_ACT_COMPLETE, LC_PENDING_COMPLETE);
		a->launching = true;
		a->abandon = cfg->launch_timeout_abandon;
		a->flag = true; /* the timeout's completion */
		return;
	}
	/* The hook's own timeout is the last resort. */
	if (lc->hooks_known && waited < cfg->launch_timeout_ms + GATE_GIVE_UP_MS)
		return;
	gate_leave(c);
}

void lc_gate_completed(struct lc_ctx *c, const struct lc_event *ev)
{
	struct lifecycle *lc = c->lc;
	bool done = ev->result == LC_RESULT_OK || ev->result == LC_RESULT_NO_ACTION;
	char why[128];

	if (lc->state == LC_WARMED) {
		if (done) {
			lc->launch_done = true;
			lc_save(c);
		}
		return;
	}
	if (lc->state != LC_WARMING || lc->launch_done)
		return;
	if (ev->flag) { /* after the timeout */
		if (done ||
		    c->now - lc->gate_started_ms >= c->cfg->launch_timeout_ms + GATE_GIVE_UP_MS)
			gate_leave(c);
		return;
	}
	if (!done)
		return;
	lc->launch_done = true;
	format_into(why, sizeof(why), "critical checks passed %d times; launch hook completed",
	            c->cfg->launch_rise);
	lc_enter(c, LC_READY, lc_has_hook(lc, true) ? why : "critical checks passed");
}
