/* IMDSv2 client (see imds.h). */
#include <errno.h>
#include <stddef.h>
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
	/* Whole numbers only ("2.5x" is not 2.5 s) and in range: atof("1e400")
	 * is inf, and inf * 1000 converted to long is undefined. */
	if (timeout && *timeout) {
		char *end;
		double v = strtod(timeout, &end);
		if (!*end && v > 0 && v <= 3600)
			c->timeout_ms = (long)(v * 1000);
	}
	/* The SDKs default to 1 attempt; we keep 3 unless told, since an
	 * agent that gives up on boot has nothing else to do. */
	if (attempts && *attempts) {
		char *end;
		long v = strtol(attempts, &end, 10);
		if (!*end && v > 0 && v <= 10)
			c->attempts = (int)v;
	}
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

/* Full jitter over 100 ms doubling to at most 1 s, as a timer. */
static uint64_t backoff_ms(unsigned retry)
{
	uint64_t cap = IMDS_BACKOFF_BASE_MS << (retry < 4 ? retry : 4);

	if (cap > IMDS_BACKOFF_MAX_MS)
		cap = IMDS_BACKOFF_MAX_MS;
	return random_below(cap + 1);
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

/* ---- one read as a small state machine: token PUT attempts, then GET
 * attempts, each failure followed by a backoff timer ---- */

static void send_get(struct imds_read *rd);
static void send_put(struct imds_read *rd);

/* The single completion point of a read; every read's final outcome,
 * after its retries, is counted for /metrics here. */
static void finish(struct imds_read *rd, int r)
{
	counters_imds_result(r);
	rd->busy = false;
	rd->transfer = NULL;
	rd->timer = NULL;
	rd->done(rd->ctx, r);
}

static void start_failed(struct imds_read *rd, int r)
{
	format_into(rd->c->last_error, sizeof(rd->c->last_error), "IMDS request %s: %s", rd->url,
	            strerror(-r));
	finish(rd, r);
}

static void on_backoff(void *ctx, bool interrupted)
{
	struct imds_read *rd = ctx;

	rd->timer = NULL;
	if (interrupted)
		finish(rd, -EINTR);
	else if (rd->in_token)
		send_put(rd);
	else
		send_get(rd);
}

static void backoff(struct imds_read *rd, unsigned retry)
{
	int r = http_timer_start(&rd->c->http, backoff_ms(retry), on_backoff, rd, &rd->timer);

	if (r < 0)
		finish(rd, r);
}

/* After a failed attempt (r: the transport's error, or what the status
 * means): tried again after a backoff while attempts are left when
 * again (a transport error, a transient status); else the read ends. */
static void attempt_failed(struct imds_read *rd, int r, bool again, struct http_response *resp,
                           int *attempt)
{
	http_response_free(resp);
	if (!again || ++*attempt >= rd->c->attempts) {
		finish(rd, r);
		return;
	}
	backoff(rd, (unsigned)*attempt - 1);
}

static void on_put_done(void *ctx, int r, struct http_response *resp)
{
	struct imds_read *rd = ctx;
	struct imds_client *c = rd->c;
	bool again = true; /* a transport error is tried again */

	rd->transfer = NULL;
	if (r == -EINTR) {
		http_response_free(resp);
		finish(rd, r);
		return;
	}
	if (r < 0) {
		format_into(c->last_error, sizeof(c->last_error), "IMDS token PUT %s: %s",
		            rd->token_url, resp->error[0] ? resp->error : strerror(-r));
	} else if (resp->status == 200 && resp->body.len > 0 && resp->body.len < sizeof(c->token)) {
		memcpy(c->token, resp->body.data, resp->body.len);
		c->token[resp->body.len] = '\0';
		c->token_expires_ms = now_mono_ms() + (uint64_t)c->token_ttl_s * 1000;
		note_ttl(c, resp->token_ttl);
		c->tokens_fetched++;
		http_response_free(resp);
		rd->in_token = false;
		if (rd->token_only)
			finish(rd, 0);
		else
			send_get(rd);
		return;
	} else {
		format_into(c->last_error, sizeof(c->last_error), "IMDS token PUT %s: HTTP %ld",
		            rd->token_url, resp->status);
		/* 403: IMDS is turned off for this instance (or the PUT was
		 * forwarded); 400: our request is wrong.  Neither improves
		 * with a retry, and we never fall back to v1. */
		r = resp->status == 403 || resp->status == 404 || resp->status == 405 ? -EACCES
		    : transient_status(resp->status)                                  ? -EIO
		                                                                      : -EPROTO;
		again = transient_status(resp->status);
	}
	attempt_failed(rd, r, again, resp, &rd->token_attempt);
}

static void send_put(struct imds_read *rd)
{
	struct imds_client *c = rd->c;
	char ttl[80];
	const char *hdrs[] = {ttl, NULL};
	struct http_request req = imds_request(c, "PUT", rd->token_url, hdrs);
	int r;

	snprintf(ttl, sizeof(ttl), "X-aws-ec2-metadata-token-ttl-seconds: %d", c->token_ttl_s);
	r = http_start(&c->http, &req, &rd->resp, on_put_done, rd, &rd->transfer);
	if (r < 0)
		start_failed(rd, r);
}

static void on_get_done(void *ctx, int r, struct http_response *resp)
{
	struct imds_read *rd = ctx;
	struct imds_client *c = rd->c;
	bool again = true; /* a transport error is tried again */

	rd->transfer = NULL;
	if (r == -EINTR) {
		http_response_free(resp);
		finish(rd, r);
		return;
	}
	if (r == 0 && resp->status == 200) {
		note_ttl(c, resp->token_ttl);
		strbuf_append_len(rd->out, resp->body.data, resp->body.len);
		http_response_free(resp);
		finish(rd, strbuf_error(rd->out));
		return;
	}
	if (r == 0 && resp->status == 401 && !rd->renewed) {
		/* Expired or invalid token: drop it and retry at once with a
		 * fresh one (Go SDK v2, NTH).  Not an attempt. */
		http_response_free(resp);
		secret_wipe(c->token, sizeof(c->token));
		c->token_expires_ms = 0;
		rd->renewed = true;
		send_get(rd);
		return;
	}
	if (r < 0) {
		format_into(c->last_error, sizeof(c->last_error), "IMDS GET %s: %s", rd->url,
		            resp->error[0] ? resp->error : strerror(-r));
	} else {
		format_into(c->last_error, sizeof(c->last_error), "IMDS GET %s: HTTP %ld", rd->url,
		            resp->status);
		r = resp->status == 404              ? -ENOENT
		    : resp->status == 403            ? -EACCES
		    : resp->status == 401            ? -EACCES
		    : transient_status(resp->status) ? -EIO
		                                     : -EPROTO;
		again = transient_status(resp->status);
	}
	attempt_failed(rd, r, again, resp, &rd->attempt);
}

/* A GET attempt, after a token PUT when there is no valid token. */
static void send_get(struct imds_read *rd)
{
	struct imds_client *c = rd->c;
	const char *hdrs[] = {rd->token_header, NULL};
	struct http_request req = imds_request(c, "GET", rd->url, hdrs);
	int r;

	if (c->disabled) {
		format_into(c->last_error, sizeof(c->last_error),
		            "IMDS disabled by AWS_EC2_METADATA_DISABLED");
		finish(rd, -EHOSTDOWN);
		return;
	}
	if (!token_valid(c)) {
		secret_wipe(c->token, sizeof(c->token));
		c->token_expires_ms = 0;
		rd->in_token = true;
		rd->token_attempt = 0;
		send_put(rd);
		return;
	}
	snprintf(rd->token_header, sizeof(rd->token_header), "X-aws-ec2-metadata-token: %s",
	         c->token);
	r = http_start(&c->http, &req, &rd->resp, on_get_done, rd, &rd->transfer);
	secret_wipe(rd->token_header, sizeof(rd->token_header));
	if (r < 0)
		start_failed(rd, r);
}

static void start(struct imds_read *rd, struct imds_client *c, const char *path, struct strbuf *out,
                  imds_done_fn done, void *ctx)
{
	memset(rd, 0, sizeof(*rd));
	rd->c = c;
	rd->out = out;
	rd->done = done;
	rd->ctx = ctx;
	snprintf(rd->token_url, sizeof(rd->token_url), "%s/latest/api/token", c->endpoint);
	if (path)
		snprintf(rd->url, sizeof(rd->url), "%s%s%s", c->endpoint,
		         path[0] == '/' ? "" : "/latest/meta-data/", path);
	if (out)
		strbuf_reset(out);
}

/* The first step runs from a zero timer: done is never called from
 * the start functions. */
static void on_first_step(void *ctx, bool interrupted)
{
	struct imds_read *rd = ctx;

	rd->timer = NULL;
	if (interrupted)
		finish(rd, -EINTR);
	else
		send_get(rd);
}

int imds_get_start(struct imds_read *rd, struct imds_client *c, const char *path,
                   struct strbuf *out, imds_done_fn done, void *ctx)
{
	int r;

	start(rd, c, path, out, done, ctx);
	r = http_timer_start(&c->http, 0, on_first_step, rd, &rd->timer);
	if (r == 0)
		rd->busy = true;
	return r;
}

void imds_read_cancel(struct imds_read *rd)
{
	if (!rd->busy)
		return;
	if (rd->transfer)
		http_cancel(&rd->c->http, rd->transfer);
	if (rd->timer)
		http_timer_cancel(&rd->c->http, rd->timer);
	http_response_free(&rd->resp);
	rd->busy = false;
	rd->transfer = NULL;
	rd->timer = NULL;
}

struct sync_read {
	bool done;
	int r;
};

static void sync_done(void *ctx, int r)
{
	struct sync_read *s = ctx;

	s->done = true;
	s->r = r;
}

static int wait_read(struct imds_client *c, struct imds_read *rd, struct sync_read *s)
{
	struct http_client *clients[] = {&c->http};
	int r = http_wait(clients, 1, &s->done);

	if (r < 0) {
		imds_read_cancel(rd);
		return r;
	}
	return s->r;
}

int imds_ensure_token(struct imds_client *c)
{
	struct sync_read s = {false, 0};
	struct imds_read rd;

	if (c->disabled) {
		format_into(c->last_error, sizeof(c->last_error),
		            "IMDS disabled by AWS_EC2_METADATA_DISABLED");
		return -EHOSTDOWN;
	}
	if (token_valid(c))
		return 0;
	start(&rd, c, NULL, NULL, sync_done, &s);
	rd.busy = true;
	rd.token_only = true;
	rd.in_token = true;
	secret_wipe(c->token, sizeof(c->token));
	c->token_expires_ms = 0;
	send_put(&rd);
	if (!rd.busy)
		return s.r;
	return wait_read(c, &rd, &s);
}

int imds_get(struct imds_client *c, const char *path, struct strbuf *out)
{
	struct sync_read s = {false, 0};
	struct imds_read rd;
	int r = imds_get_start(&rd, c, path, out, sync_done, &s);

	if (r < 0)
		return r;
	return wait_read(c, &rd, &s);
}

/* An item's answer into buf: one short line expected. */
static int item_into(int r, const struct strbuf *sb, char *buf, size_t len, bool optional)
{
	if (r == -ENOENT && optional) {
		buf[0] = '\0';
		return 0;
	}
	if (r < 0)
		return r;
	if (sb->len >= len || memchr(strbuf_str(sb), '\n', sb->len))
		return -EPROTO;
	memcpy(buf, strbuf_str(sb), sb->len + 1);
	return 0;
}

/* The identity's items, read one after the other.  placement/region
 * exists since 2020-08-24; never trim the AZ, a Local Zone AZ looks like
 * us-west-2-lax-1a. */
static const struct identity_item {
	const char *path;
	size_t offset, len;
	bool optional;
} identity_items[] = {
        {"instance-id", offsetof(struct imds_identity, instance_id),
         sizeof(((struct imds_identity *)0)->instance_id), false},
        {"placement/region", offsetof(struct imds_identity, region),
         sizeof(((struct imds_identity *)0)->region), true},
        {"placement/availability-zone", offsetof(struct imds_identity, availability_zone),
         sizeof(((struct imds_identity *)0)->availability_zone), true},
        {"instance-type", offsetof(struct imds_identity, instance_type),
         sizeof(((struct imds_identity *)0)->instance_type), true},
        {"instance-life-cycle", offsetof(struct imds_identity, life_cycle),
         sizeof(((struct imds_identity *)0)->life_cycle), true},
};

static void identity_finish(struct imds_identity_read *ir, int r)
{
	ir->busy = false;
	strbuf_free(&ir->sb);
	ir->done(ir->ctx, r);
}

/* The document's answer r: the last step. */
static int identity_document(struct imds_identity_read *ir, int r)
{
	struct imds_identity *id = ir->id;

	if (r == -ENOENT)
		return id->region[0] ? 0 : -ENOENT;
	if (r < 0)
		return r;
	if (imds_parse_identity_document(strbuf_str(&ir->sb), ir->sb.len, id) < 0) {
		format_into(ir->c->last_error, sizeof(ir->c->last_error),
		            "IMDS identity document is not a JSON object");
		return -EPROTO;
	}
	return id->region[0] ? 0 : -ENOENT;
}

static void on_identity_item(void *ctx, int r)
{
	struct imds_identity_read *ir = ctx;
	const char *path;

	if (ir->step == ARRAY_SIZE(identity_items)) {
		identity_finish(ir, identity_document(ir, r));
		return;
	}
	const struct identity_item *it = &identity_items[ir->step];
	r = item_into(r, &ir->sb, (char *)ir->id + it->offset, it->len, it->optional);
	if (r < 0) {
		identity_finish(ir, r);
		return;
	}
	ir->step++;
	path = ir->step < ARRAY_SIZE(identity_items) ? identity_items[ir->step].path
	                                             : "/latest/dynamic/instance-identity/document";
	r = imds_get_start(&ir->rd, ir->c, path, &ir->sb, on_identity_item, ir);
	if (r < 0)
		identity_finish(ir, r);
}

int imds_read_identity_start(struct imds_identity_read *ir, struct imds_client *c,
                             struct imds_identity *id, imds_done_fn done, void *ctx)
{
	int r;

	memset(ir, 0, sizeof(*ir));
	memset(id, 0, sizeof(*id));
	ir->c = c;
	ir->id = id;
	ir->done = done;
	ir->ctx = ctx;
	r = imds_get_start(&ir->rd, c, identity_items[0].path, &ir->sb, on_identity_item, ir);
	if (r < 0)
		return r;
	ir->busy = true;
	return 0;
}

void imds_identity_read_cancel(struct imds_identity_read *ir)
{
	if (!ir->busy)
		return;
	imds_read_cancel(&ir->rd);
	strbuf_free(&ir->sb);
	ir->busy = false;
}

int imds_read_identity(struct imds_client *c, struct imds_identity *id)
{
	struct sync_read s = {false, 0};
	struct imds_identity_read ir;
	struct http_client *clients[] = {&c->http};
	int r = imds_read_identity_start(&ir, c, id, sync_done, &s);

	if (r < 0)
		return r;
	r = http_wait(clients, 1, &s.done);
	if (r < 0) {
		imds_identity_read_cancel(&ir);
		return r;
	}
	return s.r;
}

static void copy_json_string(json_t *doc, const char *key, char *buf, size_t len)
{
	const char *v = json_string_value(json_object_get(doc, key));

	if (v && !buf[0])
		snprintf(buf, len, "%s", v);
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
