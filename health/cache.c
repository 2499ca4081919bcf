/* File cache: identity, content ETag and ready responses per file.
 *
 * Concurrency: a read-write lock guards the hash table; entries are
 * reference-counted so a request keeps using the entry it found while a
 * revalidating thread replaces it.  MHD responses hold their own
 * reference on the bytes (struct blob), so a replaced entry's responses
 * that are still being sent stay valid.
 *
 * SHA-256 comes from nettle, which libmicrohttpd's GnuTLS already maps:
 * initialising OpenSSL's libcrypto just for hashing would add ~3 MiB to
 * the resident size of a server whose idle footprint is a target. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <nettle/sha2.h>

#include "cache.h"
#include "cleanup.h"
#include "mime.h"
#include "timeutil.h"

#define CACHE_BUCKETS 4096
/* Bounds the table so random 404 URLs cannot grow it without limit. */
#define CACHE_MAX_ENTRIES 65536

struct cache {
	pthread_rwlock_t lock;
	struct file_entry *buckets[CACHE_BUCKETS]; /* owned */
	const struct health_config *cfg;	   /* not owned */
	int rootfd;				   /* not owned */
	_Atomic uint64_t entries, bytes, hits, misses, revalidations;
};

static const char *const variant_suffix[VARIANT_COUNT] = { "", ".gz", ".br", "" };

void blob_put(struct blob *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

static void blob_free_cb(void *cls)
{
	blob_put(cls);
}

static void entry_free(struct file_entry *e)
{
	for (int i = 0; i < 2; i++) {
		if (e->full[i])
			MHD_destroy_response(e->full[i]);
		if (e->not_modified[i])
			MHD_destroy_response(e->not_modified[i]);
	}
	blob_put(e->blob);
	free(e->relpath);
	free(e);
}

void file_entry_put(struct file_entry *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		entry_free(e);
}

static unsigned bucket_of(const char *relpath, enum variant v)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)relpath; *p; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ (unsigned)v) * 16777619u;
	return h % CACHE_BUCKETS;
}

int cache_new(struct cache **out, const struct health_config *cfg, int rootfd)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_rwlock_init(&c->lock, NULL);
	c->cfg = cfg;
	c->rootfd = rootfd;
	*out = c;
	return 0;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct file_entry *e = c->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			file_entry_put(e);
		}
	}
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

int cache_open_file(struct cache *c, const char *relpath, enum variant v)
{
	char path[PATH_MAX];
	/* RESOLVE_BENEATH makes the kernel refuse any resolution that leaves
	 * the root, '..' and symlinks (absolute or relative) included; a
	 * string check could never see where a symlink points. */
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", relpath[0] ? relpath : ".",
			     variant_suffix[v]) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = (int)syscall(SYS_openat2, c->rootfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

static void etag_from_digest(const unsigned char *d, char *out)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '"';
	for (int i = 0; i < 16; i++) {
		out[1 + 2 * i] = hex[d[i] >> 4];
		out[2 + 2 * i] = hex[d[i] & 15];
	}
	out[33] = '"';
	out[34] = '\0';
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads a small file into a blob and hashes it; -EAGAIN if the file
 * changed while it was read (a deploy writing it in place). */
static int read_small(int fd, const struct stat *st, struct blob **out, unsigned char *digest)
{
	struct blob *b = malloc(sizeof(*b) + (size_t)st->st_size + 1);
	size_t got = 0;
	struct stat after;

	if (!b)
		return -ENOMEM;
	atomic_init(&b->refs, 1);
	b->len = (size_t)st->st_size;
	while (got < b->len) {
		ssize_t r = pread(fd, b->data + got, b->len - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(b);
			return r < 0 ? -errno : -EAGAIN; /* shrank under us */
		}
		got += (size_t)r;
	}
	if (fstat(fd, &after) < 0 || !same_file(st, &after)) {
		free(b);
		return -EAGAIN;
	}
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	sha256_update(&ctx, b->len, b->data);
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
	*out = b;
	return 0;
}

/* Hashes a large file in chunks; -EAGAIN if it changed meanwhile. */
static int hash_large(int fd, const struct stat *st, unsigned char *digest)
{
	struct sha256_ctx ctx;
	unsigned char buf[65536];
	off_t off = 0;
	struct stat after;
	int r = 0;

	sha256_init(&ctx);
	while (off < st->st_size) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EAGAIN;
			break;
		}
		sha256_update(&ctx, (size_t)n, buf);
		off += n;
	}
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
	if (r == 0 && (fstat(fd, &after) < 0 || !same_file(st, &after)))
		r = -EAGAIN;
	return r;
}

int file_entry_add_headers(const struct file_entry *e, struct MHD_Response *r, bool close_conn,
			   bool validators)
{
	int ok = MHD_YES;

	if (e->variant != VARIANT_ERROR_PAGE && validators) {
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, e->etag);
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, e->last_modified);
	}
	if (e->cache_control && e->cache_control[0] && e->variant != VARIANT_ERROR_PAGE)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, e->cache_control);
	if (e->vary)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (e->variant == VARIANT_GZIP)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	else if (e->variant == VARIANT_BR)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "br");
	if (close_conn)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return ok == MHD_YES ? 0 : -ENOMEM;
}

static int build_responses(struct file_entry *e)
{
	for (int close_conn = 0; close_conn < 2; close_conn++) {
		struct MHD_Response *r;

		if (e->blob) {
			atomic_fetch_add(&e->blob->refs, 1);
			r = MHD_create_response_from_buffer_with_free_callback_cls(
				e->blob->len, e->blob->data, blob_free_cb, e->blob);
			if (!r) {
				blob_put(e->blob);
				return -ENOMEM;
			}
			e->full[close_conn] = r;
			if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, e->content_type) != MHD_YES ||
			    (e->variant != VARIANT_ERROR_PAGE &&
			     MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes") != MHD_YES) ||
			    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
			    file_entry_add_headers(e, r, close_conn, true) < 0)
				return -ENOMEM;
		}
		if (e->variant == VARIANT_ERROR_PAGE)
			continue;
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!r)
			return -ENOMEM;
		e->not_modified[close_conn] = r;
		if (file_entry_add_headers(e, r, close_conn, true) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool has_sibling(struct cache *c, const char *relpath, const char *suffix)
{
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", relpath, suffix) >= sizeof(path))
		return false;
	return fstatat(c->rootfd, path, &st, 0) == 0 && S_ISREG(st.st_mode);
}

/* Builds a fresh entry from the filesystem.  Never NULL unless out of
 * memory: a missing file gives an entry with status -ENOENT, which is
 * worth caching too (precompressed siblings are mostly absent). */
static struct file_entry *entry_load(struct cache *c, const char *relpath, enum variant v)
{
	struct file_entry *e = calloc(1, sizeof(*e));
	_cleanup_close_ int fd = -1;
	unsigned char digest[SHA256_DIGEST_SIZE];
	struct stat st;
	int r = -EAGAIN;
	char urlpath[PATH_MAX + 2];

	if (!e || !(e->relpath = strdup(relpath))) {
		free(e);
		return NULL;
	}
	atomic_init(&e->refs, 1);
	e->variant = v;
	atomic_init(&e->checked_ms, now_mono_ms());

	for (int attempt = 0; attempt < 5 && r == -EAGAIN; attempt++) {
		if (fd >= 0)
			close(fd);
		fd = cache_open_file(c, relpath, v);
		if (fd < 0) {
			/* EXDEV/ELOOP: resolution tried to leave the root.  To the
			 * client that is simply not found. */
			e->status = fd == -EACCES ? -EACCES : -ENOENT;
			return e;
		}
		if (fstat(fd, &st) < 0) {
			e->status = -ENOENT;
			return e;
		}
		e->dev = st.st_dev;
		e->ino = st.st_ino;
		e->size = st.st_size;
		e->mtim = st.st_mtim;
		if (S_ISDIR(st.st_mode)) {
			e->status = -EISDIR;
			return e;
		}
		if (!S_ISREG(st.st_mode)) {
			e->status = -ENOENT; /* never a fifo, device or socket */
			return e;
		}
		blob_put(e->blob);
		e->blob = NULL;
		if (st.st_size <= c->cfg->cache_max_file_size &&
		    atomic_load(&c->bytes) + (uint64_t)st.st_size <= (uint64_t)c->cfg->cache_max_total)
			r = read_small(fd, &st, &e->blob, digest);
		else
			r = hash_large(fd, &st, digest);
	}
	if (r < 0) {
		blob_put(e->blob);
		e->blob = NULL;
		e->status = r == -EAGAIN ? -EAGAIN : -EIO;
		return e;
	}
	etag_from_digest(digest, e->etag);
	format_http_date(e->mtim.tv_sec, e->last_modified, sizeof(e->last_modified));
	e->content_type = mime_type_for(relpath);
	snprintf(urlpath, sizeof(urlpath), "/%s", relpath);
	e->cache_control = health_config_cache_control(c->cfg, urlpath);
	if (v == VARIANT_GZIP || v == VARIANT_BR)
		e->vary = true;
	else if (v == VARIANT_IDENTITY && c->cfg->precompressed && mime_is_compressible(e->content_type))
		e->vary = has_sibling(c, relpath, ".gz") || has_sibling(c, relpath, ".br");
	if (build_responses(e) < 0) {
		file_entry_put(e);
		return NULL;
	}
	return e;
}

/* Has the file behind e changed since it was loaded? */
static bool entry_stale(struct cache *c, const struct file_entry *e)
{
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", e->relpath[0] ? e->relpath : ".",
			     variant_suffix[e->variant]) >= sizeof(path))
		return true;
	if (fstatat(c->rootfd, path, &st, 0) < 0)
		return e->status != -ENOENT;
	if (e->status == -ENOENT || e->status == -EACCES || e->status == -EAGAIN)
		return true;
	return st.st_dev != e->dev || st.st_ino != e->ino || st.st_size != e->size ||
	       st.st_mtim.tv_sec != e->mtim.tv_sec || st.st_mtim.tv_nsec != e->mtim.tv_nsec;
}

static struct file_entry *table_find(struct cache *c, unsigned b, const char *relpath, enum variant v)
{
	for (struct file_entry *e = c->buckets[b]; e; e = e->next)
		if (e->variant == v && !strcmp(e->relpath, relpath))
			return e;
	return NULL;
}

/* Puts fresh in the table in place of any entry for the same key. */
static void table_replace(struct cache *c, struct file_entry *fresh)
{
	unsigned b = bucket_of(fresh->relpath, fresh->variant);
	struct file_entry **pp, *old = NULL;

	pthread_rwlock_wrlock(&c->lock);
	for (pp = &c->buckets[b]; *pp; pp = &(*pp)->next)
		if ((*pp)->variant == fresh->variant && !strcmp((*pp)->relpath, fresh->relpath)) {
			old = *pp;
			*pp = old->next;
			break;
		}
	if (old) {
		atomic_fetch_sub(&c->entries, 1);
		if (old->blob)
			atomic_fetch_sub(&c->bytes, old->blob->len);
	}
	if (atomic_load(&c->entries) < CACHE_MAX_ENTRIES) {
		atomic_fetch_add(&fresh->refs, 1); /* the table's reference */
		fresh->cached = true;
		fresh->next = c->buckets[b];
		c->buckets[b] = fresh;
		atomic_fetch_add(&c->entries, 1);
		if (fresh->blob)
			atomic_fetch_add(&c->bytes, fresh->blob->len);
	}
	pthread_rwlock_unlock(&c->lock);
	file_entry_put(old);
}

struct file_entry *cache_get(struct cache *c, const char *relpath, enum variant v, int *err)
{
	unsigned b = bucket_of(relpath, v);
	struct file_entry *e;
	uint64_t now = now_mono_ms();

	*err = 0;
	pthread_rwlock_rdlock(&c->lock);
	e = table_find(c, b, relpath, v);
	if (e)
		atomic_fetch_add(&e->refs, 1);
	pthread_rwlock_unlock(&c->lock);

	if (e) {
		uint64_t checked = atomic_load(&e->checked_ms);
		if (now - checked < (uint64_t)c->cfg->cache_revalidate_ms)
			goto hit;
		/* One thread revalidates; the others serve the entry they have,
		 * which is complete and consistent, meanwhile. */
		if (!atomic_compare_exchange_strong(&e->checked_ms, &checked, now))
			goto hit;
		atomic_fetch_add(&c->revalidations, 1);
		if (!entry_stale(c, e))
			goto hit;
		file_entry_put(e);
	}
	atomic_fetch_add(&c->misses, 1);
	e = entry_load(c, relpath, v);
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	if (e->status != -EAGAIN)
		table_replace(c, e);
	return e;
hit:
	atomic_fetch_add(&c->hits, 1);
	return e;
}

void cache_get_stats(struct cache *c, struct cache_stats *s)
{
	s->entries = atomic_load(&c->entries);
	s->bytes = atomic_load(&c->bytes);
	s->hits = atomic_load(&c->hits);
	s->misses = atomic_load(&c->misses);
	s->revalidations = atomic_load(&c->revalidations);
}
