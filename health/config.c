/* asg-health's JSON configuration (default /etc/asg-agent/health.json).
 * Every key is optional; unknown keys are errors so a typo cannot silently
 * fall back to a default. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "conf.h"
#include "config.h"

int health_config_defaults(struct health_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->root = strdup("/var/www/html");
	cfg->listen = calloc(2, sizeof(char *));
	if (cfg->listen) {
		cfg->listen[0] = strdup("0.0.0.0:80");
		cfg->listen[1] = strdup("[::]:80");
		cfg->n_listen = 2;
	}
	cfg->control = strdup(HEALTH_DEFAULT_CONTROL);
	cfg->metrics_listen = strdup("");
	cfg->health_path = strdup("/health");
	cfg->index = strdup("index.html");
	cfg->not_found_page = strdup("404.html");
	cfg->default_cache_control = strdup("");
	cfg->precompressed = true;
	cfg->cache_max_file_size = 256 * 1024;
	cfg->cache_max_total = 64 * 1024 * 1024;
	cfg->cache_max_metadata = 8 * 1024 * 1024;
	cfg->cache_revalidate_ms = 1000;
	cfg->threads = 0;
	cfg->max_connections = 4096;
	cfg->connection_timeout_ms = 75 * 1000;
	cfg->header_timeout_ms = 10 * 1000;
	cfg->max_header_size = 8192;
	cfg->max_uri_length = 4096;
	cfg->shutdown_timeout_ms = 30 * 1000;
	cfg->lb_unhealthy_threshold = 2;
	cfg->lb_probe_window_ms = 90 * 1000;
	cfg->access_log = strdup("");
	if (!cfg->access_log)
		return -ENOMEM;
	if (!cfg->root || !cfg->listen || !cfg->listen[0] || !cfg->listen[1] || !cfg->control ||
	    !cfg->metrics_listen || !cfg->health_path || !cfg->index || !cfg->not_found_page ||
	    !cfg->default_cache_control)
		return -ENOMEM;
	return 0;
}

void health_config_free(struct health_config *cfg)
{
	free(cfg->root);
	for (size_t i = 0; i < cfg->n_listen; i++)
		free(cfg->listen[i]);
	free(cfg->listen);
	free(cfg->control);
	free(cfg->metrics_listen);
	free(cfg->health_path);
	free(cfg->index);
	free(cfg->not_found_page);
	for (size_t i = 0; i < cfg->n_cache_rules; i++) {
		free(cfg->cache_rules[i].prefix);
		free(cfg->cache_rules[i].extension);
		free(cfg->cache_rules[i].value);
	}
	free(cfg->cache_rules);
	free(cfg->default_cache_control);
	check_specs_free(cfg->checks, cfg->n_checks);
	free(cfg->access_log);
	free(cfg->trusted_proxies);
	memset(cfg, 0, sizeof(*cfg));
}

/* Replaces *slot with a copy of the string at key, if present. */
static int take_string(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                       char **slot)
{
	const char *s = NULL;
	int r = conf_get_string(doc, obj, objpath, key, &s);

	if (r <= 0)
		return r;
	char *c = strdup(s);
	if (!c)
		return -ENOMEM;
	free(*slot);
	*slot = c;
	return 1;
}

static int parse_listen(struct conf_doc *doc, json_t *root, struct health_config *cfg)
{
	json_t *arr = json_object_get(root, "listen"), *v;
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return conf_fail(doc, "listen", "expected an array of \"ADDR:PORT\" strings");
	for (i = 0; i < cfg->n_listen; i++)
		free(cfg->listen[i]);
	free(cfg->listen);
	cfg->n_listen = 0;
	cfg->listen = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (!cfg->listen)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		char p[64];
		snprintf(p, sizeof(p), "listen[%zu]", i);
		if (!json_is_string(v) || !strrchr(json_string_value(v), ':'))
			return conf_fail(
			        doc, p,
			        "expected \"ADDR:PORT\", e.g. \"0.0.0.0:80\" or \"[::]:80\"");
		cfg->listen[cfg->n_listen] = strdup(json_string_value(v));
		if (!cfg->listen[cfg->n_listen++])
			return -ENOMEM;
	}
	return 0;
}

/* A header value from the config goes into every response verbatim: a CR
 * or LF would split the header (libmicrohttpd then refuses it and every
 * file answers 500), other control characters are invalid in a field
 * value (RFC 9110 5.5).  Horizontal tab is allowed. */
static bool header_value_ok(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

static int parse_cache_rules(struct conf_doc *doc, json_t *root, struct health_config *cfg)
{
	static const char *const keys[] = {"prefix", "extension", "value", NULL};
	json_t *arr = json_object_get(root, "cache_control"), *v;
	size_t i;
	int r;

	if (!arr)
		return 0;
	if (json_is_string(arr)) {
		if (!header_value_ok(json_string_value(arr)))
			return conf_fail(doc, "cache_control",
			                 "a header value must not contain line breaks or control "
			                 "characters");
		free(cfg->default_cache_control);
		cfg->default_cache_control = strdup(json_string_value(arr));
		return cfg->default_cache_control ? 0 : -ENOMEM;
	}
	if (!json_is_array(arr))
		return conf_fail(doc, "cache_control",
		                 "expected a string or an array of {prefix|extension, value}");
	cfg->cache_rules = calloc(json_array_size(arr) + 1, sizeof(*cfg->cache_rules));
	if (!cfg->cache_rules)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		struct cache_rule *rule = &cfg->cache_rules[cfg->n_cache_rules++];
		char p[64];

		snprintf(p, sizeof(p), "cache_control[%zu]", i);
		if ((r = conf_check_keys(doc, v, p, keys)) < 0)
			return r;
		if ((r = take_string(doc, v, p, "prefix", &rule->prefix)) < 0 ||
		    (r = take_string(doc, v, p, "extension", &rule->extension)) < 0 ||
		    (r = take_string(doc, v, p, "value", &rule->value)) < 0)
			return r;
		if (!rule->value)
			return conf_fail(doc, p, "missing \"value\"");
		if (!rule->prefix == !rule->extension)
			return conf_fail(doc, p, "give exactly one of \"prefix\" or \"extension\"");
		if (rule->prefix && rule->prefix[0] != '/')
			return conf_fail(doc, p, "prefix must start with '/'");
		if (rule->extension && rule->extension[0] == '.')
			memmove(rule->extension, rule->extension + 1, strlen(rule->extension));
		if (!header_value_ok(rule->value))
			return conf_fail(doc, p,
			                 "value: a header value must not contain line breaks or "
			                 "control characters");
	}
	return 0;
}

/* The access log: off, the journal, or a file asg-health appends to (and
 * reopens on SIGUSR1, after logrotate moved it). */
static int parse_access_log(struct conf_doc *doc, json_t *root, struct health_config *cfg)
{
	json_t *arr = json_object_get(root, "trusted_proxies"), *v;
	const char *why;
	size_t i;
	int r;

	if ((r = take_string(doc, root, "", "access_log", &cfg->access_log)) < 0 ||
	    (r = conf_get_bool(doc, root, "", "log_probes", &cfg->log_probes)) < 0)
		return r;
	if (cfg->access_log[0] && strcmp(cfg->access_log, "journal") && cfg->access_log[0] != '/')
		return conf_fail(doc, "access_log",
		                 "must be \"\" (none), \"journal\" or an absolute file path");
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return conf_fail(doc, "trusted_proxies",
		                 "expected an array of networks, e.g. [\"10.0.0.0/8\"]");
	cfg->trusted_proxies = calloc(json_array_size(arr) + 1, sizeof(*cfg->trusted_proxies));
	if (!cfg->trusted_proxies)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		char p[64];
		snprintf(p, sizeof(p), "trusted_proxies[%zu]", i);
		if (!json_is_string(v))
			return conf_fail(doc, p, "expected a string such as \"10.0.0.0/8\"");
		if (cidr_parse(json_string_value(v), &cfg->trusted_proxies[i], &why) < 0)
			return conf_fail(doc, p, "%s: %s", json_string_value(v), why);
		cfg->n_trusted_proxies++;
	}
	return 0;
}

static int parse_root(struct conf_doc *doc, struct health_config *cfg)
{
	static const char *const keys[] = {"root",
	                                   "listen",
	                                   "control_socket",
	                                   "health_path",
	                                   "index",
	                                   "not_found_page",
	                                   "serve_dotfiles",
	                                   "precompressed",
	                                   "public_verbose_health",
	                                   "cache_control",
	                                   "cache_max_file_size",
	                                   "cache_max_total",
	                                   "cache_max_metadata",
	                                   "cache_revalidate",
	                                   "threads",
	                                   "max_connections",
	                                   "connection_timeout",
	                                   "header_timeout",
	                                   "max_header_size",
	                                   "max_uri_length",
	                                   "shutdown_timeout",
	                                   "lb_unhealthy_threshold",
	                                   "lb_probe_window",
	                                   "checks",
	                                   "access_log",
	                                   "trusted_proxies",
	                                   "log_probes",
	                                   "metrics_listen",
	                                   NULL};
	json_t *root = doc->root;
	long long v;
	int r;

	if (!root)
		return 0; /* no file: the defaults stand */
	if ((r = conf_check_keys(doc, root, "", keys)) < 0)
		return r;
	if ((r = take_string(doc, root, "", "root", &cfg->root)) < 0 ||
	    (r = take_string(doc, root, "", "control_socket", &cfg->control)) < 0 ||
	    (r = take_string(doc, root, "", "health_path", &cfg->health_path)) < 0 ||
	    (r = take_string(doc, root, "", "index", &cfg->index)) < 0 ||
	    (r = take_string(doc, root, "", "not_found_page", &cfg->not_found_page)) < 0)
		return r;
	if (cfg->root[0] != '/')
		return conf_fail(doc, "root", "must be an absolute path");
	if (cfg->health_path[0] != '/' || strpbrk(cfg->health_path, "?# "))
		return conf_fail(doc, "health_path", "must be a path starting with '/'");
	if (!cfg->index[0] || strchr(cfg->index, '/'))
		return conf_fail(doc, "index", "must be a file name without '/'");
	/* A file name (NAME_MAX); static.c reserves its length in a PATH_MAX
	 * buffer for the request's path, which a longer one overflowed. */
	if (strlen(cfg->index) > NAME_MAX)
		return conf_fail(doc, "index", "longer than %d bytes", NAME_MAX);
	if (cfg->control[0] && cfg->control[0] != '/')
		return conf_fail(doc, "control_socket", "must be an absolute path or \"\"");
	if ((r = take_string(doc, root, "", "metrics_listen", &cfg->metrics_listen)) < 0)
		return r;
	if (cfg->metrics_listen[0] && !strrchr(cfg->metrics_listen, ':'))
		return conf_fail(
		        doc, "metrics_listen",
		        "expected \"ADDR:PORT\", e.g. \"127.0.0.1:9101\", or \"\" for none");
	if ((r = conf_get_bool(doc, root, "", "serve_dotfiles", &cfg->serve_dotfiles)) < 0 ||
	    (r = conf_get_bool(doc, root, "", "precompressed", &cfg->precompressed)) < 0 ||
	    (r = conf_get_bool(doc, root, "", "public_verbose_health",
	                       &cfg->public_verbose_health)) < 0)
		return r;
	if ((r = parse_listen(doc, root, cfg)) < 0 || (r = parse_cache_rules(doc, root, cfg)) < 0 ||
	    (r = parse_access_log(doc, root, cfg)) < 0)
		return r;
	if ((r = conf_get_size(doc, root, "", "cache_max_file_size", 0, 1LL << 30,
	                       &cfg->cache_max_file_size)) < 0 ||
	    (r = conf_get_size(doc, root, "", "cache_max_total", 0, 1LL << 40,
	                       &cfg->cache_max_total)) < 0 ||
	    (r = conf_get_size(doc, root, "", "cache_max_metadata", 64 * 1024, 1LL << 34,
	                       &cfg->cache_max_metadata)) < 0 ||
	    (r = conf_get_duration_ms(doc, root, "", "cache_revalidate", 0, 3600000,
	                              &cfg->cache_revalidate_ms)) < 0 ||
	    (r = conf_get_duration_ms(doc, root, "", "connection_timeout", 1000, 86400000,
	                              &cfg->connection_timeout_ms)) < 0 ||
	    (r = conf_get_duration_ms(doc, root, "", "header_timeout", 1000, 3600000,
	                              &cfg->header_timeout_ms)) < 0 ||
	    (r = conf_get_size(doc, root, "", "max_header_size", 1024, 1 << 20,
	                       &cfg->max_header_size)) < 0 ||
	    (r = conf_get_size(doc, root, "", "max_uri_length", 64, 1 << 20,
	                       &cfg->max_uri_length)) < 0 ||
	    (r = conf_get_duration_ms(doc, root, "", "shutdown_timeout", 0, 3600000,
	                              &cfg->shutdown_timeout_ms)) < 0 ||
	    (r = conf_get_duration_ms(doc, root, "", "lb_probe_window", 1000, 3600000,
	                              &cfg->lb_probe_window_ms)) < 0)
		return r;
	v = cfg->threads;
	if ((r = conf_get_int(doc, root, "", "threads", 0, 256, &v)) < 0)
		return r;
	cfg->threads = (int)v;
	v = cfg->max_connections;
	if ((r = conf_get_int(doc, root, "", "max_connections", 1, 1000000, &v)) < 0)
		return r;
	cfg->max_connections = (int)v;
	v = cfg->lb_unhealthy_threshold;
	if ((r = conf_get_int(doc, root, "", "lb_unhealthy_threshold", 2, 10, &v)) < 0)
		return r;
	cfg->lb_unhealthy_threshold = (int)v;
	if (json_object_get(root, "checks")) {
		json_t *checks = json_object_get(root, "checks");
		if (!json_is_array(checks))
			return conf_fail(doc, "checks", "expected an array of checks");
		if ((r = checks_parse(doc, checks, "checks", &cfg->checks, &cfg->n_checks)) < 0)
			return r;
	}
	return 0;
}

static int finish(struct conf_doc *doc, struct health_config *cfg, int r, char *err, size_t errlen)
{
	if (r < 0) {
		if (doc->error[0])
			snprintf(err, errlen, "%s", doc->error);
		else
			snprintf(err, errlen, "%s: %s", doc->path ? doc->path : "config",
			         strerror(-r));
		health_config_free(cfg);
	}
	conf_doc_free(doc);
	return r;
}

/* Fills cfg with the defaults, then the document over them; r is the
 * result of reading the document. */
static int from_doc(struct health_config *cfg, struct conf_doc *doc, int r, char *err,
                    size_t errlen)
{
	int d = health_config_defaults(cfg);

	if (d < 0) {
		if (!doc->error[0])
			snprintf(doc->error, sizeof(doc->error), "out of memory");
		r = d;
	} else if (r == 0) {
		r = parse_root(doc, cfg);
	}
	return finish(doc, cfg, r, err, errlen);
}

int health_config_parse(struct health_config *cfg, const char *path, const char *text, char *err,
                        size_t errlen)
{
	struct conf_doc doc;

	return from_doc(cfg, &doc, conf_doc_parse(&doc, path, text), err, errlen);
}

int health_config_load(struct health_config *cfg, const char *path, bool explicit_path, char *err,
                       size_t errlen)
{
	struct conf_doc doc;
	int r = conf_doc_load(&doc, path);

	if (r == -ENOENT && !explicit_path) {
		/* no file: every default applies */
		conf_doc_free(&doc);
		r = 0;
	}
	return from_doc(cfg, &doc, r, err, errlen);
}

int health_config_set_listen(struct health_config *cfg, const char *addr, bool replace)
{
	char **n;

	if (!strrchr(addr, ':'))
		return -EINVAL;
	if (replace) {
		for (size_t i = 0; i < cfg->n_listen; i++)
			free(cfg->listen[i]);
		cfg->n_listen = 0;
	}
	n = realloc(cfg->listen, (cfg->n_listen + 1) * sizeof(char *));
	if (!n)
		return -ENOMEM;
	cfg->listen = n;
	if (!(cfg->listen[cfg->n_listen] = strdup(addr)))
		return -ENOMEM;
	cfg->n_listen++;
	return 0;
}

const char *health_config_cache_control(const struct health_config *cfg, const char *urlpath)
{
	const char *slash = strrchr(urlpath, '/');
	const char *dot = strrchr(slash ? slash : urlpath, '.');

	for (size_t i = 0; i < cfg->n_cache_rules; i++) {
		const struct cache_rule *r = &cfg->cache_rules[i];
		if (r->prefix && !strncmp(urlpath, r->prefix, strlen(r->prefix)))
			return r->value;
		if (r->extension && dot && !strcasecmp(dot + 1, r->extension))
			return r->value;
	}
	return cfg->default_cache_control;
}

char *health_config_dump(const struct health_config *cfg)
{
	_cleanup_json_ json_t *o = json_object(), *listen = json_array(), *rules = json_array(),
	                      *checks = json_array(), *proxies = json_array();

	if (!o || !listen || !rules || !checks || !proxies)
		return NULL;
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
		const struct cidr *c = &cfg->trusted_proxies[i];
		char addr[INET6_ADDRSTRLEN];
		ip_addr_format(&c->net, addr, sizeof(addr));
		json_array_append_new(proxies, json_sprintf("%s/%u", addr, c->prefix));
	}
	for (size_t i = 0; i < cfg->n_listen; i++)
		json_array_append_new(listen, json_string(cfg->listen[i]));
	for (size_t i = 0; i < cfg->n_cache_rules; i++) {
		const struct cache_rule *r = &cfg->cache_rules[i];
		json_array_append_new(rules,
		                      json_pack("{s:s?,s:s?,s:s}", "prefix", r->prefix, "extension",
		                                r->extension, "value", r->value));
	}
	for (size_t i = 0; i < cfg->n_checks; i++) {
		const struct check_spec *c = &cfg->checks[i];
		json_array_append_new(checks, json_pack("{s:s,s:s,s:b,s:I,s:I,s:i,s:i}", "name",
		                                        c->name, "type", check_kind_name(c->kind),
		                                        "critical", c->critical, "interval_ms",
		                                        (json_int_t)c->interval_ms, "timeout_ms",
		                                        (json_int_t)c->timeout_ms, "rise", c->rise,
		                                        "fall", c->fall));
	}
	json_object_set_new(o, "root", json_string(cfg->root));
	json_object_set(o, "listen", listen);
	json_object_set_new(o, "control_socket", json_string(cfg->control));
	json_object_set_new(o, "health_path", json_string(cfg->health_path));
	json_object_set_new(o, "index", json_string(cfg->index));
	json_object_set_new(o, "not_found_page", json_string(cfg->not_found_page));
	json_object_set_new(o, "serve_dotfiles", json_boolean(cfg->serve_dotfiles));
	json_object_set_new(o, "precompressed", json_boolean(cfg->precompressed));
	json_object_set_new(o, "public_verbose_health", json_boolean(cfg->public_verbose_health));
	if (cfg->n_cache_rules)
		json_object_set(o, "cache_control", rules);
	else
		json_object_set_new(o, "cache_control", json_string(cfg->default_cache_control));
	json_object_set_new(o, "cache_max_file_size", json_integer(cfg->cache_max_file_size));
	json_object_set_new(o, "cache_max_total", json_integer(cfg->cache_max_total));
	json_object_set_new(o, "cache_max_metadata", json_integer(cfg->cache_max_metadata));
	json_object_set_new(o, "cache_revalidate",
	                    json_sprintf("%lldms", cfg->cache_revalidate_ms));
	json_object_set_new(o, "threads", json_integer(cfg->threads));
	json_object_set_new(o, "max_connections", json_integer(cfg->max_connections));
	json_object_set_new(o, "connection_timeout",
	                    json_sprintf("%lldms", cfg->connection_timeout_ms));
	json_object_set_new(o, "header_timeout", json_sprintf("%lldms", cfg->header_timeout_ms));
	json_object_set_new(o, "max_header_size", json_integer(cfg->max_header_size));
	json_object_set_new(o, "max_uri_length", json_integer(cfg->max_uri_length));
	json_object_set_new(o, "shutdown_timeout",
	                    json_sprintf("%lldms", cfg->shutdown_timeout_ms));
	json_object_set_new(o, "lb_unhealthy_threshold", json_integer(cfg->lb_unhealthy_threshold));
	json_object_set_new(o, "lb_probe_window", json_sprintf("%lldms", cfg->lb_probe_window_ms));
	json_object_set(o, "checks", checks);
	json_object_set_new(o, "access_log", json_string(cfg->access_log));
	json_object_set(o, "trusted_proxies", proxies);
	json_object_set_new(o, "log_probes", json_boolean(cfg->log_probes));
	json_object_set_new(o, "metrics_listen", json_string(cfg->metrics_listen));
	return json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}
