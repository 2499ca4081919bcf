/* The state file's document (see lifecycle-state.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cleanup.h"
#include "drain.h"
#include "lifecycle-state.h"
#include "lifecycle.h"
#include "strbuf.h"

#define LC_CAUSE_ALL                                                                      \
	(LC_CAUSE_TERMINATION | LC_CAUSE_SPOT | LC_CAUSE_SCHEDULED | LC_CAUSE_REBALANCE | \
	 LC_CAUSE_WARM_POOL | LC_CAUSE_LAUNCH_ABANDONED)

/* What consider_deadline() in lifecycle.c may write. */
static const char *const deadline_sources[] = {
        "spot-action",
        "scheduled-event",
        "hook-global-timeout",
        "stop-timeout",
};

static const char *const ms_fields[] = {
        "since_ms",         "step_since_ms",      "deadline_ms",      "gate_started_ms",
        "drain_started_ms", "in_flight_until_ms", "drain_d_until_ms", "last_heartbeat_ms",
};

json_t *lifecycle_state_to_json(const struct lifecycle *lc, const struct lc_state_owner *owner)
{
	return json_pack(
	        "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:b,s:b,s:b,s:i,s:I}",
	        "boot_id", owner->boot_id, "instance_id", owner->instance_id, "state",
	        lifecycle_state_name(lc->state), "step", lifecycle_step_name(lc->step), "since_ms",
	        (json_int_t)lc->since_ms, "step_since_ms", (json_int_t)lc->step_since_ms, "causes",
	        (json_int_t)lc->causes, "deadline_ms", (json_int_t)lc->deadline_ms,
	        "deadline_source", lc->deadline_source, "gate_started_ms",
	        (json_int_t)lc->gate_started_ms, "drain_started_ms",
	        (json_int_t)lc->drain_started_ms, "in_flight_until_ms",
	        (json_int_t)lc->in_flight_until_ms, "drain_d_until_ms",
	        (json_int_t)lc->drain_d_until_ms, "launch_done", lc->launch_done, "terminate_done",
	        lc->terminate_done, "deregistered", lc->deregistered, "drain_d_next",
	        lc->drain_d_next, "last_heartbeat_ms", (json_int_t)lc->last_heartbeat_ms);
}

static int bad(char *why, size_t len, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int bad(char *why, size_t len, const char *field, const char *fmt, ...)
{
	char reason[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	format_into(why, len, "%s: %s", field, reason);
	return -EBADMSG;
}

/* A string field: present, a string, no NUL inside, at most max bytes,
 * every byte in charset (NULL: any printable ASCII). */
static int get_string(const json_t *doc, const char *field, size_t max, const char *charset,
                      const char **out, char *why, size_t len)
{
	const json_t *v = json_object_get(doc, field);
	const char *s;
	size_t n;

	if (!v)
		return bad(why, len, field, "missing");
	if (!json_is_string(v))
		return bad(why, len, field, "not a string");
	s = json_string_value(v);
	n = json_string_length(v);
	if (strlen(s) != n)
		return bad(why, len, field, "contains a NUL byte");
	if (n > max)
		return bad(why, len, field, "longer than %zu bytes", max);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (charset ? !strchr(charset, c) : (c < 0x20 || c > 0x7e))
			return bad(why, len, field, "invalid character 0x%02x", c);
	}
	*out = s;
	return 0;
}

static int get_integer(const json_t *doc, const char *field, json_int_t min, json_int_t max,
                       json_int_t *out, char *why, size_t len)
{
	const json_t *v = json_object_get(doc, field);

	if (!v)
		return bad(why, len, field, "missing");
	if (!json_is_integer(v))
		return bad(why, len, field, "not an integer");
	*out = json_integer_value(v);
	if (*out < min || *out > max)
		return bad(why, len, field, "%lld is out of range [%lld, %lld]", (long long)*out,
		           (long long)min, (long long)max);
	return 0;
}

static int get_bool(const json_t *doc, const char *field, bool *out, char *why, size_t len)
{
	const json_t *v = json_object_get(doc, field);

	if (!v)
		return bad(why, len, field, "missing");
	if (!json_is_boolean(v))
		return bad(why, len, field, "not a boolean");
	*out = json_is_true(v);
	return 0;
}

static int get_enum(const json_t *doc, const char *field, const char *(*name)(int), int count,
                    int *out, char *why, size_t len)
{
	const char *s;
	int r = get_string(doc, field, 64, NULL, &s, why, len);

	if (r < 0)
		return r;
	for (int i = 0; i < count; i++)
		/* get_string() sets s when it returns 0 */
		/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
		if (!strcmp(name(i), s)) {
			*out = i;
			return 0;
		}
	return bad(why, len, field, "unknown value \"%s\"", s);
}

static const char *state_name(int i)
{
	return lifecycle_state_name((enum lc_state)i);
}

static const char *step_name(int i)
{
	return lifecycle_step_name((enum lc_step)i);
}

int lifecycle_state_from_json(const json_t *doc, struct lifecycle *lc, struct lc_state_owner *owner,
                              char *why, size_t why_len)
{
	struct lifecycle v = {0};
	json_int_t ms[ARRAY_SIZE(ms_fields)], causes, next;
	const char *boot, *id, *source;
	int st = 0, sp = 0, r;
	bool known_source = false;

	format_into(why, why_len, "%s", "");
	if (!json_is_object(doc))
		return bad(why, why_len, "(document)", "not a JSON object");
	/* boot_id is "" when /proc/sys/kernel/random/boot_id was unreadable. */
	if ((r = get_string(doc, "boot_id", LC_STATE_BOOT_ID_MAX, "0123456789abcdef-", &boot, why,
	                    why_len)) < 0 ||
	    (r = get_string(doc, "instance_id", LC_STATE_INSTANCE_ID_MAX,
	                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", &id,
	                    why, why_len)) < 0 ||
	    (r = get_enum(doc, "state", state_name, LC_STANDBY + 1, &st, why, why_len)) < 0 ||
	    (r = get_enum(doc, "step", step_name, LC_STEP_DONE + 1, &sp, why, why_len)) < 0 ||
	    (r = get_integer(doc, "causes", 0, LC_CAUSE_ALL, &causes, why, why_len)) < 0 ||
	    (r = get_string(doc, "deadline_source", sizeof(v.deadline_source) - 1, NULL, &source,
	                    why, why_len)) < 0 ||
	    (r = get_bool(doc, "launch_done", &v.launch_done, why, why_len)) < 0 ||
	    (r = get_bool(doc, "terminate_done", &v.terminate_done, why, why_len)) < 0 ||
	    (r = get_bool(doc, "deregistered", &v.deregistered, why, why_len)) < 0 ||
	    (r = get_integer(doc, "drain_d_next", 0, DRAIN_D_MAX, &next, why, why_len)) < 0)
		return r;
	/* get_string() set id: it returned 0 */
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	if (!*id)
		return bad(why, why_len, "instance_id", "empty");
	if ((causes & ~(json_int_t)LC_CAUSE_ALL) != 0)
		return bad(why, why_len, "causes", "unknown bits 0x%llx", (long long)causes);
	for (size_t i = 0; i < ARRAY_SIZE(ms_fields); i++)
		if ((r = get_integer(doc, ms_fields[i], 0, LC_STATE_MAX_MS, &ms[i], why, why_len)) <
		    0)
			return r;
	for (size_t i = 0; i < ARRAY_SIZE(deadline_sources); i++)
		known_source |= !strcmp(source, deadline_sources[i]);
	if (*source && !known_source)
		return bad(why, why_len, "deadline_source", "unknown value \"%s\"", source);

	v.state = (enum lc_state)st;
	v.step = (enum lc_step)sp;
	v.causes = (unsigned)causes;
	v.drain_d_next = (int)next;
	v.since_ms = ms[0];
	v.step_since_ms = ms[1];
	v.deadline_ms = ms[2];
	v.gate_started_ms = ms[3];
	v.drain_started_ms = ms[4];
	v.in_flight_until_ms = ms[5];
	v.drain_d_until_ms = ms[6];
	v.last_heartbeat_ms = ms[7];

	/* Consistency: what lifecycle.c can have written, nothing else. */
	if ((v.deadline_ms == 0) != (*source == '\0'))
		return bad(why, why_len, "deadline_source",
		           "\"%s\" does not go with deadline_ms %lld", source,
		           (long long)v.deadline_ms);
	if (v.state != LC_DRAINING && v.step != LC_STEP_NONE && v.step != LC_STEP_DONE)
		return bad(why, why_len, "step", "\"%s\" outside a drain (state \"%s\")",
		           lifecycle_step_name(v.step), lifecycle_state_name(v.state));
	if (v.state == LC_DRAINING && v.causes == 0)
		return bad(why, why_len, "causes", "a drain without a cause");
	if (v.state == LC_DRAINING && v.drain_started_ms == 0)
		return bad(why, why_len, "drain_started_ms", "0 in a drain");
	if (v.in_flight_until_ms > v.drain_d_until_ms)
		return bad(why, why_len, "drain_d_until_ms",
		           "%lld is before in_flight_until_ms %lld", (long long)v.drain_d_until_ms,
		           (long long)v.in_flight_until_ms);

	format_into(v.deadline_source, sizeof(v.deadline_source), "%s", source);
	format_into(owner->boot_id, sizeof(owner->boot_id), "%s", boot);
	format_into(owner->instance_id, sizeof(owner->instance_id), "%s", id);
	lc->state = v.state;
	lc->step = v.step;
	lc->since_ms = v.since_ms;
	lc->step_since_ms = v.step_since_ms;
	lc->causes = v.causes;
	lc->deadline_ms = v.deadline_ms;
	memcpy(lc->deadline_source, v.deadline_source, sizeof(lc->deadline_source));
	lc->gate_started_ms = v.gate_started_ms;
	lc->drain_started_ms = v.drain_started_ms;
	lc->in_flight_until_ms = v.in_flight_until_ms;
	lc->drain_d_until_ms = v.drain_d_until_ms;
	lc->launch_done = v.launch_done;
	lc->terminate_done = v.terminate_done;
	lc->deregistered = v.deregistered;
	lc->drain_d_next = v.drain_d_next;
	lc->last_heartbeat_ms = v.last_heartbeat_ms;
	return 0;
}

int lifecycle_state_parse(const char *buf, size_t len, struct lifecycle *lc,
                          struct lc_state_owner *owner, char *why, size_t why_len)
{
	json_error_t err;
	_cleanup_json_ json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);

	if (!doc) {
		format_into(why, why_len, "(document): not JSON: line %d column %d: %s", err.line,
		            err.column, err.text);
		return -EBADMSG;
	}
	return lifecycle_state_from_json(doc, lc, owner, why, why_len);
}
