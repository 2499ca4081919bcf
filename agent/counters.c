/* The agent's counters for /metrics (counters.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"

static struct agent_counters counters;

enum aws_outcome counters_aws_outcome(int r)
{
	switch (r) {
	case 0:
		return AWS_OUTCOME_SUCCESS;
	case -EREMOTEIO:
		return AWS_OUTCOME_AWS_ERROR;
	case -ENOKEY:
		return AWS_OUTCOME_NO_CREDENTIALS;
	case -EINTR:
		return AWS_OUTCOME_INTERRUPTED;
	default:
		return AWS_OUTCOME_TRANSPORT_ERROR;
	}
}

bool counters_imds_error_kind(int r, enum imds_error_kind *kind)
{
	switch (r) {
	case 0:
	case -ENOENT:
	case -EINTR:
		return false;
	case -EACCES:
		*kind = IMDS_ERROR_FORBIDDEN;
		break;
	case -EHOSTDOWN:
		*kind = IMDS_ERROR_DISABLED;
		break;
	case -EPROTO:
	case -ENOMEM:
		*kind = IMDS_ERROR_PROTOCOL;
		break;
	default:
		*kind = IMDS_ERROR_UNREACHABLE;
		break;
	}
	return true;
}

static struct aws_action_counters *slot(enum aws_service service, const char *action)
{
	struct aws_action_counters *a;

	for (size_t i = 0; i < counters.n_aws; i++)
		if (counters.aws[i].service == service && !strcmp(counters.aws[i].action, action))
			return &counters.aws[i];
	if (counters.n_aws == COUNTERS_MAX_ACTIONS - 1 && strcmp(action, "other") != 0)
		return slot(service, "other"); /* the last slot is kept for "other" */
	if (counters.n_aws == COUNTERS_MAX_ACTIONS)
		return &counters.aws[COUNTERS_MAX_ACTIONS - 1];
	a = &counters.aws[counters.n_aws++];
	a->service = service;
	snprintf(a->action, sizeof(a->action), "%s", action);
	return a;
}

void counters_aws_call(enum aws_service service, const char *action, int r, int attempts)
{
	struct aws_action_counters *a;

	if ((unsigned)service >= AWS_SERVICE_COUNT || !action)
		return;
	a = slot(service, strlen(action) < COUNTERS_ACTION_MAX ? action : "other");
	a->outcomes[counters_aws_outcome(r)]++;
	if (attempts > 1)
		a->retries += (uint64_t)(attempts - 1);
}

void counters_imds_result(int r)
{
	enum imds_error_kind k;

	if (counters_imds_error_kind(r, &k))
		counters.imds_errors[k]++;
}

void counters_hook_completed(bool abandon)
{
	counters.hooks_completed[abandon ? 1 : 0]++;
}

const struct agent_counters *counters_get(void)
{
	return &counters;
}

const char *counters_aws_outcome_name(enum aws_outcome o)
{
	static const char *const names[AWS_OUTCOMES] = {"success", "aws_error", "transport_error",
	                                                "no_credentials", "interrupted"};

	return (unsigned)o < AWS_OUTCOMES ? names[o] : "unknown";
}

const char *counters_imds_error_name(enum imds_error_kind k)
{
	static const char *const names[IMDS_ERRORS] = {"unreachable", "forbidden", "disabled",
	                                               "protocol"};

	return (unsigned)k < IMDS_ERRORS ? names[k] : "unknown";
}

void counters_reset(void)
{
	memset(&counters, 0, sizeof(counters));
}
