/* Request path normalisation.  MHD is configured not to unescape the URL,
 * so this is the only place that decodes it: decoding once, here, is what
 * lets us reject an encoded '/' or NUL rather than have it reinterpreted. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "path.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Does any segment of the normalised path start with '.'?  .well-known is
 * the one dot directory the web relies on (RFC 8615), so it is allowed. */
static bool has_dotfile(const char *path)
{
	for (const char *q = path; *q; q++) {
		if (*q != '.' || (q != path && q[-1] != '/'))
			continue;
		size_t l = strcspn(q, "/");
		if (!(l == 11 && !strncmp(q, ".well-known", 11)))
			return true;
	}
	return false;
}

int path_normalize(const char *raw, char *out, size_t len, int *flags)
{
	size_t n = 0; /* bytes in out */
	const char *p = raw;
	bool dir = false;

	*flags = 0;
	if (*p != '/')
		return -EINVAL;
	if (len == 0)
		return -ENAMETOOLONG;

	for (;;) {
		char seg[1024];
		size_t s = 0;

		while (*p == '/')
			p++;
		if (!*p) {
			dir = true;
			break;
		}
		while (*p && *p != '/') {
			char c = *p++;
			if (c == '%') {
				int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);
				if (hi < 0 || lo < 0)
					return -EINVAL;
				c = (char)(hi << 4 | lo);
				p += 2;
				/* An encoded NUL truncates C strings; an encoded '/'
				 * would smuggle a separator past the split above. */
				if (c == '\0' || c == '/')
					return -EINVAL;
			}
			if (s + 1 >= sizeof(seg))
				return -ENAMETOOLONG;
			seg[s++] = c;
		}
		seg[s] = '\0';
		dir = false;

		if (!strcmp(seg, ".")) {
			dir = true;
		} else if (!strcmp(seg, "..")) {
			/* Climbing above the root is an attack, not a path:
			 * refuse it rather than clamp it as some servers do. */
			if (n == 0)
				return -EINVAL;
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--; /* the separator */
			dir = true;
		} else {
			if (n + (n ? 1 : 0) + s + 1 > len)
				return -ENAMETOOLONG;
			if (n)
				out[n++] = '/';
			memcpy(out + n, seg, s);
			n += s;
		}
		if (!*p)
			break;
	}
	out[n] = '\0';
	if (dir)
		*flags |= PATH_TRAILING_SLASH;
	if (has_dotfile(out))
		*flags |= PATH_HAS_DOTFILE;
	return 0;
}

static bool keep_in_location(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

int path_location(const char *rel, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	if (len < 3)
		return -ENAMETOOLONG;
	out[n++] = '/';
	for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
		/* Never two slashes in a row, whatever rel holds. */
		if (*p == '/' && out[n - 1] == '/')
			continue;
		if (keep_in_location(*p)) {
			if (n + 1 >= len)
				return -ENAMETOOLONG;
			out[n++] = (char)*p;
		} else {
			if (n + 3 >= len)
				return -ENAMETOOLONG;
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (out[n - 1] != '/') {
		if (n + 1 >= len)
			return -ENAMETOOLONG;
		out[n++] = '/';
	}
	out[n] = '\0';
	return 0;
}
