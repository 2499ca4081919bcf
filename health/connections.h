/* The public connections around libmicrohttpd: the accept loop, the
 * request-head deadline and the lingering close.
 *
 * - Accepting ourselves and handing sockets to MHD_add_connection() is how
 *   asg-health stops accepting on SIGTERM: MHD_quiesce_daemon() races the
 *   epoll worker threads of a thread pool (libmicrohttpd 0.9.75 and later,
 *   daemon.c: the quiescing thread sets was_quiesced, the worker removes
 *   the listening socket from its own epoll set, then the quiescing
 *   thread's EPOLL_CTL_DEL fails with ENOENT and MHD_PANIC aborts).  With
 *   our own loop, stopping is just not accepting, and the listening
 *   sockets stay open, so new connections wait in the backlog.
 * - libmicrohttpd restarts its idle timer on every byte received, so a
 *   client dripping a header line a second would hold a slot for ever.
 *   Each connection has header_timeout from accept (or from the first byte
 *   of the next request on a keep-alive connection) to the end of its
 *   head; past that the loop shuts the socket down.
 * - When libmicrohttpd closes a connection whose client is still sending
 *   (a 431 for a 70 KB head), the kernel answers the unread bytes with a
 *   reset, which destroys the response before the client reads it.  Such
 *   sockets are kept (a dup) half-closed while the rest is read and thrown
 *   away, for a bounded time: a lingering close, as nginx and Apache do.
 * - At max_connections a new connection would wait in the listen backlog
 *   until a slot frees, and slowloris connections free theirs only at
 *   header_timeout: the ALB's probe would time out behind them and the
 *   instance be taken out by an attacker.  So when the table is full and a
 *   connection is waiting to be accepted, the connection that has waited
 *   longest for its client (for a request head, or idle between keep-alive
 *   requests) is closed to admit it, as nginx reclaims idle connections when
 *   it runs out of them: an attacker loses its oldest slots instead of the
 *   probe losing the port.  One eviction at a time, and only while a
 *   connection waits in the backlog, so the table never exceeds
 *   max_connections and a full table of requests being answered (no one
 *   waiting for a client) is left alone. */
#ifndef ASG_HEALTH_CONNECTIONS_H
#define ASG_HEALTH_CONNECTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>

/* Where a connection is, for the head deadline. */
enum conn_phase {
	CONN_HEAD,    /* waiting for a request head: the deadline runs */
	CONN_REQUEST, /* head complete: MHD's own timeouts apply */
	CONN_IDLE,    /* keep-alive between requests: MHD's idle timeout applies
	               * until the first byte of the next head arrives */
};

enum conn_action {
	CONN_KEEP,
	CONN_HEAD_STARTED, /* idle connection received bytes: start the clock */
	CONN_CUT,          /* head deadline passed: shut the socket down */
};

/* The sweep's decision for one connection (pure).  bytes_received is the
 * kernel's count of bytes received on the socket, idle_mark the count at
 * the first sweep after the connection went idle (data that came before
 * that sweep is told by conn_data_after). */
enum conn_action conn_sweep_decide(enum conn_phase phase, uint64_t head_start_ms,
                                   uint64_t idle_mark, uint64_t bytes_received, uint64_t now_ms,
                                   uint64_t header_timeout_ms);

/* Has data come on an idle keep-alive connection since its last request
 * ended at since_ms (pure)?  last_data_recv_ms: the kernel's ms since the
 * last data (tcpi_last_data_recv, jiffy-grained: a 20 ms slack). */
bool conn_data_after(uint64_t since_ms, uint64_t now_ms, uint64_t last_data_recv_ms);

/* Should a connection being closed by the server linger (pure)?  unread:
 * bytes waiting in the socket; cut: closed by the head deadline. */
bool conn_should_linger(enum conn_phase phase, bool errored, bool cut, uint64_t unread,
                        uint64_t bytes_received);

/* A connection as the eviction sees it. */
struct conn_wait {
	enum conn_phase phase;
	uint64_t since_ms; /* accepted, or its last request ended */
	bool closing;      /* cut, evicted: already on its way out */
};

/* Should a be closed before b (NULL: no candidate yet) to admit a new
 * connection into a full table (pure)?  Only connections waiting for their
 * client are candidates; the one that has waited longest goes first, and
 * of two equal ones a. */
bool conn_evict_before(const struct conn_wait *a, const struct conn_wait *b);

struct connections;

struct connections_limits {
	uint64_t header_timeout_ms;
	unsigned max_connections; /* beyond: not accepted, they wait in the backlog */
};

/* Takes over the listening sockets, even on failure (closed by
 * connections_free). */
int connections_new(struct connections **out, const int *listen_fds, size_t n,
                    const struct connections_limits *limits);
/* Starts the loop thread, handing accepted sockets to daemon. */
int connections_start(struct connections *c, struct MHD_Daemon *daemon);
/* Stops accepting; the listening sockets stay open (backlog). */
void connections_stop_accepting(struct connections *c);
/* Stops the loop and closes everything it holds.  Call after
 * MHD_stop_daemon. */
void connections_free(struct connections *c);

/* Hooks from the MHD callbacks. */
void connections_opened(struct connections *c, struct MHD_Connection *conn, void **socket_context);
void connections_closed(struct connections *c, void **socket_context);
void connections_head_done(struct MHD_Connection *conn, bool errored);
void connections_request_done(struct MHD_Connection *conn);

struct connections_stats {
	uint64_t open, accepted, head_timeouts, lingering, lingered, evictions;
	uint64_t sent; /* bytes written to the public sockets, heads and bodies */
};
void connections_get_stats(struct connections *c, struct connections_stats *s);

#endif
