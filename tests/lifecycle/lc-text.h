/* Text forms of the lifecycle engine's actions, shared by the scenario
 * runner and the explorer: "complete:launching:abandon", "save"... */
#ifndef ASG_TESTS_LC_TEXT_H
#define ASG_TESTS_LC_TEXT_H

#include <stdio.h>
#include <string.h>

#include "lifecycle.h"

static inline void lc_action_text(const struct lc_action *a, char *buf, size_t len)
{
	const char *name = lifecycle_action_name(a->kind);

	switch (a->kind) {
	case LC_ACT_COMPLETE:
		snprintf(buf, len, "%s:%s%s%s", name, a->launching ? "launching" : "terminating",
		         a->abandon ? ":abandon" : "", a->flag ? ":timeout" : "");
		break;
	case LC_ACT_HEARTBEAT:
		snprintf(buf, len, "%s:%s", name, a->launching ? "launching" : "terminating");
		break;
	case LC_ACT_SET_TARGETS:
		snprintf(buf, len, "%s:%s", name, a->flag ? "register" : "deregister");
		break;
	case LC_ACT_DRAIN_HEALTH:
		snprintf(buf, len, "%s:%s", name, a->flag ? "drain" : "undrain");
		break;
	case LC_ACT_RUN_DRAIN_D:
		snprintf(buf, len, "%s:%d", name, a->index);
		break;
	case LC_ACT_PUBLISHING:
		snprintf(buf, len, "%s:%s", name, a->flag ? "on" : "off");
		break;
	case LC_ACT_NOTIFY:
		snprintf(buf, len, "%s%s", name, a->flag ? ":ready" : "");
		break;
	default:
		snprintf(buf, len, "%s", name);
		break;
	}
}

/* Every action but the logs, space-separated. */
static inline void lc_actions_text(const struct lc_actions *out, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < out->n; i++) {
		char one[96];

		if (out->a[i].kind == LC_ACT_LOG)
			continue;
		lc_action_text(&out->a[i], one, sizeof(one));
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
		                        off ? " " : "", one);
	}
	if (!off)
		snprintf(buf, len, "-");
}

#endif
