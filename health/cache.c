/* File cache: identity, content ETag and ready responses per file.
 *
 * Bounds: file bytes by cache_max_total, entries (keys and responses
 * included, estimated) by cache_max_metadata.  A full cache evicts rather
 * than refuses: entries for missing files first (a flood of random 404
 * URLs then only churns among itself), then files by CLOCK (a hit buys an
 * entry one more round).  A large file's SHA-256 is also remembered by its
 * identity (device, inode, size, mtime) in a small fixed table, so an
 * evicted large file costs an fstat to come back, not a read of the file.
 * Loads are single-flight: concurrent first requests for one file wait
 * for one thread to read and hash it.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <nettle/sha2.h>

#include "beneath.h"
#include "cache.h"
#include "cleanup.h"
#include "mime.h"
#include "timeutil.h"

#define CACHE_BUCKETS 16384
/* The entry charge: what malloc really holds for the entry and its key,
 * and for each ready MHD response (the struct, its header list and the
 * header strings: measured at about 400-600 bytes with our 6-8 headers). */
#define MALLOC_OVERHEAD 16
#define RESPONSE_COST   640
/* Remembered hashes of large files, direct-mapped by identity. */
#define MEMO_SLOTS 1024

struct memo {
	bool valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	unsigned char digest[SHA256_DIGEST_SIZE];
};

/* A load in progress, on the loading thread's stack. */
struct loading {
	struct loading *next;
	const char *relpath;
	enum variant v;
};

struct cache {
	pthread_rwlock_t lock;
	struct file_entry *buckets[CACHE_BUCKETS]; /* owned */
	/* Eviction lists, under lock: negative entries, then positive ones. */
	struct file_entry *neg_head, *neg_tail, *pos_head, *pos_tail;
	const struct health_config *cfg; /* not owned */
	int rootfd;                      /* not owned */
	pthread_mutex_t load_lock;
	pthread_cond_t load_done;
	struct loading *loading; /* under load_lock */
	pthread_mutex_t memo_lock;
	struct memo memo[MEMO_SLOTS]; /* under memo_lock */
	_Atomic uint64_t entries, bytes, hits, misses, revalidations, metadata, evictions, loads,
	        hashed, hash_reused;
};

static const char *const variant_suffix[VARIANT_COUNT] = {"", ".gz", ".br", ""};

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
	pthread_mutex_init(&c->load_lock, NULL);
	pthread_cond_init(&c->load_done, NULL);
	pthread_mutex_init(&c->memo_lock, NULL);
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
	pthread_mutex_destroy(&c->load_lock);
	pthread_cond_destroy(&c->load_done);
	pthread_mutex_destroy(&c->memo_lock);
	free(c);
}

int cache_open_file(struct cache *c, const char *relpath, enum variant v)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s%s", relpath[0] ? relpath : ".",
	                     variant_suffix[v]) >= sizeof(path))
		return -ENAMETOOLONG;
	/* Beneath the root: the kernel (or beneath.c's walk where openat2 is
	 * missing) refuses any resolution that leaves it, '..' and symlinks
	 * (absolute or relative) included; a string check could never see
	 * where a symlink points. */
	return beneath_open(c->rootfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

int cache_stat_file(struct cache *c, const char *relpath, enum variant v, struct stat *st)
{
	char path[PATH_MAX];
	int fd, r = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", relpath[0] ? relpath : ".",
	                     variant_suffix[v]) >= sizeof(path))
		return -ENAMETOOLONG;
	/* O_PATH: nothing is opened for reading (a FIFO cannot block us), but
	 * the resolution is the same one as for serving, so a symlink out of
	 * the root is not even stat'ed. */
	fd = beneath_open(c->rootfd, path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0)
		r = -errno;
	close(fd);
	return r;
}

int cache_status_from_errno(int err)
{
	switch (-err) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
	case ENXIO:  /* a socket file */
	case ENODEV: /* a device without a driver */
	case EXDEV:  /* RESOLVE_BENEATH: resolution tried to leave the root */
	case ELOOP:
		return -ENOENT;
	case EACCES:
	case EPERM:
		return -EACCES;
	default:
		/* EMFILE, ENFILE, ENOMEM, EIO, EINTR...: the file may well
		 * exist; a 404 now, and cached, would outlive the fault. */
		return -EAGAIN;
	}
}

bool file_entry_same_identity(const struct file_entry *e, const struct stat *st)
{
	return st->st_dev == e->dev && st->st_ino == e->ino && st->st_size == e->size &&
	       st->st_mtim.tv_sec == e->mtim.tv_sec && st->st_mtim.tv_nsec == e->mtim.tv_nsec;
}

static struct memo *memo_slot(struct cache *c, const struct stat *st)
{
	uint64_t h = (uint64_t)st->st_ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)st->st_dev;

	return &c->memo[h % MEMO_SLOTS];
}

static bool memo_get(struct cache *c, const struct stat *st, unsigned char *digest)
{
	struct memo *m;
	bool found;

	pthread_mutex_lock(&c->memo_lock);
	m = memo_slot(c, st);
	found = m->valid && m->dev == st->st_dev && m->ino == st->st_ino &&
	        m->size == st->st_size && m->mtim.tv_sec == st->st_mtim.tv_sec &&
	        m->mtim.tv_nsec == st->st_mtim.tv_nsec;
	if (found)
		memcpy(digest, m->digest, SHA256_DIGEST_SIZE);
	pthread_mutex_unlock(&c->memo_lock);
	return found;
}

static void memo_put(struct cache *c, const struct stat *st, const unsigned char *digest)
{
	struct memo *m;

	pthread_mutex_lock(&c->memo_lock);
	m = memo_slot(c, st);
	*m = (struct memo){true, st->st_dev, st->st_ino, st->st_size, st->st_mtim, {0}};
	memcpy(m->digest, digest, SHA256_DIGEST_SIZE);
	pthread_mutex_unlock(&c->memo_lock);
}

static void etag_from_digest(const unsigned char *d, char *out)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '"';
	for (int i = 0; i < 16; i++) {
		/* d is nettle's digest, which the analyzer does not see written */
		/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
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
	bool ok = true;

	if (e->variant != VARIANT_ERROR_PAGE && validators) {
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, e->etag) == MHD_YES;
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, e->last_modified) ==
		      MHD_YES;
	}
	if (e->cache_control && e->cache_control[0] && e->variant != VARIANT_ERROR_PAGE)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, e->cache_control) ==
		      MHD_YES;
	if (e->vary)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding") ==
		      MHD_YES;
	if (e->variant == VARIANT_GZIP)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") ==
		      MHD_YES;
	else if (e->variant == VARIANT_BR)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "br") == MHD_YES;
	if (close_conn)
		ok &= MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
	return ok ? 0 : -ENOMEM;
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
			if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
			                            e->content_type) != MHD_YES ||
			    (e->variant != VARIANT_ERROR_PAGE &&
			     MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes") !=
			             MHD_YES) ||
			    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") !=
			            MHD_YES ||
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

static bool has_sibling(struct cache *c, const char *relpath, enum variant v)
{
	struct stat st;

	return cache_stat_file(c, relpath, v, &st) == 0 && S_ISREG(st.st_mode);
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
			e->status = cache_status_from_errno(fd);
			return e;
		}
		if (fstat(fd, &st) < 0) {
			e->status = -EAGAIN;
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
		    atomic_load(&c->bytes) + (uint64_t)st.st_size <=
		            (uint64_t)c->cfg->cache_max_total) {
			atomic_fetch_add(&c->hashed, 1);
			r = read_small(fd, &st, &e->blob, digest);
		} else if (memo_get(c, &st, digest)) {
			atomic_fetch_add(&c->hash_reused, 1);
			r = 0;
		} else {
			atomic_fetch_add(&c->hashed, 1);
			if ((r = hash_large(fd, &st, digest)) == 0)
				memo_put(c, &st, digest);
		}
	}
	if (r < 0) {
		blob_put(e->blob);
		e->blob = NULL;
		e->status = -EAGAIN; /* kept changing, or a read error: transient */
		return e;
	}
	etag_from_digest(digest, e->etag);
	format_http_date(e->mtim.tv_sec, e->last_modified, sizeof(e->last_modified));
	e->content_type = mime_type_for(relpath);
	snprintf(urlpath, sizeof(urlpath), "/%s", relpath);
	e->cache_control = health_config_cache_control(c->cfg, urlpath);
	if (v == VARIANT_GZIP || v == VARIANT_BR)
		e->vary = true;
	else if (v == VARIANT_IDENTITY && c->cfg->precompressed &&
	         mime_is_compressible(e->content_type))
		e->vary = has_sibling(c, relpath, VARIANT_GZIP) ||
		          has_sibling(c, relpath, VARIANT_BR);
	if (build_responses(e) < 0) {
		file_entry_put(e);
		return NULL;
	}
	return e;
}

/* Has the file behind e changed since it was loaded? */
static bool entry_stale(struct cache *c, const struct file_entry *e)
{
	struct stat st;
	int r = cache_stat_file(c, e->relpath, e->variant, &st);

	if (r < 0) {
		r = cache_status_from_errno(r);
		/* A transient failure to look says nothing about the file. */
		return r != -EAGAIN && r != e->status;
	}
	if (e->status == -ENOENT || e->status == -EACCES || e->status == -EAGAIN)
		return true;
	return !file_entry_same_identity(e, &st);
}

static struct file_entry *table_find(struct cache *c, unsigned b, const char *relpath,
                                     enum variant v)
{
	for (struct file_entry *e = c->buckets[b]; e; e = e->next)
		if (e->variant == v && !strcmp(e->relpath, relpath))
			return e;
	return NULL;
}

static size_t entry_charge(const struct file_entry *e)
{
	size_t n = sizeof(*e) + strlen(e->relpath) + 1 + 2 * MALLOC_OVERHEAD;

	for (int i = 0; i < 2; i++)
		n += (e->full[i] ? RESPONSE_COST : 0) + (e->not_modified[i] ? RESPONSE_COST : 0);
	return n;
}

/* The eviction list an entry belongs to: missing files go first. */
static struct file_entry **list_head(struct cache *c, const struct file_entry *e,
                                     struct file_entry ***tail)
{
	*tail = e->status == 0 ? &c->pos_tail : &c->neg_tail;
	return e->status == 0 ? &c->pos_head : &c->neg_head;
}

static void list_append(struct cache *c, struct file_entry *e)
{
	struct file_entry **tail, **head = list_head(c, e, &tail);

	e->lru_next = NULL;
	e->lru_prev = *tail;
	if (*tail)
		(*tail)->lru_next = e;
	else
		*head = e;
	*tail = e;
}

static void list_unlink(struct cache *c, struct file_entry *e)
{
	struct file_entry **tail, **head = list_head(c, e, &tail);

	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		*head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		*tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

/* Takes e out of the table (chain, list, budgets); the table's reference
 * is the caller's to drop, after the lock. */
static void table_unlink(struct cache *c, struct file_entry *e)
{
	struct file_entry **pp = &c->buckets[bucket_of(e->relpath, e->variant)];

	for (; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->next = NULL;
	list_unlink(c, e);
	atomic_fetch_sub(&c->entries, 1);
	atomic_fetch_sub(&c->metadata, e->charge);
	if (e->blob)
		atomic_fetch_sub(&c->bytes, e->blob->len);
}

/* The next entry to evict, never keep: the oldest negative one, else by
 * CLOCK among files (a referenced entry is spared once and goes to the
 * back).  NULL if only keep is left. */
static struct file_entry *evict_pick(struct cache *c, const struct file_entry *keep)
{
	for (struct file_entry *e = c->neg_head; e; e = e->lru_next)
		if (e != keep)
			return e;
	for (size_t spared = 0; c->pos_head; spared++) {
		struct file_entry *e = c->pos_head;
		if (e == keep && !e->lru_next)
			return NULL;
		if (e != keep &&
		    (spared > atomic_load(&c->entries) || !atomic_exchange(&e->referenced, false)))
			return e;
		list_unlink(c, e);
		list_append(c, e);
	}
	return NULL;
}

static bool over_budget(struct cache *c)
{
	return atomic_load(&c->metadata) > (uint64_t)c->cfg->cache_max_metadata ||
	       atomic_load(&c->bytes) > (uint64_t)c->cfg->cache_max_total;
}

/* Puts fresh in the table in place of any entry for the same key, then
 * evicts until the cache is within its budgets again. */
static void table_replace(struct cache *c, struct file_entry *fresh)
{
	unsigned b = bucket_of(fresh->relpath, fresh->variant);
	struct file_entry *old, *dropped = NULL;

	fresh->charge = entry_charge(fresh);
	pthread_rwlock_wrlock(&c->lock);
	if ((old = table_find(c, b, fresh->relpath, fresh->variant))) {
		table_unlink(c, old);
		old->next = dropped;
		dropped = old;
	}
	atomic_fetch_add(&fresh->refs, 1); /* the table's reference */
	fresh->cached = true;
	fresh->next = c->buckets[b];
	c->buckets[b] = fresh;
	list_append(c, fresh);
	atomic_fetch_add(&c->entries, 1);
	atomic_fetch_add(&c->metadata, fresh->charge);
	if (fresh->blob)
		atomic_fetch_add(&c->bytes, fresh->blob->len);
	while (over_budget(c)) {
		struct file_entry *victim = evict_pick(c, fresh);
		if (!victim)
			break;
		table_unlink(c, victim);
		victim->next = dropped;
		dropped = victim;
		atomic_fetch_add(&c->evictions, 1);
	}
	pthread_rwlock_unlock(&c->lock);
	while (dropped) {
		struct file_entry *next = dropped->next;
		file_entry_put(dropped); /* responses in flight keep their own refs */
		dropped = next;
	}
}

static struct file_entry *table_get(struct cache *c, const char *relpath, enum variant v)
{
	struct file_entry *e;

	pthread_rwlock_rdlock(&c->lock);
	e = table_find(c, bucket_of(relpath, v), relpath, v);
	if (e) {
		atomic_fetch_add(&e->refs, 1);
		atomic_store(&e->referenced, true);
	}
	pthread_rwlock_unlock(&c->lock);
	return e;
}

static struct loading *loading_find(struct cache *c, const char *relpath, enum variant v)
{
	for (struct loading *l = c->loading; l; l = l->next)
		if (l->v == v && !strcmp(l->relpath, relpath))
			return l;
	return NULL;
}

/* Single flight: registers me as the loader of (relpath, v) and returns
 * NULL, or, if another thread was loading it, waits for that load and
 * returns its result from the table (NULL if it did not go in the table:
 * then we load ourselves). */
static struct file_entry *load_begin(struct cache *c, struct loading *me)
{
	struct file_entry *e;

	pthread_mutex_lock(&c->load_lock);
	if (!loading_find(c, me->relpath, me->v)) {
		me->next = c->loading;
		c->loading = me;
		pthread_mutex_unlock(&c->load_lock);
		return NULL;
	}
	while (loading_find(c, me->relpath, me->v))
		pthread_cond_wait(&c->load_done, &c->load_lock);
	pthread_mutex_unlock(&c->load_lock);
	e = table_get(c, me->relpath, me->v);
	return e ? e : load_begin(c, me);
}

static void load_end(struct cache *c, struct loading *me)
{
	pthread_mutex_lock(&c->load_lock);
	for (struct loading **pp = &c->loading; *pp; pp = &(*pp)->next)
		if (*pp == me) {
			*pp = me->next;
			break;
		}
	pthread_cond_broadcast(&c->load_done);
	pthread_mutex_unlock(&c->load_lock);
}

struct file_entry *cache_get(struct cache *c, const char *relpath, enum variant v, int *err)
{
	struct loading me = {NULL, relpath, v};
	struct file_entry *e;
	uint64_t now = now_mono_ms();

	*err = 0;
	e = table_get(c, relpath, v);
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
	if ((e = load_begin(c, &me)))
		goto hit; /* another thread just loaded it */
	atomic_fetch_add(&c->loads, 1);
	e = entry_load(c, relpath, v);
	if (e && e->status != -EAGAIN)
		table_replace(c, e);
	load_end(c, &me);
	if (!e)
		*err = -ENOMEM;
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
	s->metadata = atomic_load(&c->metadata);
	s->evictions = atomic_load(&c->evictions);
	s->loads = atomic_load(&c->loads);
	s->hashed = atomic_load(&c->hashed);
	s->hash_reused = atomic_load(&c->hash_reused);
}
