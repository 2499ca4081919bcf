/* What the engine's files (lifecycle.c, lifecycle-gate.c,
 * lifecycle-drain.c) share: the way they write actions and change state.
 * Pure like them: nothing here does I/O or reads a clock. */
#ifndef ASG_AGENT_LIFECYCLE_INTERNAL_H
#define ASG_AGENT_LIFECYCLE_INTERNAL_H

#include <syslog.h>

#include "lifecycle.h"

/* A failed hook, ELB or discovery call is tried again this often (each
 * try already has the standard retry mode's attempts inside it). */
#define LC_RETRY_PACE_MS 2000
/* While gating or draining, asg-health is asked this often. */
#define LC_ACTIVE_TICK_MS 200

/* The engine's context for one lifecycle_step(). */
struct lc_ctx {
	struct lifecycle *lc;
	const struct lifecycle_config *cfg;
	struct lc_actions *out;
	int64_t now;
};

struct lc_action *lc_emit(struct lc_ctx *c, enum lc_action_kind kind);
void lc_log(struct lc_ctx *c, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void lc_record_error(struct lc_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Asks for a call and notes it pending. */
struct lc_action *lc_call(struct lc_ctx *c, enum lc_action_kind kind, unsigned pending);
void lc_save(struct lc_ctx *c);
void lc_notify(struct lc_ctx *c);
/* The state's outputs: the metric published only when ready, READY=1
 * once booting is left. */
void lc_outputs(struct lc_ctx *c);
void lc_enter(struct lc_ctx *c, enum lc_state to, const char *why);
void lc_step_to(struct lc_ctx *c, enum lc_step to);
/* Asks for discovery when something is unknown and it is due; true when asked. */
bool lc_discover(struct lc_ctx *c);
/* Asks for a heartbeat when half the HeartbeatTimeout has passed since
 * started_ms or the last one; true when asked. */
bool lc_heartbeat(struct lc_ctx *c, bool launching, int64_t started_ms);
bool lc_has_hook(const struct lifecycle *lc, bool launching);
int lc_min_heartbeat_s(const struct lifecycle *lc, bool launching);
/* AWS calls are possible and not paced off. */
bool lc_may_call(const struct lifecycle *lc, int64_t now);
void lc_call_failed(struct lc_ctx *c, enum lc_result r);

/* lifecycle-gate.c */
void lc_gate_decide(struct lc_ctx *c);
void lc_gate_completed(struct lc_ctx *c, const struct lc_event *ev);

/* lifecycle-drain.c */
unsigned lc_wanted_causes(const struct lifecycle *lc, const struct lifecycle_config *cfg);
void lc_start_drain(struct lc_ctx *c, unsigned causes);
void lc_drain_decide(struct lc_ctx *c);
void lc_drained_decide(struct lc_ctx *c);
/* An interruption that went away: true when handled (or under way). */
bool lc_maybe_cancel(struct lc_ctx *c, unsigned wanted);
void lc_update_deadline(struct lifecycle *lc);
void lc_plan(struct lc_ctx *c);
void lc_drain_health_set(struct lc_ctx *c, const struct lc_event *ev);
void lc_drain_targets(struct lc_ctx *c, const struct lc_event *ev);
void lc_drain_d_done(struct lc_ctx *c);
void lc_drain_flushed(struct lc_ctx *c);
void lc_terminate_completed(struct lc_ctx *c, const struct lc_event *ev);

#endif
