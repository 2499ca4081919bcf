/* Accept-Encoding (health/range.h): only gzip and br bits may come back. */
#include "fuzz.h"
#include "range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h = fuzz_cstr(data, size);
	unsigned m = accept_encoding_parse(h);

	FUZZ_ASSERT((m & ~((1u << ENC_GZIP) | (1u << ENC_BR))) == 0);
	free(h);
	return 0;
}
