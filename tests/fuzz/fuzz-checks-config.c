/* The "checks" array of asg-health's configuration (health/checks.h):
 * every check type's schema.  The input is the array alone; it is parsed
 * as the value of "checks" in a config document. */
#include "checks.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 16);
	struct conf_doc doc;
	struct check_spec *specs = NULL;
	size_t n = 0;

	if (!text)
		abort();
	memcpy(text, "{\"checks\": ", 11);
	memcpy(text + 11, data, size);
	memcpy(text + 11 + size, "}", 2);
	if (conf_doc_parse(&doc, "checks.json", text) == 0) {
		if (checks_parse(&doc, json_object_get(doc.root, "checks"), "checks", &specs, &n) ==
		    0) {
			for (size_t i = 0; i < n; i++) {
				FUZZ_ASSERT(specs[i].name && *specs[i].name);
				FUZZ_ASSERT(specs[i].interval_ms > 0 && specs[i].timeout_ms > 0);
				FUZZ_ASSERT(specs[i].rise > 0 && specs[i].fall > 0);
				FUZZ_ASSERT(check_kind_name(specs[i].kind));
				if (specs[i].kind == CHECK_EXEC)
					FUZZ_ASSERT(specs[i].argv && specs[i].argv[0]);
			}
			check_specs_free(specs, n);
		} else {
			FUZZ_ASSERT(!strncmp(doc.error, "checks.json:", 12));
		}
	}
	conf_doc_free(&doc);
	free(text);
	return 0;
}
