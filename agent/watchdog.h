/* systemd's watchdog (WATCHDOG_USEC, sd_watchdog_enabled(3)): the main
 * loop pings it at least every half interval.  The loop never blocks
 * longer than that (every wait is a poll(2) of the loop), so a missed
 * ping means the loop itself is stuck, which is what systemd should
 * restart. */
#ifndef ASG_AGENT_WATCHDOG_H
#define ASG_AGENT_WATCHDOG_H

#include <stdint.h>

struct watchdog {
	uint64_t usec;         /* WATCHDOG_USEC, 0 when systemd did not ask */
	uint64_t last_ping_ms; /* monotonic */
};

void watchdog_init(struct watchdog *w);
/* Sends WATCHDOG=1 if half the watchdog interval passed since the last. */
void watchdog_ping(struct watchdog *w);
/* Monotonic interval of pings in ms, 0 when disabled: the loop's
 * longest sleep. */
uint64_t watchdog_interval_ms(const struct watchdog *w);

#endif
