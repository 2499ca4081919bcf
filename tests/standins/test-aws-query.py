#!/usr/bin/python3
"""The Query protocol side of the AWS stand-in, with raw signed forms that
bypass botocore's client-side validation: parameter rebuilding (1-based
member lists, nested structures, type conversion), model validation,
Action/Version handling, gzip bodies, and the XML of answers and errors."""

import datetime
import gzip
import os
import sys
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402

AKID, SECRET = "AKIDSTANDINQUERY0001", "query/secret"
CW = "http://monitoring.amazonaws.com/doc/2010-08-01/"
AS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"


class QueryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.aws = client.start_aws(state=client.example_world(),
                                   credentials=[{"AccessKeyId": AKID, "SecretAccessKey": SECRET}])

    @classmethod
    def tearDownClass(cls):
        assert cls.aws.stop() == 0

    now_iso = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def send(self, service, params, **kw):
        return client.signed_request(self.aws.url, service, AKID, SECRET, params, **kw)

    def put(self, **extra):
        params = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": "Asg/Test",
                  "MetricData.member.1.MetricName": "cpu",
                  "MetricData.member.1.Value": "12.5"}
        params.update(extra)
        return self.send("monitoring", {k: v for k, v in params.items() if v is not None})

    def assertValidationError(self, response, fragment):
        status, _, text = response
        self.assertEqual(status, 400, text)
        etype, code, message, request_id = client.parse_error(text)
        self.assertEqual((etype, code), ("Sender", "ValidationError"), message)
        self.assertIn(fragment, message)
        self.assertTrue(request_id)

    def test_valid_nested_form_is_rebuilt(self):
        status, headers, text = self.put(**{
            "MetricData.member.1.Dimensions.member.1.Name": "AutoScalingGroupName",
            "MetricData.member.1.Dimensions.member.1.Value": "web-asg",
            "MetricData.member.1.Unit": "Percent",
            "MetricData.member.1.Timestamp": self.now_iso,
            "MetricData.member.1.StorageResolution": "1",
            "MetricData.member.2.MetricName": "latency",
            "MetricData.member.2.StatisticValues.SampleCount": "4",
            "MetricData.member.2.StatisticValues.Sum": "10",
            "MetricData.member.2.StatisticValues.Minimum": "1",
            "MetricData.member.2.StatisticValues.Maximum": "4",
        })
        self.assertEqual(status, 200, text)
        root = ET.fromstring(text)
        self.assertEqual(root.tag, "{%s}PutMetricDataResponse" % CW)
        self.assertEqual(root.findtext("{%s}ResponseMetadata/{%s}RequestId" % (CW, CW)),
                         headers["x-amzn-requestid"])
        params = self.aws.calls(action="PutMetricData")[-1]["params"]
        self.assertEqual(params["MetricData"][0]["Dimensions"],
                         [{"Name": "AutoScalingGroupName", "Value": "web-asg"}])
        self.assertEqual(params["MetricData"][0]["Value"], 12.5)
        self.assertEqual(params["MetricData"][0]["StorageResolution"], 1)
        self.assertEqual(params["MetricData"][0]["Timestamp"], self.now_iso)
        self.assertEqual(params["MetricData"][1]["StatisticValues"],
                         {"SampleCount": 4.0, "Sum": 10.0, "Minimum": 1.0, "Maximum": 4.0})

    def test_missing_required(self):
        self.assertValidationError(self.put(Namespace=None), "Namespace")
        self.assertValidationError(self.put(**{"MetricData.member.1.StatisticValues.Sum": "1",
                                               "MetricData.member.1.Value": None}),
                                   "SampleCount")

    def test_bad_types(self):
        self.assertValidationError(self.put(**{"MetricData.member.1.Value": "twelve"}), "Value")
        self.assertValidationError(
            self.put(**{"MetricData.member.1.StorageResolution": "1.5"}), "StorageResolution")
        self.assertValidationError(
            self.put(**{"MetricData.member.1.Timestamp": "yesterday"}), "Timestamp")

    def test_enum_pattern_and_length(self):
        self.assertValidationError(self.put(**{"MetricData.member.1.Unit": "Percents"}),
                                   "enum value set")
        self.assertValidationError(self.put(Namespace=":bad"), "regular expression")
        self.assertValidationError(self.put(Namespace="n" * 256), "Namespace")

    def test_unknown_parameter(self):
        self.assertValidationError(self.put(Bogus="1"), "Bogus")
        self.assertValidationError(self.put(**{"MetricData.member.1.Colour": "red"}), "Colour")

    def test_list_indexes_count_from_one(self):
        params = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": "Asg/Test",
                  "MetricData.member.0.MetricName": "cpu", "MetricData.member.0.Value": "1"}
        self.assertValidationError(self.send("monitoring", params), "1..N")
        params = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": "Asg/Test",
                  "MetricData.member.1.MetricName": "a", "MetricData.member.3.MetricName": "b"}
        self.assertValidationError(self.send("monitoring", params), "gaps")
        # A list without .member. is not the Query encoding of a list.
        params = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": "Asg/Test",
                  "MetricData.1.MetricName": "a"}
        self.assertValidationError(self.send("monitoring", params), "MetricData")

    def test_complete_lifecycle_action_constraints(self):
        base = {"Action": "CompleteLifecycleAction", "Version": "2011-01-01",
                "AutoScalingGroupName": "web-asg", "LifecycleHookName": "web-launch",
                "InstanceId": "i-0123456789abcdef0"}
        self.assertValidationError(self.send("autoscaling", dict(base)),
                                   "LifecycleActionResult")
        self.assertValidationError(
            self.send("autoscaling", dict(base, LifecycleActionResult="CONTINUE",
                                          LifecycleActionToken="short")),
            "LifecycleActionToken")
        self.assertValidationError(
            self.send("autoscaling", dict(base, LifecycleActionResult="CONTINUE",
                                          LifecycleHookName="bad name!")),
            "regular expression")

    def test_action_and_version(self):
        status, _, text = self.send("autoscaling", {"Version": "2011-01-01"})
        self.assertEqual((status, client.parse_error(text)[1]), (400, "MissingAction"))
        status, _, text = self.send("autoscaling", {"Action": "LaunchRockets",
                                                    "Version": "2011-01-01"})
        self.assertEqual((status, client.parse_error(text)[1]), (400, "InvalidAction"))
        status, _, text = self.send("autoscaling", {"Action": "DescribeAutoScalingGroups",
                                                    "Version": "2010-08-01"})
        self.assertEqual((status, client.parse_error(text)[1]), (400, "InvalidAction"))
        # An operation of another service, signed for autoscaling.
        status, _, text = self.send("autoscaling", {"Action": "PutMetricData",
                                                    "Version": "2011-01-01"})
        self.assertEqual((status, client.parse_error(text)[1]), (400, "InvalidAction"))

    def test_error_xml_namespace(self):
        status, _, text = self.send("autoscaling", {"Action": "DescribeLifecycleHooks",
                                                    "Version": "2011-01-01"})
        root = ET.fromstring(text)
        self.assertEqual(root.tag, "{%s}ErrorResponse" % AS)
        self.assertEqual(root.findtext("{%s}Error/{%s}Code" % (AS, AS)), "ValidationError")

    def test_gzip_body(self):
        body = urllib.parse.urlencode({
            "Action": "PutMetricData", "Version": "2010-08-01", "Namespace": "Asg/Gzip",
            "MetricData.member.1.MetricName": "cpu", "MetricData.member.1.Value": "7"}).encode()
        status, _, text = self.send("monitoring", gzip.compress(body),
                                    headers={"Content-Encoding": "gzip"})
        self.assertEqual(status, 200, text)
        self.assertEqual(self.aws.calls(action="PutMetricData")[-1]["params"]["Namespace"],
                         "Asg/Gzip")

    def test_get_with_query_string(self):
        query = urllib.parse.urlencode({"Action": "DescribeAutoScalingGroups",
                                        "Version": "2011-01-01"})
        status, _, text = self.send("autoscaling", b"", method="GET", path="/?" + query)
        self.assertEqual(status, 200, text)
        self.assertIn("<AutoScalingGroupName>web-asg</AutoScalingGroupName>", text)

    def test_content_type_must_be_form(self):
        params = {"Action": "DescribeAutoScalingGroups", "Version": "2011-01-01"}
        status, _, text = self.send("autoscaling", params,
                                    headers={"Content-Type": "application/json"})
        self.assertEqual((status, client.parse_error(text)[1]), (400, "MissingAction"))
        status, _, text = self.send("autoscaling", params, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200, text)

    def test_expect_100_continue(self):
        # libcurl sends Expect: 100-continue before larger bodies.
        params = {"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": "Asg/Big"}
        for i in range(1, 60):
            params["MetricData.member.%d.MetricName" % i] = "metric-%03d" % i
            params["MetricData.member.%d.Value" % i] = str(i)
        status, _, text = self.send("monitoring", params, headers={"Expect": "100-continue"})
        self.assertEqual(status, 200, text)

    def test_duplicate_parameter(self):
        body = "Action=DescribeAutoScalingGroups&Version=2011-01-01&MaxRecords=1&MaxRecords=2"
        status, _, text = self.send("autoscaling", body)
        self.assertEqual((status, client.parse_error(text)[1]), (400, "MalformedQueryString"))

    def test_empty_list_encoding(self):
        # botocore sends an empty list as "Name=".
        status, _, text = self.send("autoscaling", {"Action": "DescribeAutoScalingGroups",
                                                    "Version": "2011-01-01",
                                                    "AutoScalingGroupNames": ""})
        self.assertEqual(status, 200, text)
        self.assertEqual(self.aws.calls()[-1]["params"], {"AutoScalingGroupNames": []})


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
