"""Target tracking as EC2 Auto Scaling documents it (aws.md section 10), as
one pure function the fleet's group controller calls once per metric
period.

- The policy's two alarms: "high" when the last `high_points` datapoints
  are all above the target, "low" when the last `low_points` are all below
  `low_ratio` x target.  The datapoint counts (3 and 15) and the low
  alarm's 90 % are what DescribeAlarms is reported to show for the alarms
  target tracking creates; aws.md marks them unverified, so they are
  parameters.  A missing datapoint breaks the run: no data, no scaling
  (INSUFFICIENT_DATA).
- The new capacity is proportional: ceil(capacity x metric / target),
  which rounds up when adding and down when removing (1.5 -> +2 / -1).
  The metric is the average of the instances that publish it, so the
  capacity it is scaled from is theirs.
- Out quickly, in conservatively: scale-out on the high alarm alone;
  scale-in only on the low alarm and only when no instance is warming up.
- Warm-up: warming instances (launched, or in service for less than the
  warm-up) count toward capacity during scale-out, so a scale-out already
  on its way is not repeated; another one happens only if the serving
  instances alone need more than the group already has.
"""

import math
from collections import namedtuple

Policy = namedtuple("Policy", "target high_points low_points low_ratio")
Policy.__new__.__defaults__ = (3, 15, 0.9)

Decision = namedtuple("Decision", "desired direction metric reason")


def decide(policy, datapoints, serving, warming, desired, min_size, max_size):
    """datapoints: the group metric per period, oldest first, None where a
    period had no data.  serving: instances in service past their warm-up
    (the metric's publishers); warming: launched or still warming up.
    desired: the group's desired capacity now.  Returns a Decision with the
    new desired capacity, or None to leave it."""
    if not datapoints or datapoints[-1] is None or serving <= 0:
        return None
    metric = datapoints[-1]
    wanted = math.ceil(round(serving * metric / policy.target, 9))
    high = datapoints[-policy.high_points:]
    if len(high) == policy.high_points and all(d is not None and d > policy.target
                                               for d in high):
        new = min(max_size, max(min_size, wanted))
        if new > desired:
            return Decision(new, "out", metric,
                            "%.1f > target %g for %d periods: %d serving need %d" % (
                                metric, policy.target, policy.high_points, serving, wanted))
        return None
    low = datapoints[-policy.low_points:]
    if warming or len(low) < policy.low_points or \
            not all(d is not None and d < policy.target * policy.low_ratio for d in low):
        return None
    new = min(max_size, max(min_size, wanted))
    if new < desired:
        return Decision(new, "in", metric,
                        "%.1f < %g (%g%% of target %g) for %d periods: %d serving need %d"
                        % (metric, policy.target * policy.low_ratio, policy.low_ratio * 100,
                           policy.target, policy.low_points, serving, wanted))
    return None
