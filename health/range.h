/* HTTP request header logic that decides which representation and which
 * bytes to send: Range, conditional requests, Accept-Encoding. */
#ifndef ASG_HEALTH_RANGE_H
#define ASG_HEALTH_RANGE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum range_result {
	RANGE_NONE,          /* no usable Range: send the whole file (200) */
	RANGE_SINGLE,        /* one satisfiable range: 206 */
	RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * /size */
};

/* Parses a Range header against a representation of size bytes.  Invalid
 * syntax and multiple ranges give RANGE_NONE (RFC 9110 lets a server ignore
 * Range; multi-range answers 200 with the whole file). */
enum range_result range_parse(const char *header, uint64_t size, uint64_t *first, uint64_t *last);

/* If-None-Match: true if the list contains etag (weak comparison) or "*". */
bool etag_list_matches(const char *header, const char *etag);
/* Conditional GET: true when a 304 is the answer.  If-None-Match, when
 * present, wins over If-Modified-Since (RFC 9110 13.2.2). */
bool request_not_modified(const char *if_none_match, const char *if_modified_since,
                          const char *etag, time_t mtime);
/* If-Range: true if the range may be honoured (strong etag or exact date). */
bool if_range_allows(const char *if_range, const char *etag, time_t mtime);

enum encoding { ENC_IDENTITY = 0, ENC_GZIP = 1, ENC_BR = 2 };
/* Accept-Encoding: bitmask of (1 << ENC_GZIP) | (1 << ENC_BR) acceptable
 * with q > 0. */
unsigned accept_encoding_parse(const char *header);

#endif
