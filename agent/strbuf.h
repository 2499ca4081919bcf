/* A growable NUL-terminated byte buffer for building requests, canonical
 * strings and form bodies.  The buffer owns its storage; an allocation
 * failure is sticky (every later append is a no-op) so callers can build a
 * whole string and check once with strbuf_error(). */
#ifndef ASG_AGENT_STRBUF_H
#define ASG_AGENT_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *data; /* owned, NUL-terminated when len > 0 or after any append */
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed; content is incomplete */
	bool secret; /* wiped when it grows, is reset or freed (secret.h) */
};

#define STRBUF_INIT                      \
	{                                \
		NULL, 0, 0, false, false \
	}
/* For a buffer that will hold a token, a key or a credential document. */
#define STRBUF_INIT_SECRET              \
	{                               \
		NULL, 0, 0, false, true \
	}

void strbuf_append(struct strbuf *sb, const char *s);
void strbuf_append_len(struct strbuf *sb, const void *s, size_t n);
void strbuf_append_char(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
/* Appends s percent-encoded as SigV4 and the Query protocol require:
 * A-Z a-z 0-9 - _ . ~ stay, every other byte becomes %XX (upper-case hex);
 * '/' stays too when keep_slash. */
void strbuf_append_uri_encoded(struct strbuf *sb, const char *s, size_t n, bool keep_slash);
void strbuf_reset(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
/* -ENOMEM if an append failed, else 0. */
int strbuf_error(const struct strbuf *sb);
/* The content ("" when empty); still owned by sb. */
const char *strbuf_str(const struct strbuf *sb);
/* Hands the storage to the caller (never NULL unless failed) and resets sb. */
char *strbuf_steal(struct strbuf *sb);

/* snprintf into a fixed buffer where truncation is acceptable (error
 * texts, log fields): no -Wformat-truncation noise at every call. */
void format_into(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline void strbuf_freep(struct strbuf *sb)
{
	strbuf_free(sb);
}
#define _cleanup_strbuf_ __attribute__((cleanup(strbuf_freep)))

#endif
