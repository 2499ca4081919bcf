/* Content types by file extension, for the web's common types. */
#ifndef ASG_HEALTH_MIME_H
#define ASG_HEALTH_MIME_H

#include <stdbool.h>

/* Content-Type for a file name; text types carry "; charset=utf-8".
 * Unknown extensions are application/octet-stream. */
const char *mime_type_for(const char *name);
/* True for types worth precompressing (text, json, svg, wasm ...): these
 * responses carry Vary: Accept-Encoding. */
bool mime_is_compressible(const char *content_type);

#endif
