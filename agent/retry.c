/* Standard retry mode (see retry.h).  The code lists are botocore's
 * retries/standard.py and the SDK reference guide's "Retry behavior". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "retry.h"

static bool in_list(const char *code, const char *const *list, size_t n)
{
	if (!code)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(code, list[i]))
			return true;
	return false;
}

bool retry_is_throttling_code(const char *code)
{
	static const char *const throttling[] = {
	        "Throttling",
	        "ThrottlingException",
	        "ThrottledException",
	        "RequestThrottledException",
	        "TooManyRequestsException",
	        "ProvisionedThroughputExceededException",
	        "TransactionInProgressException",
	        "RequestLimitExceeded",
	        "BandwidthLimitExceeded",
	        "LimitExceededException",
	        "RequestThrottled",
	        "SlowDown",
	        "PriorRequestNotComplete",
	        "EC2ThrottledException",
	};
	return in_list(code, throttling, ARRAY_SIZE(throttling));
}

enum retry_class retry_classify(int transport_err, long status, const char *code, bool skewed)
{
	static const char *const transient[] = {"RequestTimeout", "RequestTimeoutException",
	                                        "PriorRequestNotComplete"};
	static const char *const skew[] = {"RequestTimeTooSkewed", "RequestExpired",
	                                   "RequestInTheFuture", "InvalidSignatureException"};

	if (transport_err == -ETIMEDOUT)
		return RETRY_TIMEOUT;
	if (transport_err == -EINTR || transport_err == -ENOMEM || transport_err == -EMSGSIZE)
		return RETRY_NONE;
	if (transport_err < 0)
		return RETRY_TRANSIENT; /* connection refused/reset, DNS, TLS */
	if (status >= 200 && status < 300)
		return RETRY_NONE;
	if (retry_is_throttling_code(code))
		return RETRY_THROTTLE;
	if (in_list(code, skew, ARRAY_SIZE(skew)) ||
	    (skewed && code && !strcmp(code, "SignatureDoesNotMatch")))
		return RETRY_CLOCK_SKEW;
	if (in_list(code, transient, ARRAY_SIZE(transient)))
		return RETRY_TRANSIENT;
	if (status == 429)
		return RETRY_THROTTLE;
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return RETRY_TRANSIENT;
	return RETRY_NONE;
}

void retry_quota_init(struct retry_quota *q)
{
	q->available = RETRY_QUOTA_INITIAL;
}

int retry_quota_acquire(struct retry_quota *q, enum retry_class cls)
{
	int cost = cls == RETRY_TIMEOUT ? RETRY_TIMEOUT_COST : RETRY_COST;

	if (q->available < cost)
		return -ENOBUFS;
	q->available -= cost;
	return cost;
}

void retry_quota_release(struct retry_quota *q, int taken)
{
	q->available += taken > 0 ? taken : RETRY_NO_RETRY_INCREMENT;
	if (q->available > RETRY_QUOTA_INITIAL)
		q->available = RETRY_QUOTA_INITIAL;
}

uint64_t retry_backoff_ms(unsigned retry, double rand01)
{
	uint64_t cap = RETRY_BASE_MS;

	for (unsigned i = 0; i < retry && cap < RETRY_MAX_BACKOFF_MS; i++)
		cap *= 2;
	if (cap > RETRY_MAX_BACKOFF_MS)
		cap = RETRY_MAX_BACKOFF_MS;
	if (rand01 < 0)
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = 0.999999;
	return (uint64_t)(rand01 * (double)cap);
}

int retry_max_attempts_from_env(void)
{
	const char *e = getenv("AWS_MAX_ATTEMPTS");
	char *end;
	long v;

	if (!e || !*e)
		return RETRY_DEFAULT_MAX_ATTEMPTS;
	v = strtol(e, &end, 10);
	if (*end || v < 1 || v > 20)
		return RETRY_DEFAULT_MAX_ATTEMPTS;
	return (int)v;
}
