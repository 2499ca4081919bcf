/* LD_PRELOAD shim for health-shutdown.py: widens a race window so the
 * test reproduces in a few iterations what happened once in production.
 *
 * libmicrohttpd's MHD_quiesce_daemon() (0.9.75, daemon.c:5531) marks each
 * worker of a thread pool quiesced and then removes the listening socket
 * from the worker's epoll set, panicking (abort) if that fails; a worker
 * that is awake (a download in flight keeps it so) sees the mark and
 * removes the socket itself first.  Delaying the main thread's
 * EPOLL_CTL_DEL of a listening socket by 50 ms lets the worker win. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	static int (*real)(int, int, int, struct epoll_event *);
	int acc = 0;
	socklen_t l = sizeof(acc);

	if (!real)
		real = (int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
	if (op == EPOLL_CTL_DEL && gettid() == getpid() &&
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) == 0 && acc)
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	return real(epfd, op, fd, ev);
}
