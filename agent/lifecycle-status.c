/* The lifecycle for people: the names of states, steps and actions, the
 * phase and summary (sd_notify STATUS=) and the status socket's
 * "lifecycle" object.  Pure formatting of struct lifecycle. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cleanup.h"
#include "lifecycle.h"
#include "timeutil.h"

static const char *const state_names[] = {
        [LC_BOOTING] = "booting", [LC_WARMED] = "warmed",     [LC_WARMING] = "warming",
        [LC_READY] = "ready",     [LC_DRAINING] = "draining", [LC_DRAINED] = "drained",
        [LC_STANDBY] = "standby",
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
	case LC_STANDBY:
		return "standby";
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

static const char *const action_names[] = {
        [LC_ACT_WATCH] = "watch",
        [LC_ACT_READ_HEALTH] = "read-health",
        [LC_ACT_DISCOVER] = "discover",
        [LC_ACT_DESCRIBE_INSTANCE] = "describe-instance",
        [LC_ACT_COMPLETE] = "complete",
        [LC_ACT_HEARTBEAT] = "heartbeat",
        [LC_ACT_SET_TARGETS] = "set-targets",
        [LC_ACT_DRAIN_HEALTH] = "drain-health",
        [LC_ACT_RUN_DRAIN_D] = "run-drain.d",
        [LC_ACT_CLOSE_METRICS] = "close-metrics",
        [LC_ACT_FLUSH_METRICS] = "flush-metrics",
        [LC_ACT_PUBLISHING] = "publishing",
        [LC_ACT_NOTIFY] = "notify",
        [LC_ACT_SAVE] = "save",
        [LC_ACT_LOG] = "log",
        [LC_ACT_RECORD_ERROR] = "record-error",
        [LC_ACT_EXIT] = "exit",
};

const char *lifecycle_action_name(enum lc_action_kind k)
{
	return k >= 0 && (size_t)k < ARRAY_SIZE(action_names) ? action_names[k] : "?";
}

void lifecycle_causes_text(unsigned c, char *buf, size_t len)
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
	lifecycle_causes_text(lc->causes, causes, sizeof(causes));
	snprintf(buf, len, "%s since %s%s%s%s", lifecycle_phase(lc), since, causes[0] ? " (" : "",
	         causes, causes[0] ? ")" : "");
}

json_t *lifecycle_status(const struct lifecycle *lc)
{
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
	lifecycle_causes_text(lc->causes, causes, sizeof(causes));
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
		        hooks,
		        json_pack("{s:s,s:s,s:i}", "name", lc->hooks.h[i].name, "transition",
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
