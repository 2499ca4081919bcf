/* The IMDS iam/security-credentials/<role> document
 * (agent/credentials.h): accepted credentials have both keys. */
#include "credentials.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy without a NUL: the parser gets a length. */
	char *json = malloc(size ? size : 1);
	struct credentials c;

	if (!json)
		abort();
	memcpy(json, data, size);
	memset(&c, 0, sizeof(c));
	if (credentials_parse_imds(json, size, &c) == 0) {
		FUZZ_ASSERT(c.access_key_id && *c.access_key_id);
		FUZZ_ASSERT(c.secret_access_key && *c.secret_access_key);
	}
	credentials_clear(&c);
	free(json);
	return 0;
}
