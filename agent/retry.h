/* The SDKs' "standard" retry mode (AWS SDK reference guide, "Retry
 * behavior"; botocore retries/standard.py): which failures are retried,
 * full-jitter exponential backoff, and the retry quota token bucket.
 * Pure functions and a small state struct, so tests can drive them. */
#ifndef ASG_AGENT_RETRY_H
#define ASG_AGENT_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#define RETRY_DEFAULT_MAX_ATTEMPTS 3
#define RETRY_QUOTA_INITIAL        500
#define RETRY_COST                 5
#define RETRY_TIMEOUT_COST         10
#define RETRY_NO_RETRY_INCREMENT   1
#define RETRY_BASE_MS              1000
#define RETRY_MAX_BACKOFF_MS       20000

enum retry_class {
	RETRY_NONE,       /* success or a terminal error */
	RETRY_TRANSIENT,  /* 500/502/503/504, RequestTimeout..., connection errors */
	RETRY_TIMEOUT,    /* a transport timeout: transient, but costs more quota */
	RETRY_THROTTLE,   /* Throttling, ThrottlingException, ... */
	RETRY_CLOCK_SKEW, /* RequestTimeTooSkewed & co: fix the clock, then retry */
};

struct retry_quota {
	int available;
};

/* transport_err: 0 when a response arrived, else a negative errno from
 * http_perform().  status and code describe the response (code may be
 * NULL).  skewed: the response's Date differs from our clock by more than
 * the signature window, which turns SignatureDoesNotMatch into a skew
 * error. */
enum retry_class retry_classify(int transport_err, long status, const char *code, bool skewed);
bool retry_is_throttling_code(const char *code);

void retry_quota_init(struct retry_quota *q);
/* Takes the cost of retrying after a failure of class cls.  Returns the
 * cost taken, or -ENOBUFS when the bucket cannot pay (do not retry). */
int retry_quota_acquire(struct retry_quota *q, enum retry_class cls);
/* After a success: refund what this request's retries took, or add
 * RETRY_NO_RETRY_INCREMENT if it needed none; capped at the initial size. */
void retry_quota_release(struct retry_quota *q, int taken);

/* Full jitter: rand01 * min(base * 2^retry, 20 s), retry counted from 0. */
uint64_t retry_backoff_ms(unsigned retry, double rand01);

/* AWS_MAX_ATTEMPTS if set and valid (1..20), else the default 3. */
int retry_max_attempts_from_env(void);

#endif
