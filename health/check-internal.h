/* What the runner (checks.c) and the per-type checks (check-<type>.c)
 * share, and what the unit tests drive directly.  Not used by the server.
 *
 * Every check_<type>_run() runs one check synchronously, bounded by
 * s->timeout_ms, and returns 1 when it passes, 0 when it fails, or -errno
 * when it could not run at all (the runner counts that as a failure; the
 * detail says why).  detail always receives one line for the status page
 * and the log, e.g. "0.4 GiB free on / < 1.0 GiB".
 *
 * cancel_fd is readable when the runner is stopping (an eventfd; -1 for
 * none): checks that wait (tcp, http, exec) watch it so that checks_stop()
 * is prompt, and return -ECANCELED without a verdict. */
#ifndef ASG_HEALTH_CHECK_INTERNAL_H
#define ASG_HEALTH_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "checks.h"

int check_disk_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len);
int check_memory_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len);
int check_file_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len);
int check_tcp_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len);
int check_http_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len);
int check_exec_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len);

/* Dispatches on s->kind. */
int check_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len);

/* HAProxy's rise/fall model: the first result sets the state directly;
 * after that `rise` consecutive passes make a failing check pass and
 * `fall` consecutive failures make a passing one fail. */
struct check_hysteresis {
	enum check_state state;
	int consecutive_passes;
	int consecutive_failures;
};

/* Applies one result; returns true when the state changed. */
bool check_hysteresis_apply(struct check_hysteresis *h, bool passed, int rise, int fall);

/* Frees one spec's members (not the struct) and zeroes it. */
void check_spec_clear(struct check_spec *s);
/* Deep copy of one spec (dst is overwritten); -ENOMEM on failure, with
 * dst left freeable by check_specs_free. */
int check_spec_copy(struct check_spec *dst, const struct check_spec *src);

/* The runner without its thread, for tests that feed results directly:
 * checks_create() builds the state (carrying over from previous) and
 * checks_record() applies one result as the thread would, including the
 * transition log line and the generation bump.  checks_destroy() frees an
 * instance that was never started. */
int checks_create(struct checks **out, const struct check_spec *specs, size_t n,
                  const struct checks *previous);
void checks_record(struct checks *c, size_t index, int result, const char *detail,
                   long long duration_ms);
void checks_destroy(struct checks *c);

/* Small shared helpers of the check types. */
/* "1.5 GiB", "512.0 MiB", "300 B" */
void check_format_size(char *buf, size_t len, double bytes);
/* True when fd is readable now (used to poll cancel_fd without waiting). */
bool check_cancelled(int cancel_fd);
/* True when host names this machine: "localhost", "*.localhost",
 * 127.0.0.0/8, ::1 (with or without brackets). */
bool check_host_is_local(const char *host);

#endif
