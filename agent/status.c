/* The local HTTP endpoints (status.h).  The status socket has mode 0666:
 * it only shows what IMDS already tells every local user, never a
 * credential.  The TCP listener serves /metrics and nothing else, so the
 * identity stays local even when metrics_listen is not a loopback
 * address.  The agent never waits on a client: everything runs in
 * status_serve() from the main loop, and a slow client is MHD's to time
 * out (a timerfd in our epoll set wakes the loop for it). */
#include <errno.h>
#include <libgen.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "agent.h"
#include "cleanup.h"
#include "control-protocol.h"
#include "identity.h"
#include "log.h"
#include "prom.h"
#include "protection.h"
#include "status.h"
#include "strbuf.h"
#include "timeutil.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

struct status_server {
	struct agent *agent;          /* not owned */
	struct MHD_Daemon *socket_d;  /* the status socket's, or NULL */
	struct MHD_Daemon *metrics_d; /* metrics_listen's, or NULL */
	int epfd;                     /* owned: both daemons' epoll fds and timer_fd */
	int timer_fd;                 /* owned: MHD's next timeout */
	char *path;                   /* owned: the socket to remove, or NULL */
};

static int request_marker;

static int status_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *dir = NULL;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	/* systemd's RuntimeDirectory= normally made it; not when run by hand. */
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT) /* a stale socket of a previous run */
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (chmod(path, 0666) < 0 || listen(fd, 16) < 0)
		return -errno;
	return steal_fd(&fd);
}

/* "127.0.0.1:9102", "[::1]:9102": numeric only, nothing to resolve. */
static int metrics_bind(const char *spec, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
	                         .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	_cleanup_close_ int fd = -1;
	size_t hlen;
	int one = 1, r;

	if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
		format_into(err, errlen, "%s: expected ADDR:PORT such as 127.0.0.1:9102", spec);
		return -EINVAL;
	}
	hlen = (size_t)(colon - spec);
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']')
		format_into(host, sizeof(host), "%.*s", (int)(hlen - 2), spec + 1);
	else
		format_into(host, sizeof(host), "%.*s", (int)hlen, spec);
	if ((r = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai)) != 0) {
		format_into(err, errlen, "%s: %s", spec, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		r = -errno;
		format_into(err, errlen, "cannot listen on %s: %s", spec, strerror(-r));
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	return steal_fd(&fd);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *time_or_null(time_t t)
{
	char buf[32];

	if (!t)
		return json_null();
	format_iso8601(t, buf, sizeof(buf));
	return json_string(buf);
}

json_t *status_document(const struct agent *a)
{
	const struct agent_identity *id = &a->ident;
	const struct metrics *m = &a->metrics;
	const struct imds_identity *ii = id->imds == IMDS_OK ? &id->id : NULL;
	json_t *doc = json_object(), *met = json_object();
	json_t *result = json_null();

	if (!doc || !met) {
		json_decref(doc);
		json_decref(met);
		return NULL;
	}
	if (m->last_publish_at)
		result = json_string(m->last_publish_result == 0 ? "ok" : "error");
	json_object_set_new(doc, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(
	        doc, "uptime_s",
	        json_integer((json_int_t)((now_mono_ms() - a->started_mono_ms) / 1000)));
	json_object_set_new(doc, "imds", json_string(imds_state_name(id->imds)));
	json_object_set_new(doc, "instance_id", str_or_null(ii ? ii->instance_id : NULL));
	json_object_set_new(doc, "instance_type", str_or_null(ii ? ii->instance_type : NULL));
	json_object_set_new(doc, "availability_zone",
	                    str_or_null(ii ? ii->availability_zone : NULL));
	json_object_set_new(doc, "life_cycle", str_or_null(ii ? ii->life_cycle : NULL));
	json_object_set_new(doc, "region", str_or_null(id->region));
	json_object_set_new(doc, "region_source", str_or_null(id->region_source));
	json_object_set_new(doc, "auto_scaling_group", str_or_null(id->asg_name));
	json_object_set_new(doc, "auto_scaling_group_source", str_or_null(id->asg_source));
	json_object_set_new(doc, "credentials",
	                    json_string(credentials_source_name(a->creds.current.source)));
	json_object_set_new(doc, "last_error", str_or_null(a->last_error));
	json_object_set_new(doc, "last_error_at", time_or_null(a->last_error_at));

	json_object_set_new(met, "namespace", json_string(a->cfg->namespace));
	json_object_set_new(met, "metric_name", json_string(a->cfg->cpu_metric_name));
	json_object_set_new(met, "period_ms", json_integer((json_int_t)m->s.period_ms));
	json_object_set_new(met, "publishing", json_boolean(m->publishing));
	json_object_set_new(met, "backlog", json_integer((json_int_t)m->q_len));
	/* Periods closed so far, published or not: lets a caller wait for a
	 * period to pass instead of sleeping. */
	json_object_set_new(met, "closed", json_integer((json_int_t)m->closed));
	json_object_set_new(met, "published", json_integer((json_int_t)m->published));
	json_object_set_new(met, "dropped", json_integer((json_int_t)m->dropped));
	json_object_set_new(met, "last_publish", time_or_null(m->last_publish_at));
	json_object_set_new(met, "last_publish_result", result);
	json_object_set_new(met, "last_publish_error", str_or_null(m->last_error));
	json_object_set_new(doc, "metrics", met);
	json_object_set_new(doc, "lifecycle", lifecycle_status(&a->lc));
	json_object_set_new(doc, "scale_in_protection", protection_status(a));
	return doc;
}

/* --- HTTP ---------------------------------------------------------------- */

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *text, size_t len)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result queue_status(struct MHD_Connection *conn, const struct agent *a)
{
	_cleanup_json_ json_t *doc = status_document(a);
	_cleanup_free_ char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	_cleanup_free_ char *body = NULL;

	if (!text || asprintf(&body, "%s\n", text) < 0) {
		body = NULL;
		return queue(conn, 500, "text/plain", "out of memory\n", 14);
	}
	return queue(conn, 200, "application/json", body, strlen(body));
}

static enum MHD_Result queue_metrics(struct MHD_Connection *conn, const struct agent *a)
{
	struct prom p;
	const char *text;
	size_t len;
	enum MHD_Result ret;

	prom_init(&p);
	status_metrics_write(a, &p);
	if (prom_finish(&p, &text, &len) == 0)
		ret = queue(conn, 200, PROM_CONTENT_TYPE, text, len);
	else
		ret = queue(conn, 500, "text/plain", "out of memory\n", 14);
	prom_free(&p);
	return ret;
}

/* The status socket: /status and /metrics; metrics_listen: /metrics. */
static enum MHD_Result on_request(struct status_server *s, bool status_allowed,
                                  struct MHD_Connection *conn, const char *url, const char *method,
                                  size_t *upload_data_size, void **req_cls)
{
	bool is_status = status_allowed && !strcmp(url, CONTROL_AGENT_STATUS_PATH);
	bool is_metrics = !strcmp(url, CONTROL_PATH_METRICS);

	if (!*req_cls) {
		*req_cls = &request_marker;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* no body is read */
		return MHD_YES;
	}
	if (!is_status && !is_metrics) {
		static const char both[] =
		        "use GET " CONTROL_AGENT_STATUS_PATH " or GET " CONTROL_PATH_METRICS "\n";
		static const char only[] = "use GET " CONTROL_PATH_METRICS "\n";
		const char *m = status_allowed ? both : only;
		return queue(conn, 404, "text/plain", m, strlen(m));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return queue(conn, 405, "text/plain", "use GET\n", 8);
	return is_status ? queue_status(conn, s->agent) : queue_metrics(conn, s->agent);
}

static enum MHD_Result on_socket(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
	return on_request(cls, true, conn, url, method, upload_data_size, req_cls);
}

static enum MHD_Result on_metrics(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	return on_request(cls, false, conn, url, method, upload_data_size, req_cls);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

/* fd is taken over, even on failure. */
static struct MHD_Daemon *start_daemon(struct status_server *s, int fd,
                                       MHD_AccessHandlerCallback cb)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	struct epoll_event ev = {.events = EPOLLIN};

	/* MHD_USE_EPOLL without a thread: MHD keeps its sockets in an epoll
	 * set of its own, which we nest in ours; MHD_run() never blocks. */
	d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, cb, s,
	                     MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 16u,
	                     MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_EXTERNAL_LOGGER,
	                     mhd_log, NULL, MHD_OPTION_END);
	if (!d) {
		close(fd);
		return NULL;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || epoll_ctl(s->epfd, EPOLL_CTL_ADD, info->epoll_fd, &ev) < 0) {
		MHD_stop_daemon(d);
		return NULL;
	}
	return d;
}

/* Wakes the loop when MHD has a timeout to enforce (an idle client). */
static void arm_timer(struct status_server *s)
{
	struct MHD_Daemon *ds[] = {s->socket_d, s->metrics_d};
	MHD_UNSIGNED_LONG_LONG ms, best = 0;
	bool any = false;
	struct itimerspec its = {{0, 0}, {0, 0}};

	for (size_t i = 0; i < ARRAY_SIZE(ds); i++)
		if (ds[i] && MHD_get_timeout(ds[i], &ms) == MHD_YES && (!any || ms < best)) {
			best = ms;
			any = true;
		}
	if (any) {
		if (best == 0)
			best = 1; /* an all-zero value disarms */
		its.it_value.tv_sec = (time_t)(best / 1000);
		its.it_value.tv_nsec = (long)(best % 1000) * 1000000L;
	}
	timerfd_settime(s->timer_fd, 0, &its, NULL);
}

int status_start(struct status_server **out, struct agent *a, const struct agent_config *cfg)
{
	struct status_server *s = calloc(1, sizeof(*s));
	struct epoll_event ev = {.events = EPOLLIN};
	char err[512];
	int fd, r;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->agent = a;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->timer_fd < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timer_fd, &ev) < 0) {
		r = -errno;
		log_error("cannot set up the status socket's event loop: %s", strerror(-r));
		status_stop(s);
		return r;
	}
	fd = status_listen(cfg->status_socket);
	if (fd < 0)
		log_warning("status socket %s unavailable: %s; `asg-agent status` will not work",
		            cfg->status_socket, strerror(-fd));
	else if (!(s->socket_d = start_daemon(s, fd, on_socket)))
		log_warning("cannot serve the status socket %s; `asg-agent status` will not work",
		            cfg->status_socket);
	else
		s->path = strdup(cfg->status_socket);
	if (cfg->metrics_listen) {
		fd = metrics_bind(cfg->metrics_listen, err, sizeof(err));
		if (fd < 0) {
			log_error("metrics_listen: %s", err);
			status_stop(s);
			return fd;
		}
		if (!(s->metrics_d = start_daemon(s, fd, on_metrics))) {
			log_error("metrics_listen: cannot serve on %s", cfg->metrics_listen);
			status_stop(s);
			return -EIO;
		}
		log_info("serving /metrics on %s", cfg->metrics_listen);
	}
	*out = s;
	return s->epfd;
}

void status_serve(struct agent *a, int fd)
{
	struct status_server *s = a->status;
	uint64_t expirations;

	if (!s)
		return;
	if (read(s->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("status timer: %s", strerror(errno));
	if (s->socket_d)
		MHD_run(s->socket_d);
	if (s->metrics_d)
		MHD_run(s->metrics_d);
	arm_timer(s);
}

void status_stop(struct status_server *s)
{
	if (!s)
		return;
	/* MHD closes the listening sockets it was given. */
	if (s->socket_d)
		MHD_stop_daemon(s->socket_d);
	if (s->metrics_d)
		MHD_stop_daemon(s->metrics_d);
	if (s->path)
		unlink(s->path);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s->path);
	free(s);
}

static const char status_request[] =
        "GET " CONTROL_AGENT_STATUS_PATH " HTTP/1.0\r\nHost: localhost\r\n\r\n";

int status_get(const char *path, struct strbuf *body, char *err, size_t err_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	_cleanup_strbuf_ struct strbuf answer = STRBUF_INIT;
	struct timeval tv = {5, 0};
	const char *start;
	char buf[4096];
	ssize_t n;

	err[0] = '\0';
	if (strlen(path) >= sizeof(sa.sun_path)) {
		format_into(err, err_len, "status socket path too long");
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, status_request, sizeof(status_request) - 1, MSG_NOSIGNAL) !=
	            (ssize_t)sizeof(status_request) - 1) {
		int r = -errno;
		format_into(err, err_len, "cannot reach the daemon at %s: %s", path, strerror(-r));
		return r;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_append_len(&answer, buf, (size_t)n);
	if (n < 0 || strbuf_error(&answer) < 0) {
		int r = n < 0 ? -errno : -ENOMEM;
		format_into(err, err_len, "reading %s: %s", path, strerror(-r));
		return r;
	}
	start = strstr(strbuf_str(&answer), "\r\n\r\n");
	if (strncmp(strbuf_str(&answer), "HTTP/1.", 7) != 0 || !start ||
	    strncmp(strbuf_str(&answer) + 8, " 200 ", 5) != 0) {
		format_into(err, err_len, "%s answered: %.200s", path, strbuf_str(&answer));
		return -EPROTO;
	}
	start += 4;
	strbuf_append_len(body, start, answer.len - (size_t)(start - strbuf_str(&answer)));
	return strbuf_error(body) < 0 ? -ENOMEM : 0;
}

int status_fetch(const char *path, json_t **out)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	char err[512];
	int r;

	*out = NULL;
	r = status_get(path, &body, err, sizeof(err));
	if (r < 0)
		return r;
	*out = json_loadb(strbuf_str(&body), body.len, 0, NULL);
	return *out ? 0 : -EBADMSG;
}
