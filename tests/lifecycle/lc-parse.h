/* The scenario files' event syntax (tests/lifecycle/scenarios/README),
 * shared by the runner and the explorer's replay of a failing path. */
#ifndef ASG_TESTS_LC_PARSE_H
#define ASG_TESTS_LC_PARSE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"

struct lc_env {
	bool imds_ok, aws_ready, asg_known;
	int drain_d_count;
	int64_t boot_wall_ms;
	/* LC_EV_DISCOVERED's data lives here. */
	struct hook_set hooks;
	char tgs[LIFECYCLE_MAX_TARGET_GROUPS][512];
};

static inline enum lc_result lc_parse_result(const char *w, bool *ok)
{
	*ok = true;
	if (!strcmp(w, "ok"))
		return LC_RESULT_OK;
	if (!strcmp(w, "error"))
		return LC_RESULT_ERROR;
	if (!strcmp(w, "no-action"))
		return LC_RESULT_NO_ACTION;
	if (!strcmp(w, "not-yet"))
		return LC_RESULT_NOT_YET;
	if (!strcmp(w, "interrupted"))
		return LC_RESULT_INTERRUPTED;
	*ok = false;
	return LC_RESULT_ERROR;
}

static inline void lc_set_hooks(struct hook_set *hs, const char *list, int hb)
{
	memset(hs, 0, sizeof(*hs));
	if (strstr(list, "launch")) {
		struct hook *h = &hs->h[hs->n++];
		strcpy(h->name, "web-launch");
		h->launching = true;
		h->heartbeat_timeout_s = hb;
	}
	if (strstr(list, "term")) {
		struct hook *h = &hs->h[hs->n++];
		strcpy(h->name, "web-terminate");
		h->heartbeat_timeout_s = hb;
	}
}

/* Parses "kind arg..." (words[0..n-1]) into ev; false on a word it does
 * not know (bad names the word in *bad). */
static inline bool lc_parse_event(char **w, int n, struct lc_env *env, struct lc_event *ev,
                                  const char **bad)
{
	memset(ev, 0, sizeof(*ev));
	*bad = NULL;
	if (!n) {
		*bad = "(nothing)";
		return false;
	}
	const char *k = w[0];
	if (!strcmp(k, "restart"))
		ev->kind = LC_EV_RESTART;
	else if (!strcmp(k, "timer"))
		ev->kind = LC_EV_TIMER;
	else if (!strcmp(k, "sigterm"))
		ev->kind = LC_EV_SIGTERM;
	else if (!strcmp(k, "imds"))
		ev->kind = LC_EV_IMDS;
	else if (!strcmp(k, "health"))
		ev->kind = LC_EV_HEALTH;
	else if (!strcmp(k, "health-set"))
		ev->kind = LC_EV_HEALTH_SET;
	else if (!strcmp(k, "discovered"))
		ev->kind = LC_EV_DISCOVERED;
	else if (!strcmp(k, "instance"))
		ev->kind = LC_EV_INSTANCE;
	else if (!strcmp(k, "completed"))
		ev->kind = LC_EV_COMPLETED;
	else if (!strcmp(k, "heartbeat"))
		ev->kind = LC_EV_HEARTBEAT;
	else if (!strcmp(k, "targets"))
		ev->kind = LC_EV_TARGETS;
	else if (!strcmp(k, "drain-d-done"))
		ev->kind = LC_EV_DRAIN_D_DONE;
	else if (!strcmp(k, "flushed"))
		ev->kind = LC_EV_FLUSHED;
	else {
		*bad = k;
		return false;
	}
	int hb = 3600;
	const char *hooks = NULL;
	for (int i = 1; i < n; i++) {
		char *a = w[i], *v = strchr(a, '=');
		bool ok;
		enum lc_result res = lc_parse_result(a, &ok);

		if (v)
			*v++ = '\0';
		if (ok && !v) {
			ev->result = res;
		} else if (!strcmp(a, "imds")) {
			env->imds_ok = !v || atoi(v);
		} else if (!strcmp(a, "aws")) {
			env->aws_ready = !v || atoi(v);
		} else if (!strcmp(a, "asg")) {
			env->asg_known = !v || atoi(v);
		} else if (!strcmp(a, "drain_d") && v) {
			env->drain_d_count = atoi(v);
		} else if (!strcmp(a, "boot") && v) {
			env->boot_wall_ms = atoll(v);
		} else if (!strcmp(a, "target") && v) {
			ev->imds.target_known = true;
			snprintf(ev->imds.target_state, sizeof(ev->imds.target_state), "%s", v);
		} else if (!strcmp(a, "spot") && v) {
			ev->imds.spot = true;
			strcpy(ev->imds.spot_action, "terminate");
			ev->imds.spot_time = (time_t)atoll(v);
		} else if (!strcmp(a, "rebalance")) {
			ev->imds.rebalance = true;
		} else if (!strcmp(a, "scheduled") && v) {
			ev->imds.scheduled = true;
			strcpy(ev->imds.scheduled_code, "instance-retirement");
			strcpy(ev->imds.scheduled_id, "instance-event-1");
			ev->imds.scheduled_time = (time_t)atoll(v);
		} else if (!strcmp(a, "fail")) {
			ev->r = -EIO;
			ev->result = LC_RESULT_ERROR;
			strcpy(ev->error, "IMDS down");
		} else if (!strcmp(a, "ready")) {
			ev->health.checks_ready = true;
		} else if (!strcmp(a, "in_flight") && v) {
			ev->health.in_flight = atol(v);
		} else if (!strcmp(a, "confirmed")) {
			ev->health.drain_confirmed = true;
		} else if (!strcmp(a, "requests") && v) {
			ev->health.requests = strtoull(v, NULL, 10);
		} else if (!strcmp(a, "probes") && v) {
			ev->health.probes = strtoull(v, NULL, 10);
		} else if (!strcmp(a, "probers") && v) {
			ev->health.probers = atoi(v);
		} else if (!strcmp(a, "failing") && v) {
			snprintf(ev->health.failing, sizeof(ev->health.failing), "%s", v);
		} else if (!strcmp(a, "drain") || !strcmp(a, "register") || !strcmp(a, "pending") ||
		           !strcmp(a, "timeout")) {
			ev->flag = true;
		} else if (!strcmp(a, "undrain") || !strcmp(a, "deregister") ||
		           !strcmp(a, "not-pending")) {
			ev->flag = false;
		} else if (!strcmp(a, "launching")) {
			ev->launching = true;
		} else if (!strcmp(a, "terminating")) {
			ev->launching = false;
		} else if (!strcmp(a, "abandon")) {
			ev->abandon = true;
		} else if (!strcmp(a, "state") && v) {
			snprintf(ev->instance_state, sizeof(ev->instance_state), "%s", v);
		} else if (!strcmp(a, "nogroup")) {
			ev->r = -ENOENT;
		} else if (!strcmp(a, "hooks") && v) {
			hooks = v;
		} else if (!strcmp(a, "hb") && v) {
			hb = atoi(v);
		} else if (!strcmp(a, "tgs") && v) {
			ev->tgs_known = true;
			ev->n_tgs = atoi(v);
			for (int t = 0; t < ev->n_tgs && t < LIFECYCLE_MAX_TARGET_GROUPS; t++)
				snprintf(env->tgs[t], sizeof(env->tgs[t]), "arn:tg/%d", t);
		} else {
			*bad = a;
			return false;
		}
	}
	if (hooks) {
		lc_set_hooks(&env->hooks, hooks, hb);
		ev->hooks_known = true;
	}
	ev->hooks = &env->hooks;
	ev->tgs = (const char(*)[512])env->tgs;
	if (ev->kind == LC_EV_TIMER) {
		ev->imds_ok = env->imds_ok;
		ev->aws_ready = env->aws_ready;
		ev->asg_known = env->asg_known;
		ev->drain_d_count = env->drain_d_count;
		ev->boot_wall_ms = env->boot_wall_ms;
	}
	return true;
}

#endif
