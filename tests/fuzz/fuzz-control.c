/* asg-health's control socket (GET /status, GET /health, POST /drain,
 * POST /undrain): raw request bytes on the Unix socket of a real server
 * (server-harness.h).  Whatever arrives, the answer is HTTP and not 500. */
#include "server-harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet();
	fz_start();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_exchange((const struct sockaddr *)&fz.control, sizeof(fz.control), data, size);
	return 0;
}
