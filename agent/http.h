/* The agent's one HTTP client (libcurl): IMDS, the AWS Query APIs and
 * asg-health's control socket all go through it.  Calls are synchronous
 * for the caller, but run on a multi handle that wakes every 100 ms for
 * the main loop's idle work (watchdog.h).  A client keeps its handles
 * between requests so connections (and TLS sessions) are reused. */
#ifndef ASG_AGENT_HTTP_H
#define ASG_AGENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

struct http_client {
	void *curl;  /* owned CURL easy handle */
	void *multi; /* owned CURLM: drives it, keeps the connection cache */
};

struct http_request {
	const char *method; /* "GET", "PUT", "POST" */
	const char *url;
	const char *unix_socket;    /* or NULL: talk HTTP over this AF_UNIX socket */
	const char *const *headers; /* "Name: value" strings, NULL-terminated, or NULL */
	const void *body;
	size_t body_len;
	long connect_timeout_ms;
	long timeout_ms; /* whole transfer */
	bool no_proxy;   /* ignore HTTP(S)_PROXY from the environment */
	bool secret;     /* the response body is a secret (IMDS): wiped when freed */
};

struct http_response {
	long status;
	struct strbuf body;   /* owned */
	char date[64];        /* the Date header, "" if none */
	long token_ttl;       /* X-aws-ec2-metadata-token-ttl-seconds, -1 if none */
	char request_id[128]; /* x-amzn-RequestId, "" if none */
	char error[256];      /* why the transport failed (libcurl's text), "" if it did not */
};

int http_client_init(struct http_client *c);
void http_client_free(struct http_client *c);

/* Sends req.  Returns 0 when a response arrived (any status, in resp),
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH or -EIO for transport failures,
 * -EINTR when a stop was requested meanwhile, -EMSGSIZE when the body is
 * over 4 MiB, with resp->error saying why.  resp must be freed with
 * http_response_free() either way. */
int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp);
void http_response_free(struct http_response *resp);

#endif
