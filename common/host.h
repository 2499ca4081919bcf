/* Whether a host name or address is this machine's loopback: shared by
 * asg-health (a check of a remote host is not critical by default) and
 * asg-agent's doctor (a critical check of a remote host is a shared
 * dependency: every instance fails, and is replaced, together). */
#ifndef ASG_COMMON_HOST_H
#define ASG_COMMON_HOST_H

#include <stdbool.h>

/* "localhost" and its subdomains (RFC 6761 6.3), 127.0.0.0/8, ::1 and
 * ::ffff:127.x.y.z, with or without [brackets] and a trailing dot. */
bool host_is_loopback(const char *host);

#endif
