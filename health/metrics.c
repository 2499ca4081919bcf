/* asg-health's /metrics (metrics.h).  Every value is read at scrape time
 * from counters the request path updates with atomics (server.c,
 * connections.c) or from snapshots taken under each module's own short
 * lock (checks, probes, cache); the text is built in memory, so no lock
 * is held while it is sent.  Names follow Prometheus' conventions:
 * asg_health_ prefix, base units in the name, _total for counters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "checks.h"
#include "cleanup.h"
#include "control-protocol.h"
#include "metrics.h"
#include "probes.h"
#include "site.h"
#include "timeutil.h"

#define METRICS_MAX_CHECKS 64 /* the config's own bound (checks-config.c) */

static void write_requests(struct prom *p, const struct server_counters *c)
{
	static const char *const classes[SERVER_STATUS_CLASSES] = {"1xx", "2xx", "3xx", "4xx",
	                                                           "5xx"};

	prom_family(p, "asg_health_requests_total", PROM_COUNTER,
	            "Public HTTP requests answered, by method and status class (other "
	            "methods are \"other\").");
	for (unsigned m = 0; m < SERVER_METHODS; m++)
		for (unsigned k = 0; k < SERVER_STATUS_CLASSES; k++) {
			/* GET and HEAD always, so a rate() has a series from the
			 * start; the rest once they happen. */
			if (m > 1 && !c->answered[m][k])
				continue;
			prom_sample_u64(p,
			                (const char *const[]){"method", server_method_name(m),
			                                      "code", classes[k], NULL},
			                c->answered[m][k]);
		}
	prom_single_u64(p, "asg_health_sent_bytes_total", PROM_COUNTER,
	                "Bytes written to public connections, response heads and bodies.",
	                c->sent_bytes);
	prom_single_u64(p, "asg_health_requests_in_flight", PROM_GAUGE,
	                "Public requests being answered now (head received, response not yet "
	                "completed).",
	                c->in_flight);
	prom_single_u64(p, "asg_health_open_connections", PROM_GAUGE, "Open public connections.",
	                c->connections);
}

static void write_cache(struct prom *p, struct site *site)
{
	struct cache_stats cs;

	cache_get_stats(site->cache, &cs);
	prom_single_u64(p, "asg_health_cache_hits_total", PROM_COUNTER,
	                "File cache lookups answered from memory (reset by a reload).", cs.hits);
	prom_single_u64(p, "asg_health_cache_misses_total", PROM_COUNTER,
	                "File cache lookups that went to the filesystem (reset by a reload).",
	                cs.misses);
	prom_single_u64(p, "asg_health_cache_entries", PROM_GAUGE, "Entries in the file cache.",
	                cs.entries);
	prom_single_u64(p, "asg_health_cache_bytes", PROM_GAUGE,
	                "Bytes of file content held in the file cache.", cs.bytes);
}

static void write_checks(struct prom *p, struct site *site)
{
	static const enum check_state states[] = {CHECK_PASS, CHECK_FAIL, CHECK_PENDING};
	struct check_metrics cm[METRICS_MAX_CHECKS];
	size_t n = checks_metrics(site->checks, cm, METRICS_MAX_CHECKS);

	prom_family(p, "asg_health_check_state", PROM_GAUGE,
	            "1 for the state each check is in (pass, fail, pending), 0 for the others.");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < ARRAY_SIZE(states); k++)
			prom_sample(p,
			            (const char *const[]){"check", cm[i].name, "type",
			                                  check_kind_name(cm[i].kind), "critical",
			                                  cm[i].critical ? "true" : "false",
			                                  "state", check_state_name(states[k]),
			                                  NULL},
			            cm[i].state == states[k]);
	prom_family(p, "asg_health_check_duration_seconds", PROM_GAUGE,
	            "How long each check's last run took (absent before its first run).");
	for (size_t i = 0; i < n; i++)
		if (cm[i].has_run)
			prom_sample(p, (const char *const[]){"check", cm[i].name, NULL},
			            (double)cm[i].duration_ms / 1000.0);
	prom_family(p, "asg_health_check_transitions_total", PROM_COUNTER,
	            "State changes of each check after rise/fall, its first result included.");
	for (size_t i = 0; i < n; i++)
		prom_sample_u64(p, (const char *const[]){"check", cm[i].name, NULL},
		                cm[i].transitions);
}

/* The probers and drain_confirmed, from the same document /status serves,
 * so both always agree. */
static void write_load_balancer(struct prom *p, struct server *s, struct site *site)
{
	bool confirmed = false;
	_cleanup_json_ json_t *lb =
	        probes_json(server_probes(s), now_mono_ms(), (uint64_t)site->cfg.lb_probe_window_ms,
	                    (unsigned)site->cfg.lb_unhealthy_threshold, &confirmed);
	json_t *probers = json_object_get(lb, CONTROL_LB_PROBERS), *pr;
	size_t i;

	prom_family(p, "asg_health_lb_probes_total", PROM_COUNTER,
	            "Load balancer health check probes seen, per prober address.");
	json_array_foreach(probers, i, pr)
	{
		const char *addr = json_string_value(json_object_get(pr, "address"));
		json_int_t n = json_integer_value(json_object_get(pr, CONTROL_PROBER_PROBES));
		prom_sample_u64(p, (const char *const[]){"prober", addr ? addr : "", NULL},
		                (uint64_t)n);
	}
	prom_single_u64(p, "asg_health_lb_probers_recent", PROM_GAUGE,
	                "Probers seen within lb_probe_window.",
	                (uint64_t)json_integer_value(json_object_get(lb, CONTROL_LB_RECENT)));
	prom_single(p, "asg_health_lb_drain_confirmed", PROM_GAUGE,
	            "1 when every recent prober has had its unhealthy threshold of 503s since "
	            "the drain.",
	            confirmed);
}

void health_metrics_write(struct server *s, struct prom *p)
{
	struct site *site = server_get_site(s);
	struct server_counters c;

	server_get_counters(s, &c);
	write_requests(p, &c);
	write_cache(p, site);
	write_checks(p, site);
	prom_single(p, "asg_health_draining", PROM_GAUGE,
	            "1 while draining (POST /drain on the control socket), else 0.", c.draining);
	prom_single(p, "asg_health_healthy", PROM_GAUGE,
	            "1 when /health answers 200: not draining and every critical check passes.",
	            !c.draining && checks_healthy(site->checks));
	write_load_balancer(p, s, site);
	site_put(site);
}

enum MHD_Result health_metrics_queue(struct server *s, struct MHD_Connection *conn)
{
	struct prom p;
	struct MHD_Response *r = NULL;
	const char *text;
	size_t len;
	enum MHD_Result ret;
	unsigned status = 200;

	prom_init(&p);
	health_metrics_write(s, &p);
	if (prom_finish(&p, &text, &len) == 0)
		r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r) {
		static const char oom[] = "out of memory\n";
		status = 500;
		r = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
		                                    MHD_RESPMEM_PERSISTENT);
	}
	prom_free(&p);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        status == 200 ? PROM_CONTENT_TYPE : "text/plain");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* --- metrics_listen ------------------------------------------------------ */

struct metrics_listener {
	struct server *server; /* not owned */
	struct MHD_Daemon *daemon;
};

static int request_marker;

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_metrics(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	struct metrics_listener *l = cls;

	if (!*req_cls) {
		*req_cls = &request_marker;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* no body is read */
		return MHD_YES;
	}
	if (strcmp(url, CONTROL_PATH_METRICS) != 0)
		return queue_text(conn, 404, "only " CONTROL_PATH_METRICS " is served here\n");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return queue_text(conn, 405, "use GET " CONTROL_PATH_METRICS "\n");
	return health_metrics_queue(l->server, conn);
}

int metrics_listener_start(struct metrics_listener **out, struct server *server, int fd)
{
	struct metrics_listener *l = calloc(1, sizeof(*l));

	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->server = server;
	/* Its own daemon and thread, apart from the public listeners: a scrape
	 * never takes a public connection slot or waits behind the site, and
	 * a busy site never starves the scrape.  poll(), not select(), for the
	 * same reason as the control socket (control.c). */
	l->daemon = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG,
	                             0, NULL, NULL, on_metrics, l, MHD_OPTION_LISTEN_SOCKET, fd,
	                             MHD_OPTION_CONNECTION_LIMIT, 32u,
	                             MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_EXTERNAL_LOGGER,
	                             server_mhd_log, NULL, MHD_OPTION_END);
	if (!l->daemon) {
		close(fd);
		free(l);
		return -EIO;
	}
	*out = l;
	return 0;
}

void metrics_listener_stop(struct metrics_listener *l)
{
	if (!l)
		return;
	MHD_stop_daemon(l->daemon); /* closes the listening socket */
	free(l);
}
