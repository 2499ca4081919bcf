/* Range, conditional and Accept-Encoding header parsing (RFC 9110). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "range.h"
#include "timeutil.h"

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Saturates at UINT64_MAX: a position too large for 64 bits is still a
 * valid range (RFC 9110 14.1.1 sets no bound), just past any file, so
 * "bytes=18446744073709551616-" must be a 416, not ignored. */
static int parse_u64(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p++ - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

enum range_result range_parse(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
	uint64_t a, b;
	const char *p;

	if (!h)
		return RANGE_NONE;
	p = skip_ws(h);
	if (strncasecmp(p, "bytes=", 6))
		return RANGE_NONE;
	p = skip_ws(p + 6);
	if (strchr(p, ','))
		return RANGE_NONE;
	if (*p == '-') { /* suffix: the last b bytes */
		p++;
		if (parse_u64(&p, &b) < 0 || *skip_ws(p))
			return RANGE_NONE;
		if (b == 0 || size == 0)
			return RANGE_UNSATISFIABLE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return RANGE_SINGLE;
	}
	if (parse_u64(&p, &a) < 0 || *p++ != '-')
		return RANGE_NONE;
	if (*skip_ws(p) == '\0') {
		b = UINT64_MAX;
	} else {
		if (parse_u64(&p, &b) < 0 || *skip_ws(p) || b < a)
			return RANGE_NONE;
	}
	if (a >= size)
		return RANGE_UNSATISFIABLE;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return RANGE_SINGLE;
}

/* Compares entity-tags with the weak function: W/ prefixes are ignored. */
bool etag_list_matches(const char *h, const char *etag)
{
	const char *e = etag;
	size_t elen;

	if (!h)
		return false;
	if (!strncmp(e, "W/", 2))
		e += 2;
	elen = strlen(e);
	for (const char *p = h;;) {
		const char *tag;
		size_t tlen;

		p = skip_ws(p);
		while (*p == ',')
			p = skip_ws(p + 1);
		if (!*p)
			return false;
		if (*p == '*')
			return true;
		if (!strncmp(p, "W/", 2))
			p += 2;
		tag = p;
		if (*p == '"') {
			const char *q = strchr(p + 1, '"');
			if (!q)
				return false;
			p = q + 1;
		} else {
			p += strcspn(p, ", \t");
		}
		tlen = (size_t)(p - tag);
		if (tlen == elen && !memcmp(tag, e, elen))
			return true;
	}
}

bool request_not_modified(const char *inm, const char *ims, const char *etag, time_t mtime)
{
	time_t t;

	if (inm)
		return etag_list_matches(inm, etag);
	if (ims && parse_http_date(ims, &t) == 0)
		return mtime <= t;
	return false;
}

bool if_range_allows(const char *ir, const char *etag, time_t mtime)
{
	time_t t;

	if (!ir)
		return true;
	ir = skip_ws(ir);
	if (*ir == '"')
		return !strcmp(ir, etag);
	if (!strncmp(ir, "W/", 2))
		return false; /* weak tags never match for If-Range */
	return parse_http_date(ir, &t) == 0 && t == mtime;
}

unsigned accept_encoding_parse(const char *h)
{
	unsigned mask = 0, star = 0, denied = 0;

	if (!h)
		return 0;
	for (const char *p = h; *p;) {
		const char *tok, *end;
		size_t tlen;
		double q = 1.0;

		p = skip_ws(p);
		tok = p;
		p += strcspn(p, ",;");
		end = p;
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		tlen = (size_t)(end - tok);
		while (*p == ';') {
			p = skip_ws(p + 1);
			if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
				char *qe;
				q = strtod(p + 2, &qe);
				p = qe;
			}
			p += strcspn(p, ",;");
		}
		unsigned bit = 0;
		if (tlen == 4 && !strncasecmp(tok, "gzip", 4))
			bit = 1u << ENC_GZIP;
		else if (tlen == 2 && !strncasecmp(tok, "br", 2))
			bit = 1u << ENC_BR;
		else if (tlen == 1 && *tok == '*')
			bit = (1u << ENC_GZIP) | (1u << ENC_BR);
		if (q > 0) {
			if (tlen == 1 && *tok == '*')
				star = bit;
			else
				mask |= bit;
		} else {
			denied |= bit;
		}
		if (*p == ',')
			p++;
	}
	return (mask | (star & ~denied)) & ~(denied & ~mask);
}
