/* What asg-agent reads back from asg-health's control socket, GET /status
 * (agent/health-client.h health_view_parse): the lifecycle's drain and launch gate
 * decisions depend on it. */
#include "health-client.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = malloc(size ? size : 1);
	struct health_view v;
	int rise = size ? data[0] % 5 : 2;

	if (!json)
		abort();
	memcpy(json, data, size);
	if (health_view_parse(json, size, rise, &v) == 0) {
		FUZZ_ASSERT(memchr(v.status, '\0', sizeof(v.status)));
		FUZZ_ASSERT(memchr(v.failing, '\0', sizeof(v.failing)));
		/* A check that is not ready is named. */
		if (v.failing[0])
			FUZZ_ASSERT(!v.checks_ready);
	}
	free(json);
	return 0;
}
