/* The accept loop, head deadlines and lingering close (connections.h says
 * why each exists).  One thread runs an epoll loop over the listening
 * sockets, an eventfd to wake it and the lingering sockets; every 250 ms
 * it sweeps the tracked connections for head deadlines.  At
 * max_connections it closes the connection waiting longest for its client
 * when another waits in the backlog (an eviction, connections.h).
 *
 * Descriptor safety: the loop calls shutdown() and getsockopt() on sockets
 * MHD owns.  It does so only under c->lock, and MHD's "closed" notification
 * (which removes the connection from our list under the same lock) runs
 * before MHD closes the socket (daemon.c, MHD_cleanup_connections and
 * close_all_connections), so a descriptor number is never used after it
 * could have been reused. */
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connections.h"
#include "log.h"
#include "timeutil.h"

#define MAX_LISTEN 16
#define SWEEP_MS   250
/* A lingering close is bounded: at most this many sockets at once (more
 * are closed at once), this long each, this many bytes thrown away. */
#define LINGER_MAX   256
#define LINGER_MS    5000
#define LINGER_BYTES (16u << 20)
/* Evictions are logged at most this often (with the count since). */
#define EVICT_LOG_MS 10000

enum source_kind { SRC_LISTEN, SRC_WAKE, SRC_LINGER };

struct source {
	enum source_kind kind;
	int fd;
};

struct lingering {
	struct source src; /* first: the epoll data points here */
	struct lingering *next;
	uint64_t deadline_ms;
	uint64_t discarded;
};

/* MHD's threads change a connection's phase on every request without a
 * lock: one lock for all connections, taken twice a request, cost two
 * futex calls a request between MHD's threads (BENCHMARKS.md).  The loop
 * reads the atomics under c->lock, which guards the list itself. */
struct tracked {
	struct tracked *prev, *next; /* c->tracked list, under c->lock */
	struct connections *owner;
	int fd;                     /* MHD's; valid while listed */
	_Atomic int phase;          /* enum conn_phase */
	_Atomic uint64_t since_ms;  /* accepted, or its last request ended */
	_Atomic uint64_t idle_mark; /* NO_MARK until the sweep takes it */
	atomic_bool errored;
	uint64_t head_start_ms; /* loop thread (and before listing) */
	bool cut, evicted;      /* under c->lock */
	bool pinned;            /* under c->lock: the sweep reads fd unlocked */
	uint64_t sent_mark;     /* bytes written counted so far; under c->lock */
};

#define NO_MARK UINT64_MAX
/* Bytes that arrived this long after a request ended start the next head
 * (tcpi_last_data_recv counts in jiffies: the slack keeps the request's own
 * bytes from counting). */
#define RECV_SLACK_MS 20

struct connections {
	pthread_mutex_t lock;
	pthread_cond_t unpinned;          /* a pinned connection's close waits */
	struct tracked *tracked;          /* list, under lock */
	struct lingering *lingering;      /* list, loop thread only */
	size_t n_lingering;               /* loop thread only */
	struct source listen[MAX_LISTEN]; /* owned fds */
	size_t n_listen;
	struct source wake;        /* owned eventfd */
	int epfd;                  /* owned */
	struct MHD_Daemon *daemon; /* not owned */
	struct connections_limits lim;
	atomic_bool accepting, stop;
	atomic_bool accept_stopped;         /* the loop saw !accepting: no more adds */
	uint64_t paused_until_ms;           /* loop thread only: accept failed */
	bool no_victim;                     /* loop thread only: full, none to evict */
	uint64_t evict_log_ms, evict_log_n; /* loop thread only */
	_Atomic unsigned evicting;          /* evicted, not yet closed by MHD */
	pthread_t thread;
	bool started;
	/* Linger requests from MHD's threads, taken by the loop. */
	int pending_linger[LINGER_MAX];
	size_t n_pending_linger; /* under lock */
	_Atomic uint64_t open, accepted, head_timeouts, lingering_now, lingered, evictions;
	_Atomic uint64_t sent; /* bytes written to the sockets, summed */
};

enum conn_action conn_sweep_decide(enum conn_phase phase, uint64_t head_start_ms,
                                   uint64_t idle_mark, uint64_t bytes_received, uint64_t now_ms,
                                   uint64_t header_timeout_ms)
{
	switch (phase) {
	case CONN_HEAD:
		return now_ms >= head_start_ms && now_ms - head_start_ms >= header_timeout_ms
		               ? CONN_CUT
		               : CONN_KEEP;
	case CONN_IDLE:
		return bytes_received > idle_mark ? CONN_HEAD_STARTED : CONN_KEEP;
	case CONN_REQUEST:
		break;
	}
	return CONN_KEEP;
}

bool conn_data_after(uint64_t since_ms, uint64_t now_ms, uint64_t last_data_recv_ms)
{
	return now_ms >= last_data_recv_ms && now_ms - last_data_recv_ms > since_ms + RECV_SLACK_MS;
}

bool conn_evict_before(const struct conn_wait *a, const struct conn_wait *b)
{
	/* A request being answered is the server's work, not a client's
	 * wait: a full table of downloads waits for MHD's own timeouts. */
	if (a->closing || a->phase == CONN_REQUEST)
		return false;
	/* Ties go to a: the caller walks its list from the newest connection
	 * to the oldest, so of two that started waiting in the same
	 * millisecond the one accepted first goes. */
	return !b || a->since_ms <= b->since_ms;
}

bool conn_should_linger(enum conn_phase phase, bool errored, bool cut, uint64_t unread,
                        uint64_t bytes_received)
{
	if (cut)
		return false; /* a slow client gets no more time */
	if (unread > 0 || errored)
		return true;
	/* Closed before its head was complete although bytes came: MHD refused
	 * the head (431/414) and the client may still be sending it. */
	return phase == CONN_HEAD && bytes_received > 0;
}

/* The kernel's count of bytes received, and the ms since the last data;
 * with written, also the bytes written so far: those sent once
 * (retransmissions are counted in both tcpi_bytes_sent and
 * tcpi_bytes_retrans) plus those not sent yet.  Data only, so a queued
 * FIN does not change it.  One TCP_INFO serves both. */
static uint64_t bytes_received(int fd, uint64_t *last_data_recv_ms, uint64_t *written)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (last_data_recv_ms)
		*last_data_recv_ms = UINT64_MAX;
	if (written)
		*written = 0;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
		return 0;
	if (last_data_recv_ms)
		*last_data_recv_ms = ti.tcpi_last_data_recv;
	if (written &&
	    len >= offsetof(struct tcp_info, tcpi_bytes_retrans) + sizeof(ti.tcpi_bytes_retrans) &&
	    ti.tcpi_bytes_sent >= ti.tcpi_bytes_retrans)
		*written = ti.tcpi_bytes_sent - ti.tcpi_bytes_retrans + ti.tcpi_notsent_bytes;
	return ti.tcpi_bytes_received;
}

/* Adds what the connection wrote since its last count to the total
 * (under c->lock: the sweep counts idle connections, the close the
 * rest, so no system call is added to a request). */
static void count_sent(struct connections *c, struct tracked *t, uint64_t written)
{
	if (written > t->sent_mark) {
		atomic_fetch_add_explicit(&c->sent, written - t->sent_mark, memory_order_relaxed);
		t->sent_mark = written;
	}
}

static void wake(struct connections *c)
{
	uint64_t one = 1;

	if (write(c->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("cannot wake the connection loop: %s", strerror(errno));
}

int connections_new(struct connections **out, const int *listen_fds, size_t n,
                    const struct connections_limits *limits)
{
	struct connections *c;

	if (n > MAX_LISTEN)
		return -E2BIG;
	c = calloc(1, sizeof(*c));
	if (!c) {
		for (size_t i = 0; i < n; i++)
			close(listen_fds[i]);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->unpinned, NULL);
	c->lim = *limits;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->wake = (struct source){SRC_WAKE, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
	for (size_t i = 0; i < n; i++) {
		/* Sockets from systemd come blocking: the accept batch would
		 * then block in accept4() once the backlog is empty. */
		int fl = fcntl(listen_fds[i], F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(listen_fds[i], F_SETFL, fl | O_NONBLOCK);
		c->listen[c->n_listen++] = (struct source){SRC_LISTEN, listen_fds[i]};
	}
	if (c->epfd < 0 || c->wake.fd < 0 ||
	    epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->wake.fd,
	              &(struct epoll_event){.events = EPOLLIN, .data.ptr = &c->wake}) < 0) {
		int r = -errno;
		connections_free(c);
		return r;
	}
	atomic_init(&c->accepting, true);
	*out = c;
	return 0;
}

/* Full table, a connection in the backlog: closes the connection that has
 * waited longest for its client.  MHD sees EOF and closes it; its "closed"
 * notification wakes the loop, which then accepts.  Returns whether there
 * was one to close. */
static bool evict_one(struct connections *c, uint64_t now)
{
	struct tracked *victim = NULL;
	struct conn_wait best, w;

	pthread_mutex_lock(&c->lock);
	for (struct tracked *t = c->tracked; t; t = t->next) {
		w = (struct conn_wait){atomic_load(&t->phase), atomic_load(&t->since_ms),
		                       t->cut || t->evicted};
		if (conn_evict_before(&w, victim ? &best : NULL)) {
			victim = t;
			best = w;
		}
	}
	if (victim) {
		victim->evicted = true;
		atomic_fetch_add(&c->evicting, 1);
		atomic_fetch_add(&c->evictions, 1);
		shutdown(victim->fd, SHUT_RDWR); /* MHD sees EOF and closes */
	}
	pthread_mutex_unlock(&c->lock);
	if (!victim)
		return false;
	c->evict_log_n++;
	if (now >= c->evict_log_ms + EVICT_LOG_MS || !c->evict_log_ms) {
		log_notice("%u connections open (max_connections): closed %llu waiting for their "
		           "clients to admit new ones, the last after %llu ms",
		           c->lim.max_connections, (unsigned long long)c->evict_log_n,
		           (unsigned long long)(now >= best.since_ms ? now - best.since_ms : 0));
		c->evict_log_ms = now;
		c->evict_log_n = 0;
	}
	return true;
}

static void accept_some(struct connections *c, int lfd)
{
	/* A bounded batch, so one busy listener cannot starve the sweep. */
	for (int i = 0; i < 64 && atomic_load(&c->accepting); i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd;

		if (atomic_load(&c->open) >= c->lim.max_connections) {
			/* Readable at the first try: someone waits in the
			 * backlog.  Later in the batch the backlog may be
			 * empty; epoll says so next time round. */
			if (i == 0 && !atomic_load(&c->evicting) && !evict_one(c, now_mono_ms()))
				c->no_victim = true;
			return;
		}
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The connection stays in the backlog and the socket
				 * stays readable: without a pause this would spin. */
				log_debug("accept: %s; pausing 100 ms", strerror(errno));
				c->paused_until_ms = now_mono_ms() + 100;
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_debug("accept: %s", strerror(errno));
			}
			return;
		}
		atomic_fetch_add(&c->accepted, 1);
		atomic_fetch_add(&c->open, 1);
		/* MHD closes the socket itself when it cannot take it. */
		if (MHD_add_connection(c->daemon, fd, (struct sockaddr *)&ss, len) != MHD_YES)
			atomic_fetch_sub(&c->open, 1);
	}
}

static void linger_close(struct connections *c, struct lingering *l)
{
	struct lingering **pp;

	for (pp = &c->lingering; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	/* Explicitly: close() alone leaves the registration in place while
	 * another descriptor (MHD's, closed just after its notification)
	 * still refers to the socket, and epoll would report l after free. */
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, l->src.fd, NULL);
	close(l->src.fd);
	c->n_lingering--;
	atomic_fetch_sub(&c->lingering_now, 1);
	free(l);
}

static void linger_read(struct connections *c, struct lingering *l)
{
	char buf[16384];

	for (;;) {
		ssize_t n = read(l->src.fd, buf, sizeof(buf));
		if (n > 0) {
			l->discarded += (uint64_t)n;
			if (l->discarded < LINGER_BYTES)
				continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			return;
		}
		linger_close(c, l); /* EOF, error or enough */
		return;
	}
}

/* Takes the sockets MHD's threads handed over (dup'ed, half-closed). */
static void linger_adopt(struct connections *c, uint64_t now)
{
	int fds[LINGER_MAX];
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n_pending_linger;
	memcpy(fds, c->pending_linger, n * sizeof(int));
	c->n_pending_linger = 0;
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++) {
		struct lingering *l = c->n_lingering < LINGER_MAX ? calloc(1, sizeof(*l)) : NULL;
		if (!l) {
			close(fds[i]);
			atomic_fetch_sub(&c->lingering_now, 1);
			continue;
		}
		l->src = (struct source){SRC_LINGER, fds[i]};
		l->deadline_ms = now + LINGER_MS;
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, l->src.fd,
		              &(struct epoll_event){.events = EPOLLIN | EPOLLRDHUP,
		                                    .data.ptr = l}) < 0) {
			close(l->src.fd);
			atomic_fetch_sub(&c->lingering_now, 1);
			free(l);
			continue;
		}
		l->next = c->lingering;
		c->lingering = l;
		c->n_lingering++;
		atomic_fetch_add(&c->lingered, 1);
	}
}

/* TCP_INFO of a listed connection, read without c->lock held (with 3000
 * connections the reads took 2.3 ms a sweep, and a new connection's
 * "opened" waited for them): the pin keeps MHD's close, and so the
 * descriptor, waiting until the read is done.  Called and returns with
 * c->lock held; t stays listed. */
static uint64_t pinned_tcp_info(struct connections *c, struct tracked *t, uint64_t *last_recv)
{
	uint64_t bytes, written;

	t->pinned = true;
	pthread_mutex_unlock(&c->lock);
	bytes = bytes_received(t->fd, last_recv, &written);
	pthread_mutex_lock(&c->lock);
	t->pinned = false;
	pthread_cond_broadcast(&c->unpinned);
	count_sent(c, t, written);
	return bytes;
}

static void sweep(struct connections *c, uint64_t now)
{
	pthread_mutex_lock(&c->lock);
	for (struct tracked *t = c->tracked; t; t = t->next) {
		int phase = atomic_load(&t->phase);
		uint64_t bytes = 0, last_recv, mark = atomic_load(&t->idle_mark);
		enum conn_action act;

		if (phase == CONN_IDLE && mark == NO_MARK) {
			/* The mark is taken here, not at the end of each request
			 * (a system call a request): bytes that came meanwhile
			 * are told by their time instead. */
			bytes = pinned_tcp_info(c, t, &last_recv);
			if (!conn_data_after(atomic_load(&t->since_ms), now, last_recv)) {
				atomic_compare_exchange_strong(&t->idle_mark, &mark, bytes);
				continue;
			}
			act = CONN_HEAD_STARTED;
		} else {
			if (phase == CONN_IDLE)
				bytes = pinned_tcp_info(c, t, NULL);
			act = conn_sweep_decide(phase, t->head_start_ms, mark, bytes, now,
			                        c->lim.header_timeout_ms);
		}
		switch (act) {
		case CONN_HEAD_STARTED:
			if (atomic_compare_exchange_strong(&t->phase, &phase, CONN_HEAD))
				t->head_start_ms = now;
			break;
		case CONN_CUT:
			if (!t->cut && atomic_load(&t->phase) == CONN_HEAD) {
				t->cut = true;
				atomic_fetch_add(&c->head_timeouts, 1);
				shutdown(t->fd, SHUT_RDWR); /* MHD sees EOF and closes */
			}
			break;
		case CONN_KEEP:
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	c->no_victim = false; /* phases changed meanwhile: look again */
	for (struct lingering *l = c->lingering, *next; l; l = next) {
		next = l->next;
		if (now >= l->deadline_ms)
			linger_close(c, l);
	}
}

static void set_listening(struct connections *c, bool on)
{
	for (size_t i = 0; i < c->n_listen; i++) {
		if (on)
			epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->listen[i].fd,
			          &(struct epoll_event){.events = EPOLLIN,
			                                .data.ptr = &c->listen[i]});
		else
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->listen[i].fd, NULL);
	}
}

static void *loop(void *arg)
{
	struct connections *c = arg;
	bool listening = false;
	uint64_t next_sweep = now_mono_ms() + SWEEP_MS;

	while (!atomic_load(&c->stop)) {
		struct epoll_event ev[64];
		/* Full: listen only to evict for a waiting connection, one
		 * eviction at a time. */
		bool want = atomic_load(&c->accepting) && now_mono_ms() >= c->paused_until_ms &&
		            (atomic_load(&c->open) < c->lim.max_connections ||
		             (!atomic_load(&c->evicting) && !c->no_victim));
		uint64_t now;
		int n;

		if (!atomic_load(&c->accepting))
			atomic_store(&c->accept_stopped, true);
		if (want != listening)
			set_listening(c, listening = want);
		/* At max_connections, look again soon: a close frees a slot
		 * (and wakes us when the table was full; this is the backstop). */
		n = epoll_wait(c->epfd, ev, 64,
		               !want && atomic_load(&c->accepting) ? 20 : SWEEP_MS);
		for (int i = 0; i < n; i++) {
			struct source *src = ev[i].data.ptr;
			uint64_t v;

			switch (src->kind) {
			case SRC_LISTEN:
				if (atomic_load(&c->accepting))
					accept_some(c, src->fd);
				break;
			case SRC_WAKE:
				if (read(src->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_debug("eventfd: %s", strerror(errno));
				break;
			case SRC_LINGER:
				linger_read(c, (struct lingering *)src);
				break;
			}
		}
		now = now_mono_ms();
		linger_adopt(c, now);
		if (now >= next_sweep) {
			sweep(c, now);
			next_sweep = now + SWEEP_MS;
		}
	}
	if (listening)
		set_listening(c, false);
	return NULL;
}

int connections_start(struct connections *c, struct MHD_Daemon *daemon)
{
	int r;

	c->daemon = daemon;
	if ((r = pthread_create(&c->thread, NULL, loop, c)) != 0)
		return -r;
	c->started = true;
	return 0;
}

void connections_stop_accepting(struct connections *c)
{
	if (!c)
		return;
	atomic_store(&c->accepting, false);
	wake(c);
	/* Synchronous: once this returns no MHD_add_connection is under way,
	 * so the caller may stop the daemon. */
	while (c->started && !atomic_load(&c->accept_stopped))
		sleep_ms(1);
}

void connections_free(struct connections *c)
{
	if (!c)
		return;
	if (c->started) {
		atomic_store(&c->stop, true);
		wake(c);
		pthread_join(c->thread, NULL);
	}
	while (c->lingering)
		linger_close(c, c->lingering);
	for (size_t i = 0; i < c->n_pending_linger; i++)
		close(c->pending_linger[i]);
	for (size_t i = 0; i < c->n_listen; i++)
		close(c->listen[i].fd);
	if (c->wake.fd >= 0)
		close(c->wake.fd);
	if (c->epfd >= 0)
		close(c->epfd);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->unpinned);
	free(c);
}

static struct tracked *tracked_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void connections_opened(struct connections *c, struct MHD_Connection *conn, void **socket_context)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct tracked *t = calloc(1, sizeof(*t));

	*socket_context = t;
	if (!t || !ci)
		return; /* untracked: MHD's own timeouts still apply */
	t->owner = c;
	t->fd = ci->connect_fd;
	t->head_start_ms = now_mono_ms();
	atomic_init(&t->phase, CONN_HEAD);
	atomic_init(&t->since_ms, t->head_start_ms);
	atomic_init(&t->idle_mark, NO_MARK);
	atomic_init(&t->errored, false);
	pthread_mutex_lock(&c->lock);
	t->next = c->tracked;
	if (t->next)
		t->next->prev = t;
	c->tracked = t;
	pthread_mutex_unlock(&c->lock);
}

void connections_closed(struct connections *c, void **socket_context)
{
	struct tracked *t = *socket_context;
	uint64_t received, written;
	int unread = 0, dup_fd = -1;
	bool was_full = atomic_fetch_sub(&c->open, 1) >= c->lim.max_connections;

	if (!t) {
		if (was_full)
			wake(c);
		return;
	}
	*socket_context = NULL;
	pthread_mutex_lock(&c->lock);
	while (t->pinned) /* a TCP_INFO read of the sweep, microseconds */
		pthread_cond_wait(&c->unpinned, &c->lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		c->tracked = t->next;
	if (t->next)
		t->next->prev = t->prev;
	/* What was written since the last request ended: MHD's own answers
	 * (a 431 of its own) are counted here. */
	received = bytes_received(t->fd, NULL, &written);
	count_sent(c, t, written);
	if (ioctl(t->fd, FIONREAD, &unread) < 0)
		unread = 0;
	if (conn_should_linger(atomic_load(&t->phase), atomic_load(&t->errored),
	                       t->cut || t->evicted, (uint64_t)unread,
	                       atomic_load(&t->phase) == CONN_HEAD ? received : 0) &&
	    c->n_pending_linger < LINGER_MAX && atomic_load(&c->lingering_now) < LINGER_MAX &&
	    (dup_fd = fcntl(t->fd, F_DUPFD_CLOEXEC, 3)) >= 0) {
		/* The response is in the send buffer: FIN after it, then keep
		 * reading so MHD's close does not turn into a reset. */
		shutdown(dup_fd, SHUT_WR);
		c->pending_linger[c->n_pending_linger++] = dup_fd;
		atomic_fetch_add(&c->lingering_now, 1);
	}
	if (t->evicted)
		atomic_fetch_sub(&c->evicting, 1);
	pthread_mutex_unlock(&c->lock);
	/* A freed slot: the loop may be waiting to accept. */
	if (dup_fd >= 0 || was_full || t->evicted)
		wake(c);
	free(t);
}

void connections_head_done(struct MHD_Connection *conn, bool errored)
{
	struct tracked *t = tracked_of(conn);

	if (!t)
		return;
	atomic_store(&t->errored, errored);
	atomic_store(&t->phase, CONN_REQUEST);
}

void connections_request_done(struct MHD_Connection *conn)
{
	struct tracked *t = tracked_of(conn);

	if (!t)
		return;
	if (atomic_load(&t->phase) == CONN_REQUEST) {
		/* Before the phase: a sweep that sees IDLE sees these. */
		atomic_store(&t->since_ms, now_mono_ms());
		atomic_store(&t->idle_mark, NO_MARK);
		atomic_store(&t->phase, CONN_IDLE);
	}
}

void connections_get_stats(struct connections *c, struct connections_stats *s)
{
	s->open = atomic_load(&c->open);
	s->accepted = atomic_load(&c->accepted);
	s->head_timeouts = atomic_load(&c->head_timeouts);
	s->lingering = atomic_load(&c->lingering_now);
	s->lingered = atomic_load(&c->lingered);
	s->evictions = atomic_load(&c->evictions);
	s->sent = atomic_load(&c->sent);
}
