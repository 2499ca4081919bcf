/* SigV4 canonicalisation and signing (agent/sigv4.h).  The input is a
 * request in the signing test suite's request.txt form: "METHOD target
 * HTTP/1.1", header lines "Name:value" (a line starting with blanks
 * continues the previous value), an empty line, the body; the suite's own
 * files are the seeds.  A signature is 64 lower-case hex digits, signing
 * is deterministic, and the Authorization names the credential scope. */
#include <ctype.h>

#include "fuzz.h"
#include "sigv4.h"

#define MAX_HEADERS 64

struct req {
	char *method, *path, *query, *body;
	size_t body_len;
	struct sigv4_header h[MAX_HEADERS];
	char *value_buf[MAX_HEADERS];
	size_t n;
};

static char *dup_len(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d)
		abort();
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Returns 0, or -1 when the text is not shaped like a request. */
static int parse(const char *text, size_t len, struct req *r)
{
	const char *end = text + len, *line = text, *nl, *sp, *ver, *q;

	memset(r, 0, sizeof(*r));
	if (!(nl = memchr(line, '\n', len)))
		return -1;
	if (!(sp = memchr(line, ' ', (size_t)(nl - line))))
		return -1;
	ver = sp;
	for (const char *p = sp + 1; p < nl; p++)
		if (*p == ' ')
			ver = p;
	if (ver == sp)
		ver = nl;
	r->method = dup_len(line, (size_t)(sp - line));
	q = memchr(sp + 1, '?', (size_t)(ver - sp - 1));
	r->path = dup_len(sp + 1, (size_t)((q ? q : ver) - sp - 1));
	if (q)
		r->query = dup_len(q + 1, (size_t)(ver - q - 1));
	for (line = nl + 1; line < end;) {
		size_t l;
		nl = memchr(line, '\n', (size_t)(end - line));
		l = nl ? (size_t)(nl - line) : (size_t)(end - line);
		if (l == 0) {
			r->body_len = (size_t)(end - line - 1);
			r->body = dup_len(line + 1, r->body_len);
			break;
		}
		if ((line[0] == ' ' || line[0] == '\t') && r->n) {
			char *old = r->value_buf[r->n - 1];
			size_t ol = strlen(old);
			char *v = malloc(ol + 1 + l + 1);
			if (!v)
				abort();
			memcpy(v, old, ol);
			v[ol] = '\n';
			memcpy(v + ol + 1, line, l);
			v[ol + 1 + l] = '\0';
			free(old);
			r->value_buf[r->n - 1] = v;
			r->h[r->n - 1].value = v;
		} else if (r->n < MAX_HEADERS) {
			const char *colon = memchr(line, ':', l);
			size_t nlen = colon ? (size_t)(colon - line) : l;
			char *name = dup_len(line, nlen);
			r->value_buf[r->n] =
			        colon ? dup_len(colon + 1, l - nlen - 1) : dup_len("", 0);
			r->h[r->n].name = name;
			r->h[r->n].value = r->value_buf[r->n];
			r->n++;
		}
		line += l + (nl ? 1 : 0);
	}
	return 0;
}

static void req_free(struct req *r)
{
	free(r->method);
	free(r->path);
	free(r->query);
	free(r->body);
	for (size_t i = 0; i < r->n; i++) {
		free((char *)r->h[i].name);
		free(r->value_buf[i]);
	}
}

static void sign(const struct req *r, bool normalize, bool sign_body, bool with_token)
{
	const struct sigv4_request req = {
	        .method = r->method,
	        .path = r->path,
	        .query = r->query,
	        .headers = r->h,
	        .n_headers = r->n,
	        .body = r->body,
	        .body_len = r->body_len,
	};
	const struct sigv4_credentials creds = {
	        .access_key_id = "AKIDEXAMPLE",
	        .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	        .session_token =
	                with_token ? "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22w" : NULL,
	};
	const struct sigv4_params params = {
	        .region = "us-east-1",
	        .service = "service",
	        .when = 1440938160,
	        .normalize_path = normalize,
	        .sign_body = sign_body,
	        .omit_session_token = with_token && !normalize,
	};
	struct sigv4_signature a, b;

	if (sigv4_sign_request(&req, &creds, &params, &a) < 0)
		return;
	FUZZ_ASSERT(strlen(a.signature) == 64);
	for (int i = 0; i < 64; i++)
		FUZZ_ASSERT(isxdigit((unsigned char)a.signature[i]) &&
		            !isupper((unsigned char)a.signature[i]));
	FUZZ_ASSERT(!strncmp(
	        a.authorization,
	        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	        "SignedHeaders=",
	        94));
	FUZZ_ASSERT(!strcmp(a.amz_date, "20150830T123600Z"));
	FUZZ_ASSERT(sigv4_sign_request(&req, &creds, &params, &b) == 0);
	FUZZ_ASSERT(!strcmp(a.canonical_request, b.canonical_request));
	FUZZ_ASSERT(!strcmp(a.signature, b.signature));
	sigv4_signature_free(&a);
	sigv4_signature_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req r;

	if (parse((const char *)data, size, &r) == 0) {
		sign(&r, true, false, size & 1);
		sign(&r, false, true, !(size & 1));
	}
	req_free(&r);
	return 0;
}
