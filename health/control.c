/* The control socket (see control.h): GET /status, /health and /metrics,
 * POST /drain
 * and /undrain.  A single thread is enough: one client, a few requests a
 * second at most. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "control-protocol.h"
#include "control.h"
#include "log.h"
#include "metrics.h"
#include "responses.h"

struct control {
	struct server *server; /* not owned */
	struct MHD_Daemon *daemon;
};

/* The marker stored in *req_cls between the two handler calls. */
static int request_marker;

#define CONTROL_USAGE                                                                             \
	"use GET " CONTROL_PATH_STATUS ", GET " CONTROL_PATH_HEALTH ", GET " CONTROL_PATH_METRICS \
	", POST " CONTROL_PATH_DRAIN ", POST " CONTROL_PATH_UNDRAIN

static enum MHD_Result control_error(struct MHD_Connection *conn, unsigned status,
                                     const char *message)
{
	_cleanup_json_ json_t *doc = json_pack("{s:s}", CONTROL_FIELD_ERROR, message);
	struct MHD_Response *r = doc ? responses_json(doc, false) : NULL;
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, POST");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void set_draining(struct server *s, bool draining)
{
	if (draining && !server_draining(s))
		log_fields(LOG_NOTICE, (const char *const[]){"DRAIN=1", NULL},
		           "draining: /health answers 503, responses close their connections");
	else if (!draining && server_draining(s))
		log_fields(LOG_NOTICE, (const char *const[]){"DRAIN=0", NULL},
		           "drain cancelled: /health follows the checks again");
	server_set_draining(s, draining);
}

static bool is_command(const char *url)
{
	return !strcmp(url, CONTROL_PATH_STATUS) || !strcmp(url, CONTROL_PATH_DRAIN) ||
	       !strcmp(url, CONTROL_PATH_UNDRAIN) || !strcmp(url, CONTROL_PATH_HEALTH) ||
	       !strcmp(url, CONTROL_PATH_METRICS);
}

static enum MHD_Result on_control(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	struct server *s = cls;
	bool post = !strcmp(method, "POST"),
	     get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
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
	if (!strcmp(url, CONTROL_PATH_DRAIN) && post) {
		set_draining(s, true);
	} else if (!strcmp(url, CONTROL_PATH_UNDRAIN) && post) {
		set_draining(s, false);
	} else if (!strcmp(url, CONTROL_PATH_STATUS) && get) {
	} else if (!strcmp(url, CONTROL_PATH_METRICS) && get) {
		return health_metrics_queue(s, conn);
	} else if (!strcmp(url, CONTROL_PATH_HEALTH) && get) {
		struct site *site = server_get_site(s);
		doc = server_health_json(s, site, true, true, &status);
		site_put(site);
	} else if (is_command(url)) {
		return control_error(conn, 405, CONTROL_USAGE);
	} else {
		return control_error(conn, 404, "unknown command; " CONTROL_USAGE);
	}
	if (!doc)
		doc = server_status_json(s);
	r = doc ? responses_json(doc, false) : NULL;
	if (!r)
		return control_error(conn, 500, "out of memory");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

int control_start(struct control **out, struct server *server, int fd)
{
	struct control *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->server = server;
	/* poll(), not MHD's default select(): with a thousand public
	 * connections open, the control connection's descriptor is above
	 * FD_SETSIZE and select() makes MHD drop it, which would leave the
	 * agent unable to drain a busy instance. */
	c->daemon = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG,
	                             0, NULL, NULL, on_control, server, MHD_OPTION_LISTEN_SOCKET,
	                             fd, MHD_OPTION_CONNECTION_LIMIT, 64u,
	                             MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_EXTERNAL_LOGGER,
	                             server_mhd_log, NULL, MHD_OPTION_END);
	if (!c->daemon) {
		close(fd);
		free(c);
		return -EIO;
	}
	*out = c;
	return 0;
}

void control_stop(struct control *c)
{
	if (!c)
		return;
	/* MHD closes the listening socket it was given. */
	MHD_stop_daemon(c->daemon);
	free(c);
}
