/* CPU utilisation from /proc/stat (proc(5)).  The aggregate "cpu" line
 * gives cumulative jiffies per state; utilisation over an interval is
 * busy delta / (busy + idle) delta, in percent.
 *
 *   busy = user + nice + system + irq + softirq + steal
 *   idle = idle + iowait
 *
 * guest and guest_nice are left out: the kernel already counts guest time
 * in user and guest_nice in nice (kernel/sched/cputime.c), so adding them
 * would count it twice.  iowait is idle time (the CPU could run something
 * else); steal is busy, since the hypervisor took the time from us and a
 * scaling policy should see that capacity as gone.  The CloudWatch agent's
 * cpu_usage_active instead counts iowait as active; see
 * docs/agent.md, "The scaling metric". */
#ifndef ASG_AGENT_CPU_H
#define ASG_AGENT_CPU_H

#include <stdint.h>

struct cpu_times {
	uint64_t busy;
	uint64_t idle;
};

/* Reads the aggregate cpu line of path (normally /proc/stat). */
int cpu_read_times(const char *path, struct cpu_times *out);
/* Percent busy between two readings; -ERANGE when no time passed or the
 * counters went backwards (a reset), which callers skip. */
int cpu_utilisation(const struct cpu_times *prev, const struct cpu_times *cur, double *percent);

#endif
