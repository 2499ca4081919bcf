/* GET /metrics: asg-health's state in the Prometheus text format
 * (common/prom.h), on the control socket and, when "metrics_listen" is
 * set, on a TCP listener of its own.  docs/serving.md lists every metric. */
#ifndef ASG_HEALTH_METRICS_H
#define ASG_HEALTH_METRICS_H

#include <microhttpd.h>

#include "prom.h"
#include "server.h"

/* Writes every metric of s into p; the result is in prom_finish(p). */
void health_metrics_write(struct server *s, struct prom *p);
/* Queues the /metrics answer (200, or 500 when out of memory). */
enum MHD_Result health_metrics_queue(struct server *s, struct MHD_Connection *conn);

struct metrics_listener;

/* Serves GET /metrics of server on the listening TCP socket fd (taken
 * over, even on failure), on one thread of its own.  0 or -errno. */
int metrics_listener_start(struct metrics_listener **out, struct server *server, int fd);
/* Stops serving and closes the socket; NULL is a no-op. */
void metrics_listener_stop(struct metrics_listener *l);

#endif
