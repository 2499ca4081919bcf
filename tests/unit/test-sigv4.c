/* Runs every case of the official SigV4 test suite (tests/sigv4/suite, from
 * awslabs/aws-c-auth) through sigv4_sign_request(): each case's request.txt
 * and context.json go in; the canonical request, string to sign, signature
 * and Authorization header must equal the case's header-*.txt files. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "cleanup.h"
#include "sigv4.h"
#include "strbuf.h"
#include "timeutil.h"

#define SUITE_CASES 38 /* the v4 suite's size; fewer means a broken copy */

static char *suite_dir;

static char *read_text(const char *dir, const char *name, size_t *len_out)
{
	char path[4096];
	_cleanup_fclose_ FILE *f = NULL;
	struct strbuf sb = STRBUF_INIT;
	char buf[4096];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_append_len(&sb, buf, n);
	if (len_out)
		*len_out = sb.len;
	return strbuf_steal(&sb);
}

struct parsed_request {
	char *method, *path, *query; /* owned */
	struct sigv4_header headers[32];
	char *names[32], *values[32]; /* owned */
	size_t n_headers;
	char *body; /* owned, may be NULL */
	size_t body_len;
};

static void parsed_request_free(struct parsed_request *p)
{
	free(p->method);
	free(p->path);
	free(p->query);
	for (size_t i = 0; i < p->n_headers; i++) {
		free(p->names[i]);
		free(p->values[i]);
	}
	free(p->body);
}

/* request.txt: "METHOD target HTTP/1.1", header lines "Name:value" (a
 * line starting with whitespace continues the previous value, as in
 * get-header-value-multiline), an empty line, then the body. */
static void parse_request(char *text, size_t len, struct parsed_request *p)
{
	char *line = text, *end = text + len, *nl, *sp, *ver;

	memset(p, 0, sizeof(*p));
	nl = memchr(line, '\n', (size_t)(end - line));
	assert_non_null(nl);
	*nl = '\0';
	sp = strchr(line, ' ');
	ver = strrchr(line, ' ');
	assert_non_null(sp);
	assert_true(ver > sp);
	p->method = strndup(line, (size_t)(sp - line));
	*ver = '\0';
	char *target = sp + 1, *q = strchr(target, '?');
	if (q) {
		p->query = strdup(q + 1);
		*q = '\0';
	}
	p->path = strdup(target);
	line = nl + 1;

	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line);
		if (l == 0) {
			line++;
			p->body_len = (size_t)(end - line);
			p->body = p->body_len ? strndup(line, p->body_len) : NULL;
			break;
		}
		if ((line[0] == ' ' || line[0] == '\t') && p->n_headers) {
			struct strbuf v = STRBUF_INIT;
			strbuf_append(&v, p->values[p->n_headers - 1]);
			strbuf_append_char(&v, '\n');
			strbuf_append_len(&v, line, l);
			free(p->values[p->n_headers - 1]);
			p->values[p->n_headers - 1] = strbuf_steal(&v);
		} else {
			char *colon = memchr(line, ':', l);
			assert_non_null(colon);
			assert_true(p->n_headers < 32);
			p->names[p->n_headers] = strndup(line, (size_t)(colon - line));
			p->values[p->n_headers] =
			        strndup(colon + 1, l - (size_t)(colon - line) - 1);
			p->n_headers++;
		}
		line += l + (nl ? 1 : 0);
	}
	for (size_t i = 0; i < p->n_headers; i++)
		p->headers[i] = (struct sigv4_header){p->names[i], p->values[i]};
}

static bool json_flag(json_t *ctx, const char *key)
{
	return json_is_true(json_object_get(ctx, key));
}

/* The Authorization line of header-signed-request.txt. */
static char *expected_authorization(const char *dir)
{
	_cleanup_free_ char *sreq = read_text(dir, "header-signed-request.txt", NULL);
	const char *a;

	assert_non_null(sreq);
	a = strstr(sreq, "\nAuthorization:");
	assert_non_null(a);
	a += strlen("\nAuthorization:");
	return strndup(a, strcspn(a, "\n"));
}

static void run_case(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *req_text = NULL, *ctx_text = NULL, *creq = NULL, *sts = NULL,
	                    *sig = NULL, *auth = NULL;
	_cleanup_json_ json_t *ctx = NULL;
	struct parsed_request p;
	struct sigv4_signature out;
	json_t *c;
	size_t len;
	time_t when;

	req_text = read_text(dir, "request.txt", &len);
	ctx_text = read_text(dir, "context.json", NULL);
	creq = read_text(dir, "header-canonical-request.txt", NULL);
	sts = read_text(dir, "header-string-to-sign.txt", NULL);
	sig = read_text(dir, "header-signature.txt", NULL);
	assert_non_null(req_text);
	assert_non_null(ctx_text);
	assert_non_null(creq);
	assert_non_null(sts);
	assert_non_null(sig);
	auth = expected_authorization(dir);
	ctx = json_loads(ctx_text, 0, NULL);
	assert_non_null(ctx);
	c = json_object_get(ctx, "credentials");
	assert_int_equal(parse_iso8601(json_string_value(json_object_get(ctx, "timestamp")), &when),
	                 0);

	parse_request(req_text, len, &p);
	struct sigv4_request req = {
	        .method = p.method,
	        .path = p.path,
	        .query = p.query,
	        .headers = p.headers,
	        .n_headers = p.n_headers,
	        .body = p.body,
	        .body_len = p.body_len,
	};
	struct sigv4_credentials creds = {
	        .access_key_id = json_string_value(json_object_get(c, "access_key_id")),
	        .secret_access_key = json_string_value(json_object_get(c, "secret_access_key")),
	        .session_token = json_string_value(json_object_get(c, "token")),
	};
	struct sigv4_params params = {
	        .region = json_string_value(json_object_get(ctx, "region")),
	        .service = json_string_value(json_object_get(ctx, "service")),
	        .when = when,
	        .normalize_path = json_flag(ctx, "normalize"),
	        .sign_body = json_flag(ctx, "sign_body"),
	        .omit_session_token = json_flag(ctx, "omit_session_token"),
	};
	assert_int_equal(sigv4_sign_request(&req, &creds, &params, &out), 0);
	assert_string_equal(out.canonical_request, creq);
	assert_string_equal(out.string_to_sign, sts);
	sig[strcspn(sig, "\r\n")] = '\0';
	assert_string_equal(out.signature, sig);
	assert_string_equal(out.authorization, auth);
	sigv4_signature_free(&out);
	parsed_request_free(&p);
}

/* The suite's own example (aws.md section 5) without any file: a guard
 * that the driver cannot pass by reading nothing. */
static void test_get_vanilla_literal(void **state)
{
	struct sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
	struct sigv4_request req = {"GET", "/", NULL, h, 1, NULL, 0};
	struct sigv4_credentials creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	                                  NULL};
	struct sigv4_params params = {"us-east-1", "service", 1440938160, true, false, false};
	struct sigv4_signature out;

	assert_int_equal(sigv4_sign_request(&req, &creds, &params, &out), 0);
	assert_string_equal(out.amz_date, "20150830T123600Z");
	assert_string_equal(out.signature,
	                    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	sigv4_signature_free(&out);
}

static void test_missing_host_rejected(void **state)
{
	struct sigv4_header h[] = {{"Content-Type", "text/plain"}};
	struct sigv4_request req = {"GET", "/", NULL, h, 1, NULL, 0};
	struct sigv4_credentials creds = {"AKID", "SECRET", NULL};
	struct sigv4_params params = {"us-east-1", "service", 0, true, false, false};
	struct sigv4_signature out;

	assert_int_equal(sigv4_sign_request(&req, &creds, &params, &out), -EINVAL);
}

static void test_user_agent_not_signed(void **state)
{
	struct sigv4_header h[] = {{"Host", "h"}, {"User-Agent", "asg-agent/1"}};
	struct sigv4_request req = {"POST", "/", NULL, h, 2, "a=b", 3};
	struct sigv4_credentials creds = {"AKID", "SECRET", "TOKEN"};
	struct sigv4_params params = {"eu-west-1", "monitoring", 0, true, false, false};
	struct sigv4_signature out;

	assert_int_equal(sigv4_sign_request(&req, &creds, &params, &out), 0);
	assert_null(strstr(out.canonical_request, "user-agent"));
	assert_non_null(
	        strstr(out.authorization, "SignedHeaders=host;x-amz-date;x-amz-security-token,"));
	sigv4_signature_free(&out);
}

static int case_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct CMUnitTest *)a)->name, ((const struct CMUnitTest *)b)->name);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	const char *env = getenv("SIGV4_SUITE");
	struct CMUnitTest tests[SUITE_CASES + 8];
	size_t n = 0, n_cases = 0;
	struct dirent *de;
	DIR *d;
	int failed;

	if (env)
		suite_dir = strdup(env);
	else if (asprintf(&suite_dir, "%s/tests/sigv4/suite", top ? top : ".") < 0)
		return 99;
	d = opendir(suite_dir);
	if (!d) {
		fprintf(stderr, "test-sigv4: cannot open %s: %s\n", suite_dir, strerror(errno));
		return 99;
	}
	while ((de = readdir(d))) {
		char *dir;
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "LICENSE") ||
		    !strcmp(de->d_name, "NOTICE"))
			continue;
		if (n_cases == SUITE_CASES) {
			fprintf(stderr, "test-sigv4: more cases than the suite's %d\n",
			        SUITE_CASES);
			return 99;
		}
		if (asprintf(&dir, "%s/%s", suite_dir, de->d_name) < 0)
			return 99;
		tests[n++] = (struct CMUnitTest){strdup(de->d_name), run_case, NULL, NULL, dir};
		n_cases++;
	}
	closedir(d);
	if (n_cases != SUITE_CASES) {
		fprintf(stderr, "test-sigv4: found %zu cases in %s, expected %d\n", n_cases,
		        suite_dir, SUITE_CASES);
		return 99;
	}
	qsort(tests, n, sizeof(tests[0]), case_name_cmp);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_get_vanilla_literal);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_missing_host_rejected);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_user_agent_not_signed);
	failed = _cmocka_run_group_tests("sigv4", tests, n, NULL, NULL);
	for (size_t i = 0; i < n_cases; i++) {
		free((void *)tests[i].name);
		free(tests[i].initial_state);
	}
	free(suite_dir);
	return failed;
}
