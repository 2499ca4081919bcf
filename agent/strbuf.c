/* Growable string buffer (see strbuf.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "strbuf.h"

static bool strbuf_reserve(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *n;

	if (sb->failed)
		return false;
	if (extra > ((size_t)-1) / 2 - sb->len) {
		sb->failed = true;
		return false;
	}
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	if (sb->secret) {
		/* realloc would free the old copy unwiped. */
		n = malloc(cap);
		if (n && sb->data) {
			memcpy(n, sb->data, sb->len + 1);
			secret_wipe(sb->data, sb->cap);
			free(sb->data);
		}
	} else {
		n = realloc(sb->data, cap);
	}
	if (!n) {
		sb->failed = true;
		return false;
	}
	sb->data = n;
	sb->cap = cap;
	return true;
}

void strbuf_append_len(struct strbuf *sb, const void *s, size_t n)
{
	if (!strbuf_reserve(sb, n))
		return;
	if (n)
		memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void strbuf_append(struct strbuf *sb, const char *s)
{
	strbuf_append_len(sb, s, strlen(s));
}

void strbuf_append_char(struct strbuf *sb, char c)
{
	strbuf_append_len(sb, &c, 1);
}

void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0) {
		sb->failed = true;
		return;
	}
	if (!strbuf_reserve(sb, (size_t)n))
		return;
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_append_uri_encoded(struct strbuf *sb, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
			strbuf_append_char(sb, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			strbuf_append_len(sb, e, 3);
		}
	}
}

void strbuf_reset(struct strbuf *sb)
{
	if (sb->secret)
		secret_wipe(sb->data, sb->cap);
	sb->len = 0;
	sb->failed = false;
	if (sb->data)
		sb->data[0] = '\0';
}

void strbuf_free(struct strbuf *sb)
{
	if (sb->secret)
		secret_wipe(sb->data, sb->cap);
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
	sb->failed = false;
}

int strbuf_error(const struct strbuf *sb)
{
	return sb->failed ? -ENOMEM : 0;
}

const char *strbuf_str(const struct strbuf *sb)
{
	return sb->data ? sb->data : "";
}

char *strbuf_steal(struct strbuf *sb)
{
	char *p;

	if (sb->failed) {
		strbuf_free(sb);
		return NULL;
	}
	p = sb->data ? sb->data : strdup("");
	sb->data = NULL;
	sb->len = sb->cap = 0;
	return p;
}

void format_into(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
