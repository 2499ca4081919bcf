/* libcurl, loaded on first use.  Only the http check needs it, and linking
 * it would map libcurl's whole dependency tree (libssl, libcrypto,
 * Kerberos, LDAP, ...) into every asg-health process: about 3 MiB of
 * resident memory for a feature most configurations do not use. */
#ifndef ASG_HEALTH_CURL_LOADER_H
#define ASG_HEALTH_CURL_LOADER_H

#include <stddef.h>
#include <curl/curl.h>

struct curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *e, CURLoption option, ...);
	CURLcode (*easy_getinfo)(CURL *e, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode code);
	void (*easy_cleanup)(CURL *e);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *e);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *e);
	CURLMcode (*multi_perform)(CURLM *m, int *running);
	CURLMsg *(*multi_info_read)(CURLM *m, int *queued);
	CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd *fds, unsigned n, int timeout_ms,
	                        int *numfds);
	CURLMcode (*multi_cleanup)(CURLM *m);
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *u, CURLUPart part, const char *content, unsigned flags);
	CURLUcode (*url_get)(const CURLU *u, CURLUPart part, char **content, unsigned flags);
	void (*url_cleanup)(CURLU *u);
	void (*free)(void *p);
};

/* Loads libcurl.so.4 and curl_global_init()s it, once per process.
 * Returns NULL (with the reason in err) if it cannot be loaded. */
const struct curl_api *curl_api_get(char *err, size_t len);

#endif
