/* The access log (access_log): one line per request in the combined log
 * format plus the request time and X-Amzn-Trace-Id, to a file (reopened on
 * SIGUSR1, after logrotate moved it) or to the journal.
 *
 * Never a write on the serving path: a request's completion copies its
 * fields into a bounded in-memory buffer (a mutex, a memcpy) and a writer
 * thread of its own formats and writes them in batches.  When the writer
 * cannot keep up (a full disk, a stalled pipe) the buffer fills and further
 * lines are dropped and counted, so a request never waits for the log.
 * sd_journal_send runs only in the writer too. */
#ifndef ASG_HEALTH_ACCESS_LOG_H
#define ASG_HEALTH_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include <microhttpd.h>

#include "config.h"
#include "forwarded.h"

/* What a request carries from its request line to its completion. */
struct access_request {
	struct timespec started; /* CLOCK_REALTIME: the line's time */
	uint64_t started_ns;     /* CLOCK_MONOTONIC: for the request time */
	char *target;            /* in req's own allocation: the request target,
	                          * query included, cut at ACCESS_URL_MAX; NULL:
	                          * log off */
	const char *method;      /* MHD's, valid until completion */
	const char *version;     /* MHD's */
	uint64_t body_bytes;     /* of the queued response; UINT64_MAX: none */
	bool probe;              /* a load balancer probe (probes.h) */
	bool head_done;          /* the handler has seen the head */
};

/* One line's fields, unescaped; the strings are cut at the sizes below. */
#define ACCESS_METHOD_MAX  32
#define ACCESS_URL_MAX     2048
#define ACCESS_VERSION_MAX 16
#define ACCESS_HEADER_MAX  1024 /* Referer, User-Agent, X-Forwarded-For */
#define ACCESS_TRACE_MAX   256

enum access_field {
	AF_METHOD,
	AF_URL,
	AF_VERSION,
	AF_REFERER,
	AF_USER_AGENT,
	AF_FORWARDED_FOR, /* every X-Forwarded-For joined; its right end kept */
	AF_TRACE_ID,
	AF_COUNT
};

struct access_entry {
	struct timespec started; /* CLOCK_REALTIME */
	uint64_t duration_us;
	unsigned status;     /* 0: the connection ended before any response */
	uint64_t body_bytes; /* UINT64_MAX: unknown (the response did not complete) */
	struct ip_addr peer;
	const char *field[AF_COUNT]; /* NULL: absent */
	size_t len[AF_COUNT];
};

/* Escapes s (len bytes) for a quoted log field: '"', '\' and bytes outside
 * 0x20..0x7e become \xHH, so no value can end the field or the line (log
 * injection).  Writes at most outlen - 1 bytes and a NUL; an escape that
 * does not fit whole is left out.  Returns the length written. */
size_t access_escape(const char *s, size_t len, char *out, size_t outlen);
/* The line (with its '\n') for e, with the client already worked out;
 * returns its length.  The line is bounded: ACCESS_LINE_MAX. */
#define ACCESS_LINE_MAX 20480
size_t access_format_line(const struct access_entry *e, const struct ip_addr *client, char *out,
                          size_t outlen);

struct access_log;

/* Starts the writer thread; the log is off until configured. */
int access_log_new(struct access_log **out);
/* Takes cfg's access_log, trusted_proxies and log_probes for the lines
 * from now on.  A new file is opened here (before anything changes), so a
 * reload with a file that cannot be opened fails and keeps the old log:
 * -errno, with err saying why. */
int access_log_configure(struct access_log *al, const struct health_config *cfg, char *err,
                         size_t errlen);
/* SIGUSR1: the writer reopens the file by its name. */
void access_log_reopen(struct access_log *al);
/* Should this request be logged?  Cheap: for the completion path. */
bool access_log_wants(struct access_log *al, bool probe);
/* Queues e's line (copied; never blocks on I/O).  A full buffer drops it
 * and counts the drop. */
void access_log_add(struct access_log *al, const struct access_entry *e);
/* A request line arrived (MHD_OPTION_URI_LOG_CALLBACK, which sees the
 * target before libmicrohttpd cuts the query off): a new request, with
 * the time and, when the log is on, a copy of the target.  NULL when out of
 * memory.  Freed by access_request_free. */
struct access_request *access_request_new(struct access_log *al, const char *uri);
void access_request_free(struct access_request *req);
/* The completion of a request on conn: gathers its fields and queues its
 * line, unless the log does not want it. */
void access_log_request(struct access_log *al, struct MHD_Connection *conn,
                        const struct access_request *req, enum MHD_RequestTerminationCode toe);
/* {"destination", "queued", "lines", "dropped", "write_errors",
 * "buffered_bytes"} for GET /status: lines taken into the buffer, written,
 * dropped (buffer full) and lost to failed writes, since start. */
json_t *access_log_status(struct access_log *al);
/* Writes what is buffered, waiting at most timeout_ms for the writer (a
 * log on a stalled pipe must not hold up the exit), and frees everything.
 * Returns the lines given up. */
uint64_t access_log_close(struct access_log *al, long long timeout_ms);

#endif
