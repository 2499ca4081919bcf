/* The agent's own counters for /metrics: AWS calls by service, action and
 * outcome, their retries, IMDS errors and completed lifecycle hooks.
 * Counted where each call's final outcome is known (aws.c, imds.c,
 * autoscaling.c, one call each) and read by status-metrics.c.
 *
 * One process-wide instance, on purpose: the agent has one thread, the
 * counters only grow, and passing a context through every AWS call site
 * for them would touch every module that calls AWS.  Fixed arrays, so
 * counting never allocates and never fails; a (service, action) pair
 * beyond COUNTERS_MAX_ACTIONS is counted as action "other". */
#ifndef ASG_AGENT_COUNTERS_H
#define ASG_AGENT_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"

#define COUNTERS_MAX_ACTIONS 32
#define COUNTERS_ACTION_MAX  64

/* The final outcome of one aws_query() (after its retries). */
enum aws_outcome {
	AWS_OUTCOME_SUCCESS,         /* 2xx */
	AWS_OUTCOME_AWS_ERROR,       /* AWS answered with an error (-EREMOTEIO) */
	AWS_OUTCOME_TRANSPORT_ERROR, /* no answer: timeout, refused, TLS, bad XML */
	AWS_OUTCOME_NO_CREDENTIALS,  /* -ENOKEY: nothing was sent */
	AWS_OUTCOME_INTERRUPTED,     /* -EINTR: a stop was requested */
	AWS_OUTCOMES,
};

/* Why an IMDS request failed (404 is an answer, not an error: it is how
 * IMDS says "no Spot notice", "no tag"). */
enum imds_error_kind {
	IMDS_ERROR_UNREACHABLE, /* no answer, or 5xx after the retries */
	IMDS_ERROR_FORBIDDEN,   /* 401/403: IMDS off or the token refused */
	IMDS_ERROR_DISABLED,    /* AWS_EC2_METADATA_DISABLED */
	IMDS_ERROR_PROTOCOL,    /* an answer we cannot use */
	IMDS_ERRORS,
};

struct aws_action_counters {
	enum aws_service service;
	char action[COUNTERS_ACTION_MAX]; /* "PutMetricData", or "other" */
	uint64_t outcomes[AWS_OUTCOMES];
	uint64_t retries; /* attempts beyond the first */
};

struct agent_counters {
	struct aws_action_counters aws[COUNTERS_MAX_ACTIONS];
	size_t n_aws;
	uint64_t imds_errors[IMDS_ERRORS];
	uint64_t hooks_completed[2]; /* [abandon]: CONTINUE, ABANDON */
};

/* aws_query()'s return value r (0 or -errno) as an outcome (pure). */
enum aws_outcome counters_aws_outcome(int r);
/* imds_get()'s return value as an error kind; false when it is not an
 * error (0, 404's -ENOENT, -EINTR) (pure). */
bool counters_imds_error_kind(int r, enum imds_error_kind *kind);

void counters_aws_call(enum aws_service service, const char *action, int r, int attempts);
void counters_imds_result(int r);
void counters_hook_completed(bool abandon);

const struct agent_counters *counters_get(void);
const char *counters_aws_outcome_name(enum aws_outcome o);
const char *counters_imds_error_name(enum imds_error_kind k);
/* For the tests: back to zero. */
void counters_reset(void);

#endif
