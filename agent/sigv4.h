/* AWS Signature Version 4, header form (Authorization header), on OpenSSL's
 * libcrypto.  The steps and their order follow the IAM guide "Create a
 * signed AWS API request" and botocore's SigV4Auth; the official test suite
 * (aws-c-auth tests/aws-signing-test-suite/v4) is the oracle for every
 * canonicalisation rule here (tests/unit/test-sigv4.c runs all of it). */
#ifndef ASG_AGENT_SIGV4_H
#define ASG_AGENT_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct sigv4_header {
	const char *name;  /* any case; signed lower-cased */
	const char *value; /* raw; trimmed and whitespace-collapsed when signed */
};

struct sigv4_request {
	const char *method;
	const char *path;                   /* raw path, not yet URI-encoded, e.g. "/" */
	const char *query;                  /* raw query string without '?', or NULL */
	const struct sigv4_header *headers; /* must include Host */
	size_t n_headers;
	const void *body;
	size_t body_len;
};

struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL for long-term credentials */
};

struct sigv4_params {
	const char *region;
	const char *service; /* the signing name, e.g. "monitoring" */
	time_t when;
	/* Non-S3 services normalise the path (RFC 3986 dot segments, no
	 * empty segments); the suite's "normalize" flag. */
	bool normalize_path;
	/* Add and sign x-amz-content-sha256 (the suite's "sign_body"). */
	bool sign_body;
	/* Send the session token unsigned, added after signing (the suite's
	 * "omit_session_token", case post-sts-header-after). */
	bool omit_session_token;
};

struct sigv4_signature {
	char amz_date[17];       /* X-Amz-Date value, "YYYYMMDDTHHMMSSZ" */
	char payload_hash[65];   /* hex SHA-256 of the body (x-amz-content-sha256) */
	char signature[65];      /* lower-case hex */
	char *canonical_request; /* owned */
	char *string_to_sign;    /* owned */
	char *authorization;     /* owned: the Authorization header value */
};

/* Signs req.  The caller then sends, besides req's headers: X-Amz-Date:
 * amz_date, X-Amz-Security-Token when creds have a token,
 * x-amz-content-sha256 when params->sign_body, and Authorization.
 * Returns 0 or -ENOMEM/-EINVAL; on failure sig holds nothing to free. */
int sigv4_sign_request(const struct sigv4_request *req, const struct sigv4_credentials *creds,
                       const struct sigv4_params *params, struct sigv4_signature *sig);
void sigv4_signature_free(struct sigv4_signature *sig);

/* Lower-case hex SHA-256 of data into out[65]. */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* Headers botocore never signs (auth.py SIGNED_HEADERS_BLACKLIST): proxies
 * and HTTP stacks may change them in flight. */
bool sigv4_header_is_unsigned(const char *name);

#endif
