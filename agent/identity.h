/* Who and where the instance is: its identity document from IMDS (or
 * IMDS absent/disabled), the region and the Auto Scaling group. */
#ifndef ASG_AGENT_IDENTITY_H
#define ASG_AGENT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "imds.h"

#include "aws.h"

struct agent;

/* The identity read or the group lookup in flight (agent.h's lookup):
 * one at a time. */
struct identity_lookup {
	bool busy;
	bool finding_group; /* identity_find_asg_start's, not the identity's */
	void (*done)(struct agent *a, int r);
	void (*also)(struct agent *a, int r); /* a second caller waiting for the group */
	struct imds_identity_read identity;
	struct imds_read rd;
	struct strbuf tag; /* owned: the IMDS tag's value */
	struct aws_call call;
	struct aws_response resp;
	bool sync_done; /* the blocking wrappers' */
	int sync_r;
};

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
/* The same without waiting: 1 when under way (done(a, r) from the loop
 * with identity_discover()'s result), else that result at once. */
int identity_discover_start(struct agent *a, void (*done)(struct agent *a, int r));
/* Finds the Auto Scaling group name: config, then the IMDS instance tag
 * aws:autoscaling:groupName, then DescribeAutoScalingInstances. 0 when
 * found, -ENOENT while unknown (retried later), other -errno on errors. */
int identity_find_asg(struct agent *a);
/* The same without waiting: 1 when under way (also when it joins a group
 * lookup already under way), else the result at once; -EBUSY while the
 * identity is being read. */
int identity_find_asg_start(struct agent *a, void (*done)(struct agent *a, int r));
void identity_lookup_cancel(struct agent *a);
const char *imds_state_name(enum imds_state s);

#endif
