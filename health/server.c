/* asg-health's HTTP server: the libmicrohttpd daemon of the public
 * listeners, request dispatch, /health, drain state and shutdown.
 *
 * The control socket is control.c's, the site site.c's, the static files
 * static.c's.
 *
 * MHD quirks that shape this file:
 * - The access handler is called first with the headers only.  Queueing a
 *   response in that first call makes MHD close the connection, which
 *   costs the ALB a new TCP handshake per request; so normal requests are
 *   answered on the second call, and only errors (which should close) on
 *   the first.
 * - MHD unescapes URLs by default; we install a no-op unescaper so path.c
 *   sees the raw path and can reject encoded '/' and NUL.
 * - A response object is immutable once queued, so "Connection: close"
 *   while draining is a second prebuilt variant, not a header added late. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access-log.h"
#include "cleanup.h"
#include "connections.h"
#include "control-protocol.h"
#include "log.h"
#include "probes.h"
#include "responses.h"
#include "server.h"
#include "static.h"
#include "timeutil.h"

/* What /health says; a change rebuilds the cached answer. */
enum health_verdict { VERDICT_HEALTHY, VERDICT_UNHEALTHY, VERDICT_DRAINING };

struct health_cache {
	uint64_t generation;
	enum health_verdict verdict;
	struct MHD_Response *resp; /* owned */
	uint64_t body_bytes;       /* resp's */
};

struct server {
	pthread_mutex_t site_lock;
	struct site *site;         /* owned reference */
	struct MHD_Daemon *daemon; /* the public listeners' */
	struct connections *conns; /* owned; accepts for daemon */
	atomic_bool draining;
	atomic_bool stopping;
	_Atomic uint64_t in_flight, connections, requests;
	/* Answered requests by method and status class (/metrics). */
	_Atomic uint64_t answered[SERVER_METHODS][SERVER_STATUS_CLASSES];
	uint64_t started_ms;
	unsigned threads;              /* MHD's thread pool, fixed at start */
	struct probes *probes;         /* owned */
	struct access_log *access_log; /* not owned; NULL: none */
	struct responses *responses;   /* owned */
	pthread_mutex_t health_lock;
	struct health_cache health[2]; /* owned; [close] */
};

unsigned server_method_index(const char *method)
{
	static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(method, names[i]))
			return i;
	return SERVER_METHOD_OTHER;
}

const char *server_method_name(unsigned index)
{
	static const char *const names[SERVER_METHODS] = {"GET",    "HEAD",    "POST", "PUT",
	                                                  "DELETE", "OPTIONS", "other"};

	return index < SERVER_METHODS ? names[index] : "other";
}

struct site *server_get_site(struct server *s)
{
	struct site *site;

	pthread_mutex_lock(&s->site_lock);
	site = site_get(s->site);
	pthread_mutex_unlock(&s->site_lock);
	return site;
}

void server_set_site(struct server *s, struct site *site)
{
	struct site *old;

	pthread_mutex_lock(&s->site_lock);
	old = s->site;
	s->site = site;
	pthread_mutex_unlock(&s->site_lock);
	pthread_mutex_lock(&s->health_lock);
	for (int i = 0; i < 2; i++)
		s->health[i].generation = UINT64_MAX; /* new checks: rebuild */
	pthread_mutex_unlock(&s->health_lock);
	site_put(old);
}

/* --- /health --------------------------------------------------------- */

static enum health_verdict health_verdict(struct server *s, const struct site *site)
{
	if (atomic_load(&s->draining))
		return VERDICT_DRAINING;
	return checks_healthy(site->checks) ? VERDICT_HEALTHY : VERDICT_UNHEALTHY;
}

/* The "status" field of /health and /status (common/control-protocol.h). */
static const char *health_verdict_name(enum health_verdict v)
{
	switch (v) {
	case VERDICT_HEALTHY:
		return CONTROL_STATUS_HEALTHY;
	case VERDICT_UNHEALTHY:
		return CONTROL_STATUS_UNHEALTHY;
	case VERDICT_DRAINING:
		break;
	}
	return CONTROL_STATUS_DRAINING;
}

/* verbose adds the checks and counters; details (each check's "detail")
 * only for the control socket, never on the public port. */
json_t *server_health_json(struct server *s, struct site *site, bool verbose, bool details,
                           unsigned *status)
{
	enum health_verdict verdict = health_verdict(s, site);
	json_t *o = json_object();

	if (!o)
		return NULL;
	*status = verdict == VERDICT_HEALTHY ? 200 : 503;
	json_object_set_new(o, CONTROL_FIELD_STATUS, json_string(health_verdict_name(verdict)));
	json_object_set_new(o, CONTROL_FIELD_FAILING, checks_failing_json(site->checks, verbose));
	if (verbose) {
		json_object_set_new(o, CONTROL_FIELD_CHECKS,
		                    details ? checks_status_json(site->checks)
		                            : checks_public_json(site->checks));
		json_object_set_new(o, CONTROL_FIELD_DRAINING,
		                    json_boolean(verdict == VERDICT_DRAINING));
		json_object_set_new(o, CONTROL_FIELD_IN_FLIGHT,
		                    json_integer((json_int_t)atomic_load(&s->in_flight)));
		json_object_set_new(o, CONTROL_FIELD_CONNECTIONS,
		                    json_integer((json_int_t)atomic_load(&s->connections)));
		json_object_set_new(
		        o, CONTROL_FIELD_UPTIME,
		        json_integer((json_int_t)((now_mono_ms() - s->started_ms) / 1000)));
		json_object_set_new(o, CONTROL_FIELD_VERSION, json_string(PACKAGE_VERSION));
	}
	return o;
}

static bool has_query_key(struct MHD_Connection *conn, const char *key)
{
	const char *v;
	size_t vlen;

	return MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
	                                     &vlen) == MHD_YES;
}

static enum MHD_Result serve_health(struct server *s, struct site *site,
                                    struct MHD_Connection *conn, bool close_conn, bool *probe)
{
	const char *ua =
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
	/* The verbose document is the control socket's (GET /health there);
	 * the public port has it only if asked for, and without details. */
	bool verbose = site->cfg.public_verbose_health && has_query_key(conn, "verbose");
	enum health_verdict verdict = health_verdict(s, site);
	unsigned status = verdict == VERDICT_HEALTHY ? 200 : 503;
	enum MHD_Result ret;

	/* The ALB's prober names itself; count its answers per node so a
	 * drain can be confirmed as seen (probes.h).  Anyone can send that
	 * User-Agent through the ALB, but the ALB adds X-Forwarded-For to
	 * every request it proxies (its default "append" mode), never to its
	 * own health checks: a probe with one is a client pretending. */
	*probe = probes_is_probe(
	        ua, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For") != NULL);
	if (*probe) {
		const union MHD_ConnectionInfo *ci =
		        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		probes_record(s->probes, ci ? ci->client_addr : NULL, status, now_mono_ms());
	}

	if (verbose) {
		_cleanup_json_ json_t *doc = server_health_json(s, site, true, false, &status);
		uint64_t len = 0;
		struct MHD_Response *r = doc ? responses_json_sized(doc, close_conn, &len) : NULL;
		if (!r)
			return responses_queue_error(s->responses, conn, 500, true);
		ret = responses_queue(conn, status, r, len);
		MHD_destroy_response(r);
		return ret;
	}

	/* The common case is served from a response rebuilt only when a check
	 * changes state: a probe never waits on a check or on JSON. */
	uint64_t gen = checks_generation(site->checks);
	struct health_cache *hc = &s->health[close_conn];

	pthread_mutex_lock(&s->health_lock);
	if (!hc->resp || hc->generation != gen || hc->verdict != verdict) {
		_cleanup_json_ json_t *doc = server_health_json(s, site, false, false, &status);
		uint64_t len = 0;
		struct MHD_Response *r = doc ? responses_json_sized(doc, close_conn, &len) : NULL;
		if (!r) {
			pthread_mutex_unlock(&s->health_lock);
			return responses_queue_error(s->responses, conn, 500, true);
		}
		if (hc->resp)
			MHD_destroy_response(hc->resp);
		hc->resp = r;
		hc->body_bytes = len;
		hc->generation = gen;
		hc->verdict = verdict;
	}
	ret = responses_queue(conn, verdict == VERDICT_HEALTHY ? 200 : 503, hc->resp,
	                      hc->body_bytes);
	pthread_mutex_unlock(&s->health_lock);
	return ret;
}

/* --- request dispatch ------------------------------------------------ */

struct header_sum {
	size_t bytes;
	bool body;
	bool malformed;
	unsigned content_lengths;
};

/* RFC 9110 token characters: what a field name may be made of. */
static bool is_token(const char *p)
{
	if (!*p)
		return false;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~", *p)))
			return false;
	return true;
}

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	struct header_sum *h = cls;

	h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
	/* Shapes a front end may read differently from MHD (request
	 * smuggling): MHD keeps "Transfer-Encoding : chunked" as a field
	 * named "Transfer-Encoding " and looks only at the first of several
	 * Content-Length fields.  RFC 9112 says reject both with 400. */
	if (!is_token(key))
		h->malformed = true;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
		h->content_lengths++;
	if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
	    (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) && value && strcmp(value, "0")))
		h->body = true;
	return MHD_YES;
}

/* First call: headers only.  Returns 0 to go on to the second call, or the
 * error status to answer (and close) with now. */
static unsigned first_call_verdict(struct server *s, struct site *site, struct MHD_Connection *conn,
                                   const char *url, const char *method)
{
	struct header_sum h = {0, false, false, 0};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, sum_header, &h);
	if (strlen(url) > (size_t)site->cfg.max_uri_length)
		return 414;
	if (h.bytes > (size_t)site->cfg.max_header_size)
		return 431;
	if (h.malformed || h.content_lengths > 1)
		return 400;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return 405;
	if (h.body)
		return 413; /* a static site takes no request bodies */
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	struct server *s = cls;
	struct access_request *req = *req_cls;
	struct site *site;
	enum MHD_Result ret;
	bool close_conn;
	size_t hlen;

	if (!req) /* on_uri was out of memory */
		return MHD_NO;
	if (!req->head_done) {
		unsigned verdict;

		req->head_done = true;
		req->method = method;
		req->version = version;
		atomic_fetch_add(&s->in_flight, 1);
		site = server_get_site(s);
		verdict = first_call_verdict(s, site, conn, url, method);
		site_put(site);
		connections_head_done(conn, verdict != 0);
		if (verdict) {
			ret = responses_queue_error(s->responses, conn, verdict, true);
			req->body_bytes = responses_take_queued_body();
			return ret;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* unreachable: bodies were refused */
		return MHD_YES;
	}

	atomic_fetch_add(&s->requests, 1);
	close_conn = atomic_load(&s->draining) || atomic_load(&s->stopping);
	site = server_get_site(s);
	hlen = strlen(site->cfg.health_path);
	if (!strncmp(url, site->cfg.health_path, hlen) && url[hlen] == '\0')
		ret = serve_health(s, site, conn, close_conn, &req->probe);
	else if (!strncmp(url, site->cfg.health_path, hlen) && !strcmp(url + hlen, "/live"))
		ret = responses_queue_live(s->responses, conn);
	else
		ret = static_serve(s->responses, site, conn, url, close_conn);
	site_put(site);
	req->body_bytes = responses_take_queued_body();
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct access_request *req = *req_cls;

	if (!req)
		return;
	access_log_request(s->access_log, conn, req, toe);
	*req_cls = NULL;
	/* Without head_done, libmicrohttpd refused the head itself (a 431
	 * for a head over its pool): logged, never in flight nor counted.
	 * Idle before it stops counting as in flight: whoever sees
	 * in_flight 0 sees the connection evictable. */
	if (req->head_done) {
		const union MHD_ConnectionInfo *ci =
		        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
		unsigned method = server_method_index(req->method);

		/* No status: the client left before an answer was queued. */
		if (ci && ci->http_status >= 100 && ci->http_status < 600)
			atomic_fetch_add_explicit(&s->answered[method][ci->http_status / 100 - 1],
			                          1, memory_order_relaxed);
		connections_request_done(conn);
		atomic_fetch_sub(&s->in_flight, 1);
	}
	access_request_free(req);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&s->connections, 1);
		connections_opened(s->conns, conn, socket_context);
	} else {
		atomic_fetch_sub(&s->connections, 1);
		connections_closed(s->conns, socket_context);
	}
}

/* A request line: the request's state, kept in *req_cls from here on.
 * This is the only place that sees the target with its query string. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct server *s = cls;

	return access_request_new(s->access_log, uri);
}

/* No unescaping here: path.c decodes exactly once (see top comment). */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *uri)
{
	return strlen(uri);
}

/* The attribute tells the compiler fmt comes from libmicrohttpd, a format. */
__attribute__((format(printf, 2, 0))) void server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

/* --- the status document (control.c serves it) ----------------------- */

json_t *server_status_json(struct server *s)
{
	struct site *site = server_get_site(s);
	struct cache_stats cs;
	bool confirmed;
	json_t *o = json_object();

	cache_get_stats(site->cache, &cs);
	json_object_set_new(o, CONTROL_FIELD_VERSION, json_string(PACKAGE_VERSION));
	json_object_set_new(o, CONTROL_FIELD_STATUS,
	                    json_string(health_verdict_name(health_verdict(s, site))));
	json_object_set_new(o, CONTROL_FIELD_DRAINING, json_boolean(atomic_load(&s->draining)));
	json_object_set_new(o, CONTROL_FIELD_IN_FLIGHT,
	                    json_integer((json_int_t)atomic_load(&s->in_flight)));
	json_object_set_new(o, CONTROL_FIELD_CONNECTIONS,
	                    json_integer((json_int_t)atomic_load(&s->connections)));
	json_object_set_new(o, CONTROL_FIELD_REQUESTS,
	                    json_integer((json_int_t)atomic_load(&s->requests)));
	json_object_set_new(o, CONTROL_FIELD_UPTIME,
	                    json_integer((json_int_t)((now_mono_ms() - s->started_ms) / 1000)));
	json_object_set_new(o, CONTROL_FIELD_ROOT, json_string(site->cfg.root));
	json_object_set_new(o, CONTROL_FIELD_THREADS, json_integer(s->threads));
	json_object_set_new(o, CONTROL_FIELD_ACCESS_LOG, access_log_status(s->access_log));
	json_object_set_new(o, CONTROL_FIELD_CHECKS, checks_status_json(site->checks));
	json_object_set_new(o, CONTROL_FIELD_FAILING, checks_failing_json(site->checks, true));
	json_object_set_new(o, CONTROL_FIELD_LOAD_BALANCER,
	                    probes_json(s->probes, now_mono_ms(),
	                                (uint64_t)site->cfg.lb_probe_window_ms,
	                                (unsigned)site->cfg.lb_unhealthy_threshold, &confirmed));
	if (s->conns) {
		struct connections_stats st;
		connections_get_stats(s->conns, &st);
		json_object_set_new(
		        o, CONTROL_FIELD_CONNECTION_COUNTERS,
		        json_pack("{s:I,s:I,s:I,s:I,s:I}", "accepted", (json_int_t)st.accepted,
		                  "head_timeouts", (json_int_t)st.head_timeouts, "lingering",
		                  (json_int_t)st.lingering, "lingering_closes",
		                  (json_int_t)st.lingered, "evictions", (json_int_t)st.evictions));
	}
	json_object_set_new(o, CONTROL_FIELD_CACHE,
	                    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "entries",
	                              (json_int_t)cs.entries, "bytes", (json_int_t)cs.bytes, "hits",
	                              (json_int_t)cs.hits, "misses", (json_int_t)cs.misses,
	                              "metadata", (json_int_t)cs.metadata, "evictions",
	                              (json_int_t)cs.evictions, "loads", (json_int_t)cs.loads,
	                              "hashed", (json_int_t)cs.hashed, "hash_reused",
	                              (json_int_t)cs.hash_reused));
	site_put(site);
	return o;
}

/* --- lifecycle ------------------------------------------------------- */

int server_new(struct server **out, struct site *site)
{
	struct server *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->site_lock, NULL);
	pthread_mutex_init(&s->health_lock, NULL);
	s->site = site;
	s->started_ms = now_mono_ms();
	if ((r = probes_new(&s->probes)) < 0 || (r = responses_new(&s->responses)) < 0) {
		s->site = NULL;
		server_free(s);
		return r;
	}
	*out = s;
	return 0;
}

/* The CPUs this process may run on: taskset, systemd's CPUAffinity= and
 * a cgroup cpuset all narrow it, while sysconf(_SC_NPROCESSORS_ONLN)
 * counts the whole machine, and more threads than CPUs only contend.
 * The set is sized for the kernel's CPU count, which may exceed the
 * 1024 of a plain cpu_set_t.  0 when it cannot be read. */
static unsigned allowed_cpus(void)
{
	long configured = sysconf(_SC_NPROCESSORS_CONF);
	size_t ncpus = configured > 1024 ? (size_t)configured : 1024;
	cpu_set_t *set = CPU_ALLOC(ncpus);
	size_t size = CPU_ALLOC_SIZE(ncpus);
	int n = 0;

	if (!set)
		return 0;
	CPU_ZERO_S(size, set);
	if (sched_getaffinity(0, size, set) == 0)
		n = CPU_COUNT_S(size, set);
	CPU_FREE(set);
	return n > 0 ? (unsigned)n : 0;
}

static unsigned thread_count(const struct health_config *cfg)
{
	unsigned n = cfg->threads > 0 ? (unsigned)cfg->threads : allowed_cpus();
	long online;

	if (n == 0) {
		online = sysconf(_SC_NPROCESSORS_ONLN);
		n = online > 0 ? (unsigned)online : 1;
	}
	return n;
}

int server_start(struct server *s, const int *http_fds, size_t n_http)
{
	const struct health_config *cfg = &s->site->cfg;
	unsigned threads = s->threads = thread_count(cfg);
	/* MHD's per-connection pool holds the request head and our response
	 * headers; size it so that a head just under max_header_size still
	 * fits and our own 431 check answers, not MHD's allocator.  The 8 KiB
	 * margin is MHD's own bookkeeping (about 56 bytes a header: 200 short
	 * headers under the limit need it).  libmicrohttpd 0.9.75 zeroes the
	 * whole pool after every request (4 % of the CPU, BENCHMARKS.md):
	 * lower max_header_size to trade limits for that.  A larger head gets
	 * MHD's own 431 (or 414), delivered by the lingering close of
	 * connections.c. */
	size_t pool = (size_t)cfg->max_header_size + (size_t)cfg->max_uri_length + 8192;
	struct connections_limits lim = {
	        .header_timeout_ms = (uint64_t)cfg->header_timeout_ms,
	        .max_connections = (unsigned)cfg->max_connections,
	};
	int r;

	/* The sockets are ours from here, even on failure (connections_free
	 * closes them). */
	if ((r = connections_new(&s->conns, http_fds, n_http, &lim)) < 0)
		return r;
	/* No listening socket for MHD: connections.c accepts and hands each
	 * socket over with MHD_add_connection (connections.h says why).  MHD's
	 * own limit has slack over max_connections because it counts a
	 * connection free only after our "closed" notification. */
	s->daemon = MHD_start_daemon(
	        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
	                MHD_USE_NO_LISTEN_SOCKET,
	        0, NULL, NULL, on_request, s, MHD_OPTION_THREAD_POOL_SIZE, threads,
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections + 64u * threads,
	        MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned)((cfg->connection_timeout_ms + 999) / 1000),
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
	        /* 400 for an HTTP/1.1 request without Host and for a space
	         * inside the request target, which MHD otherwise takes as part
	         * of the path. */
	        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_UNESCAPE_CALLBACK,
	        keep_escaped, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
	        MHD_OPTION_EXTERNAL_LOGGER, server_mhd_log, NULL, MHD_OPTION_END);
	if (!s->daemon)
		return -EIO;
	if ((r = connections_start(s->conns, s->daemon)) < 0)
		return r;
	return 0;
}

void server_set_draining(struct server *s, bool draining)
{
	if (atomic_exchange(&s->draining, draining) != draining)
		probes_reset(s->probes);
}

bool server_draining(struct server *s)
{
	return atomic_load(&s->draining);
}
uint64_t server_in_flight(struct server *s)
{
	return atomic_load(&s->in_flight);
}
uint64_t server_connections(struct server *s)
{
	return atomic_load(&s->connections);
}
void server_set_access_log(struct server *s, struct access_log *al)
{
	s->access_log = al;
}

unsigned server_threads(struct server *s)
{
	return s->threads;
}

void server_get_counters(struct server *s, struct server_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t m = 0; m < SERVER_METHODS; m++)
		for (size_t c = 0; c < SERVER_STATUS_CLASSES; c++)
			out->answered[m][c] =
			        atomic_load_explicit(&s->answered[m][c], memory_order_relaxed);
	out->in_flight = atomic_load(&s->in_flight);
	out->connections = atomic_load(&s->connections);
	out->draining = atomic_load(&s->draining);
	if (s->conns) {
		struct connections_stats st;
		connections_get_stats(s->conns, &st);
		out->sent_bytes = st.sent;
	}
}

struct probes *server_probes(struct server *s)
{
	return s->probes;
}

void server_status_line(struct server *s, char *buf, size_t len)
{
	struct site *site = server_get_site(s);
	_cleanup_json_ json_t *failing = checks_failing_json(site->checks, false);
	_cleanup_free_ char *names = failing ? json_dumps(failing, JSON_COMPACT) : NULL;

	snprintf(buf, len, "%s; %llu in flight, %llu connections, %llu requests%s%s",
	         health_verdict_name(health_verdict(s, site)),
	         (unsigned long long)atomic_load(&s->in_flight),
	         (unsigned long long)atomic_load(&s->connections),
	         (unsigned long long)atomic_load(&s->requests),
	         failing && json_array_size(failing) ? "; failing " : "",
	         failing && json_array_size(failing) && names ? names : "");
	site_put(site);
}

uint64_t server_shutdown(struct server *s, long long timeout_ms)
{
	uint64_t deadline = now_mono_ms() + (uint64_t)timeout_ms, left;

	/* From here every response closes its connection, so keep-alive
	 * clients go elsewhere instead of waiting on a closing socket. */
	atomic_store(&s->stopping, true);
	/* Not MHD_quiesce_daemon: with a thread pool it races the workers and
	 * aborts (connections.h).  The listening sockets stay open, so
	 * connections that arrive now wait in the backlog for the next
	 * process (socket activation) instead of being refused. */
	connections_stop_accepting(s->conns);
	while ((left = atomic_load(&s->in_flight)) > 0 && now_mono_ms() < deadline)
		sleep_ms(20);
	if (s->daemon) {
		MHD_stop_daemon(s->daemon);
		s->daemon = NULL;
	}
	/* The connection table stays until server_free(): the control
	 * socket, still answering, reads its counters (/status, /metrics). */
	return left;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	connections_free(s->conns);
	responses_free(s->responses);
	for (int i = 0; i < 2; i++)
		if (s->health[i].resp)
			MHD_destroy_response(s->health[i].resp);
	probes_free(s->probes);
	site_put(s->site);
	pthread_mutex_destroy(&s->site_lock);
	pthread_mutex_destroy(&s->health_lock);
	free(s);
}
