/* The agent's side of asg-health's control socket: HTTP over a Unix
 * socket (drain, undrain, GET /status with its checks, in-flight requests
 * and whether the load balancer has seen the drain). */
#ifndef ASG_AGENT_HEALTH_CLIENT_H
#define ASG_AGENT_HEALTH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "strbuf.h"

/* asg-health's GET /status, as the lifecycle needs it. */
struct health_view {
	char status[16]; /* "healthy", "unhealthy", "draining" */
	bool draining;
	long in_flight; /* requests being answered now */
	/* Requests received, and the load balancer's probes among them: a
	 * change in the difference is new traffic. */
	unsigned long long requests, probes;
	bool drain_confirmed; /* every recent ELB prober had its 503s */
	int probers;          /* ELB probers seen recently */
	bool checks_ready;    /* every critical check passes, each >= rise times */
	char failing[512];    /* critical checks not (yet) ready, comma-separated */
};

/* Reads the status; rise is the number of consecutive passes a critical
 * check needs.  0, or -errno when asg-health cannot be reached or answers
 * nonsense (-EPROTO). */
int health_read(const char *socket_path, int rise, struct health_view *v);
/* The body of that GET /status into v (health_read's second half; pure,
 * so it can be fuzzed).  0 or -EPROTO. */
int health_view_parse(const char *json, size_t len, int rise, struct health_view *v);
/* POST /drain or /undrain. */
int health_set_drain(const char *socket_path, bool drain);

/* One request over the socket.  0 with the status and body (appended
 * to *body), or -errno when asg-health cannot be reached. */
int health_control(const char *socket_path, const char *method, const char *path, long *status,
                   struct strbuf *body);

/* One request without waiting, on the daemon's client http: done(ctx,
 * r, status, body) from the loop, never from here.  hc is the caller's,
 * kept in place until then or health_call_cancel(). */
typedef void (*health_done_fn)(void *ctx, int r, long status, const struct strbuf *body);

struct health_call {
	struct http_client *http; /* not owned */
	health_done_fn done;
	void *ctx;
	bool busy;
	char url[256];
	struct http_response resp;
	struct http_transfer *transfer;
};

int health_control_start(struct health_call *hc, struct http_client *http, const char *socket_path,
                         const char *method, const char *path, health_done_fn done, void *ctx);
void health_call_cancel(struct health_call *hc);
/* What health_read() and health_set_drain() make of an answer. */
int health_read_result(int r, long status, const struct strbuf *body, int rise,
                       struct health_view *v);
int health_set_drain_result(int r, long status);

#endif
