/* The instance's lifecycle: one state machine decides what asg-health's
 * /health answers (through drain/undrain on its control socket), when the
 * launch hook is completed, when systemd hears READY=1 and whether the
 * metric is published.  Every trigger (the IMDS watch, SIGTERM, the
 * launch gate's checks) is an input to lifecycle_step(); nothing else
 * flips those outputs.  lifecycle_step() is the pure engine (its files:
 * lifecycle.c the states, lifecycle-gate.c the launch gate,
 * lifecycle-drain.c the drain, lifecycle-status.c names and status,
 * lifecycle-state.c the state file's fields); driver.c does
 * the I/O.
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
 * standby:  target state Standby (EnterStandby, by `asg-agent standby
 *           enter` or anyone else): the group neither routes to nor
 *           replaces the instance.  asg-health stays drained and the
 *           metric is not published; no hook fires on standby in or out
 *           (aws.md section 2).  A termination or an interruption drains
 *           as from ready.  Left for ready (and asg-health undrained) only
 *           once IMDS says InService and DescribeAutoScalingInstances
 *           confirms the group has the instance InService again.
 *
 * The state is saved in state_dir after every step (state-file.h). */
#ifndef ASG_AGENT_LIFECYCLE_H
#define ASG_AGENT_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#include "health-client.h"
#include "autoscaling.h"
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
	LC_STANDBY, /* last: the state file names states, adding one keeps the others */
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
#define LC_CAUSE_TERMINATION      0x01u /* target-lifecycle-state Terminated */
#define LC_CAUSE_SPOT             0x02u
#define LC_CAUSE_SCHEDULED        0x04u
#define LC_CAUSE_REBALANCE        0x08u
#define LC_CAUSE_WARM_POOL        0x10u /* scale-in back into the warm pool */
#define LC_CAUSE_LAUNCH_ABANDONED 0x20u
#define LC_CAUSE_INTERRUPTION     (LC_CAUSE_SPOT | LC_CAUSE_SCHEDULED | LC_CAUSE_REBALANCE)

/* The engine's run-time facts and bookkeeping live in struct lifecycle
 * too (below the saved fields): the driver never writes them, it only
 * feeds events.  Times are wall-clock milliseconds given by the caller. */
enum lc_pending {
	LC_PENDING_WATCH = 0x001,
	LC_PENDING_HEALTH = 0x002,
	LC_PENDING_DISCOVER = 0x004,
	LC_PENDING_INSTANCE = 0x008,
	LC_PENDING_COMPLETE = 0x010,
	LC_PENDING_HEARTBEAT = 0x020,
	LC_PENDING_TARGETS = 0x040,
	LC_PENDING_HEALTH_SET = 0x080,
	LC_PENDING_DRAIN_D = 0x100,
	LC_PENDING_FLUSH = 0x200,
};

enum lc_launch_pending { LC_LAUNCH_UNKNOWN, LC_LAUNCH_PENDING, LC_LAUNCH_NOT_PENDING };

struct lifecycle {
	/* Saved in the state file (lifecycle-state.c). */
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
	/* Run time only: facts learned from events. */
	struct lc_events ev;
	bool ev_valid;
	struct hook_set hooks;
	bool hooks_known;
	char tgs[LIFECYCLE_MAX_TARGET_GROUPS][512];
	int n_tgs;
	bool tgs_known;
	struct health_view health;
	int health_err;
	bool health_fresh;    /* health read after the last step change */
	bool imds_ok;         /* the instance metadata answered at start */
	bool aws_ready;       /* credentials and region: calls possible */
	bool asg_known;       /* the group's name is known */
	int drain_d_count;    /* executables in drain.d at the last timer */
	int64_t boot_wall_ms; /* wall-clock time of this boot */
	enum lc_launch_pending launch_pending;
	bool launch_unsettled; /* ready without knowing the target state */
	/* standby: the group's LifecycleState as last described, fresh
	 * when asked in this state; instance_r its -errno (-ENOENT: in no
	 * group). */
	char instance_state[32];
	int instance_r;
	bool instance_fresh;
	/* Run time only: the engine's own bookkeeping. */
	unsigned pending; /* enum lc_pending: calls asked, not answered */
	int64_t next_watch_ms;
	int64_t next_discover_ms;
	int64_t next_call_ms;     /* retry pacing for a failed hook/ELB call */
	int64_t stop_deadline_ms; /* SIGTERM while draining: systemd's limit */
	bool stop_requested;
	bool exit_sent;             /* the exit action was given */
	bool ready_sent;            /* READY=1 told to systemd */
	bool loaded;                /* resumed from a state file */
	int watch_failures;         /* IMDS polls failed before the first success */
	unsigned long long traffic; /* asg-health's requests minus probes */
	int64_t quiet_since_ms;     /* since then: same traffic, none in flight */
};

/* ---- the engine: lifecycle_step() ---- */

enum lc_event_kind {
	LC_EV_RESTART,      /* the daemon started, lc holds a loaded state or zeroes */
	LC_EV_TIMER,        /* time passed; env facts below */
	LC_EV_SIGTERM,      /* SIGTERM/SIGINT */
	LC_EV_IMDS,         /* LC_ACT_WATCH answered: r, imds */
	LC_EV_HEALTH,       /* LC_ACT_READ_HEALTH answered: r, health */
	LC_EV_HEALTH_SET,   /* LC_ACT_DRAIN_HEALTH answered: r, flag (drain) */
	LC_EV_DISCOVERED,   /* LC_ACT_DISCOVER answered: result, hooks, tgs */
	LC_EV_INSTANCE,     /* LC_ACT_DESCRIBE_INSTANCE answered: flag (launch pending),
	                     * r (-ENOENT: in no group), instance_state */
	LC_EV_COMPLETED,    /* LC_ACT_COMPLETE answered: result, launching, abandon */
	LC_EV_HEARTBEAT,    /* LC_ACT_HEARTBEAT answered: result (OK: at least one) */
	LC_EV_TARGETS,      /* LC_ACT_SET_TARGETS answered: result, flag (registered) */
	LC_EV_DRAIN_D_DONE, /* LC_ACT_RUN_DRAIN_D finished (whatever its status) */
	LC_EV_FLUSHED,      /* LC_ACT_FLUSH_METRICS done */
};

/* An AWS call's outcome, as the engine distinguishes them. */
enum lc_result {
	LC_RESULT_OK,
	LC_RESULT_ERROR,       /* throttled, 5xx, network, denied: try again later */
	LC_RESULT_NO_ACTION,   /* "No active Lifecycle Action found": nothing pending */
	LC_RESULT_NOT_YET,     /* no action yet, the instance is before its wait state */
	LC_RESULT_INTERRUPTED, /* a stop cut the call short */
};

struct lc_event {
	enum lc_event_kind kind;
	enum lc_result result;
	int r;     /* -errno of a local call (IMDS, asg-health) */
	bool flag; /* see the kinds */
	bool launching;
	bool abandon;
	/* LC_EV_TIMER: the environment as the driver sees it. */
	bool imds_ok, aws_ready, asg_known;
	int drain_d_count;
	int64_t boot_wall_ms;
	/* LC_EV_IMDS */
	struct lc_events imds;
	char error[256];
	/* LC_EV_HEALTH */
	struct health_view health;
	/* LC_EV_INSTANCE: the group's LifecycleState ("" when unknown) */
	char instance_state[32];
	/* LC_EV_DISCOVERED (not owned; copied) */
	bool hooks_known, tgs_known;
	const struct hook_set *hooks;
	const char (*tgs)[512];
	int n_tgs;
};

enum lc_action_kind {
	LC_ACT_WATCH,             /* read the four IMDS items -> LC_EV_IMDS */
	LC_ACT_READ_HEALTH,       /* asg-health GET /status -> LC_EV_HEALTH */
	LC_ACT_DISCOVER,          /* group, hooks, target groups -> LC_EV_DISCOVERED */
	LC_ACT_DESCRIBE_INSTANCE, /* is a launch hook pending? -> LC_EV_INSTANCE */
	LC_ACT_COMPLETE,          /* CompleteLifecycleAction (launching, abandon) */
	LC_ACT_HEARTBEAT,         /* RecordLifecycleActionHeartbeat (launching) */
	LC_ACT_SET_TARGETS,       /* (De)RegisterTargets (flag: registered) */
	LC_ACT_DRAIN_HEALTH,      /* asg-health drain (flag) or undrain */
	LC_ACT_RUN_DRAIN_D,       /* run executable number index for timeout_ms */
	LC_ACT_CLOSE_METRICS,     /* close the current period: none after */
	LC_ACT_FLUSH_METRICS,     /* publish the backlog -> LC_EV_FLUSHED */
	LC_ACT_PUBLISHING,        /* the metric is published (flag) or not */
	LC_ACT_NOTIFY,            /* sd_notify STATUS= (flag: with READY=1) */
	LC_ACT_SAVE,              /* write the state file */
	LC_ACT_LOG,               /* level, text (index: state for LIFECYCLE_STATE=, or -1) */
	LC_ACT_RECORD_ERROR,      /* text: the status socket's last_error */
	LC_ACT_EXIT,              /* the process may exit now */
};

struct lc_action {
	enum lc_action_kind kind;
	bool flag;
	bool launching;
	bool abandon;
	int index;
	int level;
	int64_t timeout_ms;
	char text[256];
};

#define LC_MAX_ACTIONS 32

struct lc_actions {
	struct lc_action a[LC_MAX_ACTIONS];
	int n;
	struct lc_action spill; /* written past the end, never executed */
	bool overflow;          /* more than LC_MAX_ACTIONS were asked (a bug) */
	int64_t wake_ms;        /* the next LC_EV_TIMER is due then (wall clock) */
};

/* The whole lifecycle: applies ev at time now (wall-clock ms) to *lc and
 * says what to do in *out, in order.  No I/O, no clock, no globals: the
 * driver (driver.c) executes the actions and feeds each
 * answer back as its event. */
void lifecycle_step(struct lifecycle *lc, const struct lifecycle_config *cfg,
                    const struct lc_event *ev, int64_t now, struct lc_actions *out);

/* ---- the driver (driver.c): the daemon's side ---- */

/* Sets up the state (resuming from state_dir when the file belongs to
 * this boot and instance). */
void lifecycle_init(struct agent *a);
/* Runs whatever is due; returns the monotonic time of the next call,
 * UINT64_MAX while a call is under way (its end sets a->lc_kick). */
uint64_t lifecycle_tick(struct agent *a);
/* SIGTERM/SIGINT: fed to the engine at the next tick once the step under
 * way has executed; lifecycle_may_exit() then says when to exit (a drain
 * under way finishes within stop_timeout). */
void lifecycle_stop(struct agent *a);
/* The agent's publish ended: a flush waiting for it goes on. */
void lifecycle_publish_ended(struct agent *a);
/* Ends what is under way (no answer comes). */
void lifecycle_free(struct agent *a);
/* True once the agent may exit after a stop request. */
bool lifecycle_may_exit(const struct agent *a);

/* ---- names and status (lifecycle-status.c) ---- */

const char *lifecycle_state_name(enum lc_state s);
const char *lifecycle_step_name(enum lc_step s);
const char *lifecycle_action_name(enum lc_action_kind k);
/* What the instance is doing, for people: "serving", "gating launch",
 * "draining", "waiting for in-flight", "running drain.d", "completed"... */
const char *lifecycle_phase(const struct lifecycle *lc);
/* "termination+spot-interruption" */
void lifecycle_causes_text(unsigned causes, char *buf, size_t len);
/* The status socket's "lifecycle" object (a new reference). */
struct json_t *lifecycle_status(const struct lifecycle *lc);
/* "serving since 07:12:03" for sd_notify STATUS= (into buf). */
void lifecycle_summary(const struct lifecycle *lc, char *buf, size_t len);

#endif
