/* The access log (access-log.h): the buffer, its writer thread, the file
 * and journal destinations, and the line format. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "access-log.h"
#include "log.h"
#include "timeutil.h"

/* Two buffers of this size: requests fill one while the writer writes the
 * other.  At 200 bytes a line that is 2600 lines, over a second of a
 * busy instance's traffic; the writer is woken early when one is a
 * quarter full, and otherwise writes every FLUSH_MS. */
#define BUFFER_BYTES (512u * 1024)
#define FLUSH_MS     100
/* The writer formats into this much before each write(2). */
#define OUT_BYTES (64u * 1024)

static const size_t field_max[AF_COUNT] = {
        [AF_METHOD] = ACCESS_METHOD_MAX,     [AF_URL] = ACCESS_URL_MAX,
        [AF_VERSION] = ACCESS_VERSION_MAX,   [AF_REFERER] = ACCESS_HEADER_MAX,
        [AF_USER_AGENT] = ACCESS_HEADER_MAX, [AF_FORWARDED_FOR] = ACCESS_HEADER_MAX,
        [AF_TRACE_ID] = ACCESS_TRACE_MAX,
};

/* --- the line -------------------------------------------------------- */

size_t access_escape(const char *s, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= outlen)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

/* A quoted field: "value", or "-" when absent. */
static size_t put_quoted(char *out, size_t outlen, const char *s, size_t len)
{
	size_t o;

	if (outlen < 4)
		return 0;
	out[0] = '"';
	if (!s || !len) {
		out[1] = '-';
		o = 2;
	} else {
		o = 1 + access_escape(s, len, out + 1, outlen - 2);
	}
	out[o++] = '"';
	out[o] = '\0';
	return o;
}

/* [10/Oct/2000:13:55:36 -0700], the local time of the request's head.
 * The C locale (asg-health never calls setlocale) spells the month in
 * English, as log parsers expect.  Lines come in time order, many a
 * second: the last second's text is kept (per thread: the writer's, and
 * the unit tests'). */
static void format_time(time_t t, char *buf, size_t len)
{
	static _Thread_local time_t last = -1;
	static _Thread_local char text[64];
	struct tm tm;

	if (t != last) {
		if (!localtime_r(&t, &tm) ||
		    !strftime(text, sizeof(text), "[%d/%b/%Y:%H:%M:%S %z]", &tm))
			snprintf(text, sizeof(text), "[-]");
		last = t;
	}
	snprintf(buf, len, "%s", text);
}

size_t access_format_line(const struct access_entry *e, const struct ip_addr *client, char *out,
                          size_t outlen)
{
	char addr[INET6_ADDRSTRLEN], when[64], bytes[24];
	size_t o = 0;
	int n;

#define ROOM (o < outlen ? outlen - o : 0)
	if (outlen < 256)
		return 0;
	ip_addr_format(client, addr, sizeof(addr));
	format_time(e->started.tv_sec, when, sizeof(when));
	if (e->body_bytes == UINT64_MAX)
		snprintf(bytes, sizeof(bytes), "-");
	else
		snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)e->body_bytes);
	n = snprintf(out, outlen, "%s - - %s \"", addr, when);
	o = (size_t)n;
	o += access_escape(e->field[AF_METHOD], e->field[AF_METHOD] ? e->len[AF_METHOD] : 0,
	                   out + o, ROOM);
	if (o < outlen - 1)
		out[o++] = ' ';
	o += access_escape(e->field[AF_URL], e->field[AF_URL] ? e->len[AF_URL] : 0, out + o, ROOM);
	if (o < outlen - 1)
		out[o++] = ' ';
	o += access_escape(e->field[AF_VERSION], e->field[AF_VERSION] ? e->len[AF_VERSION] : 0,
	                   out + o, ROOM);
	/* No response at all: 499, nginx's "client closed request". */
	n = snprintf(out + o, ROOM, "\" %u %s ", e->status ? e->status : 499, bytes);
	o += n > 0 ? (size_t)n : 0;
	o += put_quoted(out + o, ROOM, e->field[AF_REFERER], e->len[AF_REFERER]);
	if (o < outlen - 1)
		out[o++] = ' ';
	o += put_quoted(out + o, ROOM, e->field[AF_USER_AGENT], e->len[AF_USER_AGENT]);
	n = snprintf(out + o, ROOM, " %llu.%03llu ", (unsigned long long)(e->duration_us / 1000000),
	             (unsigned long long)(e->duration_us / 1000 % 1000));
	o += n > 0 ? (size_t)n : 0;
	o += put_quoted(out + o, ROOM, e->field[AF_TRACE_ID], e->len[AF_TRACE_ID]);
#undef ROOM
	if (o >= outlen - 1)
		o = outlen - 2;
	out[o++] = '\n';
	out[o] = '\0';
	return o;
}

/* --- the buffer ------------------------------------------------------ */

/* A line as queued: this head, then the fields' bytes back to back. */
struct record {
	uint32_t size; /* of the record, padding included */
	uint32_t status;
	struct timespec started;
	uint64_t duration_us;
	uint64_t body_bytes;
	struct ip_addr peer;
	uint16_t len[AF_COUNT];
	uint8_t present; /* bit per field */
};

enum dest_kind { DEST_NONE, DEST_FILE, DEST_JOURNAL };

/* Where lines go and how the client is worked out: built by
 * access_log_configure, owned by the writer once handed over. */
struct settings {
	enum dest_kind kind;
	char *path;           /* owned; DEST_FILE */
	int fd;               /* owned; DEST_FILE */
	struct cidr *trusted; /* owned */
	size_t n_trusted;
};

struct access_log {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the writer waits on it */
	pthread_cond_t done; /* access_log_close waits on it */
	char *buf[2];        /* owned; buf[active] is filled, the other written */
	int active;          /* under lock */
	size_t fill;         /* bytes in buf[active], under lock */
	uint64_t queued;     /* lines in buf[active], under lock */
	bool writer_idle, stop, reopen, finished; /* under lock */
	struct settings *next;                    /* owned; for the writer to take, under lock */
	pthread_t thread;
	bool started;
	/* What completions read without the lock. */
	atomic_bool enabled, log_probes;
	/* The main thread's view (configure, status). */
	pthread_mutex_t dest_lock;
	char *dest; /* owned; "" none, "journal" or the path */
	/* The writer's own. */
	struct settings *cur; /* owned */
	char *out;            /* owned; OUT_BYTES */
	uint64_t last_error_ms;
	_Atomic uint64_t queued_total, lines, dropped, write_errors;
};

static void settings_free(struct settings *st)
{
	if (!st)
		return;
	if (st->fd >= 0)
		close(st->fd);
	free(st->path);
	free(st->trusted);
	free(st);
}

static size_t record_size(const struct access_entry *e, size_t len[AF_COUNT])
{
	size_t n = sizeof(struct record);

	for (int f = 0; f < AF_COUNT; f++) {
		len[f] = e->field[f] ? e->len[f] : 0;
		if (len[f] > field_max[f])
			len[f] = field_max[f];
		n += len[f];
	}
	return (n + 7) & ~(size_t)7;
}

bool access_log_wants(struct access_log *al, bool probe)
{
	return al && atomic_load_explicit(&al->enabled, memory_order_relaxed) &&
	       (!probe || atomic_load_explicit(&al->log_probes, memory_order_relaxed));
}

void access_log_add(struct access_log *al, const struct access_entry *e)
{
	size_t len[AF_COUNT], size = record_size(e, len);
	struct record *r;
	char *p;
	bool wake;

	pthread_mutex_lock(&al->lock);
	if (al->fill + size > BUFFER_BYTES) {
		pthread_mutex_unlock(&al->lock);
		atomic_fetch_add(&al->dropped, 1);
		return;
	}
	r = (struct record *)(al->buf[al->active] + al->fill);
	memset(r, 0, sizeof(*r));
	r->size = (uint32_t)size;
	r->status = e->status;
	r->started = e->started;
	r->duration_us = e->duration_us;
	r->body_bytes = e->body_bytes;
	r->peer = e->peer;
	p = (char *)(r + 1);
	for (int f = 0; f < AF_COUNT; f++) {
		r->len[f] = (uint16_t)len[f];
		if (e->field[f]) {
			r->present |= (uint8_t)(1u << f);
			/* X-Forwarded-For: the right end is what counts */
			memcpy(p, e->field[f] + (f == AF_FORWARDED_FOR ? e->len[f] - len[f] : 0),
			       len[f]);
			p += len[f];
		}
	}
	/* Wake the writer when it sleeps with nothing to do, or early when a
	 * quarter is full; otherwise it comes by itself within FLUSH_MS. */
	wake = al->writer_idle ||
	       (al->fill < BUFFER_BYTES / 4 && al->fill + size >= BUFFER_BYTES / 4);
	al->fill += size;
	al->queued++;
	atomic_fetch_add(&al->queued_total, 1);
	if (wake) {
		al->writer_idle = false;
		pthread_cond_signal(&al->wake);
	}
	pthread_mutex_unlock(&al->lock);
}

/* --- gathering a request's fields (completion, MHD's thread) ------------ */

#define MAX_FORWARDED_HEADERS 8

struct gathered {
	const char *referer, *user_agent, *trace_id;
	const char *xff[MAX_FORWARDED_HEADERS];
	size_t n_xff;
};

static enum MHD_Result gather_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
	struct gathered *g = cls;

	if (!value)
		return MHD_YES;
	if (!strcasecmp(key, "X-Forwarded-For")) {
		/* Several headers are one list, in order (RFC 9110 5.3); keep
		 * the last ones, the right end is what counts. */
		if (g->n_xff == MAX_FORWARDED_HEADERS) {
			memmove(g->xff, g->xff + 1,
			        sizeof(g->xff[0]) * (MAX_FORWARDED_HEADERS - 1));
			g->n_xff--;
		}
		g->xff[g->n_xff++] = value;
	} else if (!g->referer && !strcasecmp(key, MHD_HTTP_HEADER_REFERER)) {
		g->referer = value;
	} else if (!g->user_agent && !strcasecmp(key, MHD_HTTP_HEADER_USER_AGENT)) {
		g->user_agent = value;
	} else if (!g->trace_id && !strcasecmp(key, "X-Amzn-Trace-Id")) {
		g->trace_id = value;
	}
	return MHD_YES;
}

/* Joins the X-Forwarded-For headers with ", " into buf, right-aligned: if
 * they do not fit, the left end is cut at an entry boundary.  Returns the
 * start in buf (NUL-terminated at buf[len - 1]). */
static const char *join_forwarded(const struct gathered *g, char *buf, size_t len)
{
	size_t pos = len - 1;
	bool cut = false;

	buf[pos] = '\0';
	for (size_t i = g->n_xff; i-- > 0 && !cut;) {
		size_t vlen = strlen(g->xff[i]);
		if (i + 1 < g->n_xff) {
			if (pos < 2) {
				cut = true;
				break;
			}
			pos -= 2;
			memcpy(buf + pos, ", ", 2);
		}
		if (vlen > pos) {
			memcpy(buf, g->xff[i] + vlen - pos, pos);
			pos = 0;
			cut = true;
		} else {
			pos -= vlen;
			memcpy(buf + pos, g->xff[i], vlen);
		}
	}
	if (cut) { /* drop the partial entry at the left */
		char *comma = strchr(buf + pos, ',');
		pos = comma ? (size_t)(comma + 1 - buf) : len - 1;
	}
	return buf + pos;
}

static void set_field(struct access_entry *e, enum access_field f, const char *s)
{
	e->field[f] = s;
	e->len[f] = s ? strlen(s) : 0;
}

struct access_request *access_request_new(struct access_log *al, const char *uri)
{
	/* One allocation with the target's copy after the struct. */
	size_t len = uri && access_log_wants(al, false) ? strnlen(uri, ACCESS_URL_MAX) : 0;
	struct access_request *req = malloc(sizeof(*req) + (len ? len + 1 : 0));
	struct timespec mono;

	if (!req)
		return NULL;
	memset(req, 0, sizeof(*req));
	clock_gettime(CLOCK_REALTIME, &req->started);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	req->started_ns = (uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec;
	req->body_bytes = UINT64_MAX;
	if (len) {
		req->target = (char *)(req + 1);
		memcpy(req->target, uri, len);
		req->target[len] = '\0';
	}
	return req;
}

void access_request_free(struct access_request *req)
{
	free(req);
}

void access_log_request(struct access_log *al, struct MHD_Connection *conn,
                        const struct access_request *req, enum MHD_RequestTerminationCode toe)
{
	struct access_entry e;
	struct gathered g;
	const union MHD_ConnectionInfo *ci;
	char xff[ACCESS_HEADER_MAX + 1];
	struct timespec now;

	if (!access_log_wants(al, req->probe))
		return;
	memset(&e, 0, sizeof(e));
	memset(&g, 0, sizeof(g));
	clock_gettime(CLOCK_MONOTONIC, &now);
	e.started = req->started;
	e.duration_us =
	        ((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec - req->started_ns) /
	        1000;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
	e.status = ci ? ci->http_status : 0;
	/* What was sent in full: nothing for HEAD (MHD sends no body), the
	 * response's length otherwise; unknown when the connection ended
	 * before the response was complete. */
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK || !e.status ||
	    req->body_bytes == UINT64_MAX)
		e.body_bytes = UINT64_MAX;
	else if (req->method && !strcmp(req->method, "HEAD"))
		e.body_bytes = 0;
	else
		e.body_bytes = req->body_bytes;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || ip_addr_from_sockaddr(ci->client_addr, &e.peer) < 0)
		memset(&e.peer, 0, sizeof(e.peer));
	MHD_get_connection_values(conn, MHD_HEADER_KIND, gather_header, &g);
	set_field(&e, AF_METHOD, req->method);
	set_field(&e, AF_URL, req->target);
	set_field(&e, AF_VERSION, req->version);
	set_field(&e, AF_REFERER, g.referer);
	set_field(&e, AF_USER_AGENT, g.user_agent);
	set_field(&e, AF_TRACE_ID, g.trace_id);
	if (g.n_xff)
		set_field(&e, AF_FORWARDED_FOR, join_forwarded(&g, xff, sizeof(xff)));
	access_log_add(al, &e);
}

/* --- the writer ------------------------------------------------------ */

static int open_file(const char *path)
{
	/* O_NONBLOCK only for the open: a FIFO without a reader fails at once
	 * (ENXIO) instead of holding up start-up; writes then block, in the
	 * writer thread only. */
	int fd =
	        open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
	int flags;

	if (fd < 0)
		return -errno;
	if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* The first error of a kind is logged, then at most one a minute. */
static void writer_error(struct access_log *al, uint64_t lines, const char *what, int err)
{
	uint64_t now = now_mono_ms();

	atomic_fetch_add(&al->write_errors, lines);
	if (al->last_error_ms && now - al->last_error_ms < 60000)
		return;
	al->last_error_ms = now;
	log_error("access log: %s: %s; %llu line(s) lost (GET /status counts them: "
	          "access_log.write_errors)",
	          what, strerror(err), (unsigned long long)lines);
}

static void flush_out(struct access_log *al, size_t len, uint64_t lines)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(al->cur->fd, al->out + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			writer_error(al, lines, al->cur->path, n < 0 ? errno : EIO);
			return;
		}
		done += (size_t)n;
	}
	atomic_fetch_add(&al->lines, lines);
}

/* The record's fields as an entry (pointing into the record). */
static void record_entry(const struct record *r, struct access_entry *e)
{
	const char *p = (const char *)(r + 1);

	memset(e, 0, sizeof(*e));
	e->started = r->started;
	e->duration_us = r->duration_us;
	e->status = r->status;
	e->body_bytes = r->body_bytes;
	e->peer = r->peer;
	for (int f = 0; f < AF_COUNT; f++) {
		if (r->present & (1u << f)) {
			e->field[f] = p;
			e->len[f] = r->len[f];
		}
		p += r->len[f];
	}
}

static void record_client(const struct settings *st, const struct access_entry *e,
                          struct ip_addr *client)
{
	char xff[ACCESS_HEADER_MAX + 1];
	size_t n = e->field[AF_FORWARDED_FOR] ? e->len[AF_FORWARDED_FOR] : 0;

	memcpy(xff, e->field[AF_FORWARDED_FOR] ? e->field[AF_FORWARDED_FOR] : "", n);
	xff[n] = '\0';
	forwarded_client(n ? xff : NULL, &e->peer, st->trusted, st->n_trusted, client);
}

static void journal_line(struct access_log *al, const struct access_entry *e,
                         const struct ip_addr *client, const char *line, size_t len)
{
	char addr[INET6_ADDRSTRLEN], peer[INET6_ADDRSTRLEN], f[AF_COUNT][4 * ACCESS_URL_MAX + 1];
	char bytes[24], rt[32];
	int r;

	for (int i = 0; i < AF_COUNT; i++)
		access_escape(e->field[i] ? e->field[i] : "-", e->field[i] ? e->len[i] : 1, f[i],
		              sizeof(f[i]));
	ip_addr_format(client, addr, sizeof(addr));
	ip_addr_format(&e->peer, peer, sizeof(peer));
	snprintf(bytes, sizeof(bytes), "%lld",
	         e->body_bytes == UINT64_MAX ? -1LL : (long long)e->body_bytes);
	snprintf(rt, sizeof(rt), "%llu.%03llu", (unsigned long long)(e->duration_us / 1000000),
	         (unsigned long long)(e->duration_us / 1000 % 1000));
	r = sd_journal_send("MESSAGE=%.*s", (int)(len - 1), line, "PRIORITY=6",
	                    "SYSLOG_IDENTIFIER=asg-health-access", "CLIENT=%s", addr, "PEER=%s",
	                    peer, "METHOD=%s", f[AF_METHOD], "URL=%s", f[AF_URL], "PROTOCOL=%s",
	                    f[AF_VERSION], "STATUS=%u", e->status ? e->status : 499, "BYTES=%s",
	                    bytes, "REFERER=%s", f[AF_REFERER], "USER_AGENT=%s", f[AF_USER_AGENT],
	                    "REQUEST_TIME=%s", rt, "TRACE_ID=%s", f[AF_TRACE_ID], NULL);
	if (r < 0)
		writer_error(al, 1, "journal", -r);
	else
		atomic_fetch_add(&al->lines, 1);
}

static void write_batch(struct access_log *al, const char *batch, size_t n)
{
	struct settings *st = al->cur;
	size_t o = 0, pos = 0;
	uint64_t lines = 0;

	if (!st || st->kind == DEST_NONE) {
		/* the log was turned off by a reload after these were queued */
		for (; pos < n; pos += ((const struct record *)(batch + pos))->size)
			atomic_fetch_add(&al->dropped, 1);
		return;
	}
	while (pos < n) {
		const struct record *r = (const struct record *)(batch + pos);
		struct access_entry e;
		struct ip_addr client;
		char *line = al->out + o;
		size_t len;

		pos += r->size;
		record_entry(r, &e);
		record_client(st, &e, &client);
		if (st->kind == DEST_JOURNAL) {
			len = access_format_line(&e, &client, al->out, ACCESS_LINE_MAX);
			journal_line(al, &e, &client, al->out, len);
			continue;
		}
		len = access_format_line(&e, &client, line, OUT_BYTES - o);
		o += len;
		lines++;
		if (OUT_BYTES - o < ACCESS_LINE_MAX) {
			flush_out(al, o, lines);
			o = 0;
			lines = 0;
		}
	}
	if (o)
		flush_out(al, o, lines);
}

static void reopen_file(struct access_log *al)
{
	struct settings *st = al->cur;
	int fd;

	if (!st || st->kind != DEST_FILE)
		return;
	fd = open_file(st->path);
	if (fd < 0) {
		log_error("access log: cannot reopen %s: %s; still writing to the old file",
		          st->path, strerror(-fd));
		return;
	}
	close(st->fd);
	st->fd = fd;
	log_info("access log: reopened %s", st->path);
}

static void *writer_main(void *arg)
{
	struct access_log *al = arg;

	pthread_mutex_lock(&al->lock);
	for (;;) {
		struct settings *next;
		bool reopen, stop;
		const char *batch;
		size_t n;

		while (!al->fill && !al->stop && !al->reopen && !al->next) {
			al->writer_idle = true;
			pthread_cond_wait(&al->wake, &al->lock);
		}
		al->writer_idle = false;
		/* Lines are waiting: let more come, to write them in one go. */
		if (!al->stop && !al->reopen && !al->next && al->fill < BUFFER_BYTES / 4) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += FLUSH_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&al->wake, &al->lock, &until);
		}
		batch = al->buf[al->active];
		n = al->fill;
		al->active ^= 1;
		al->fill = 0;
		al->queued = 0;
		next = al->next;
		al->next = NULL;
		reopen = al->reopen;
		al->reopen = false;
		stop = al->stop;
		pthread_mutex_unlock(&al->lock);

		/* New settings first: they were made before these lines were
		 * written (at start, before any; on a reload, a few lines of
		 * the moment may go to the new file). */
		if (next) {
			settings_free(al->cur);
			al->cur = next;
		}
		if (reopen)
			reopen_file(al);
		write_batch(al, batch, n);

		pthread_mutex_lock(&al->lock);
		if (stop && !al->fill)
			break;
	}
	al->finished = true;
	pthread_cond_broadcast(&al->done);
	pthread_mutex_unlock(&al->lock);
	return NULL;
}

/* --- lifecycle -------------------------------------------------------- */

int access_log_new(struct access_log **out)
{
	struct access_log *al = calloc(1, sizeof(*al));
	pthread_condattr_t attr;
	int r;

	if (!al)
		return -ENOMEM;
	al->buf[0] = malloc(BUFFER_BYTES);
	al->buf[1] = malloc(BUFFER_BYTES);
	al->out = malloc(OUT_BYTES);
	al->dest = strdup("");
	if (!al->buf[0] || !al->buf[1] || !al->out || !al->dest) {
		free(al->buf[0]);
		free(al->buf[1]);
		free(al->out);
		free(al->dest);
		free(al);
		return -ENOMEM;
	}
	pthread_mutex_init(&al->lock, NULL);
	pthread_mutex_init(&al->dest_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&al->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&al->done, NULL);
	if ((r = -pthread_create(&al->thread, NULL, writer_main, al)) < 0) {
		al->finished = true;
		access_log_close(al, 0);
		return r;
	}
	al->started = true;
	*out = al;
	return 0;
}

int access_log_configure(struct access_log *al, const struct health_config *cfg, char *err,
                         size_t errlen)
{
	struct settings *st = calloc(1, sizeof(*st));
	bool same;

	if (!st)
		return -ENOMEM;
	st->fd = -1;
	if (cfg->n_trusted_proxies) {
		st->trusted = calloc(cfg->n_trusted_proxies, sizeof(*st->trusted));
		if (!st->trusted) {
			settings_free(st);
			return -ENOMEM;
		}
		memcpy(st->trusted, cfg->trusted_proxies,
		       cfg->n_trusted_proxies * sizeof(*st->trusted));
		st->n_trusted = cfg->n_trusted_proxies;
	}
	pthread_mutex_lock(&al->dest_lock);
	same = !strcmp(al->dest, cfg->access_log);
	if (!cfg->access_log[0]) {
		st->kind = DEST_NONE;
	} else if (!strcmp(cfg->access_log, "journal")) {
		st->kind = DEST_JOURNAL;
	} else {
		st->kind = DEST_FILE;
		st->path = strdup(cfg->access_log);
		/* Opened now, in the caller's thread: a reload whose file
		 * cannot be opened fails whole and keeps the old log.  (A
		 * reload reopens the file, as SIGUSR1 does.) */
		if (!st->path || (st->fd = open_file(cfg->access_log)) < 0) {
			int r = st->path ? st->fd : -ENOMEM;
			snprintf(err, errlen, "cannot open the access log %s: %s", cfg->access_log,
			         strerror(-r));
			st->fd = -1;
			pthread_mutex_unlock(&al->dest_lock);
			settings_free(st);
			return r;
		}
	}
	if (!same) {
		char *d = strdup(cfg->access_log);
		if (d) {
			free(al->dest);
			al->dest = d;
		}
	}
	pthread_mutex_unlock(&al->dest_lock);

	pthread_mutex_lock(&al->lock);
	settings_free(al->next); /* not taken yet: replaced */
	al->next = st;
	pthread_cond_signal(&al->wake);
	pthread_mutex_unlock(&al->lock);
	atomic_store(&al->log_probes, cfg->log_probes);
	atomic_store(&al->enabled, st->kind != DEST_NONE);
	return 0;
}

void access_log_reopen(struct access_log *al)
{
	if (!al)
		return;
	pthread_mutex_lock(&al->lock);
	al->reopen = true;
	pthread_cond_signal(&al->wake);
	pthread_mutex_unlock(&al->lock);
}

json_t *access_log_status(struct access_log *al)
{
	json_t *o;
	size_t fill;

	if (!al)
		return json_null();
	pthread_mutex_lock(&al->lock);
	fill = al->fill;
	pthread_mutex_unlock(&al->lock);
	pthread_mutex_lock(&al->dest_lock);
	o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "destination", al->dest, "queued",
	              (json_int_t)atomic_load(&al->queued_total), "lines",
	              (json_int_t)atomic_load(&al->lines), "dropped",
	              (json_int_t)atomic_load(&al->dropped), "write_errors",
	              (json_int_t)atomic_load(&al->write_errors), "buffered_bytes",
	              (json_int_t)fill);
	pthread_mutex_unlock(&al->dest_lock);
	return o;
}

uint64_t access_log_close(struct access_log *al, long long timeout_ms)
{
	struct timespec until;
	uint64_t lost = 0;
	bool finished;

	if (!al)
		return 0;
	atomic_store(&al->enabled, false);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&al->lock);
	al->stop = true;
	pthread_cond_signal(&al->wake);
	while (!al->finished)
		if (pthread_cond_timedwait(&al->done, &al->lock, &until) == ETIMEDOUT)
			break;
	finished = al->finished;
	if (!finished)
		lost = al->queued;
	pthread_mutex_unlock(&al->lock);
	if (!finished) {
		/* The writer is stuck in a write (a pipe nobody reads, a hung
		 * file system): leave it and its memory to the exit. */
		log_warning("access log: the writer did not finish within %lld ms (a stalled "
		            "pipe or file system?); %llu buffered line(s) and the batch being "
		            "written are lost",
		            timeout_ms, (unsigned long long)lost);
		return lost ? lost : 1;
	}
	if (al->started)
		pthread_join(al->thread, NULL);
	settings_free(al->cur);
	settings_free(al->next);
	pthread_mutex_destroy(&al->lock);
	pthread_mutex_destroy(&al->dest_lock);
	pthread_cond_destroy(&al->wake);
	pthread_cond_destroy(&al->done);
	free(al->buf[0]);
	free(al->buf[1]);
	free(al->out);
	free(al->dest);
	free(al);
	return 0;
}
