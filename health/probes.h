/* Load balancer probers, counted per source address, so asg-health can
 * tell without any AWS permission when the ALB has seen a drain: once every
 * prober seen recently has had its unhealthy threshold of 503 answers, no
 * new traffic is coming (every ALB node probes every target on its own). */
#ifndef ASG_HEALTH_PROBES_H
#define ASG_HEALTH_PROBES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <jansson.h>

struct probes;

int probes_new(struct probes **out);
void probes_free(struct probes *p);
/* Is a request to the health path with this User-Agent one of the load
 * balancer's probes?  forwarded: it has an X-Forwarded-For header, which
 * the ALB adds to every request it proxies and never to its own checks, so
 * a client sending the checker's User-Agent through it is not counted. */
bool probes_is_probe(const char *user_agent, bool forwarded);
/* Records one answered probe from addr with the HTTP status sent. */
void probes_record(struct probes *p, const struct sockaddr *addr, unsigned status, uint64_t now_ms);
/* Starts counting 503s afresh (on drain and undrain). */
void probes_reset(struct probes *p);
/* {"probers":[{address,last_seen_ms_ago,consecutive_503,probes}],
 *  "recent":N,"drain_confirmed":bool}.  A prober unseen for window_ms is
 * gone (its node was replaced or the target left the group).  Confirmed
 * means at least one recent prober and each has >= threshold 503s. */
json_t *probes_json(struct probes *p, uint64_t now_ms, uint64_t window_ms, unsigned threshold,
                    bool *confirmed);

#endif
