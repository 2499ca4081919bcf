/* The lifecycle explorer: from each start state, every interleaving of
 * events up to a bounded depth is fed to lifecycle_step() against a model
 * of the world (IMDS, Auto Scaling's lifecycle actions, asg-health,
 * drain.d, systemd), and invariants are checked after every step:
 *
 *   I1  a lifecycle action is completed at most once: no
 *       CompleteLifecycleAction for an action this process already saw
 *       completed (or gone);
 *   I2  a launch hook is CONTINUEd by the gate only after a reading in
 *       which every critical check had passed launch_rise times, and by
 *       the timeout only after launch_timeout;
 *   I3  a terminating hook is completed only after asg-health was told
 *       to drain, and after drain.d ran or its planned time was over;
 *   I4  no heartbeat for an action after its completion;
 *   I5  the metric is published only in state ready;
 *   I6  after SIGTERM the process exits before stop_timeout;
 *   I8  asg-health is never undrained while the engine is in standby or
 *       has read target state Standby, and leaving standby undrains only
 *       once the group has the instance InService again (not Pending);
 *   I7  (at each leaf, after letting the world settle: calls succeed,
 *       checks pass, time passes) an active lifecycle action is completed
 *       exactly once, unless the process exited on a deadline, the hook
 *       is gone, or the launch was abandoned.
 *
 * Events include IMDS answers (current, stale, failing), new IMDS facts
 * (Terminated, Spot, scheduled events and their cancel, rebalance, warm
 * pool moves, standby entered and left), every AWS answer class (success, error, "No active
 * Lifecycle Action found", not yet in the wait state), asg-health
 * answers, timers on time or late, SIGTERM, and kill -9 followed by a
 * restart from the last state the engine asked to save (read back
 * through the state file's JSON).  Visited states are deduplicated by a
 * hash.  Prints the numbers of states and paths explored; exits 1 with
 * the failing path on a violation.
 *
 * Usage: explore [depth]   (default 8) */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lc-text.h"
#include "lifecycle-state.h"
#include "lifecycle.h"

#define RISE          2
#define DRAIN_D_COUNT 2
#define MAX_PATH      64

enum imds_change {
	CH_TERMINATED,
	CH_SPOT,
	CH_SCHEDULED,
	CH_SCHEDULED_CANCEL,
	CH_REBALANCE,
	CH_REBALANCE_GONE,
	CH_TO_POOL,
	CH_FROM_POOL,
	CH_STANDBY,      /* EnterStandby: IMDS and the group say Standby */
	CH_STANDBY_EXIT, /* ExitStandby: IMDS InService, the group Pending */
	CH_STANDBY_DONE, /* the group has it InService again */
	CH_COUNT,
};

static const char *const change_names[] = {
        "imds:terminated", "imds:spot",           "imds:scheduled",      "imds:scheduled-canceled",
        "imds:rebalance",  "imds:rebalance-gone", "imds:warmed-stopped", "imds:in-service",
        "enter-standby",   "exit-standby",        "in-service-again",
};

/* Everything that decides the future; hashed (but for the engine's large
 * derived tables) to deduplicate. */
struct world {
	struct lifecycle lc;
	int64_t now;
	/* IMDS: what it says now and what it said before (a stale answer). */
	struct lc_events imds, imds_prev;
	unsigned changes_done; /* bit per enum imds_change */
	/* Auto Scaling: the active lifecycle actions. */
	bool launch_action, term_action;
	bool launch_gone, term_gone;              /* the world said "no action" while one was due */
	int launch_completions, term_completions; /* per action instance, at AWS */
	/* What this process saw answered (I1, I4): reset by a restart. */
	bool launch_seen_done, term_seen_done;
	/* asg-health */
	int passes;      /* consecutive passes of the critical checks */
	bool last_ready; /* the last reading given said checks_ready */
	bool drained;    /* told to drain (answered), not undrained since */
	long in_flight;
	/* drain.d runs in the current drain */
	int drain_d_ran;
	/* systemd */
	bool publishing;
	bool sigterm;
	int64_t sigterm_at;
	bool exited;
	bool restarted;
	bool abandoned;
	/* Auto Scaling's LifecycleState for standby: 0 InService (or not
	 * about standby), 1 Standby, 2 Pending after ExitStandby. */
	int standby;
	int64_t wake_ms; /* the engine's next timer */
	/* the last saved state (the state file) */
	bool have_saved;
	/* The saved fields come first in struct lifecycle, up to ev. */
	unsigned char saved[offsetof(struct lifecycle, ev)];
};

static struct lifecycle_config cfg;
static struct hook_set world_hooks;
static char world_tgs[LIFECYCLE_MAX_TARGET_GROUPS][512];

/* ---- the visited set ---- */

static uint64_t *seen;
static size_t seen_cap, seen_n;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t w;

	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x9E3779B97F4A7C15ull;
		h ^= h >> 29;
	}
	for (; n; n--, b++)
		h = (h ^ *b) * 0x100000001B3ull;
	return h;
}

static uint64_t world_hash(const struct world *w)
{
	const struct lifecycle *lc = &w->lc;
	uint64_t h = 0xcbf29ce484222325ull;

	/* The lifecycle without its derived tables (hooks, target groups). */
	h = mix(h, lc, offsetof(struct lifecycle, hooks));
	h = mix(h, &lc->hooks_known,
	        offsetof(struct lifecycle, tgs) - offsetof(struct lifecycle, hooks_known));
	h = mix(h, &lc->n_tgs, sizeof(*lc) - offsetof(struct lifecycle, n_tgs));
	h = mix(h, (const char *)w + sizeof(w->lc), sizeof(*w) - sizeof(w->lc));
	return h | 1;
}

/* True when new (and now remembered). */
static bool visit(uint64_t h)
{
	if (seen_n * 2 >= seen_cap) {
		size_t cap = seen_cap ? seen_cap * 2 : 1 << 20;
		uint64_t *t = calloc(cap, sizeof(*t));
		if (!t) {
			fprintf(stderr, "explore: out of memory\n");
			exit(2);
		}
		for (size_t i = 0; i < seen_cap; i++)
			if (seen[i])
				for (size_t j = seen[i] & (cap - 1);; j = (j + 1) & (cap - 1))
					if (!t[j]) {
						t[j] = seen[i];
						break;
					}
		free(seen);
		seen = t;
		seen_cap = cap;
	}
	for (size_t j = h & (seen_cap - 1);; j = (j + 1) & (seen_cap - 1)) {
		if (seen[j] == h)
			return false;
		if (!seen[j]) {
			seen[j] = h;
			seen_n++;
			return true;
		}
	}
}

/* ---- the path, for the report ---- */

static char path_text[MAX_PATH][160];
static int path_len;
static unsigned long long paths, steps, leaves;
static const char *start_name;

static void violation(const struct world *w, const char *what, const struct lc_actions *out)
{
	char acts[2048];

	fprintf(stderr, "explore: INVARIANT VIOLATED from start \"%s\": %s\n", start_name, what);
	fprintf(stderr, "  state %s step %s at t=%" PRId64 " ms; path:\n",
	        lifecycle_state_name(w->lc.state), lifecycle_step_name(w->lc.step), w->now);
	for (int i = 0; i < path_len; i++)
		fprintf(stderr, "    %2d. %s\n", i + 1, path_text[i]);
	if (out) {
		lc_actions_text(out, acts, sizeof(acts));
		fprintf(stderr, "  last actions: %s\n", acts);
		for (int i = 0; i < out->n; i++)
			if (out->a[i].kind == LC_ACT_LOG)
				fprintf(stderr, "    log: %s\n", out->a[i].text);
	}
	exit(1);
}

/* ---- feeding the engine and checking its actions ---- */

static const struct lc_state_owner explore_owner = {"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                                                    "i-0123456789abcdef0"};

/* The state through the state file's JSON and its validation, as a
 * restarted daemon reads it; back gets what was read. */
static bool read_back(const struct lifecycle *lc, struct lifecycle *back, char *why, size_t len)
{
	struct lc_state_owner owner;
	json_t *doc = lifecycle_state_to_json(lc, &explore_owner);
	bool ok;

	memset(back, 0, sizeof(*back));
	ok = doc && lifecycle_state_from_json(doc, back, &owner, why, len) == 0;
	if (!doc)
		snprintf(why, len, "no document");
	json_decref(doc);
	return ok;
}

static bool saved_reads_back(const struct lifecycle *lc)
{
	struct lifecycle back;
	char why[256];

	if (read_back(lc, &back, why, sizeof(why)))
		return true;
	fprintf(stderr, "explore: %s\n", why);
	return false;
}

static void check_actions(struct world *w, const struct lc_actions *out, enum lc_state before,
                          bool saw_standby)
{
	const struct lifecycle *lc = &w->lc;

	if (out->overflow)
		violation(w, "more actions than LC_MAX_ACTIONS", out);
	for (int i = 0; i < out->n; i++) {
		const struct lc_action *a = &out->a[i];

		if (w->exited)
			violation(w, "an action after the exit", out);
		switch (a->kind) {
		case LC_ACT_COMPLETE:
			if (a->launching && w->launch_seen_done)
				violation(w, "I1: the launch action completed twice", out);
			if (!a->launching && w->term_seen_done)
				violation(w, "I1: the terminating action completed twice", out);
			if (a->launching && lc->state == LC_WARMING && !a->abandon && !a->flag &&
			    !w->last_ready)
				violation(w,
				          "I2: CONTINUE before the checks passed launch_rise times",
				          out);
			if (a->launching && a->flag &&
			    w->now - lc->gate_started_ms < cfg.launch_timeout_ms)
				violation(w, "I2: the timeout's completion before launch_timeout",
				          out);
			if (!a->launching) {
				if (!w->drained)
					violation(
					        w,
					        "I3: terminating hook completed before asg-health "
					        "was drained",
					        out);
				if (lc->state == LC_DRAINING && w->drain_d_ran < DRAIN_D_COUNT &&
				    lc->drain_d_next < DRAIN_D_COUNT &&
				    w->now < lc->drain_d_until_ms)
					violation(
					        w,
					        "I3: terminating hook completed before drain.d ran",
					        out);
			}
			break;
		case LC_ACT_HEARTBEAT:
			if (a->launching ? w->launch_seen_done : w->term_seen_done)
				violation(w, "I4: a heartbeat after the completion", out);
			break;
		case LC_ACT_DRAIN_HEALTH:
			if (a->flag)
				break;
			if (lc->state == LC_STANDBY || saw_standby)
				violation(w, "I8: asg-health undrained in standby", out);
			if (before == LC_STANDBY && w->standby)
				violation(w,
				          "I8: undrained on leaving standby before the group "
				          "had the instance InService",
				          out);
			break;
		case LC_ACT_PUBLISHING:
			w->publishing = a->flag;
			break;
		case LC_ACT_SAVE: {
			enum lc_state prev_state; /* saved is bytes: copied, not cast */
			/* I9: every state the engine saves reads back (a restart
			 * sets aside a state file that does not validate).  The
			 * validation ties fields to the state: checked when the
			 * state changed (JSON on every save quadrupled the
			 * explorer's time). */
			bool changed;

			memcpy(&prev_state, w->saved + offsetof(struct lifecycle, state),
			       sizeof(prev_state));
			changed = !w->have_saved || prev_state != w->lc.state;

			if (changed && !saved_reads_back(&w->lc))
				violation(w, "I9: the saved state does not read back", out);
			w->have_saved = true;
			memcpy(w->saved, &w->lc, sizeof(w->saved));
			break;
		}
		case LC_ACT_EXIT:
			w->exited = true;
			break;
		default:
			break;
		}
	}
	if (w->publishing && lc->state != LC_READY)
		violation(w, "I5: publishing while not ready", out);
}

/* The pending calls' parameters are not in lc: the world remembers the
 * last actions by kind. */
struct asked {
	bool complete_launching, complete_abandon, complete_timeout;
	bool targets_register;
	bool drain;
};

/* Re-derives what was asked from the engine's last actions: the world
 * records them as they come (see run_step). */
static struct asked asked_now;

static void record_asked(const struct lc_actions *out)
{
	for (int i = 0; i < out->n; i++) {
		const struct lc_action *a = &out->a[i];
		if (a->kind == LC_ACT_COMPLETE) {
			asked_now.complete_launching = a->launching;
			asked_now.complete_abandon = a->abandon;
			asked_now.complete_timeout = a->flag;
		} else if (a->kind == LC_ACT_SET_TARGETS) {
			asked_now.targets_register = a->flag;
		} else if (a->kind == LC_ACT_DRAIN_HEALTH) {
			asked_now.drain = a->flag;
		}
	}
}

static void step(struct world *w, const struct lc_event *ev)
{
	struct lc_actions out;
	enum lc_state before = w->lc.state;

	lifecycle_step(&w->lc, &cfg, ev, w->now, &out);
	steps++;
	w->wake_ms = out.wake_ms;
	record_asked(&out);
	check_actions(w, &out, before,
	              w->lc.ev.target_known && !strcmp(w->lc.ev.target_state, "Standby"));
}

/* ---- the world's answers ---- */

static void answer_watch(struct world *w, int variant)
{
	struct lc_event ev = {.kind = LC_EV_IMDS};

	if (variant == 0)
		ev.imds = w->imds;
	else if (variant == 1)
		ev.imds = w->imds_prev; /* out of order: an older answer */
	else {
		ev.imds = w->lc.ev; /* failed: every item keeps its value */
		ev.r = -EIO;
		strcpy(ev.error, "IMDS down");
	}
	step(w, &ev);
}

static void answer_health(struct world *w, int variant)
{
	struct lc_event ev = {.kind = LC_EV_HEALTH};

	if (variant == 2) {
		ev.r = -ECONNREFUSED;
		w->passes = 0;
		w->last_ready = false;
	} else {
		w->passes = variant == 0 ? w->passes + 1 : 0;
		if (w->passes > RISE)
			w->passes = RISE;
		ev.health.checks_ready = w->passes >= RISE;
		if (!ev.health.checks_ready)
			strcpy(ev.health.failing, "app-ready");
		ev.health.in_flight = w->in_flight;
		ev.health.draining = w->drained;
		ev.health.probers = 1;
		ev.health.drain_confirmed = w->drained && variant == 0;
		w->last_ready = ev.health.checks_ready;
		/* Requests finish as time goes by. */
		if (w->in_flight)
			w->in_flight--;
	}
	step(w, &ev);
}

static void answer_complete(struct world *w, bool launching, bool abandon, bool timeout,
                            int variant)
{
	struct lc_event ev = {.kind = LC_EV_COMPLETED};
	bool *active = launching ? &w->launch_action : &w->term_action;

	ev.launching = launching;
	ev.abandon = abandon;
	ev.flag = timeout;
	if (variant == 1) {
		ev.result = LC_RESULT_ERROR;
	} else if (variant == 2) {
		ev.result = LC_RESULT_NOT_YET;
	} else if (*active) {
		ev.result = LC_RESULT_OK;
		*active = false;
		if (launching) {
			w->launch_completions++;
			w->abandoned = abandon;
		} else {
			w->term_completions++;
		}
	} else {
		ev.result = LC_RESULT_NO_ACTION;
	}
	if (ev.result == LC_RESULT_OK || ev.result == LC_RESULT_NO_ACTION) {
		if (launching)
			w->launch_seen_done = true;
		else
			w->term_seen_done = true;
	}
	step(w, &ev);
}

/* ---- the choices at a node ---- */

enum choice_kind {
	C_TIMER,
	C_TIMER_LATE,
	C_WATCH,
	C_HEALTH,
	C_DISCOVER,
	C_INSTANCE,
	C_COMPLETE,
	C_HEARTBEAT,
	C_TARGETS,
	C_HEALTH_SET,
	C_DRAIN_D,
	C_FLUSH,
	C_CHANGE,
	C_SIGTERM,
	C_KILL_RESTART,
};

struct choice {
	enum choice_kind kind;
	int variant;
};

/* The asked parameters live beside the world in the DFS (a copy per
 * level). */
struct node {
	struct world w;
	struct asked asked;
};

static void feed_restart(struct world *w)
{
	struct lc_event ev = {.kind = LC_EV_RESTART};
	struct lifecycle fresh;

	memset(&fresh, 0, sizeof(fresh));
	if (w->have_saved) {
		struct lifecycle saved;

		memset(&saved, 0, sizeof(saved));
		memcpy(&saved, w->saved, sizeof(w->saved));
		char why[256];

		/* Through the state file's JSON, as the daemon reads it. */
		if (!read_back(&saved, &fresh, why, sizeof(why))) {
			fprintf(stderr, "explore: %s\n", why);
			violation(w, "the saved state does not read back", NULL);
		}
		fresh.loaded = true;
	}
	w->lc = fresh;
	w->publishing = false;
	w->exited = false;
	w->sigterm = false;
	w->launch_seen_done = false;
	w->term_seen_done = false;
	step(w, &ev);
}

static void apply_change(struct world *w, enum imds_change c)
{
	struct lc_events *e = &w->imds;

	w->imds_prev = *e;
	w->changes_done |= 1u << c;
	switch (c) {
	case CH_TERMINATED:
		e->target_known = true;
		strcpy(e->target_state, "Terminated");
		/* A launch still waiting ends with the instance. */
		if (w->launch_action) {
			w->launch_action = false;
			w->launch_gone = true;
		}
		w->standby = 0;
		if (!w->abandoned) {
			w->term_action = true;
			w->term_seen_done = false;
			w->term_completions = 0;
		}
		break;
	case CH_SPOT:
		e->spot = true;
		strcpy(e->spot_action, "terminate");
		e->spot_time = (time_t)(w->now / 1000 + 5);
		break;
	case CH_SCHEDULED:
		e->scheduled = true;
		strcpy(e->scheduled_code, "instance-retirement");
		strcpy(e->scheduled_id, "e1");
		e->scheduled_time = (time_t)(w->now / 1000 + 60);
		break;
	case CH_SCHEDULED_CANCEL:
		e->scheduled = false;
		break;
	case CH_REBALANCE:
		e->rebalance = true;
		break;
	case CH_REBALANCE_GONE:
		e->rebalance = false;
		break;
	case CH_TO_POOL:
		/* Scale-in into the warm pool: Terminating:Wait first. */
		e->target_known = true;
		strcpy(e->target_state, "Warmed:Stopped");
		w->term_action = true;
		w->term_seen_done = false;
		w->term_completions = 0;
		break;
	case CH_FROM_POOL:
		e->target_known = true;
		strcpy(e->target_state, "InService");
		w->launch_action = true;
		w->launch_seen_done = false;
		w->launch_completions = 0;
		w->passes = 0;
		w->last_ready = false;
		break;
	case CH_STANDBY:
		e->target_known = true;
		strcpy(e->target_state, "Standby");
		w->standby = 1;
		break;
	case CH_STANDBY_EXIT:
		e->target_known = true;
		strcpy(e->target_state, "InService");
		w->standby = 2;
		break;
	case CH_STANDBY_DONE:
		w->standby = 0;
		break;
	case CH_COUNT:
		break;
	}
}

static bool change_possible(const struct world *w, enum imds_change c)
{
	const struct lc_events *e = &w->imds;
	bool terminated = e->target_known && !strcmp(e->target_state, "Terminated");
	bool warmed = e->target_known && !strncmp(e->target_state, "Warmed:", 7);

	if (w->changes_done & (1u << c))
		return false;
	switch (c) {
	case CH_TERMINATED:
		return !terminated && !warmed;
	case CH_SPOT:
		return !e->spot && !warmed;
	case CH_SCHEDULED:
		return !e->scheduled && !terminated && !warmed;
	case CH_SCHEDULED_CANCEL:
		return e->scheduled;
	case CH_REBALANCE:
		return !e->rebalance && !terminated && !warmed;
	case CH_REBALANCE_GONE:
		return e->rebalance;
	case CH_TO_POOL:
		/* Assumed: a scale-in back into the pool comes to an instance
		 * the agent has seen serving (a fresh agent reading Warmed:*
		 * takes it for a launch into the pool). */
		return w->lc.state == LC_READY && e->target_known &&
		       !strcmp(e->target_state, "InService") && !w->launch_action && !e->spot &&
		       !e->scheduled && !e->rebalance;
	case CH_FROM_POOL:
		return warmed && !w->term_action && !w->launch_action;
	case CH_STANDBY:
		/* EnterStandby needs the instance InService in its group. */
		return e->target_known && !strcmp(e->target_state, "InService") &&
		       !w->launch_action && !w->term_action && !w->standby;
	case CH_STANDBY_EXIT:
		return w->standby == 1 && !strcmp(e->target_state, "Standby");
	case CH_STANDBY_DONE:
		return w->standby == 2;
	case CH_COUNT:
		break;
	}
	return false;
}

static int choices(const struct node *nd, struct choice *c)
{
	const struct world *w = &nd->w;
	unsigned p = w->lc.pending;
	int n = 0;

	if (w->exited) {
		/* Only systemd's restart brings the process back. */
		if (!w->restarted)
			c[n++] = (struct choice){C_KILL_RESTART, 0};
		return n;
	}
	c[n++] = (struct choice){C_TIMER, 0};
	/* Late matters for the stop deadline (I6). */
	if (w->sigterm)
		c[n++] = (struct choice){C_TIMER_LATE, 0};
	if (p & LC_PENDING_WATCH)
		for (int v = 0; v < 3; v++)
			if (v != 1 || memcmp(&w->imds, &w->imds_prev, sizeof(w->imds)))
				c[n++] = (struct choice){C_WATCH, v};
	if (p & LC_PENDING_HEALTH)
		for (int v = 0; v < 3; v++)
			c[n++] = (struct choice){C_HEALTH, v};
	if (p & LC_PENDING_DISCOVER)
		for (int v = 0; v < 2; v++)
			c[n++] = (struct choice){C_DISCOVER, v};
	if (p & LC_PENDING_INSTANCE)
		c[n++] = (struct choice){C_INSTANCE, 0};
	if (p & LC_PENDING_COMPLETE)
		for (int v = 0; v < 3; v++)
			c[n++] = (struct choice){C_COMPLETE, v};
	if (p & LC_PENDING_HEARTBEAT)
		for (int v = 0; v < 2; v++)
			c[n++] = (struct choice){C_HEARTBEAT, v};
	if (p & LC_PENDING_TARGETS)
		for (int v = 0; v < 2; v++)
			c[n++] = (struct choice){C_TARGETS, v};
	if (p & LC_PENDING_HEALTH_SET)
		for (int v = 0; v < 2; v++)
			c[n++] = (struct choice){C_HEALTH_SET, v};
	if (p & LC_PENDING_DRAIN_D)
		c[n++] = (struct choice){C_DRAIN_D, 0};
	if (p & LC_PENDING_FLUSH)
		c[n++] = (struct choice){C_FLUSH, 0};
	for (int ch = 0; ch < CH_COUNT; ch++)
		if (change_possible(w, (enum imds_change)ch))
			c[n++] = (struct choice){C_CHANGE, ch};
	if (!w->sigterm)
		c[n++] = (struct choice){C_SIGTERM, 0};
	if (!w->restarted) {
		c[n++] = (struct choice){C_KILL_RESTART, 0};
		/* Killed while CompleteLifecycleAction was under way, after AWS
		 * took it: the new process finds the action gone. */
		if (p & LC_PENDING_COMPLETE &&
		    (nd->asked.complete_launching ? w->launch_action : w->term_action))
			c[n++] = (struct choice){C_KILL_RESTART, 1};
	}
	return n;
}

static const char *const choice_names[] = {
        [C_TIMER] = "timer",
        [C_TIMER_LATE] = "timer-late",
        [C_WATCH] = "watch",
        [C_HEALTH] = "health",
        [C_DISCOVER] = "discover",
        [C_INSTANCE] = "instance",
        [C_COMPLETE] = "complete",
        [C_HEARTBEAT] = "heartbeat",
        [C_TARGETS] = "targets",
        [C_HEALTH_SET] = "health-set",
        [C_DRAIN_D] = "drain.d",
        [C_FLUSH] = "flush",
        [C_CHANGE] = "change",
        [C_SIGTERM] = "sigterm",
        [C_KILL_RESTART] = "kill-9+restart",
};

static void timer(struct world *w, int64_t at)
{
	struct lc_event ev = {.kind = LC_EV_TIMER};
	int64_t stop_by = w->sigterm_at + cfg.stop_timeout_ms;

	if (at > w->now)
		w->now = at;
	/* I6: the engine asks to be woken at its stop deadline; a timer at
	 * or after the stop timeout finds it exited. */
	if (w->sigterm && !w->exited && w->now >= stop_by)
		violation(w, "I6: not exited by stop_timeout after SIGTERM", NULL);
	ev.imds_ok = true;
	ev.aws_ready = true;
	ev.asg_known = true;
	ev.drain_d_count = DRAIN_D_COUNT;
	ev.boot_wall_ms = 1;
	step(w, &ev);
}

static void apply(struct node *n, const struct choice *c)
{
	struct world *w = &n->w;

	asked_now = n->asked;
	switch (c->kind) {
	case C_TIMER:
		timer(w, w->wake_ms);
		break;
	case C_TIMER_LATE:
		/* A loop held up by a blocking call: late, within the tenth of
		 * stop_timeout the engine keeps for that. */
		timer(w, w->wake_ms + cfg.stop_timeout_ms / 20);
		break;
	case C_WATCH:
		answer_watch(w, c->variant);
		break;
	case C_HEALTH:
		answer_health(w, c->variant);
		break;
	case C_DISCOVER: {
		struct lc_event ev = {.kind = LC_EV_DISCOVERED};
		if (c->variant == 0) {
			ev.hooks_known = ev.tgs_known = true;
			ev.hooks = &world_hooks;
			ev.tgs = (const char(*)[512])world_tgs;
			ev.n_tgs = 1;
		} else {
			ev.result = LC_RESULT_ERROR;
		}
		step(w, &ev);
		break;
	}
	case C_INSTANCE: {
		struct lc_event ev = {.kind = LC_EV_INSTANCE, .flag = w->launch_action};
		const char *st = w->standby == 1    ? "Standby"
		                 : w->standby == 2  ? "Pending"
		                 : w->launch_action ? "Pending:Wait"
		                                    : "InService";
		strcpy(ev.instance_state, st);
		step(w, &ev);
		break;
	}
	case C_COMPLETE:
		answer_complete(w, asked_now.complete_launching, asked_now.complete_abandon,
		                asked_now.complete_timeout, c->variant);
		break;
	case C_HEARTBEAT: {
		struct lc_event ev = {.kind = LC_EV_HEARTBEAT};
		ev.result = c->variant ? LC_RESULT_ERROR : LC_RESULT_OK;
		step(w, &ev);
		break;
	}
	case C_TARGETS: {
		struct lc_event ev = {.kind = LC_EV_TARGETS, .flag = asked_now.targets_register};
		ev.result = c->variant ? LC_RESULT_ERROR : LC_RESULT_OK;
		step(w, &ev);
		break;
	}
	case C_HEALTH_SET: {
		struct lc_event ev = {.kind = LC_EV_HEALTH_SET, .flag = asked_now.drain};
		ev.r = c->variant ? -ECONNREFUSED : 0;
		/* A failed drain request: asg-health is down, the ALB sees it
		 * unhealthy anyway; the drain goes on. */
		w->drained = asked_now.drain;
		if (asked_now.drain)
			w->drain_d_ran = 0;
		step(w, &ev);
		break;
	}
	case C_DRAIN_D: {
		struct lc_event ev = {.kind = LC_EV_DRAIN_D_DONE};
		w->drain_d_ran++;
		step(w, &ev);
		break;
	}
	case C_FLUSH: {
		struct lc_event ev = {.kind = LC_EV_FLUSHED};
		step(w, &ev);
		break;
	}
	case C_CHANGE:
		apply_change(w, (enum imds_change)c->variant);
		break;
	case C_SIGTERM: {
		struct lc_event ev = {.kind = LC_EV_SIGTERM};
		w->sigterm = true;
		w->sigterm_at = w->now;
		step(w, &ev);
		break;
	}
	case C_KILL_RESTART:
		if (c->variant == 1)
			answer_complete(w, asked_now.complete_launching, asked_now.complete_abandon,
			                asked_now.complete_timeout, 0);
		w->restarted = true;
		/* systemd restarts it a little later. */
		w->now += 100;
		feed_restart(w);
		timer(w, w->now);
		break;
	}
	n->asked = asked_now;
}

/* I7: with the world cooperating, every active action gets completed. */
static void settle(const struct node *from)
{
	struct node n = *from;
	struct world *w = &n.w;
	int len = path_len;

	for (int i = 0; i < 150 && !w->exited; i++) {
		unsigned p = w->lc.pending;
		struct choice c = {C_TIMER, 0};

		if (p & LC_PENDING_WATCH)
			c = (struct choice){C_WATCH, 0};
		else if (p & LC_PENDING_HEALTH)
			c = (struct choice){C_HEALTH, 0};
		else if (p & LC_PENDING_DISCOVER)
			c = (struct choice){C_DISCOVER, 0};
		else if (p & LC_PENDING_INSTANCE)
			c = (struct choice){C_INSTANCE, 0};
		else if (p & LC_PENDING_COMPLETE)
			c = (struct choice){C_COMPLETE, 0};
		else if (p & LC_PENDING_HEARTBEAT)
			c = (struct choice){C_HEARTBEAT, 0};
		else if (p & LC_PENDING_TARGETS)
			c = (struct choice){C_TARGETS, 0};
		else if (p & LC_PENDING_HEALTH_SET)
			c = (struct choice){C_HEALTH_SET, 0};
		else if (p & LC_PENDING_DRAIN_D)
			c = (struct choice){C_DRAIN_D, 0};
		else if (p & LC_PENDING_FLUSH)
			c = (struct choice){C_FLUSH, 0};
		else if (!memcmp(&w->lc.ev, &w->imds, sizeof(w->imds)) &&
		         (!w->launch_action || w->lc.launch_done) &&
		         (!w->term_action || w->lc.terminate_done))
			break; /* the engine is done: does the world agree? */
		if (path_len < MAX_PATH)
			snprintf(path_text[path_len++], sizeof(path_text[0]), "(settle) %s",
			         choice_names[c.kind]);
		apply(&n, &c);
	}
	if (w->exited || w->abandoned) {
		path_len = len;
		return; /* a deadline (stop_timeout) or an abandoned launch */
	}
	/* The gate's patience ran out before the hooks could be learned:
	 * the hook's own timeout decides (a deadline passing). */
	if (w->launch_action && w->lc.launch_done && !w->lc.hooks_known)
		w->launch_gone = true;
	if (w->launch_action && !w->launch_gone)
		violation(w, "I7: an active launch action never completed", NULL);
	if (w->term_action && !w->term_gone)
		violation(w, "I7: an active terminating action never completed", NULL);
	if (w->launch_completions > 1 || w->term_completions > 1)
		violation(w, "I1: an action completed twice at AWS", NULL);
	path_len = len;
}

static int max_depth;

static void dfs(const struct node *at, int depth)
{
	struct choice c[64];
	int n;

	if (!visit(mix(world_hash(&at->w), &at->asked, sizeof(at->asked)) | 1)) {
		paths++;
		return;
	}
	if (depth == max_depth) {
		paths++;
		leaves++;
		settle(at);
		return;
	}
	n = choices(at, c);
	if (!n) {
		paths++;
		return;
	}
	for (int i = 0; i < n; i++) {
		struct node next = *at;

		if (c[i].kind == C_CHANGE)
			snprintf(path_text[depth], sizeof(path_text[0]), "%s",
			         change_names[c[i].variant]);
		else
			snprintf(path_text[depth], sizeof(path_text[0]), "%s/%d",
			         choice_names[c[i].kind], c[i].variant);
		path_len = depth + 1;
		apply(&next, &c[i]);
		dfs(&next, depth + 1);
	}
}

/* ---- the start states ---- */

static void start(struct node *n, const char *target, bool launch_action, bool terminated_loaded)
{
	memset(n, 0, sizeof(*n));
	struct world *w = &n->w;

	w->now = 1000;
	if (target) {
		w->imds.target_known = true;
		snprintf(w->imds.target_state, sizeof(w->imds.target_state), "%s", target);
	}
	w->imds_prev = w->imds;
	w->launch_action = launch_action;
	if (target && !strcmp(target, "Standby")) {
		w->standby = 1;
		w->changes_done |= 1u << CH_STANDBY;
	}
	if (terminated_loaded) {
		/* Restarted mid-drain: a saved state from the previous process. */
		w->term_action = true;
		w->drained = true;
		w->changes_done |= 1u << CH_TERMINATED;
		w->lc.state = LC_DRAINING;
		w->lc.step = LC_STEP_DRAIN_D;
		w->lc.causes = LC_CAUSE_TERMINATION;
		w->lc.since_ms = w->lc.drain_started_ms = 500;
		w->lc.in_flight_until_ms = 1500;
		w->lc.drain_d_until_ms = 2500;
		w->lc.drain_d_next = 1;
		w->drain_d_ran = 1;
		w->lc.loaded = true;
		w->have_saved = true;
		memcpy(w->saved, &w->lc, sizeof(w->saved));
	}
	struct lc_event ev = {.kind = LC_EV_RESTART};
	step(w, &ev);
	timer(w, w->now);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name, *target;
		bool launch_action, loaded;
	} starts[] = {
	        {"boot in Pending:Wait", "InService", true, false},
	        {"boot in service", "InService", false, false},
	        {"boot into the warm pool", "Warmed:Stopped", true, false},
	        {"restart mid-drain", "Terminated", false, true},
	        {"boot, no target state", NULL, false, false},
	        {"boot in standby", "Standby", false, false},
	};
	unsigned long long total_states = 0;

	max_depth = argc > 1 ? atoi(argv[1]) : 8;
	if (max_depth < 1 || max_depth >= MAX_PATH) {
		fprintf(stderr, "usage: explore [depth 1..%d]\n", MAX_PATH - 1);
		return 2;
	}
	/* Small times, so that every deadline is reached within the depth. */
	cfg.watch_interval_ms = 500;
	cfg.launch_timeout_ms = 5000;
	cfg.launch_timeout_abandon = true;
	cfg.launch_rise = RISE;
	cfg.drain_timeout_ms = 600;
	cfg.drain_quiet_ms = 300;
	cfg.drain_d_timeout_ms = 300;
	cfg.stop_timeout_ms = 2000;
	cfg.on_spot_interruption = true;
	cfg.on_scheduled_event = true;
	cfg.on_rebalance = true;
	memset(&world_hooks, 0, sizeof(world_hooks));
	world_hooks.n = 2;
	strcpy(world_hooks.h[0].name, "web-launch");
	world_hooks.h[0].launching = true;
	world_hooks.h[0].heartbeat_timeout_s = 1;
	strcpy(world_hooks.h[1].name, "web-terminate");
	world_hooks.h[1].heartbeat_timeout_s = 1;
	strcpy(world_tgs[0], "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1");

	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		struct node n;
		unsigned long long p0 = paths;

		start_name = starts[s].name;
		path_len = 0;
		start(&n, starts[s].target, starts[s].launch_action, starts[s].loaded);
		size_t before = seen_n;
		dfs(&n, 0);
		printf("start \"%s\": %zu states, %llu paths\n", starts[s].name, seen_n - before,
		       paths - p0);
		total_states += seen_n - before;
	}
	printf("explored %llu states and %llu paths (%llu leaves settled, %llu steps) to depth "
	       "%d: no invariant violated\n",
	       total_states, paths, leaves, steps, max_depth);
	free(seen);
	return 0;
}
