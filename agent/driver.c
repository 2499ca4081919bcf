/* The lifecycle's I/O (agent/lifecycle*.c are the pure engine): executes
 * what lifecycle_step() asks (IMDS, AWS calls, asg-health, drain.d,
 * metrics, sd_notify, the state file, logs) and feeds each answer back as
 * an event.  The calls run on the agent's loop and never block it: one
 * call (a->lc_op) is under way at a time, the step's next action waits
 * for its end, and its answer is queued for the engine, one per turn of
 * the loop, so status requests, SIGTERM and metric publishing go on
 * meanwhile.  A SIGTERM is fed once the step under way has executed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>

#include "agent.h"
#include "autoscaling.h"
#include "elbv2.h"
#include "watch.h"
#include "identity.h"
#include "cleanup.h"
#include "counters.h"
#include "control-protocol.h"
#include "drain.h"
#include "health-client.h"
#include "lifecycle-state.h"
#include "lifecycle.h"
#include "log.h"
#include "state-file.h"
#include "strbuf.h"
#include "timeutil.h"

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wall-clock time of this boot: a launching hook's timer starts with the
 * instance (or its start from a warm pool), before the agent runs. */
static int64_t boot_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return wall_ms() - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
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
		agent_record_error(a,
		                   "invalid lifecycle state %s/%s (%s), and cannot set it aside: "
		                   "%s; ignoring it",
		                   dir, STATE_FILE_NAME, why, strerror(-r));
	else
		agent_record_error(a,
		                   "invalid lifecycle state %s/%s (%s); moved to %s/%s, starting "
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
	         lifecycle_state_name(lc->state), lifecycle_phase(lc), a->cfg->lc.state_dir,
	         STATE_FILE_NAME, (double)(wall_ms() - lc->since_ms) / 1000);
}

/* ---- the calls ---- */

static enum lc_result call_result(struct agent *a, const char *what, int r,
                                  const struct aws_response *resp)
{
	if (r == 0)
		return LC_RESULT_OK;
	if (r == -EINTR)
		return LC_RESULT_INTERRUPTED;
	agent_record_error(a, "%s failed: %s%s%s", what, resp->code[0] ? resp->code : "",
	                   resp->code[0] ? ": " : "",
	                   resp->message[0] ? resp->message : strerror(r < 0 ? -r : r));
	log_warning("lifecycle: %s failed: %s; retrying", what, a->last_error);
	return LC_RESULT_ERROR;
}

/* ---- the calls: each one an operation on the loop (a->lc_op) that
 * ends in op_done() with its answer in the queue ---- */

static struct lc_event *op_event(struct agent *a)
{
	return &a->lc_queue[a->lc_queued];
}

static void op_done(struct agent *a)
{
	a->lc_queued++;
	a->lc_op.busy = false;
	a->lc_kick = true;
}

/* Starts an AWS call of the operation; its failure to start ends the
 * operation as a call error. */
static bool op_started(struct agent *a, const char *what, int r)
{
	if (r == 0)
		return true;
	op_event(a)->result = call_result(a, what, r, &a->lc_op.resp);
	op_done(a);
	return false;
}

/* DISCOVER: the group (identity.c), then its hooks, then its target
 * groups, each asked only while unknown. */
static void discover_tgs(struct agent *a);

static void on_hooks(void *ctx, int r, struct aws_response *resp)
{
	struct agent *a = ctx;
	struct lc_event *ev = op_event(a);
	struct hook_set *hooks = &a->lc_found_hooks;

	r = autoscaling_lifecycle_hooks_result(r, resp, hooks);
	if (r == 0) {
		ev->hooks_known = true;
		for (int i = 0; i < hooks->n; i++)
			log_info("lifecycle: %s hook %s (HeartbeatTimeout %d s, DefaultResult %s)",
			         hooks->h[i].launching ? "launching" : "terminating",
			         hooks->h[i].name, hooks->h[i].heartbeat_timeout_s,
			         hooks->h[i].default_abandon ? "ABANDON" : "CONTINUE");
		if (!hooks->n)
			log_info("lifecycle: group %s has no lifecycle hooks", a->ident.asg_name);
	} else {
		ev->result = call_result(a, "DescribeLifecycleHooks", r, resp);
	}
	aws_response_free(resp);
	discover_tgs(a);
}

static void on_tgs(void *ctx, int r, struct aws_response *resp)
{
	struct agent *a = ctx;
	struct lc_event *ev = op_event(a);

	r = autoscaling_target_groups_result(r, resp, a->lc_found_tgs, LIFECYCLE_MAX_TARGET_GROUPS,
	                                     &ev->n_tgs);
	if (r == 0) {
		ev->tgs_known = true;
		log_info("lifecycle: group %s has %d target group(s)", a->ident.asg_name,
		         ev->n_tgs);
	} else if (ev->result == LC_RESULT_OK) {
		ev->result = call_result(a, "DescribeAutoScalingGroups", r, resp);
	} else {
		call_result(a, "DescribeAutoScalingGroups", r, resp);
	}
	aws_response_free(resp);
	op_done(a);
}

static void discover_tgs(struct agent *a)
{
	if (a->lc.tgs_known) {
		op_done(a);
		return;
	}
	op_started(a, "DescribeAutoScalingGroups",
	           autoscaling_describe_target_groups_start(
	                   &a->lc_op.call, &a->aws, a->ident.asg_name, &a->lc_op.resp, on_tgs, a));
}

static void discover_hooks(struct agent *a)
{
	if (!a->aws_ready) {
		op_done(a);
		return;
	}
	if (a->lc.hooks_known) {
		discover_tgs(a);
		return;
	}
	memset(&a->lc_found_hooks, 0, sizeof(a->lc_found_hooks));
	op_started(a, "DescribeLifecycleHooks",
	           autoscaling_describe_lifecycle_hooks_start(&a->lc_op.call, &a->aws,
	                                                      a->ident.asg_name, &a->lc_op.resp,
	                                                      on_hooks, a));
}

static void on_discover_group(struct agent *a, int r)
{
	const struct lifecycle *lc = &a->lc;
	struct lc_event *ev = op_event(a);

	if (r == 0) {
		discover_hooks(a);
		return;
	}
	/* Restarted during a drain after the group had let the instance go
	 * (the previous process was killed after AWS took its
	 * CompleteLifecycleAction and before the state was saved): it is in
	 * no group, so no hook and no target group is left to act on.  Seen
	 * in tests/hostile/agent-kill.py; without this the drain waited for a
	 * group forever. */
	if (r == -ENOENT && lc->state == LC_DRAINING && a->aws_ready && a->ident.imds == IMDS_OK) {
		memset(&a->lc_found_hooks, 0, sizeof(a->lc_found_hooks));
		ev->hooks_known = !lc->hooks_known;
		ev->tgs_known = !lc->tgs_known;
		ev->n_tgs = 0;
		log_notice("lifecycle: %s is in no Auto Scaling group any more; no hook is left to "
		           "complete",
		           a->ident.id.instance_id);
	}
	op_done(a);
}

static void discover(struct agent *a, struct lc_event *ev)
{
	int r;

	ev->kind = LC_EV_DISCOVERED;
	ev->hooks = &a->lc_found_hooks;
	ev->tgs = (const char(*)[512])a->lc_found_tgs;
	if (a->ident.asg_source) {
		discover_hooks(a);
		return;
	}
	/* -EBUSY: the identity is being read again (IMDS was absent): the
	 * group is unknown for now, and asked again later. */
	r = identity_find_asg_start(a, on_discover_group);
	if (r != 1)
		on_discover_group(a, r);
}

/* DESCRIBE_INSTANCE, and the check after "No active Lifecycle Action":
 * the instance's LifecycleState by DescribeAutoScalingInstances
 * (-ENOENT: in no group). */
static int instance_state(struct agent *a, int r, struct aws_response *resp, char *state,
                          size_t len)
{
	char group[256];

	state[0] = '\0';
	r = autoscaling_instance_result(r, resp, group, sizeof(group), state, len);
	aws_response_free(resp);
	if (r == 0)
		log_info("lifecycle: instance %s is %s in %s", a->ident.id.instance_id, state,
		         group);
	return r;
}

static int describe_instance(struct agent *a, aws_done_fn done)
{
	return autoscaling_describe_instance_start(&a->lc_op.call, &a->aws, a->ident.id.instance_id,
	                                           &a->lc_op.resp2, done, a);
}

/* Whether a launching hook may be pending: Pending(:Wait), or
 * Warmed:Pending(:Wait) on the way into the warm pool. */
static bool launch_pending(int r, const char *state)
{
	if (r == -ENOENT)
		return false; /* in no group */
	if (r < 0)
		return true;
	return !strcmp(state, "Pending:Wait") || !strcmp(state, "Pending") ||
	       !strcmp(state, "Warmed:Pending:Wait") || !strcmp(state, "Warmed:Pending");
}

static void on_launch_state(void *ctx, int r, struct aws_response *resp)
{
	struct agent *a = ctx;
	struct lc_event *e = op_event(a);

	e->r = instance_state(a, r, resp, e->instance_state, sizeof(e->instance_state));
	e->flag = launch_pending(e->r, e->instance_state);
	op_done(a);
}

enum wait_phase { PHASE_UNKNOWN, PHASE_BEFORE_WAIT, PHASE_WAIT, PHASE_PAST };

/* Where the instance stands against a hook's wait state: before it
 * (Pending, Terminating, Warmed:Pending...: the action comes soon), in it
 * (Pending:Wait, Terminating:Wait...), past it, or unknown. */
static enum wait_phase wait_phase(int r, const char *state)
{
	static const char *const before[] = {"Pending", "Terminating", "Warmed:Pending",
	                                     "Warmed:Terminating"};
	size_t len;

	if (r != 0)
		return PHASE_UNKNOWN;
	for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++)
		if (!strcmp(state, before[i]))
			return PHASE_BEFORE_WAIT;
	len = strlen(state);
	if (len > 5 && !strcmp(state + len - 5, ":Wait"))
		return PHASE_WAIT;
	return PHASE_PAST;
}

/* COMPLETE: every hook of the transition, one after the other. */
static void complete_next(struct agent *a);
static void on_complete(void *ctx, int r, struct aws_response *resp);

static int complete_call(struct agent *a)
{
	const struct hook *h = &a->lc.hooks.h[a->lc_op.i];

	return autoscaling_complete_lifecycle_action_start(
	        &a->lc_op.call, &a->aws, a->ident.asg_name, h->name, a->ident.id.instance_id,
	        a->lc_op.act.abandon, &a->lc_op.resp, on_complete, a);
}

/* The answer of the hook's call (after the Describe, if any). */
static void complete_hook_done(struct agent *a, int r)
{
	struct lc_op *op = &a->lc_op;
	const struct hook *h = &a->lc.hooks.h[op->i];
	enum lc_result res = LC_RESULT_OK;

	if (r == 0) {
		log_notice("lifecycle: CompleteLifecycleAction %s %s for %s in %.1f s (%d "
		           "attempt(s))",
		           h->name, op->act.abandon ? "ABANDON" : "CONTINUE",
		           a->ident.id.instance_id, (double)(now_mono_ms() - op->t0) / 1000,
		           op->resp.attempts);
	} else if (r == -ENOENT && op->phase == PHASE_BEFORE_WAIT) {
		log_info("lifecycle: hook %s: %s is not in its wait state yet; retrying", h->name,
		         a->ident.id.instance_id);
		res = LC_RESULT_NOT_YET;
	} else if (r == -ENOENT) {
		log_info("lifecycle: hook %s: no active lifecycle action for %s; nothing pending",
		         h->name, a->ident.id.instance_id);
	} else {
		res = call_result(a, "CompleteLifecycleAction", r, &op->resp);
	}
	aws_response_free(&op->resp);
	if (res != LC_RESULT_OK) {
		op_event(a)->result = res;
		op_done(a);
		return;
	}
	op->i++;
	complete_next(a);
}

static void on_complete_phase(void *ctx, int r, struct aws_response *resp)
{
	struct agent *a = ctx;
	struct lc_op *op = &a->lc_op;
	char state[64];

	r = instance_state(a, r, resp, state, sizeof(state));
	op->phase = wait_phase(r, state);
	/* A second call only when the instance reached its wait state
	 * between the first one and the Describe: its action was created in
	 * between (scale-in ends the deregistration delay so). */
	if (op->phase == PHASE_WAIT && op->attempt == 0) {
		op->attempt++;
		aws_response_free(&op->resp);
		r = complete_call(a);
		if (r < 0)
			complete_hook_done(a, r);
		return;
	}
	complete_hook_done(a, -ENOENT);
}

static void on_complete(void *ctx, int r, struct aws_response *resp)
{
	struct agent *a = ctx;

	r = autoscaling_hook_call_result(r, resp);
	if (r == 0)
		counters_hook_completed(a->lc_op.act.abandon);
	if (r == -ENOENT) {
		r = describe_instance(a, on_complete_phase);
		if (r < 0) {
			a->lc_op.phase = PHASE_UNKNOWN;
			complete_hook_done(a, -ENOENT);
		}
		return;
	}
	complete_hook_done(a, r);
}

static void complete_next(struct agent *a)
{
	struct lc_op *op = &a->lc_op;
	int r;

	while (op->i < a->lc.hooks.n && a->lc.hooks.h[op->i].launching != op->act.launching)
		op->i++;
	if (op->i >= a->lc.hooks.n) {
		op_event(a)->result = LC_RESULT_OK;
		op_done(a);
		return;
	}
	op->attempt = 0;
	op->phase = PHASE_UNKNOWN;
	r = complete_call(a);
	if (r < 0)
		complete_hook_done(a, r);
}

/* HEARTBEAT: every hook of the transition; OK when one took it. */
static void heartbeat_next(struct agent *a);

static void on_heartbeat(void *ctx, int r, struct aws_response *resp)
{
	struct agent *a = ctx;
	struct lc_op *op = &a->lc_op;
	const struct hook *h = &a->lc.hooks.h[op->i];

	r = autoscaling_hook_call_result(r, resp);
	if (r == 0) {
		op->res = LC_RESULT_OK;
		log_info("lifecycle: heartbeat for hook %s (%s for %.1f s)", h->name,
		         lifecycle_phase(&a->lc), (double)(wall_ms() - a->lc.since_ms) / 1000);
	} else if (r != -ENOENT) {
		enum lc_result e = call_result(a, "RecordLifecycleActionHeartbeat", r, resp);
		if (op->res != LC_RESULT_OK)
			op->res = e;
	}
	aws_response_free(resp);
	op->i++;
	heartbeat_next(a);
}

static void heartbeat_next(struct agent *a)
{
	struct lc_op *op = &a->lc_op;
	int r;

	for (;;) {
		while (op->i < a->lc.hooks.n && a->lc.hooks.h[op->i].launching != op->act.launching)
			op->i++;
		if (op->i >= a->lc.hooks.n) {
			op_event(a)->result = op->res;
			op_done(a);
			return;
		}
		r = autoscaling_record_heartbeat_start(
		        &op->call, &a->aws, a->ident.asg_name, a->lc.hooks.h[op->i].name,
		        a->ident.id.instance_id, &op->resp, on_heartbeat, a);
		if (r == 0)
			return;
		enum lc_result e = call_result(a, "RecordLifecycleActionHeartbeat", r, &op->resp);
		if (op->res != LC_RESULT_OK)
			op->res = e;
		op->i++;
	}
}

/* SET_TARGETS: every target group, until one fails. */
static void targets_next(struct agent *a);

static void on_target(void *ctx, int r, struct aws_response *resp)
{
	struct agent *a = ctx;
	struct lc_op *op = &a->lc_op;
	bool registered = op->act.flag;
	enum lc_result res = LC_RESULT_OK;

	if (r == 0)
		log_notice("lifecycle: %s %s %s in %.1f s",
		           registered ? "RegisterTargets" : "DeregisterTargets",
		           a->ident.id.instance_id, a->lc.tgs[op->i],
		           (double)(now_mono_ms() - op->t0) / 1000);
	else
		res = call_result(a, registered ? "RegisterTargets" : "DeregisterTargets", r, resp);
	aws_response_free(resp);
	if (res != LC_RESULT_OK) {
		op_event(a)->result = res;
		op_done(a);
		return;
	}
	op->i++;
	targets_next(a);
}

static void targets_next(struct agent *a)
{
	struct lc_op *op = &a->lc_op;
	bool registered = op->act.flag;

	if (op->i >= a->lc.n_tgs) {
		op_event(a)->result = LC_RESULT_OK;
		op_done(a);
		return;
	}
	op->t0 = now_mono_ms();
	op_started(a, registered ? "RegisterTargets" : "DeregisterTargets",
	           elbv2_set_target_start(&op->call, &a->aws, a->lc.tgs[op->i],
	                                  a->ident.id.instance_id, registered, &op->resp, on_target,
	                                  a));
}

/* WATCH: the four IMDS items. */
static void on_watch(void *ctx, int r)
{
	struct agent *a = ctx;
	struct lc_event *e = op_event(a);

	e->r = r;
	format_into(e->error, sizeof(e->error), "%s", a->imds.last_error);
	op_done(a);
}

/* READ_HEALTH and DRAIN_HEALTH: asg-health's control socket. */
static void on_health(void *ctx, int r, long status, const struct strbuf *body)
{
	struct agent *a = ctx;
	struct lc_event *e = op_event(a);

	e->r = health_read_result(r, status, body, a->cfg->lc.launch_rise, &e->health);
	op_done(a);
}

static void on_health_set(void *ctx, int r, long status, const struct strbuf *body)
{
	struct agent *a = ctx;

	(void)body;
	op_event(a)->r = health_set_drain_result(r, status);
	op_done(a);
}

/* FLUSH_METRICS: after a publish under way, if any (one at a time: the
 * queue's periods must go once). */
static void on_flushed(void *ctx, int r)
{
	struct agent *a = ctx;

	a->publishing = false;
	if (r < 0)
		agent_record_error(a, "%s", a->metrics.last_error);
	op_done(a);
}

static void flush(struct agent *a)
{
	int r;

	if (!a->aws_ready || !metrics_backlog(&a->metrics)) {
		op_done(a);
		return;
	}
	if (a->publishing) {
		a->lc_op.waits_publish = true;
		return;
	}
	a->publishing = true;
	r = metrics_publish_start(&a->publish, &a->metrics, &a->aws, on_flushed, a);
	if (r != 1)
		on_flushed(a, r);
}

void lifecycle_publish_ended(struct agent *a)
{
	if (a->lc_op.busy && a->lc_op.waits_publish) {
		a->lc_op.waits_publish = false;
		flush(a);
	}
}

/* RUN_DRAIN_D: the index-th executable; its result is only logged. */
static void drain_d_result(struct agent *a, const char *name, int r)
{
	const char *dir = a->cfg->lc.drain_d;
	double timeout = (double)a->lc_op.act.timeout_ms / 1000;
	double took = (double)(now_mono_ms() - a->lc_op.t0) / 1000;

	if (r == 0)
		log_info("lifecycle: %s/%s done in %.1f s", dir, name, took);
	else if (r == -ETIME)
		log_warning("lifecycle: %s/%s timed out after %.1f s; killed", dir, name, timeout);
	else
		log_warning("lifecycle: %s/%s failed (%s %d) after %.1f s", dir, name,
		            r < 0 ? "error" : "exit status", r < 0 ? -r : r, took);
}

static void on_drain_d(void *ctx, int r)
{
	struct agent *a = ctx;

	drain_d_result(a, a->lc_op.drain.name, r);
	op_done(a);
}

static void run_drain_d(struct agent *a, int index, long long timeout)
{
	const struct lifecycle_config *c = &a->cfg->lc;
	const struct lifecycle *lc = &a->lc;
	char **names = NULL;
	int n = 0, r;

	r = drain_d_list(c->drain_d, &names, &n);
	if (r < 0)
		log_warning("lifecycle: cannot read %s: %s", c->drain_d, strerror(-r));
	if (index >= n) {
		drain_d_free(names, n);
		op_done(a);
		return;
	}
	const char *name = names[index];
	char causes[160], deadline[64], inst[64], tmp[128], why[512];
	const char *env[] = {causes, deadline, inst, NULL};

	lifecycle_causes_text(lc->causes, tmp, sizeof(tmp));
	format_into(causes, sizeof(causes), "ASG_AGENT_DRAIN_CAUSE=%s", tmp);
	format_into(deadline, sizeof(deadline), "ASG_AGENT_DEADLINE=%lld",
	            (long long)(lc->deadline_ms / 1000));
	format_into(inst, sizeof(inst), "ASG_AGENT_INSTANCE_ID=%s", a->ident.id.instance_id);
	/* Skipped, not fatal: the drain (and the hook's completion) goes on,
	 * as run-parts skips what it must not run. */
	if (drain_d_check(c->drain_d, name, why, sizeof(why)) < 0) {
		agent_record_error(a, "drain.d: refusing %s: %s; skipped", name, why);
		log_error("lifecycle: %s", a->last_error);
		op_done(a);
	} else {
		log_info("lifecycle: running %s/%s (timeout %.1f s)", c->drain_d, name,
		         (double)timeout / 1000);
		r = drain_d_start(&a->lc_op.drain, c->drain_d, name, env, timeout, on_drain_d, a);
		if (r < 0) {
			drain_d_result(a, name, r);
			op_done(a);
		}
	}
	drain_d_free(names, n);
}

static int drain_d_count(struct agent *a)
{
	char **names = NULL;
	int n = 0;

	if (drain_d_list(a->cfg->lc.drain_d, &names, &n) < 0)
		n = 0;
	drain_d_free(names, n);
	return n;
}

static void notify(struct agent *a, bool ready)
{
	char s[256];

	lifecycle_summary(&a->lc, s, sizeof(s));
	if (ready)
		sd_notifyf(0, "READY=1\nSTATUS=%s", s);
	else
		sd_notifyf(0, "STATUS=%s", s);
}

/* Executes one action; its answer, if any, waits in the queue.  The
 * calls end later (a->lc_op.busy until then). */
static void execute(struct agent *a, const struct lc_action *act)
{
	struct lifecycle *lc = &a->lc;
	struct lc_op *op = &a->lc_op;
	struct lc_event *e;
	const char *fields[] = {NULL, NULL};
	char f[64];
	int r;

	if (a->lc_queued >= LIFECYCLE_QUEUE_MAX) {
		/* The engine asks one call at a time, a few at most. */
		log_error("lifecycle: more than %d answers queued (a bug); %s dropped",
		          LIFECYCLE_QUEUE_MAX, lifecycle_action_name(act->kind));
		return;
	}
	e = &a->lc_queue[a->lc_queued];
	memset(e, 0, sizeof(*e));
	switch (act->kind) {
	case LC_ACT_WATCH:
	case LC_ACT_READ_HEALTH:
	case LC_ACT_DRAIN_HEALTH:
	case LC_ACT_RUN_DRAIN_D:
	case LC_ACT_DISCOVER:
	case LC_ACT_DESCRIBE_INSTANCE:
	case LC_ACT_COMPLETE:
	case LC_ACT_HEARTBEAT:
	case LC_ACT_SET_TARGETS:
	case LC_ACT_FLUSH_METRICS:
		memset(op, 0, sizeof(*op));
		op->busy = true;
		op->act = *act;
		op->t0 = now_mono_ms();
		break;
	default:
		break;
	}
	switch (act->kind) {
	case LC_ACT_WATCH:
		e->kind = LC_EV_IMDS;
		e->imds = lc->ev; /* an item that cannot be read keeps its value */
		r = watch_poll_start(&op->watch, &a->imds, &e->imds, on_watch, a);
		if (r < 0)
			on_watch(a, r);
		return;
	case LC_ACT_READ_HEALTH:
		e->kind = LC_EV_HEALTH;
		r = health_control_start(&op->health, &a->health_http, a->cfg->health_socket, "GET",
		                         CONTROL_PATH_STATUS, on_health, a);
		if (r < 0)
			on_health(a, r, 0, NULL);
		return;
	case LC_ACT_DISCOVER:
		discover(a, e);
		return;
	case LC_ACT_DESCRIBE_INSTANCE:
		e->kind = LC_EV_INSTANCE;
		r = describe_instance(a, on_launch_state);
		if (r < 0) {
			e->r = r;
			e->instance_state[0] = '\0';
			e->flag = true;
			op_done(a);
		}
		return;
	case LC_ACT_COMPLETE:
		e->kind = LC_EV_COMPLETED;
		e->launching = act->launching;
		e->abandon = act->abandon;
		e->flag = act->flag;
		complete_next(a);
		return;
	case LC_ACT_HEARTBEAT:
		e->kind = LC_EV_HEARTBEAT;
		e->launching = act->launching;
		op->res = LC_RESULT_NO_ACTION;
		heartbeat_next(a);
		return;
	case LC_ACT_SET_TARGETS:
		e->kind = LC_EV_TARGETS;
		e->flag = act->flag;
		targets_next(a);
		return;
	case LC_ACT_DRAIN_HEALTH:
		e->kind = LC_EV_HEALTH_SET;
		e->flag = act->flag;
		r = health_control_start(
		        &op->health, &a->health_http, a->cfg->health_socket, "POST",
		        act->flag ? CONTROL_PATH_DRAIN : CONTROL_PATH_UNDRAIN, on_health_set, a);
		if (r < 0)
			on_health_set(a, r, 0, NULL);
		return;
	case LC_ACT_RUN_DRAIN_D:
		e->kind = LC_EV_DRAIN_D_DONE;
		run_drain_d(a, act->index, act->timeout_ms);
		return;
	case LC_ACT_CLOSE_METRICS:
		metrics_close_current(&a->metrics);
		return;
	case LC_ACT_FLUSH_METRICS:
		e->kind = LC_EV_FLUSHED;
		flush(a);
		return;
	case LC_ACT_PUBLISHING:
		metrics_set_publishing(&a->metrics, act->flag);
		return;
	case LC_ACT_NOTIFY:
		notify(a, act->flag);
		return;
	case LC_ACT_SAVE:
		save(a);
		return;
	case LC_ACT_LOG:
		if (act->index >= 0) {
			format_into(f, sizeof(f), "LIFECYCLE_STATE=%s",
			            lifecycle_state_name((enum lc_state)act->index));
			fields[0] = f;
		}
		log_fields(act->level, fields, "%s", act->text);
		return;
	case LC_ACT_RECORD_ERROR:
		agent_record_error(a, "%s", act->text);
		return;
	case LC_ACT_EXIT:
		a->lc_exit = true;
		return;
	}
	a->lc_queued++;
}

/* Executes the step's actions in order, each call after the previous
 * one has ended. */
static void pump(struct agent *a)
{
	while (!a->lc_op.busy && a->lc_todo && a->lc_todo_next < a->lc_todo->n)
		execute(a, &a->lc_todo->a[a->lc_todo_next++]);
	if (!a->lc_op.busy && a->lc_todo && a->lc_todo_next >= a->lc_todo->n) {
		free(a->lc_todo);
		a->lc_todo = NULL;
	}
}

static bool idle(const struct agent *a)
{
	return !a->lc_op.busy && !a->lc_todo;
}

/* Feeds ev to the engine and starts its actions; true when they include
 * the exit. */
static bool feed(struct agent *a, const struct lc_event *ev)
{
	/* The engine's answer is kept until executed: executing an action
	 * feeds further events, each with its own list. */
	struct lc_actions *out = malloc(sizeof(*out));
	bool exits = false;
	int64_t now = wall_ms();

	if (!out) {
		log_error("lifecycle: out of memory");
		return false;
	}
	lifecycle_step(&a->lc, &a->cfg->lc, ev, now, out);
	if (out->overflow)
		log_error("lifecycle: more than %d actions in one step (a bug); some dropped",
		          LC_MAX_ACTIONS);
	/* Kept on the monotonic clock: a wall clock set back does not
	 * hold the timer for as long. */
	a->lc_timer_ms = now_mono_ms() + (uint64_t)(out->wake_ms > now ? out->wake_ms - now : 0);
	for (int i = 0; i < out->n; i++)
		exits |= out->a[i].kind == LC_ACT_EXIT;
	a->lc_todo = out;
	a->lc_todo_next = 0;
	pump(a);
	return exits;
}

/* Feeds the oldest queued answer; true when there was one. */
static bool feed_queued(struct agent *a)
{
	struct lc_event *ev;

	if (!a->lc_queued)
		return false;
	ev = malloc(sizeof(*ev));
	if (!ev) {
		log_error("lifecycle: out of memory");
		return false;
	}
	*ev = a->lc_queue[0];
	a->lc_queued--;
	memmove(&a->lc_queue[0], &a->lc_queue[1], (size_t)a->lc_queued * sizeof(a->lc_queue[0]));
	feed(a, ev);
	free(ev);
	return true;
}

/* SIGTERM, fed once the step under way has executed: its calls end
 * first (a POST within its timeout, the rest interrupted at once). */
static void feed_stop(struct agent *a)
{
	struct lc_event ev = {.kind = LC_EV_SIGTERM};

	a->lc_stop_pending = false;
	/* A drain under way is finished first, within systemd's stop
	 * timeout. */
	if (feed(a, &ev))
		log_info("received %s; flushing the current period and exiting",
		         strsignal(a->stop_signo ? a->stop_signo : SIGTERM));
}

void lifecycle_init(struct agent *a)
{
	struct lc_event ev = {.kind = LC_EV_RESTART};

	memset(&a->lc, 0, sizeof(a->lc));
	a->lc_exit = false;
	a->lc_timer_ms = 0;
	a->lc_queued = 0;
	if (a->ident.imds == IMDS_OK)
		load(a);
	feed(a, &ev);
}

uint64_t lifecycle_tick(struct agent *a)
{
	struct lc_event ev = {.kind = LC_EV_TIMER};

	pump(a);
	if (!idle(a))
		return UINT64_MAX; /* the call's end ticks again (lc_kick) */
	if (a->lc_stop_pending) {
		feed_stop(a);
		return idle(a) ? now_mono_ms() : UINT64_MAX;
	}
	/* Answers first, one per turn: the loop sees signals and status
	 * requests between them. */
	if (feed_queued(a))
		return idle(a) ? now_mono_ms() : UINT64_MAX;
	/* The timer event only when it is due: every event decides, and a
	 * timer fed after each answer read asg-health's /status back to back
	 * while a drain waited for requests to stop (thousands a second). */
	if (now_mono_ms() < a->lc_timer_ms)
		return a->lc_timer_ms;
	ev.imds_ok = a->ident.imds == IMDS_OK;
	ev.aws_ready = a->aws_ready;
	ev.asg_known = a->ident.asg_source != NULL;
	ev.drain_d_count = drain_d_count(a);
	ev.boot_wall_ms = boot_wall_ms();
	feed(a, &ev);
	if (!idle(a))
		return UINT64_MAX;
	if (a->lc_queued)
		return now_mono_ms();
	return a->lc_timer_ms;
}

void lifecycle_stop(struct agent *a)
{
	a->lc_stop_pending = true;
}

bool lifecycle_may_exit(const struct agent *a)
{
	return a->lc_exit && idle(a);
}

void lifecycle_free(struct agent *a)
{
	struct lc_op *op = &a->lc_op;

	if (op->busy) {
		watch_poll_cancel(&op->watch);
		health_call_cancel(&op->health);
		drain_run_cancel(&op->drain);
		if (a->aws_ready)
			aws_call_cancel(&op->call);
		aws_response_free(&op->resp);
		aws_response_free(&op->resp2);
		op->busy = false;
	}
	free(a->lc_todo);
	a->lc_todo = NULL;
}
