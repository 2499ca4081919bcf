/* The lifecycle's I/O (agent/lifecycle*.c are the pure engine): executes
 * what lifecycle_step() asks (IMDS, AWS calls, asg-health, drain.d,
 * metrics, sd_notify, the state file, logs) and feeds each answer back as
 * an event.  The calls still block (each one notices a stop through
 * watchdog.c); the engine does not care. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>

#include "agent.h"
#include "autoscaling.h"
#include "elbv2.h"
#include "identity.h"
#include "cleanup.h"
#include "drain.h"
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

static void discover(struct agent *a, struct lc_event *ev)
{
	const struct lifecycle *lc = &a->lc;
	struct hook_set *hooks = &a->lc_found_hooks;
	struct aws_response resp;
	int r;

	ev->kind = LC_EV_DISCOVERED;
	ev->hooks = hooks;
	ev->tgs = (const char(*)[512])a->lc_found_tgs;
	if (!a->ident.asg_source && (r = identity_find_asg(a)) < 0) {
		/* Restarted during a drain after the group had let the instance
		 * go (the previous process was killed after AWS took its
		 * CompleteLifecycleAction and before the state was saved): it is
		 * in no group, so no hook and no target group is left to act on.
		 * Seen in tests/hostile/agent-kill.py; without this the drain
		 * waited for a group forever. */
		if (r == -ENOENT && lc->state == LC_DRAINING && a->aws_ready &&
		    a->ident.imds == IMDS_OK) {
			memset(hooks, 0, sizeof(*hooks));
			ev->hooks_known = !lc->hooks_known;
			ev->tgs_known = !lc->tgs_known;
			ev->n_tgs = 0;
			log_notice("lifecycle: %s is in no Auto Scaling group any more; no hook "
			           "is left to complete",
			           a->ident.id.instance_id);
		}
		return;
	}
	if (!a->aws_ready)
		return;
	if (!lc->hooks_known) {
		memset(hooks, 0, sizeof(*hooks));
		r = autoscaling_describe_lifecycle_hooks(&a->aws, a->ident.asg_name, hooks, &resp);
		if (r == 0) {
			ev->hooks_known = true;
			for (int i = 0; i < hooks->n; i++)
				log_info("lifecycle: %s hook %s (HeartbeatTimeout %d s, "
				         "DefaultResult %s)",
				         hooks->h[i].launching ? "launching" : "terminating",
				         hooks->h[i].name, hooks->h[i].heartbeat_timeout_s,
				         hooks->h[i].default_abandon ? "ABANDON" : "CONTINUE");
			if (!hooks->n)
				log_info("lifecycle: group %s has no lifecycle hooks",
				         a->ident.asg_name);
		} else {
			ev->result = call_result(a, "DescribeLifecycleHooks", r, &resp);
		}
		aws_response_free(&resp);
	}
	if (!lc->tgs_known) {
		r = autoscaling_describe_target_groups(&a->aws, a->ident.asg_name, a->lc_found_tgs,
		                                       LIFECYCLE_MAX_TARGET_GROUPS, &ev->n_tgs,
		                                       &resp);
		if (r == 0) {
			ev->tgs_known = true;
			log_info("lifecycle: group %s has %d target group(s)", a->ident.asg_name,
			         ev->n_tgs);
		} else if (ev->result == LC_RESULT_OK) {
			ev->result = call_result(a, "DescribeAutoScalingGroups", r, &resp);
		} else {
			call_result(a, "DescribeAutoScalingGroups", r, &resp);
		}
		aws_response_free(&resp);
	}
}

/* The instance's LifecycleState by DescribeAutoScalingInstances: -ENOENT
 * in no group, 0 with state, other -errno. */
static int instance_state(struct agent *a, char *state, size_t len)
{
	struct aws_response resp;
	char group[256];
	int r;

	state[0] = '\0';
	r = autoscaling_describe_instance(&a->aws, a->ident.id.instance_id, group, sizeof(group),
	                                  state, len, &resp);
	aws_response_free(&resp);
	if (r == 0)
		log_info("lifecycle: instance %s is %s in %s", a->ident.id.instance_id, state,
		         group);
	return r;
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

enum wait_phase { PHASE_UNKNOWN, PHASE_BEFORE_WAIT, PHASE_WAIT, PHASE_PAST };

/* Where the instance stands against a hook's wait state: before it
 * (Pending, Terminating, Warmed:Pending...: the action comes soon), in it
 * (Pending:Wait, Terminating:Wait...), past it, or unknown. */
static enum wait_phase wait_phase(struct agent *a)
{
	static const char *const before[] = {"Pending", "Terminating", "Warmed:Pending",
	                                     "Warmed:Terminating"};
	char state[64];
	size_t len;

	if (instance_state(a, state, sizeof(state)) != 0)
		return PHASE_UNKNOWN;
	for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++)
		if (!strcmp(state, before[i]))
			return PHASE_BEFORE_WAIT;
	len = strlen(state);
	if (len > 5 && !strcmp(state + len - 5, ":Wait"))
		return PHASE_WAIT;
	return PHASE_PAST;
}

/* Completes every hook of the transition. */
static enum lc_result complete_hooks(struct agent *a, bool launching, bool abandon)
{
	struct lifecycle *lc = &a->lc;
	uint64_t t0 = now_mono_ms();

	for (int i = 0; i < lc->hooks.n; i++) {
		const struct hook *h = &lc->hooks.h[i];
		struct aws_response resp;
		enum lc_result res = LC_RESULT_OK;
		enum wait_phase phase = PHASE_UNKNOWN;
		int r;

		if (h->launching != launching)
			continue;
		/* A second call only when the instance reached its wait state
		 * between the first one and the Describe: its action was
		 * created in between (scale-in ends the deregistration delay
		 * so). */
		for (int attempt = 0;; attempt++) {
			r = autoscaling_complete_lifecycle_action(&a->aws, a->ident.asg_name,
			                                          h->name, a->ident.id.instance_id,
			                                          abandon, &resp);
			if (r != -ENOENT)
				break;
			phase = wait_phase(a);
			if (phase != PHASE_WAIT || attempt > 0)
				break;
			aws_response_free(&resp);
		}
		if (r == 0) {
			log_notice("lifecycle: CompleteLifecycleAction %s %s for %s in %.1f s "
			           "(%d attempt(s))",
			           h->name, abandon ? "ABANDON" : "CONTINUE",
			           a->ident.id.instance_id, (double)(now_mono_ms() - t0) / 1000,
			           resp.attempts);
		} else if (r == -ENOENT && phase == PHASE_BEFORE_WAIT) {
			log_info("lifecycle: hook %s: %s is not in its wait state yet; retrying",
			         h->name, a->ident.id.instance_id);
			res = LC_RESULT_NOT_YET;
		} else if (r == -ENOENT) {
			log_info("lifecycle: hook %s: no active lifecycle action for %s; nothing "
			         "pending",
			         h->name, a->ident.id.instance_id);
		} else {
			res = call_result(a, "CompleteLifecycleAction", r, &resp);
		}
		aws_response_free(&resp);
		if (res != LC_RESULT_OK)
			return res;
	}
	return LC_RESULT_OK;
}

static enum lc_result heartbeat(struct agent *a, bool launching)
{
	struct lifecycle *lc = &a->lc;
	enum lc_result res = LC_RESULT_NO_ACTION;

	for (int i = 0; i < lc->hooks.n; i++) {
		const struct hook *h = &lc->hooks.h[i];
		struct aws_response resp;
		int r;

		if (h->launching != launching)
			continue;
		r = autoscaling_record_heartbeat(&a->aws, a->ident.asg_name, h->name,
		                                 a->ident.id.instance_id, &resp);
		if (r == 0) {
			res = LC_RESULT_OK;
			log_info("lifecycle: heartbeat for hook %s (%s for %.1f s)", h->name,
			         lifecycle_phase(lc), (double)(wall_ms() - lc->since_ms) / 1000);
		} else if (r != -ENOENT) {
			enum lc_result e =
			        call_result(a, "RecordLifecycleActionHeartbeat", r, &resp);
			if (res != LC_RESULT_OK)
				res = e;
		}
		aws_response_free(&resp);
	}
	return res;
}

static enum lc_result set_targets(struct agent *a, bool registered)
{
	struct lifecycle *lc = &a->lc;

	for (int i = 0; i < lc->n_tgs; i++) {
		struct aws_response resp;
		uint64_t t0 = now_mono_ms();
		int r = elbv2_set_target(&a->aws, lc->tgs[i], a->ident.id.instance_id, registered,
		                         &resp);
		enum lc_result res = LC_RESULT_OK;

		if (r == 0)
			log_notice("lifecycle: %s %s %s in %.1f s",
			           registered ? "RegisterTargets" : "DeregisterTargets",
			           a->ident.id.instance_id, lc->tgs[i],
			           (double)(now_mono_ms() - t0) / 1000);
		else
			res = call_result(a, registered ? "RegisterTargets" : "DeregisterTargets",
			                  r, &resp);
		aws_response_free(&resp);
		if (res != LC_RESULT_OK)
			return res;
	}
	return LC_RESULT_OK;
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
	if (index < n) {
		const char *name = names[index];
		char causes[160], deadline[64], inst[64], tmp[128], why[512];
		const char *env[] = {causes, deadline, inst, NULL};
		uint64_t t0 = now_mono_ms();

		lifecycle_causes_text(lc->causes, tmp, sizeof(tmp));
		format_into(causes, sizeof(causes), "ASG_AGENT_DRAIN_CAUSE=%s", tmp);
		format_into(deadline, sizeof(deadline), "ASG_AGENT_DEADLINE=%lld",
		            (long long)(lc->deadline_ms / 1000));
		format_into(inst, sizeof(inst), "ASG_AGENT_INSTANCE_ID=%s",
		            a->ident.id.instance_id);
		/* Skipped, not fatal: the drain (and the hook's completion)
		 * goes on, as run-parts skips what it must not run. */
		if (drain_d_check(c->drain_d, name, why, sizeof(why)) < 0) {
			agent_record_error(a, "drain.d: refusing %s: %s; skipped", name, why);
			log_error("lifecycle: %s", a->last_error);
			r = 0;
		} else {
			log_info("lifecycle: running %s/%s (timeout %.1f s)", c->drain_d, name,
			         (double)timeout / 1000);
			r = drain_d_run(c->drain_d, name, env, timeout);
			if (r == 0)
				log_info("lifecycle: %s/%s done in %.1f s", c->drain_d, name,
				         (double)(now_mono_ms() - t0) / 1000);
		}
		if (r == -ETIME)
			log_warning("lifecycle: %s/%s timed out after %.1f s; killed", c->drain_d,
			            name, (double)timeout / 1000);
		else if (r != 0)
			log_warning("lifecycle: %s/%s failed (%s %d) after %.1f s", c->drain_d,
			            name, r < 0 ? "error" : "exit status", r < 0 ? -r : r,
			            (double)(now_mono_ms() - t0) / 1000);
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

/* Executes one action; its answer, if any, waits in the queue. */
static void execute(struct agent *a, const struct lc_action *act)
{
	struct lifecycle *lc = &a->lc;
	struct lc_event *e;
	const char *fields[] = {NULL, NULL};
	char f[64];

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
		e->kind = LC_EV_IMDS;
		e->imds = lc->ev; /* an item that cannot be read keeps its value */
		e->r = watch_poll(&a->imds, &e->imds);
		format_into(e->error, sizeof(e->error), "%s", a->imds.last_error);
		break;
	case LC_ACT_READ_HEALTH:
		e->kind = LC_EV_HEALTH;
		e->r = health_read(a->cfg->health_socket, a->cfg->lc.launch_rise, &e->health);
		break;
	case LC_ACT_DISCOVER:
		discover(a, e);
		break;
	case LC_ACT_DESCRIBE_INSTANCE:
		e->kind = LC_EV_INSTANCE;
		e->r = instance_state(a, e->instance_state, sizeof(e->instance_state));
		e->flag = launch_pending(e->r, e->instance_state);
		break;
	case LC_ACT_COMPLETE:
		e->kind = LC_EV_COMPLETED;
		e->launching = act->launching;
		e->abandon = act->abandon;
		e->flag = act->flag;
		e->result = complete_hooks(a, act->launching, act->abandon);
		break;
	case LC_ACT_HEARTBEAT:
		e->kind = LC_EV_HEARTBEAT;
		e->launching = act->launching;
		e->result = heartbeat(a, act->launching);
		break;
	case LC_ACT_SET_TARGETS:
		e->kind = LC_EV_TARGETS;
		e->flag = act->flag;
		e->result = set_targets(a, act->flag);
		break;
	case LC_ACT_DRAIN_HEALTH:
		e->kind = LC_EV_HEALTH_SET;
		e->flag = act->flag;
		e->r = health_set_drain(a->cfg->health_socket, act->flag);
		break;
	case LC_ACT_RUN_DRAIN_D:
		e->kind = LC_EV_DRAIN_D_DONE;
		run_drain_d(a, act->index, act->timeout_ms);
		break;
	case LC_ACT_CLOSE_METRICS:
		metrics_close_current(&a->metrics);
		return;
	case LC_ACT_FLUSH_METRICS:
		e->kind = LC_EV_FLUSHED;
		if (a->aws_ready && metrics_backlog(&a->metrics) &&
		    metrics_publish(&a->metrics, &a->aws) < 0)
			agent_record_error(a, "%s", a->metrics.last_error);
		break;
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
		return;
	}
	a->lc_queued++;
}

static void feed(struct agent *a, const struct lc_event *ev)
{
	/* The engine's answer is copied: executing an action feeds further
	 * events, each with its own list. */
	struct lc_actions *out = malloc(sizeof(*out));

	if (!out) {
		log_error("lifecycle: out of memory");
		return;
	}
	lifecycle_step(&a->lc, &a->cfg->lc, ev, wall_ms(), out);
	if (out->overflow)
		log_error("lifecycle: more than %d actions in one step (a bug); some dropped",
		          LC_MAX_ACTIONS);
	a->lc_wake_ms = out->wake_ms;
	for (int i = 0; i < out->n; i++) {
		if (out->a[i].kind == LC_ACT_EXIT)
			a->lc_exit = true;
		execute(a, &out->a[i]);
	}
	free(out);
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

void lifecycle_init(struct agent *a)
{
	struct lc_event ev = {.kind = LC_EV_RESTART};

	memset(&a->lc, 0, sizeof(a->lc));
	a->lc_exit = false;
	a->lc_wake_ms = 0;
	a->lc_queued = 0;
	if (a->ident.imds == IMDS_OK)
		load(a);
	feed(a, &ev);
}

uint64_t lifecycle_tick(struct agent *a)
{
	struct lc_event ev = {.kind = LC_EV_TIMER};
	int64_t left;

	/* Answers first, one per turn: the loop sees signals and status
	 * requests between them. */
	if (feed_queued(a))
		return now_mono_ms();
	ev.imds_ok = a->ident.imds == IMDS_OK;
	ev.aws_ready = a->aws_ready;
	ev.asg_known = a->ident.asg_source != NULL;
	ev.drain_d_count = drain_d_count(a);
	ev.boot_wall_ms = boot_wall_ms();
	feed(a, &ev);
	if (a->lc_queued)
		return now_mono_ms();
	left = a->lc_wake_ms - wall_ms();
	return now_mono_ms() + (uint64_t)(left > 0 ? left : 0);
}

bool lifecycle_stop(struct agent *a)
{
	struct lc_event ev = {.kind = LC_EV_SIGTERM};

	feed(a, &ev);
	return a->lc_exit;
}

bool lifecycle_may_exit(const struct agent *a)
{
	return a->lc_exit;
}
