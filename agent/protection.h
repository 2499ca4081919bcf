/* Scale-in protection as the group sees it (ProtectedFromScaleIn of
 * DescribeAutoScalingInstances), for the status document: `asg-agent
 * protect` and the console change it behind the daemon's back, so the
 * daemon reads it again once a minute rather than on every `status`,
 * which must neither wait for AWS nor cost an API call. */
#ifndef ASG_AGENT_PROTECTION_H
#define ASG_AGENT_PROTECTION_H

struct agent;
struct json_t;

/* Reads it when due (a blocking call, like the daemon's others). */
void protection_refresh(struct agent *a);
/* {"protected": true|false|null, "as_of": time|null, "error": text|null}
 * (a new reference). */
struct json_t *protection_status(const struct agent *a);

#endif
