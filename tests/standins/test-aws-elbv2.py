#!/usr/bin/python3
"""Elastic Load Balancing v2 in the AWS stand-in, through a real botocore
client: register (initial, then healthy), deregister (draining for the
deregistration delay, then gone), DescribeTargetHealth for registered and
unregistered targets, errors, and health forced through the control API."""

import copy
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

AKID, SECRET = "AKIDSTANDINELB000001", "elb/secret"
NEW, OLD = "i-0123456789abcdef0", "i-0fedcba9876543210"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"


class Elbv2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.world = client.example_world()
        cls.aws = client.start_aws(state=cls.world,
                                   credentials=[{"AccessKeyId": AKID, "SecretAccessKey": SECRET}])
        cls.elb = client.botocore_client("elbv2", cls.aws.url, AKID, SECRET)

    @classmethod
    def tearDownClass(cls):
        assert cls.aws.stop() == 0

    def setUp(self):
        self.aws.control("PUT", "state", copy.deepcopy(self.world))

    def health(self, instance_id=None):
        kw = {"Targets": [{"Id": instance_id}]} if instance_id else {}
        r = self.elb.describe_target_health(TargetGroupArn=TG, **kw)
        return {(d["Target"]["Id"], d["Target"]["Port"]): d["TargetHealth"]
                for d in r["TargetHealthDescriptions"]}

    def test_describe_all(self):
        r = self.elb.describe_target_health(TargetGroupArn=TG)
        self.assertEqual(r["TargetHealthDescriptions"], [{
            "Target": {"Id": OLD, "Port": 80}, "HealthCheckPort": "80",
            "TargetHealth": {"State": "healthy"}}])

    def test_unregistered_target(self):
        h = self.health(NEW)
        self.assertEqual(h[(NEW, 80)], {"State": "unused", "Reason": "Target.NotRegistered",
                                        "Description": "Target is not registered to the "
                                                       "target group"})

    def test_register_initial_then_healthy(self):
        self.elb.register_targets(TargetGroupArn=TG, Targets=[{"Id": NEW, "Port": 80}])
        h = self.health(NEW)[(NEW, 80)]
        self.assertEqual((h["State"], h["Reason"]), ("initial", "Elb.RegistrationInProgress"))
        time.sleep(1.3)  # initial_seconds is 1 in the example world
        self.assertEqual(self.health(NEW)[(NEW, 80)], {"State": "healthy"})
        call = self.aws.calls(action="RegisterTargets")[-1]
        self.assertEqual(call["params"], {"TargetGroupArn": TG,
                                          "Targets": [{"Id": NEW, "Port": 80}]})
        self.assertEqual(call["service"], "elasticloadbalancing")

    def test_deregister_drains_then_removes(self):
        self.elb.deregister_targets(TargetGroupArn=TG, Targets=[{"Id": OLD}])
        h = self.health(OLD)[(OLD, 80)]
        self.assertEqual((h["State"], h["Reason"]), ("draining", "Target.DeregistrationInProgress"))
        time.sleep(1.3)  # deregistration_delay_seconds is 1
        self.assertEqual(self.health(OLD)[(OLD, 80)]["State"], "unused")
        self.assertEqual(self.health(), {})

    def test_reregister_while_draining(self):
        self.elb.deregister_targets(TargetGroupArn=TG, Targets=[{"Id": OLD}])
        self.elb.register_targets(TargetGroupArn=TG, Targets=[{"Id": OLD}])
        self.assertEqual(self.health(OLD)[(OLD, 80)]["State"], "initial")

    def test_errors(self):
        other = TG.replace("web-tg", "nope-tg")
        for call in (lambda: self.elb.describe_target_health(TargetGroupArn=other),
                     lambda: self.elb.register_targets(TargetGroupArn=other,
                                                       Targets=[{"Id": NEW}]),
                     lambda: self.elb.deregister_targets(TargetGroupArn=other,
                                                         Targets=[{"Id": NEW}])):
            with self.assertRaises(ClientError) as cm:
                call()
            self.assertEqual(cm.exception.response["Error"]["Code"], "TargetGroupNotFound")
            # botocore maps the modelled error to its exception class.
            self.assertIsInstance(cm.exception, self.elb.exceptions.TargetGroupNotFoundException)
        with self.assertRaises(self.elb.exceptions.InvalidTargetException):
            self.elb.register_targets(TargetGroupArn=TG, Targets=[{"Id": "i-00000000000000000"}])

    def test_forced_health(self):
        self.aws.control("POST", "target-health", {"Id": OLD, "State": "unhealthy",
                                                   "Reason": "Target.ResponseCodeMismatch",
                                                   "Description": "Health checks failed with "
                                                                  "these codes: [503]"})
        h = self.health(OLD)[(OLD, 80)]
        self.assertEqual((h["State"], h["Reason"]), ("unhealthy", "Target.ResponseCodeMismatch"))


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
