/* Used percent of the file system holding path, as df(1) computes it:
 * used / (used + available to unprivileged users), so the reserved blocks
 * count as unavailable. */
#ifndef ASG_AGENT_DISK_H
#define ASG_AGENT_DISK_H

int disk_used_percent(const char *path, double *percent);

#endif
