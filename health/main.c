/* asg-health: the static site and /health server every instance of the
 * Auto Scaling group runs behind the ALB.  main() owns start-up, signals,
 * reload and shutdown; the server and checks do the rest. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "beneath.h"
#include "access-log.h"
#include "cleanup.h"
#include "config.h"
#include "control.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "timeutil.h"

/* Exit codes (docs/serving.md, "Operations"; asg-health(8)). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct options {
	const char *config;
	bool config_explicit;
	const char *root;
	const char *control;
	const char **listen;
	size_t n_listen;
	bool check_config;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: asg-health [OPTIONS]\n"
	        "Serve a static site and the load balancer's /health probe.\n\n"
	        "  -c, --config FILE    configuration (default %s)\n"
	        "  -r, --root DIR       document root (overrides \"root\")\n"
	        "  -l, --listen ADDR:PORT  listen address, repeatable, e.g. 0.0.0.0:80 or [::]:80\n"
	        "                       (overrides \"listen\"; ignored under socket activation)\n"
	        "      --control PATH   control socket (overrides \"control_socket\"; \"\" = "
	        "none)\n"
	        "      --check-config   validate the configuration, print the effective one, exit "
	        "0/1\n"
	        "      --version        print the version\n"
	        "  -h, --help           this help\n\n"
	        "Signals: SIGTERM/SIGINT drain in-flight requests and exit 0; SIGHUP reloads the\n"
	        "configuration (a bad one is logged and the old one kept); SIGUSR1 reopens the\n"
	        "access log.\n",
	        HEALTH_DEFAULT_CONFIG);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_CONTROL = 256, OPT_CHECK, OPT_VERSION };
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
	                                         {"root", required_argument, NULL, 'r'},
	                                         {"listen", required_argument, NULL, 'l'},
	                                         {"control", required_argument, NULL, OPT_CONTROL},
	                                         {"check-config", no_argument, NULL, OPT_CHECK},
	                                         {"version", no_argument, NULL, OPT_VERSION},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {0}};
	int c;

	o->config = HEALTH_DEFAULT_CONFIG;
	while ((c = getopt_long(argc, argv, "c:r:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			o->config_explicit = true;
			break;
		case 'r':
			o->root = optarg;
			break;
		case 'l': {
			const char **n = realloc(o->listen, (o->n_listen + 1) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			o->listen = n;
			o->listen[o->n_listen++] = optarg;
			break;
		}
		case OPT_CONTROL:
			o->control = optarg;
			break;
		case OPT_CHECK:
			o->check_config = true;
			break;
		case OPT_VERSION:
			printf("asg-health %s\n", PACKAGE_VERSION);
			exit(EXIT_OK);
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "asg-health: unexpected argument: %s\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Loads the file and applies the command line over it. */
static int load_config(const struct options *o, struct health_config *cfg, char *err, size_t errlen)
{
	int r = health_config_load(cfg, o->config, o->config_explicit, err, errlen);

	if (r < 0)
		return r;
	if (o->root) {
		free(cfg->root);
		if (!(cfg->root = strdup(o->root)))
			goto oom;
	}
	if (o->control) {
		free(cfg->control);
		if (!(cfg->control = strdup(o->control)))
			goto oom;
	}
	for (size_t i = 0; i < o->n_listen; i++)
		if ((r = health_config_set_listen(cfg, o->listen[i], i == 0)) < 0) {
			snprintf(err, errlen, "--listen %s: expected ADDR:PORT", o->listen[i]);
			health_config_free(cfg);
			return r;
		}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	health_config_free(cfg);
	return -ENOMEM;
}

/* Many keep-alive connections from the load balancer need descriptors. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int open_listeners(const struct health_config *cfg, struct listeners *l)
{
	char err[512];
	int r = listeners_from_systemd(l);

	if (r < 0) {
		log_error("cannot take the sockets systemd passed: %s", strerror(-r));
		return r;
	}
	if (l->activated) {
		log_info("socket activation: %zu HTTP socket(s)%s; \"listen\" is not used",
		         l->n_http, l->control >= 0 ? " and the control socket" : "");
	} else {
		for (size_t i = 0; i < cfg->n_listen && i < LISTEN_MAX; i++) {
			if ((r = listen_tcp(cfg->listen[i], &l->http[l->n_http], err,
			                    sizeof(err))) < 0) {
				log_error("%s", err);
				return r;
			}
			l->n_http++;
		}
	}
	if (l->n_http == 0) {
		log_error("nothing to listen on: give --listen ADDR:PORT or start from "
		          "asg-health.socket");
		return -EINVAL;
	}
	if (l->control < 0 && cfg->control[0]) {
		if (listen_unix(cfg->control, &l->control, err, sizeof(err)) < 0) {
			/* The site must come up even if the control path is
			 * unusable: the agent then cannot drain, and says so. */
			log_warning("%s; serving without a control socket", err);
			l->control = -1;
		}
	}
	return 0;
}

static void reload(struct server *server, struct access_log *al, const struct options *o)
{
	struct health_config cfg;
	struct site *old = server_get_site(server), *site;
	char err[1024];

	sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
	if (load_config(o, &cfg, err, sizeof(err)) < 0) {
		log_error("reload failed, keeping the running configuration: %s", err);
		goto out;
	}
	if (cfg.n_listen != old->cfg.n_listen || strcmp(cfg.control, old->cfg.control) ||
	    cfg.threads != old->cfg.threads || cfg.max_connections != old->cfg.max_connections ||
	    cfg.connection_timeout_ms != old->cfg.connection_timeout_ms ||
	    cfg.header_timeout_ms != old->cfg.header_timeout_ms ||
	    strcmp(cfg.metrics_listen, old->cfg.metrics_listen))
		log_warning(
		        "reload: listen, control_socket, threads, max_connections, "
		        "connection_timeout, header_timeout and metrics_listen take effect only "
		        "on restart");
	/* The access log first: it opens a new file, which can fail, and
	 * nothing has changed yet. */
	if (access_log_configure(al, &cfg, err, sizeof(err)) < 0) {
		log_error("reload failed, keeping the running configuration: %s", err);
		health_config_free(&cfg);
		goto out;
	}
	if (site_new(&site, &cfg, old, err, sizeof(err)) < 0) {
		log_error("reload failed, keeping the running configuration: %s", err);
		health_config_free(&cfg);
		/* back to the running site's log; its file was open a moment ago */
		if (access_log_configure(al, &old->cfg, err, sizeof(err)) < 0)
			log_error("access log: %s", err);
		goto out;
	}
	server_set_site(server, site);
	log_info("configuration reloaded from %s", o->config);
out:
	site_put(old);
	sd_notify(0, "READY=1");
}

/* The checks' first round runs as the runner starts.  Waiting for it
 * (briefly) before accepting means the first probe gets the real verdict
 * rather than a 503 for "not known yet"; with socket activation the
 * connections that arrive meanwhile wait in the listen queue. */
static void wait_first_verdict(struct site *site, uint64_t max_ms)
{
	uint64_t deadline = now_mono_ms() + max_ms;
	/* Local checks finish in microseconds: poll finely at first, then back
	 * off, so start-up is not held by the polling itself. */
	long pause_ns = 50 * 1000;

	for (;;) {
		_cleanup_json_ json_t *status = checks_status_json(site->checks);
		const char *name;
		json_t *check;
		bool pending = false;

		json_object_foreach(status, name, check)
		{
			const char *state = json_string_value(json_object_get(check, "state"));
			if (state && !strcmp(state, "pending"))
				pending = true;
		}
		if (!pending)
			return;
		if (now_mono_ms() >= deadline) {
			log_warning(
			        "checks still running after %llu ms: serving now, /health answers "
			        "503 until they report",
			        (unsigned long long)max_ms);
			return;
		}
		nanosleep(&(struct timespec){0, pause_ns}, NULL);
		if (pause_ns < 5 * 1000 * 1000)
			pause_ns *= 2;
	}
}

static int run(const struct options *o, struct health_config *cfg)
{
	struct listeners l = {.control = -1};
	struct server *server = NULL;
	struct control *control = NULL;
	struct metrics_listener *metrics = NULL;
	int metrics_fd = -1;
	struct site *site = NULL;
	struct access_log *al = NULL;
	sigset_t sigs;
	uint64_t watchdog_usec = 0, next_status = 0;
	char err[1024], status[512];
	int r, exit_code = EXIT_FAIL;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	/* Blocked before any thread starts, so every thread inherits the mask
	 * and only sigtimedwait() below ever sees them. */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	if ((r = beneath_probe()) < 0)
		log_warning("openat2 is not available (%s): files are opened beneath the site root "
		            "one path component at a time instead",
		            strerror(-r));
	if (open_listeners(cfg, &l) < 0)
		goto out;
	if ((r = access_log_new(&al)) < 0) {
		log_error("cannot start the access log: %s", strerror(-r));
		goto out;
	}
	if (access_log_configure(al, cfg, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	/* Bound here even under socket activation: the .socket unit holds the
	 * public ports only.  An address that cannot be bound stops the start,
	 * as a bad "listen" does: the operator asked for it. */
	if (cfg->metrics_listen[0] &&
	    listen_tcp(cfg->metrics_listen, &metrics_fd, err, sizeof(err)) < 0) {
		log_error("metrics_listen: %s", err);
		goto out;
	}
	if (site_new(&site, cfg, NULL, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	wait_first_verdict(site, 2000);
	if ((r = server_new(&server, site)) < 0) {
		log_error("cannot set up the server: %s", strerror(-r));
		site_put(site);
		goto out;
	}
	server_set_access_log(server, al);
	r = server_start(server, l.http, l.n_http);
	l.n_http = 0; /* the server owns them now, even on failure */
	if (r >= 0 && l.control >= 0)
		r = control_start(&control, server, l.control);
	l.control = -1; /* control_start owns it, even on failure */
	if (r >= 0 && metrics_fd >= 0)
		r = metrics_listener_start(&metrics, server, metrics_fd);
	metrics_fd = -1; /* metrics_listener_start owns it, even on failure */
	if (r < 0) {
		log_error("cannot start serving on the listening sockets: %s", strerror(-r));
		goto out;
	}

	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		watchdog_usec = 0;
	server_status_line(server, status, sizeof(status));
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	{
		struct site *cur = server_get_site(server);
		log_info("serving %s (%s, %u threads); health at %s", cur->cfg.root,
		         l.activated ? "socket activation" : "own sockets", server_threads(server),
		         cur->cfg.health_path);
		site_put(cur);
	}

	for (;;) {
		uint64_t wait_ms = watchdog_usec ? watchdog_usec / 2000 : 2000;
		struct timespec ts = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000L};
		int sig;

		if (wait_ms > 2000)
			ts = (struct timespec){2, 0};
		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGHUP) {
			reload(server, al, o);
		} else if (sig == SIGUSR1) {
			access_log_reopen(al);
		} else if (sig == SIGTERM || sig == SIGINT) {
			uint64_t left;
			struct site *cur = server_get_site(server);
			long long timeout = cur->cfg.shutdown_timeout_ms;
			site_put(cur);

			log_info("%s: finishing %llu in-flight request(s), at most %lld ms",
			         sig == SIGTERM ? "SIGTERM" : "SIGINT",
			         (unsigned long long)server_in_flight(server), timeout);
			sd_notify(0, "STOPPING=1\nSTATUS=stopping: finishing in-flight requests");
			/* Before the server's connections go (its counters read them). */
			metrics_listener_stop(metrics);
			metrics = NULL;
			left = server_shutdown(server, timeout);
			control_stop(control);
			control = NULL;
			/* Every request has completed or been cut off: the log's
			 * last lines are in its buffer.  A writer stuck on a
			 * stalled pipe is not waited for long. */
			server_set_access_log(server, NULL);
			access_log_close(al, 5000);
			al = NULL;
			if (left)
				log_warning("shutdown timeout: %llu request(s) cut off; raise "
				            "shutdown_timeout if downloads take longer",
				            (unsigned long long)left);
			else
				log_info("all requests finished; exiting");
			exit_code = EXIT_OK;
			break;
		}
		if (watchdog_usec)
			sd_notify(0, "WATCHDOG=1");
		if (now_mono_ms() >= next_status) {
			server_status_line(server, status, sizeof(status));
			sd_notifyf(0, "STATUS=%s", status);
			next_status = now_mono_ms() + 5000;
		}
	}
out:
	for (size_t i = 0; i < l.n_http; i++)
		close(l.http[i]);
	if (l.control >= 0)
		close(l.control);
	if (metrics_fd >= 0)
		close(metrics_fd);
	metrics_listener_stop(metrics);
	control_stop(control);
	server_free(server);
	access_log_close(al, 5000);
	return exit_code;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct health_config cfg;
	char err[1024];
	int code;

	log_init("asg-health");
	if (parse_options(argc, argv, &o) < 0) {
		free(o.listen);
		return EXIT_USAGE;
	}
	if (load_config(&o, &cfg, err, sizeof(err)) < 0) {
		if (o.check_config)
			fprintf(stderr, "asg-health: %s\n", err);
		else
			log_error("invalid configuration: %s", err);
		free(o.listen);
		return EXIT_FAIL;
	}
	if (o.check_config) {
		_cleanup_free_ char *dump = health_config_dump(&cfg);
		printf("%s\n", dump ? dump : "{}");
		health_config_free(&cfg);
		free(o.listen);
		return EXIT_OK;
	}
	code = run(&o, &cfg);
	health_config_free(&cfg);
	free(o.listen);
	return code;
}
