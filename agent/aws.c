/* AWS Query client (see aws.h). */
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "aws.h"
#include "counters.h"
#include "cleanup.h"
#include "credentials.h"
#include "log.h"
#include "random.h"
#include "secret.h"
#include "sigv4.h"
#include "timeutil.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* A skew beyond this makes SignatureDoesNotMatch a clock problem: AWS
 * accepts requests within 5 minutes of their timestamp (IAM guide). */
#define AWS_SKEW_THRESHOLD_S 240

struct aws_service_info {
	const char *name;    /* config "endpoint_urls" key */
	const char *env;     /* AWS_ENDPOINT_URL_<env> */
	const char *prefix;  /* endpoint prefix, also the SigV4 signing name */
	const char *version; /* Query API version */
};

static const struct aws_service_info services[AWS_SERVICE_COUNT] = {
        [AWS_CLOUDWATCH] = {"cloudwatch", "CLOUDWATCH", "monitoring", "2010-08-01"},
        [AWS_AUTO_SCALING] = {"auto_scaling", "AUTO_SCALING", "autoscaling", "2011-01-01"},
        [AWS_ELBV2] = {"elastic_load_balancing_v2", "ELASTIC_LOAD_BALANCING_V2",
                       "elasticloadbalancing", "2015-12-01"},
};

const char *aws_service_name(enum aws_service svc)
{
	return services[svc].name;
}

bool aws_region_valid(const char *region)
{
	/* botocore's endpoints.json partitions: aws ^(us|eu|ap|sa|ca|me|af|
	 * il|mx)-\w+-\d+$, aws-cn ^cn-, aws-us-gov ^us-gov-, the iso ones
	 * ^us-iso-, ^us-isob-, ^eu-isoe-, ^us-isof-.  All are two letters,
	 * lower-case words and a number; nothing else may become part of a
	 * host name that receives signed requests and the session token. */
	static const char pattern[] = "^[a-z]{2}(-[a-z]+)+-[0-9]{1,3}$";
	regex_t re;
	bool ok;

	if (!region || strlen(region) > AWS_REGION_MAX)
		return false;
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	ok = regexec(&re, region, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static const char *nonempty_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int aws_resolve_endpoint(enum aws_service svc, const char *region,
                         const struct aws_endpoint_config *cfg, char **out)
{
	const struct aws_service_info *s = &services[svc];
	const char *ignore = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	const char *url = NULL;
	char env[96];

	*out = NULL;
	if (!ignore || strcasecmp(ignore, "true")) {
		snprintf(env, sizeof(env), "AWS_ENDPOINT_URL_%s", s->env);
		url = nonempty_env(env);
		if (!url)
			url = nonempty_env("AWS_ENDPOINT_URL");
		if (!url && cfg && cfg->service[svc] && *cfg->service[svc])
			url = cfg->service[svc];
		if (!url && cfg && cfg->global && *cfg->global)
			url = cfg->global;
	}
	if (url) {
		*out = strdup(url);
	} else {
		if (!aws_region_valid(region))
			return -EINVAL;
		/* The China partition's DNS suffix (aws-cn); the others used
		 * here share amazonaws.com. */
		if (asprintf(out, "https://%s.%s.amazonaws.com%s", s->prefix, region,
		             strncmp(region, "cn-", 3) ? "" : ".cn") < 0)
			*out = NULL;
	}
	return *out ? 0 : -ENOMEM;
}

int aws_client_init(struct aws_client *c, const char *region, const struct aws_endpoint_config *cfg,
                    struct credentials_provider *creds)
{
	int r;

	memset(c, 0, sizeof(*c));
	/* Also with endpoint overrides: the region is in every signature's
	 * credential scope. */
	if (!aws_region_valid(region) || strlen(region) >= sizeof(c->region))
		return -EINVAL;
	snprintf(c->region, sizeof(c->region), "%s", region);
	c->creds = creds;
	c->max_attempts = retry_max_attempts_from_env();
	c->connect_timeout_ms = 3000;
	c->timeout_ms = 10000;
	retry_quota_init(&c->quota);
	for (int i = 0; i < AWS_SERVICE_COUNT; i++) {
		r = aws_resolve_endpoint(i, region, cfg, &c->endpoint[i]);
		if (r < 0) {
			aws_client_free(c);
			return r;
		}
	}
	r = http_client_init(&c->http);
	if (r < 0)
		aws_client_free(c);
	return r;
}

void aws_client_free(struct aws_client *c)
{
	for (int i = 0; i < AWS_SERVICE_COUNT; i++) {
		free(c->endpoint[i]);
		c->endpoint[i] = NULL;
	}
	http_client_free(&c->http);
}

void aws_form_add(struct strbuf *form, const char *name, const char *value)
{
	if (form->len)
		strbuf_append_char(form, '&');
	strbuf_append_uri_encoded(form, name, strlen(name), false);
	strbuf_append_char(form, '=');
	strbuf_append_uri_encoded(form, value, strlen(value), false);
}

void aws_form_addf(struct strbuf *form, const char *name, const char *fmt, ...)
{
	_cleanup_free_ char *v = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (n < 0) {
		form->failed = true;
		return;
	}
	aws_form_add(form, name, v);
}

void aws_response_free(struct aws_response *r)
{
	xml_free(r->xml);
	r->xml = NULL;
}

/* Host header and path from the endpoint URL, as botocore derives them:
 * the port only when it is not the scheme's default. */
static int split_url(const char *url, char **host_header, char **path)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *p = NULL;
	int r = -EINVAL;

	*host_header = *path = NULL;
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL; /* none given: the scheme's default */
	if (curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK)
		p = NULL;
	{
		char *scheme = NULL;
		bool default_port = false;
		if (port && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK)
			default_port = (!strcmp(scheme, "https") && !strcmp(port, "443")) ||
			               (!strcmp(scheme, "http") && !strcmp(port, "80"));
		curl_free(scheme);
		if (port && !default_port)
			r = asprintf(host_header, "%s:%s", host, port) < 0 ? -ENOMEM : 0;
		else
			r = (*host_header = strdup(host)) ? 0 : -ENOMEM;
	}
	if (r == 0 && !(*path = strdup(p && *p ? p : "/")))
		r = -ENOMEM;
out:
	curl_free(host);
	curl_free(port);
	curl_free(p);
	curl_url_cleanup(u);
	if (r < 0) {
		free(*host_header);
		*host_header = NULL;
	}
	return r;
}

/* Reads an XML error body: Query services answer
 * <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>;
 * EC2-style services use <Response><Errors><Error>. */
void aws_parse_error(const char *body, size_t len, struct aws_response *out)
{
	struct xml_node *root = NULL;
	const struct xml_node *err;
	const char *v;

	if (xml_parse(body, len, &root) < 0)
		return;
	err = xml_find(root, "Error");
	if (!err)
		err = xml_find(root, "Errors/Error");
	if (err) {
		if ((v = xml_find_text(err, "Code")))
			format_into(out->code, sizeof(out->code), "%s", v);
		if ((v = xml_find_text(err, "Message")))
			format_into(out->message, sizeof(out->message), "%s", v);
	}
	if ((v = xml_find_text(root, "RequestId")) || (v = xml_find_text(root, "RequestID")))
		format_into(out->request_id, sizeof(out->request_id), "%s", v);
	xml_free(root);
}

static time_t client_now(const struct aws_client *c)
{
	return c->now ? c->now() : time(NULL);
}

/* ---- one call as a small state machine: credentials (maybe from
 * IMDS), a signed POST, then a retry after a backoff timer ---- */

static void next_attempt(struct aws_call *q);

/* The single completion point of an AWS call; every call's final
 * outcome, after its retries, is counted for /metrics here. */
static void finish(struct aws_call *q, int r)
{
	counters_aws_call(q->svc, q->action, r, q->out->attempts);
	q->busy = false;
	q->transfer = NULL;
	q->timer = NULL;
	free(q->host);
	free(q->path);
	free(q->url);
	q->host = q->path = q->url = NULL;
	strbuf_free(&q->body);
	q->done(q->ctx, r, q->out);
}

/* Signs with creds and sends; the answer comes to on_answer(). */
static int send_signed(struct aws_call *q, const struct sigv4_credentials *creds,
                       http_done_fn on_answer)
{
	static const char content_type[] = "application/x-www-form-urlencoded; charset=utf-8";
	struct aws_client *c = q->c;
	struct sigv4_signature sig;
	int r;

	time_t now = client_now(c) + c->clock_offset_s;
	struct sigv4_header headers[] = {
	        {"Content-Type", content_type},
	        {"Host", q->host},
	};
	struct sigv4_request req = {"POST",       q->path,    NULL, headers, ARRAY_SIZE(headers),
	                            q->body.data, q->body.len};
	struct sigv4_params params = {c->region, services[q->svc].prefix, now, true, false, false};
	r = sigv4_sign_request(&req, creds, &params, &sig);
	if (r < 0)
		return r;

	_cleanup_free_ char *h_host = NULL, *h_date = NULL, *h_auth = NULL;
	_cleanup_secret_ char *h_token = NULL;
	char h_ct[128], h_ua[64];
	snprintf(h_ct, sizeof(h_ct), "Content-Type: %s", content_type);
	snprintf(h_ua, sizeof(h_ua), "User-Agent: asg-agent/%s", PACKAGE_VERSION);
	if (asprintf(&h_host, "Host: %s", q->host) < 0 ||
	    asprintf(&h_date, "X-Amz-Date: %s", sig.amz_date) < 0 ||
	    asprintf(&h_auth, "Authorization: %s", sig.authorization) < 0 ||
	    (creds->session_token &&
	     asprintf(&h_token, "X-Amz-Security-Token: %s", creds->session_token) < 0)) {
		sigv4_signature_free(&sig);
		return -ENOMEM;
	}
	sigv4_signature_free(&sig);
	const char *hdrs[] = {h_host, h_ct, h_date, h_auth, h_ua, h_token, NULL};
	struct http_request hr = {
	        .method = "POST",
	        .url = q->url,
	        .headers = hdrs,
	        .body = q->body.data,
	        .body_len = q->body.len,
	        .connect_timeout_ms = c->connect_timeout_ms,
	        .timeout_ms = c->timeout_ms,
	};
	return http_start(&c->http, &hr, &q->resp, on_answer, q, &q->transfer);
}

static void on_backoff(void *ctx, bool interrupted)
{
	struct aws_call *q = ctx;

	q->timer = NULL;
	if (interrupted)
		finish(q, -EINTR);
	else
		next_attempt(q);
}

/* What the answer (or transport error r) of an attempt says: done,
 * retry now, or retry after a backoff. */
static void on_answer(void *ctx, int r, struct http_response *resp)
{
	struct aws_call *q = ctx;
	struct aws_client *c = q->c;
	struct aws_response *out = q->out;
	enum retry_class cls;
	long skew = 0;
	int cost;

	q->transfer = NULL;
	if (r == 0 && resp->date[0]) {
		time_t server;
		if (parse_http_date(resp->date, &server) == 0)
			skew = (long)(server - (client_now(c) + c->clock_offset_s));
	}
	if (r < 0) {
		format_into(out->message, sizeof(out->message), "%s: %s", q->url,
		            resp->error[0] ? resp->error : strerror(-r));
		out->status = 0;
	} else {
		out->status = resp->status;
		format_into(out->request_id, sizeof(out->request_id), "%s", resp->request_id);
		if (resp->status >= 200 && resp->status < 300) {
			int x = xml_parse(strbuf_str(&resp->body), resp->body.len, &out->xml);
			http_response_free(resp);
			if (x < 0) {
				format_into(out->message, sizeof(out->message),
				            "unparsable XML response from %s", q->url);
				finish(q, x);
				return;
			}
			retry_quota_release(&c->quota, q->taken);
			finish(q, 0);
			return;
		}
		aws_parse_error(strbuf_str(&resp->body), resp->body.len, out);
		if (!out->code[0])
			format_into(out->code, sizeof(out->code), "HTTP%ld", resp->status);
	}
	http_response_free(resp);

	if (!strcmp(out->code, "ExpiredToken") || !strcmp(out->code, "ExpiredTokenException"))
		credentials_expire(c->creds);
	cls = retry_classify(r, out->status, out->code, labs(skew) > AWS_SKEW_THRESHOLD_S);
	if (r == -EINTR) {
		finish(q, r);
		return;
	}
	if (cls == RETRY_NONE || q->attempt >= c->max_attempts) {
		finish(q, r < 0 ? r : -EREMOTEIO);
		return;
	}
	cost = retry_quota_acquire(&c->quota, cls);
	if (cost < 0) {
		finish(q, r < 0 ? r : -EREMOTEIO); /* quota empty: fail fast */
		return;
	}
	q->taken += cost;
	if (cls == RETRY_CLOCK_SKEW) {
		/* Sign the retry with AWS's clock; a deterministic fix needs
		 * no backoff. */
		c->clock_offset_s += skew;
		log_notice("%s: AWS's clock differs from ours by %ld s (%s); signing with AWS's "
		           "time from now on",
		           q->action, skew, out->code);
		next_attempt(q);
		return;
	}
	uint64_t delay = retry_backoff_ms((unsigned)(q->attempt - 1), random_unit());
	log_debug("%s: retrying after %s (attempt %d of %d) in %llu ms", q->action,
	          out->code[0] ? out->code : out->message, q->attempt + 1, c->max_attempts,
	          (unsigned long long)delay);
	r = http_timer_start(&c->http, delay, on_backoff, q, &q->timer);
	if (r < 0)
		finish(q, r);
}

static void send_or_finish(struct aws_call *q, int r)
{
	if (r < 0) {
		format_into(q->out->message, sizeof(q->out->message), "no credentials: %s",
		            q->c->creds->last_error);
		finish(q, -ENOKEY);
		return;
	}
	r = send_signed(q, &q->creds, on_answer);
	if (r < 0)
		finish(q, r);
}

static void on_credentials(void *ctx, int r)
{
	send_or_finish(ctx, r);
}

static void next_attempt(struct aws_call *q)
{
	int r;

	q->attempt++;
	q->out->attempts = q->attempt;
	q->out->code[0] = q->out->message[0] = '\0';
	r = credentials_get_start(&q->creds_fetch, q->c->creds, &q->creds, on_credentials, q);
	if (r != 1)
		send_or_finish(q, r);
}

static void on_first_attempt(void *ctx, bool interrupted)
{
	struct aws_call *q = ctx;

	q->timer = NULL;
	if (interrupted)
		finish(q, -EINTR);
	else
		next_attempt(q);
}

int aws_query_start(struct aws_call *q, struct aws_client *c, enum aws_service svc,
                    const char *action, const struct strbuf *params, struct aws_response *out,
                    aws_done_fn done, void *ctx)
{
	int r;

	memset(q, 0, sizeof(*q));
	memset(out, 0, sizeof(*out));
	q->c = c;
	q->svc = svc;
	q->out = out;
	q->done = done;
	q->ctx = ctx;
	format_into(q->action, sizeof(q->action), "%s", action);
	r = split_url(c->endpoint[svc], &q->host, &q->path);
	if (r == 0 && !(q->url = strdup(c->endpoint[svc])))
		r = -ENOMEM;
	if (r == 0) {
		aws_form_add(&q->body, "Action", action);
		aws_form_add(&q->body, "Version", services[svc].version);
		if (params && params->len) {
			strbuf_append_char(&q->body, '&');
			strbuf_append_len(&q->body, params->data, params->len);
		}
		r = strbuf_error(&q->body);
	}
	/* The first attempt runs from the loop: done is never called from
	 * here. */
	if (r == 0)
		r = http_timer_start(&c->http, 0, on_first_attempt, q, &q->timer);
	if (r < 0) {
		free(q->host);
		free(q->path);
		free(q->url);
		strbuf_free(&q->body);
		return r;
	}
	q->busy = true;
	return 0;
}

void aws_call_cancel(struct aws_call *q)
{
	if (!q->busy)
		return;
	if (q->transfer)
		http_cancel(&q->c->http, q->transfer);
	if (q->timer)
		http_timer_cancel(&q->c->http, q->timer);
	credentials_fetch_cancel(&q->creds_fetch);
	http_response_free(&q->resp);
	free(q->host);
	free(q->path);
	free(q->url);
	q->host = q->path = q->url = NULL;
	strbuf_free(&q->body);
	q->busy = false;
}

bool aws_call_busy(const struct aws_call *q)
{
	return q->busy;
}

struct sync_call {
	bool done;
	int r;
};

static void sync_done(void *ctx, int r, struct aws_response *out)
{
	struct sync_call *s = ctx;

	(void)out;
	s->done = true;
	s->r = r;
}

int aws_query(struct aws_client *c, enum aws_service svc, const char *action,
              const struct strbuf *params, struct aws_response *out)
{
	struct sync_call s = {false, 0};
	struct aws_call q;
	int r = aws_query_start(&q, c, svc, action, params, out, sync_done, &s);

	if (r < 0)
		return r;
	/* Credentials may come from IMDS meanwhile. */
	struct http_client *clients[] = {&c->http, c->creds->imds ? &c->creds->imds->http : NULL};
	r = http_wait(clients, clients[1] ? 2 : 1, &s.done);
	if (r < 0) {
		aws_call_cancel(&q);
		return r;
	}
	return s.r;
}
