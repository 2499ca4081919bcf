/* The "checks" array of the asg-health config, parsed and validated into
 * plain check_spec structs before anything runs (checks.h).  Every error
 * names the key, through conf_fail, so an operator can fix the file.
 *
 * Every check:  "name" (required, unique, 1-64 of A-Z a-z 0-9 _ . -),
 *   "type" (required), "interval" (5s; 100ms..24h), "timeout" (2s, or the
 *   interval if shorter; 10ms..interval), "rise" and "fall" (2; 1..100),
 *   "critical" (see parse_one).  Durations: 5, "5s", "500ms", "2m".
 * disk:    "path" (absolute), "min_free" (bytes or "1G") and/or
 *          "min_free_percent" (of the filesystem, as an unprivileged user)
 * memory:  "min_available" and/or "min_available_percent" (MemAvailable)
 * file:    "path" (absolute), "must_exist" (required: true or false)
 * tcp:     "host" (name or address), "port" (1..65535)
 * http:    "url" (http:// or https://, certificates verified),
 *          "expect_status" (200)
 * exec:    "command" (array, absolute program first; exit 0 passes) */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "cleanup.h"
#include "check-internal.h"
#include "curl-loader.h"
#include "host.h"

#define CHECKS_MAX     64
#define CHECK_NAME_MAX 64
#define CHECK_ARGV_MAX 64

#define DEFAULT_INTERVAL_MS 5000
#define DEFAULT_TIMEOUT_MS  2000
#define MIN_INTERVAL_MS     100
#define MAX_INTERVAL_MS     (24LL * 3600 * 1000)
#define MIN_TIMEOUT_MS      10
#define DEFAULT_RISE        2
#define DEFAULT_FALL        2

#define COMMON_KEYS "name", "type", "interval", "timeout", "rise", "fall", "critical"

static const struct check_type {
	const char *name;
	enum check_kind kind;
	const char *const *keys; /* allowed keys, NULL-terminated */
} check_types[] = {
        {"disk", CHECK_DISK,
         (const char *const[]){COMMON_KEYS, "path", "min_free", "min_free_percent", NULL}},
        {"memory", CHECK_MEMORY,
         (const char *const[]){COMMON_KEYS, "min_available", "min_available_percent", NULL}},
        {"file", CHECK_FILE, (const char *const[]){COMMON_KEYS, "path", "must_exist", NULL}},
        {"tcp", CHECK_TCP, (const char *const[]){COMMON_KEYS, "host", "port", NULL}},
        {"http", CHECK_HTTP, (const char *const[]){COMMON_KEYS, "url", "expect_status", NULL}},
        {"exec", CHECK_EXEC, (const char *const[]){COMMON_KEYS, "command", NULL}},
};

const char *check_kind_name(enum check_kind kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(check_types); i++)
		if (check_types[i].kind == kind)
			return check_types[i].name;
	return "unknown";
}

bool check_host_is_local(const char *host)
{
	return host_is_loopback(host);
}

void check_spec_clear(struct check_spec *s)
{
	free(s->name);
	free(s->path);
	free(s->host);
	free(s->url);
	if (s->argv)
		for (char **a = s->argv; *a; a++)
			free(*a);
	free(s->argv);
	memset(s, 0, sizeof(*s));
}

void check_specs_free(struct check_spec *specs, size_t n)
{
	if (!specs)
		return;
	for (size_t i = 0; i < n; i++)
		check_spec_clear(&specs[i]);
	free(specs);
}

static int dup_string(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int check_spec_copy(struct check_spec *dst, const struct check_spec *src)
{
	size_t argc = 0;

	*dst = *src;
	dst->name = dst->path = dst->host = dst->url = NULL;
	dst->argv = NULL;
	if (dup_string(&dst->name, src->name) < 0 || dup_string(&dst->path, src->path) < 0 ||
	    dup_string(&dst->host, src->host) < 0 || dup_string(&dst->url, src->url) < 0)
		return -ENOMEM;
	if (!src->argv)
		return 0;
	while (src->argv[argc])
		argc++;
	dst->argv = calloc(argc + 1, sizeof(char *));
	if (!dst->argv)
		return -ENOMEM;
	for (size_t i = 0; i < argc; i++)
		if (dup_string(&dst->argv[i], src->argv[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* --- one key at a time ------------------------------------------------- */

static int parse_required_string(struct conf_doc *doc, json_t *obj, const char *path,
                                 const char *key, const char **out)
{
	int r = conf_get_string(doc, obj, path, key, out);

	if (r == 0)
		return conf_fail(doc, path, "missing required key \"%s\"", key);
	return r < 0 ? r : 0;
}

static int parse_name(struct conf_doc *doc, json_t *obj, const char *path,
                      const struct check_spec *earlier, size_t n_earlier, struct check_spec *s)
{
	const char *name;
	char p[512];
	size_t len;
	int r;

	r = parse_required_string(doc, obj, path, "name", &name);
	if (r < 0)
		return r;
	conf_path_join(p, sizeof(p), path, "name");
	len = strlen(name);
	if (len == 0 || len > CHECK_NAME_MAX)
		return conf_fail(doc, p, "a check name has 1 to %d characters", CHECK_NAME_MAX);
	/* The name appears in journal fields, JSON keys and URLs: keep it to
	 * characters that need no quoting anywhere. */
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
	    len)
		return conf_fail(doc, p, "\"%s\" has characters other than A-Z a-z 0-9 _ . -",
		                 name);
	for (size_t i = 0; i < n_earlier; i++)
		/* every earlier spec has a name: a check without one fails the parse */
		/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
		if (!strcmp(earlier[i].name, name))
			return conf_fail(doc, p, "duplicate check name \"%s\"", name);
	return dup_string(&s->name, name);
}

static int parse_type(struct conf_doc *doc, json_t *obj, const char *path,
                      const struct check_type **out)
{
	const char *type;
	char p[512];
	int r;

	r = parse_required_string(doc, obj, path, "type", &type);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(check_types); i++)
		if (!strcmp(check_types[i].name, type)) {
			*out = &check_types[i];
			return 0;
		}
	return conf_fail(
	        doc, conf_path_join(p, sizeof(p), path, "type"),
	        "unknown check type \"%s\" (expected disk, memory, file, tcp, http or exec)", type);
}

static int parse_timing(struct conf_doc *doc, json_t *obj, const char *path, struct check_spec *s)
{
	long long rise = DEFAULT_RISE, fall = DEFAULT_FALL;
	char p[512];
	int r;

	s->interval_ms = DEFAULT_INTERVAL_MS;
	r = conf_get_duration_ms(doc, obj, path, "interval", MIN_INTERVAL_MS, MAX_INTERVAL_MS,
	                         &s->interval_ms);
	if (r < 0)
		return r;
	r = conf_get_duration_ms(doc, obj, path, "timeout", MIN_TIMEOUT_MS, MAX_INTERVAL_MS,
	                         &s->timeout_ms);
	if (r < 0)
		return r;
	if (r == 0) {
		/* A short interval shortens the default timeout with it. */
		s->timeout_ms =
		        DEFAULT_TIMEOUT_MS < s->interval_ms ? DEFAULT_TIMEOUT_MS : s->interval_ms;
	} else if (s->timeout_ms > s->interval_ms) {
		/* One runner thread: a check that may outlast its interval
		 * would delay every other check's schedule. */
		return conf_fail(doc, conf_path_join(p, sizeof(p), path, "timeout"),
		                 "timeout %lldms is longer than the interval %lldms", s->timeout_ms,
		                 s->interval_ms);
	}
	if (conf_get_int(doc, obj, path, "rise", 1, 100, &rise) < 0 ||
	    conf_get_int(doc, obj, path, "fall", 1, 100, &fall) < 0)
		return -EINVAL;
	s->rise = (int)rise;
	s->fall = (int)fall;
	return 0;
}

static int parse_absolute_path(struct conf_doc *doc, json_t *obj, const char *path, const char *key,
                               char **out)
{
	const char *v;
	char p[512];
	int r = parse_required_string(doc, obj, path, key, &v);

	if (r < 0)
		return r;
	/* Relative paths would depend on the daemon's working directory. */
	if (v[0] != '/')
		return conf_fail(doc, conf_path_join(p, sizeof(p), path, key),
		                 "\"%s\" is not an absolute path", v);
	return dup_string(out, v);
}

/* disk and memory: a size and/or a percentage, at least one. */
static int parse_thresholds(struct conf_doc *doc, json_t *obj, const char *path,
                            const char *size_key, const char *percent_key, struct check_spec *s)
{
	int r1, r2;

	r1 = conf_get_size(doc, obj, path, size_key, 1, LLONG_MAX, &s->min_free_bytes);
	if (r1 < 0)
		return r1;
	r2 = conf_get_double(doc, obj, path, percent_key, 0.001, 100, &s->min_free_percent);
	if (r2 < 0)
		return r2;
	if (r1 == 0 && r2 == 0)
		return conf_fail(doc, path, "set \"%s\" or \"%s\" (or both)", size_key,
		                 percent_key);
	return 0;
}

static int parse_disk(struct conf_doc *doc, json_t *obj, const char *path, struct check_spec *s)
{
	int r = parse_absolute_path(doc, obj, path, "path", &s->path);

	if (r < 0)
		return r;
	return parse_thresholds(doc, obj, path, "min_free", "min_free_percent", s);
}

static int parse_memory(struct conf_doc *doc, json_t *obj, const char *path, struct check_spec *s)
{
	return parse_thresholds(doc, obj, path, "min_available", "min_available_percent", s);
}

static int parse_file(struct conf_doc *doc, json_t *obj, const char *path, struct check_spec *s)
{
	int r = parse_absolute_path(doc, obj, path, "path", &s->path);

	if (r < 0)
		return r;
	/* No default: guessing wrong would take every instance out of service
	 * exactly when the application is ready. */
	r = conf_get_bool(doc, obj, path, "must_exist", &s->must_exist);
	if (r == 0)
		return conf_fail(doc, path,
		                 "missing required key \"must_exist\" (true: the file must "
		                 "exist; false: it must not, as a maintenance flag)");
	return r < 0 ? r : 0;
}

static int parse_tcp(struct conf_doc *doc, json_t *obj, const char *path, struct check_spec *s)
{
	const char *host;
	long long port = 0;
	char p[512];
	int r;

	r = parse_required_string(doc, obj, path, "host", &host);
	if (r < 0)
		return r;
	if (host[0] == '\0' || strlen(host) > 253 || strpbrk(host, " \t\r\n/[]"))
		return conf_fail(doc, conf_path_join(p, sizeof(p), path, "host"),
		                 "\"%s\" is not a host name or address", host);
	r = conf_get_int(doc, obj, path, "port", 1, 65535, &port);
	if (r == 0)
		return conf_fail(doc, path, "missing required key \"port\"");
	if (r < 0)
		return r;
	s->port = (int)port;
	return dup_string(&s->host, host);
}

/* Validates an http(s) URL and reports whether its host is loopback. */
static int http_url_check(const char *url, bool *local)
{
	char err[256];
	const struct curl_api *curl = curl_api_get(err, sizeof(err));
	CURLU *u = curl ? curl->url() : NULL;
	char *scheme = NULL, *host = NULL;
	int r = -EINVAL;

	if (!curl)
		return -ELIBACC;
	if (!u)
		return -ENOMEM;
	if (curl->url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl->url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl->url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    (!strcmp(scheme, "http") || !strcmp(scheme, "https")) && host[0]) {
		*local = check_host_is_local(host);
		r = 0;
	}
	curl->free(scheme);
	curl->free(host);
	curl->url_cleanup(u);
	return r;
}

static int parse_http(struct conf_doc *doc, json_t *obj, const char *path, struct check_spec *s,
                      bool *local)
{
	const char *url;
	long long status = 200;
	char p[512];
	int r;

	r = parse_required_string(doc, obj, path, "url", &url);
	if (r < 0)
		return r;
	r = http_url_check(url, local);
	if (r == -ENOMEM)
		return r;
	if (r == -ELIBACC)
		return conf_fail(doc, conf_path_join(p, sizeof(p), path, "url"),
		                 "http checks need libcurl.so.4 (install libcurl4)");
	if (r < 0)
		return conf_fail(doc, conf_path_join(p, sizeof(p), path, "url"),
		                 "\"%s\" is not an http:// or https:// URL", url);
	if (conf_get_int(doc, obj, path, "expect_status", 100, 599, &status) < 0)
		return -EINVAL;
	s->expect_status = (int)status;
	return dup_string(&s->url, url);
}

static int parse_exec(struct conf_doc *doc, json_t *obj, const char *path, struct check_spec *s)
{
	json_t *cmd = json_object_get(obj, "command"), *arg;
	char p[512], ap[600];
	size_t i, argc;

	conf_path_join(p, sizeof(p), path, "command");
	if (!cmd)
		return conf_fail(doc, path, "missing required key \"command\"");
	argc = json_array_size(cmd);
	if (!json_is_array(cmd) || argc == 0 || argc > CHECK_ARGV_MAX)
		return conf_fail(doc, p, "expected an array of 1 to %d strings, the program first",
		                 CHECK_ARGV_MAX);
	json_array_foreach(cmd, i, arg)
	{
		snprintf(ap, sizeof(ap), "%s[%zu]", p, i);
		if (!json_is_string(arg))
			return conf_fail(doc, ap, "expected a string");
	}
	/* No PATH search: what runs must not depend on the environment. */
	if (json_string_value(json_array_get(cmd, 0))[0] != '/')
		return conf_fail(doc, p, "the program \"%s\" must be an absolute path",
		                 json_string_value(json_array_get(cmd, 0)));
	s->argv = calloc(argc + 1, sizeof(char *));
	if (!s->argv)
		return -ENOMEM;
	json_array_foreach(cmd, i, arg) if (dup_string(&s->argv[i], json_string_value(arg)) <
	                                    0) return -ENOMEM;
	return 0;
}

static int parse_one(struct conf_doc *doc, json_t *obj, const char *path,
                     const struct check_spec *earlier, size_t n_earlier, struct check_spec *s)
{
	const struct check_type *t = NULL;
	bool local = true;
	int r;

	if (!json_is_object(obj))
		return conf_fail(doc, path, "expected an object describing a check");
	if ((r = parse_name(doc, obj, path, earlier, n_earlier, s)) < 0 ||
	    (r = parse_type(doc, obj, path, &t)) < 0 ||
	    (r = conf_check_keys(doc, obj, path, t->keys)) < 0 ||
	    (r = parse_timing(doc, obj, path, s)) < 0)
		return r;
	s->kind = t->kind;
	switch (t->kind) {
	case CHECK_DISK:
		r = parse_disk(doc, obj, path, s);
		break;
	case CHECK_MEMORY:
		r = parse_memory(doc, obj, path, s);
		break;
	case CHECK_FILE:
		r = parse_file(doc, obj, path, s);
		break;
	case CHECK_TCP:
		r = parse_tcp(doc, obj, path, s);
		if (r >= 0)
			local = check_host_is_local(s->host);
		break;
	case CHECK_HTTP:
		r = parse_http(doc, obj, path, s, &local);
		break;
	case CHECK_EXEC:
		r = parse_exec(doc, obj, path, s);
		break;
	}
	if (r < 0)
		return r;
	/* A shared dependency (a database, another service) that is down
	 * fails every instance at once; if that failed /health, the ALB would
	 * fail open (all targets unhealthy) and an ASG using ELB health checks
	 * would replace the whole fleet for nothing.  So checks of remote
	 * hosts are informational unless the config says otherwise. */
	s->critical = local;
	r = conf_get_bool(doc, obj, path, "critical", &s->critical);
	return r < 0 ? r : 0;
}

int checks_parse(struct conf_doc *doc, json_t *array, const char *objpath, struct check_spec **out,
                 size_t *n_out)
{
	struct check_spec *specs;
	size_t n, i;
	json_t *obj;
	char path[512];
	int r = 0;

	if (!array) {
		*out = NULL;
		*n_out = 0;
		return 0;
	}
	if (!json_is_array(array))
		return conf_fail(doc, objpath, "expected an array of checks");
	n = json_array_size(array);
	if (n > CHECKS_MAX)
		return conf_fail(doc, objpath, "%zu checks; at most %d are supported", n,
		                 CHECKS_MAX);
	specs = calloc(n ? n : 1, sizeof(*specs));
	if (!specs)
		return -ENOMEM;
	json_array_foreach(array, i, obj)
	{
		snprintf(path, sizeof(path), "%s[%zu]", objpath, i);
		r = parse_one(doc, obj, path, specs, i, &specs[i]);
		if (r < 0) {
			check_specs_free(specs, n);
			if (r == -ENOMEM)
				conf_fail(doc, path, "out of memory");
			return r;
		}
	}
	*out = specs;
	*n_out = n;
	return 0;
}
