/* Loads libcurl at run time (see curl-loader.h for why). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "curl-loader.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static struct curl_api curl_api;
static const struct curl_api *curl_loaded;
static char curl_error[256];

#define LOAD(field, symbol)                                                                        \
	do {                                                                                       \
		*(void **)&curl_api.field = dlsym(handle, symbol);                                 \
		if (!curl_api.field) {                                                             \
			snprintf(curl_error, sizeof(curl_error), "libcurl.so.4 lacks %s", symbol); \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static void curl_load(void)
{
	/* Never dlclose()d: the process's lifetime owns it, as curl's global
	 * state must not be torn down while a check could still run. */
	void *handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	CURLcode rc;

	if (!handle) {
		snprintf(curl_error, sizeof(curl_error),
		         "cannot load libcurl.so.4 (install libcurl4): %s", dlerror());
		return;
	}
	LOAD(global_init, "curl_global_init");
	LOAD(easy_init, "curl_easy_init");
	LOAD(easy_setopt, "curl_easy_setopt");
	LOAD(easy_getinfo, "curl_easy_getinfo");
	LOAD(easy_strerror, "curl_easy_strerror");
	LOAD(easy_cleanup, "curl_easy_cleanup");
	LOAD(multi_init, "curl_multi_init");
	LOAD(multi_add_handle, "curl_multi_add_handle");
	LOAD(multi_remove_handle, "curl_multi_remove_handle");
	LOAD(multi_perform, "curl_multi_perform");
	LOAD(multi_info_read, "curl_multi_info_read");
	LOAD(multi_poll, "curl_multi_poll");
	LOAD(multi_cleanup, "curl_multi_cleanup");
	LOAD(url, "curl_url");
	LOAD(url_set, "curl_url_set");
	LOAD(url_get, "curl_url_get");
	LOAD(url_cleanup, "curl_url_cleanup");
	LOAD(free, "curl_free");
	/* curl_global_init is not thread-safe before 7.84: pthread_once
	 * makes it run exactly once. */
	rc = curl_api.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(curl_error, sizeof(curl_error), "libcurl initialisation failed: %s",
		         curl_api.easy_strerror(rc));
		return;
	}
	curl_loaded = &curl_api;
}

const struct curl_api *curl_api_get(char *err, size_t len)
{
	pthread_once(&curl_once, curl_load);
	if (!curl_loaded)
		snprintf(err, len, "%s", curl_error);
	return curl_loaded;
}
