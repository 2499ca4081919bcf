/* Memory used percent from /proc/meminfo: (MemTotal - MemAvailable) /
 * MemTotal, the kernel's own estimate of memory that can be had without
 * swapping (the same base as the CloudWatch agent's mem_used_percent). */
#ifndef ASG_AGENT_MEMORY_H
#define ASG_AGENT_MEMORY_H

int memory_used_percent(const char *meminfo_path, double *percent);

#endif
