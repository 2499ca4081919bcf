/* A Prometheus text exposition writer (format 0.0.4), small on purpose:
 * Debian has no C client library, and both daemons only need counters and
 * gauges rendered on demand from their own state.
 *
 * Use: prom_family() once per metric (its # HELP and # TYPE lines), then
 * prom_sample()/prom_sample_u64() for each of its series, contiguous as
 * the format requires.  Errors are sticky: check prom_finish() once.
 * Names are checked against the format's grammar, so a typo in a metric
 * or label name is an error in the unit tests, not a scrape that fails
 * in production. */
#ifndef ASG_COMMON_PROM_H
#define ASG_COMMON_PROM_H

#include <stddef.h>
#include <stdint.h>

/* The Content-Type of the text format. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum prom_type { PROM_COUNTER, PROM_GAUGE };

struct prom {
	char *buf; /* owned; NUL-terminated */
	size_t len, cap;
	int error;        /* the first error, sticky: -ENOMEM or -EINVAL */
	char family[128]; /* the current metric's name */
};

void prom_init(struct prom *p);
void prom_free(struct prom *p);

/* Starts a metric: "# HELP name help" (help escaped) and "# TYPE". */
void prom_family(struct prom *p, const char *name, enum prom_type type, const char *help);
/* One series of the current metric.  labels: NULL, or a NULL-terminated
 * list of name, value pairs ({"method", "GET", NULL}); values are escaped.
 * Doubles print as the shortest text that reads back the same, and
 * +Inf, -Inf, NaN; integers exactly. */
void prom_sample(struct prom *p, const char *const *labels, double value);
void prom_sample_u64(struct prom *p, const char *const *labels, uint64_t value);
/* A metric of one series without labels: prom_family() and its sample. */
void prom_single(struct prom *p, const char *name, enum prom_type type, const char *help,
                 double value);
void prom_single_u64(struct prom *p, const char *name, enum prom_type type, const char *help,
                     uint64_t value);

/* 0 and *text (owned by p, length *len) when everything was written, or
 * the first error. */
int prom_finish(struct prom *p, const char **text, size_t *len);

/* Building blocks, exposed for the tests: the metric and label name
 * grammars, and the value text ("+Inf", "NaN", "0.25"). */
int prom_name_valid(const char *name);
int prom_label_name_valid(const char *name);
void prom_format_double(double v, char *buf, size_t len);

#endif
