/* AWS credentials, found as the SDKs' default chain does (SDK reference
 * guide, "Standardized credential providers"): the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the
 * instance profile through IMDS.  Shared files and the container provider
 * are not read: the agent runs on EC2 as a system service.
 *
 * Instance-profile credentials are refreshed ahead of Expiration with
 * botocore's windows (advisory 15 min, mandatory 10 min before), and when
 * IMDS cannot be reached at that moment the old ones are kept a little
 * longer ("static stability", botocore: 10 min + 2-10 min jitter) rather
 * than failing every call.  Secrets never reach a log line. */
#ifndef ASG_AGENT_CREDENTIALS_H
#define ASG_AGENT_CREDENTIALS_H

#include <stdbool.h>
#include <time.h>

#include "imds.h"
#include "sigv4.h"

#define CREDENTIALS_ADVISORY_REFRESH_S     (15 * 60)
#define CREDENTIALS_MANDATORY_REFRESH_S    (10 * 60)
#define CREDENTIALS_EXTENSION_BASE_S       (10 * 60)
#define CREDENTIALS_EXTENSION_JITTER_S     (8 * 60) /* + 2..10 min */
#define CREDENTIALS_EXTENSION_JITTER_MIN_S (2 * 60)

enum credentials_source {
	CREDENTIALS_NONE,
	CREDENTIALS_ENVIRONMENT,
	CREDENTIALS_INSTANCE_PROFILE,
};

struct credentials {
	char *access_key_id;     /* owned */
	char *secret_access_key; /* owned; wiped before free */
	char *session_token;     /* owned, NULL for long-term keys */
	time_t expiration;       /* 0: never expires */
	enum credentials_source source;
	char role[128]; /* instance profile role, "" otherwise */
};

struct credentials_provider {
	struct imds_client *imds;   /* not owned; NULL when IMDS is disabled */
	struct credentials current; /* owned */
	time_t refresh_at;          /* next refresh (advisory window or hourly) */
	time_t retry_after;         /* no IMDS attempt before this, after a failure */
	time_t usable_until;        /* expiration, or later when static stability extends */
	time_t fetched_at;
	/* After a failed refresh, no IMDS attempt for this long (default
	 * 30 s; the daemon lowers it to its period, the rate it needs
	 * credentials at). */
	time_t retry_interval_s;
	bool refresh_failing; /* a refresh failed and none succeeded since (logged once) */
	/* Clock for tests: time(NULL) unless set. */
	time_t (*now)(void);
	char last_error[256];
};

void credentials_provider_init(struct credentials_provider *p, struct imds_client *imds);
void credentials_provider_free(struct credentials_provider *p);

/* Fills out with usable credentials (pointers stay valid until the next
 * call), refreshing first when the advisory/mandatory windows say so.
 * Returns 0, -ENOKEY when no provider has any, or another -errno; the
 * reason is in p->last_error. */
int credentials_get(struct credentials_provider *p, struct sigv4_credentials *out);
/* The same without waiting for IMDS: 0 with out filled or -errno at once
 * (no callback), or 1 when instance-profile credentials are being fetched:
 * done(ctx, r) is called from the loop with credentials_get()'s result,
 * out filled when r is 0.  f is the caller's, kept in place until then or
 * credentials_fetch_cancel(). */
typedef void (*credentials_done_fn)(void *ctx, int r);

struct credentials_fetch {
	struct credentials_provider *p; /* not owned */
	struct sigv4_credentials *out;  /* not owned */
	credentials_done_fn done;
	void *ctx;
	bool busy;
	time_t now; /* the provider's clock when the refresh began */
	struct imds_read rd;
	struct strbuf sb; /* owned, secret: IMDS's answers */
	char role[128];
};

int credentials_get_start(struct credentials_fetch *f, struct credentials_provider *p,
                          struct sigv4_credentials *out, credentials_done_fn done, void *ctx);
void credentials_fetch_cancel(struct credentials_fetch *f);
/* AWS said the token expired (ExpiredToken): fetch new ones next time. */
void credentials_expire(struct credentials_provider *p);
const char *credentials_source_name(enum credentials_source s);

/* Parses the IMDS iam/security-credentials/<role> JSON document: Code
 * must be "Success", unknown fields are ignored.  For tests too. */
int credentials_parse_imds(const char *json, size_t len, struct credentials *out);
void credentials_clear(struct credentials *c);

#endif
