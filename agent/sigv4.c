/* SigV4 header signing (see sigv4.h).  Each canonical part has its own
 * function named for the step of the IAM guide it implements. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "cleanup.h"
#include "secret.h"
#include "sigv4.h"
#include "strbuf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	hex_encode(md, sizeof(md), out);
}

static int hmac_sha256(const void *key, size_t key_len, const char *msg,
                       unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned int n = SHA256_DIGEST_LENGTH;

	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out,
	          &n))
		return -EIO;
	return 0;
}

bool sigv4_header_is_unsigned(const char *name)
{
	/* botocore auth.py SIGNED_HEADERS_BLACKLIST (1.29 has the first three;
	 * later versions added the hop-by-hop headers, which the agent never
	 * sends anyway). */
	static const char *const never[] = {
	        "expect",
	        "user-agent",
	        "x-amzn-trace-id",
	        "connection",
	        "keep-alive",
	        "proxy-authenticate",
	        "proxy-authorization",
	        "te",
	        "trailer",
	        "transfer-encoding",
	        "upgrade",
	};
	for (size_t i = 0; i < ARRAY_SIZE(never); i++)
		if (!strcasecmp(name, never[i]))
			return true;
	return false;
}

/* --- Canonical URI ------------------------------------------------------ */

/* botocore utils.remove_dot_segments: RFC 3986 5.2.4 plus the AWS rule
 * that empty segments ("//") go too; a trailing slash is kept. */
static int normalize_path(const char *path, struct strbuf *out)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_free_ const char **segs = NULL;
	size_t n = 0, cap = 0, len = strlen(path);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (!strcmp(s, "."))
			continue;
		if (!strcmp(s, "..")) {
			if (n)
				n--;
			continue;
		}
		if (n == cap) {
			const char **ns;
			cap = cap ? cap * 2 : 8;
			ns = realloc(segs, cap * sizeof(*segs));
			if (!ns)
				return -ENOMEM;
			segs = ns;
		}
		segs[n++] = s;
	}
	if (len && path[0] == '/')
		strbuf_append_char(out, '/');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_append_char(out, '/');
		strbuf_append(out, segs[i]);
	}
	if (len && path[len - 1] == '/' && n)
		strbuf_append_char(out, '/');
	return strbuf_error(out);
}

static int canonical_uri(const char *path, bool normalize, struct strbuf *out)
{
	_cleanup_strbuf_ struct strbuf norm = STRBUF_INIT;
	const char *p = path && *path ? path : "/";
	int r;

	if (normalize) {
		r = normalize_path(p, &norm);
		if (r < 0)
			return r;
		p = norm.len ? strbuf_str(&norm) : "/";
	}
	strbuf_append_uri_encoded(out, p, strlen(p), true);
	return strbuf_error(out);
}

/* --- Canonical query string --------------------------------------------- */

struct query_param {
	char *name;  /* owned, URI-encoded */
	char *value; /* owned, URI-encoded */
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes %XX then encodes again, so that already-encoded and raw input
 * produce the same canonical form (cases get-vanilla-query-order-encoded
 * and get-vanilla-utf8-query). */
static char *reencode(const char *s, size_t n)
{
	_cleanup_strbuf_ struct strbuf raw = STRBUF_INIT;
	struct strbuf enc = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			strbuf_append_char(&raw, (char)(hi * 16 + lo));
			i += 2;
		} else {
			strbuf_append_char(&raw, s[i]);
		}
	}
	strbuf_append_uri_encoded(&enc, strbuf_str(&raw), raw.len, false);
	if (strbuf_error(&raw))
		enc.failed = true;
	return strbuf_steal(&enc);
}

static int query_param_cmp(const void *a, const void *b)
{
	const struct query_param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static int canonical_query(const char *query, struct strbuf *out)
{
	struct query_param *params = NULL;
	size_t n = 0, cap = 0;
	const char *p = query;
	int r = 0;

	while (p && *p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;

		if (len) {
			if (n == cap) {
				struct query_param *np;
				cap = cap ? cap * 2 : 8;
				np = realloc(params, cap * sizeof(*np));
				if (!np) {
					r = -ENOMEM;
					goto out;
				}
				params = np;
			}
			params[n].name = reencode(p, nlen);
			params[n].value = eq ? reencode(eq + 1, len - nlen - 1) : strdup("");
			n++;
			if (!params[n - 1].name || !params[n - 1].value) {
				r = -ENOMEM;
				goto out;
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
	if (n)
		qsort(params, n, sizeof(*params), query_param_cmp);
	for (size_t i = 0; i < n; i++)
		strbuf_printf(out, "%s%s=%s", i ? "&" : "", params[i].name, params[i].value);
	r = strbuf_error(out);
out:
	for (size_t i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
	return r;
}

/* --- Canonical headers -------------------------------------------------- */

struct canon_header {
	char *name;          /* owned, lower-case */
	struct strbuf value; /* owned: trimmed values joined with ',' */
	size_t first;        /* order of first appearance, for a stable sort */
};

/* Trimall: strip, and collapse each run of whitespace (including the
 * line breaks of an obs-folded value, case get-header-value-multiline)
 * to one space. */
static void append_trimmed(struct strbuf *sb, const char *v)
{
	bool pending_space = false, any = false;

	for (; *v; v++) {
		if (isspace((unsigned char)*v)) {
			pending_space = any;
			continue;
		}
		if (pending_space)
			strbuf_append_char(sb, ' ');
		pending_space = false;
		any = true;
		strbuf_append_char(sb, *v);
	}
}

static int canon_header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->first > y->first) - (x->first < y->first);
}

static struct canon_header *find_header(struct canon_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(h[i].name, name))
			return &h[i];
	return NULL;
}

static int add_header(struct canon_header *h, size_t *n, const char *name, const char *value)
{
	struct canon_header *e;
	char *lower = strdup(name);

	if (!lower)
		return -ENOMEM;
	for (char *c = lower; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	e = find_header(h, *n, lower);
	if (e) {
		/* Repeated headers join in order with ',' (get-header-key-duplicate). */
		free(lower);
		strbuf_append_char(&e->value, ',');
	} else {
		e = &h[*n];
		e->name = lower;
		/* One of them is the session token. */
		e->value = (struct strbuf)STRBUF_INIT_SECRET;
		e->first = (*n)++;
	}
	append_trimmed(&e->value, value);
	return strbuf_error(&e->value);
}

static int canonical_headers(const struct sigv4_request *req, const struct sigv4_credentials *creds,
                             const struct sigv4_params *params, const struct sigv4_signature *sig,
                             struct strbuf *out, struct strbuf *signed_headers)
{
	struct canon_header *h = calloc(req->n_headers + 3, sizeof(*h));
	size_t n = 0;
	int r = 0;

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_headers && r >= 0; i++)
		if (!sigv4_header_is_unsigned(req->headers[i].name))
			r = add_header(h, &n, req->headers[i].name, req->headers[i].value);
	if (r >= 0)
		r = add_header(h, &n, "x-amz-date", sig->amz_date);
	if (r >= 0 && creds->session_token && !params->omit_session_token)
		r = add_header(h, &n, "x-amz-security-token", creds->session_token);
	if (r >= 0 && params->sign_body)
		r = add_header(h, &n, "x-amz-content-sha256", sig->payload_hash);
	if (r >= 0 && !find_header(h, n, "host"))
		r = -EINVAL; /* the Host header must always be signed */
	if (r >= 0) {
		qsort(h, n, sizeof(*h), canon_header_cmp);
		for (size_t i = 0; i < n; i++) {
			strbuf_printf(out, "%s:%s\n", h[i].name, strbuf_str(&h[i].value));
			strbuf_printf(signed_headers, "%s%s", i ? ";" : "", h[i].name);
		}
		r = strbuf_error(out) ?: strbuf_error(signed_headers);
	}
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		strbuf_free(&h[i].value);
	}
	free(h);
	return r;
}

/* --- The four steps ----------------------------------------------------- */

static int derive_signing_key(const char *secret, const char *date, const char *region,
                              const char *service, unsigned char key[SHA256_DIGEST_LENGTH])
{
	_cleanup_strbuf_ struct strbuf k = STRBUF_INIT_SECRET; /* "AWS4" + secret key */
	unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
	int r;

	strbuf_printf(&k, "AWS4%s", secret);
	if ((r = strbuf_error(&k)) < 0)
		return r;
	r = hmac_sha256(k.data, k.len, date, a);
	if (r >= 0)
		r = hmac_sha256(a, sizeof(a), region, b);
	if (r >= 0)
		r = hmac_sha256(b, sizeof(b), service, a);
	if (r >= 0)
		r = hmac_sha256(a, sizeof(a), "aws4_request", key);
	secret_wipe(a, sizeof(a));
	secret_wipe(b, sizeof(b));
	return r;
}

void sigv4_signature_free(struct sigv4_signature *sig)
{
	secret_free(sig->canonical_request); /* has x-amz-security-token */
	free(sig->string_to_sign);
	free(sig->authorization);
	sig->canonical_request = sig->string_to_sign = sig->authorization = NULL;
}

int sigv4_sign_request(const struct sigv4_request *req, const struct sigv4_credentials *creds,
                       const struct sigv4_params *params, struct sigv4_signature *sig)
{
	_cleanup_strbuf_ struct strbuf creq = STRBUF_INIT_SECRET;
	_cleanup_strbuf_ struct strbuf sts = STRBUF_INIT;
	_cleanup_strbuf_ struct strbuf signed_headers = STRBUF_INIT;
	_cleanup_strbuf_ struct strbuf auth = STRBUF_INIT;
	unsigned char key[SHA256_DIGEST_LENGTH], mac[SHA256_DIGEST_LENGTH];
	char date[9], creq_hash[65];
	struct tm tm;
	int r;

	memset(sig, 0, sizeof(*sig));
	if (!req->method || !creds->access_key_id || !creds->secret_access_key || !params->region ||
	    !params->service)
		return -EINVAL;
	if (!gmtime_r(&params->when, &tm))
		return -EINVAL;
	strftime(sig->amz_date, sizeof(sig->amz_date), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, sig->amz_date, 8);
	date[8] = '\0';
	sigv4_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0,
	                 sig->payload_hash);

	/* Step 1: canonical request. */
	strbuf_printf(&creq, "%s\n", req->method);
	if ((r = canonical_uri(req->path, params->normalize_path, &creq)) < 0)
		return r;
	strbuf_append_char(&creq, '\n');
	if ((r = canonical_query(req->query, &creq)) < 0)
		return r;
	strbuf_append_char(&creq, '\n');
	if ((r = canonical_headers(req, creds, params, sig, &creq, &signed_headers)) < 0)
		return r;
	strbuf_printf(&creq, "\n%s\n%s", strbuf_str(&signed_headers), sig->payload_hash);
	if ((r = strbuf_error(&creq)) < 0)
		return r;

	/* Step 2: string to sign, no trailing newline. */
	sigv4_sha256_hex(creq.data, creq.len, creq_hash);
	strbuf_printf(&sts, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", sig->amz_date, date,
	              params->region, params->service, creq_hash);
	if ((r = strbuf_error(&sts)) < 0)
		return r;

	/* Step 3: signing key and signature. */
	r = derive_signing_key(creds->secret_access_key, date, params->region, params->service,
	                       key);
	if (r >= 0)
		r = hmac_sha256(key, sizeof(key), sts.data, mac);
	secret_wipe(key, sizeof(key));
	if (r < 0)
		return r;
	hex_encode(mac, sizeof(mac), sig->signature);

	/* Step 4: the Authorization header. */
	strbuf_printf(&auth,
	              SIGV4_ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
	                              "Signature=%s",
	              creds->access_key_id, date, params->region, params->service,
	              strbuf_str(&signed_headers), sig->signature);
	if ((r = strbuf_error(&auth)) < 0)
		return r;
	sig->canonical_request = strbuf_steal(&creq);
	sig->string_to_sign = strbuf_steal(&sts);
	sig->authorization = strbuf_steal(&auth);
	if (!sig->canonical_request || !sig->string_to_sign || !sig->authorization) {
		sigv4_signature_free(sig);
		return -ENOMEM;
	}
	return 0;
}
