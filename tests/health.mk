# Tests of asg-health.
