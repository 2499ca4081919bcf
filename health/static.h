/* Static files: the public listeners' answer to every request that is not
 * /health (static.c). */
#ifndef ASG_HEALTH_STATIC_H
#define ASG_HEALTH_STATIC_H

#include <stdbool.h>
#include <microhttpd.h>

#include "responses.h"
#include "site.h"

/* Queues the answer for url (the raw, still escaped path) from site's root,
 * or one of the prebuilt errors of errors. */
enum MHD_Result static_serve(const struct responses *errors, struct site *site,
                             struct MHD_Connection *conn, const char *url, bool close_conn);

#endif
