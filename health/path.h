/* Request path safety: percent-decoding and normalisation of the raw
 * request target before anything touches the filesystem. */
#ifndef ASG_HEALTH_PATH_H
#define ASG_HEALTH_PATH_H

#include <stdbool.h>
#include <stddef.h>

enum path_flags {
	PATH_TRAILING_SLASH = 1 << 0, /* the request ended in '/' */
	PATH_HAS_DOTFILE = 1 << 1,    /* a segment starts with '.' (not .well-known) */
};

/* Decodes and normalises raw (the path part of the request target, still
 * percent-encoded) into out as a root-relative path without a leading '/'
 * ("" for the root).  Rejects with -EINVAL: no leading '/', bad %-escapes,
 * an encoded NUL or '/', a '..' that climbs above the root.  Sets *flags.
 * -ENAMETOOLONG if out is too small. */
int path_normalize(const char *raw, char *out, size_t len, int *flags);

/* The Location of the redirect from a directory without its trailing
 * slash: "/" + rel percent-encoded (only unreserved characters and '/'
 * stay as they are) + "/".  rel is path_normalize's output, so it has no
 * empty segment and the result always starts with exactly one '/': never
 * "//host" (a network-path reference) or "/\host" (which browsers read as
 * one).  -ENAMETOOLONG if out is too small. */
int path_location(const char *rel, char *out, size_t len);

#endif
