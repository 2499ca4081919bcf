/* Prebuilt responses (see responses.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "responses.h"

enum error_slot {
	ERR_400,
	ERR_403,
	ERR_404,
	ERR_405,
	ERR_413,
	ERR_414,
	ERR_431,
	ERR_500,
	ERR_503,
	ERR_COUNT
};
static const unsigned error_status[ERR_COUNT] = {400, 403, 404, 405, 413, 414, 431, 500, 503};
static const char *const error_text[ERR_COUNT] = {"Bad Request",
                                                  "Forbidden",
                                                  "Not Found",
                                                  "Method Not Allowed",
                                                  "Content Too Large",
                                                  "URI Too Long",
                                                  "Request Header Fields Too Large",
                                                  "Internal Server Error",
                                                  "Service Unavailable"};

struct responses {
	struct MHD_Response *errors[ERR_COUNT][2]; /* owned; [close] */
	size_t error_len[ERR_COUNT];               /* their bodies' lengths */
	struct MHD_Response *live;                 /* owned */
	size_t live_len;
};

/* See responses_queue(). */
static _Thread_local uint64_t queued_body = UINT64_MAX;

enum MHD_Result responses_queue(struct MHD_Connection *conn, unsigned status,
                                struct MHD_Response *r, uint64_t body_bytes)
{
	queued_body = body_bytes;
	return MHD_queue_response(conn, status, r);
}

uint64_t responses_take_queued_body(void)
{
	uint64_t b = queued_body;

	queued_body = UINT64_MAX;
	return b;
}

static struct MHD_Response *text_response(const char *body, const char *type, bool close_conn)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (close_conn)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return r;
}

static int build(struct responses *s)
{
	for (int i = 0; i < ERR_COUNT; i++)
		for (int c = 0; c < 2; c++) {
			char body[128];
			s->error_len[i] = (size_t)snprintf(body, sizeof(body), "%u %s\n",
			                                   error_status[i], error_text[i]);
			s->errors[i][c] = text_response(body, "text/plain; charset=utf-8", c);
			if (!s->errors[i][c])
				return -ENOMEM;
			if (error_status[i] == 405)
				MHD_add_response_header(s->errors[i][c], MHD_HTTP_HEADER_ALLOW,
				                        "GET, HEAD");
			/* Every 503 of ours is transient (a file changing under
			 * us, descriptors exhausted): say when to try again. */
			if (error_status[i] == 503)
				MHD_add_response_header(s->errors[i][c],
				                        MHD_HTTP_HEADER_RETRY_AFTER, "1");
		}
	s->live = text_response("{\"status\":\"alive\"}\n", "application/json", false);
	s->live_len = strlen("{\"status\":\"alive\"}\n");
	if (!s->live)
		return -ENOMEM;
	MHD_add_response_header(s->live, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return 0;
}

int responses_new(struct responses **out)
{
	struct responses *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	if ((r = build(s)) < 0) {
		responses_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void responses_free(struct responses *s)
{
	if (!s)
		return;
	for (int i = 0; i < ERR_COUNT; i++)
		for (int c = 0; c < 2; c++)
			if (s->errors[i][c])
				MHD_destroy_response(s->errors[i][c]);
	if (s->live)
		MHD_destroy_response(s->live);
	free(s);
}

enum MHD_Result responses_queue_error(const struct responses *s, struct MHD_Connection *conn,
                                      unsigned status, bool close_conn)
{
	for (int i = 0; i < ERR_COUNT; i++)
		if (error_status[i] == status)
			return responses_queue(conn, status, s->errors[i][close_conn],
			                       s->error_len[i]);
	return responses_queue(conn, 500, s->errors[ERR_500][1], s->error_len[ERR_500]);
}

struct MHD_Response *responses_live(const struct responses *s)
{
	return s->live;
}

enum MHD_Result responses_queue_live(const struct responses *s, struct MHD_Connection *conn)
{
	return responses_queue(conn, 200, s->live, s->live_len);
}

struct MHD_Response *responses_json(json_t *doc, bool close_conn)
{
	uint64_t len;

	return responses_json_sized(doc, close_conn, &len);
}

struct MHD_Response *responses_json_sized(json_t *doc, bool close_conn, uint64_t *body_bytes)
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
	*body_bytes = len + 1;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (close_conn)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return r;
}
