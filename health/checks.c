/* The health check runner: one background thread runs every configured
 * check on its own schedule and keeps the verdict that /health answers
 * from, so a probe never waits on a check however slow the check or busy
 * the site (checks.h).  Owns the per-check state (rise/fall hysteresis),
 * the status JSON and the log line at each state change.
 *
 * Scheduling: the thread runs due checks one after another, earliest due
 * first, each bounded by its timeout (which the config keeps <= its
 * interval).  The local checks (disk, memory, file) take microseconds; a
 * slow tcp/http/exec check can delay the others by at most its timeout,
 * which rise/fall already absorbs.  We chose that over a thread per check
 * because it keeps one place where checks run and one stop path, and the
 * number of checks is small (at most 64). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "control-protocol.h"
#include "log.h"
#include "timeutil.h"
#include "check-internal.h"

#define CHECK_DETAIL_MAX 256

/* Generations of every instance come from here (checks.h). */
static atomic_uint_fast64_t checks_generation_counter;

struct check_slot {
	struct check_spec spec; /* owned deep copy */
	/* Below: written by the runner, read by the server, under c->lock. */
	struct check_hysteresis h;
	char detail[CHECK_DETAIL_MAX];
	bool has_run;
	uint64_t last_run_ms;  /* monotonic, end of the last run */
	long long duration_ms; /* of the last run */
	uint64_t transitions;  /* state changes, first result included */
	/* Runner thread only. */
	uint64_t next_due_ms;
};

struct checks {
	struct check_slot *slots; /* owned, n of them */
	size_t n;
	pthread_mutex_t lock;
	atomic_bool healthy; /* read lock-free by every server thread */
	atomic_uint_fast64_t generation;
	int stop_fd; /* owned eventfd, readable once stopping */
	pthread_t thread;
	bool started;
};

const char *check_state_name(enum check_state state)
{
	switch (state) {
	case CHECK_PASS:
		return CONTROL_CHECK_PASS;
	case CHECK_FAIL:
		return CONTROL_CHECK_FAIL;
	case CHECK_PENDING:
		break;
	}
	return CONTROL_CHECK_PENDING;
}

bool check_hysteresis_apply(struct check_hysteresis *h, bool passed, int rise, int fall)
{
	enum check_state before = h->state;

	if (passed) {
		h->consecutive_passes++;
		h->consecutive_failures = 0;
		if (h->state == CHECK_PENDING ||
		    (h->state == CHECK_FAIL && h->consecutive_passes >= rise))
			h->state = CHECK_PASS;
	} else {
		h->consecutive_failures++;
		h->consecutive_passes = 0;
		if (h->state == CHECK_PENDING ||
		    (h->state == CHECK_PASS && h->consecutive_failures >= fall))
			h->state = CHECK_FAIL;
	}
	return h->state != before;
}

void check_format_size(char *buf, size_t len, double bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%.0f B", bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

bool check_cancelled(int cancel_fd)
{
	struct pollfd p = {.fd = cancel_fd, .events = POLLIN};

	return cancel_fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

int check_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len)
{
	switch (s->kind) {
	case CHECK_DISK:
		return check_disk_run(s, cancel_fd, detail, len);
	case CHECK_MEMORY:
		return check_memory_run(s, cancel_fd, detail, len);
	case CHECK_FILE:
		return check_file_run(s, cancel_fd, detail, len);
	case CHECK_TCP:
		return check_tcp_run(s, cancel_fd, detail, len);
	case CHECK_HTTP:
		return check_http_run(s, cancel_fd, detail, len);
	case CHECK_EXEC:
		return check_exec_run(s, cancel_fd, detail, len);
	}
	snprintf(detail, len, "unknown check kind %d", (int)s->kind);
	return -EINVAL;
}

/* --- state ------------------------------------------------------------ */

/* Caller holds c->lock. */
static bool checks_compute_healthy(const struct checks *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->slots[i].spec.critical && c->slots[i].h.state != CHECK_PASS)
			return false;
	return true;
}

/* Logs one state change, after the lock is released: the edge where an
 * operator learns that an instance leaves or rejoins service, and why. */
static void checks_log_transition(const struct check_spec *s, enum check_state before,
                                  const struct check_hysteresis *h, const char *detail)
{
	char f_check[100], f_state[32], f_type[32], f_crit[32], effect[128];
	const char *fields[] = {f_check, f_state, f_type, f_crit, NULL};
	int priority;

	snprintf(f_check, sizeof(f_check), "CHECK=%s", s->name);
	snprintf(f_state, sizeof(f_state), "CHECK_STATE=%s", check_state_name(h->state));
	snprintf(f_type, sizeof(f_type), "CHECK_TYPE=%s", check_kind_name(s->kind));
	snprintf(f_crit, sizeof(f_crit), "CHECK_CRITICAL=%s", s->critical ? "yes" : "no");

	if (h->state == CHECK_FAIL) {
		if (s->critical)
			snprintf(effect, sizeof(effect),
			         "/health answers 503 until it passes %d time%s", s->rise,
			         s->rise == 1 ? "" : "s");
		else
			snprintf(effect, sizeof(effect), "informational: /health is not affected");
		priority = s->critical ? LOG_WARNING : LOG_NOTICE;
		if (before == CHECK_PENDING)
			log_fields(priority, fields, "check %s failed its first run: %s; %s",
			           s->name, detail, effect);
		else
			log_fields(priority, fields, "check %s failed %d time%s: %s; %s", s->name,
			           h->consecutive_failures, h->consecutive_failures == 1 ? "" : "s",
			           detail, effect);
		return;
	}
	if (before == CHECK_PENDING) {
		log_fields(LOG_INFO, fields, "check %s passed its first run: %s", s->name, detail);
		return;
	}
	log_fields(LOG_NOTICE, fields, "check %s passed %d time%s: %s%s", s->name,
	           h->consecutive_passes, h->consecutive_passes == 1 ? "" : "s", detail,
	           s->critical ? "; it no longer fails /health" : "");
}

void checks_record(struct checks *c, size_t index, int result, const char *detail,
                   long long duration_ms)
{
	struct check_slot *slot = &c->slots[index];
	struct check_hysteresis after;
	enum check_state before;
	char logged_detail[CHECK_DETAIL_MAX];
	bool changed, detail_changed;

	pthread_mutex_lock(&c->lock);
	before = slot->h.state;
	/* An internal error (< 0) counts as a failure: a check that cannot
	 * run cannot vouch for the instance. */
	changed = check_hysteresis_apply(&slot->h, result == 1, slot->spec.rise, slot->spec.fall);
	detail_changed = strcmp(slot->detail, detail) != 0;
	snprintf(slot->detail, sizeof(slot->detail), "%s", detail);
	slot->has_run = true;
	slot->last_run_ms = now_mono_ms();
	slot->duration_ms = duration_ms;
	slot->transitions += changed;
	if (changed)
		atomic_store_explicit(&c->healthy, checks_compute_healthy(c), memory_order_release);
	if (changed || detail_changed)
		atomic_store_explicit(&c->generation,
		                      atomic_fetch_add(&checks_generation_counter, 1) + 1,
		                      memory_order_release);
	after = slot->h;
	memcpy(logged_detail, slot->detail, sizeof(logged_detail));
	pthread_mutex_unlock(&c->lock);

	if (changed)
		checks_log_transition(&slot->spec, before, &after, logged_detail);
}

/* --- the runner thread ------------------------------------------------ */

static size_t checks_next_due(const struct checks *c)
{
	size_t best = 0;

	for (size_t i = 1; i < c->n; i++)
		if (c->slots[i].next_due_ms < c->slots[best].next_due_ms)
			best = i;
	return best;
}

/* Waits up to ms (-1: forever) for the stop signal; true when stopping. */
static bool checks_wait_stop(const struct checks *c, int ms)
{
	struct pollfd p = {.fd = c->stop_fd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

static void *checks_thread(void *arg)
{
	struct checks *c = arg;
	uint64_t start = now_mono_ms();

	/* Every check runs once at start, in config order. */
	for (size_t i = 0; i < c->n; i++)
		c->slots[i].next_due_ms = start;
	for (;;) {
		char detail[CHECK_DETAIL_MAX];
		struct check_slot *slot;
		uint64_t now = now_mono_ms(), end;
		size_t i;
		int r;

		if (c->n == 0) {
			checks_wait_stop(c, -1);
			break;
		}
		i = checks_next_due(c);
		slot = &c->slots[i];
		if (slot->next_due_ms > now) {
			if (checks_wait_stop(c, (int)(slot->next_due_ms - now)))
				break;
			continue;
		}
		if (check_cancelled(c->stop_fd))
			break;
		detail[0] = '\0';
		r = check_run(&slot->spec, c->stop_fd, detail, sizeof(detail));
		end = now_mono_ms();
		if (r == -ECANCELED)
			break;
		checks_record(c, i, r, detail, (long long)(end - now));
		/* Fixed rate from the start of the run; a run that took its
		 * whole interval is followed by the next one at once. */
		slot->next_due_ms = now + (uint64_t)slot->spec.interval_ms;
		if (slot->next_due_ms < end)
			slot->next_due_ms = end;
	}
	return NULL;
}

/* --- lifecycle -------------------------------------------------------- */

static void checks_carry_over(struct checks *c, const struct checks *previous)
{
	/* previous is logically const; its lock protects what we copy. */
	struct checks *p = (struct checks *)previous;

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < c->n; i++) {
		struct check_slot *to = &c->slots[i];
		for (size_t j = 0; j < p->n; j++) {
			const struct check_slot *from = &p->slots[j];
			if (from->spec.kind != to->spec.kind ||
			    strcmp(from->spec.name, to->spec.name))
				continue;
			to->h = from->h;
			memcpy(to->detail, from->detail, sizeof(to->detail));
			to->has_run = from->has_run;
			to->last_run_ms = from->last_run_ms;
			to->duration_ms = from->duration_ms;
			to->transitions = from->transitions; /* a counter survives a reload */
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void checks_destroy(struct checks *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		check_spec_clear(&c->slots[i].spec);
	free(c->slots);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int checks_create(struct checks **out, const struct check_spec *specs, size_t n,
                  const struct checks *previous)
{
	struct checks *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->stop_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->slots = calloc(n ? n : 1, sizeof(*c->slots));
	if (!c->slots) {
		checks_destroy(c);
		return -ENOMEM;
	}
	c->n = n;
	for (size_t i = 0; i < n; i++)
		if (check_spec_copy(&c->slots[i].spec, &specs[i]) < 0) {
			checks_destroy(c);
			return -ENOMEM;
		}
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_fd < 0) {
		int r = -errno;
		checks_destroy(c);
		return r;
	}
	if (previous)
		checks_carry_over(c, previous);
	atomic_init(&c->healthy, checks_compute_healthy(c));
	atomic_init(&c->generation, atomic_fetch_add(&checks_generation_counter, 1) + 1);
	*out = c;
	return 0;
}

int checks_start(struct checks **out, const struct check_spec *specs, size_t n,
                 const struct checks *previous)
{
	struct checks *c;
	sigset_t all, old;
	int r;

	r = checks_create(&c, specs, n, previous);
	if (r < 0)
		return r;
	/* The runner takes no signals: they belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* checks_create() sets c when it returns 0 (the analyzer thinks errno may be 0) */
	/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
	r = -pthread_create(&c->thread, NULL, checks_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		checks_destroy(c);
		return r;
	}
	c->started = true;
	*out = c;
	return 0;
}

int checks_stop(struct checks *c)
{
	uint64_t one = 1;

	if (!c)
		return 0;
	if (c->started) {
		/* Wakes the thread from its wait, and makes a running tcp,
		 * http or exec check return at once (killing an exec child).
		 * Unwoken, it would never end: then it keeps c, unjoined. */
		if (write(c->stop_fd, &one, sizeof(one)) < 0)
			return -errno;
		pthread_join(c->thread, NULL);
	}
	checks_destroy(c);
	return 0;
}

/* --- what the server reads -------------------------------------------- */

bool checks_healthy(const struct checks *c)
{
	return !c || atomic_load_explicit(&c->healthy, memory_order_acquire);
}

uint64_t checks_generation(const struct checks *c)
{
	return c ? atomic_load_explicit(&c->generation, memory_order_acquire) : 0;
}

static json_t *slot_json(const struct check_slot *slot, uint64_t now)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, CONTROL_CHECK_STATE, json_string(check_state_name(slot->h.state)));
	json_object_set_new(o, CONTROL_CHECK_TYPE, json_string(check_kind_name(slot->spec.kind)));
	json_object_set_new(o, CONTROL_CHECK_CRITICAL, json_boolean(slot->spec.critical));
	json_object_set_new(o, CONTROL_CHECK_DETAIL, json_string(slot->detail));
	json_object_set_new(o, CONTROL_CHECK_PASSES, json_integer(slot->h.consecutive_passes));
	json_object_set_new(o, CONTROL_CHECK_FAILURES, json_integer(slot->h.consecutive_failures));
	if (slot->has_run) {
		json_object_set_new(o, CONTROL_CHECK_LAST_RUN,
		                    json_integer((json_int_t)(now - slot->last_run_ms)));
		json_object_set_new(o, CONTROL_CHECK_DURATION, json_integer(slot->duration_ms));
	} else {
		json_object_set_new(o, CONTROL_CHECK_LAST_RUN, json_null());
		json_object_set_new(o, CONTROL_CHECK_DURATION, json_null());
	}
	return o;
}

json_t *checks_status_json(const struct checks *c)
{
	_cleanup_json_ json_t *all = json_object();
	struct checks *m = (struct checks *)c; /* the lock is not part of the value */
	uint64_t now = now_mono_ms();
	int r = 0;

	if (!all)
		return NULL;
	if (!c)
		return steal_ptr(&all);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < c->n && r == 0; i++) {
		json_t *o = slot_json(&c->slots[i], now);
		r = o ? json_object_set_new(all, c->slots[i].spec.name, o) : -1;
	}
	pthread_mutex_unlock(&m->lock);
	return r == 0 ? steal_ptr(&all) : NULL;
}

size_t checks_metrics(const struct checks *c, struct check_metrics *out, size_t max)
{
	struct checks *m = (struct checks *)c;
	size_t n = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (; n < c->n && n < max; n++) {
		const struct check_slot *slot = &c->slots[n];
		out[n] = (struct check_metrics){
		        .name = slot->spec.name,
		        .kind = slot->spec.kind,
		        .critical = slot->spec.critical,
		        .state = slot->h.state,
		        .has_run = slot->has_run,
		        .duration_ms = slot->duration_ms,
		        .transitions = slot->transitions,
		};
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}

json_t *checks_public_json(const struct checks *c)
{
	json_t *all = checks_status_json(c), *o;
	const char *name;

	json_object_foreach(all, name, o) json_object_del(o, CONTROL_CHECK_DETAIL);
	return all;
}

json_t *checks_failing_json(const struct checks *c, bool informational)
{
	_cleanup_json_ json_t *names = json_array();
	struct checks *m = (struct checks *)c;
	int r = 0;

	if (!names)
		return NULL;
	if (!c)
		return steal_ptr(&names);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < c->n && r == 0; i++) {
		const struct check_slot *slot = &c->slots[i];
		/* A critical check fails /health until it passes, pending
		 * included; an informational one only when it has failed. */
		bool failing = slot->spec.critical ? slot->h.state != CHECK_PASS
		                                   : informational && slot->h.state == CHECK_FAIL;
		if (failing)
			r = json_array_append_new(names, json_string(slot->spec.name));
	}
	pthread_mutex_unlock(&m->lock);
	return r == 0 ? steal_ptr(&names) : NULL;
}
