/* asg-health configuration: parsed and validated in full into this
 * immutable struct before use; a reload builds a new one and swaps it in
 * only when valid. */
#ifndef ASG_HEALTH_CONFIG_H
#define ASG_HEALTH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "checks.h"
#include "control-protocol.h"
#include "forwarded.h"

#define HEALTH_DEFAULT_CONFIG  SYSCONFDIR "/asg-agent/health.json"
#define HEALTH_DEFAULT_CONTROL CONTROL_DEFAULT_SOCKET

struct cache_rule {
	char *prefix;    /* owned; URL path prefix such as "/assets/", or NULL */
	char *extension; /* owned; such as "css" (no dot), or NULL */
	char *value;     /* owned; the Cache-Control header value */
};

struct health_config {
	char *root;    /* owned; the site's document root */
	char **listen; /* owned; "ADDR:PORT" strings */
	size_t n_listen;
	char *control;        /* owned; control socket path, "" = none */
	char *metrics_listen; /* owned; "ADDR:PORT" serving /metrics, "" = none */
	char *health_path;    /* owned; default "/health" */
	char *index;          /* owned; default "index.html" */
	char *not_found_page; /* owned; root-relative, "" = plain 404 */
	bool serve_dotfiles;
	bool precompressed;             /* serve x.br / x.gz siblings */
	bool public_verbose_health;     /* /health?verbose on the public port */
	struct cache_rule *cache_rules; /* owned; first match wins */
	size_t n_cache_rules;
	char *default_cache_control;   /* owned; "" = no header */
	long long cache_max_file_size; /* bytes; larger files use sendfile */
	long long cache_max_total;     /* bytes held in memory at most */
	long long cache_max_metadata;  /* entries (keys included), estimated */
	long long cache_revalidate_ms; /* how stale a cached stat may be */
	int threads;                   /* 0 = one per CPU */
	int max_connections;
	long long connection_timeout_ms; /* idle keep-alive; above ALB's 60 s */
	long long header_timeout_ms;     /* accept (or first byte) to end of head */
	long long max_header_size;       /* larger: 431 */
	long long max_uri_length;        /* longer: 414 */
	long long shutdown_timeout_ms;   /* SIGTERM: wait for in-flight */
	int lb_unhealthy_threshold;      /* ALB UnhealthyThresholdCount */
	long long lb_probe_window_ms;    /* a prober unseen this long is gone */
	struct check_spec *checks;       /* owned */
	size_t n_checks;
	char *access_log;             /* owned; "" none, "journal" or an absolute path */
	struct cidr *trusted_proxies; /* owned; X-Forwarded-For hops trusted */
	size_t n_trusted_proxies;
	bool log_probes; /* the load balancer's probes in the access log too */
};

/* Fills cfg with every default. */
int health_config_defaults(struct health_config *cfg);
/* Loads path over the defaults.  explicit_path: a missing file is an error
 * (otherwise the built-in defaults are used).  On error, err holds
 * "file:line:col: key: reason". */
int health_config_load(struct health_config *cfg, const char *path, bool explicit_path, char *err,
                       size_t errlen);
/* Parses text as the config file path (for tests). */
int health_config_parse(struct health_config *cfg, const char *path, const char *text, char *err,
                        size_t errlen);
void health_config_free(struct health_config *cfg);
/* The effective configuration as JSON (for --check-config); caller owns. */
char *health_config_dump(const struct health_config *cfg);
/* Adds a listen address (from --listen), replacing the configured ones on
 * the first call when replace is set. */
int health_config_set_listen(struct health_config *cfg, const char *addr, bool replace);
const char *health_config_cache_control(const struct health_config *cfg, const char *urlpath);

#endif
