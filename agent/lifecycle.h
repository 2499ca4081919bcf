/* The instance's lifecycle: one state machine decides what asg-health's
 * /health answers (through drain/undrain on its control socket), when the
 * launch hook is completed, when systemd hears READY=1 and whether the
 * metric is published.  Every trigger (the IMDS watch, SIGTERM, the
 * launch gate's checks) is an input to lifecycle_tick(); nothing else
 * flips those outputs.
 *
 *   booting ──▶ warming (launch gate) ──▶ ready ──▶ draining ──▶ drained
 *      │  ╰──▶ warmed (warm pool) ─╯         ▲          │
 *      ╰───────────────▶ ready                ╰──────────╯ event canceled
 *
 * booting:  identity, hooks and target groups are learned; READY=1 once
 *           it is left.  No metric.
 * warmed:   target state Warmed:*; a pending launch hook (the pool's
 *           Warmed:Pending:Wait) is completed at once, no gate, no metric.
 * warming:  Pending:Wait under a launching hook: wait until asg-health's
 *           critical checks passed `launch_rise` times, then CONTINUE;
 *           after launch_timeout, launch_timeout_action.  Heartbeats
 *           while the wait may outlast the hook's HeartbeatTimeout.
 * ready:    serving; the metric is published.
 * draining: target state Terminated, a Spot notice, a scheduled event or
 *           (optionally) a rebalance recommendation: drain asg-health,
 *           deregister from the target groups (interruptions: the ALB does
 *           not know), wait for the load balancer and in-flight requests,
 *           run drain.d, flush the metric, complete the terminating hook.
 *           Each step is planned to end before the deadline.
 * drained:  done; a terminating hook that arrives later (a Spot instance
 *           the group then terminates) is completed at once.
 *
 * The state is saved in state_dir after every step (state-file.h). */
#ifndef ASG_AGENT_LIFECYCLE_H
#define ASG_AGENT_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "drain.h"
#include "hooks.h"
#include "watch.h"

struct agent;
struct json_t;

enum lc_state {
	LC_BOOTING,
	LC_WARMED,
	LC_WARMING,
	LC_READY,
	LC_DRAINING,
	LC_DRAINED,
};

enum lc_step {
	LC_STEP_NONE,
	LC_STEP_DRAIN_HEALTH, /* POST /drain, stop the metric */
	LC_STEP_DEREGISTER,   /* DeregisterTargets (interruptions) */
	LC_STEP_WAIT_LB,      /* until asg-health saw the ALB take it out */
	LC_STEP_IN_FLIGHT,    /* until no request is being answered */
	LC_STEP_DRAIN_D,      /* drain.d, one executable per tick */
	LC_STEP_FLUSH,        /* the last metric periods */
	LC_STEP_COMPLETE,     /* CompleteLifecycleAction CONTINUE */
	LC_STEP_DONE,
};

/* Why a drain runs (a bit set: a Spot notice may be followed by the
 * group's own termination). */
#define LC_CAUSE_TERMINATION     0x01u /* target-lifecycle-state Terminated */
#define LC_CAUSE_SPOT            0x02u
#define LC_CAUSE_SCHEDULED       0x04u
#define LC_CAUSE_REBALANCE       0x08u
#define LC_CAUSE_WARM_POOL       0x10u /* scale-in back into the warm pool */
#define LC_CAUSE_LAUNCH_ABANDONED 0x20u
#define LC_CAUSE_INTERRUPTION    (LC_CAUSE_SPOT | LC_CAUSE_SCHEDULED | LC_CAUSE_REBALANCE)

struct lifecycle {
	/* Saved in the state file. */
	enum lc_state state;
	enum lc_step step;
	int64_t since_ms;      /* wall clock: entered state */
	int64_t step_since_ms; /* wall clock: entered step */
	unsigned causes;
	int64_t deadline_ms; /* wall clock, 0: none */
	char deadline_source[32];
	int64_t gate_started_ms;
	int64_t drain_started_ms;
	int64_t in_flight_until_ms; /* the plan: end of the in-flight wait */
	int64_t drain_d_until_ms;   /* the plan: end of drain.d */
	bool launch_done;
	bool terminate_done;
	bool deregistered;
	int drain_d_next;
	int64_t last_heartbeat_ms;
	/* Run time only. */
	struct lc_events ev;
	bool ev_valid;
	struct hook_set hooks;
	bool hooks_known;
	char tgs[LIFECYCLE_MAX_TARGET_GROUPS][512];
	int n_tgs;
	bool tgs_known;
	struct health_view health;
	int health_err;
	uint64_t next_watch_mono;
	uint64_t next_discover_mono;
	uint64_t next_call_mono; /* retry pacing for a failed hook/ELB call */
	int64_t stop_deadline_ms; /* SIGTERM while draining: systemd's limit */
	bool ready_sent;          /* READY=1 told to systemd */
	bool loaded;              /* resumed from a state file */
	int watch_failures;       /* IMDS polls failed before the first success */
	unsigned long long traffic; /* asg-health's requests minus probes */
	uint64_t quiet_since_mono;  /* since then: same traffic, none in flight */
};

/* Sets up the state (resuming from state_dir when the file belongs to
 * this boot and instance). */
void lifecycle_init(struct agent *a);
/* Runs whatever is due; returns the monotonic time of the next call. */
uint64_t lifecycle_tick(struct agent *a);
/* SIGTERM/SIGINT: returns true when the agent may exit now, false when a
 * drain is under way (it then finishes within stop_timeout). */
bool lifecycle_stop(struct agent *a);
/* True once the agent may exit after a stop request. */
bool lifecycle_may_exit(const struct agent *a);

const char *lifecycle_state_name(enum lc_state s);
const char *lifecycle_step_name(enum lc_step s);
/* What the instance is doing, for people: "serving", "gating launch",
 * "draining", "waiting for in-flight", "running drain.d", "completed"... */
const char *lifecycle_phase(const struct lifecycle *lc);
/* The status socket's "lifecycle" object (a new reference). */
struct json_t *lifecycle_status(const struct agent *a);
/* "serving since 07:12:03" for sd_notify STATUS= (into buf). */
void lifecycle_summary(const struct lifecycle *lc, char *buf, size_t len);

#endif
