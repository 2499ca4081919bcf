/* asg-health's public listener end to end: raw request bytes (request
 * line, headers, pipelined requests) against a real server and site, so
 * the request target, Range, conditional and Accept-Encoding handling is
 * fuzzed in the context the daemon runs it in (server-harness.h). */
#include "server-harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	fz_start();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_exchange((const struct sockaddr *)&fz.http, sizeof(fz.http), data, size);
	return 0;
}
