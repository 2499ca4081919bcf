/* Static files: path safety, index files and redirects, precompressed
 * representations, conditional requests, single ranges, sendfile for
 * large files and ready-made responses for small ones. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "mime.h"
#include "path.h"
#include "range.h"
#include "responses.h"
#include "site.h"
#include "static.h"

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result queue_owned(struct MHD_Connection *conn, unsigned status,
                                   struct MHD_Response *r, uint64_t body_bytes)
{
	enum MHD_Result ret = responses_queue(conn, status, r, body_bytes);

	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_not_found(const struct responses *s, struct site *site,
                                       struct MHD_Connection *conn, bool close_conn)
{
	struct file_entry *e;
	enum MHD_Result ret;
	int err;

	if (!site->cfg.not_found_page[0])
		return responses_queue_error(s, conn, 404, close_conn);
	e = cache_get(site->cache, site->cfg.not_found_page, VARIANT_ERROR_PAGE, &err);
	if (!e || e->status != 0 || !e->full[close_conn]) {
		file_entry_put(e);
		return responses_queue_error(s, conn, 404, close_conn);
	}
	ret = responses_queue(conn, 404, e->full[close_conn], e->blob->len);
	file_entry_put(e);
	return ret;
}

static enum MHD_Result redirect_to_directory(const struct responses *s, struct MHD_Connection *conn,
                                             const char *rel, bool close_conn)
{
	char location[3 * PATH_MAX + 3];
	struct MHD_Response *r;

	/* Built from the normalised path, never from the raw target: the raw
	 * "//evil.example/../docs" would make "Location: //evil.example/..",
	 * which a browser follows off-site. */
	if (path_location(rel, location, sizeof(location)) < 0)
		return responses_queue_error(s, conn, 414, close_conn);
	r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	/* A relative Location keeps the scheme and host the client used, which
	 * behind a CDN and an ALB is the only one that is right. */
	MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
	if (close_conn)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return queue_owned(conn, MHD_HTTP_MOVED_PERMANENTLY, r, 0);
}

/* Picks the best precompressed representation the client accepts. */
static struct file_entry *choose_variant(struct site *site, struct MHD_Connection *conn,
                                         struct file_entry *identity)
{
	unsigned accepted;
	int err;

	if (!site->cfg.precompressed || !identity->vary)
		return identity;
	accepted = accept_encoding_parse(header(conn, MHD_HTTP_HEADER_ACCEPT_ENCODING));
	for (enum variant v = VARIANT_BR; v >= VARIANT_GZIP; v--) {
		struct file_entry *e;
		if (!(accepted & (1u << v)))
			continue;
		e = cache_get(site->cache, identity->relpath, v, &err);
		if (e && e->status == 0) {
			file_entry_put(identity);
			return e;
		}
		file_entry_put(e);
	}
	return identity;
}

static enum MHD_Result serve_not_found(const struct responses *s, struct site *site,
                                       struct MHD_Connection *conn, bool close_conn);

/* A fresh descriptor for a file served by sendfile, checked against the
 * entry: its ETag (and so If-Range, If-None-Match) is only true of the
 * file it was computed from.  -ESTALE if the file was replaced since the
 * entry was made (the next revalidation picks the new one up), else the
 * open error. */
static int open_same_file(struct site *site, const struct file_entry *e)
{
	int fd = cache_open_file(site->cache, e->relpath, e->variant);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !file_entry_same_identity(e, &st)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* The answer when open_same_file failed. */
static enum MHD_Result serve_open_error(const struct responses *s, struct site *site,
                                        struct MHD_Connection *conn, int err, bool close_conn)
{
	if (err != -ESTALE && cache_status_from_errno(err) == -ENOENT)
		return serve_not_found(s, site, conn, close_conn);
	/* Changed since the ETag was computed, or a transient error: a retry
	 * gets the right answer. */
	return responses_queue_error(s, conn, 503, close_conn);
}

/* 206 for one satisfiable range, from the cached bytes or the file. */
static enum MHD_Result serve_range(const struct responses *s, struct site *site,
                                   struct MHD_Connection *conn, struct file_entry *e,
                                   uint64_t first, uint64_t last, bool close_conn)
{
	uint64_t len = last - first + 1;
	struct MHD_Response *r;
	char cr[96];

	if (e->blob) {
		/* Copying the slice keeps the response independent of the entry;
		 * ranges of small files are rare enough for that to be fine. */
		r = MHD_create_response_from_buffer((size_t)len, e->blob->data + first,
		                                    MHD_RESPMEM_MUST_COPY);
	} else {
		/* The same identity check as a full GET: If-Range matched the
		 * entry's ETag, and new bytes under it would be a torn file. */
		int fd = open_same_file(site, e);
		if (fd < 0)
			return serve_open_error(s, site, conn, fd, close_conn);
		r = MHD_create_response_from_fd_at_offset64(len, fd, first);
		if (!r)
			close(fd);
	}
	if (!r)
		return responses_queue_error(s, conn, 500, true);
	snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)first,
	         (unsigned long long)last, (unsigned long long)e->size);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, e->content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	file_entry_add_headers(e, r, close_conn, true);
	return queue_owned(conn, MHD_HTTP_PARTIAL_CONTENT, r, len);
}

static enum MHD_Result serve_unsatisfiable(struct MHD_Connection *conn, struct file_entry *e,
                                           bool close_conn)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	char cr[64];

	if (!r)
		return MHD_NO;
	snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)e->size);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	if (close_conn)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return queue_owned(conn, MHD_HTTP_RANGE_NOT_SATISFIABLE, r, 0);
}

/* 200 for a file too large for the memory cache: sendfile from a fresh
 * descriptor, whose identity must still match the cached ETag. */
static enum MHD_Result serve_by_fd(const struct responses *s, struct site *site,
                                   struct MHD_Connection *conn, struct file_entry *e,
                                   bool close_conn)
{
	int fd = open_same_file(site, e), err;
	struct file_entry *fresh = NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;

	/* Replaced since the entry was made (a deploy renamed a new file over
	 * it): revalidate now rather than answer 503 until the next
	 * revalidation is due, which made every deploy of a large file a
	 * second of errors (tests/hostile).  A few times, in case it is
	 * replaced again while being hashed. */
	for (int i = 0; fd == -ESTALE && i < 3; i++) {
		struct file_entry *next;

		atomic_store(&e->checked_ms, 0);
		next = cache_get(site->cache, e->relpath, e->variant, &err);
		file_entry_put(fresh); /* e was fresh: not used again unless replaced */
		fresh = next;
		if (!next || next->status != 0 || next->blob)
			break;
		fd = open_same_file(site, e = next);
	}
	if (fd < 0) {
		file_entry_put(fresh);
		return serve_open_error(s, site, conn, fd, close_conn);
	}
	r = MHD_create_response_from_fd64((uint64_t)e->size, fd);
	if (!r) {
		file_entry_put(fresh);
		close(fd);
		return responses_queue_error(s, conn, 500, true);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, e->content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	file_entry_add_headers(e, r, close_conn, true);
	ret = queue_owned(conn, MHD_HTTP_OK, r, (uint64_t)e->size);
	file_entry_put(fresh);
	return ret;
}

static enum MHD_Result serve_file(const struct responses *s, struct site *site,
                                  struct MHD_Connection *conn, struct file_entry *e,
                                  bool close_conn)
{
	const char *range = header(conn, MHD_HTTP_HEADER_RANGE);
	uint64_t first, last;

	if (request_not_modified(header(conn, MHD_HTTP_HEADER_IF_NONE_MATCH),
	                         header(conn, MHD_HTTP_HEADER_IF_MODIFIED_SINCE), e->etag,
	                         e->mtim.tv_sec))
		return responses_queue(conn, MHD_HTTP_NOT_MODIFIED, e->not_modified[close_conn], 0);
	if (range &&
	    if_range_allows(header(conn, MHD_HTTP_HEADER_IF_RANGE), e->etag, e->mtim.tv_sec)) {
		switch (range_parse(range, (uint64_t)e->size, &first, &last)) {
		case RANGE_SINGLE:
			return serve_range(s, site, conn, e, first, last, close_conn);
		case RANGE_UNSATISFIABLE:
			return serve_unsatisfiable(conn, e, close_conn);
		case RANGE_NONE:
			break;
		}
	}
	if (e->full[close_conn])
		return responses_queue(conn, MHD_HTTP_OK, e->full[close_conn], e->blob->len);
	return serve_by_fd(s, site, conn, e, close_conn);
}

enum MHD_Result static_serve(const struct responses *s, struct site *site,
                             struct MHD_Connection *conn, const char *url, bool close_conn)
{
	char rel[PATH_MAX];
	struct file_entry *e;
	enum MHD_Result ret;
	int flags, r, err;
	size_t n;

	r = path_normalize(url, rel, sizeof(rel) - 1 - strlen(site->cfg.index), &flags);
	if (r == -ENAMETOOLONG)
		return responses_queue_error(s, conn, 414, close_conn);
	if (r < 0)
		return responses_queue_error(s, conn, 400, close_conn);
	if ((flags & PATH_HAS_DOTFILE) && !site->cfg.serve_dotfiles)
		return serve_not_found(s, site, conn, close_conn);

	e = cache_get(site->cache, rel, VARIANT_IDENTITY, &err);
	if (!e)
		return responses_queue_error(s, conn, 500, true);
	if (e->status == -EISDIR) {
		file_entry_put(e);
		if (!(flags & PATH_TRAILING_SLASH))
			return redirect_to_directory(s, conn, rel, close_conn);
		/* room reserved by path_normalize's size; index <= NAME_MAX */
		n = strlen(rel);
		if (n)
			rel[n++] = '/';
		memcpy(rel + n, site->cfg.index, strlen(site->cfg.index) + 1);
		e = cache_get(site->cache, rel, VARIANT_IDENTITY, &err);
		if (!e)
			return responses_queue_error(s, conn, 500, true);
	} else if (e->status == 0 && (flags & PATH_TRAILING_SLASH)) {
		/* "/file.html/" names a directory that does not exist. */
		file_entry_put(e);
		return serve_not_found(s, site, conn, close_conn);
	}

	switch (e->status) {
	case 0:
		e = choose_variant(site, conn, e);
		ret = serve_file(s, site, conn, e, close_conn);
		break;
	case -EACCES:
		ret = responses_queue_error(s, conn, 403, close_conn);
		break;
	case -EAGAIN: /* kept changing, or out of descriptors: retry soon */
		ret = responses_queue_error(s, conn, 503, close_conn);
		break;
	default: /* -ENOENT, and a directory without an index: no listings */
		ret = serve_not_found(s, site, conn, close_conn);
		break;
	}
	file_entry_put(e);
	return ret;
}
