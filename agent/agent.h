/* The running daemon's state, shared by the main loop (agent.c), the
 * identity discovery (identity.c), the lifecycle driver
 * (driver.c) and the status socket (status.c).  One struct,
 * owned by cmd-run.c's cmd_run() through agent_init/agent_free, freed in
 * reverse order of creation. */
#ifndef ASG_AGENT_AGENT_H
#define ASG_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "aws.h"
#include "config.h"
#include "cpu.h"
#include "credentials.h"
#include "drain.h"
#include "identity.h"
#include "imds.h"
#include "lifecycle.h"
#include "health-client.h"
#include "metrics.h"
#include "watchdog.h"
#include "watch.h"

#define LIFECYCLE_QUEUE_MAX 16

/* driver.c: the lifecycle's call under way (one at a time), with the
 * state of its steps. */
struct lc_op {
	bool busy;
	struct lc_action act;
	int i;              /* the hook or target group being called */
	int attempt;        /* COMPLETE: 1 for the call after the Describe */
	int phase;          /* COMPLETE: where the instance stands (driver.c) */
	enum lc_result res; /* HEARTBEAT: so far */
	uint64_t t0;        /* monotonic: when the action (or target group) began */
	bool waits_publish; /* FLUSH_METRICS: after the publish under way */
	struct aws_call call;
	struct aws_response resp;  /* the call's */
	struct aws_response resp2; /* a Describe's between */
	struct watch_poll watch;
	struct health_call health;
	struct drain_run drain;
};

struct agent {
	const struct agent_config *cfg;    /* not owned */
	struct imds_client imds;           /* owned */
	struct credentials_provider creds; /* owned */
	struct aws_client aws;             /* owned; valid when aws_ready */
	struct http_client health_http;    /* owned: asg-health's control socket */
	bool aws_ready;
	struct metrics metrics; /* owned */
	struct agent_identity ident;
	struct cpu_times cpu_prev;
	bool cpu_prev_valid;
	uint64_t cpu_prev_ms; /* monotonic time of cpu_prev */
	uint64_t started_mono_ms;
	uint64_t imds_retry_at_ms; /* monotonic: next identity probe while absent */
	uint64_t asg_retry_at_ms;  /* monotonic: next ASG discovery while unknown */
	struct watchdog watchdog;
	int signal_fd;                /* owned: SIGTERM/SIGINT */
	int timer_fd;                 /* owned: the sample tick */
	int status_fd;                /* status's, or -1: polled for the status socket */
	struct status_server *status; /* owned (status.h): status socket, metrics_listen */
	uint64_t publish_jitter_ms;
	struct identity_lookup lookup; /* identity.c: IMDS identity or group lookup */
	struct metrics_publish publish;
	bool publishing; /* a publish moment's steps are under way */
	int stop_signo;  /* the last SIGTERM/SIGINT read, 0 if none */
	unsigned stops;  /* how many were read */
	bool start_done; /* agent_init waits for the identity */
	int start_r;
	bool lc_kick;         /* an answer for the lifecycle came: tick at once */
	struct lifecycle lc;  /* lifecycle.c: hooks, interruptions, drains */
	uint64_t lc_timer_ms; /* monotonic: when the lifecycle's next timer event is due */
	bool lc_exit;         /* the lifecycle said the process may exit */
	/* driver.c: answers waiting to be fed to the engine, one
	 * per turn of the main loop (so a SIGTERM is seen between steps). */
	struct lc_event lc_queue[LIFECYCLE_QUEUE_MAX];
	int lc_queued;
	struct lc_actions *lc_todo; /* owned: the step's actions, executed in order */
	int lc_todo_next;
	struct lc_op lc_op;
	bool lc_stop_pending;           /* SIGTERM to feed once the step has executed */
	struct hook_set lc_found_hooks; /* LC_EV_DISCOVERED's data */
	char lc_found_tgs[LIFECYCLE_MAX_TARGET_GROUPS][512];
	/* protection.c: ProtectedFromScaleIn as last described. */
	int protection;              /* 1 protected, 0 not (valid when protection_at) */
	time_t protection_at;        /* when it was read, 0: never */
	char protection_error[256];  /* the last refresh's failure, or "" */
	uint64_t protection_next_ms; /* monotonic: the next refresh */
	char last_error[512];        /* the last error worth showing in status */
	time_t last_error_at;
};

/* agent.c: the daemon.  agent_init sets *a up (0, or -errno with the
 * reason logged; -EINTR when a stop came during the start); agent_run
 * loops until SIGTERM and a finished drain; agent_free releases what
 * agent_init took, whatever it returned. */
int agent_init(struct agent *a, const struct agent_config *cfg);
int agent_run(struct agent *a);
void agent_free(struct agent *a);

/* agent.c: the set-up the commands share with the daemon, without the
 * daemon (no signals, timer, status socket, metrics or lifecycle): the
 * IMDS client, credentials, identity and region, the AWS client when a
 * region is known (aws_ready) and the group's name when it can be found
 * (ident.asg_source).  max_attempts > 0 replaces the standard retry
 * mode's attempts per AWS call (1: a command that reports, not waits).
 * 0 or -errno; agent_close releases it either way. */
int agent_open(struct agent *a, const struct agent_config *cfg, int max_attempts);
void agent_close(struct agent *a);

void agent_record_error(struct agent *a, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#endif
