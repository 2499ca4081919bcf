/* libcurl's multi interface under the daemon's poll loop (see http.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cleanup.h"
#include "http.h"
#include "secret.h"
#include "timeutil.h"

struct http_transfer {
	struct http_transfer *next;
	CURL *easy;                 /* owned */
	struct curl_slist *headers; /* owned; wiped (tokens) when freed */
	struct http_response *resp; /* not owned: the caller's */
	http_done_fn done;
	void *ctx;
	bool post;        /* never cut short by an interrupt */
	bool interrupted; /* ends with -EINTR at the next dispatch */
};

struct http_timer {
	struct http_timer *next;
	uint64_t due_ms; /* monotonic */
	http_timer_fn fn;
	void *ctx;
	bool interrupted;
};

#define HTTP_MAX_BODY (4u << 20)

/* libcurl writes its error text straight into the caller's response. */
_Static_assert(sizeof(((struct http_response *)0)->error) >= CURL_ERROR_SIZE,
               "http_response.error holds CURLOPT_ERRORBUFFER");

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct http_response *resp = userdata;
	size_t n = size * nmemb;

	if (resp->body.len + n > HTTP_MAX_BODY)
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	strbuf_append_len(&resp->body, data, n);
	return strbuf_error(&resp->body) ? 0 : n;
}

static void copy_header_value(const char *v, size_t n, char *out, size_t out_len)
{
	while (n && isspace((unsigned char)*v)) {
		v++;
		n--;
	}
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	if (n >= out_len)
		n = out_len - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct http_response *resp = userdata;
	size_t n = size * nmemb;
	const char *colon = memchr(data, ':', n);
	size_t name_len;
	char ttl[32];

	if (!colon)
		return n;
	name_len = (size_t)(colon - data);
	const char *v = colon + 1;
	size_t vlen = n - name_len - 1;
	if (name_len == 4 && !strncasecmp(data, "date", 4)) {
		copy_header_value(v, vlen, resp->date, sizeof(resp->date));
	} else if (name_len == 36 &&
	           !strncasecmp(data, "x-aws-ec2-metadata-token-ttl-seconds", 36)) {
		copy_header_value(v, vlen, ttl, sizeof(ttl));
		resp->token_ttl = strtol(ttl, NULL, 10);
	} else if ((name_len == 16 && !strncasecmp(data, "x-amzn-requestid", 16)) ||
	           (name_len == 16 && !strncasecmp(data, "x-amz-request-id", 16))) {
		copy_header_value(v, vlen, resp->request_id, sizeof(resp->request_id));
	}
	return n;
}

static int map_curl_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_ABORTED_BY_CALLBACK:
		return -EINTR;
	case CURLE_WRITE_ERROR:
		return -EMSGSIZE;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* ---- the client as an event source ---- */

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	size_t i;

	(void)easy;
	(void)socketp;
	for (i = 0; i < c->n_sockets && c->sockets[i].fd != fd; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < c->n_sockets)
			c->sockets[i] = c->sockets[--c->n_sockets];
		return 0;
	}
	if (i == c->n_sockets) {
		if (c->n_sockets == HTTP_MAX_SOCKETS)
			return -1; /* libcurl fails that transfer */
		c->n_sockets++;
	}
	c->sockets[i].fd = fd;
	c->sockets[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
	                               ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	(void)multi;
	c->curl_due_ms = timeout_ms < 0 ? -1 : (int64_t)(now_mono_ms() + (uint64_t)timeout_ms);
	return 0;
}

int http_client_init(struct http_client *c)
{
	static bool global_done;

	memset(c, 0, sizeof(*c));
	c->curl_due_ms = -1;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		global_done = true;
	}
	c->multi = curl_multi_init();
	if (!c->multi)
		return -ENOMEM;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return 0;
}

static void transfer_free(struct http_client *c, struct http_transfer *t)
{
	curl_multi_remove_handle(c->multi, t->easy);
	curl_easy_cleanup(t->easy);
	/* The copies of the IMDS token and the session token headers. */
	for (struct curl_slist *h = t->headers; h; h = h->next)
		secret_wipe(h->data, strlen(h->data));
	curl_slist_free_all(t->headers);
	free(t);
}

static void transfer_unlink(struct http_client *c, struct http_transfer *t)
{
	for (struct http_transfer **p = &c->transfers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			return;
		}
}

void http_cancel(struct http_client *c, struct http_transfer *t)
{
	transfer_unlink(c, t);
	transfer_free(c, t);
}

void http_client_free(struct http_client *c)
{
	while (c->transfers)
		http_cancel(c, c->transfers);
	while (c->timers)
		http_timer_cancel(c, c->timers);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	c->multi = NULL;
}

void http_response_free(struct http_response *resp)
{
	strbuf_free(&resp->body);
}

static CURL *make_easy(const struct http_request *req, struct http_response *resp,
                       struct curl_slist *hdrs)
{
	CURL *curl = curl_easy_init();

	if (!curl)
		return NULL;
	curl_easy_setopt(curl, CURLOPT_URL, req->url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, resp->error);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp);
	/* Never follow redirects: a signed request or an IMDS token must go
	 * nowhere but where it was sent. */
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	/* The SDKs never send IMDS traffic through an HTTP(S)_PROXY from the
	 * environment: the token PUT must reach the link-local address
	 * itself (and a proxy would add X-Forwarded-For, which IMDS
	 * refuses).  AWS endpoints do honour the proxy variables. */
	if (req->no_proxy)
		curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	if (req->unix_socket)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT")) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->body ? req->body_len : 0));
		/* Copied: the request need not outlive http_start(). */
		curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
		if (!strcmp(req->method, "PUT"))
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
	} else if (strcmp(req->method, "GET")) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	return curl;
}

int http_start(struct http_client *c, const struct http_request *req, struct http_response *resp,
               http_done_fn done, void *ctx, struct http_transfer **out)
{
	struct http_transfer *t;

	memset(resp, 0, sizeof(*resp));
	resp->body.secret = req->secret;
	resp->token_ttl = -1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	/* No "Expect: 100-continue" round trip, and no default
	 * Content-Type we did not sign. */
	t->headers = curl_slist_append(NULL, "Expect:");
	for (size_t i = 0; t->headers && req->headers && req->headers[i]; i++) {
		struct curl_slist *h = curl_slist_append(t->headers, req->headers[i]);
		if (!h) {
			curl_slist_free_all(t->headers);
			t->headers = NULL;
			break;
		}
		t->headers = h;
	}
	if (t->headers)
		t->easy = make_easy(req, resp, t->headers);
	if (!t->easy) {
		curl_slist_free_all(t->headers);
		free(t);
		return -ENOMEM;
	}
	t->resp = resp;
	t->done = done;
	t->ctx = ctx;
	t->post = !strcmp(req->method, "POST");
	if (curl_multi_add_handle(c->multi, t->easy) != CURLM_OK) {
		transfer_free(c, t);
		return -EIO;
	}
	t->next = c->transfers;
	c->transfers = t;
	if (out)
		*out = t;
	return 0;
}

/* Detaches t, then tells its owner: the callback may start new work. */
static void finish(struct http_client *c, struct http_transfer *t, CURLcode rc)
{
	struct http_response *resp = t->resp;
	http_done_fn done = t->done;
	void *ctx = t->ctx;
	int r = map_curl_error(rc);

	if (r == 0)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	/* resp is the caller's: libcurl must not write there later. */
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, NULL);
	if (r < 0 && !resp->error[0])
		snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(rc));
	transfer_unlink(c, t);
	transfer_free(c, t);
	done(ctx, r, resp);
}

static struct http_transfer *find_transfer(struct http_client *c, CURL *easy)
{
	struct http_transfer *t;

	for (t = c->transfers; t && t->easy != easy; t = t->next)
		;
	return t;
}

static void finish_done_transfers(struct http_client *c)
{
	CURLMsg *msg;
	int queued;

	while ((msg = curl_multi_info_read(c->multi, &queued))) {
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct http_transfer *t;

		if (msg->msg != CURLMSG_DONE || !(t = find_transfer(c, easy)))
			continue;
		finish(c, t, rc);
	}
	for (;;) {
		struct http_transfer *t;

		for (t = c->transfers; t && !t->interrupted; t = t->next)
			;
		if (!t)
			break;
		finish(c, t, CURLE_ABORTED_BY_CALLBACK);
	}
}

int http_timer_start(struct http_client *c, uint64_t ms, http_timer_fn fn, void *ctx,
                     struct http_timer **out)
{
	struct http_timer *t = calloc(1, sizeof(*t)), **p;

	if (!t)
		return -ENOMEM;
	t->due_ms = now_mono_ms() + ms;
	t->fn = fn;
	t->ctx = ctx;
	for (p = &c->timers; *p && (*p)->due_ms <= t->due_ms; p = &(*p)->next)
		;
	t->next = *p;
	*p = t;
	if (out)
		*out = t;
	return 0;
}

void http_timer_cancel(struct http_client *c, struct http_timer *t)
{
	for (struct http_timer **p = &c->timers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			free(t);
			return;
		}
}

static struct http_timer *next_timer(struct http_client *c, uint64_t now)
{
	struct http_timer *t;

	for (t = c->timers; t && !t->interrupted && t->due_ms > now; t = t->next)
		;
	return t;
}

static void fire_timers(struct http_client *c)
{
	uint64_t now = now_mono_ms();
	struct http_timer *t;

	while ((t = next_timer(c, now))) {
		http_timer_fn fn = t->fn;
		void *ctx = t->ctx;
		bool interrupted = t->interrupted;

		http_timer_cancel(c, t);
		fn(ctx, interrupted);
	}
}

void http_client_interrupt(struct http_client *c)
{
	for (struct http_transfer *x = c->transfers; x; x = x->next)
		if (!x->post)
			x->interrupted = true;
	for (struct http_timer *t = c->timers; t; t = t->next)
		t->interrupted = true;
}

bool http_client_busy(const struct http_client *c)
{
	return c->transfers || c->timers;
}

size_t http_client_fill_poll(const struct http_client *c, struct pollfd *pfd, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_sockets && n < max; i++, n++)
		pfd[n] = (struct pollfd){.fd = c->sockets[i].fd, .events = c->sockets[i].events};
	return n;
}

static int64_t min_due(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	return b < 0 || a < b ? a : b;
}

int http_client_timeout_ms(const struct http_client *c)
{
	int64_t due = c->curl_due_ms, now = (int64_t)now_mono_ms();

	for (const struct http_transfer *t = c->transfers; t; t = t->next)
		if (t->interrupted)
			return 0;
	for (const struct http_timer *t = c->timers; t; t = t->next)
		due = min_due(due, t->interrupted ? 0 : (int64_t)t->due_ms);
	if (due < 0)
		return -1;
	return due <= now ? 0 : due - now > 60000 ? 60000 : (int)(due - now);
}

void http_client_dispatch(struct http_client *c, const struct pollfd *pfd, size_t n)
{
	int running;

	for (size_t i = 0; i < n; i++) {
		bool ours = false;
		int ev = 0;

		if (!pfd[i].revents)
			continue;
		for (size_t k = 0; k < c->n_sockets && !ours; k++)
			ours = c->sockets[k].fd == pfd[i].fd;
		if (!ours)
			continue;
		if (pfd[i].revents & POLLIN)
			ev |= CURL_CSELECT_IN;
		if (pfd[i].revents & POLLOUT)
			ev |= CURL_CSELECT_OUT;
		if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
			ev |= CURL_CSELECT_ERR;
		curl_multi_socket_action(c->multi, pfd[i].fd, ev, &running);
	}
	if (c->curl_due_ms >= 0 && (int64_t)now_mono_ms() >= c->curl_due_ms) {
		c->curl_due_ms = -1;
		curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	finish_done_transfers(c);
	fire_timers(c);
}

/* ---- blocking, for the one-shot commands ---- */

int http_wait(struct http_client *const *clients, size_t n, const bool *done)
{
	while (!*done) {
		struct pollfd pfd[4 * HTTP_MAX_SOCKETS];
		size_t np = 0;
		int timeout = -1;

		for (size_t i = 0; i < n; i++) {
			int t = http_client_timeout_ms(clients[i]);
			np += http_client_fill_poll(clients[i], pfd + np, ARRAY_SIZE(pfd) - np);
			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		if (!np && timeout < 0)
			return -EDEADLK; /* nothing in flight could set *done */
		if (poll(pfd, np, timeout) < 0 && errno != EINTR)
			return -errno;
		for (size_t i = 0; i < n; i++)
			http_client_dispatch(clients[i], pfd, np);
	}
	return 0;
}

struct sync_result {
	bool done;
	int r;
};

static void sync_done(void *ctx, int r, struct http_response *resp)
{
	struct sync_result *s = ctx;

	(void)resp;
	s->done = true;
	s->r = r;
}

int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	struct sync_result s = {false, 0};
	int r = http_start(c, req, resp, sync_done, &s, NULL);

	if (r < 0)
		return r;
	r = http_wait(&c, 1, &s.done);
	return r < 0 ? r : s.r;
}
