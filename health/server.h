/* The HTTP side of asg-health: the public listeners (site + /health) on
 * libmicrohttpd, the drain state and the status documents the control
 * socket (control.h) serves. */
#ifndef ASG_HEALTH_SERVER_H
#define ASG_HEALTH_SERVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>

#include "site.h"

struct server;

int server_new(struct server **out, struct site *site);
void server_free(struct server *s);
/* Starts serving the public listening sockets (fds are taken over, even on
 * failure). */
int server_start(struct server *s, const int *http_fds, size_t n_http);
/* Swaps in a new site; the old one is released when its last request ends. */
void server_set_site(struct server *s, struct site *site);
struct site *server_get_site(struct server *s);

void server_set_draining(struct server *s, bool draining);
bool server_draining(struct server *s);
uint64_t server_in_flight(struct server *s);
uint64_t server_connections(struct server *s);
/* The server threads started (threads, or one per CPU this process may
 * run on). */
unsigned server_threads(struct server *s);
/* Where completed requests are logged (not owned; before server_start). */
struct access_log;
void server_set_access_log(struct server *s, struct access_log *al);
/* Counted methods; the rest are "other", so a client cannot grow the
 * label set of /metrics. */
enum {
	SERVER_METHOD_OTHER = 6,
	SERVER_METHODS = 7,
	SERVER_STATUS_CLASSES = 5, /* 1xx .. 5xx */
};
/* "GET" -> 0 ... "OPTIONS" -> 5, anything else SERVER_METHOD_OTHER. */
unsigned server_method_index(const char *method);
const char *server_method_name(unsigned index);

/* A snapshot of the public side's counters, for /metrics. */
struct server_counters {
	uint64_t answered[SERVER_METHODS][SERVER_STATUS_CLASSES]; /* [method][status/100 - 1] */
	uint64_t in_flight, connections;
	uint64_t sent_bytes; /* written to public sockets, heads and bodies */
	bool draining;
};
void server_get_counters(struct server *s, struct server_counters *out);
/* The load balancer's probers (probes.h), owned by s. */
struct probes *server_probes(struct server *s);

/* One line for systemd's STATUS=. */
void server_status_line(struct server *s, char *buf, size_t len);
/* The control socket's /status document (common/control-protocol.h);
 * NULL when out of memory. */
json_t *server_status_json(struct server *s);
/* The /health document: verbose adds the checks and counters, details
 * each check's "detail" (control socket only); *status gets the HTTP
 * status /health answers with.  NULL when out of memory. */
json_t *server_health_json(struct server *s, struct site *site, bool verbose, bool details,
                           unsigned *status);
/* libmicrohttpd's error log, as debug messages (MHD_OPTION_EXTERNAL_LOGGER). */
void server_mhd_log(void *cls, const char *fmt, va_list ap);

/* SIGTERM: stop accepting, let in-flight requests finish for up to
 * timeout_ms, then close everything.  Returns the requests still in flight
 * when it gave up (0 on a clean drain). */
uint64_t server_shutdown(struct server *s, long long timeout_ms);

#endif
