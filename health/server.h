/* The HTTP side of asg-health: the public listeners (site + /health) and
 * the control socket, on libmicrohttpd. */
#ifndef ASG_HEALTH_SERVER_H
#define ASG_HEALTH_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>

#include "cache.h"
#include "checks.h"
#include "config.h"
#include "probes.h"

/* Everything a reload replaces: config, root, cache, checks. */
struct site {
	atomic_int refs;
	struct health_config cfg; /* owned */
	int rootfd;		  /* owned */
	struct cache *cache;	  /* owned */
	struct checks *checks;	  /* owned */
};

/* Takes ownership of *cfg (cleared) on success. */
int site_new(struct site **out, struct health_config *cfg, const struct site *previous,
	     char *err, size_t errlen);
void site_put(struct site *s);

struct server;

int server_new(struct server **out, struct site *site);
void server_free(struct server *s);
/* Starts a daemon per listening socket (fds are taken over). */
int server_start(struct server *s, const int *http_fds, size_t n_http, int control_fd);
/* Swaps in a new site; the old one is released when its last request ends. */
void server_set_site(struct server *s, struct site *site);
struct site *server_get_site(struct server *s);

void server_set_draining(struct server *s, bool draining);
bool server_draining(struct server *s);
uint64_t server_in_flight(struct server *s);
uint64_t server_connections(struct server *s);
/* One line for systemd's STATUS=. */
void server_status_line(struct server *s, char *buf, size_t len);
/* The control socket's /status document. */
json_t *server_status_json(struct server *s);

/* SIGTERM: stop accepting, let in-flight requests finish for up to
 * timeout_ms, then close everything.  Returns the requests still in flight
 * when it gave up (0 on a clean drain). */
uint64_t server_shutdown(struct server *s, long long timeout_ms);

/* The request handling (static.c). */
enum MHD_Result static_serve(struct server *s, struct site *site, struct MHD_Connection *conn,
			     const char *url, bool close_conn);
enum MHD_Result server_queue_error(struct server *s, struct MHD_Connection *conn, unsigned status,
				   bool close_conn);

#endif
