/* The lifecycle scenarios: each file of tests/lifecycle/scenarios is a
 * story told to lifecycle_step() (events in) with what must come out
 * (the actions, the state, a log line).  The syntax is in
 * scenarios/README.  With --print FILE, prints what the engine does
 * instead of checking (to write a new scenario, then read it closely). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc-parse.h"
#include "lc-text.h"
#include "lifecycle.h"

struct run {
	const char *file;
	int line;
	struct lifecycle lc;
	struct lifecycle_config cfg;
	struct lc_env env;
	struct lc_actions out;
	bool have_out;
	bool print;
	int failures;
};

static void config_defaults(struct lifecycle_config *c)
{
	/* The defaults of agent/config.c. */
	memset(c, 0, sizeof(*c));
	c->watch_interval_ms = 5000;
	c->launch_timeout_ms = 600000;
	c->launch_timeout_abandon = true;
	c->launch_rise = 2;
	c->drain_timeout_ms = 60000;
	c->drain_d_timeout_ms = 30000;
	c->drain_quiet_ms = 5000;
	c->stop_timeout_ms = 90000;
	c->on_spot_interruption = true;
	c->on_scheduled_event = true;
}

static void fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", r->file, r->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	r->failures++;
}

static bool set_config(struct run *r, char *k, char *v)
{
	struct lifecycle_config *c = &r->cfg;
	static char *names[LIFECYCLE_MAX_TARGET_GROUPS];
	static char launch[] = "web-launch", term[] = "web-terminate", tg[] = "arn:tg";

	if (!v)
		return false;
	if (!strcmp(k, "watch_interval"))
		c->watch_interval_ms = atoll(v);
	else if (!strcmp(k, "launch_timeout"))
		c->launch_timeout_ms = atoll(v);
	else if (!strcmp(k, "launch_timeout_action"))
		c->launch_timeout_abandon = !strcmp(v, "abandon");
	else if (!strcmp(k, "launch_rise"))
		c->launch_rise = atoi(v);
	else if (!strcmp(k, "drain_timeout"))
		c->drain_timeout_ms = atoll(v);
	else if (!strcmp(k, "drain_quiet"))
		c->drain_quiet_ms = atoll(v);
	else if (!strcmp(k, "drain_d_timeout"))
		c->drain_d_timeout_ms = atoll(v);
	else if (!strcmp(k, "stop_timeout"))
		c->stop_timeout_ms = atoll(v);
	else if (!strcmp(k, "on_rebalance"))
		c->on_rebalance = atoi(v);
	else if (!strcmp(k, "on_spot_interruption"))
		c->on_spot_interruption = atoi(v);
	else if (!strcmp(k, "on_scheduled_event"))
		c->on_scheduled_event = atoi(v);
	else if (!strcmp(k, "hooks")) {
		c->hooks_configured = true;
		c->launching_hook = strstr(v, "launch") ? launch : NULL;
		c->terminating_hook = strstr(v, "term") ? term : NULL;
	} else if (!strcmp(k, "target_groups")) {
		c->target_groups_configured = true;
		c->n_target_groups = atoi(v);
		for (int i = 0; i < c->n_target_groups && i < LIFECYCLE_MAX_TARGET_GROUPS; i++)
			c->target_groups[i] = names[i] = tg;
	} else
		return false;
	return true;
}

static bool set_loaded(struct run *r, char *k, char *v)
{
	struct lifecycle *lc = &r->lc;

	if (!v)
		return false;
	lc->loaded = true;
	if (!strcmp(k, "state")) {
		for (int s = LC_BOOTING; s <= LC_STANDBY; s++)
			if (!strcmp(v, lifecycle_state_name((enum lc_state)s)))
				lc->state = (enum lc_state)s;
	} else if (!strcmp(k, "step")) {
		for (int s = LC_STEP_NONE; s <= LC_STEP_DONE; s++)
			if (!strcmp(v, lifecycle_step_name((enum lc_step)s)))
				lc->step = (enum lc_step)s;
	} else if (!strcmp(k, "causes"))
		lc->causes = (unsigned)atoi(v);
	else if (!strcmp(k, "since"))
		lc->since_ms = atoll(v);
	else if (!strcmp(k, "deadline"))
		lc->deadline_ms = atoll(v);
	else if (!strcmp(k, "drain_started"))
		lc->drain_started_ms = atoll(v);
	else if (!strcmp(k, "in_flight_until"))
		lc->in_flight_until_ms = atoll(v);
	else if (!strcmp(k, "drain_d_until"))
		lc->drain_d_until_ms = atoll(v);
	else if (!strcmp(k, "gate_started"))
		lc->gate_started_ms = atoll(v);
	else if (!strcmp(k, "launch_done"))
		lc->launch_done = atoi(v);
	else if (!strcmp(k, "terminate_done"))
		lc->terminate_done = atoi(v);
	else if (!strcmp(k, "deregistered"))
		lc->deregistered = atoi(v);
	else if (!strcmp(k, "drain_d_next"))
		lc->drain_d_next = atoi(v);
	else
		return false;
	return true;
}

static int split(char *s, char **w, int max)
{
	int n = 0;

	for (char *t = strtok(s, " \t"); t && n < max; t = strtok(NULL, " \t"))
		w[n++] = t;
	return n;
}

static void state_text(const struct lifecycle *lc, char *buf, size_t len)
{
	if (lc->state == LC_DRAINING)
		snprintf(buf, len, "%s %s", lifecycle_state_name(lc->state),
		         lifecycle_step_name(lc->step));
	else
		snprintf(buf, len, "%s", lifecycle_state_name(lc->state));
}

static void line(struct run *r, char *s)
{
	char *w[32], got[2048], st[64], orig[1024];
	int n;

	s[strcspn(s, "\n")] = '\0';
	snprintf(orig, sizeof(orig), "%s", s);
	if (!s[0] || s[0] == '#')
		return;
	if (s[0] == '>' || s[0] == '=' || s[0] == '~') {
		const char *want = s + 1 + strspn(s + 1, " ");

		if (!r->have_out) {
			fail(r, "an expectation before any event");
			return;
		}
		if (r->print)
			return;
		if (s[0] == '>') {
			lc_actions_text(&r->out, got, sizeof(got));
			if (strcmp(got, want))
				fail(r, "actions:\n  want %s\n  got  %s", want, got);
		} else if (s[0] == '=') {
			state_text(&r->lc, st, sizeof(st));
			if (strcmp(st, want))
				fail(r, "state: want %s, got %s", want, st);
		} else {
			bool found = false;
			for (int i = 0; i < r->out.n; i++)
				if (r->out.a[i].kind == LC_ACT_LOG &&
				    strstr(r->out.a[i].text, want))
					found = true;
			if (!found)
				fail(r, "no log line with \"%s\"", want);
		}
		return;
	}
	n = split(s, w, 32);
	if (!n)
		return;
	if (!strcmp(w[0], "config") || !strcmp(w[0], "load")) {
		for (int i = 1; i < n; i++) {
			char *v = strchr(w[i], '=');
			if (v)
				*v++ = '\0';
			if (!(w[0][0] == 'c' ? set_config(r, w[i], v) : set_loaded(r, w[i], v)))
				fail(r, "unknown %s key %s", w[0], w[i]);
		}
		return;
	}
	{
		char *end;
		long long at = strtoll(w[0], &end, 10);
		struct lc_event ev;
		const char *bad;

		if (*end || n < 2) {
			fail(r, "not an event line: %s", w[0]);
			return;
		}
		if (!lc_parse_event(w + 1, n - 1, &r->env, &ev, &bad)) {
			fail(r, "unknown event word %s", bad);
			return;
		}
		lifecycle_step(&r->lc, &r->cfg, &ev, at, &r->out);
		r->have_out = true;
		if (r->out.overflow)
			fail(r, "more than %d actions", LC_MAX_ACTIONS);
		if (r->print) {
			lc_actions_text(&r->out, got, sizeof(got));
			state_text(&r->lc, st, sizeof(st));
			printf("%s\n> %s\n= %s\n", orig, got, st);
			for (int i = 0; i < r->out.n; i++)
				if (r->out.a[i].kind == LC_ACT_LOG)
					printf("#   log: %s\n", r->out.a[i].text);
		}
	}
}

static int run_file(const char *path, bool print)
{
	struct run *r = calloc(1, sizeof(*r));
	char buf[1024];
	FILE *f = fopen(path, "r");
	int failures;

	if (!r || !f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		free(r);
		if (f)
			fclose(f);
		return 1;
	}
	r->file = path;
	r->print = print;
	config_defaults(&r->cfg);
	while (fgets(buf, sizeof(buf), f)) {
		r->line++;
		line(r, buf);
	}
	fclose(f);
	failures = r->failures;
	free(r);
	return failures;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_scenario(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && !strcmp(d->d_name + n - 4, ".txt");
}

int main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : getenv("srcdir");
	char dir[4096], path[8192];
	struct dirent **list;
	int n, failed = 0;

	if (argc == 3 && !strcmp(argv[1], "--print"))
		return run_file(argv[2], true) ? 1 : 0;
	snprintf(dir, sizeof(dir), "%s/tests/lifecycle/scenarios", top ? top : ".");
	n = scandir(dir, &list, is_scenario, by_name);
	if (n <= 0) {
		fprintf(stderr, "no scenarios in %s\n", dir);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		int f = run_file(path, false);
		printf("%s %s\n", f ? "FAIL" : "ok  ", list[i]->d_name);
		failed += f != 0;
		free(list[i]);
	}
	free(list);
	printf("%d scenario(s), %d failed\n", n, failed);
	return failed ? 1 : 0;
}
