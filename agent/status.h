/* The local status socket of the running daemon. */
#ifndef ASG_AGENT_STATUS_H
#define ASG_AGENT_STATUS_H

struct agent;
struct json_t;

/* The local status socket (a line protocol: connect, read one
 * JSON document, EOF). */
int status_listen(const char *path);
/* Accepts pending connections on fd and answers each; never blocks. */
void status_serve(struct agent *a, int fd);
/* The status document (a new reference). */
struct json_t *status_document(const struct agent *a);

/* The client side, for the commands: reads the running daemon's
 * document from path into *out (a new reference).  -errno when the
 * daemon cannot be reached (not running), -EBADMSG when it is not
 * JSON. */
int status_fetch(const char *path, struct json_t **out);

#endif
