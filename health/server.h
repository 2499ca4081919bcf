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
