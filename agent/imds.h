/* IMDSv2 client (EC2 User Guide, "Use the Instance Metadata Service to
 * access instance metadata"): a session token from PUT /latest/api/token
 * is reused until near its expiry and replaced on a 401; every GET
 * carries it.  IMDSv1 is never used, even when the token PUT fails: a
 * PUT that times out usually means a hop limit of 1 in a container, which
 * `asg-agent doctor` explains.  Honours AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * AWS_EC2_METADATA_DISABLED and AWS_METADATA_SERVICE_TIMEOUT /
 * AWS_METADATA_SERVICE_NUM_ATTEMPTS (SDK reference guide, "IMDS"). */
#ifndef ASG_AGENT_IMDS_H
#define ASG_AGENT_IMDS_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "strbuf.h"

#define IMDS_DEFAULT_ENDPOINT    "http://169.254.169.254"
#define IMDS_DEFAULT_TOKEN_TTL_S 21600 /* botocore's; the maximum (6 h) */
#define IMDS_DEFAULT_TIMEOUT_MS  1000  /* AWS_METADATA_SERVICE_TIMEOUT default */
#define IMDS_DEFAULT_ATTEMPTS    3

struct imds_client {
	struct http_client http; /* owned */
	char *endpoint;          /* owned, without trailing '/' */
	bool disabled;           /* AWS_EC2_METADATA_DISABLED=true */
	char token[512];
	uint64_t token_expires_ms; /* monotonic; 0 when there is no token */
	int token_ttl_s;           /* requested TTL */
	long timeout_ms;
	int attempts;
	unsigned tokens_fetched; /* counters for status and tests */
	char last_error[256];
};

struct imds_identity {
	char instance_id[32];
	char region[32];
	char availability_zone[64];
	char instance_type[64];
	char life_cycle[32]; /* "on-demand", "spot" or "" */
	char account_id[16];
	char image_id[32];
	char private_ip[64];
};

/* A read in flight (imds_get_start), owned by its caller, who must
 * keep it in place until done is called or imds_read_cancel(). */
typedef void (*imds_done_fn)(void *ctx, int r);

struct imds_read {
	struct imds_client *c; /* not owned */
	struct strbuf *out;    /* not owned: the caller's */
	imds_done_fn done;
	void *ctx;
	bool busy;
	bool token_only; /* imds_ensure_token: end once a token is there */
	bool in_token;   /* sending the token PUT */
	bool renewed;    /* the token was replaced after a 401 */
	int attempt, token_attempt;
	struct http_response resp;      /* owned while a transfer runs */
	struct http_transfer *transfer; /* in flight, or NULL */
	struct http_timer *timer;       /* a backoff, or NULL */
	char url[1024], token_url[512];
	char token_header[600]; /* wiped once the transfer has copied it */
};

/* endpoint: the config's override or NULL; the environment wins. */
int imds_client_init(struct imds_client *c, const char *endpoint, int token_ttl_s);
void imds_client_free(struct imds_client *c);

/* GETs path ("/latest/meta-data/instance-id"; a path without a leading
 * '/' is taken under /latest/meta-data/).  Returns 0 with the body in
 * out; -ENOENT on 404; -EACCES on 403 (IMDS turned off for the
 * instance); -EHOSTDOWN when IMDS is disabled by the environment;
 * -ETIMEDOUT/-ECONNREFUSED/-EIO when unreachable after the retries;
 * -EPROTO for other statuses, -EINTR when interrupted
 * (http_client_interrupt).  c->last_error says what happened.  Blocking:
 * for the one-shot commands. */
int imds_get(struct imds_client *c, const char *path, struct strbuf *out);
/* The same read without waiting: done(ctx, r) is called from the loop's
 * http_client_dispatch() on c->http with imds_get()'s result, and never
 * from here.  Returns 0, or -errno (no callback then).  This is the one
 * place every IMDS read of the daemon ends. */
int imds_get_start(struct imds_read *rd, struct imds_client *c, const char *path,
                   struct strbuf *out, imds_done_fn done, void *ctx);
void imds_read_cancel(struct imds_read *rd);
/* Ensures a valid token (fetching one if needed); same errors. */
int imds_ensure_token(struct imds_client *c);
/* Reads instance id, region (placement/region, never derived from the AZ),
 * AZ, type, life cycle and the identity document. */
int imds_read_identity(struct imds_client *c, struct imds_identity *id);
/* The same without waiting: done(ctx, r) from the loop. */
struct imds_identity_read {
	struct imds_client *c;    /* not owned */
	struct imds_identity *id; /* not owned: the caller's */
	imds_done_fn done;
	void *ctx;
	bool busy;
	size_t step; /* the item being read; the document last */
	struct imds_read rd;
	struct strbuf sb; /* owned */
};

int imds_read_identity_start(struct imds_identity_read *ir, struct imds_client *c,
                             struct imds_identity *id, imds_done_fn done, void *ctx);
void imds_identity_read_cancel(struct imds_identity_read *ir);
/* The instance identity document's part of it, from its bytes: fills the
 * fields of *id still empty.  0, or -EPROTO when it is not a JSON object
 * (the fuzzers' entry point). */
int imds_parse_identity_document(const char *buf, size_t len, struct imds_identity *id);
/* True for the errors that mean "no IMDS here" (not a transient 5xx). */
bool imds_error_is_absent(int err);

#endif
