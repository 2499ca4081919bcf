/* asg-health's control socket, from the agent (see health-client.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cleanup.h"
#include "control-protocol.h"
#include "health-client.h"
#include "http.h"
#include "strbuf.h"

int health_control(const char *socket_path, const char *method, const char *path, long *status,
                   struct strbuf *body)
{
	struct http_client http;
	struct http_response resp;
	char url[256];
	int r;

	r = http_client_init(&http);
	if (r < 0)
		return r;
	/* The host part is ignored over a Unix socket; "localhost" keeps
	 * the Host header valid. */
	format_into(url, sizeof(url), "http://localhost%s", path);
	struct http_request req = {.method = method,
	                           .url = url,
	                           .unix_socket = socket_path,
	                           .connect_timeout_ms = 2000,
	                           .timeout_ms = 5000,
	                           .no_proxy = true};
	r = http_perform(&http, &req, &resp);
	if (r == 0) {
		*status = resp.status;
		strbuf_append_len(body, resp.body.data, resp.body.len);
		r = strbuf_error(body);
	}
	http_response_free(&resp);
	http_client_free(&http);
	return r;
}

static void on_answer(void *ctx, int r, struct http_response *resp)
{
	struct health_call *hc = ctx;

	hc->busy = false;
	hc->transfer = NULL;
	hc->done(hc->ctx, r, r == 0 ? resp->status : 0, &resp->body);
	http_response_free(resp);
}

int health_control_start(struct health_call *hc, struct http_client *http, const char *socket_path,
                         const char *method, const char *path, health_done_fn done, void *ctx)
{
	int r;

	memset(hc, 0, sizeof(*hc));
	hc->http = http;
	hc->done = done;
	hc->ctx = ctx;
	format_into(hc->url, sizeof(hc->url), "http://localhost%s", path);
	struct http_request req = {.method = method,
	                           .url = hc->url,
	                           .unix_socket = socket_path,
	                           .connect_timeout_ms = 2000,
	                           .timeout_ms = 5000,
	                           .no_proxy = true};
	r = http_start(http, &req, &hc->resp, on_answer, hc, &hc->transfer);
	if (r == 0)
		hc->busy = true;
	return r;
}

void health_call_cancel(struct health_call *hc)
{
	if (!hc->busy)
		return;
	http_cancel(hc->http, hc->transfer);
	http_response_free(&hc->resp);
	hc->busy = false;
}

int health_read_result(int r, long status, const struct strbuf *body, int rise,
                       struct health_view *v)
{
	memset(v, 0, sizeof(*v));
	if (r < 0)
		return r;
	if (status != 200)
		return -EPROTO;
	return health_view_parse(strbuf_str(body), body->len, rise, v);
}

int health_set_drain_result(int r, long status)
{
	if (r < 0)
		return r;
	return status >= 200 && status < 300 ? 0 : -EPROTO;
}

static void add_failing(struct health_view *v, const char *name, const char *why)
{
	size_t len = strlen(v->failing);

	snprintf(v->failing + len, sizeof(v->failing) - len, "%s%s (%s)", len ? ", " : "", name,
	         why);
}

int health_read(const char *socket_path, int rise, struct health_view *v)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	long status = 0;
	int r;

	memset(v, 0, sizeof(*v));
	r = health_control(socket_path, "GET", CONTROL_PATH_STATUS, &status, &body);
	return health_read_result(r, status, &body, rise, v);
}

int health_view_parse(const char *json, size_t len, int rise, struct health_view *v)
{
	_cleanup_json_ json_t *doc = json_loadb(json, len, 0, NULL);
	json_t *checks, *c, *lb;
	const char *name;
	size_t i;

	memset(v, 0, sizeof(*v));
	if (!json_is_object(doc))
		return -EPROTO;
	format_into(v->status, sizeof(v->status), "%s",
	            json_string_value(json_object_get(doc, CONTROL_FIELD_STATUS))
	                    ? json_string_value(json_object_get(doc, CONTROL_FIELD_STATUS))
	                    : "");
	v->draining = json_is_true(json_object_get(doc, CONTROL_FIELD_DRAINING));
	v->in_flight = (long)json_integer_value(json_object_get(doc, CONTROL_FIELD_IN_FLIGHT));
	lb = json_object_get(doc, CONTROL_FIELD_LOAD_BALANCER);
	v->drain_confirmed = json_is_true(json_object_get(lb, CONTROL_LB_DRAIN_CONFIRMED));
	v->probers = (int)json_integer_value(json_object_get(lb, CONTROL_LB_RECENT));
	v->requests = (unsigned long long)json_integer_value(
	        json_object_get(doc, CONTROL_FIELD_REQUESTS));
	json_array_foreach(json_object_get(lb, CONTROL_LB_PROBERS), i, c) v->probes +=
	        (unsigned long long)json_integer_value(json_object_get(c, CONTROL_PROBER_PROBES));
	/* asg-health's own verdict says a critical check passes once it
	 * passed `rise` times after a failure, but its first result counts
	 * at once; the launch gate wants `rise` real passes. */
	v->checks_ready = true;
	checks = json_object_get(doc, CONTROL_FIELD_CHECKS);
	json_object_foreach(checks, name, c)
	{
		const char *st = json_string_value(json_object_get(c, CONTROL_CHECK_STATE));
		json_int_t passes = json_integer_value(json_object_get(c, CONTROL_CHECK_PASSES));

		if (!json_is_true(json_object_get(c, CONTROL_CHECK_CRITICAL)))
			continue;
		if (!st || strcmp(st, CONTROL_CHECK_PASS)) {
			v->checks_ready = false;
			add_failing(v, name, st ? st : "no state");
		} else if (passes < rise) {
			v->checks_ready = false;
			add_failing(v, name, "passed fewer than rise times");
		}
	}
	if (!strcmp(v->status, CONTROL_STATUS_UNHEALTHY))
		v->checks_ready = false;
	return 0;
}

int health_set_drain(const char *socket_path, bool drain)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	long status = 0;
	int r = health_control(socket_path, "POST",
	                       drain ? CONTROL_PATH_DRAIN : CONTROL_PATH_UNDRAIN, &status, &body);

	return health_set_drain_result(r, status);
}
