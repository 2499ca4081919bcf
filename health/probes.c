/* Per-source accounting of ELB-HealthChecker probes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control-protocol.h"
#include "probes.h"

/* An ALB has a node per AZ, a few more under load; 64 is plenty, and the
 * bound keeps spoofed-looking traffic from growing the table. */
#define MAX_PROBERS 64

struct prober {
	char addr[INET6_ADDRSTRLEN];
	uint64_t last_seen_ms;
	unsigned consecutive_503;
	uint64_t probes;
};

struct probes {
	pthread_mutex_t lock;
	struct prober table[MAX_PROBERS];
	size_t n;
};

int probes_new(struct probes **out)
{
	struct probes *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

void probes_free(struct probes *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static void addr_string(const struct sockaddr *sa, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!sa)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
		          (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
		          (socklen_t)len);
	else
		snprintf(buf, len, "local");
}

bool probes_is_probe(const char *ua, bool forwarded)
{
	return ua && !strncmp(ua, "ELB-HealthChecker", 17) && !forwarded;
}

void probes_record(struct probes *p, const struct sockaddr *sa, unsigned status, uint64_t now_ms)
{
	char addr[INET6_ADDRSTRLEN];
	struct prober *slot = NULL;

	addr_string(sa, addr, sizeof(addr));
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->table[i].addr, addr)) {
			slot = &p->table[i];
			break;
		}
	if (!slot) {
		if (p->n < MAX_PROBERS) {
			slot = &p->table[p->n++];
		} else { /* replace the one unseen longest */
			slot = &p->table[0];
			for (size_t i = 1; i < p->n; i++)
				if (p->table[i].last_seen_ms < slot->last_seen_ms)
					slot = &p->table[i];
		}
		memset(slot, 0, sizeof(*slot));
		snprintf(slot->addr, sizeof(slot->addr), "%s", addr);
	}
	slot->last_seen_ms = now_ms;
	slot->probes++;
	slot->consecutive_503 = status == 503 ? slot->consecutive_503 + 1 : 0;
	pthread_mutex_unlock(&p->lock);
}

void probes_reset(struct probes *p)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n; i++)
		p->table[i].consecutive_503 = 0;
	pthread_mutex_unlock(&p->lock);
}

json_t *probes_json(struct probes *p, uint64_t now_ms, uint64_t window_ms, unsigned threshold,
                    bool *confirmed)
{
	json_t *o = json_object(), *arr = json_array();
	unsigned recent = 0, done = 0;

	if (!o || !arr) {
		json_decref(o);
		json_decref(arr);
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n; i++) {
		const struct prober *pr = &p->table[i];
		uint64_t ago = now_ms - pr->last_seen_ms;
		json_array_append_new(arr, json_pack("{s:s,s:I,s:i,s:I}", "address", pr->addr,
		                                     "last_seen_ms_ago", (json_int_t)ago,
		                                     "consecutive_503", (int)pr->consecutive_503,
		                                     "probes", (json_int_t)pr->probes));
		if (ago <= window_ms) {
			recent++;
			if (pr->consecutive_503 >= threshold)
				done++;
		}
	}
	pthread_mutex_unlock(&p->lock);
	*confirmed = recent > 0 && done == recent;
	json_object_set_new(o, CONTROL_LB_PROBERS, arr);
	json_object_set_new(o, CONTROL_LB_RECENT, json_integer(recent));
	json_object_set_new(o, CONTROL_LB_THRESHOLD, json_integer(threshold));
	json_object_set_new(o, CONTROL_LB_DRAIN_CONFIRMED, json_boolean(*confirmed));
	return o;
}
