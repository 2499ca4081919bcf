/* Prebuilt responses shared by the public listeners and the control
 * socket: the error pages and the liveness answer, built once at start
 * (a queued MHD response is immutable, so each exists with and without
 * "Connection: close"), and JSON documents. */
#ifndef ASG_HEALTH_RESPONSES_H
#define ASG_HEALTH_RESPONSES_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>

struct responses;

int responses_new(struct responses **out);
void responses_free(struct responses *r);
/* Queues the prebuilt answer for an error status (400, 403, 404, 405, 413,
 * 414, 431, 500, 503); any other status gets the 500, closing. */
enum MHD_Result responses_queue_error(const struct responses *r, struct MHD_Connection *conn,
                                      unsigned status, bool close_conn);
/* {"status":"alive"}: the answer to <health_path>/live. */
struct MHD_Response *responses_live(const struct responses *r);
enum MHD_Result responses_queue_live(const struct responses *r, struct MHD_Connection *conn);
/* MHD_queue_response, noting body_bytes (the length of r's body) for this
 * thread's request: libmicrohttpd cannot tell the size of a queued
 * response, and the access log wants it.  Every response of the public
 * listeners is queued through here, synchronously in the thread that runs
 * the request's handler, so the note cannot belong to another request. */
enum MHD_Result responses_queue(struct MHD_Connection *conn, unsigned status,
                                struct MHD_Response *r, uint64_t body_bytes);
/* The body_bytes of this thread's last responses_queue() since the last
 * call, or UINT64_MAX if there was none. */
uint64_t responses_take_queued_body(void);
/* A new response with doc as compact JSON and a newline, never cached;
 * NULL when out of memory.  The caller destroys it. */
struct MHD_Response *responses_json(json_t *doc, bool close_conn);
/* The same, with the body's length in *body_bytes. */
struct MHD_Response *responses_json_sized(json_t *doc, bool close_conn, uint64_t *body_bytes);

#endif
