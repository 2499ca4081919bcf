/* The site (see site.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "site.h"

int site_new(struct site **out, struct health_config *cfg, const struct site *previous, char *err,
             size_t errlen)
{
	struct site *s = calloc(1, sizeof(*s));
	int r;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&s->refs, 1);
	s->rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open the site root %s: %s", cfg->root,
		         strerror(errno));
		free(s);
		return r;
	}
	s->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if ((r = cache_new(&s->cache, &s->cfg, s->rootfd)) < 0 ||
	    (r = checks_start(&s->checks, s->cfg.checks, s->cfg.n_checks,
	                      previous ? previous->checks : NULL)) < 0) {
		snprintf(err, errlen, "cannot start: %s", strerror(-r));
		*cfg = s->cfg;
		memset(&s->cfg, 0, sizeof(s->cfg));
		cache_free(s->cache);
		close(s->rootfd);
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

struct site *site_get(struct site *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void site_put(struct site *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	int r = checks_stop(s->checks);
	if (r < 0)
		log_error("cannot wake the health check runner to stop it: %s", strerror(-r));
	cache_free(s->cache);
	close(s->rootfd);
	health_config_free(&s->cfg);
	free(s);
}
