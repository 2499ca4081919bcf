/* Long waits inside the single main-loop thread.  The loop blocks SIGTERM
 * and SIGINT and reads them from a signalfd, so they stay pending while
 * an AWS call or a retry backoff runs; the helpers here let those inner
 * waits notice a pending stop and keep systemd's watchdog fed
 * (WATCHDOG_USEC, sd_watchdog_enabled(3)). */
#ifndef ASG_AGENT_WATCHDOG_H
#define ASG_AGENT_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

/* Reads WATCHDOG_USEC (0 when systemd did not ask for pings). */
void watchdog_init(void);
/* Sends WATCHDOG=1 if half the watchdog interval passed since the last. */
void watchdog_ping(void);
/* True when SIGTERM or SIGINT is pending (blocked, not yet read). */
bool watchdog_stop_pending(void);
/* Sleeps ms, pinging the watchdog; -EINTR early when a stop is pending. */
int watchdog_sleep_ms(uint64_t ms);
/* Work to do while an inner wait blocks the loop (the daemon answers its
 * status socket, so `asg-agent status` works during an AWS outage).  The
 * hook must not block or call back into HTTP. */
void watchdog_set_idle_hook(void (*fn)(void *), void *ctx);
/* Pings the watchdog and runs the idle hook; for inner waits. */
void watchdog_idle(void);
/* Monotonic interval of pings in ms, 0 when disabled. */
uint64_t watchdog_interval_ms(void);

#endif
