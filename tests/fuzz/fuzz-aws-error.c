/* AWS error bodies (agent/aws.h aws_parse_error): whatever comes back, the
 * code, message and request id stay NUL-terminated in their buffers. */
#include "aws.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size ? size : 1);
	struct aws_response out;

	if (!body)
		abort();
	memcpy(body, data, size);
	memset(&out, 0, sizeof(out));
	aws_parse_error(body, size, &out);
	FUZZ_ASSERT(memchr(out.code, '\0', sizeof(out.code)));
	FUZZ_ASSERT(memchr(out.message, '\0', sizeof(out.message)));
	FUZZ_ASSERT(memchr(out.request_id, '\0', sizeof(out.request_id)));
	FUZZ_ASSERT(!out.xml);
	free(body);
	return 0;
}
