/* A real asg-health server in the fuzzer's process: a small site in a
 * temporary directory, a public listener on 127.0.0.1 (a port the kernel
 * picks) and a control socket, both served by libmicrohttpd's threads
 * exactly as the daemon does.  Each input is sent as raw bytes on a new
 * connection, the write side is shut, and the answer is read: what comes
 * back must be HTTP, and never a 500. */
#ifndef ASG_FUZZ_SERVER_HARNESS_H
#define ASG_FUZZ_SERVER_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "fuzz.h"
#include "listen.h"
#include "log.h"
#include "server.h"

static struct {
	char dir[64];
	struct server *server;
	struct sockaddr_in http;
	struct sockaddr_un control;
	struct control *control_server; /* owned; lives as long as the process */
} fz;

static void fz_write_file(const char *name, const char *text, size_t repeat)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/site/%s", fz.dir, name);
	if (!(f = fopen(p, "w")))
		abort();
	for (size_t i = 0; i < repeat; i++)
		fputs(text, f);
	fclose(f);
}

static int fz_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* At the end of a run the site goes (after a crash it stays, beside the
 * crash file, for whoever reproduces it). */
static void fz_cleanup(void)
{
	nftw(fz.dir, fz_remove, 16, FTW_DEPTH | FTW_PHYS);
}

static void fz_start(void)
{
	struct health_config cfg;
	struct site *site;
	char p[256], json[1024], err[1024];
	int http_fd, control_fd;
	socklen_t sl = sizeof(fz.http);

	snprintf(fz.dir, sizeof(fz.dir), "/tmp/asg-fuzz-http-XXXXXX");
	if (!mkdtemp(fz.dir))
		abort();
	atexit(fz_cleanup);
	snprintf(p, sizeof(p), "%s/site", fz.dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/site/docs", fz.dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/site/.git", fz.dir);
	mkdir(p, 0755);
	fz_write_file("index.html", "<!doctype html><title>fuzz</title>\n", 1);
	fz_write_file("docs/index.html", "<p>docs</p>\n", 1);
	fz_write_file("app.css", "body { color: black }\n", 40);
	fz_write_file("app.css.gz", "not really gzip, only a sibling\n", 1);
	fz_write_file("big.bin", "0123456789abcdef", 1 << 14); /* 256 KiB: not cached */
	fz_write_file(".git/config", "[core]\n", 1);
	fz_write_file("404.html", "<p>not here</p>\n", 1);
	snprintf(json, sizeof(json),
	         "{\"root\": \"%s/site\", \"precompressed\": true, \"not_found_page\": "
	         "\"404.html\",\n"
	         " \"cache_max_file_size\": \"64k\", \"threads\": 1}\n",
	         fz.dir);
	if (health_config_parse(&cfg, "fuzz.json", json, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	if (site_new(&site, &cfg, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	if (server_new(&fz.server, site) < 0)
		abort();
	if (listen_tcp("127.0.0.1:0", &http_fd, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	if (getsockname(http_fd, (struct sockaddr *)&fz.http, &sl) < 0)
		abort();
	fz.control.sun_family = AF_UNIX;
	snprintf(fz.control.sun_path, sizeof(fz.control.sun_path), "%s/health.sock", fz.dir);
	if (listen_unix(fz.control.sun_path, &control_fd, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	if (server_start(fz.server, &http_fd, 1) < 0)
		abort();
	if (control_start(&fz.control_server, fz.server, control_fd) < 0)
		abort();
}

/* True when buf holds whole responses, the last ending at len: each a head
 * and Content-Length bytes of body (none for 1xx, 204 and 304). */
static bool fz_complete(const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		const char *head = buf + off, *end = memmem(head, len - off, "\r\n\r\n", 4), *cl;
		size_t body = 0;

		if (!end)
			return false;
		cl = memmem(head, (size_t)(end - head), "\r\nContent-Length: ", 18);
		if (cl &&
		    !(head[9] == '1' || !memcmp(head + 9, "204", 3) || !memcmp(head + 9, "304", 3)))
			body = strtoull(cl + 18, NULL, 10);
		off = (size_t)(end + 4 - buf);
		if (body > len - off)
			return false;
		off += body;
	}
	return true;
}

/* Sends data on a new connection to addr, shuts the write side and reads
 * the answer.  libmicrohttpd (0.9.75, epoll) does not always notice a
 * client's EOF (a half-closed connection waits for connection_timeout), so
 * the read does not wait for the close: it stops once whole responses
 * arrived and nothing follows for a moment, or when nothing comes for
 * 100 ms (an incomplete request). */
static void fz_exchange(const struct sockaddr *addr, socklen_t alen, const uint8_t *data,
                        size_t size)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	static char buf[1 << 20];
	size_t got = 0;
	ssize_t n;

	if (fd < 0 || connect(fd, addr, alen) < 0)
		abort();
	for (size_t off = 0; off < size; off += (size_t)n) {
		n = send(fd, data + off, size - off, MSG_NOSIGNAL);
		if (n < 0)
			break; /* the server closed early (a 4xx and close): fine */
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int wait = got == 0 ? 100 : fz_complete(buf, got) ? 5 : 50;
		int pr = poll(&p, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		n = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf))
			break;
	}
	close(fd);
	if (got == 0)
		return; /* closed without a word: allowed for garbage */
	FUZZ_ASSERT(got >= 12);
	FUZZ_ASSERT(!memcmp(buf, "HTTP/1.1 ", 9) || !memcmp(buf, "HTTP/1.0 ", 9));
	FUZZ_ASSERT(memcmp(buf + 9, "500", 3) != 0);
	/* A redirect stays on this site (issue 9 item 1): its Location is a
	 * path with exactly one leading '/'. */
	for (const char *l = buf; (l = memmem(l, got - (size_t)(l - buf), "\r\nLocation: ", 12));
	     l += 12)
		FUZZ_ASSERT((size_t)(l - buf) + 14 <= got && l[12] == '/' && l[13] != '/' &&
		            l[13] != '\\');
}

static void fz_quiet(void)
{
	/* Every request would log at debug level; keep the fuzzer's
	 * output readable. */
	log_set_level(LOG_WARNING);
}

#endif
