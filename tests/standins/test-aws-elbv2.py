#!/usr/bin/python3
"""Elastic Load Balancing v2 in the AWS stand-in, through a real botocore
client: register (initial, then healthy), deregister (draining for the
deregistration delay, then gone), DescribeTargetHealth for registered and
unregistered targets, errors, and health forced through the control API."""

import copy
import http.server
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

AKID, SECRET = "AKIDSTANDINELB000001", "elb/secret"
NEW, OLD = "i-0123456789abcdef0", "i-0fedcba9876543210"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"


def poll(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


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

    def test_target_group_and_load_balancer_attributes(self):
        lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123"
        world = copy.deepcopy(self.world)
        world["target_groups"][0].update(LoadBalancerArns=[lb], HealthCheckIntervalSeconds=10,
                                         UnhealthyThresholdCount=3,
                                         deregistration_delay_seconds=120)
        world["load_balancers"] = [{"LoadBalancerArn": lb, "idle_timeout_seconds": 30}]
        self.aws.control("PUT", "state", world)
        tg = self.elb.describe_target_groups(TargetGroupArns=[TG])["TargetGroups"][0]
        self.assertEqual((tg["HealthCheckIntervalSeconds"], tg["UnhealthyThresholdCount"],
                          tg["LoadBalancerArns"], tg["HealthCheckPath"]),
                         (10, 3, [lb], "/health"))
        attrs = {a["Key"]: a["Value"] for a in self.elb.describe_target_group_attributes(
            TargetGroupArn=TG)["Attributes"]}
        self.assertEqual(attrs["deregistration_delay.timeout_seconds"], "120")
        attrs = {a["Key"]: a["Value"] for a in self.elb.describe_load_balancer_attributes(
            LoadBalancerArn=lb)["Attributes"]}
        self.assertEqual(attrs["idle_timeout.timeout_seconds"], "30")
        with self.assertRaises(ClientError) as cm:
            self.elb.describe_load_balancer_attributes(LoadBalancerArn=lb + "x")
        self.assertEqual(cm.exception.response["Error"]["Code"], "LoadBalancerNotFound")
        with self.assertRaises(ClientError) as cm:
            self.elb.describe_target_group_attributes(TargetGroupArn=TG + "x")
        self.assertEqual(cm.exception.response["Error"]["Code"], "TargetGroupNotFound")

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
        # initial_seconds is 1 in the example world.
        self.assertTrue(poll(lambda: self.health(NEW)[(NEW, 80)] == {"State": "healthy"}, 10))
        call = self.aws.calls(action="RegisterTargets")[-1]
        self.assertEqual(call["params"], {"TargetGroupArn": TG,
                                          "Targets": [{"Id": NEW, "Port": 80}]})
        self.assertEqual(call["service"], "elasticloadbalancing")

    def test_deregister_drains_then_removes(self):
        self.elb.deregister_targets(TargetGroupArn=TG, Targets=[{"Id": OLD}])
        h = self.health(OLD)[(OLD, 80)]
        self.assertEqual((h["State"], h["Reason"]), ("draining", "Target.DeregistrationInProgress"))
        # deregistration_delay_seconds is 1.
        self.assertTrue(poll(lambda: self.health(OLD)[(OLD, 80)]["State"] == "unused", 10))
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


class ProbeTest(unittest.TestCase):
    """probe: true makes the stand-in health-check targets like an ALB node."""

    def setUp(self):
        self.status = 200
        self.seen = []
        test = self

        class Health(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                test.seen.append((self.path, self.headers.get("Host"),
                                  self.headers.get("User-Agent")))
                body = b"ok\n"
                self.send_response(test.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        world = client.example_world()
        tg = world["target_groups"][0]
        tg.update(probe=True, HealthCheckIntervalSeconds=0.2, HealthyThresholdCount=2,
                  UnhealthyThresholdCount=2, Matcher={"HttpCode": "200-299"}, targets=[])
        for inst in world["instances"]:
            inst["private_ip"] = "127.0.0.1"
        self.aws = client.start_aws(state=world, credentials=[
            {"AccessKeyId": AKID, "SecretAccessKey": SECRET}])
        self.elb = client.botocore_client("elbv2", self.aws.url, AKID, SECRET)

    def tearDown(self):
        self.aws.stop()
        self.aws.tmpdir.cleanup()
        self.server.shutdown()
        self.server.server_close()

    def state(self):
        d = self.elb.describe_target_health(TargetGroupArn=TG)["TargetHealthDescriptions"][0]
        return d["TargetHealth"]

    def skipped(self):
        tg = next(t for t in self.aws.control("GET", "state")["target_groups"]
                  if t["TargetGroupArn"] == TG)
        return sum(t.get("skipped_due", 0) for t in tg["targets"] if t["Id"] == OLD)

    def wait_skipped(self, n, timeout=30):
        """Wait until the prober passed over the target n times when it was
        due: the proof no probe came, where a sleep proved nothing."""
        start = self.skipped()
        deadline = time.monotonic() + timeout
        while self.skipped() < start + n:
            if time.monotonic() > deadline:
                self.fail("the prober never passed over the target")
            time.sleep(0.05)

    def wait_state(self, wanted, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = self.state()
            if h["State"] == wanted:
                return h
            time.sleep(0.05)
        self.fail("target never became %s (last %s)" % (wanted, self.state()))

    def test_probes_follow_the_health_endpoint(self):
        self.status = 503  # not healthy yet: stays initial, then unhealthy
        self.elb.register_targets(TargetGroupArn=TG, Targets=[{"Id": OLD, "Port": self.port}])
        self.assertEqual(self.state()["State"], "initial")
        h = self.wait_state("unhealthy")
        self.assertEqual(h["Reason"], "Target.ResponseCodeMismatch")
        self.assertIn("503", h["Description"])
        self.status = 204
        self.wait_state("healthy")
        self.assertEqual(self.seen[-1], ("/health", "127.0.0.1:%d" % self.port,
                                         "ELB-HealthChecker/2.0"))
        # Closed port: connection errors count as failures.
        self.server.shutdown()
        self.server.server_close()
        h = self.wait_state("unhealthy")
        self.assertEqual(h["Reason"], "Target.FailedHealthChecks")

    def test_forced_and_draining_targets_are_not_probed(self):
        self.elb.register_targets(TargetGroupArn=TG, Targets=[{"Id": OLD, "Port": self.port}])
        self.wait_state("healthy")
        self.aws.control("POST", "target-health", {"Id": OLD, "State": "unhealthy"})
        n = len(self.seen)
        self.wait_skipped(2)
        self.assertLessEqual(len(self.seen), n + 1)  # at most one already in flight
        self.assertEqual(self.state()["State"], "unhealthy")
        # Released: the probes take over again (HealthyThresholdCount passes).
        self.aws.control("POST", "target-health", {"Id": OLD, "State": None})
        self.wait_state("healthy")
        self.assertGreater(len(self.seen), n + 1)
        self.elb.deregister_targets(TargetGroupArn=TG, Targets=[{"Id": OLD, "Port": self.port}])
        n = len(self.seen)
        self.wait_skipped(2)
        self.assertLessEqual(len(self.seen), n + 1)
        self.assertEqual(self.state()["State"], "draining")

if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
