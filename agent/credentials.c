/* Credential chain and instance-profile refresh (see credentials.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cleanup.h"
#include "credentials.h"
#include "imds.h"
#include "log.h"
#include "random.h"
#include "secret.h"
#include "strbuf.h"
#include "timeutil.h"

/* After a failed refresh, wait this long before asking IMDS again: each
 * try may block the loop for the IMDS timeouts, and a dead IMDS rarely
 * comes back within seconds. */
#define CREDENTIALS_RETRY_AFTER_FAILURE_S 30
/* Go SDK v2 caps the cached lifetime at an hour, so a rotated role is
 * picked up at least hourly. */
#define CREDENTIALS_MAX_CACHE_S 3600

static time_t provider_now(const struct credentials_provider *p)
{
	return p->now ? p->now() : time(NULL);
}

static void free_secret(char **s)
{
	secret_free(*s);
	*s = NULL;
}

void credentials_clear(struct credentials *c)
{
	free_secret(&c->access_key_id);
	free_secret(&c->secret_access_key);
	free_secret(&c->session_token);
	memset(c, 0, sizeof(*c));
}

const char *credentials_source_name(enum credentials_source s)
{
	switch (s) {
	case CREDENTIALS_ENVIRONMENT:
		return "environment";
	case CREDENTIALS_INSTANCE_PROFILE:
		return "instance-profile";
	default:
		return "none";
	}
}

void credentials_provider_init(struct credentials_provider *p, struct imds_client *imds)
{
	memset(p, 0, sizeof(*p));
	p->imds = imds;
	p->retry_interval_s = CREDENTIALS_RETRY_AFTER_FAILURE_S;
}

void credentials_provider_free(struct credentials_provider *p)
{
	credentials_clear(&p->current);
}

/* jansson's copies of the document (its lexer's buffer, every string
 * value) are freed through this while a credentials document is parsed. */
static void *plain_malloc(size_t n)
{
	return malloc(n);
}

static void wiping_free(void *p)
{
	secret_free(p);
}

static int parse_imds(const char *json, size_t len, struct credentials *out);

int credentials_parse_imds(const char *json, size_t len, struct credentials *out)
{
	json_malloc_t m;
	json_free_t f;
	int r;

	/* Global, but the agent parses JSON on one thread only. */
	json_get_alloc_funcs(&m, &f);
	json_set_alloc_funcs(plain_malloc, wiping_free);
	r = parse_imds(json, len, out);
	json_set_alloc_funcs(m, f);
	return r;
}

static int parse_imds(const char *json, size_t len, struct credentials *out)
{
	_cleanup_json_ json_t *doc = json_loadb(json, len, 0, NULL);
	const char *code, *akid, *secret, *token, *exp;
	time_t expiration;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(doc))
		return -EBADMSG;
	/* IMDS may answer 200 with an error document; only Code=Success
	 * carries credentials (botocore InstanceMetadataFetcher). */
	code = json_string_value(json_object_get(doc, "Code"));
	if (!code || strcmp(code, "Success"))
		return -EKEYREJECTED;
	akid = json_string_value(json_object_get(doc, "AccessKeyId"));
	secret = json_string_value(json_object_get(doc, "SecretAccessKey"));
	token = json_string_value(json_object_get(doc, "Token"));
	exp = json_string_value(json_object_get(doc, "Expiration"));
	if (!akid || !*akid || !secret || !*secret || !token || !exp ||
	    parse_iso8601(exp, &expiration) < 0)
		return -EBADMSG;
	out->access_key_id = strdup(akid);
	out->secret_access_key = strdup(secret);
	out->session_token = strdup(token);
	out->expiration = expiration;
	out->source = CREDENTIALS_INSTANCE_PROFILE;
	if (!out->access_key_id || !out->secret_access_key || !out->session_token) {
		credentials_clear(out);
		return -ENOMEM;
	}
	return 0;
}

static int from_environment(struct credentials *c)
{
	const char *akid = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");

	if (!akid || !*akid || !secret || !*secret)
		return -ENOKEY;
	c->access_key_id = strdup(akid);
	c->secret_access_key = strdup(secret);
	c->session_token = token && *token ? strdup(token) : NULL;
	c->source = CREDENTIALS_ENVIRONMENT;
	if (!c->access_key_id || !c->secret_access_key || (token && *token && !c->session_token)) {
		credentials_clear(c);
		return -ENOMEM;
	}
	return 0;
}

/* The role's name from iam/security-credentials/ (first line). */
static int parse_role(struct credentials_provider *p, int r, const struct strbuf *sb, char *role,
                      size_t len)
{
	if (r == -ENOENT) {
		format_into(p->last_error, sizeof(p->last_error),
		            "no instance profile attached (IMDS iam/security-credentials/ is 404)");
		return -ENOKEY;
	}
	if (r < 0) {
		format_into(p->last_error, sizeof(p->last_error), "%s", p->imds->last_error);
		return r;
	}
	/* One role per instance profile: the first line names it. */
	size_t n = strcspn(strbuf_str(sb), "\r\n");
	if (n == 0 || n >= len) {
		format_into(p->last_error, sizeof(p->last_error),
		            "IMDS iam/security-credentials/ returned no role name");
		return -EBADMSG;
	}
	memcpy(role, strbuf_str(sb), n);
	role[n] = '\0';
	return 0;
}

/* The role's credentials document, as read from IMDS with result r. */
static int parse_role_credentials(struct credentials_provider *p, int r, const struct strbuf *sb,
                                  const char *role, struct credentials *out)
{
	if (r < 0) {
		format_into(p->last_error, sizeof(p->last_error), "%s", p->imds->last_error);
		return r;
	}
	r = credentials_parse_imds(strbuf_str(sb), sb->len, out);
	if (r < 0) {
		format_into(p->last_error, sizeof(p->last_error),
		            "IMDS credentials for role %s unusable: %s", role,
		            r == -EKEYREJECTED ? "Code is not Success" : "malformed document");
		return r;
	}
	snprintf(out->role, sizeof(out->role), "%s", role);
	return 0;
}

static void schedule(struct credentials_provider *p, time_t now)
{
	time_t exp = p->current.expiration;

	p->fetched_at = now;
	p->retry_after = 0;
	p->usable_until = exp;
	if (exp <= now + CREDENTIALS_MANDATORY_REFRESH_S) {
		/* Already expired or about to (IMDS serving stale credentials
		 * during an outage): botocore's static stability uses them
		 * for 10 min + 2..10 min more instead of failing. */
		p->usable_until = now + CREDENTIALS_EXTENSION_BASE_S +
		                  CREDENTIALS_EXTENSION_JITTER_MIN_S +
		                  (time_t)random_below(CREDENTIALS_EXTENSION_JITTER_S + 1);
		p->refresh_at = now + p->retry_interval_s;
		return;
	}
	p->refresh_at = exp - CREDENTIALS_ADVISORY_REFRESH_S;
	if (p->refresh_at > now + CREDENTIALS_MAX_CACHE_S)
		p->refresh_at = now + CREDENTIALS_MAX_CACHE_S;
}

/* The part of a refresh before IMDS is asked: 1 when it must be asked,
 * else the result (after a recent failure, the current ones as long as
 * they are usable). */
static int refresh_needed(const struct credentials_provider *p, time_t now)
{
	if (p->current.access_key_id && now < p->retry_after)
		return now < p->usable_until ? 0 : -EKEYEXPIRED;
	return 1;
}

/* The part after IMDS answered: r and fresh are the fetch's outcome. */
static int refresh_done(struct credentials_provider *p, time_t now, int r,
                        struct credentials *fresh)
{
	bool have = p->current.access_key_id != NULL;

	if (r == 0) {
		char exp[32];

		credentials_clear(&p->current);
		p->current = *fresh;
		schedule(p, now);
		format_iso8601(p->current.expiration, exp, sizeof(exp));
		/* The key id is not a secret (it shows in CloudTrail); it tells
		 * an operator which set is in use. */
		log_fields(p->refresh_failing ? LOG_NOTICE : LOG_DEBUG, NULL,
		           "instance profile credentials refreshed: role %s, key %s, expire %s",
		           p->current.role, p->current.access_key_id, exp);
		p->refresh_failing = false;
		return 0;
	}
	if (r == -EINTR)
		return r;
	p->retry_after = now + p->retry_interval_s;
	if (!have)
		return r;
	/* Static stability: IMDS is down while ours are near expiry.  Keep
	 * using them, to their expiry plus botocore's extension. */
	if (p->usable_until <= p->current.expiration)
		p->usable_until = p->current.expiration + CREDENTIALS_EXTENSION_BASE_S +
		                  CREDENTIALS_EXTENSION_JITTER_MIN_S +
		                  (time_t)random_below(CREDENTIALS_EXTENSION_JITTER_S + 1);
	if (!p->refresh_failing) {
		char until[32];

		format_iso8601(p->usable_until, until, sizeof(until));
		/* Once per outage: the next success logs the recovery. */
		log_warning(
		        "credential refresh failed (%s); using the current ones until %s at the "
		        "latest, retrying every %lld s",
		        p->last_error, until, (long long)p->retry_interval_s);
		p->refresh_failing = true;
	}
	return now < p->usable_until ? 0 : -EKEYEXPIRED;
}

/* The decision of credentials_get(): 0 when p->current may be used now,
 * 1 when IMDS must be asked first, or -errno. */
static int prepare(struct credentials_provider *p, time_t now)
{
	if (p->current.source == CREDENTIALS_NONE && from_environment(&p->current) == 0)
		p->last_error[0] = '\0';
	if (p->current.source == CREDENTIALS_ENVIRONMENT)
		return 0;
	if (!p->imds || p->imds->disabled) {
		format_into(p->last_error, sizeof(p->last_error),
		            "no credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY unset "
		            "and IMDS disabled");
		return -ENOKEY;
	}
	if (!p->current.access_key_id || now >= p->refresh_at)
		return refresh_needed(p, now);
	return 0;
}

static void current(const struct credentials_provider *p, struct sigv4_credentials *out)
{
	out->access_key_id = p->current.access_key_id;
	out->secret_access_key = p->current.secret_access_key;
	out->session_token = p->current.session_token;
}

/* ---- the IMDS fetch: the role's name, then its credentials ---- */

static void fetch_finish(struct credentials_fetch *f, int r, struct credentials *fresh)
{
	f->busy = false;
	strbuf_free(&f->sb);
	r = refresh_done(f->p, f->now, r, fresh);
	if (r == 0)
		current(f->p, f->out);
	f->done(f->ctx, r);
}

static void on_role_credentials(void *ctx, int r)
{
	struct credentials_fetch *f = ctx;
	struct credentials fresh;

	r = parse_role_credentials(f->p, r, &f->sb, f->role, &fresh);
	fetch_finish(f, r, &fresh);
}

static void on_role(void *ctx, int r)
{
	struct credentials_fetch *f = ctx;
	char path[256];

	r = parse_role(f->p, r, &f->sb, f->role, sizeof(f->role));
	if (r == 0) {
		snprintf(path, sizeof(path), "iam/security-credentials/%s", f->role);
		r = imds_get_start(&f->rd, f->p->imds, path, &f->sb, on_role_credentials, f);
	}
	if (r < 0)
		fetch_finish(f, r, NULL);
}

int credentials_get_start(struct credentials_fetch *f, struct credentials_provider *p,
                          struct sigv4_credentials *out, credentials_done_fn done, void *ctx)
{
	time_t now = provider_now(p);
	int r = prepare(p, now);

	if (r <= 0) {
		if (r == 0)
			current(p, out);
		return r;
	}
	memset(f, 0, sizeof(*f));
	f->p = p;
	f->out = out;
	f->done = done;
	f->ctx = ctx;
	f->now = now;
	f->sb.secret = true;
	r = imds_get_start(&f->rd, p->imds, "iam/security-credentials/", &f->sb, on_role, f);
	if (r < 0) {
		r = refresh_done(p, now, r, NULL);
		if (r == 0)
			current(p, out);
		return r;
	}
	f->busy = true;
	return 1;
}

void credentials_fetch_cancel(struct credentials_fetch *f)
{
	if (!f->busy)
		return;
	imds_read_cancel(&f->rd);
	strbuf_free(&f->sb);
	f->busy = false;
}

struct sync_get {
	bool done;
	int r;
};

static void sync_done(void *ctx, int r)
{
	struct sync_get *s = ctx;

	s->done = true;
	s->r = r;
}

int credentials_get(struct credentials_provider *p, struct sigv4_credentials *out)
{
	struct credentials_fetch f;
	struct sync_get s = {false, 0};
	int r = credentials_get_start(&f, p, out, sync_done, &s);

	if (r <= 0)
		return r;
	struct http_client *clients[] = {&p->imds->http};
	r = http_wait(clients, 1, &s.done);
	if (r < 0) {
		credentials_fetch_cancel(&f);
		return r;
	}
	return s.r;
}

void credentials_expire(struct credentials_provider *p)
{
	if (p->current.source == CREDENTIALS_INSTANCE_PROFILE) {
		p->refresh_at = 0;
		p->retry_after = 0;
	}
}
