/* The file cache: one entry per (root-relative path, representation), with
 * the file's identity, its content ETag and, for small files, the bytes and
 * ready-made MHD responses.  A stat older than cache_revalidate is checked
 * again (by one thread; the others keep serving the old, complete entry),
 * so a deploy that rewrites the site is served without a restart and never
 * as a torn file. */
#ifndef ASG_HEALTH_CACHE_H
#define ASG_HEALTH_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <microhttpd.h>

#include "config.h"
#include "range.h"

/* Representations of one path. */
enum variant {
	VARIANT_IDENTITY = ENC_IDENTITY,
	VARIANT_GZIP = ENC_GZIP,
	VARIANT_BR = ENC_BR,
	VARIANT_ERROR_PAGE = 3, /* the custom 404 page: no validators */
	VARIANT_COUNT
};

/* Bytes shared by an entry and the responses built on them. */
struct blob {
	atomic_int refs;
	size_t len;
	unsigned char data[];
};

struct file_entry {
	struct file_entry *next;                /* hash chain, owned by the cache */
	struct file_entry *lru_prev, *lru_next; /* eviction list, under the lock */
	atomic_bool referenced;                 /* hit since the eviction clock last passed */
	size_t charge;                          /* estimated memory of the entry, keys included */
	atomic_int refs;                        /* the table's reference plus users' */
	char *relpath;                          /* owned; root-relative, "" for the root */
	enum variant variant;
	int status; /* 0 regular file; -ENOENT, -EISDIR, -EACCES, or
	             * -EAGAIN: transient (503, never cached) */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	char etag[40]; /* "\"<32 hex>\"", from the content's SHA-256 */
	char last_modified[40];
	const char *content_type;             /* static string */
	const char *cache_control;            /* points into the site's config */
	bool vary;                            /* send Vary: Accept-Encoding */
	struct blob *blob;                    /* small files; NULL when served by sendfile */
	struct MHD_Response *full[2];         /* [close]: 200 (or 404) with body */
	struct MHD_Response *not_modified[2]; /* [close]: 304 */
	_Atomic uint64_t checked_ms;          /* when the stat was last confirmed */
	bool cached;                          /* in the table (counts towards the budget) */
};

struct cache;

int cache_new(struct cache **out, const struct health_config *cfg, int rootfd);
void cache_free(struct cache *c);

/* Looks up (and loads or revalidates as needed) the entry for relpath in
 * the given variant.  Returns a referenced entry (release with
 * file_entry_put) or NULL with -errno in *err for internal failures. */
struct file_entry *cache_get(struct cache *c, const char *relpath, enum variant v, int *err);
void file_entry_put(struct file_entry *e);

void blob_put(struct blob *b);
/* Opens relpath beneath the root (beneath.h: no '..' or symlink may
 * leave it) for the variant; -errno on failure. */
int cache_open_file(struct cache *c, const char *relpath, enum variant v);
/* fstat of relpath beneath the root, the same way; -errno on failure. */
int cache_stat_file(struct cache *c, const char *relpath, enum variant v, struct stat *st);
/* What an open/stat error means for the client (pure): -ENOENT for "does
 * not exist" (or resolution tried to leave the root), -EACCES, or -EAGAIN
 * for everything transient (out of descriptors or memory, I/O errors):
 * answered 503 and never cached. */
int cache_status_from_errno(int err);
/* Does st still describe the file e was loaded from? */
bool file_entry_same_identity(const struct file_entry *e, const struct stat *st);
/* Adds the headers shared by 200/206/304 responses of e. */
int file_entry_add_headers(const struct file_entry *e, struct MHD_Response *r, bool close_conn,
                           bool validators);

struct cache_stats {
	uint64_t entries, bytes, hits, misses, revalidations;
	uint64_t metadata;    /* estimated bytes of the entries, keys included */
	uint64_t evictions;   /* entries dropped to stay within the budgets */
	uint64_t loads;       /* entries built from the filesystem */
	uint64_t hashed;      /* files read and hashed (the expensive part) */
	uint64_t hash_reused; /* large files whose hash was kept by identity */
};
void cache_get_stats(struct cache *c, struct cache_stats *s);

#endif
