/* A real asg-health server in the fuzzer's process: a small site in a
 * temporary directory, a public listener on 127.0.0.1 (a port the kernel
 * picks) and a control socket, both served by libmicrohttpd's threads
 * exactly as the daemon does.  Each input is sent as raw bytes on a new
 * connection, the write side is shut, and the answer is read to EOF: what
 * comes back must be HTTP, and never a 500. */
#ifndef ASG_FUZZ_SERVER_HARNESS_H
#define ASG_FUZZ_SERVER_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "listen.h"
#include "log.h"
#include "server.h"

static struct {
	char dir[64];
	struct server *server;
	struct sockaddr_in http;
	struct sockaddr_un control;
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
		 "{\"root\": \"%s/site\", \"precompressed\": true, \"not_found_page\": \"404.html\",\n"
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
	if (server_start(fz.server, &http_fd, 1, control_fd) < 0)
		abort();
}

/* Sends data on a new connection to addr and checks the answer.  A stuck
 * answer is a hang: libFuzzer's -timeout reports it. */
static void fz_exchange(const struct sockaddr *addr, socklen_t alen, const uint8_t *data,
			size_t size)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char head[16];
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
		char buf[65536];
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < sizeof(head))
			memcpy(head + got, buf, (size_t)n < sizeof(head) - got ? (size_t)n : sizeof(head) - got);
		got += (size_t)n;
	}
	close(fd);
	if (got == 0)
		return; /* closed without a word: allowed for garbage */
	FUZZ_ASSERT(got >= 12);
	FUZZ_ASSERT(!memcmp(head, "HTTP/1.1 ", 9) || !memcmp(head, "HTTP/1.0 ", 9));
	FUZZ_ASSERT(memcmp(head + 9, "500", 3) != 0);
}

static void fz_quiet(void)
{
	/* Every request would log at debug level; keep the fuzzer's
	 * output readable. */
	log_set_level(LOG_WARNING);
}

#endif
