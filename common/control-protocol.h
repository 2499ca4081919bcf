/* The control protocol between asg-health and asg-agent, defined once.
 *
 * asg-health serves HTTP/1.1 on a Unix socket (its "control_socket");
 * asg-agent is its only client (its "health_socket", the same path by
 * default).  This is our privsep channel, as OpenBSD's imsg types are:
 * asg-health's control code (health/control.c, health/server.c,
 * health/probes.c, health/checks.c) writes these names, the agent's
 * asg-health client reads them, and tests/integration/control-contract.py
 * runs both daemons to check that every field the agent reads is there,
 * with the type it expects.  Renaming a field here renames it on both
 * sides; changing its meaning or type is an interface change (the man
 * pages document the document, asg-health(8)). */
#ifndef ASG_COMMON_CONTROL_PROTOCOL_H
#define ASG_COMMON_CONTROL_PROTOCOL_H

/* --- the socket --------------------------------------------------------- */

/* Default path of the control socket, on both sides: asg-health's
 * "control_socket" and asg-agent's "health_socket".  Under /run/asg-agent
 * because the agent's user owns that directory (systemd's
 * RuntimeDirectory) and asg-health makes the socket group-accessible
 * only (health/listen.c). */
#define CONTROL_DEFAULT_SOCKET "/run/asg-agent/health.sock"

/* --- the requests (HTTP method and path) ------------------------------ */

/* POST: start draining.  /health answers 503 on every listener and every
 * response closes its connection; the answer is the status document.
 * Sent by the agent's lifecycle (terminating hook, Spot notice) and by
 * `asg-agent drain`. */
#define CONTROL_PATH_DRAIN "/drain"
/* POST: stop draining; /health follows the checks again.  Sent by the
 * agent when a drain is cancelled and by `asg-agent undrain`. */
#define CONTROL_PATH_UNDRAIN "/undrain"
/* GET: the status document below.  Read by the agent's lifecycle (launch
 * gate, drain progress) and `asg-agent doctor`. */
#define CONTROL_PATH_STATUS "/status"
/* GET: the verbose /health document, with each check's detail (the
 * public port never shows details).  For operators (curl --unix-socket);
 * the agent does not read it. */
#define CONTROL_PATH_HEALTH "/health"

/* GET: the Prometheus text format (format 0.0.4, common/prom.h), served
 * on asg-health's control socket and its "metrics_listen" address, and on
 * asg-agent's status socket and its "metrics_listen" address.  For
 * Prometheus and operators; the daemons do not read each other's.  The
 * metrics are listed in docs/serving.md and docs/agent.md. */
#define CONTROL_PATH_METRICS "/metrics"

/* --- asg-agent's status socket ---------------------------------------- */

/* asg-agent's own socket ("status_socket") speaks HTTP too, with
 * CONTROL_PATH_METRICS above and GET of this path: the status document
 * `asg-agent status` prints (agent/status.c). */
#define CONTROL_AGENT_STATUS_PATH "/status"

/* --- the status document (GET /status, POST /drain, POST /undrain) ----- */

/* string, "healthy" | "unhealthy" | "draining": asg-health's verdict, the
 * one /health answers (200 only when "healthy").  The agent's launch gate
 * never passes while it is "unhealthy". */
#define CONTROL_FIELD_STATUS     "status"
#define CONTROL_STATUS_HEALTHY   "healthy"
#define CONTROL_STATUS_UNHEALTHY "unhealthy"
#define CONTROL_STATUS_DRAINING  "draining"
/* boolean: POST /drain was the last drain command.  Read by the agent. */
#define CONTROL_FIELD_DRAINING "draining"
/* integer >= 0: public HTTP requests being answered now (head received,
 * response not yet completed).  The agent's drain waits for 0. */
#define CONTROL_FIELD_IN_FLIGHT "in_flight"
/* integer >= 0: open public connections.  For operators. */
#define CONTROL_FIELD_CONNECTIONS "connections"
/* integer >= 0: public requests answered since start.  For operators. */
#define CONTROL_FIELD_REQUESTS "requests"
/* integer: seconds since asg-health started.  For operators. */
#define CONTROL_FIELD_UPTIME "uptime_s"
/* string: asg-health's version.  For operators and `asg-agent doctor`. */
#define CONTROL_FIELD_VERSION "version"
/* string: the site root served.  For operators. */
#define CONTROL_FIELD_ROOT "root"
/* integer >= 1: the server threads serving the public listeners (the
 * "threads" key; 0 there is one per CPU this process may run on).  For
 * operators. */
#define CONTROL_FIELD_THREADS "threads"
/* object: the access log (asg-health's "access_log" key):
 * "destination" (string: "" for none, "journal" or the file), "queued"
 * (integer: lines taken into the buffer), "lines" (integer: lines
 * written), "dropped" (integer: lines dropped because the
 * in-memory buffer was full: the writer could not keep up), "write_errors"
 * (integer: lines lost to failed writes), "buffered_bytes" (integer).  For
 * operators; the agent does not read it. */
#define CONTROL_FIELD_ACCESS_LOG   "access_log"
#define CONTROL_ACCESS_LOG_DROPPED "dropped"
/* array of strings: the names of the critical checks failing now. */
#define CONTROL_FIELD_FAILING "failing"

/* object, check name -> check object (below).  The agent's launch gate
 * reads every critical check's state and consecutive passes. */
#define CONTROL_FIELD_CHECKS "checks"
/* string, "pass" | "fail" | "pending": the check's state after its
 * rise/fall hysteresis.  Read by the agent. */
#define CONTROL_CHECK_STATE   "state"
#define CONTROL_CHECK_PASS    "pass"
#define CONTROL_CHECK_FAIL    "fail"
#define CONTROL_CHECK_PENDING "pending"
/* string: the check type ("http", "tcp", "exec", "file", "disk", "memory"). */
#define CONTROL_CHECK_TYPE "type"
/* boolean: a failing critical check makes /health answer 503.  The agent
 * gates a launch on critical checks only. */
#define CONTROL_CHECK_CRITICAL "critical"
/* string: the last result in words (control socket only). */
#define CONTROL_CHECK_DETAIL "detail"
/* integer >= 0: passes in a row.  The agent's launch gate wants at least
 * its launch_rise of them. */
#define CONTROL_CHECK_PASSES "consecutive_passes"
/* integer >= 0: failures in a row. */
#define CONTROL_CHECK_FAILURES "consecutive_failures"
/* integer or null: milliseconds since the last run ended, null before. */
#define CONTROL_CHECK_LAST_RUN "last_run_ms_ago"
/* integer or null: how long the last run took, null before. */
#define CONTROL_CHECK_DURATION "duration_ms"

/* object: the load balancer's probers as asg-health saw them
 * (health/probes.h), so the agent knows without any AWS permission when
 * the drain has been seen. */
#define CONTROL_FIELD_LOAD_BALANCER "load_balancer"
/* integer >= 0: probers seen within lb_probe_window.  The agent reads it:
 * with none, there is no load balancer to wait for. */
#define CONTROL_LB_RECENT "recent"
/* boolean: at least one recent prober, and each has had its unhealthy
 * threshold of 503s: no new traffic is coming.  Read by the agent, which
 * then stops waiting for the load balancer. */
#define CONTROL_LB_DRAIN_CONFIRMED "drain_confirmed"
/* integer: lb_unhealthy_threshold, the 503s a prober needs. */
#define CONTROL_LB_THRESHOLD "unhealthy_threshold"
/* array of objects {address, last_seen_ms_ago, consecutive_503, probes}.
 * The agent sums their probes to tell probes from other requests. */
#define CONTROL_LB_PROBERS "probers"
/* integer >= 0: requests seen from one prober (a probers[] member). */
#define CONTROL_PROBER_PROBES "probes"

/* object: connection counters (accepted, head_timeouts, lingering,
 * lingering_closes, evictions: connections closed at max_connections to
 * admit a new one) and "cache": the file cache's counters.  For
 * operators and the benchmarks; the agent does not read them. */
#define CONTROL_FIELD_CONNECTION_COUNTERS "connection_counters"
#define CONTROL_FIELD_CACHE               "cache"

/* On an error: {"error": "what to do"}, with a 404 or 405. */
#define CONTROL_FIELD_ERROR "error"

#endif
