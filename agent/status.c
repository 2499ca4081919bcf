/* The local status socket (see agent.h).  A client connects and reads one
 * JSON document until EOF; it sends nothing.  The daemon never waits on a
 * client: the socket is non-blocking and a client that does not read
 * loses its answer.  Mode 0666: it only shows what IMDS already tells
 * every local user, never a credential. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "identity.h"
#include "protection.h"
#include "status.h"
#include "cleanup.h"
#include "strbuf.h"
#include "timeutil.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

int status_listen(const char *path)
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

void status_serve(struct agent *a, int fd)
{
	for (;;) {
		_cleanup_close_ int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		_cleanup_json_ json_t *doc = NULL;
		_cleanup_free_ char *text = NULL;

		if (c < 0)
			return; /* EAGAIN: no more clients */
		doc = status_document(a);
		text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		if (text) {
			/* A few hundred bytes fit the socket buffer; a client
			 * that does not read simply gets a short answer. */
			ssize_t n = send(c, text, strlen(text), MSG_NOSIGNAL);
			if (n >= 0)
				(void)send(c, "\n", 1, MSG_NOSIGNAL);
		}
	}
}

int status_fetch(const char *path, json_t **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	struct timeval tv = {5, 0};
	char buf[4096];
	ssize_t n;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_append_len(&body, buf, (size_t)n);
	if (n < 0)
		return -errno;
	if (strbuf_error(&body) < 0)
		return -ENOMEM;
	*out = json_loadb(strbuf_str(&body), body.len, 0, NULL);
	return *out ? 0 : -EBADMSG;
}
