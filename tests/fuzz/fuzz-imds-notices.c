/* The IMDS notices the agent watches (agent/watch.h): spot/instance-action,
 * events/recommendations/rebalance and events/maintenance/scheduled. */
#include <time.h>

#include "fuzz.h"
#include "watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = fuzz_cstr(data, size);
	char action[32], code[64], id[64];
	time_t when;

	if (watch_parse_spot(json, action, sizeof(action), &when) == 0)
		FUZZ_ASSERT(memchr(action, '\0', sizeof(action)));
	(void)watch_parse_rebalance(json, &when);
	if (watch_parse_scheduled(json, code, sizeof(code), id, sizeof(id), &when) == 0) {
		FUZZ_ASSERT(memchr(code, '\0', sizeof(code)));
		FUZZ_ASSERT(memchr(id, '\0', sizeof(id)));
	}
	free(json);
	return 0;
}
