/* Unit tests: the file cache (issue 9, section 1, items 2, 6 and 13):
 * bounded by memory under a flood of 404s, 404s evicted first, a file
 * deployed after the flood cached, single-flight loads, a large file's
 * hash kept by identity, transient open errors never cached, siblings
 * looked up beneath the root. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cache.h"
#include "config.h"

struct fixture {
	char dir[64];	 /* holds root/ and outside/ */
	char root[96];
	int rootfd;
	struct health_config cfg;
	struct cache *cache;
};

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char outside[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-health-cache.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
	snprintf(outside, sizeof(outside), "%s/outside", f->dir);
	mkdir(f->root, 0755);
	mkdir(outside, 0755);
	f->rootfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	health_config_defaults(&f->cfg);
	f->cfg.cache_max_metadata = 64 * 1024;
	f->cfg.cache_revalidate_ms = 3600 * 1000; /* entries stay as loaded */
	*state = f;
	return f->rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	cache_free(f->cache);
	health_config_free(&f->cfg);
	close(f->rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void start(struct fixture *f)
{
	assert_int_equal(cache_new(&f->cache, &f->cfg, f->rootfd), 0);
}

static int get_status(struct fixture *f, const char *relpath)
{
	int err, status;
	struct file_entry *e = cache_get(f->cache, relpath, VARIANT_IDENTITY, &err);

	assert_non_null(e);
	status = e->status;
	file_entry_put(e);
	return status;
}

static struct cache_stats stats(struct fixture *f)
{
	struct cache_stats s;

	cache_get_stats(f->cache, &s);
	return s;
}

static void flood(struct fixture *f, int n, int tag)
{
	char path[512];

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "missing-%d-%d-%0300d", tag, i, 0);
		assert_int_equal(get_status(f, path), -ENOENT);
	}
}

static void test_flood_stays_bounded(void **state)
{
	struct fixture *f = *state;
	struct cache_stats s;

	start(f);
	flood(f, 5000, 0);
	s = stats(f);
	/* 5000 entries with 340-byte keys would be about 3 MB */
	assert_true(s.metadata <= (uint64_t)f->cfg.cache_max_metadata);
	assert_true(s.entries < 500);
	assert_true(s.evictions >= 4500);

	/* a file deployed after the flood is served, and cached */
	write_file(f->root, "new.html", "new\n", 4);
	assert_int_equal(get_status(f, "new.html"), 0);
	s = stats(f);
	assert_int_equal(get_status(f, "new.html"), 0);
	assert_int_equal(stats(f).loads, s.loads);
	assert_int_equal(stats(f).hits, s.hits + 1);
}

static void test_404s_evicted_first(void **state)
{
	struct fixture *f = *state;
	uint64_t loads;

	start(f);
	write_file(f->root, "page.html", "page\n", 5);
	assert_int_equal(get_status(f, "page.html"), 0);
	flood(f, 3000, 1);
	loads = stats(f).loads;
	assert_int_equal(get_status(f, "page.html"), 0);
	assert_int_equal(stats(f).loads, loads); /* still cached */
}

static void make_large(struct fixture *f, const char *name, size_t len)
{
	char *data = malloc(len);

	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 31 + 7);
	write_file(f->root, name, data, len);
	free(data);
}

struct racer {
	struct fixture *f;
	pthread_barrier_t *barrier;
	int status;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->barrier);
	r->status = get_status(r->f, "large.bin");
	return NULL;
}

static void test_single_flight(void **state)
{
	struct fixture *f = *state;
	enum { N = 8 };
	pthread_t threads[N];
	struct racer racers[N];
	pthread_barrier_t barrier;

	f->cfg.cache_max_file_size = 1024; /* large: hashed, sent by sendfile */
	make_large(f, "large.bin", 32u << 20);
	start(f);
	pthread_barrier_init(&barrier, NULL, N);
	for (int i = 0; i < N; i++) {
		racers[i] = (struct racer){ f, &barrier, 1 };
		pthread_create(&threads[i], NULL, race, &racers[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(racers[i].status, 0);
	}
	pthread_barrier_destroy(&barrier);
	assert_int_equal(stats(f).hashed, 1);
	assert_int_equal(stats(f).loads, 1);
}

static void test_hash_kept_by_identity(void **state)
{
	struct fixture *f = *state;
	struct file_entry *e;
	char etag[40];
	int err;

	f->cfg.cache_max_file_size = 1024;
	make_large(f, "large.bin", 4u << 20);
	start(f);
	e = cache_get(f->cache, "large.bin", VARIANT_IDENTITY, &err);
	assert_non_null(e);
	snprintf(etag, sizeof(etag), "%s", e->etag);
	file_entry_put(e);
	assert_int_equal(stats(f).hashed, 1);
	/* a flood of misses evicts it... */
	flood(f, 3000, 2);
	f->cfg.cache_max_metadata = 1; /* ...and then even it must go */
	flood(f, 1, 3);
	f->cfg.cache_max_metadata = 64 * 1024;
	e = cache_get(f->cache, "large.bin", VARIANT_IDENTITY, &err);
	assert_non_null(e);
	assert_string_equal(e->etag, etag);
	file_entry_put(e);
	assert_int_equal(stats(f).loads, 1 + 3000 + 1 + 1); /* reloaded... */
	assert_int_equal(stats(f).hashed, 1);		  /* ...not read again */
	assert_int_equal(stats(f).hash_reused, 1);
}

static void test_error_classification(void **state)
{
	assert_int_equal(cache_status_from_errno(-ENOENT), -ENOENT);
	assert_int_equal(cache_status_from_errno(-ENOTDIR), -ENOENT);
	assert_int_equal(cache_status_from_errno(-EXDEV), -ENOENT); /* left the root */
	assert_int_equal(cache_status_from_errno(-ELOOP), -ENOENT);
	assert_int_equal(cache_status_from_errno(-ENXIO), -ENOENT);
	assert_int_equal(cache_status_from_errno(-EACCES), -EACCES);
	assert_int_equal(cache_status_from_errno(-EMFILE), -EAGAIN);
	assert_int_equal(cache_status_from_errno(-ENFILE), -EAGAIN);
	assert_int_equal(cache_status_from_errno(-ENOMEM), -EAGAIN);
	assert_int_equal(cache_status_from_errno(-EIO), -EAGAIN);
	assert_int_equal(cache_status_from_errno(-EINTR), -EAGAIN);
}

/* Out of descriptors, an existing file is a transient error, not a 404,
 * and once descriptors are back it is served (nothing was cached). */
static void test_transient_error_not_cached(void **state)
{
	struct fixture *f = *state;
	struct rlimit saved, low;
	int probe;

	write_file(f->root, "exists.html", "here\n", 5);
	start(f);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	probe = dup(0); /* the lowest free descriptor: the limit goes there */
	assert_true(probe >= 0);
	close(probe);
	low = saved;
	low.rlim_cur = (rlim_t)probe;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(get_status(f, "exists.html"), -EAGAIN);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_int_equal(stats(f).entries, 0);
	assert_int_equal(get_status(f, "exists.html"), 0);
}

/* A precompressed sibling is looked up beneath the root: a symlink out of
 * it neither counts as a sibling nor gets stat'ed. */
static void test_sibling_beneath_root(void **state)
{
	struct fixture *f = *state;
	char target[256], link[256];
	struct file_entry *e;
	struct stat st;
	int err;

	write_file(f->root, "page.html", "<p>page</p>\n", 12);
	snprintf(target, sizeof(target), "%s/outside/page.html.gz", f->dir);
	write_file(f->dir, "outside/page.html.gz", "gz", 2);
	snprintf(link, sizeof(link), "%s/page.html.gz", f->root);
	assert_int_equal(symlink(target, link), 0);
	start(f);
	e = cache_get(f->cache, "page.html", VARIANT_IDENTITY, &err);
	assert_non_null(e);
	assert_int_equal(e->status, 0);
	assert_false(e->vary);
	file_entry_put(e);
	assert_true(cache_stat_file(f->cache, "page.html", VARIANT_GZIP, &st) < 0);
	assert_int_equal(cache_stat_file(f->cache, "page.html", VARIANT_IDENTITY, &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flood_stays_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_404s_evicted_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_kept_by_identity, setup, teardown),
		cmocka_unit_test(test_error_classification),
		cmocka_unit_test_setup_teardown(test_transient_error_not_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sibling_beneath_root, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
