/* systemd watchdog pings (see watchdog.h). */
#include <systemd/sd-daemon.h>

#include "timeutil.h"
#include "watchdog.h"

void watchdog_init(struct watchdog *w)
{
	uint64_t usec = 0;

	/* unset_environment=0: a child we might exec is not ours to feed. */
	w->usec = sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
	w->last_ping_ms = now_mono_ms();
}

uint64_t watchdog_interval_ms(const struct watchdog *w)
{
	return w->usec / 2000;
}

void watchdog_ping(struct watchdog *w)
{
	uint64_t now = now_mono_ms();

	if (!w->usec || now - w->last_ping_ms < watchdog_interval_ms(w))
		return;
	sd_notify(0, "WATCHDOG=1");
	w->last_ping_ms = now;
}
