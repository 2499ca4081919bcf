/* The daemon's local HTTP endpoints: the status socket (GET /status, the
 * document `asg-agent status` prints, and GET /metrics) and, when
 * "metrics_listen" is set, a TCP address serving GET /metrics only.
 * Paths are defined in common/control-protocol.h.
 *
 * libmicrohttpd parses the requests, driven by the agent's own poll loop
 * (external epoll mode, no thread of its own): status_start() returns one
 * descriptor for the loop to poll, and status_serve() runs whatever is
 * ready on it without ever blocking, as libcurl's multi interface does
 * for the outgoing side. */
#ifndef ASG_AGENT_STATUS_H
#define ASG_AGENT_STATUS_H

struct agent;
struct agent_config;
struct json_t;
struct prom;
struct status_server;

/* Starts serving; returns the descriptor to poll for POLLIN (owned by
 * *out), or -errno.  A status socket that cannot be made is logged and
 * left out (the agent runs without `asg-agent status`); a metrics_listen
 * address that cannot be bound is an error, logged. */
int status_start(struct status_server **out, struct agent *a, const struct agent_config *cfg);
/* Answers what is ready on fd (status_start's); never blocks. */
void status_serve(struct agent *a, int fd);
/* Stops serving, closes everything and removes the socket; NULL is a no-op. */
void status_stop(struct status_server *s);

/* The status document (a new reference). */
struct json_t *status_document(const struct agent *a);
/* Every /metrics metric of the agent into p (status-metrics.c). */
void status_metrics_write(const struct agent *a, struct prom *p);

/* The client side, for the commands: reads the running daemon's
 * document from path into *out (a new reference).  -errno when the
 * daemon cannot be reached (not running), -EBADMSG when it is not
 * JSON. */
int status_fetch(const char *path, struct json_t **out);
/* GET /status from the daemon at path: its body appended to body; on
 * failure -errno (-EPROTO: not a 200) and a sentence in err. */
struct strbuf;
int status_get(const char *path, struct strbuf *body, char *err, size_t err_len);

#endif
