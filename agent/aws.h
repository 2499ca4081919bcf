/* The AWS Query protocol client for Auto Scaling, CloudWatch and ELBv2:
 * form-encoded POST to the regional endpoint, SigV4-signed, XML responses
 * and errors parsed with expat, the SDKs' standard retry mode, and clock
 * skew correction from the response's Date header. */
#ifndef ASG_AGENT_AWS_H
#define ASG_AGENT_AWS_H

#include <stdbool.h>
#include <time.h>

#include "credentials.h"
#include "http.h"
#include "retry.h"
#include "strbuf.h"
#include "xml.h"

struct credentials_provider;

enum aws_service {
	AWS_CLOUDWATCH,
	AWS_AUTO_SCALING,
	AWS_ELBV2,
	AWS_SERVICE_COUNT,
};

/* Endpoint URLs from the configuration file (all optional), consulted
 * after the environment as botocore does. */
struct aws_endpoint_config {
	const char *global;                     /* not owned */
	const char *service[AWS_SERVICE_COUNT]; /* not owned */
};

struct aws_client {
	struct http_client http; /* owned */
	char region[64];
	char *endpoint[AWS_SERVICE_COUNT];  /* owned base URLs */
	struct credentials_provider *creds; /* not owned */
	struct retry_quota quota;
	int max_attempts;
	long clock_offset_s; /* AWS's clock minus ours, learned from skew errors */
	long connect_timeout_ms;
	long timeout_ms;
	/* Clock for tests: time(NULL) unless set. */
	time_t (*now)(void);
};

struct aws_response {
	long status;          /* last HTTP status, 0 if none arrived */
	struct xml_node *xml; /* owned: the parsed body of a success */
	char code[128];       /* AWS error code, or "" */
	char message[512];    /* AWS error message or transport error text */
	char request_id[128];
	int attempts;
};

const char *aws_service_name(enum aws_service svc); /* "cloudwatch", ... */

/* An AWS region name (two letters, lower-case words, a number: eu-west-1,
 * us-gov-west-1, cn-north-1, us-isob-east-1), at most AWS_REGION_MAX
 * bytes.  Every region the agent uses passes this first. */
#define AWS_REGION_MAX 31
bool aws_region_valid(const char *region);

/* Endpoint lookup (SDK reference guide, "Service-specific endpoints";
 * botocore's order): AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the
 * config's service entry, the config's global entry, then the regional
 * default https://<prefix>.<region>.amazonaws.com (.amazonaws.com.cn for
 * cn- regions).  AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips all but
 * the default.  *out is owned by the caller.  -EINVAL when the default
 * is needed and the region is not aws_region_valid(). */
int aws_resolve_endpoint(enum aws_service svc, const char *region,
                         const struct aws_endpoint_config *cfg, char **out);

int aws_client_init(struct aws_client *c, const char *region, const struct aws_endpoint_config *cfg,
                    struct credentials_provider *creds);
void aws_client_free(struct aws_client *c);

/* Appends "&name=value" (URI-encoded) to a Query form body. */
void aws_form_add(struct strbuf *form, const char *name, const char *value);
void aws_form_addf(struct strbuf *form, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Calls Action=action with the given extra form parameters (as built by
 * aws_form_add; may be NULL).  Returns 0 on a 2xx with out->xml set;
 * -EREMOTEIO when AWS answered with an error (out->code/message set);
 * -ENOKEY without credentials; -EINTR when interrupted in a backoff
 * (http_client_interrupt); or the transport error of the last attempt.
 * out must be freed either way.  Blocking: for the one-shot commands. */
int aws_query(struct aws_client *c, enum aws_service svc, const char *action,
              const struct strbuf *params, struct aws_response *out);
void aws_response_free(struct aws_response *r);

/* A call in flight (aws_query_start), owned by its caller, kept in place
 * until done is called or aws_call_cancel(). */
typedef void (*aws_done_fn)(void *ctx, int r, struct aws_response *out);

struct aws_call {
	struct aws_client *c;     /* not owned */
	struct aws_response *out; /* not owned: the caller's */
	aws_done_fn done;
	void *ctx;
	bool busy;
	enum aws_service svc;
	char action[64];
	char *host, *path, *url; /* owned */
	struct strbuf body;      /* owned: the form */
	int attempt;
	int taken; /* retry quota this call took */
	struct credentials_fetch creds_fetch;
	struct sigv4_credentials creds; /* pointers into the provider */
	struct http_response resp;      /* owned while a transfer runs */
	struct http_transfer *transfer; /* in flight, or NULL */
	struct http_timer *timer;       /* a backoff, or NULL */
};

/* aws_query() without waiting: done(ctx, r, out) is called from the
 * loop's http_client_dispatch() (on c->http, and on the IMDS client's
 * while credentials are fetched) with aws_query()'s result, never from
 * here.  Returns 0, or -errno (no callback then).  done is the one place
 * every AWS call of the daemon ends. */
int aws_query_start(struct aws_call *q, struct aws_client *c, enum aws_service svc,
                    const char *action, const struct strbuf *params, struct aws_response *out,
                    aws_done_fn done, void *ctx);
void aws_call_cancel(struct aws_call *q);
bool aws_call_busy(const struct aws_call *q);
/* Fills out->code, message and request_id from an error body (Query:
 * ErrorResponse/Error, EC2 style: Response/Errors/Error); leaves them as
 * they are when the body is not XML.  Pure, so it can be fuzzed. */
void aws_parse_error(const char *body, size_t len, struct aws_response *out);

#endif
