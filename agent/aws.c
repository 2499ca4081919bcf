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
#include "watchdog.h"

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

/* One signed attempt.  Returns http_perform()'s result; *skew_s gets the
 * difference between the response's Date and the clock we signed with
 * (ours plus the correction learned so far; 0 if unknown). */
static int attempt(struct aws_client *c, enum aws_service svc, const char *host, const char *path,
                   const char *url, const struct strbuf *body, struct http_response *resp,
                   struct aws_response *out, long *skew_s)
{
	static const char content_type[] = "application/x-www-form-urlencoded; charset=utf-8";
	struct sigv4_credentials creds;
	struct sigv4_signature sig;
	time_t now = client_now(c) + c->clock_offset_s;
	int r;

	memset(resp, 0, sizeof(*resp));
	*skew_s = 0;
	r = credentials_get(c->creds, &creds);
	if (r < 0) {
		format_into(out->message, sizeof(out->message), "no credentials: %s",
		            c->creds->last_error);
		return -ENOKEY;
	}
	struct sigv4_header headers[] = {
	        {"Content-Type", content_type},
	        {"Host", host},
	};
	struct sigv4_request req = {"POST",     path,     NULL, headers, ARRAY_SIZE(headers),
	                            body->data, body->len};
	struct sigv4_params params = {c->region, services[svc].prefix, now, true, false, false};
	r = sigv4_sign_request(&req, &creds, &params, &sig);
	if (r < 0)
		return r;

	_cleanup_free_ char *h_host = NULL, *h_date = NULL, *h_auth = NULL;
	_cleanup_secret_ char *h_token = NULL;
	char h_ct[128], h_ua[64];
	snprintf(h_ct, sizeof(h_ct), "Content-Type: %s", content_type);
	snprintf(h_ua, sizeof(h_ua), "User-Agent: asg-agent/%s", PACKAGE_VERSION);
	if (asprintf(&h_host, "Host: %s", host) < 0 ||
	    asprintf(&h_date, "X-Amz-Date: %s", sig.amz_date) < 0 ||
	    asprintf(&h_auth, "Authorization: %s", sig.authorization) < 0 ||
	    (creds.session_token &&
	     asprintf(&h_token, "X-Amz-Security-Token: %s", creds.session_token) < 0)) {
		sigv4_signature_free(&sig);
		return -ENOMEM;
	}
	sigv4_signature_free(&sig);
	const char *hdrs[] = {h_host, h_ct, h_date, h_auth, h_ua, h_token, NULL};
	struct http_request hr = {
	        .method = "POST",
	        .url = url,
	        .headers = hdrs,
	        .body = body->data,
	        .body_len = body->len,
	        .connect_timeout_ms = c->connect_timeout_ms,
	        .timeout_ms = c->timeout_ms,
	};
	r = http_perform(&c->http, &hr, resp);
	if (r == 0 && resp->date[0]) {
		time_t server;
		if (parse_http_date(resp->date, &server) == 0)
			*skew_s = (long)(server - (client_now(c) + c->clock_offset_s));
	}
	return r;
}

static int query(struct aws_client *c, enum aws_service svc, const char *action,
                 const struct strbuf *params, struct aws_response *out)
{
	_cleanup_free_ char *host = NULL, *path = NULL, *url = NULL;
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	int r, taken = 0;

	memset(out, 0, sizeof(*out));
	r = split_url(c->endpoint[svc], &host, &path);
	if (r < 0)
		return r;
	url = strdup(c->endpoint[svc]);
	if (!url)
		return -ENOMEM;
	aws_form_add(&body, "Action", action);
	aws_form_add(&body, "Version", services[svc].version);
	if (params && params->len) {
		strbuf_append_char(&body, '&');
		strbuf_append_len(&body, params->data, params->len);
	}
	if ((r = strbuf_error(&body)) < 0)
		return r;

	for (int n = 1;; n++) {
		struct http_response resp;
		enum retry_class cls;
		long skew;
		int cost;

		out->attempts = n;
		out->code[0] = out->message[0] = '\0';
		r = attempt(c, svc, host, path, url, &body, &resp, out, &skew);
		if (r == -ENOKEY || r == -ENOMEM) {
			http_response_free(&resp);
			return r;
		}
		if (r < 0) {
			format_into(out->message, sizeof(out->message), "%s: %s", url,
			            resp.error[0] ? resp.error : strerror(-r));
			out->status = 0;
		} else {
			out->status = resp.status;
			format_into(out->request_id, sizeof(out->request_id), "%s",
			            resp.request_id);
			if (resp.status >= 200 && resp.status < 300) {
				int x = xml_parse(strbuf_str(&resp.body), resp.body.len, &out->xml);
				http_response_free(&resp);
				if (x < 0) {
					format_into(out->message, sizeof(out->message),
					            "unparsable XML response from %s", url);
					return x;
				}
				retry_quota_release(&c->quota, taken);
				return 0;
			}
			aws_parse_error(strbuf_str(&resp.body), resp.body.len, out);
			if (!out->code[0])
				format_into(out->code, sizeof(out->code), "HTTP%ld", resp.status);
		}
		http_response_free(&resp);

		if (!strcmp(out->code, "ExpiredToken") ||
		    !strcmp(out->code, "ExpiredTokenException"))
			credentials_expire(c->creds);
		cls = retry_classify(r, out->status, out->code, labs(skew) > AWS_SKEW_THRESHOLD_S);
		if (r == -EINTR)
			return r;
		if (cls == RETRY_NONE || n >= c->max_attempts)
			return r < 0 ? r : -EREMOTEIO;
		cost = retry_quota_acquire(&c->quota, cls);
		if (cost < 0)
			return r < 0 ? r : -EREMOTEIO; /* quota empty: fail fast */
		taken += cost;
		if (cls == RETRY_CLOCK_SKEW) {
			/* Sign the retry with AWS's clock; a deterministic fix
			 * needs no backoff. */
			c->clock_offset_s += skew;
			log_notice("%s: AWS's clock differs from ours by %ld s (%s); signing with "
			           "AWS's time from now on",
			           action, skew, out->code);
			continue;
		}
		uint64_t delay = retry_backoff_ms((unsigned)(n - 1), random_unit());
		log_debug("%s: retrying after %s (attempt %d of %d) in %llu ms", action,
		          out->code[0] ? out->code : out->message, n + 1, c->max_attempts,
		          (unsigned long long)delay);
		if (watchdog_sleep_ms(delay) < 0)
			return -EINTR;
	}
}

/* Every call's final outcome, after its retries, is counted for /metrics. */
int aws_query(struct aws_client *c, enum aws_service svc, const char *action,
              const struct strbuf *params, struct aws_response *out)
{
	int r = query(c, svc, action, params, out);

	counters_aws_call(svc, action, r, out->attempts);
	return r;
}
