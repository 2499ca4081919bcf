/* asg-agent's configuration: /etc/asg-agent/agent.json (JSON, through
 * common/conf.h: unknown keys are errors, every error is
 * "file:line:col: key: reason").  Parsed and validated completely into
 * this immutable struct before anything starts.  asg-agent.json(5)
 * documents every key. */
#ifndef ASG_AGENT_CONFIG_H
#define ASG_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "control-protocol.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define AGENT_DEFAULT_CONFIG        SYSCONFDIR "/asg-agent/agent.json"
#define AGENT_DEFAULT_STATUS_SOCKET "/run/asg-agent/agent.sock"
#define AGENT_DEFAULT_HEALTH_SOCKET CONTROL_DEFAULT_SOCKET
#define AGENT_DEFAULT_STATE_DIR     "/run/asg-agent"
#define AGENT_DEFAULT_DRAIN_D       SYSCONFDIR "/asg-agent/drain.d"
/* asg-health's own default configuration file (its -c): `doctor` reads
 * its checks and connection_timeout. */
#define AGENT_DEFAULT_HEALTH_CONFIG SYSCONFDIR "/asg-agent/health.json"
#define LIFECYCLE_MAX_TARGET_GROUPS 16

/* The "lifecycle" object: hooks, interruptions and the drain (lifecycle.h). */
struct lifecycle_config {
	long long watch_interval_ms;  /* IMDS polling (AWS: every 5 s) */
	long long launch_timeout_ms;  /* the launch gate's patience */
	bool launch_timeout_abandon;  /* ABANDON (default) or CONTINUE after it */
	int launch_rise;              /* passes each critical check needs */
	long long drain_timeout_ms;   /* waiting for in-flight requests */
	long long drain_quiet_ms;     /* no new request for this long: gone */
	char *drain_d;                /* owned: run-parts directory */
	long long drain_d_timeout_ms; /* per executable */
	long long stop_timeout_ms;    /* systemd's TimeoutStopSec for this unit */
	char *launching_hook;         /* owned or NULL: discovered */
	char *terminating_hook;       /* owned or NULL: discovered */
	bool hooks_configured;        /* "hooks" given: no DescribeLifecycleHooks */
	char *target_groups[LIFECYCLE_MAX_TARGET_GROUPS]; /* owned ARNs */
	int n_target_groups;
	bool target_groups_configured; /* no DescribeAutoScalingGroups */
	bool on_spot_interruption;
	bool on_scheduled_event;
	bool on_rebalance;
	char *state_dir; /* owned */
};

struct agent_config {
	char *path; /* owned; the file read, or NULL when running on defaults */
	/* Identity and AWS */
	char *region; /* owned or NULL: AWS_REGION/AWS_DEFAULT_REGION/IMDS decide */
	char *auto_scaling_group_name; /* owned or NULL: learned at run time */
	char *imds_endpoint;           /* owned or NULL */
	long long imds_token_ttl_s;
	char *endpoint_url;                     /* owned or NULL */
	char *endpoint_urls[AWS_SERVICE_COUNT]; /* owned or NULL */
	/* Metrics */
	char *namespace;          /* owned */
	char *cpu_metric_name;    /* owned */
	char *memory_metric_name; /* owned */
	char *disk_metric_name;   /* owned */
	bool memory_metric;
	bool disk_metric;
	char *disk_path; /* owned */
	bool per_instance_metrics;
	long long period_ms; /* 10 s, 30 s or 60 s; ASG_AGENT_TEST_PERIOD_MS in tests */
	long long sample_interval_ms;
	long long backlog_ms;        /* how long unsent periods are kept */
	long long publish_jitter_ms; /* -1: derived from the period */
	char *proc_stat;             /* owned */
	char *proc_meminfo;          /* owned */
	/* Local sockets */
	char *status_socket;  /* owned */
	char *health_config;  /* owned: asg-health's configuration, for doctor */
	char *health_socket;  /* owned */
	char *metrics_listen; /* owned or NULL: "ADDR:PORT" serving /metrics over TCP */
	char *log_level;      /* owned: "info" or "debug" */
	struct lifecycle_config lc;
};

/* Loads path (NULL: the default file, which may be absent: defaults then
 * apply; a path given explicitly must exist).  On failure returns -errno
 * and puts the "file:line:col: key: reason" text in err. */
int agent_config_load(struct agent_config *cfg, const char *path, char *err, size_t err_len);
/* Parses text as if read from path; for tests. */
int agent_config_parse(struct agent_config *cfg, const char *path, const char *text, char *err,
                       size_t err_len);
void agent_config_free(struct agent_config *cfg);
/* The endpoint overrides of cfg, in the shape aws.c wants. */
void agent_config_endpoints(const struct agent_config *cfg, struct aws_endpoint_config *out);

#endif
