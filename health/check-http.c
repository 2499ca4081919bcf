/* HTTP check: a GET to a URL answers with the expected status within the
 * timeout.  A private libcurl multi handle lets us wait on the runner's
 * cancel fd next to the transfer, so stopping never waits out a timeout.
 * No redirects (a 302 to a login page is not "up"), no proxy from the
 * environment (a local URL must not leave the machine), a fresh connection
 * each time (a kept-alive socket would hide a backend that stopped
 * accepting). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <curl/curl.h>

#include "check-internal.h"
#include "curl-loader.h"

/* The body is not judged, only the status: discard it. */
static size_t http_discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

static int http_configure(const struct curl_api *curl, CURL *e, const struct check_spec *s,
                          char *errbuf)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                        \
	do {                                                 \
		if (rc == CURLE_OK)                          \
			rc = curl->easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_URL, s->url);
	SET(CURLOPT_HTTPGET, 1L);
	SET(CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOPROXY, "*");
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_FRESH_CONNECT, 1L);
	SET(CURLOPT_USERAGENT, "asg-health-check/" PACKAGE_VERSION);
	SET(CURLOPT_WRITEFUNCTION, http_discard);
	SET(CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
#undef SET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

/* Drives the transfer until it completes; returns its CURLcode (>= 0) or
 * -ECANCELED / -EIO. */
static int http_perform(const struct curl_api *curl, CURLM *m, int cancel_fd)
{
	for (;;) {
		struct curl_waitfd wfd = {.fd = cancel_fd, .events = CURL_WAIT_POLLIN};
		int running = 0, numfds = 0, queued = 0;
		CURLMsg *msg;

		if (curl->multi_perform(m, &running) != CURLM_OK)
			return -EIO;
		while ((msg = curl->multi_info_read(m, &queued)))
			if (msg->msg == CURLMSG_DONE)
				return (int)msg->data.result;
		if (!running)
			return -EIO;
		/* CURLOPT_TIMEOUT_MS bounds the transfer; the poll timeout only
		 * caps one wait. */
		if (curl->multi_poll(m, cancel_fd >= 0 ? &wfd : NULL, cancel_fd >= 0 ? 1 : 0, 1000,
		                     &numfds) != CURLM_OK)
			return -EIO;
		if (cancel_fd >= 0 && (wfd.revents & CURL_WAIT_POLLIN))
			return -ECANCELED;
	}
}

int check_http_run(const struct check_spec *s, int cancel_fd, char *detail, size_t len)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *e = NULL;
	CURLM *m = NULL;
	long status = 0;
	int r;

	const struct curl_api *curl = curl_api_get(detail, len);

	if (!curl)
		return -EIO;
	e = curl->easy_init();
	m = curl->multi_init();
	if (!e || !m) {
		snprintf(detail, len, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = http_configure(curl, e, s, errbuf);
	if (r < 0) {
		snprintf(detail, len, "cannot configure a request to %s", s->url);
		goto out;
	}
	if (curl->multi_add_handle(m, e) != CURLM_OK) {
		snprintf(detail, len, "cannot start a request to %s", s->url);
		r = -EIO;
		goto out;
	}
	r = http_perform(curl, m, cancel_fd);
	curl->multi_remove_handle(m, e);
	if (r < 0) {
		snprintf(detail, len, "GET %s: %s", s->url,
		         r == -ECANCELED ? "cancelled" : "transfer failed");
		goto out;
	}
	if (r != CURLE_OK) {
		snprintf(detail, len, "GET %s: %s", s->url,
		         errbuf[0] ? errbuf : curl->easy_strerror((CURLcode)r));
		r = 0;
		goto out;
	}
	curl->easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (status == s->expect_status) {
		snprintf(detail, len, "GET %s: %ld", s->url, status);
		r = 1;
	} else {
		snprintf(detail, len, "GET %s: %ld, expected %d", s->url, status, s->expect_status);
		r = 0;
	}
out:
	if (m)
		curl->multi_cleanup(m);
	if (e)
		curl->easy_cleanup(e);
	return r;
}
