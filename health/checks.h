/* Health checks run in the background (one thread), so that /health answers
 * from a cached verdict and never waits on a check.  Each check type lives
 * in its own check-<type>.c; this header is the interface the server uses.
 *
 * Semantics: a check's state starts PENDING; its first result sets PASS or
 * FAIL directly, after that it takes `rise` consecutive passes to become
 * PASS and `fall` consecutive failures to become FAIL (HAProxy's model).
 * The verdict is healthy when every critical check is PASS. */
#ifndef ASG_HEALTH_CHECKS_H
#define ASG_HEALTH_CHECKS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "conf.h"

enum check_kind {
	CHECK_DISK,   /* free space on a path's filesystem */
	CHECK_MEMORY, /* MemAvailable from /proc/meminfo */
	CHECK_FILE,   /* a file that must (not) exist, e.g. a maintenance flag */
	CHECK_TCP,    /* TCP connect to host:port */
	CHECK_HTTP,   /* HTTP GET to a URL expecting a status */
	CHECK_EXEC,   /* an executable; exit 0 passes */
};

enum check_state { CHECK_PENDING, CHECK_PASS, CHECK_FAIL };

struct check_spec {
	char *name; /* owned; unique within the config */
	enum check_kind kind;
	bool critical; /* fails /health, or informational only */
	long long interval_ms;
	long long timeout_ms;
	int rise, fall;
	/* kind-specific parameters, all owned */
	char *path;               /* disk: filesystem path; file: flag file */
	long long min_free_bytes; /* disk, memory: 0 = not checked */
	double min_free_percent;  /* disk, memory: 0 = not checked */
	bool must_exist;          /* file: true = must exist, false = must not */
	char *host;               /* tcp */
	int port;                 /* tcp */
	char *url;                /* http */
	int expect_status;        /* http */
	char **argv;              /* exec: NULL-terminated */
};

/* Parses the config's "checks" array (objpath is its key path, e.g.
 * "checks").  Errors are recorded in doc with file:line:col: key.  array
 * NULL (no "checks" key) gives no checks.  Defaults: interval 5s, timeout
 * 2s (or the interval, if shorter), rise 2, fall 2; critical is true except
 * for tcp/http checks of a host that is not loopback (shared dependencies,
 * see checks-config.c). */
int checks_parse(struct conf_doc *doc, json_t *array, const char *objpath, struct check_spec **out,
                 size_t *n_out);
void check_specs_free(struct check_spec *specs, size_t n);
/* "pass", "fail", "pending": the control protocol's names. */
const char *check_state_name(enum check_state state);
/* "disk", "memory", "file", "tcp", "http", "exec": the config's names. */
const char *check_kind_name(enum check_kind kind);

struct checks;

/* Starts the background runner over a copy of specs.  State of checks
 * with the same name and kind in `previous` (may be NULL) carries over, so
 * a reload does not flap /health.  Runs every check once at start.
 * previous may still be running; it is only read.  checks_stop() kills a
 * running exec check's process group, joins the thread and frees c (NULL
 * is a no-op): 0, or -errno when the runner could not be woken (it is
 * then left running, with c). */
int checks_start(struct checks **out, const struct check_spec *specs, size_t n,
                 const struct checks *previous);
int checks_stop(struct checks *c);

/* Lock-free: true when every critical check is PASS (no checks: true). */
bool checks_healthy(const struct checks *c);
/* Bumped every time any check's state or detail changes.  Values come
 * from one process-wide counter, so a new instance (a reload) never
 * repeats a value an older one returned: a cache keyed on it notices. */
uint64_t checks_generation(const struct checks *c);
/* {"name": {"state":"pass|fail|pending","type":"disk|...","critical":bool,
 *  "detail":"...","consecutive_passes":N,"consecutive_failures":N,
 *  "last_run_ms_ago":N,"duration_ms":N}} -- new reference, caller owns.
 *  last_run_ms_ago and duration_ms are null before the first run. */
json_t *checks_status_json(const struct checks *c);
/* What /metrics shows of each check, copied under the lock. */
struct check_metrics {
	const char *name; /* c's; valid while c is */
	enum check_kind kind;
	bool critical;
	enum check_state state;
	bool has_run;
	long long duration_ms; /* of the last run */
	uint64_t transitions;  /* state changes, the first result included */
};
/* Fills out with up to max checks, in config order; returns how many. */
size_t checks_metrics(const struct checks *c, struct check_metrics *out, size_t max);
/* The same without "detail": a detail can hold an http check's URL with
 * its userinfo and query string, or an exec check's output (a DSN with a
 * password), so only the control socket shows it. */
json_t *checks_public_json(const struct checks *c);
/* Names of failing critical checks (and, if informational, informational
 * ones too) as a JSON array, in config order; new reference.  A critical
 * check counts until it is PASS (so PENDING too, as it fails /health); an
 * informational one only when FAIL. */
json_t *checks_failing_json(const struct checks *c, bool informational);

#endif
