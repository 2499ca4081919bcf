/* The IMDS instance identity document (agent/imds.h): fields land in
 * fixed buffers, always NUL-terminated. */
#include "fuzz.h"
#include "imds.h"

#define TERMINATED(f) FUZZ_ASSERT(memchr((f), '\0', sizeof(f)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = malloc(size ? size : 1);
	struct imds_identity id;

	if (!json)
		abort();
	memcpy(json, data, size);
	memset(&id, 0, sizeof(id));
	/* What the metadata paths gave first is kept. */
	snprintf(id.instance_id, sizeof(id.instance_id), "i-0123456789abcdef0");
	if (imds_parse_identity_document(json, size, &id) == 0) {
		TERMINATED(id.region);
		TERMINATED(id.availability_zone);
		TERMINATED(id.instance_type);
		TERMINATED(id.account_id);
		TERMINATED(id.image_id);
		TERMINATED(id.private_ip);
	}
	FUZZ_ASSERT(!strcmp(id.instance_id, "i-0123456789abcdef0"));
	free(json);
	return 0;
}
