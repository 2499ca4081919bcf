"""Unit tests of the fleet's target tracking (scaling.py) and of the AWS
stand-in's CloudWatch aggregation (tests/standins/cloudwatch_agg.py)."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standins"))

import cloudwatch_agg  # noqa: E402
from scaling import Policy, decide  # noqa: E402

DIMS = [{"Name": "AutoScalingGroupName", "Value": "web-asg"}]


def point(ts, s, n, dims=DIMS, name="CPUUtilization", **extra):
    p = {"Namespace": "ASGAgent", "MetricName": name, "Dimensions": dims, "Timestamp": ts,
         "StatisticValues": {"Sum": s, "SampleCount": n, "Minimum": s / n, "Maximum": s / n}}
    p.update(extra)
    return p


def stats(points, start=0, end=60, period=10):
    return cloudwatch_agg.statistics(points, "ASGAgent", "CPUUtilization", DIMS, start, end,
                                     period)


class Aggregation(unittest.TestCase):
    def test_weighted_by_sample_count(self):
        # aws.md 10.3: {Sum 90, SC 1} + {Sum 30, SC 3} is 30, not 50
        out = stats([point(0, 90, 1), point(5, 30, 3)])
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0]["Average"], 30)
        self.assertEqual(out[0]["SampleCount"], 4)

    def test_instances_summed_per_period(self):
        pts = [point("1970-01-01T00:00:10.000Z", 600, 10), point(10, 200, 10),
               point(20.5, 100, 10)]
        out = stats(pts)
        self.assertEqual([(o["Timestamp"], o["Average"]) for o in out], [(10, 40), (20, 10)])
        self.assertEqual(out[0]["Minimum"], 20)
        self.assertEqual(out[0]["Maximum"], 60)

    def test_exact_dimensions_only(self):
        per_instance = DIMS + [{"Name": "InstanceId", "Value": "i-1"}]
        pts = [point(0, 10, 1), point(0, 1000, 1, dims=per_instance),
               point(0, 1000, 1, name="MemoryUtilization"),
               point(0, 1000, 1, dims=[{"Name": "AutoScalingGroupName", "Value": "other"}])]
        self.assertEqual([o["Average"] for o in stats(pts)], [10])

    def test_values_and_counts_and_bounds(self):
        pts = [{"Namespace": "ASGAgent", "MetricName": "CPUUtilization", "Dimensions": DIMS,
                "Timestamp": 1, "Values": [10, 40], "Counts": [3, 1]},
               {"Namespace": "ASGAgent", "MetricName": "CPUUtilization", "Dimensions": DIMS,
                "Timestamp": 2, "Value": 30},
               point(60, 999, 1), point(-1, 999, 1)]
        out = stats(pts)
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0]["Average"], (30 + 40 + 30) / 5)

    def test_no_data_no_period(self):
        self.assertEqual(stats([]), [])


P = Policy(target=50)


class TargetTracking(unittest.TestCase):
    def test_out_proportional_rounded_up(self):
        # 2 serving at 75 % of a 50 % target: 3 needed; at 87.5 %: 3.5 -> 4 (+2)
        d = decide(P, [75, 75, 75], serving=2, warming=0, desired=2, min_size=1, max_size=9)
        self.assertEqual((d.desired, d.direction), (3, "out"))
        d = decide(P, [90, 90, 87.5], serving=2, warming=0, desired=2, min_size=1, max_size=9)
        self.assertEqual(d.desired, 4)
        self.assertEqual(d.metric, 87.5)

    def test_out_needs_every_high_datapoint(self):
        self.assertIsNone(decide(P, [40, 90, 90], 2, 0, 2, 1, 9))
        self.assertIsNone(decide(P, [90, None, 90], 2, 0, 2, 1, 9))
        self.assertIsNone(decide(P, [90, 90], 2, 0, 2, 1, 9))
        self.assertIsNone(decide(P, [90, 90, None], 2, 0, 2, 1, 9))

    def test_out_clamped_to_max(self):
        self.assertEqual(decide(P, [100] * 3, 4, 0, 4, 1, 5).desired, 5)
        self.assertIsNone(decide(P, [100] * 3, 5, 0, 5, 1, 5))

    def test_warming_counts_toward_capacity(self):
        # 2 serving at 75 % need 3; a third is already warming: nothing more
        self.assertIsNone(decide(P, [75] * 3, serving=2, warming=1, desired=3,
                                 min_size=1, max_size=9))
        # the serving ones alone need 4 now: one more
        self.assertEqual(decide(P, [100] * 3, 2, 1, 3, 1, 9).desired, 4)

    def test_in_conservative(self):
        low = [10] * 15
        # 1.5 instances needed of 3 at 25 %: rounds to 2 (-1, not -2)
        d = decide(P, [25] * 15, serving=3, warming=0, desired=3, min_size=1, max_size=9)
        self.assertEqual((d.desired, d.direction), (2, "in"))
        self.assertEqual(decide(P, low, 4, 0, 4, 2, 9).desired, 2)  # min_size
        self.assertIsNone(decide(P, low[1:], 4, 0, 4, 1, 9))  # 14 periods only
        self.assertIsNone(decide(P, [10] * 7 + [46] + [10] * 7, 4, 0, 4, 1, 9))  # >= 90 %
        self.assertIsNone(decide(P, [10] * 7 + [None] + [10] * 7, 4, 0, 4, 1, 9))
        self.assertIsNone(decide(P, low, 4, 1, 5, 1, 9))  # waits out the warm-up

    def test_no_data_no_scaling(self):
        self.assertIsNone(decide(P, [], 2, 0, 2, 1, 9))
        self.assertIsNone(decide(P, [0] * 20 + [None], 3, 0, 3, 1, 9))
        self.assertIsNone(decide(P, [90] * 3, 0, 2, 2, 1, 9))

    def test_steady_state_leaves_it(self):
        self.assertIsNone(decide(P, [48] * 20, 3, 0, 3, 1, 9))


if __name__ == "__main__":
    unittest.main()
