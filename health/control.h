/* The control socket: asg-health's channel to asg-agent (and to an
 * operator with curl --unix-socket), HTTP on a Unix socket served by its
 * own libmicrohttpd daemon.  Its paths and fields are defined once, in
 * common/control-protocol.h. */
#ifndef ASG_HEALTH_CONTROL_H
#define ASG_HEALTH_CONTROL_H

#include "server.h"

struct control;

/* Serves the control protocol for server on the listening socket fd, which
 * is taken over even on failure.  0 or -errno. */
int control_start(struct control **out, struct server *server, int fd);
/* Stops serving and closes the socket; NULL is a no-op. */
void control_stop(struct control *c);

#endif
