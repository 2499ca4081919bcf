/* asg-health's HTTP server: libmicrohttpd daemons for the public listeners
 * and the control socket, request dispatch, /health, drain and shutdown.
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
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "connections.h"
#include "log.h"
#include "server.h"
#include "timeutil.h"

enum error_slot { ERR_400, ERR_403, ERR_404, ERR_405, ERR_413, ERR_414, ERR_431, ERR_500, ERR_503,
		  ERR_COUNT };
static const unsigned error_status[ERR_COUNT] = { 400, 403, 404, 405, 413, 414, 431, 500, 503 };
static const char *const error_text[ERR_COUNT] = {
	"Bad Request", "Forbidden", "Not Found", "Method Not Allowed", "Content Too Large",
	"URI Too Long", "Request Header Fields Too Large", "Internal Server Error",
	"Service Unavailable"
};

struct health_cache {
	uint64_t generation;
	int state; /* 0 healthy, 1 unhealthy, 2 draining */
	struct MHD_Response *resp; /* owned */
};

struct server {
	pthread_mutex_t site_lock;
	struct site *site;		 /* owned reference */
	struct MHD_Daemon *daemon;	 /* the public listeners' */
	struct connections *conns;	 /* owned; accepts for daemon */
	struct MHD_Daemon *control;
	atomic_bool draining;
	atomic_bool stopping;
	_Atomic uint64_t in_flight, connections, requests;
	uint64_t started_ms;
	struct probes *probes;		 /* owned */
	struct MHD_Response *errors[ERR_COUNT][2]; /* owned; [close] */
	struct MHD_Response *live;	 /* owned */
	pthread_mutex_t health_lock;
	struct health_cache health[2];	 /* owned; [close] */
};

/* The marker stored in *req_cls between the two handler calls. */
static int request_marker;

/* --- site ------------------------------------------------------------ */

int site_new(struct site **out, struct health_config *cfg, const struct site *previous,
	     char *err, size_t errlen)
{
	struct site *s = calloc(1, sizeof(*s));
	int r;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&s->refs, 1);
	s->rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open the site root %s: %s", cfg->root, strerror(errno));
		free(s);
		return r;
	}
	s->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if ((r = cache_new(&s->cache, &s->cfg, s->rootfd)) < 0 ||
	    (r = checks_start(&s->checks, s->cfg.checks, s->cfg.n_checks,
			      previous ? previous->checks : NULL)) < 0) {
		snprintf(err, errlen, "cannot start: %s", strerror(-r));
		*cfg = s->cfg;
		memset(&s->cfg, 0, sizeof(s->cfg));
		cache_free(s->cache);
		close(s->rootfd);
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void site_put(struct site *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	checks_stop(s->checks);
	cache_free(s->cache);
	close(s->rootfd);
	health_config_free(&s->cfg);
	free(s);
}

struct site *server_get_site(struct server *s)
{
	struct site *site;

	pthread_mutex_lock(&s->site_lock);
	site = s->site;
	atomic_fetch_add(&site->refs, 1);
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

/* --- prebuilt responses ---------------------------------------------- */

static struct MHD_Response *text_response(const char *body, const char *type, bool close_conn)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								  MHD_RESPMEM_MUST_COPY);
	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (close_conn)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return r;
}

static int build_static_responses(struct server *s)
{
	for (int i = 0; i < ERR_COUNT; i++)
		for (int c = 0; c < 2; c++) {
			char body[128];
			snprintf(body, sizeof(body), "%u %s\n", error_status[i], error_text[i]);
			s->errors[i][c] = text_response(body, "text/plain; charset=utf-8", c);
			if (!s->errors[i][c])
				return -ENOMEM;
			if (error_status[i] == 405)
				MHD_add_response_header(s->errors[i][c], MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
			/* Every 503 of ours is transient (a file changing under
			 * us, descriptors exhausted): say when to try again. */
			if (error_status[i] == 503)
				MHD_add_response_header(s->errors[i][c], MHD_HTTP_HEADER_RETRY_AFTER, "1");
		}
	s->live = text_response("{\"status\":\"alive\"}\n", "application/json", false);
	if (!s->live)
		return -ENOMEM;
	MHD_add_response_header(s->live, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return 0;
}

enum MHD_Result server_queue_error(struct server *s, struct MHD_Connection *conn, unsigned status,
				   bool close_conn)
{
	for (int i = 0; i < ERR_COUNT; i++)
		if (error_status[i] == status)
			return MHD_queue_response(conn, status, s->errors[i][close_conn]);
	return MHD_queue_response(conn, 500, s->errors[ERR_500][1]);
}

/* --- /health --------------------------------------------------------- */

/* verbose adds the checks and counters; details (each check's "detail")
 * only for the control socket, never on the public port. */
static json_t *health_document(struct server *s, struct site *site, bool verbose, bool details,
			       unsigned *status)
{
	bool healthy = checks_healthy(site->checks), draining = atomic_load(&s->draining);
	json_t *o = json_object();

	if (!o)
		return NULL;
	*status = healthy && !draining ? 200 : 503;
	json_object_set_new(o, "status", json_string(draining ? "draining"
						   : healthy ? "healthy" : "unhealthy"));
	json_object_set_new(o, "failing", checks_failing_json(site->checks, verbose));
	if (verbose) {
		json_object_set_new(o, "checks", details ? checks_status_json(site->checks)
							 : checks_public_json(site->checks));
		json_object_set_new(o, "draining", json_boolean(draining));
		json_object_set_new(o, "in_flight", json_integer((json_int_t)atomic_load(&s->in_flight)));
		json_object_set_new(o, "connections", json_integer((json_int_t)atomic_load(&s->connections)));
		json_object_set_new(o, "uptime_s", json_integer((json_int_t)((now_mono_ms() - s->started_ms) / 1000)));
		json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
	}
	return o;
}

static struct MHD_Response *json_response(json_t *doc, bool close_conn)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	struct MHD_Response *r;
	size_t len;

	if (!text)
		return NULL;
	len = strlen(text);
	text[len] = '\n'; /* json_dumps leaves room for the NUL; reuse it */
	r = MHD_create_response_from_buffer(len + 1, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (close_conn)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return r;
}

static bool has_query_key(struct MHD_Connection *conn, const char *key)
{
	const char *v;
	size_t vlen;

	return MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
					     &vlen) == MHD_YES;
}

static enum MHD_Result serve_health(struct server *s, struct site *site,
				    struct MHD_Connection *conn, bool close_conn)
{
	const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
	/* The verbose document is the control socket's (GET /health there);
	 * the public port has it only if asked for, and without details. */
	bool verbose = site->cfg.public_verbose_health && has_query_key(conn, "verbose");
	unsigned status = checks_healthy(site->checks) && !atomic_load(&s->draining) ? 200 : 503;
	enum MHD_Result ret;

	/* The ALB's prober names itself; count its answers per node so a
	 * drain can be confirmed as seen (probes.h).  Anyone can send that
	 * User-Agent through the ALB, but the ALB adds X-Forwarded-For to
	 * every request it proxies (its default "append" mode), never to its
	 * own health checks: a probe with one is a client pretending. */
	if (ua && !strncmp(ua, "ELB-HealthChecker", 17) &&
	    !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For")) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		probes_record(s->probes, ci ? ci->client_addr : NULL, status, now_mono_ms());
	}

	if (verbose) {
		_cleanup_json_ json_t *doc = health_document(s, site, true, false, &status);
		struct MHD_Response *r = doc ? json_response(doc, close_conn) : NULL;
		if (!r)
			return server_queue_error(s, conn, 500, true);
		ret = MHD_queue_response(conn, status, r);
		MHD_destroy_response(r);
		return ret;
	}

	/* The common case is served from a response rebuilt only when a check
	 * changes state: a probe never waits on a check or on JSON. */
	uint64_t gen = checks_generation(site->checks);
	int state = atomic_load(&s->draining) ? 2 : status == 200 ? 0 : 1;
	struct health_cache *hc = &s->health[close_conn];

	pthread_mutex_lock(&s->health_lock);
	if (!hc->resp || hc->generation != gen || hc->state != state) {
		_cleanup_json_ json_t *doc = health_document(s, site, false, false, &status);
		struct MHD_Response *r = doc ? json_response(doc, close_conn) : NULL;
		if (!r) {
			pthread_mutex_unlock(&s->health_lock);
			return server_queue_error(s, conn, 500, true);
		}
		if (hc->resp)
			MHD_destroy_response(hc->resp);
		hc->resp = r;
		hc->generation = gen;
		hc->state = state;
	}
	ret = MHD_queue_response(conn, state == 0 ? 200 : 503, hc->resp);
	pthread_mutex_unlock(&s->health_lock);
	return ret;
}

/* --- request dispatch ------------------------------------------------ */

struct header_sum {
	size_t bytes;
	bool body;
};

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct header_sum *h = cls;

	h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
	if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
	    (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) && value && strcmp(value, "0")))
		h->body = true;
	return MHD_YES;
}

/* First call: headers only.  Returns 0 to go on to the second call, or the
 * error status to answer (and close) with now. */
static unsigned first_call_verdict(struct server *s, struct site *site,
				   struct MHD_Connection *conn, const char *url, const char *method)
{
	struct header_sum h = { 0, false };

	MHD_get_connection_values(conn, MHD_HEADER_KIND, sum_header, &h);
	if (strlen(url) > (size_t)site->cfg.max_uri_length)
		return 414;
	if (h.bytes > (size_t)site->cfg.max_header_size)
		return 431;
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
	struct site *site;
	enum MHD_Result ret;
	bool close_conn;
	size_t hlen;

	if (!*req_cls) {
		unsigned verdict;

		*req_cls = &request_marker;
		atomic_fetch_add(&s->in_flight, 1);
		site = server_get_site(s);
		verdict = first_call_verdict(s, site, conn, url, method);
		site_put(site);
		connections_head_done(conn, verdict != 0);
		if (verdict)
			return server_queue_error(s, conn, verdict, true);
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
		ret = serve_health(s, site, conn, close_conn);
	else if (!strncmp(url, site->cfg.health_path, hlen) && !strcmp(url + hlen, "/live"))
		ret = MHD_queue_response(conn, 200, s->live);
	else
		ret = static_serve(s, site, conn, url, close_conn);
	site_put(site);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;

	if (*req_cls) {
		atomic_fetch_sub(&s->in_flight, 1);
		*req_cls = NULL;
		connections_request_done(conn);
	}
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

/* No unescaping here: path.c decodes exactly once (see top comment). */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *uri)
{
	return strlen(uri);
}

/* The attribute tells the compiler fmt comes from libmicrohttpd, a format. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

/* --- control socket -------------------------------------------------- */

json_t *server_status_json(struct server *s)
{
	struct site *site = server_get_site(s);
	struct cache_stats cs;
	bool confirmed;
	json_t *o = json_object();

	cache_get_stats(site->cache, &cs);
	json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(o, "status", json_string(atomic_load(&s->draining) ? "draining"
						   : checks_healthy(site->checks) ? "healthy" : "unhealthy"));
	json_object_set_new(o, "draining", json_boolean(atomic_load(&s->draining)));
	json_object_set_new(o, "in_flight", json_integer((json_int_t)atomic_load(&s->in_flight)));
	json_object_set_new(o, "connections", json_integer((json_int_t)atomic_load(&s->connections)));
	json_object_set_new(o, "requests", json_integer((json_int_t)atomic_load(&s->requests)));
	json_object_set_new(o, "uptime_s", json_integer((json_int_t)((now_mono_ms() - s->started_ms) / 1000)));
	json_object_set_new(o, "root", json_string(site->cfg.root));
	json_object_set_new(o, "checks", checks_status_json(site->checks));
	json_object_set_new(o, "failing", checks_failing_json(site->checks, true));
	json_object_set_new(o, "load_balancer",
			    probes_json(s->probes, now_mono_ms(), (uint64_t)site->cfg.lb_probe_window_ms,
					(unsigned)site->cfg.lb_unhealthy_threshold, &confirmed));
	if (s->conns) {
		struct connections_stats st;
		connections_get_stats(s->conns, &st);
		json_object_set_new(o, "connection_counters",
				    json_pack("{s:I,s:I,s:I,s:I}", "accepted", (json_int_t)st.accepted,
					      "head_timeouts", (json_int_t)st.head_timeouts,
					      "lingering", (json_int_t)st.lingering,
					      "lingering_closes", (json_int_t)st.lingered));
	}
	json_object_set_new(o, "cache",
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "entries",
				      (json_int_t)cs.entries, "bytes", (json_int_t)cs.bytes, "hits",
				      (json_int_t)cs.hits, "misses", (json_int_t)cs.misses, "metadata",
				      (json_int_t)cs.metadata, "evictions", (json_int_t)cs.evictions,
				      "loads", (json_int_t)cs.loads, "hashed", (json_int_t)cs.hashed,
				      "hash_reused", (json_int_t)cs.hash_reused));
	site_put(site);
	return o;
}

static enum MHD_Result control_error(struct MHD_Connection *conn, unsigned status,
				    const char *message)
{
	_cleanup_json_ json_t *doc = json_pack("{s:s}", "error", message);
	struct MHD_Response *r = doc ? json_response(doc, false) : NULL;
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, POST");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_control(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct server *s = cls;
	bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	_cleanup_json_ json_t *doc = NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned status = 200;

	if (!*req_cls) {
		*req_cls = &request_marker;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* commands take no body; ignore one */
		return MHD_YES;
	}
	if (!strcmp(url, "/drain") && post) {
		if (!atomic_load(&s->draining))
			log_fields(LOG_NOTICE, (const char *const[]){ "DRAIN=1", NULL },
				   "draining: /health answers 503, responses close their connections");
		server_set_draining(s, true);
	} else if (!strcmp(url, "/undrain") && post) {
		if (atomic_load(&s->draining))
			log_fields(LOG_NOTICE, (const char *const[]){ "DRAIN=0", NULL },
				   "drain cancelled: /health follows the checks again");
		server_set_draining(s, false);
	} else if (!strcmp(url, "/status") && get) {
	} else if (!strcmp(url, "/health") && get) {
		struct site *site = server_get_site(s);
		doc = health_document(s, site, true, true, &status);
		site_put(site);
	} else if (!strcmp(url, "/status") || !strcmp(url, "/drain") || !strcmp(url, "/undrain") ||
		   !strcmp(url, "/health")) {
		return control_error(conn, 405, "use GET /status, GET /health, POST /drain, POST /undrain");
	} else {
		return control_error(conn, 404, "unknown command; use GET /status, GET /health, "
					   "POST /drain, POST /undrain");
	}
	if (!doc)
		doc = server_status_json(s);
	r = doc ? json_response(doc, false) : NULL;
	if (!r)
		return server_queue_error(s, conn, 500, true);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
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
	if ((r = probes_new(&s->probes)) < 0 || (r = build_static_responses(s)) < 0) {
		s->site = NULL;
		server_free(s);
		return r;
	}
	*out = s;
	return 0;
}

static unsigned thread_count(const struct health_config *cfg)
{
	long n = cfg->threads > 0 ? cfg->threads : sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

int server_start(struct server *s, const int *http_fds, size_t n_http, int control_fd)
{
	const struct health_config *cfg = &s->site->cfg;
	unsigned threads = thread_count(cfg);
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
		0, NULL, NULL, on_request, s,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections + 64u * threads,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((cfg->connection_timeout_ms + 999) / 1000),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	if (!s->daemon)
		return -EIO;
	if ((r = connections_start(s->conns, s->daemon)) < 0)
		return r;
	if (control_fd >= 0) {
		s->control = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			on_control, s,
			MHD_OPTION_LISTEN_SOCKET, control_fd,
			MHD_OPTION_CONNECTION_LIMIT, 64u,
			MHD_OPTION_CONNECTION_TIMEOUT, 30u,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			MHD_OPTION_END);
		if (!s->control)
			return -EIO;
	}
	return 0;
}

void server_set_draining(struct server *s, bool draining)
{
	if (atomic_exchange(&s->draining, draining) != draining)
		probes_reset(s->probes);
}

bool server_draining(struct server *s) { return atomic_load(&s->draining); }
uint64_t server_in_flight(struct server *s) { return atomic_load(&s->in_flight); }
uint64_t server_connections(struct server *s) { return atomic_load(&s->connections); }

void server_status_line(struct server *s, char *buf, size_t len)
{
	struct site *site = server_get_site(s);
	_cleanup_json_ json_t *failing = checks_failing_json(site->checks, false);
	_cleanup_free_ char *names = failing ? json_dumps(failing, JSON_COMPACT) : NULL;

	snprintf(buf, len, "%s; %llu in flight, %llu connections, %llu requests%s%s",
		 atomic_load(&s->draining) ? "draining"
		 : checks_healthy(site->checks) ? "healthy" : "unhealthy",
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
	connections_free(s->conns);
	s->conns = NULL;
	if (s->control) {
		MHD_stop_daemon(s->control);
		s->control = NULL;
	}
	return left;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	connections_free(s->conns);
	if (s->control)
		MHD_stop_daemon(s->control);
	for (int i = 0; i < ERR_COUNT; i++)
		for (int c = 0; c < 2; c++)
			if (s->errors[i][c])
				MHD_destroy_response(s->errors[i][c]);
	if (s->live)
		MHD_destroy_response(s->live);
	for (int i = 0; i < 2; i++)
		if (s->health[i].resp)
			MHD_destroy_response(s->health[i].resp);
	probes_free(s->probes);
	site_put(s->site);
	pthread_mutex_destroy(&s->site_lock);
	pthread_mutex_destroy(&s->health_lock);
	free(s);
}
