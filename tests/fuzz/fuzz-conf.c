/* common/conf.h: JSON config documents, the typed getters (strings,
 * integers, doubles, booleans, durations, sizes), unknown-key checks and
 * the key locator that turns a key path back into file:line:col.  Every
 * getter is tried on every member of every object of the document; an
 * error must name the file. */
#include <errno.h>

#include "conf.h"
#include "fuzz.h"

static const char *const allowed[] = {"listen", "root", "checks", "interval", NULL};

static void check_error(struct conf_doc *doc, int r)
{
	if (r >= 0)
		return;
	FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM || r == -ERANGE);
	FUZZ_ASSERT(!strncmp(doc->error, "fuzz.json:", 10));
	doc->error[0] = '\0'; /* the next getter records its own */
}

static void walk(struct conf_doc *doc, json_t *v, const char *path, int depth)
{
	char sub[512];
	const char *key;
	json_t *m;
	size_t i;

	if (depth > 8)
		return;
	if (json_is_object(v)) {
		check_error(doc, conf_check_keys(doc, v, path, allowed));
		json_object_foreach(v, key, m)
		{
			const char *s;
			long long ll;
			double d;
			bool b;
			int line, col;

			conf_path_join(sub, sizeof(sub), path, key);
			check_error(doc, conf_get_string(doc, v, path, key, &s));
			check_error(doc, conf_get_int(doc, v, path, key, -5, 1000000, &ll));
			check_error(doc, conf_get_double(doc, v, path, key, -1.5, 1e9, &d));
			check_error(doc, conf_get_bool(doc, v, path, key, &b));
			check_error(doc, conf_get_duration_ms(doc, v, path, key, 1, 86400000, &ll));
			check_error(doc, conf_get_size(doc, v, path, key, 0, 1LL << 40, &ll));
			if (conf_locate(doc->text, sub, &line, &col) == 0)
				FUZZ_ASSERT(line >= 1 && col >= 1);
			walk(doc, m, sub, depth + 1);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
		{
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			walk(doc, m, sub, depth + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	struct conf_doc doc;
	int r = conf_doc_parse(&doc, "fuzz.json", text);

	if (r < 0)
		FUZZ_ASSERT(!strncmp(doc.error, "fuzz.json:", 10));
	else
		walk(&doc, doc.root, "", 0);
	conf_doc_free(&doc);
	free(text);
	return 0;
}
