#!/usr/bin/python3
"""Auto Scaling in the AWS stand-in, through real botocore clients: the
describe calls and their XML, lifecycle hooks on launch and termination
(with the deregistration wait, heartbeats, timeouts and ABANDON), the
"No active Lifecycle Action" error, SetInstanceHealth, pagination, the
target-lifecycle-state mirrored into the IMDS stand-in, standby in and out
and scale-in protection (aws.md section 11)."""

import copy
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

AKID, SECRET = "AKIDSTANDINASG000001", "asg/secret"
NEW, OLD = "i-0123456789abcdef0", "i-0fedcba9876543210"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


class AutoScalingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.imds = client.start_imds()
        cls.world = client.example_world()
        cls.aws = client.start_aws(state=cls.world,
                                   credentials=[{"AccessKeyId": AKID, "SecretAccessKey": SECRET}])
        cls.asg = client.botocore_client("autoscaling", cls.aws.url, AKID, SECRET)

    @classmethod
    def tearDownClass(cls):
        assert cls.aws.stop() == 0
        assert cls.imds.stop() == 0

    def setUp(self):
        self.aws.control("PUT", "state", copy.deepcopy(self.world))
        self.imds.set_state({"target_lifecycle_state": None})
        self.aws.control("DELETE", "calls")

    def instance(self, instance_id):
        return next(i for i in self.aws.state()["instances"] if i["InstanceId"] == instance_id)

    def lifecycle(self, instance_id):
        r = self.asg.describe_auto_scaling_instances(InstanceIds=[instance_id])
        found = r["AutoScalingInstances"]
        return found[0]["LifecycleState"] if found else None

    def complete(self, hook="web-launch", instance_id=NEW, result="CONTINUE", **kw):
        return self.asg.complete_lifecycle_action(
            LifecycleHookName=hook, AutoScalingGroupName="web-asg",
            LifecycleActionResult=result, InstanceId=instance_id, **kw)

    def imds_target_state(self):
        token = self.imds.token()
        return self.imds.get("meta-data/autoscaling/target-lifecycle-state", token)

    # ---- describe -------------------------------------------------------------------

    def test_describe_auto_scaling_instances(self):
        r = self.asg.describe_auto_scaling_instances(InstanceIds=[NEW, "i-00000000000000000"])
        self.assertEqual(len(r["AutoScalingInstances"]), 1)
        d = r["AutoScalingInstances"][0]
        self.assertEqual((d["InstanceId"], d["AutoScalingGroupName"], d["LifecycleState"],
                          d["HealthStatus"], d["AvailabilityZone"], d["ProtectedFromScaleIn"]),
                         (NEW, "web-asg", "Pending:Wait", "HEALTHY", "us-east-1a", False))
        everything = self.asg.describe_auto_scaling_instances()["AutoScalingInstances"]
        self.assertEqual({d["InstanceId"] for d in everything}, {NEW, OLD})

    def test_describe_auto_scaling_groups(self):
        r = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web-asg"])
        g = r["AutoScalingGroups"][0]
        self.assertEqual(g["TargetGroupARNs"], [TG])
        self.assertEqual((g["MinSize"], g["MaxSize"], g["DesiredCapacity"],
                          g["HealthCheckType"]), (1, 4, 2, "ELB"))
        self.assertEqual({i["InstanceId"]: i["HealthStatus"] for i in g["Instances"]},
                         {NEW: "Healthy", OLD: "Healthy"})
        self.assertTrue(g["AutoScalingGroupARN"].startswith("arn:aws:autoscaling:us-east-1:"))
        self.assertEqual(self.asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=["nope"])["AutoScalingGroups"], [])
        by_tag = self.asg.describe_auto_scaling_groups(
            Filters=[{"Name": "tag:env", "Values": ["test"]}])["AutoScalingGroups"]
        self.assertEqual([g["AutoScalingGroupName"] for g in by_tag], ["web-asg"])
        self.assertEqual(self.asg.describe_auto_scaling_groups(
            Filters=[{"Name": "tag:env", "Values": ["prod"]}])["AutoScalingGroups"], [])

    def test_pagination(self):
        r = self.asg.describe_auto_scaling_instances(MaxRecords=1)
        self.assertEqual(len(r["AutoScalingInstances"]), 1)
        r2 = self.asg.describe_auto_scaling_instances(MaxRecords=1, NextToken=r["NextToken"])
        self.assertNotIn("NextToken", r2)
        self.assertNotEqual(r["AutoScalingInstances"][0]["InstanceId"],
                            r2["AutoScalingInstances"][0]["InstanceId"])
        with self.assertRaises(ClientError) as cm:
            self.asg.describe_auto_scaling_instances(NextToken="garbage!")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidNextToken")
        with self.assertRaises(ClientError) as cm:
            self.asg.describe_auto_scaling_instances(MaxRecords=51)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")

    def test_describe_lifecycle_hooks(self):
        hooks = self.asg.describe_lifecycle_hooks(AutoScalingGroupName="web-asg")["LifecycleHooks"]
        self.assertEqual({h["LifecycleHookName"]: h["LifecycleTransition"] for h in hooks}, {
            "web-launch": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "web-terminate": "autoscaling:EC2_INSTANCE_TERMINATING"})
        launch = next(h for h in hooks if h["LifecycleHookName"] == "web-launch")
        self.assertEqual((launch["HeartbeatTimeout"], launch["GlobalTimeout"],
                          launch["DefaultResult"]), (300, 30000, "ABANDON"))
        only = self.asg.describe_lifecycle_hooks(AutoScalingGroupName="web-asg",
                                                 LifecycleHookNames=["web-terminate"])
        self.assertEqual(len(only["LifecycleHooks"]), 1)
        with self.assertRaises(ClientError) as cm:
            self.asg.describe_lifecycle_hooks(AutoScalingGroupName="no-such-group")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")

    # ---- lifecycle --------------------------------------------------------------------

    def test_complete_launch_hook_once(self):
        self.complete()
        self.assertEqual(self.lifecycle(NEW), "InService")
        history = [h["state"] for h in self.instance(NEW)["history"]]
        self.assertEqual(history, ["Pending:Wait", "Pending:Proceed", "InService"])
        with self.assertRaises(ClientError) as cm:
            self.complete()
        err = cm.exception.response["Error"]
        self.assertEqual((err["Code"], err["Message"]),
                         ("ValidationError",
                          "No active Lifecycle Action found with instance ID %s" % NEW))
        done = self.aws.state()["completed_lifecycle_actions"]
        self.assertEqual([(a["InstanceId"], a["result"], a["by"]) for a in done],
                         [(NEW, "CONTINUE", "CompleteLifecycleAction")])
        calls = self.aws.calls(action="CompleteLifecycleAction")
        self.assertEqual([(c["status"], c["error"]) for c in calls],
                         [(200, None), (400, "ValidationError")])
        self.assertEqual(calls[0]["params"]["InstanceId"], NEW)
        # Registered with the target group on the way to InService.
        elb = client.botocore_client("elbv2", self.aws.url, AKID, SECRET)
        ids = [d["Target"]["Id"] for d in
               elb.describe_target_health(TargetGroupArn=TG)["TargetHealthDescriptions"]]
        self.assertIn(NEW, ids)

    def test_complete_with_token(self):
        action = next(a for a in self.aws.state()["lifecycle_actions"] if a["InstanceId"] == NEW)
        with self.assertRaises(ClientError):
            self.asg.complete_lifecycle_action(
                LifecycleHookName="web-launch", AutoScalingGroupName="web-asg",
                LifecycleActionResult="CONTINUE",
                LifecycleActionToken="00000000-0000-0000-0000-000000000000")
        self.asg.complete_lifecycle_action(
            LifecycleHookName="web-launch", AutoScalingGroupName="web-asg",
            LifecycleActionResult="CONTINUE", LifecycleActionToken=action["LifecycleActionToken"])
        self.assertEqual(self.lifecycle(NEW), "InService")

    def test_wrong_hook_or_group(self):
        with self.assertRaises(ClientError):
            self.complete(hook="web-terminate")
        with self.assertRaises(ClientError):
            self.asg.complete_lifecycle_action(
                LifecycleHookName="web-launch", AutoScalingGroupName="other-asg",
                LifecycleActionResult="CONTINUE", InstanceId=NEW)
        self.assertEqual(self.lifecycle(NEW), "Pending:Wait")

    def test_abandon_on_launch_terminates(self):
        self.complete(result="ABANDON")
        self.assertIsNone(self.lifecycle(NEW))  # gone from the group
        self.assertEqual(self.instance(NEW)["LifecycleState"], "Terminated")

    def test_scale_in_drains_then_waits_on_hook(self):
        elb = client.botocore_client("elbv2", self.aws.url, AKID, SECRET)
        self.aws.control("POST", "terminate", {"InstanceId": OLD})
        self.assertEqual(self.lifecycle(OLD), "Terminating")
        health = elb.describe_target_health(TargetGroupArn=TG, Targets=[{"Id": OLD}])
        state = health["TargetHealthDescriptions"][0]["TargetHealth"]["State"]
        # Draining for the 1 s deregistration delay; a loaded machine may
        # look only after it ended, and then the instance has moved on.
        self.assertIn(state, ("draining", "unused"))
        if state == "unused":
            self.assertNotEqual(self.lifecycle(OLD), "Terminating")
        # deregistration_delay_seconds is 1 in the example world.
        wait_for(lambda: self.lifecycle(OLD) == "Terminating:Wait", 15, "Terminating:Wait")
        self.asg.record_lifecycle_action_heartbeat(
            LifecycleHookName="web-terminate", AutoScalingGroupName="web-asg", InstanceId=OLD)
        action = next(a for a in self.aws.state()["lifecycle_actions"] if a["InstanceId"] == OLD)
        self.assertEqual(action["heartbeats"], 1)
        self.assertAlmostEqual(action["deadline"] - time.time(), 300, delta=5)
        self.complete(hook="web-terminate", instance_id=OLD)
        self.assertIsNone(self.lifecycle(OLD))
        history = [h["state"] for h in self.instance(OLD)["history"]]
        self.assertEqual(history[-4:], ["Terminating", "Terminating:Wait",
                                        "Terminating:Proceed", "Terminated"])

    def test_heartbeat_without_action(self):
        with self.assertRaises(ClientError) as cm:
            self.asg.record_lifecycle_action_heartbeat(
                LifecycleHookName="web-terminate", AutoScalingGroupName="web-asg",
                InstanceId=OLD)
        self.assertIn("No active Lifecycle Action found", cm.exception.response["Error"]["Message"])

    def test_hook_timeout_applies_default_result(self):
        world = copy.deepcopy(self.world)
        world["lifecycle_hooks"][0]["HeartbeatTimeout"] = 1  # web-launch, ABANDON
        world["lifecycle_hooks"][1]["HeartbeatTimeout"] = 3  # web-terminate, CONTINUE
        self.aws.control("PUT", "state", world)
        wait_for(lambda: self.instance(NEW)["LifecycleState"] == "Terminated", 15, "ABANDON")
        done = self.aws.state()["completed_lifecycle_actions"]
        self.assertEqual([(a["InstanceId"], a["result"], a["by"]) for a in done],
                         [(NEW, "ABANDON", "timeout")])
        # A heartbeat restarts the timeout.
        self.aws.control("POST", "terminate", {"InstanceId": OLD})
        wait_for(lambda: self.instance(OLD)["LifecycleState"] == "Terminating:Wait", 15, "wait")
        for _ in range(9):  # 4.5 s of heartbeats against a 3 s timeout
            time.sleep(0.5)
            self.asg.record_lifecycle_action_heartbeat(
                LifecycleHookName="web-terminate", AutoScalingGroupName="web-asg",
                InstanceId=OLD)
        self.assertEqual(self.instance(OLD)["LifecycleState"], "Terminating:Wait")
        wait_for(lambda: self.instance(OLD)["LifecycleState"] == "Terminated", 15, "CONTINUE")

    def test_launch_mirrors_imds_target_state(self):
        self.assertEqual(self.imds_target_state()[0], 404)
        self.aws.control("POST", "launch", {"InstanceId": "i-0aaaaaaaaaaaaaaa1",
                                            "AutoScalingGroupName": "web-asg",
                                            "imds_url": self.imds.url})
        self.assertEqual(self.lifecycle("i-0aaaaaaaaaaaaaaa1"), "Pending:Wait")
        wait_for(lambda: self.imds_target_state() == (200, "InService"), 15, "IMDS InService")
        self.aws.control("POST", "terminate", {"InstanceId": "i-0aaaaaaaaaaaaaaa1"})
        wait_for(lambda: self.imds_target_state() == (200, "Terminated"), 15, "IMDS Terminated")

    def test_loaded_wait_state_mirrors_imds(self):
        world = copy.deepcopy(self.world)
        world["instances"][0]["imds_url"] = self.imds.url  # NEW, Pending:Wait
        self.aws.control("PUT", "state", world)
        wait_for(lambda: self.imds_target_state() == (200, "InService"), 15, "IMDS InService")
        self.aws.control("POST", "terminate", {"InstanceId": NEW})
        wait_for(lambda: self.imds_target_state() == (200, "Terminated"), 15, "IMDS Terminated")
        self.assertNotIn("imds_notify_error", self.instance(NEW))

    # ---- standby and scale-in protection (aws.md section 11) ------------------

    def tg_state(self, elb, instance_id):
        r = elb.describe_target_health(TargetGroupArn=TG, Targets=[{"Id": instance_id}])
        return r["TargetHealthDescriptions"][0]["TargetHealth"]["State"]

    def group(self):
        return self.asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=["web-asg"])["AutoScalingGroups"][0]

    def test_standby_in_and_out(self):
        elb = client.botocore_client("elbv2", self.aws.url, AKID, SECRET)
        world = copy.deepcopy(self.world)
        world["instances"][1]["imds_url"] = self.imds.url  # OLD, InService
        self.aws.control("PUT", "state", world)
        wait_for(lambda: self.imds_target_state() == (200, "InService"), 15, "IMDS InService")
        r = self.asg.enter_standby(AutoScalingGroupName="web-asg", InstanceIds=[OLD],
                                   ShouldDecrementDesiredCapacity=False)
        self.assertEqual(len(r["Activities"]), 1)
        self.assertEqual(r["Activities"][0]["StatusCode"], "InProgress")
        self.assertIn("Moving EC2 instance to Standby: " + OLD, r["Activities"][0]["Description"])
        # Deregistered through the 1 s deregistration delay, then Standby.
        self.assertIn(self.lifecycle(OLD), ("EnteringStandby", "Standby"))
        wait_for(lambda: self.imds_target_state() == (200, "Standby"), 15, "IMDS Standby")
        wait_for(lambda: self.lifecycle(OLD) == "Standby", 15, "Standby")
        self.assertEqual(self.tg_state(elb, OLD), "unused")
        self.assertEqual(self.group()["DesiredCapacity"], 2)  # kept: a replacement launches
        r = self.asg.exit_standby(AutoScalingGroupName="web-asg", InstanceIds=[OLD])
        self.assertIn("Removing EC2 instance from Standby", r["Activities"][0]["Description"])
        self.assertEqual(self.group()["DesiredCapacity"], 3)
        self.assertEqual(self.lifecycle(OLD), "Pending")
        self.assertIn(self.tg_state(elb, OLD), ("initial", "healthy"))
        wait_for(lambda: self.imds_target_state() == (200, "InService"), 15, "IMDS InService")
        wait_for(lambda: self.lifecycle(OLD) == "InService", 15, "InService")
        history = [h["state"] for h in self.instance(OLD)["history"]]
        self.assertEqual(history[-4:], ["EnteringStandby", "Standby", "Pending", "InService"])
        # Hooks do not fire on standby in or out (aws.md section 2).
        self.assertEqual([a for a in self.aws.state()["lifecycle_actions"]
                          if a["InstanceId"] == OLD], [])

    def test_standby_decrement_respects_min_size(self):
        world = copy.deepcopy(self.world)
        world["auto_scaling_groups"][0]["DesiredCapacity"] = 1  # MinSize 1
        self.aws.control("PUT", "state", world)
        with self.assertRaises(ClientError) as cm:
            self.asg.enter_standby(AutoScalingGroupName="web-asg", InstanceIds=[OLD],
                                   ShouldDecrementDesiredCapacity=True)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], "ValidationError")
        self.assertIn("min-size=1", err["Message"])
        self.assertEqual(self.lifecycle(OLD), "InService")
        world["auto_scaling_groups"][0]["DesiredCapacity"] = 2
        self.aws.control("PUT", "state", world)
        self.asg.enter_standby(AutoScalingGroupName="web-asg", InstanceIds=[OLD],
                               ShouldDecrementDesiredCapacity=True)
        self.assertEqual(self.group()["DesiredCapacity"], 1)

    def test_standby_state_errors(self):
        with self.assertRaises(ClientError) as cm:  # NEW is Pending:Wait
            self.asg.enter_standby(AutoScalingGroupName="web-asg", InstanceIds=[NEW],
                                   ShouldDecrementDesiredCapacity=False)
        self.assertIn("is not in InService", cm.exception.response["Error"]["Message"])
        with self.assertRaises(ClientError) as cm:
            self.asg.exit_standby(AutoScalingGroupName="web-asg", InstanceIds=[OLD])
        self.assertIn("is not in Standby", cm.exception.response["Error"]["Message"])
        with self.assertRaises(ClientError) as cm:
            self.asg.enter_standby(AutoScalingGroupName="web-asg",
                                   InstanceIds=["i-00000000000000000"],
                                   ShouldDecrementDesiredCapacity=False)
        self.assertIn("is not part of Auto Scaling group web-asg",
                      cm.exception.response["Error"]["Message"])
        with self.assertRaises(ClientError) as cm:
            self.asg.enter_standby(AutoScalingGroupName="nope", InstanceIds=[OLD],
                                   ShouldDecrementDesiredCapacity=False)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")

    def test_terminate_in_standby_runs_hook(self):
        self.asg.enter_standby(AutoScalingGroupName="web-asg", InstanceIds=[OLD],
                               ShouldDecrementDesiredCapacity=False)
        wait_for(lambda: self.lifecycle(OLD) == "Standby", 15, "Standby")
        self.aws.control("POST", "terminate", {"InstanceId": OLD})
        wait_for(lambda: self.lifecycle(OLD) == "Terminating:Wait", 15, "Terminating:Wait")
        self.complete(hook="web-terminate", instance_id=OLD)
        self.assertIsNone(self.lifecycle(OLD))

    def test_set_instance_protection(self):
        def protected():
            r = self.asg.describe_auto_scaling_instances(InstanceIds=[OLD])
            return r["AutoScalingInstances"][0]["ProtectedFromScaleIn"]
        self.assertFalse(protected())
        self.asg.set_instance_protection(AutoScalingGroupName="web-asg", InstanceIds=[OLD],
                                         ProtectedFromScaleIn=True)
        self.assertTrue(protected())
        self.asg.set_instance_protection(AutoScalingGroupName="web-asg", InstanceIds=[OLD],
                                         ProtectedFromScaleIn=False)
        self.assertFalse(protected())
        with self.assertRaises(ClientError) as cm:
            self.asg.set_instance_protection(AutoScalingGroupName="web-asg",
                                             InstanceIds=["i-00000000000000000"],
                                             ProtectedFromScaleIn=True)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        calls = self.aws.control("GET", "calls")
        sent = [c["params"] for c in calls if c["action"] == "SetInstanceProtection"]
        self.assertEqual(sent[0], {"AutoScalingGroupName": "web-asg", "InstanceIds": [OLD],
                                   "ProtectedFromScaleIn": True})

    def test_set_instance_health(self):
        self.complete()
        self.asg.set_instance_health(InstanceId=NEW, HealthStatus="Unhealthy",
                                     ShouldRespectGracePeriod=False)
        # An unhealthy instance is replaced: termination starts.
        self.assertTrue(self.instance(NEW)["LifecycleState"].startswith("Terminating"))
        self.assertEqual(self.instance(NEW)["termination_cause"], "unhealthy")
        with self.assertRaises(ClientError) as cm:
            self.asg.set_instance_health(InstanceId="i-00000000000000000", HealthStatus="Healthy")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationError")
        with self.assertRaises(ClientError):
            self.asg.set_instance_health(InstanceId=OLD, HealthStatus="Sick")

    def test_set_instance_health_respects_grace_period(self):
        self.aws.control("POST", "state", {"auto_scaling_groups": [
            dict(self.world["auto_scaling_groups"][0], HealthCheckGracePeriod=300)]})
        self.complete()
        self.asg.set_instance_health(InstanceId=NEW, HealthStatus="Unhealthy")
        self.assertEqual(self.instance(NEW)["LifecycleState"], "InService")
        self.assertEqual(self.instance(NEW)["HealthStatus"], "Healthy")
        self.asg.set_instance_health(InstanceId=NEW, HealthStatus="Unhealthy",
                                     ShouldRespectGracePeriod=False)
        self.assertEqual(self.instance(NEW)["HealthStatus"], "Unhealthy")

    def test_record_file(self):
        path = self.aws.path("record.jsonl")
        with client.start_aws(state=self.world, record=path,
                              credentials=[{"AccessKeyId": AKID, "SecretAccessKey": SECRET}]) as a:
            c = client.botocore_client("autoscaling", a.url, AKID, SECRET)
            c.describe_auto_scaling_groups()
            with self.assertRaises(ClientError):
                c.describe_lifecycle_hooks(AutoScalingGroupName="nope")
            self.assertEqual(a.stop(), 0)
        with open(path) as f:
            raw = [json.loads(line) for line in f]
        # A call is written when it arrives (status null) and again with its
        # outcome: the last line of each request_id is the call.
        self.assertEqual(raw[0]["status"], None)
        final = {}
        for r in raw:
            final[r["request_id"]] = r
        lines = list(final.values())
        self.assertEqual([(r["action"], r["service"], r["status"], r["error"]) for r in lines], [
            ("DescribeAutoScalingGroups", "autoscaling", 200, None),
            ("DescribeLifecycleHooks", "autoscaling", 400, "ValidationError")])
        self.assertEqual(lines[1]["params"], {"AutoScalingGroupName": "nope"})
        self.assertTrue(lines[0]["time"].endswith("Z"))


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
