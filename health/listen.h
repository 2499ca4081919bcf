/* Listening sockets: from systemd (socket activation) or made from
 * "ADDR:PORT" strings and the control socket path. */
#ifndef ASG_HEALTH_LISTEN_H
#define ASG_HEALTH_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#define LISTEN_MAX 16

struct listeners {
	int http[LISTEN_MAX]; /* owned until handed to the server */
	size_t n_http;
	int control;	      /* owned until handed over; -1 if none */
	bool activated;	      /* came from systemd */
};

/* Takes sockets passed by systemd (LISTEN_FDS), sorting TCP from the Unix
 * control socket.  Returns how many were passed, or -errno. */
int listeners_from_systemd(struct listeners *l);
/* Binds "ADDR:PORT" ("0.0.0.0:80", "[::]:80", "127.0.0.1:8080"). */
int listen_tcp(const char *addr, int *fd_out, char *err, size_t errlen);
/* Binds the control socket at path, mode 0660 from its creation, replacing
 * a stale socket atomically (rename); -EEXIST if path is not a socket. */
int listen_unix(const char *path, int *fd_out, char *err, size_t errlen);

#endif
