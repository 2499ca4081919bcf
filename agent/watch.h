/* The IMDS watch (lifecycle.h's inputs): every watch_interval, with the
 * one cached IMDSv2 token, the four items that announce a change of
 * fate:
 *   autoscaling/target-lifecycle-state  where Auto Scaling is taking the
 *       instance (not where it is: already "InService" in Pending:Wait)
 *   spot/instance-action                the two-minute Spot notice
 *   events/recommendations/rebalance    a rebalance recommendation
 *   events/maintenance/scheduled        scheduled stops, retirements...
 * Each is 404 while there is nothing to say (aws.md section 3). */
#ifndef ASG_AGENT_WATCH_H
#define ASG_AGENT_WATCH_H

#include <stdbool.h>
#include <time.h>

#include "imds.h"

struct lc_events {
	bool target_known;     /* target-lifecycle-state answered 200 */
	char target_state[40]; /* "InService", "Terminated", "Warmed:Stopped"... */
	bool spot;             /* spot/instance-action present */
	char spot_action[16];  /* "terminate", "stop", "hibernate" */
	time_t spot_time;      /* when EC2 acts */
	bool rebalance;        /* a recommendation was issued */
	time_t rebalance_time;
	bool scheduled;          /* at least one active scheduled event */
	char scheduled_code[40]; /* the earliest one's Code */
	char scheduled_id[64];   /* its EventId */
	time_t scheduled_time;   /* its NotBefore */
};

/* Reads all four items into ev, one after the other, on the loop.  An
 * item that cannot be read for another reason than 404 (IMDS down, 5xx)
 * keeps its previous value in ev: a transient failure must not cancel a
 * drain.  done(ctx, r): 0 when every item was read, else the first error
 * (-EINTR when interrupted).  w is the caller's, kept in place until
 * then or watch_poll_cancel(); the start returns 0 or -errno (no
 * callback then). */
struct watch_poll {
	struct imds_client *imds; /* not owned */
	struct lc_events *ev;     /* not owned: the caller's */
	void (*done)(void *ctx, int r);
	void *ctx;
	bool busy;
	size_t item;
	int first; /* the first error */
	struct imds_read rd;
	struct strbuf b; /* owned */
};

int watch_poll_start(struct watch_poll *w, struct imds_client *imds, struct lc_events *ev,
                     void (*done)(void *ctx, int r), void *ctx);
void watch_poll_cancel(struct watch_poll *w);

/* Parsers, for the unit tests.  0 or -EINVAL. */
int watch_parse_spot(const char *json, char *action, size_t action_len, time_t *when);
int watch_parse_rebalance(const char *json, time_t *when);
/* The earliest event whose State is "active" (or absent); -ENOENT when
 * there is none.  NotBefore is "21 Jan 2019 09:00:43 GMT", not ISO 8601. */
int watch_parse_scheduled(const char *json, char *code, size_t code_len, char *id, size_t id_len,
                          time_t *not_before);
int watch_parse_event_time(const char *s, time_t *out);

#endif
