/* asg-agent's configuration file (agent/config.h), lifecycle object
 * included.  A rejection names the file and stays on one line. */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	struct agent_config cfg;
	char err[1024] = "";

	if (agent_config_parse(&cfg, "agent.json", text, err, sizeof(err)) < 0) {
		FUZZ_ASSERT(!strncmp(err, "agent.json", 10));
		FUZZ_ASSERT(!strchr(err, '\n'));
	} else {
		struct aws_endpoint_config ep;
		FUZZ_ASSERT(cfg.period_ms > 0 && cfg.namespace);
		agent_config_endpoints(&cfg, &ep);
		agent_config_free(&cfg);
	}
	free(text);
	return 0;
}
