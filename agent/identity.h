/* Who and where the instance is: its identity document from IMDS (or
 * IMDS absent/disabled), the region and the Auto Scaling group. */
#ifndef ASG_AGENT_IDENTITY_H
#define ASG_AGENT_IDENTITY_H

#include <stddef.h>

#include "imds.h"

struct agent;

enum imds_state {
	IMDS_UNKNOWN,
	IMDS_OK,
	IMDS_ABSENT,   /* not reachable: off EC2, or the hop-limit trap */
	IMDS_DISABLED, /* AWS_EC2_METADATA_DISABLED=true */
};

struct agent_identity {
	enum imds_state imds;
	struct imds_identity id; /* valid when imds == IMDS_OK */
	char region[64];
	const char *region_source; /* static string: "AWS_REGION", "config", "imds" ... */
	char region_error[160];    /* why the winning source's region was refused, or "" */
	char asg_name[256];
	const char *asg_source; /* static string, NULL while unknown */
};

/* Reads the identity from IMDS (or notes IMDS absent/disabled) and settles
 * the region: AWS_REGION, AWS_DEFAULT_REGION, config, then IMDS.  Logs
 * what it found; returns 0 even off EC2, -errno only on internal errors. */
int identity_discover(struct agent *a);
/* Finds the Auto Scaling group name: config, then the IMDS instance tag
 * aws:autoscaling:groupName, then DescribeAutoScalingInstances. 0 when
 * found, -ENOENT while unknown (retried later), other -errno on errors. */
int identity_find_asg(struct agent *a);
const char *imds_state_name(enum imds_state s);

#endif
