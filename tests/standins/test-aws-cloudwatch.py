#!/usr/bin/python3
"""CloudWatch PutMetricData in the AWS stand-in, through a real botocore
client: datapoints, statistic sets and Values/Counts are recorded as sent,
and the checks CloudWatch makes beyond the model (aws.md section 4) are
answered with its error codes."""

import datetime
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

AKID, SECRET = "AKIDSTANDINCW0000001", "cw/secret"
DIM = [{"Name": "AutoScalingGroupName", "Value": "web-asg"}]


class CloudWatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.aws = client.start_aws(credentials=[{"AccessKeyId": AKID, "SecretAccessKey": SECRET}])
        cls.cw = client.botocore_client("cloudwatch", cls.aws.url, AKID, SECRET)

    @classmethod
    def tearDownClass(cls):
        assert cls.aws.stop() == 0

    def setUp(self):
        self.aws.control("DELETE", "metrics")

    def metrics(self):
        return self.aws.control("GET", "metrics")

    def rejected(self, data, namespace="Asg/Test"):
        with self.assertRaises(ClientError) as cm:
            self.cw.put_metric_data(Namespace=namespace, MetricData=data)
        return cm.exception.response["Error"]["Code"], cm.exception.response["Error"]["Message"]

    def test_datapoints_recorded(self):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        self.cw.put_metric_data(Namespace="Asg/Test", MetricData=[
            {"MetricName": "cpu", "Dimensions": DIM, "Value": 42.5, "Unit": "Percent",
             "Timestamp": now, "StorageResolution": 1},
            {"MetricName": "latency", "Dimensions": DIM, "Unit": "Milliseconds",
             "StatisticValues": {"SampleCount": 3, "Sum": 30, "Minimum": 5, "Maximum": 20}},
            {"MetricName": "queue", "Values": [1, 2, 3], "Counts": [1, 1, 2]},
        ])
        m = self.metrics()
        self.assertEqual([p["MetricName"] for p in m], ["cpu", "latency", "queue"])
        self.assertEqual(m[0]["Value"], 42.5)
        self.assertEqual(m[0]["Dimensions"], DIM)
        self.assertEqual(m[0]["StorageResolution"], 1)
        self.assertEqual(m[0]["Timestamp"], now.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        self.assertEqual(m[1]["StatisticValues"],
                         {"SampleCount": 3.0, "Sum": 30.0, "Minimum": 5.0, "Maximum": 20.0})
        self.assertEqual((m[2]["Values"], m[2]["Counts"]), ([1.0, 2.0, 3.0], [1.0, 1.0, 2.0]))
        self.assertTrue(all(p["Namespace"] == "Asg/Test" and p["access_key_id"] == AKID
                            for p in m))

    def test_reserved_namespace(self):
        code, _ = self.rejected([{"MetricName": "cpu", "Value": 1}], namespace="AWS/EC2")
        self.assertEqual(code, "InvalidParameterValue")

    def test_special_values(self):
        for v in (float("nan"), float("inf"), 2.0 ** 361):
            code, message = self.rejected([{"MetricName": "cpu", "Value": v}])
            self.assertEqual(code, "InvalidParameterValue", v)
            self.assertIn("MetricData.member.1.Value", message)

    def test_value_and_statistics_exclusive(self):
        code, _ = self.rejected([{"MetricName": "cpu", "Value": 1, "StatisticValues": {
            "SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}])
        self.assertEqual(code, "InvalidParameterCombination")

    def test_values_and_counts_sizes(self):
        code, _ = self.rejected([{"MetricName": "cpu", "Values": [1, 2], "Counts": [1]}])
        self.assertEqual(code, "InvalidParameterValue")
        code, _ = self.rejected([{"MetricName": "cpu", "Values": [1.0] * 151}])
        self.assertEqual(code, "InvalidParameterValue")

    def test_timestamp_window(self):
        old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=15)
        code, message = self.rejected([{"MetricName": "cpu", "Value": 1, "Timestamp": old}])
        self.assertEqual(code, "InvalidParameterValue")
        self.assertIn("two weeks", message)
        future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=3)
        code, _ = self.rejected([{"MetricName": "cpu", "Value": 1, "Timestamp": future}])
        self.assertEqual(code, "InvalidParameterValue")

    def test_storage_resolution(self):
        code, _ = self.rejected([{"MetricName": "cpu", "Value": 1, "StorageResolution": 5}])
        self.assertEqual(code, "InvalidParameterValue")

    def test_too_many_dimensions(self):
        dims = [{"Name": "d%d" % i, "Value": "v"} for i in range(31)]
        code, _ = self.rejected([{"MetricName": "cpu", "Value": 1, "Dimensions": dims}])
        self.assertEqual(code, "ValidationError")

    def test_nothing_recorded_on_error(self):
        self.rejected([{"MetricName": "ok", "Value": 1}, {"MetricName": "bad",
                                                          "Value": float("nan")}])
        self.assertEqual(self.metrics(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
