/* Prebuilt responses shared by the public listeners and the control
 * socket: the error pages and the liveness answer, built once at start
 * (a queued MHD response is immutable, so each exists with and without
 * "Connection: close"), and JSON documents. */
#ifndef ASG_HEALTH_RESPONSES_H
#define ASG_HEALTH_RESPONSES_H

#include <stdbool.h>
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
/* A new response with doc as compact JSON and a newline, never cached;
 * NULL when out of memory.  The caller destroys it. */
struct MHD_Response *responses_json(json_t *doc, bool close_conn);

#endif
