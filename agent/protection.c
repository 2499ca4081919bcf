/* See protection.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent.h"
#include "autoscaling.h"
#include "protection.h"
#include "strbuf.h"
#include "timeutil.h"

#define PROTECTION_REFRESH_MS (60 * 1000)

/* Test only, like ASG_AGENT_TEST_WATCH_MS: ASG_AGENT_TEST_PROTECTION_MS
 * (100 ms and up) replaces the minute. */
static uint64_t refresh_ms(void)
{
	const char *test = getenv("ASG_AGENT_TEST_PROTECTION_MS");
	char *end;
	long long v;

	if (!test)
		return PROTECTION_REFRESH_MS;
	v = strtoll(test, &end, 10);
	return *end || v < 100 ? PROTECTION_REFRESH_MS : (uint64_t)v;
}

void protection_refresh(struct agent *a)
{
	uint64_t now = now_mono_ms(), every = refresh_ms();
	struct asg_instance info;
	struct aws_response resp;
	int r;

	if (!a->protection_next_ms) { /* the first one after a period */
		a->protection_next_ms = now + every;
		return;
	}
	if (now < a->protection_next_ms)
		return;
	a->protection_next_ms = now + every;
	if (!a->aws_ready || a->ident.imds != IMDS_OK || !a->ident.asg_source)
		return;
	r = autoscaling_describe_instance_info(&a->aws, a->ident.id.instance_id, &info, &resp);
	if (r == 0) {
		a->protection = info.protected_from_scale_in ? 1 : 0;
		a->protection_at = time(NULL);
		a->protection_error[0] = '\0';
	} else if (r != -EINTR) {
		format_into(a->protection_error, sizeof(a->protection_error),
		            "DescribeAutoScalingInstances: %s%s%s", resp.code,
		            resp.code[0] ? ": " : "",
		            resp.message[0] ? resp.message : strerror(-r));
	}
	aws_response_free(&resp);
}

json_t *protection_status(const struct agent *a)
{
	char t[32];

	if (a->protection_at)
		format_iso8601(a->protection_at, t, sizeof(t));
	return json_pack("{s:o,s:o,s:o}", "protected",
	                 a->protection_at ? json_boolean(a->protection == 1) : json_null(), "as_of",
	                 a->protection_at ? json_string(t) : json_null(), "error",
	                 a->protection_error[0] ? json_string(a->protection_error) : json_null());
}
