/* The IMDS watch (see watch.h). */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cleanup.h"
#include "imds.h"
#include "strbuf.h"
#include "timeutil.h"
#include "watch.h"

int watch_parse_spot(const char *json, char *action, size_t action_len, time_t *when)
{
	_cleanup_json_ json_t *root = json_loads(json, 0, NULL);
	const char *a, *t;

	if (!root || !json_is_object(root))
		return -EINVAL;
	a = json_string_value(json_object_get(root, "action"));
	t = json_string_value(json_object_get(root, "time"));
	if (!a || !t || parse_iso8601(t, when) < 0)
		return -EINVAL;
	format_into(action, action_len, "%s", a);
	return 0;
}

int watch_parse_rebalance(const char *json, time_t *when)
{
	_cleanup_json_ json_t *root = json_loads(json, 0, NULL);
	const char *t;

	if (!root || !json_is_object(root))
		return -EINVAL;
	t = json_string_value(json_object_get(root, "noticeTime"));
	if (!t || parse_iso8601(t, when) < 0)
		return -EINVAL;
	return 0;
}

int watch_parse_event_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	/* "21 Jan 2019 09:00:43 GMT" (aws-node-termination-handler parses
	 * it with Go's "2 Jan 2006 15:04:05 GMT"). */
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

int watch_parse_scheduled(const char *json, char *code, size_t code_len, char *id, size_t id_len,
                          time_t *not_before)
{
	_cleanup_json_ json_t *root = json_loads(json, 0, NULL);
	json_t *ev;
	size_t i;
	bool found = false;

	if (!root || !json_is_array(root))
		return -EINVAL;
	json_array_foreach(root, i, ev)
	{
		const char *st = json_string_value(json_object_get(ev, "State"));
		const char *nb = json_string_value(json_object_get(ev, "NotBefore"));
		const char *c = json_string_value(json_object_get(ev, "Code"));
		const char *eid = json_string_value(json_object_get(ev, "EventId"));
		time_t t;

		/* Completed and canceled events belong to .../history, but a
		 * State other than active is never acted on. */
		if (!json_is_object(ev) || (st && strcmp(st, "active")))
			continue;
		if (!nb || watch_parse_event_time(nb, &t) < 0)
			continue;
		if (!found || t < *not_before) {
			*not_before = t;
			format_into(code, code_len, "%s", c ? c : "unknown");
			format_into(id, id_len, "%s", eid ? eid : "");
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

/* The four items, in the order they are read. */
static const char *const items[] = {
        "autoscaling/target-lifecycle-state",
        "spot/instance-action",
        "events/recommendations/rebalance",
        "events/maintenance/scheduled",
};

/* Item i's answer (1 with the body in b, 0 on 404, -errno) into ev. */
static void apply(struct lc_events *ev, size_t i, int r, const struct strbuf *b)
{
	switch (i) {
	case 0:
		if (r < 0)
			return;
		ev->target_known = r == 1 && b->len && b->len < sizeof(ev->target_state);
		format_into(ev->target_state, sizeof(ev->target_state), "%s",
		            ev->target_known ? strbuf_str(b) : "");
		/* Tolerate a trailing newline. */
		ev->target_state[strcspn(ev->target_state, "\r\n")] = '\0';
		return;
	case 1:
		if (r == 1)
			ev->spot = watch_parse_spot(strbuf_str(b), ev->spot_action,
			                            sizeof(ev->spot_action), &ev->spot_time) == 0;
		else if (r == 0)
			ev->spot = false;
		return;
	case 2:
		if (r == 1)
			ev->rebalance =
			        watch_parse_rebalance(strbuf_str(b), &ev->rebalance_time) == 0;
		else if (r == 0)
			ev->rebalance = false;
		return;
	default:
		if (r == 1)
			ev->scheduled = watch_parse_scheduled(
			                        strbuf_str(b), ev->scheduled_code,
			                        sizeof(ev->scheduled_code), ev->scheduled_id,
			                        sizeof(ev->scheduled_id), &ev->scheduled_time) == 0;
		else if (r == 0)
			ev->scheduled = false;
		return;
	}
}

static void watch_finish(struct watch_poll *w, int r)
{
	w->busy = false;
	strbuf_free(&w->b);
	w->done(w->ctx, r);
}

static void on_item(void *ctx, int r)
{
	struct watch_poll *w = ctx;

	if (r == -EINTR) {
		watch_finish(w, r);
		return;
	}
	if (r == -ENOENT)
		r = 0;
	else if (r == 0)
		r = strbuf_error(&w->b) < 0 ? -ENOMEM : 1;
	apply(w->ev, w->item, r, &w->b);
	if (r < 0 && !w->first)
		w->first = r;
	if (++w->item == ARRAY_SIZE(items)) {
		watch_finish(w, w->first);
		return;
	}
	r = imds_get_start(&w->rd, w->imds, items[w->item], &w->b, on_item, w);
	if (r < 0)
		watch_finish(w, r);
}

int watch_poll_start(struct watch_poll *w, struct imds_client *imds, struct lc_events *ev,
                     void (*done)(void *ctx, int r), void *ctx)
{
	int r;

	memset(w, 0, sizeof(*w));
	w->imds = imds;
	w->ev = ev;
	w->done = done;
	w->ctx = ctx;
	r = imds_get_start(&w->rd, imds, items[0], &w->b, on_item, w);
	if (r < 0)
		return r;
	w->busy = true;
	return 0;
}

void watch_poll_cancel(struct watch_poll *w)
{
	if (!w->busy)
		return;
	imds_read_cancel(&w->rd);
	strbuf_free(&w->b);
	w->busy = false;
}
