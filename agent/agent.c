/* The daemon (`asg-agent run`, cmd-run.c): agent_init, agent_run,
 * agent_free.  One thread and one poll(2) loop that owns every
 * descriptor: a timerfd (the sample tick), a signalfd (SIGTERM/SIGINT),
 * the status socket, the sockets of the HTTP clients (libcurl's multi
 * interface: IMDS, AWS, asg-health) and a running drain.d executable.
 * Nothing waits anywhere else: AWS and IMDS calls, their retry backoffs
 * (timers of the HTTP clients) and drain.d end in callbacks, so a hung
 * endpoint delays neither `asg-agent status` nor SIGTERM, and a metric
 * period is published while a lifecycle call is under way.  Intervals and
 * deadlines are monotonic; wall time is for the metric periods, AWS's
 * deadlines and display.  systemd: Type=notify, READY=1 once the launch
 * gate is decided, STATUS= after each publish, WATCHDOG=1 from the loop. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "agent.h"
#include "identity.h"
#include "status.h"
#include "cleanup.h"
#include "disk.h"
#include "log.h"
#include "memory.h"
#include "protection.h"
#include "random.h"
#include "timeutil.h"
#include "watchdog.h"

/* While IMDS is absent, look again this often: an instance whose metadata
 * endpoint was off at boot may get it back (modify-instance-metadata-options). */
#define IMDS_REPROBE_MS (5 * 60 * 1000)

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup_timer(long long interval_ms)
{
	struct itimerspec its = {
	        .it_interval = {interval_ms / 1000, (interval_ms % 1000) * 1000000L},
	        .it_value = {interval_ms / 1000, (interval_ms % 1000) * 1000000L},
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int setup_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void sample(struct agent *a)
{
	const struct agent_config *cfg = a->cfg;
	struct cpu_times now_times;
	uint64_t now = now_mono_ms();
	int64_t wall = wall_ms();
	double pct;
	int r;

	r = cpu_read_times(cfg->proc_stat, &now_times);
	if (r < 0) {
		agent_record_error(a, "cannot read %s: %s", cfg->proc_stat, strerror(-r));
		return;
	}
	if (a->cpu_prev_valid && cpu_utilisation(&a->cpu_prev, &now_times, &pct) == 0) {
		/* A late tick (the machine was starved; no call blocks the
		 * loop) covers several intervals: spread its mean over each of them,
		 * oldest first, so Sum/SampleCount stays the time-weighted mean
		 * and no period is left without data.  The clock is monotonic, so
		 * a suspend does not count; only a gap longer than the backlog
		 * could keep counts once.  (The bound was ten periods: a 10 s
		 * hung AWS call at a short period lost nine periods.) */
		uint64_t interval = (uint64_t)cfg->sample_interval_ms;
		uint64_t steps = (now - a->cpu_prev_ms + interval / 2) / interval;
		if (steps < 1 || steps > a->metrics.q_cap * (uint64_t)cfg->period_ms / interval)
			steps = 1;
		for (uint64_t i = steps; i >= 1; i--)
			metrics_add_sample(&a->metrics, wall - (int64_t)((i - 1) * interval),
			                   METRIC_CPU, pct, 1);
	}
	a->cpu_prev = now_times;
	a->cpu_prev_ms = now;
	a->cpu_prev_valid = true;
	if (cfg->memory_metric && memory_used_percent(cfg->proc_meminfo, &pct) == 0)
		metrics_add_sample(&a->metrics, wall, METRIC_MEMORY, pct, 1);
	if (cfg->disk_metric && disk_used_percent(cfg->disk_path, &pct) == 0)
		metrics_add_sample(&a->metrics, wall, METRIC_DISK, pct, 1);
}

static void notify_status(struct agent *a)
{
	const struct metrics *m = &a->metrics;
	char lc[256];

	lifecycle_summary(&a->lc, lc, sizeof(lc));
	if (!m->last_publish_at)
		sd_notifyf(0, "STATUS=sampling; group %s; first publish pending; %s",
		           a->ident.asg_name[0] ? a->ident.asg_name : "unknown", lc);
	else if (m->last_publish_result == 0)
		sd_notifyf(0, "STATUS=published %llu period(s) to %s; backlog %zu; group %s; %s",
		           (unsigned long long)m->published, a->cfg->namespace, m->q_len,
		           a->ident.asg_name, lc);
	else
		sd_notifyf(0, "STATUS=publish failing, backlog %zu period(s): %.200s; %s", m->q_len,
		           m->last_error, lc);
}

static void ensure_aws(struct agent *a)
{
	struct aws_endpoint_config eps;
	int r;

	if (a->aws_ready || !a->ident.region[0])
		return;
	agent_config_endpoints(a->cfg, &eps);
	r = aws_client_init(&a->aws, a->ident.region, &eps, &a->creds);
	if (r < 0) {
		agent_record_error(a, "cannot set up the AWS client for %s: %s", a->ident.region,
		                   strerror(-r));
		return;
	}
	a->aws_ready = true;
}

/* ---- a publish moment: settle what is still unknown (IMDS, the group),
 * then send; each step may wait for the loop ---- */

static void publish_send(struct agent *a);

static void on_published(void *ctx, int r)
{
	struct agent *a = ctx;

	a->publishing = false;
	if (r < 0)
		agent_record_error(a, "%s", a->metrics.last_error);
	notify_status(a);
	lifecycle_publish_ended(a);
}

static void publish_send(struct agent *a)
{
	int r;

	if (!a->aws_ready) {
		format_into(a->metrics.last_error, sizeof(a->metrics.last_error),
		            "not published: no region (set AWS_REGION or \"region\")");
		a->publishing = false;
		lifecycle_publish_ended(a);
		return;
	}
	r = metrics_publish_start(&a->publish, &a->metrics, &a->aws, on_published, a);
	if (r != 1)
		on_published(a, r);
}

static void on_publish_asg(struct agent *a, int r)
{
	(void)r;
	publish_send(a);
}

static void publish_find_asg(struct agent *a)
{
	uint64_t now = now_mono_ms();

	ensure_aws(a);
	if (!a->ident.asg_source && now >= a->asg_retry_at_ms) {
		/* At most once a period: a failing lookup costs API calls. */
		a->asg_retry_at_ms = now + (uint64_t)a->cfg->period_ms;
		if (identity_find_asg_start(a, on_publish_asg) == 1)
			return;
	}
	publish_send(a);
}

static void on_publish_identity(struct agent *a, int r)
{
	(void)r;
	if (a->ident.imds == IMDS_OK)
		format_into(a->metrics.instance_id, sizeof(a->metrics.instance_id), "%s",
		            a->ident.id.instance_id);
	publish_find_asg(a);
}

static void publish(struct agent *a)
{
	uint64_t now = now_mono_ms();

	a->publishing = true;
	if (a->ident.imds == IMDS_ABSENT && now >= a->imds_retry_at_ms) {
		a->imds_retry_at_ms = now + IMDS_REPROBE_MS;
		int r = identity_discover_start(a, on_publish_identity);
		if (r == 1)
			return;
		if (r == 0)
			on_publish_identity(a, r);
		else
			publish_find_asg(a);
		return;
	}
	publish_find_asg(a);
}

/* ---- the loop ---- */

/* The HTTP clients the loop drives; NULL for one not set up. */
static void loop_clients(struct agent *a, struct http_client **c)
{
	c[0] = &a->imds.http;
	c[1] = a->aws_ready ? &a->aws.http : NULL;
	c[2] = a->health_http.multi ? &a->health_http : NULL;
}

static void interrupt_requests(struct agent *a)
{
	struct http_client *clients[3];

	loop_clients(a, clients);
	for (size_t i = 0; i < ARRAY_SIZE(clients); i++)
		if (clients[i])
			http_client_interrupt(clients[i]);
}

/* One turn: waits at most timeout ms (-1: no bound) for the signalfd,
 * the sample timer, the status socket and the HTTP clients' sockets and
 * timers, then handles what is ready.  A signal sets a->stop_signo and
 * interrupts what is in flight; a tick sets *ticked. */
static void turn(struct agent *a, int timeout, bool *ticked)
{
	struct pollfd pfd[3 + 2 + 3 * HTTP_MAX_SOCKETS] = {
	        {.fd = a->signal_fd, .events = POLLIN},
	        {.fd = a->timer_fd, .events = POLLIN},
	        {.fd = a->status_fd, .events = POLLIN},
	};
	struct http_client *clients[3];
	struct drain_run *drain = &a->lc_op.drain;
	size_t n = 3, first_http;

	/* A drain.d executable's output and exit. */
	n += drain_run_fill_poll(drain, pfd + n, 2);
	if (drain->busy) {
		int t = drain_run_timeout_ms(drain);
		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
	}
	first_http = n;
	loop_clients(a, clients);
	for (size_t i = 0; i < ARRAY_SIZE(clients); i++) {
		int t;
		if (!clients[i])
			continue;
		n += http_client_fill_poll(clients[i], pfd + n, ARRAY_SIZE(pfd) - n);
		t = http_client_timeout_ms(clients[i]);
		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
	}
	if (watchdog_interval_ms(&a->watchdog) &&
	    (timeout < 0 || (uint64_t)timeout > watchdog_interval_ms(&a->watchdog)))
		timeout = (int)watchdog_interval_ms(&a->watchdog);
	/* poll(2) skips the entries whose fd is -1 (no timer or status socket). */
	if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
		log_error("poll failed: %m");
		return;
	}
	watchdog_ping(&a->watchdog);
	if (pfd[0].revents & POLLIN) {
		struct signalfd_siginfo si;
		if (read(a->signal_fd, &si, sizeof(si)) == sizeof(si)) {
			a->stop_signo = (int)si.ssi_signo;
			a->stops++;
			interrupt_requests(a);
		}
	}
	if (pfd[1].revents & POLLIN) {
		uint64_t ticks;
		if (read(a->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks))
			*ticked = true;
	}
	if (a->status_fd >= 0 && (pfd[2].revents & POLLIN))
		status_serve(a, a->status_fd);
	drain_run_dispatch(drain, pfd + 3, first_http - 3);
	for (size_t i = 0; i < ARRAY_SIZE(clients); i++)
		if (clients[i])
			http_client_dispatch(clients[i], pfd + first_http, n - first_http);
}

/* Runs turns until *done, or a stop when stop_ends is set.  For the
 * start and the exit flush. */
static void turn_until(struct agent *a, const bool *done, bool stop_ends)
{
	unsigned stops = a->stops;
	bool ticked = false;

	while (!*done && !(stop_ends && a->stops != stops))
		turn(a, -1, &ticked);
}

static uint64_t publish_jitter_ms(const struct agent_config *cfg)
{
	return metrics_publish_jitter_ms(cfg->period_ms, cfg->publish_jitter_ms, random_unit());
}

static void on_group_found(struct agent *a, int r)
{
	(void)a;
	(void)r; /* logged by identity.c; retried once a period while unknown */
}

static void on_started(struct agent *a, int r)
{
	a->start_done = true;
	a->start_r = r;
}

static int agent_start(struct agent *a, const struct agent_config *cfg)
{
	struct metrics_settings ms = {
	        .namespace = cfg->namespace,
	        .names = {cfg->cpu_metric_name, cfg->memory_metric_name, cfg->disk_metric_name},
	        .enabled = {true, cfg->memory_metric, cfg->disk_metric},
	        .period_ms = cfg->period_ms,
	        .per_instance = cfg->per_instance_metrics,
	};
	long long backlog = cfg->backlog_ms / cfg->period_ms;
	int r;

	ms.backlog_max = backlog < 1 ? 1 : (size_t)backlog;
	a->cfg = cfg;
	a->started_mono_ms = now_mono_ms();
	r = imds_client_init(&a->imds, cfg->imds_endpoint, (int)cfg->imds_token_ttl_s);
	if (r < 0)
		return r;
	r = http_client_init(&a->health_http);
	if (r < 0)
		return r;
	credentials_provider_init(&a->creds, &a->imds);
	if (cfg->period_ms / 1000 < a->creds.retry_interval_s)
		a->creds.retry_interval_s = cfg->period_ms < 1000 ? 1 : cfg->period_ms / 1000;
	r = metrics_init(&a->metrics, &ms);
	if (r < 0)
		return r;
	r = identity_discover_start(a, on_started);
	if (r == 1) {
		turn_until(a, &a->start_done, true);
		if (!a->start_done) {
			identity_lookup_cancel(a);
			return -EINTR;
		}
		r = a->start_r;
	}
	if (r < 0)
		return r;
	a->imds_retry_at_ms = now_mono_ms() + IMDS_REPROBE_MS;
	if (a->ident.imds == IMDS_OK)
		format_into(a->metrics.instance_id, sizeof(a->metrics.instance_id), "%s",
		            a->ident.id.instance_id);
	if (a->ident.region[0])
		log_info("region %s (from %s)", a->ident.region, a->ident.region_source);
	else
		log_error("no region: set AWS_REGION or \"region\" in %s; metrics will not be "
		          "published until then",
		          cfg->path ? cfg->path : AGENT_DEFAULT_CONFIG);
	ensure_aws(a);
	return 0;
}

int agent_open(struct agent *a, const struct agent_config *cfg, int max_attempts)
{
	int r;

	memset(a, 0, sizeof(*a));
	a->signal_fd = a->timer_fd = a->status_fd = -1;
	a->cfg = cfg;
	a->started_mono_ms = now_mono_ms();
	r = imds_client_init(&a->imds, cfg->imds_endpoint, (int)cfg->imds_token_ttl_s);
	if (r < 0)
		return r;
	credentials_provider_init(&a->creds, &a->imds);
	r = identity_discover(a);
	if (r < 0)
		return r;
	ensure_aws(a);
	if (a->aws_ready && max_attempts > 0)
		a->aws.max_attempts = max_attempts;
	if (a->aws_ready)
		identity_find_asg(a);
	return 0;
}

void agent_close(struct agent *a)
{
	if (a->aws_ready)
		aws_client_free(&a->aws);
	a->aws_ready = false;
	credentials_provider_free(&a->creds);
	imds_client_free(&a->imds);
}

static void agent_stop(struct agent *a)
{
	lifecycle_free(a);
	identity_lookup_cancel(a);
	if (a->aws_ready)
		metrics_publish_cancel(&a->publish);
	metrics_free(&a->metrics);
	if (a->aws_ready)
		aws_client_free(&a->aws);
	credentials_provider_free(&a->creds);
	imds_client_free(&a->imds);
	http_client_free(&a->health_http);
}

int agent_init(struct agent *a, const struct agent_config *cfg)
{
	int r;

	memset(a, 0, sizeof(*a));
	a->signal_fd = a->timer_fd = a->status_fd = -1;
	if (!strcmp(cfg->log_level, "debug"))
		log_set_level(LOG_DEBUG);
	watchdog_init(&a->watchdog);
	a->signal_fd = setup_signals();
	if (a->signal_fd < 0) {
		log_error("cannot set up signal handling: %s", strerror(-a->signal_fd));
		return a->signal_fd;
	}
	/* A metrics_listen that cannot be served stops the start (logged). */
	a->status_fd = status_start(&a->status, a, cfg);
	if (a->status_fd < 0)
		return a->status_fd;
	a->cfg = cfg; /* the status document reads it from the first HTTP call */
	r = agent_start(a, cfg);
	if (r < 0) {
		if (r != -EINTR)
			log_error("cannot start: %s", strerror(-r));
		return r;
	}
	a->timer_fd = setup_timer(cfg->sample_interval_ms);
	if (a->timer_fd < 0) {
		log_error("cannot create the sample timer: %s", strerror(-a->timer_fd));
		return a->timer_fd;
	}
	a->publish_jitter_ms = publish_jitter_ms(cfg);
	sample(a); /* the baseline reading */
	log_info(
	        "running: namespace %s, metric %s, period %lld ms, publish jitter %llu ms; IMDS %s",
	        cfg->namespace, cfg->cpu_metric_name, cfg->period_ms,
	        (unsigned long long)a->publish_jitter_ms, imds_state_name(a->ident.imds));
	/* READY=1 comes from the lifecycle once it has left booting: the
	 * launch gate is decided (lifecycle.h).  Retried once a period
	 * while unknown. */
	lifecycle_init(a);
	/* -ENOENT: unknown for now (the lifecycle's discovery may be
	 * looking); asked again at the next publish. */
	if (identity_find_asg_start(a, on_group_found) < 0 && !a->ident.asg_source)
		log_debug("Auto Scaling group not known yet");
	a->asg_retry_at_ms = now_mono_ms() + (uint64_t)cfg->period_ms;
	return 0;
}

/* Turns until the publish under way has ended: its calls end within
 * their timeouts, a second SIGTERM cuts their backoffs. */
static void wait_publish(struct agent *a)
{
	bool ticked = false;

	while (a->publishing)
		turn(a, -1, &ticked);
}

int agent_run(struct agent *a)
{
	uint64_t publish_at = 0, lifecycle_at = 0;
	bool running = true;

	while (running || !lifecycle_may_exit(a)) {
		uint64_t now = now_mono_ms();
		bool ticked = false;
		int timeout = -1;

		/* A publish still under way holds the next one back. */
		if (publish_at && !a->publishing)
			timeout = publish_at > now ? (int)(publish_at - now) : 0;
		if (lifecycle_at != UINT64_MAX &&
		    (timeout < 0 || lifecycle_at <= now + (uint64_t)timeout))
			timeout = lifecycle_at > now ? (int)(lifecycle_at - now) : 0;
		turn(a, timeout, &ticked);
		if (a->stop_signo && running) {
			running = false;
			lifecycle_stop(a);
			lifecycle_at = 0; /* its answers, if any, at once */
		}
		if (ticked) {
			uint64_t closed = a->metrics.closed;
			sample(a);
			metrics_roll(&a->metrics, wall_ms());
			/* Publish once per closed period, jittered; a backlog
			 * left by a failure goes with the next one. */
			if (a->metrics.closed != closed && !publish_at)
				publish_at = now_mono_ms() + a->publish_jitter_ms;
		}
		if (running && publish_at && !a->publishing && now_mono_ms() >= publish_at) {
			publish_at = 0;
			publish(a);
		}
		if (a->lc_kick) {
			a->lc_kick = false;
			lifecycle_at = 0;
		}
		if (now_mono_ms() >= lifecycle_at)
			lifecycle_at = lifecycle_tick(a);
		if (running)
			protection_refresh(a);
	}

	sd_notify(0, "STOPPING=1\nSTATUS=flushing the current period");
	/* A PutMetricData under way ends first (within its timeout): its
	 * periods must not be sent twice. */
	wait_publish(a);
	metrics_close_current(&a->metrics);
	if (metrics_backlog(&a->metrics)) {
		publish(a);
		wait_publish(a);
	}
	if (metrics_backlog(&a->metrics))
		log_warning("exiting with %zu period(s) unpublished: %s",
		            metrics_backlog(&a->metrics), a->metrics.last_error);
	return 0;
}

void agent_free(struct agent *a)
{
	agent_stop(a);
	status_stop(a->status); /* closes status_fd, removes the socket */
	a->status = NULL;
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	if (a->signal_fd >= 0)
		close(a->signal_fd);
	a->status_fd = a->timer_fd = a->signal_fd = -1;
}
