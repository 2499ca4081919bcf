/* The site: everything a reload replaces (config, root, cache, checks),
 * reference-counted so a request that started under the old site finishes
 * with it. */
#ifndef ASG_HEALTH_SITE_H
#define ASG_HEALTH_SITE_H

#include <stdatomic.h>
#include <stddef.h>

#include "cache.h"
#include "checks.h"
#include "config.h"

struct site {
	atomic_int refs;
	struct health_config cfg; /* owned */
	int rootfd;               /* owned */
	struct cache *cache;      /* owned */
	struct checks *checks;    /* owned */
};

/* Takes ownership of *cfg (cleared) on success; on failure *cfg is left to
 * the caller and err says why.  previous (or NULL) hands its checks'
 * states over to the new checks. */
int site_new(struct site **out, struct health_config *cfg, const struct site *previous, char *err,
             size_t errlen);
/* Takes one more reference; returns s. */
struct site *site_get(struct site *s);
/* Drops one reference; the last frees the site. */
void site_put(struct site *s);

#endif
