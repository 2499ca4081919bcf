/* libcurl wrapper (see http.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"
#include "secret.h"
#include "watchdog.h"

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

/* Drives one transfer on the client's multi handle, waking at least every
 * 100 ms to keep systemd's watchdog fed, do the loop's idle work (answer
 * `asg-agent status`) and give up when SIGTERM is pending: a slow endpoint
 * can neither starve the status socket nor delay shutdown.  Except a POST
 * (an AWS call that may change state): AWS may apply it after we hang up,
 * and the exit flush then sent the same metric periods again (a period
 * published twice, seen at load 40).  It ends within its own timeout. */
static CURLcode perform(struct http_client *c, bool finish_on_stop)
{
	CURLM *multi = c->multi;
	CURLcode result = CURLE_OK;
	CURLMsg *msg;
	int running = 1, queued;

	if (curl_multi_add_handle(multi, c->curl) != CURLM_OK)
		return CURLE_FAILED_INIT;
	for (;;) {
		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			result = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		watchdog_idle();
		if (!finish_on_stop && watchdog_stop_pending()) {
			result = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK) {
			result = CURLE_FAILED_INIT;
			break;
		}
	}
	if (!running)
		while ((msg = curl_multi_info_read(multi, &queued)))
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->curl)
				result = msg->data.result;
	curl_multi_remove_handle(multi, c->curl);
	return result;
}

int http_client_init(struct http_client *c)
{
	static bool global_done;

	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		global_done = true;
	}
	c->curl = curl_easy_init();
	c->multi = curl_multi_init();
	if (!c->curl || !c->multi) {
		http_client_free(c);
		return -ENOMEM;
	}
	return 0;
}

void http_client_free(struct http_client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	c->curl = NULL;
	c->multi = NULL;
}

void http_response_free(struct http_response *resp)
{
	strbuf_free(&resp->body);
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

int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	CURL *curl = c->curl;
	struct curl_slist *hdrs = NULL;
	CURLcode rc;
	int r;

	memset(resp, 0, sizeof(*resp));
	resp->body.secret = req->secret;
	resp->token_ttl = -1;
	curl_easy_reset(curl);
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
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->body ? req->body_len : 0));
		if (!strcmp(req->method, "PUT"))
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
	} else if (strcmp(req->method, "GET")) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
	}
	/* No "Expect: 100-continue" round trip, and no default
	 * Content-Type we did not sign. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	for (size_t i = 0; hdrs && req->headers && req->headers[i]; i++)
		hdrs = curl_slist_append(hdrs, req->headers[i]);
	if (!hdrs) {
		curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
		return -ENOMEM;
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	rc = perform(c, !strcmp(req->method, "POST"));
	/* resp is the caller's: libcurl must not write there later. */
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	/* The copies of the IMDS token and the session token headers. */
	for (struct curl_slist *h = hdrs; h; h = h->next)
		secret_wipe(h->data, strlen(h->data));
	curl_slist_free_all(hdrs);
	r = map_curl_error(rc);
	if (r < 0) {
		if (!resp->error[0])
			snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(rc));
		return r;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	return 0;
}
