/* IMDSv2 client (see imds.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cleanup.h"
#include "counters.h"
#include "imds.h"
#include "random.h"
#include "secret.h"
#include "timeutil.h"
#include "watchdog.h"

/* Backoff between IMDS attempts: full jitter over 100 ms doubling to at
 * most 1 s.  IMDS is local; long waits only delay boot. */
#define IMDS_BACKOFF_BASE_MS 100
#define IMDS_BACKOFF_MAX_MS  1000

static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && !strcasecmp(v, "true");
}

int imds_client_init(struct imds_client *c, const char *endpoint, int token_ttl_s)
{
	const char *env = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	const char *timeout = getenv("AWS_METADATA_SERVICE_TIMEOUT");
	const char *attempts = getenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS");
	size_t len;

	memset(c, 0, sizeof(*c));
	c->disabled = env_true("AWS_EC2_METADATA_DISABLED");
	c->token_ttl_s =
	        token_ttl_s > 0 && token_ttl_s <= 21600 ? token_ttl_s : IMDS_DEFAULT_TOKEN_TTL_S;
	c->timeout_ms = IMDS_DEFAULT_TIMEOUT_MS;
	c->attempts = IMDS_DEFAULT_ATTEMPTS;
	if (timeout && atof(timeout) > 0)
		c->timeout_ms = (long)(atof(timeout) * 1000);
	/* The SDKs default to 1 attempt; we keep 3 unless told, since an
	 * agent that gives up on boot has nothing else to do. */
	if (attempts && atoi(attempts) > 0 && atoi(attempts) <= 10)
		c->attempts = atoi(attempts);
	if (env && *env)
		endpoint = env; /* the explicit endpoint wins over the mode */
	else if (!endpoint || !*endpoint)
		endpoint = mode && !strcasecmp(mode, "IPv6") ? "http://[fd00:ec2::254]"
		                                             : IMDS_DEFAULT_ENDPOINT;
	c->endpoint = strdup(endpoint);
	if (!c->endpoint)
		return -ENOMEM;
	len = strlen(c->endpoint);
	while (len && c->endpoint[len - 1] == '/')
		c->endpoint[--len] = '\0';
	return http_client_init(&c->http);
}

void imds_client_free(struct imds_client *c)
{
	http_client_free(&c->http);
	free(c->endpoint);
	c->endpoint = NULL;
	explicit_bzero(c->token, sizeof(c->token));
}

bool imds_error_is_absent(int err)
{
	return err == -EHOSTDOWN || err == -ETIMEDOUT || err == -ECONNREFUSED ||
	       err == -EHOSTUNREACH || err == -EACCES;
}

static bool transient_status(long status)
{
	return status == 429 || status >= 500;
}

/* Remaining-TTL header on responses (seen in IMDS and read by NTH; not in
 * AWS docs): trust it when present, it may be shorter than we asked. */
static void note_ttl(struct imds_client *c, long ttl)
{
	if (ttl > 0)
		c->token_expires_ms = now_mono_ms() + (uint64_t)ttl * 1000;
}

/* Refresh ahead of expiry by a minute, or half the TTL for short ones. */
static bool token_valid(const struct imds_client *c)
{
	uint64_t margin = (uint64_t)c->token_ttl_s * 500;

	if (margin > 60000)
		margin = 60000;
	return c->token[0] && now_mono_ms() + margin < c->token_expires_ms;
}

static int backoff(unsigned retry)
{
	uint64_t cap = IMDS_BACKOFF_BASE_MS << (retry < 4 ? retry : 4);

	if (cap > IMDS_BACKOFF_MAX_MS)
		cap = IMDS_BACKOFF_MAX_MS;
	return watchdog_sleep_ms(random_below(cap + 1));
}

/* Every IMDS request: short timeouts, and never through a proxy from
 * the environment (a link-local address must not leave the host). */
static struct http_request imds_request(const struct imds_client *c, const char *method,
                                        const char *url, const char *const *headers)
{
	return (struct http_request){.method = method,
	                             .url = url,
	                             .headers = headers,
	                             .connect_timeout_ms = c->timeout_ms,
	                             .timeout_ms = c->timeout_ms,
	                             .no_proxy = true,
	                             .secret = true};
}

static int fetch_token(struct imds_client *c)
{
	char url[512], ttl[80];
	const char *hdrs[] = {ttl, NULL};
	int r = -EIO;

	snprintf(url, sizeof(url), "%s/latest/api/token", c->endpoint);
	snprintf(ttl, sizeof(ttl), "X-aws-ec2-metadata-token-ttl-seconds: %d", c->token_ttl_s);
	secret_wipe(c->token, sizeof(c->token));
	c->token_expires_ms = 0;
	for (int n = 0; n < c->attempts; n++) {
		struct http_response resp;
		struct http_request req = imds_request(c, "PUT", url, hdrs);

		if (n && backoff((unsigned)n - 1) < 0)
			return -EINTR;
		r = http_perform(&c->http, &req, &resp);
		if (r == -EINTR) {
			http_response_free(&resp);
			return r;
		}
		if (r < 0) {
			format_into(c->last_error, sizeof(c->last_error), "IMDS token PUT %s: %s",
			            url, resp.error[0] ? resp.error : strerror(-r));
		} else if (resp.status == 200 && resp.body.len > 0 &&
		           resp.body.len < sizeof(c->token)) {
			memcpy(c->token, resp.body.data, resp.body.len);
			c->token[resp.body.len] = '\0';
			c->token_expires_ms = now_mono_ms() + (uint64_t)c->token_ttl_s * 1000;
			note_ttl(c, resp.token_ttl);
			c->tokens_fetched++;
			http_response_free(&resp);
			return 0;
		} else {
			format_into(c->last_error, sizeof(c->last_error),
			            "IMDS token PUT %s: HTTP %ld", url, resp.status);
			/* 403: IMDS is turned off for this instance (or the PUT
			 * was forwarded); 400: our request is wrong.  Neither
			 * improves with a retry, and we never fall back to v1. */
			r = resp.status == 403 || resp.status == 404 || resp.status == 405 ? -EACCES
			    : transient_status(resp.status)                                ? -EIO
			                                    : -EPROTO;
			if (!transient_status(resp.status)) {
				http_response_free(&resp);
				return r;
			}
		}
		http_response_free(&resp);
	}
	return r;
}

int imds_ensure_token(struct imds_client *c)
{
	if (c->disabled) {
		format_into(c->last_error, sizeof(c->last_error),
		            "IMDS disabled by AWS_EC2_METADATA_DISABLED");
		return -EHOSTDOWN;
	}
	return token_valid(c) ? 0 : fetch_token(c);
}

/* The request header's copy of the token, wiped on every return. */
static void wipe_header(char (*h)[600])
{
	secret_wipe(*h, sizeof(*h));
}

static int get(struct imds_client *c, const char *path, struct strbuf *out)
{
	char url[1024], tok[600] __attribute__((cleanup(wipe_header)));
	const char *hdrs[] = {tok, NULL};
	bool renewed = false;
	int r = -EIO;

	strbuf_reset(out);
	snprintf(url, sizeof(url), "%s%s%s", c->endpoint,
	         path[0] == '/' ? "" : "/latest/meta-data/", path);
	for (int n = 0; n < c->attempts; n++) {
		struct http_response resp;
		struct http_request req = imds_request(c, "GET", url, hdrs);

		r = imds_ensure_token(c);
		if (r < 0)
			return r;
		snprintf(tok, sizeof(tok), "X-aws-ec2-metadata-token: %s", c->token);
		r = http_perform(&c->http, &req, &resp);
		if (r == -EINTR) {
			http_response_free(&resp);
			return r;
		}
		if (r == 0 && resp.status == 200) {
			note_ttl(c, resp.token_ttl);
			strbuf_append_len(out, resp.body.data, resp.body.len);
			http_response_free(&resp);
			return strbuf_error(out);
		}
		if (r == 0 && resp.status == 401 && !renewed) {
			/* Expired or invalid token: drop it and retry at once
			 * with a fresh one (Go SDK v2, NTH).  Not an attempt. */
			http_response_free(&resp);
			secret_wipe(c->token, sizeof(c->token));
			c->token_expires_ms = 0;
			renewed = true;
			n--;
			continue;
		}
		if (r < 0) {
			format_into(c->last_error, sizeof(c->last_error), "IMDS GET %s: %s", url,
			            resp.error[0] ? resp.error : strerror(-r));
		} else {
			format_into(c->last_error, sizeof(c->last_error), "IMDS GET %s: HTTP %ld",
			            url, resp.status);
			r = resp.status == 404              ? -ENOENT
			    : resp.status == 403            ? -EACCES
			    : resp.status == 401            ? -EACCES
			    : transient_status(resp.status) ? -EIO
			                                    : -EPROTO;
			if (!transient_status(resp.status)) {
				http_response_free(&resp);
				return r;
			}
		}
		http_response_free(&resp);
		if (n + 1 < c->attempts && backoff((unsigned)n) < 0)
			return -EINTR;
	}
	return r;
}

/* Every read's final outcome, after its retries, is counted for /metrics. */
int imds_get(struct imds_client *c, const char *path, struct strbuf *out)
{
	int r = get(c, path, out);

	counters_imds_result(r);
	return r;
}

static int get_into(struct imds_client *c, const char *path, char *buf, size_t len, bool optional)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r = imds_get(c, path, &sb);

	if (r == -ENOENT && optional) {
		buf[0] = '\0';
		return 0;
	}
	if (r < 0)
		return r;
	if (sb.len >= len || memchr(strbuf_str(&sb), '\n', sb.len))
		return -EPROTO; /* one short line expected */
	memcpy(buf, strbuf_str(&sb), sb.len + 1);
	return 0;
}

static void copy_json_string(json_t *doc, const char *key, char *buf, size_t len)
{
	const char *v = json_string_value(json_object_get(doc, key));

	if (v && !buf[0])
		snprintf(buf, len, "%s", v);
}

int imds_read_identity(struct imds_client *c, struct imds_identity *id)
{
	_cleanup_strbuf_ struct strbuf doc_text = STRBUF_INIT;
	int r;

	memset(id, 0, sizeof(*id));
	r = get_into(c, "instance-id", id->instance_id, sizeof(id->instance_id), false);
	if (r < 0)
		return r;
	/* placement/region exists since 2020-08-24; never trim the AZ, a
	 * Local Zone AZ looks like us-west-2-lax-1a. */
	r = get_into(c, "placement/region", id->region, sizeof(id->region), true);
	if (r >= 0)
		r = get_into(c, "placement/availability-zone", id->availability_zone,
		             sizeof(id->availability_zone), true);
	if (r >= 0)
		r = get_into(c, "instance-type", id->instance_type, sizeof(id->instance_type),
		             true);
	if (r >= 0)
		r = get_into(c, "instance-life-cycle", id->life_cycle, sizeof(id->life_cycle),
		             true);
	if (r < 0)
		return r;
	r = imds_get(c, "/latest/dynamic/instance-identity/document", &doc_text);
	if (r == -ENOENT)
		return id->region[0] ? 0 : -ENOENT;
	if (r < 0)
		return r;
	if (imds_parse_identity_document(strbuf_str(&doc_text), doc_text.len, id) < 0) {
		format_into(c->last_error, sizeof(c->last_error),
		            "IMDS identity document is not a JSON object");
		return -EPROTO;
	}
	return id->region[0] ? 0 : -ENOENT;
}

int imds_parse_identity_document(const char *buf, size_t len, struct imds_identity *id)
{
	_cleanup_json_ json_t *doc = json_loadb(buf, len, 0, NULL);

	if (!json_is_object(doc))
		return -EPROTO;
	copy_json_string(doc, "accountId", id->account_id, sizeof(id->account_id));
	copy_json_string(doc, "imageId", id->image_id, sizeof(id->image_id));
	copy_json_string(doc, "privateIp", id->private_ip, sizeof(id->private_ip));
	/* The document's region is the fallback for IMDS versions before
	 * placement/region existed. */
	copy_json_string(doc, "region", id->region, sizeof(id->region));
	copy_json_string(doc, "availabilityZone", id->availability_zone,
	                 sizeof(id->availability_zone));
	copy_json_string(doc, "instanceType", id->instance_type, sizeof(id->instance_type));
	return 0;
}
