/* JSON config loading and typed access with file:line:col: key errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <math.h>

#include "cleanup.h"
#include "conf.h"

static int read_file(const char *path, char **out)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			char *n;
			cap = cap ? cap * 2 : 8192;
			if (cap > (16u << 20))
				return -EFBIG;
			n = realloc(buf, cap);
			if (!n)
				return -ENOMEM;
			buf = n;
		}
		size_t r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0) {
			if (ferror(f))
				return -EIO;
			break;
		}
	}
	buf[len] = '\0';
	*out = steal_ptr(&buf);
	return 0;
}

/* An error is one line of a log or a terminal: the key or value it quotes
 * comes from the file, so control characters (a "\n" in a key) are shown
 * as \xNN rather than written raw. */
static void escape_controls(char *s, size_t size)
{
	char tmp[sizeof(((struct conf_doc *)0)->error)];
	size_t o = 0;

	snprintf(tmp, sizeof(tmp), "%s", s);
	for (const unsigned char *p = (const unsigned char *)tmp; *p && o + 5 < size; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(s + o, size - o, "\\x%02x", *p);
		else
			s[o++] = (char)*p;
	}
	s[o] = '\0';
}

int conf_doc_parse(struct conf_doc *doc, const char *path, const char *text)
{
	json_error_t jerr;

	memset(doc, 0, sizeof(*doc));
	doc->path = strdup(path);
	/* text is NULL only when read_file() failed, and the caller returned (the analyzer thinks
	 * errno may be 0) */
	/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	doc->text = strdup(text);
	if (!doc->path || !doc->text)
		return -ENOMEM;
	doc->root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc->root) {
		snprintf(doc->error, sizeof(doc->error), "%s:%d:%d: %s", path, jerr.line,
		         jerr.column, jerr.text);
		escape_controls(doc->error, sizeof(doc->error));
		return -EINVAL;
	}
	if (!json_is_object(doc->root)) {
		snprintf(doc->error, sizeof(doc->error),
		         "%s:1:1: the top level must be a JSON object", path);
		return -EINVAL;
	}
	return 0;
}

int conf_doc_load(struct conf_doc *doc, const char *path)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(path, &text);

	if (r < 0) {
		memset(doc, 0, sizeof(*doc));
		snprintf(doc->error, sizeof(doc->error), "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	return conf_doc_parse(doc, path, text);
}

void conf_doc_free(struct conf_doc *doc)
{
	json_decref(doc->root);
	free(doc->text);
	free(doc->path);
	memset(doc, 0, sizeof(*doc));
}

/* --- locating a key in validated JSON text --------------------------- */

struct scan {
	const char *p;
	int line, col;
};

static void scan_adv(struct scan *s)
{
	if (*s->p == '\n') {
		s->line++;
		s->col = 1;
	} else {
		s->col++;
	}
	s->p++;
}

static void scan_ws(struct scan *s)
{
	while (*s->p && isspace((unsigned char)*s->p))
		scan_adv(s);
}

/* Reads a string token, copying its (minimally unescaped) text to buf. */
static int scan_string(struct scan *s, char *buf, size_t len)
{
	size_t n = 0;

	if (*s->p != '"')
		return -1;
	scan_adv(s);
	while (*s->p && *s->p != '"') {
		char c = *s->p;
		if (c == '\\') {
			scan_adv(s);
			c = *s->p;
			if (!c)
				return -1;
		}
		if (buf && n + 1 < len)
			buf[n++] = c;
		scan_adv(s);
	}
	if (*s->p != '"')
		return -1;
	scan_adv(s);
	if (buf)
		buf[n] = '\0';
	return 0;
}

static int scan_skip_value(struct scan *s)
{
	int depth = 0;

	scan_ws(s);
	do {
		if (!*s->p)
			return -1;
		if (*s->p == '"') {
			if (scan_string(s, NULL, 0) < 0)
				return -1;
			continue;
		}
		if (*s->p == '{' || *s->p == '[')
			depth++;
		else if (*s->p == '}' || *s->p == ']')
			depth--;
		else if (depth == 0 && (*s->p == ','))
			return 0;
		if (depth < 0)
			return 0;
		scan_adv(s);
	} while (depth > 0 || (*s->p && *s->p != ',' && *s->p != '}' && *s->p != ']'));
	return 0;
}

int conf_locate(const char *text, const char *keypath, int *line, int *col)
{
	struct scan s = {text, 1, 1};
	const char *k = keypath;

	scan_ws(&s);
	while (*k) {
		char want[256];
		long index = -1;
		size_t n = 0;

		if (*k == '.')
			k++;
		if (*k == '[') {
			index = strtol(k + 1, (char **)&k, 10);
			if (*k != ']')
				return -1;
			k++;
		} else {
			while (*k && *k != '.' && *k != '[' && n + 1 < sizeof(want))
				want[n++] = *k++;
			want[n] = '\0';
		}
		scan_ws(&s);
		if (index >= 0) {
			if (*s.p != '[')
				return -1;
			scan_adv(&s);
			for (long i = 0; i < index; i++) {
				if (scan_skip_value(&s) < 0)
					return -1;
				scan_ws(&s);
				if (*s.p != ',')
					return -1;
				scan_adv(&s);
			}
			scan_ws(&s);
			*line = s.line;
			*col = s.col;
			continue;
		}
		if (*s.p != '{')
			return -1;
		scan_adv(&s);
		for (;;) {
			char key[256];
			struct scan at;

			scan_ws(&s);
			if (*s.p == '}')
				return -1;
			at = s;
			if (scan_string(&s, key, sizeof(key)) < 0)
				return -1;
			scan_ws(&s);
			if (*s.p != ':')
				return -1;
			scan_adv(&s);
			scan_ws(&s);
			if (!strcmp(key, want)) {
				*line = at.line;
				*col = at.col;
				break;
			}
			if (scan_skip_value(&s) < 0)
				return -1;
			scan_ws(&s);
			if (*s.p == ',')
				scan_adv(&s);
		}
	}
	if (keypath[0] == '\0') {
		*line = s.line;
		*col = s.col;
	}
	return 0;
}

int conf_fail(struct conf_doc *doc, const char *keypath, const char *fmt, ...)
{
	char reason[512];
	int line = 0, col = 0;
	va_list ap;

	if (doc->error[0])
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (doc->text && conf_locate(doc->text, keypath, &line, &col) == 0)
		snprintf(doc->error, sizeof(doc->error), "%s:%d:%d: %s: %s", doc->path, line, col,
		         keypath, reason);
	else
		snprintf(doc->error, sizeof(doc->error), "%s: %s: %s",
		         doc->path ? doc->path : "(config)", keypath, reason);
	escape_controls(doc->error, sizeof(doc->error));
	return -EINVAL;
}

const char *conf_path_join(char *buf, size_t len, const char *objpath, const char *key)
{
	if (objpath && objpath[0])
		snprintf(buf, len, "%s.%s", objpath, key);
	else
		snprintf(buf, len, "%s", key);
	return buf;
}

int conf_get_string(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                    const char **out)
{
	json_t *v = json_object_get(obj, key);
	char p[512];

	if (!v)
		return 0;
	if (!json_is_string(v))
		return conf_fail(doc, conf_path_join(p, sizeof(p), objpath, key),
		                 "expected a string");
	*out = json_string_value(v);
	return 1;
}

int conf_get_int(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                 long long min, long long max, long long *out)
{
	json_t *v = json_object_get(obj, key);
	char p[512];
	long long x;

	if (!v)
		return 0;
	conf_path_join(p, sizeof(p), objpath, key);
	if (!json_is_integer(v))
		return conf_fail(doc, p, "expected an integer");
	x = json_integer_value(v);
	if (x < min || x > max)
		return conf_fail(doc, p, "%lld is out of range [%lld, %lld]", x, min, max);
	*out = x;
	return 1;
}

int conf_get_double(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                    double min, double max, double *out)
{
	json_t *v = json_object_get(obj, key);
	char p[512];
	double x;

	if (!v)
		return 0;
	conf_path_join(p, sizeof(p), objpath, key);
	if (!json_is_number(v))
		return conf_fail(doc, p, "expected a number");
	x = json_number_value(v);
	if (!isfinite(x) || x < min || x > max)
		return conf_fail(doc, p, "%g is out of range [%g, %g]", x, min, max);
	*out = x;
	return 1;
}

int conf_get_bool(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                  bool *out)
{
	json_t *v = json_object_get(obj, key);
	char p[512];

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return conf_fail(doc, conf_path_join(p, sizeof(p), objpath, key),
		                 "expected true or false");
	*out = json_is_true(v);
	return 1;
}

int conf_parse_duration_ms(const char *s, long long *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		;
	else if (!strcmp(end, "s") || !*end)
		v *= 1000;
	else if (!strcmp(end, "m"))
		v *= 60000;
	else if (!strcmp(end, "h"))
		v *= 3600000;
	else
		return -EINVAL;
	if (v > 1e15)
		return -ERANGE;
	*out = (long long)(v + 0.5);
	return 0;
}

int conf_parse_size(const char *s, long long *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		v *= 1024;
		end++;
		break;
	case 'M':
		v *= 1024.0 * 1024;
		end++;
		break;
	case 'G':
		v *= 1024.0 * 1024 * 1024;
		end++;
		break;
	case 'T':
		v *= 1024.0 * 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > 9e18)
		return -EINVAL;
	*out = (long long)v;
	return 0;
}

int conf_get_duration_ms(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                         long long min_ms, long long max_ms, long long *out)
{
	json_t *v = json_object_get(obj, key);
	char p[512];
	long long ms;

	if (!v)
		return 0;
	conf_path_join(p, sizeof(p), objpath, key);
	if (json_is_number(v)) {
		double d = json_number_value(v);
		if (!isfinite(d) || d < 0 || d > 1e12)
			return conf_fail(doc, p,
			                 "expected a duration such as 5, \"5s\" or \"500ms\"");
		ms = (long long)(d * 1000 + 0.5);
	} else if (!json_is_string(v) || conf_parse_duration_ms(json_string_value(v), &ms) < 0) {
		return conf_fail(doc, p, "expected a duration such as 5, \"5s\" or \"500ms\"");
	}
	if (ms < min_ms || ms > max_ms)
		return conf_fail(doc, p, "duration %lldms is out of range [%lldms, %lldms]", ms,
		                 min_ms, max_ms);
	*out = ms;
	return 1;
}

int conf_get_size(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                  long long min, long long max, long long *out)
{
	json_t *v = json_object_get(obj, key);
	char p[512];
	long long n;

	if (!v)
		return 0;
	conf_path_join(p, sizeof(p), objpath, key);
	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (!json_is_string(v) || conf_parse_size(json_string_value(v), &n) < 0)
		return conf_fail(doc, p, "expected a size such as 65536 or \"64k\"");
	if (n < min || n > max)
		return conf_fail(doc, p, "%lld is out of range [%lld, %lld]", n, min, max);
	*out = n;
	return 1;
}

int conf_check_keys(struct conf_doc *doc, json_t *obj, const char *objpath,
                    const char *const *allowed)
{
	const char *key;
	json_t *v;
	char p[512];

	if (!json_is_object(obj))
		return conf_fail(doc, objpath, "expected an object");
	json_object_foreach(obj, key, v)
	{
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], key)) {
				ok = true;
				break;
			}
		if (!ok)
			return conf_fail(doc, conf_path_join(p, sizeof(p), objpath, key),
			                 "unknown key");
	}
	return 0;
}
