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
#include "identity.h"
#include "imds.h"
#include "lifecycle.h"
#include "metrics.h"

#define LIFECYCLE_QUEUE_MAX 16

struct agent {
	const struct agent_config *cfg;    /* not owned */
	struct imds_client imds;           /* owned */
	struct credentials_provider creds; /* owned */
	struct aws_client aws;             /* owned; valid when aws_ready */
	bool aws_ready;
	struct metrics metrics; /* owned */
	struct agent_identity ident;
	struct cpu_times cpu_prev;
	bool cpu_prev_valid;
	uint64_t cpu_prev_ms; /* monotonic time of cpu_prev */
	uint64_t started_mono_ms;
	uint64_t imds_retry_at_ms;    /* monotonic: next identity probe while absent */
	uint64_t asg_retry_at_ms;     /* monotonic: next ASG discovery while unknown */
	int signal_fd;                /* owned: SIGTERM/SIGINT */
	int timer_fd;                 /* owned: the sample tick */
	int status_fd;                /* status's, or -1: polled for the status socket */
	struct status_server *status; /* owned (status.h): status socket, metrics_listen */
	uint64_t publish_jitter_ms;
	struct lifecycle lc; /* lifecycle.c: hooks, interruptions, drains */
	int64_t lc_wake_ms;  /* wall clock: the lifecycle's next timer */
	bool lc_exit;        /* the lifecycle said the process may exit */
	/* driver.c: answers waiting to be fed to the engine, one
	 * per turn of the main loop (so a SIGTERM is seen between steps). */
	struct lc_event lc_queue[LIFECYCLE_QUEUE_MAX];
	int lc_queued;
	struct hook_set lc_found_hooks; /* LC_EV_DISCOVERED's data */
	char lc_found_tgs[LIFECYCLE_MAX_TARGET_GROUPS][512];
	char last_error[512]; /* the last error worth showing in status */
	time_t last_error_at;
};

/* agent.c: the daemon.  agent_init sets *a up (0, or -errno with the
 * reason logged; -EINTR when a stop came during the start); agent_run
 * loops until SIGTERM and a finished drain; agent_free releases what
 * agent_init took, whatever it returned. */
int agent_init(struct agent *a, const struct agent_config *cfg);
int agent_run(struct agent *a);
void agent_free(struct agent *a);

void agent_record_error(struct agent *a, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#endif
