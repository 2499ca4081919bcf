/* Extension to Content-Type table (the types the issue lists, plus a few
 * that sites commonly ship).  A sorted table would be faster, but with this
 * few entries and results cached per file it does not matter. */
#include <string.h>
#include <strings.h>

#include "mime.h"

static const struct {
	const char *ext;
	const char *type;
} mime_table[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json; charset=utf-8"},
        {"map", "application/json; charset=utf-8"},
        {"webmanifest", "application/manifest+json; charset=utf-8"},
        {"svg", "image/svg+xml; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"csv", "text/csv; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"},
        {"xml", "application/xml; charset=utf-8"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"avif", "image/avif"},
        {"ico", "image/x-icon"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"ttf", "font/ttf"},
        {"otf", "font/otf"},
        {"wasm", "application/wasm"},
        {"pdf", "application/pdf"},
        {"mp4", "video/mp4"},
        {"webm", "video/webm"},
        {"mp3", "audio/mpeg"},
        {"zip", "application/zip"},
        {"gz", "application/gzip"},
        {"br", "application/octet-stream"},
};

const char *mime_type_for(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *dot = strrchr(slash ? slash + 1 : name, '.');

	if (dot && dot[1])
		for (size_t i = 0; i < sizeof(mime_table) / sizeof(mime_table[0]); i++)
			if (!strcasecmp(dot + 1, mime_table[i].ext))
				return mime_table[i].type;
	return "application/octet-stream";
}

bool mime_is_compressible(const char *t)
{
	return !strncmp(t, "text/", 5) || strstr(t, "json") || strstr(t, "xml") ||
	       !strcmp(t, "application/wasm") || !strncmp(t, "font/ttf", 8) ||
	       !strncmp(t, "font/otf", 8);
}
