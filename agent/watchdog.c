/* Watchdog pings and stop-aware sleeps (see watchdog.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "timeutil.h"
#include "watchdog.h"

static uint64_t watchdog_usec;
static uint64_t last_ping_ms;
static void (*idle_fn)(void *);
static void *idle_ctx;
static bool in_idle;

void watchdog_init(void)
{
	uint64_t usec = 0;

	/* unset_environment=0: a child we might exec is not ours to feed. */
	if (sd_watchdog_enabled(0, &usec) > 0)
		watchdog_usec = usec;
	last_ping_ms = now_mono_ms();
}

uint64_t watchdog_interval_ms(void)
{
	return watchdog_usec / 2000;
}

void watchdog_ping(void)
{
	uint64_t now = now_mono_ms();

	if (!watchdog_usec || now - last_ping_ms < watchdog_interval_ms())
		return;
	sd_notify(0, "WATCHDOG=1");
	last_ping_ms = now;
}

void watchdog_set_idle_hook(void (*fn)(void *), void *ctx)
{
	idle_fn = fn;
	idle_ctx = ctx;
}

void watchdog_idle(void)
{
	watchdog_ping();
	if (idle_fn && !in_idle) {
		in_idle = true;
		idle_fn(idle_ctx);
		in_idle = false;
	}
}

bool watchdog_stop_pending(void)
{
	sigset_t set;

	if (sigpending(&set) < 0)
		return false;
	return sigismember(&set, SIGTERM) == 1 || sigismember(&set, SIGINT) == 1;
}

int watchdog_sleep_ms(uint64_t ms)
{
	uint64_t end = now_mono_ms() + ms;

	for (;;) {
		uint64_t now = now_mono_ms(), slice;

		watchdog_idle();
		if (watchdog_stop_pending())
			return -EINTR;
		if (now >= end)
			return 0;
		/* Short slices: a pending signal is noticed within 100 ms. */
		slice = end - now < 100 ? end - now : 100;
		sleep_ms(slice);
	}
}
