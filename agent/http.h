/* The agent's one HTTP client (libcurl's multi interface): IMDS, the AWS
 * Query APIs and asg-health's control socket all go through it.
 *
 * A client is an event source for the daemon's poll loop: it lists the
 * sockets libcurl wants watched (http_client_fill_poll), says how long
 * the loop may sleep (http_client_timeout_ms), and is handed the loop's
 * results (http_client_dispatch), which finishes transfers and fires
 * timers by calling their owners' callbacks.  Nothing here blocks except
 * http_perform(), the wrapper for one-shot commands, which runs a private
 * loop over the client until its one request ends.  The multi handle
 * keeps its connections (and TLS sessions) between requests. */
#ifndef ASG_AGENT_HTTP_H
#define ASG_AGENT_HTTP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define HTTP_MAX_SOCKETS 16

struct http_transfer;
struct http_timer;

struct http_client {
	void *multi;                     /* owned CURLM */
	struct http_transfer *transfers; /* owned list of transfers in flight */
	struct http_timer *timers;       /* owned list, soonest first */
	struct {
		int fd;
		short events; /* POLLIN/POLLOUT as libcurl asked */
	} sockets[HTTP_MAX_SOCKETS];
	size_t n_sockets;
	int64_t curl_due_ms; /* monotonic: libcurl's timeout, -1 when none */
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

/* A transfer's end: r is 0 when a response arrived (any status, in
 * resp), -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH or -EIO for transport
 * failures, -EINTR when interrupted (http_client_interrupt), -EMSGSIZE
 * when the body is over 4 MiB, with resp->error saying why.  resp is the
 * one given to http_start; its owner frees it with http_response_free(). */
typedef void (*http_done_fn)(void *ctx, int r, struct http_response *resp);
typedef void (*http_timer_fn)(void *ctx, bool interrupted);

int http_client_init(struct http_client *c);
/* Ends what is in flight without calling back. */
void http_client_free(struct http_client *c);

/* Starts req (copied: it need not outlive the call); done is called from
 * http_client_dispatch, never from here, exactly once.  Returns 0, or -ENOMEM/-EIO (no callback
 * then).  *out, if out is not NULL, gets the transfer, for http_cancel(). */
int http_start(struct http_client *c, const struct http_request *req, struct http_response *resp,
               http_done_fn done, void *ctx, struct http_transfer **out);
/* Drops a transfer in flight without calling back. */
void http_cancel(struct http_client *c, struct http_transfer *t);

/* Calls fn(ctx, false) from http_client_dispatch after ms (monotonic):
 * the retry backoffs.  *out, if not NULL, for http_timer_cancel(). */
int http_timer_start(struct http_client *c, uint64_t ms, http_timer_fn fn, void *ctx,
                     struct http_timer **out);
void http_timer_cancel(struct http_client *c, struct http_timer *t);

/* A stop was requested (SIGTERM): every GET and PUT in flight ends with
 * -EINTR and every timer fires with interrupted=true, at the next
 * dispatch.  A POST (an AWS call that may change state) is left to end
 * within its own timeout: AWS may apply it after we hang up, and the exit
 * flush then sent the same metric periods again (a period published
 * twice, seen at load 40).  What starts afterwards runs normally. */
void http_client_interrupt(struct http_client *c);
bool http_client_busy(const struct http_client *c);

/* The loop's side: appends the client's sockets to pfd (at most max
 * entries; returns how many), the time until the client's next deadline
 * (-1: none), and, after poll(2), the results for those entries. */
size_t http_client_fill_poll(const struct http_client *c, struct pollfd *pfd, size_t max);
int http_client_timeout_ms(const struct http_client *c);
void http_client_dispatch(struct http_client *c, const struct pollfd *pfd, size_t n);

/* Blocking form for the one-shot commands: starts req and runs a private
 * loop over c until it ends.  Same results as http_done_fn's r. */
int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp);
/* Runs a private loop over the clients until *done is true. */
int http_wait(struct http_client *const *clients, size_t n, const bool *done);
void http_response_free(struct http_response *resp);

#endif
