/* The Prometheus text exposition writer (prom.h).  Format reference:
 * https://prometheus.io/docs/instrumenting/exposition_formats/ (0.0.4):
 * in HELP text, backslash and newline are escaped; in label values,
 * backslash, double quote and newline; values are Go floats, with
 * "+Inf", "-Inf" and "NaN". */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

void prom_init(struct prom *p)
{
	memset(p, 0, sizeof(*p));
}

void prom_free(struct prom *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

static void fail(struct prom *p, int error)
{
	if (!p->error)
		p->error = error;
}

static void put(struct prom *p, const char *s, size_t n)
{
	if (p->error)
		return;
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		char *b;

		while (cap < p->len + n + 1)
			cap *= 2;
		if (!(b = realloc(p->buf, cap))) {
			fail(p, -ENOMEM);
			return;
		}
		p->buf = b;
		p->cap = cap;
	}
	if (!p->buf)
		return; /* unreachable: the block above allocated it */
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static void puts_(struct prom *p, const char *s)
{
	put(p, s, strlen(s));
}

/* Escapes backslash and newline, and the double quote too if quote. */
static void put_escaped(struct prom *p, const char *s, int quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\'           ? "\\\\"
		                  : *s == '\n'         ? "\\n"
		                  : quote && *s == '"' ? "\\\""
		                                       : NULL;
		if (!esc)
			continue;
		put(p, run, (size_t)(s - run));
		puts_(p, esc);
		run = s + 1;
	}
	put(p, run, (size_t)(s - run));
}

static int is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
int prom_name_valid(const char *name)
{
	if (!name || !(is_alpha_(*name) || *name == ':'))
		return 0;
	for (name++; *name; name++)
		if (!is_alpha_(*name) && !is_digit(*name) && *name != ':')
			return 0;
	return 1;
}

/* [a-zA-Z_][a-zA-Z0-9_]*, and the "__" prefix is reserved. */
int prom_label_name_valid(const char *name)
{
	if (!name || !is_alpha_(*name) || !strncmp(name, "__", 2))
		return 0;
	for (name++; *name; name++)
		if (!is_alpha_(*name) && !is_digit(*name))
			return 0;
	return 1;
}

void prom_format_double(double v, char *buf, size_t len)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* The shortest of %.15g..%.17g that reads back as the same double,
	 * so 0.1 prints as "0.1", not "0.10000000000000001". */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

void prom_family(struct prom *p, const char *name, enum prom_type type, const char *help)
{
	if (!prom_name_valid(name) || strlen(name) >= sizeof(p->family)) {
		fail(p, -EINVAL);
		return;
	}
	snprintf(p->family, sizeof(p->family), "%s", name);
	puts_(p, "# HELP ");
	puts_(p, name);
	puts_(p, " ");
	put_escaped(p, help, 0);
	puts_(p, "\n# TYPE ");
	puts_(p, name);
	puts_(p, type == PROM_COUNTER ? " counter\n" : " gauge\n");
}

static void put_series(struct prom *p, const char *const *labels, const char *value)
{
	if (!p->family[0]) {
		fail(p, -EINVAL); /* a sample before its family */
		return;
	}
	puts_(p, p->family);
	if (labels && labels[0]) {
		puts_(p, "{");
		for (size_t i = 0; labels[i]; i += 2) {
			if (!labels[i + 1] || !prom_label_name_valid(labels[i])) {
				fail(p, -EINVAL);
				return;
			}
			if (i)
				puts_(p, ",");
			puts_(p, labels[i]);
			puts_(p, "=\"");
			put_escaped(p, labels[i + 1], 1);
			puts_(p, "\"");
		}
		puts_(p, "}");
	}
	puts_(p, " ");
	puts_(p, value);
	puts_(p, "\n");
}

void prom_sample(struct prom *p, const char *const *labels, double value)
{
	char v[64];

	prom_format_double(value, v, sizeof(v));
	put_series(p, labels, v);
}

void prom_sample_u64(struct prom *p, const char *const *labels, uint64_t value)
{
	char v[32];

	snprintf(v, sizeof(v), "%" PRIu64, value);
	put_series(p, labels, v);
}

void prom_single(struct prom *p, const char *name, enum prom_type type, const char *help,
                 double value)
{
	prom_family(p, name, type, help);
	prom_sample(p, NULL, value);
}

void prom_single_u64(struct prom *p, const char *name, enum prom_type type, const char *help,
                     uint64_t value)
{
	prom_family(p, name, type, help);
	prom_sample_u64(p, NULL, value);
}

int prom_finish(struct prom *p, const char **text, size_t *len)
{
	if (p->error)
		return p->error;
	if (!p->buf)
		put(p, "", 0);
	if (p->error)
		return p->error;
	*text = p->buf;
	*len = p->len;
	return 0;
}
