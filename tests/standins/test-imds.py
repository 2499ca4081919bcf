#!/usr/bin/python3
"""The IMDS stand-in against the documented IMDSv2 behaviour (aws.md 3):
token PUT rules, 401/404 statuses, listings, credentials and their
rotation, the scriptable state and the down modes."""

import datetime
import http.client
import json
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"


class ImdsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(client.HERE, "example-imds-state.json")) as f:
            cls.state = json.load(f)
        cls.imds = client.start_imds(state=cls.state)
        u = urllib.parse.urlsplit(cls.imds.url)
        cls.host, cls.port = u.hostname, u.port

    @classmethod
    def tearDownClass(cls):
        status = cls.imds.stop()
        cls.imds.tmpdir.cleanup()
        assert status == 0, "imds stand-in exited %s on SIGTERM" % status

    def setUp(self):
        self.imds.control("PUT", "state", self.state)
        self.imds.control("POST", "up")
        self.imds.control("DELETE", "inject")
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=5)

    def tearDown(self):
        self.conn.close()

    def request(self, method, path, headers=None):
        self.conn.request(method, path, headers=headers or {})
        r = self.conn.getresponse()
        return r.status, r.getheaders(), r.read().decode()

    def token(self, ttl="60"):
        status, headers, body = self.request("PUT", "/latest/api/token", {TTL: ttl})
        self.assertEqual(status, 200)
        self.assertEqual(dict(headers)[TTL], ttl)
        return body

    def get(self, path, token):
        status, headers, body = self.request("GET", "/latest/meta-data/" + path, {TOKEN: token})
        return status, body

    # ---- token rules ------------------------------------------------------------

    def test_token_put_and_keepalive(self):
        t = self.token("21600")
        # Same connection (HTTP/1.1 keep-alive) for several requests.
        for _ in range(3):
            self.assertEqual(self.get("instance-id", t), (200, "i-0123456789abcdef0"))
        status, headers, _ = self.request("GET", "/latest/meta-data/instance-id", {TOKEN: t})
        remaining = int(dict(headers)[TTL])
        self.assertTrue(21590 <= remaining <= 21600, remaining)

    def test_token_ttl_bounds(self):
        for bad in (None, "0", "21601", "-5", "abc", ""):
            headers = {} if bad is None else {TTL: bad}
            status, _, _ = self.request("PUT", "/latest/api/token", headers)
            self.assertEqual(status, 400, "TTL %r" % bad)
        self.token("1")
        self.token("21600")

    def test_token_put_with_x_forwarded_for_is_forbidden(self):
        status, _, body = self.request("PUT", "/latest/api/token",
                                       {TTL: "60", "X-Forwarded-For": "203.0.113.9"})
        self.assertEqual(status, 403)

    def test_token_put_to_version_path_is_forbidden(self):
        status, _, _ = self.request("PUT", "/2021-03-23/api/token", {TTL: "60"})
        self.assertEqual(status, 403)

    def test_get_without_or_with_bad_token_is_401(self):
        status, _, _ = self.request("GET", "/latest/meta-data/instance-id")
        self.assertEqual(status, 401)
        self.assertEqual(self.get("instance-id", "AQAEAnotatoken")[0], 401)

    def test_token_expires(self):
        t = self.token("1")
        self.assertEqual(self.get("instance-id", t)[0], 200)
        time.sleep(1.3)
        self.assertEqual(self.get("instance-id", t)[0], 401)
        t2 = self.token("60")
        self.assertEqual(self.get("instance-id", t2)[0], 200)
        self.imds.control("POST", "expire-tokens")
        self.assertEqual(self.get("instance-id", t2)[0], 401)

    # ---- metadata -----------------------------------------------------------------

    def test_basic_items(self):
        t = self.token()
        expect = {
            "instance-type": "t3.micro",
            "placement/availability-zone": "us-east-1a",
            "placement/availability-zone-id": "use1-az1",
            "placement/region": "us-east-1",
            "local-ipv4": "10.0.1.17",
            "mac": "0e:49:61:0f:c3:11",
            "local-hostname": "ip-10-0-1-17.ec2.internal",
            "instance-life-cycle": "spot",
            "autoscaling/target-lifecycle-state": "InService",
            "tags/instance/aws:autoscaling:groupName": "web-asg",
            "iam/security-credentials/": "asg-agent-role",
        }
        for path, value in expect.items():
            self.assertEqual(self.get(path, t), (200, value), path)
        self.assertEqual(self.get("tags/instance", t), (200, "Name\naws:autoscaling:groupName"))

    def test_listings(self):
        t = self.token()
        status, body = self.get("", t)
        self.assertEqual(status, 200)
        lines = body.split("\n")
        for entry in ("instance-id", "placement/", "iam/", "autoscaling/", "events/", "tags/"):
            self.assertIn(entry, lines)
        self.assertNotIn("spot/", lines)  # no interruption pending
        self.assertEqual(self.get("placement/", t),
                         (200, "availability-zone\navailability-zone-id\nregion"))
        status, _, body = self.request("GET", "/latest/", {TOKEN: t})
        self.assertEqual((status, body), (200, "dynamic/\nmeta-data/"))

    def test_404s_for_unset_items(self):
        t = self.token()
        self.imds.set_state({"target_lifecycle_state": None, "tags_enabled": False})
        for path in ("spot/instance-action", "events/recommendations/rebalance",
                     "autoscaling/target-lifecycle-state", "tags/instance",
                     "tags/instance/Name", "no-such-item", "instance-id/"):
            self.assertEqual(self.get(path, t)[0], 404, path)
        status, headers, body = self.request("GET", "/latest/user-data", {TOKEN: t})
        self.assertEqual(status, 404)
        # An HTML error page, as IMDS sends, not something that looks like a value.
        self.assertEqual(dict(headers)["Content-Type"], "text/html")
        self.assertIn("<h1>404 - Not Found</h1>", body)

    def test_scripted_lifecycle_spot_rebalance(self):
        t = self.token()
        self.imds.set_state({"target_lifecycle_state": "Terminated"})
        self.assertEqual(self.get("autoscaling/target-lifecycle-state", t), (200, "Terminated"))
        action = {"action": "terminate", "time": "2026-11-28T08:22:00Z"}
        self.imds.set_state({"spot_instance_action": action,
                             "rebalance_recommendation": {"noticeTime": "2026-11-28T08:20:00Z"}})
        status, body = self.get("spot/instance-action", t)
        self.assertEqual((status, json.loads(body)), (200, action))
        self.assertEqual(self.get("spot/termination-time", t), (200, "2026-11-28T08:22:00Z"))
        status, body = self.get("events/recommendations/rebalance", t)
        self.assertEqual(json.loads(body), {"noticeTime": "2026-11-28T08:20:00Z"})
        self.imds.set_state({"spot_instance_action": None})
        self.assertEqual(self.get("spot/instance-action", t)[0], 404)

    def test_scheduled_events(self):
        t = self.token()
        status, body = self.get("events/maintenance/scheduled", t)
        events = json.loads(body)
        self.assertEqual(status, 200)
        self.assertEqual(events[0]["Code"], "system-reboot")
        self.assertEqual(events[0]["NotBefore"], "21 Jan 2019 09:00:43 GMT")
        self.imds.set_state({"scheduled_events": []})
        self.assertEqual(self.get("events/maintenance/scheduled", t), (200, "[]"))

    def test_identity_document(self):
        t = self.token()
        status, _, body = self.request("GET", "/latest/dynamic/instance-identity/document",
                                       {TOKEN: t})
        doc = json.loads(body)
        self.assertEqual(status, 200)
        self.assertEqual((doc["instanceId"], doc["region"], doc["accountId"]),
                         ("i-0123456789abcdef0", "us-east-1", "123456789012"))

    # ---- credentials ----------------------------------------------------------------

    def creds(self, t):
        status, body = self.get("iam/security-credentials/asg-agent-role", t)
        self.assertEqual(status, 200)
        return json.loads(body)

    def test_credentials_and_rotation(self):
        t = self.token()
        c = self.creds(t)
        self.assertEqual((c["Code"], c["Type"]), ("Success", "AWS-HMAC"))
        for key in ("AccessKeyId", "SecretAccessKey", "Token", "Expiration", "LastUpdated"):
            self.assertTrue(c[key], key)
        exp = datetime.datetime.fromisoformat(c["Expiration"].replace("Z", "+00:00"))
        left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        self.assertGreater(left, 3600)
        self.assertEqual(self.creds(t), c)  # stable until rotated
        rotated = self.imds.control("POST", "rotate-credentials", {"lifetime_seconds": 30})
        c2 = self.creds(t)
        self.assertNotEqual(c2["AccessKeyId"], c["AccessKeyId"])
        self.assertEqual(c2["AccessKeyId"], rotated["AccessKeyId"])
        exp2 = datetime.datetime.fromisoformat(c2["Expiration"].replace("Z", "+00:00"))
        left2 = (exp2 - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        self.assertTrue(20 < left2 <= 31, left2)
        issued = [x["AccessKeyId"] for x in self.imds.control("GET", "credentials")]
        self.assertIn(c["AccessKeyId"], issued)
        self.assertIn(c2["AccessKeyId"], issued)
        status, body = self.get("iam/info", t)
        self.assertEqual(json.loads(body)["InstanceProfileArn"],
                         "arn:aws:iam::123456789012:instance-profile/asg-agent-profile")

    def test_auto_rotation_before_expiry(self):
        t = self.token()
        self.imds.control("POST", "rotate-credentials", {"lifetime_seconds": 100})
        c1 = self.creds(t)
        self.imds.set_state({"credentials": {"auto_rotate_before_seconds": 300}})
        c2 = self.creds(t)
        self.assertNotEqual(c1["AccessKeyId"], c2["AccessKeyId"])

    def test_credentials_error_code(self):
        t = self.token()
        self.imds.set_state({"credentials": {"code": "AssumeRoleUnauthorizedAccess",
                                             "message": "EC2 cannot assume the role"}})
        c = self.creds(t)
        self.assertEqual(c["Code"], "AssumeRoleUnauthorizedAccess")
        self.assertNotIn("AccessKeyId", c)

    # ---- availability ---------------------------------------------------------------

    def test_down_modes(self):
        t = self.token()
        self.imds.control("POST", "down", {"mode": "503"})
        self.assertEqual(self.get("instance-id", t)[0], 503)
        self.imds.control("POST", "down", {"mode": "reset"})
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.get("instance-id", t)
        self.conn.close()
        self.imds.control("POST", "up")
        self.assertEqual(self.get("instance-id", t), (200, "i-0123456789abcdef0"))

    def test_down_hang(self):
        t = self.token()
        self.imds.control("POST", "down", {"mode": "hang"})
        slow = http.client.HTTPConnection(self.host, self.port, timeout=0.5)
        start = time.monotonic()
        with self.assertRaises(OSError):  # socket.timeout
            slow.request("GET", "/latest/meta-data/instance-id", headers={TOKEN: t})
            slow.getresponse()
        self.assertGreaterEqual(time.monotonic() - start, 0.45)
        slow.close()
        self.imds.control("POST", "up")
        self.assertEqual(self.get("instance-id", t), (200, "i-0123456789abcdef0"))

    def test_head_and_other_methods(self):
        t = self.token()
        status, headers, body = self.request("HEAD", "/latest/meta-data/instance-id", {TOKEN: t})
        self.assertEqual((status, body, dict(headers)["Content-Length"]), (200, "", "19"))
        status, _, _ = self.request("POST", "/latest/meta-data/instance-id", {TOKEN: t})
        self.assertEqual(status, 405)

    def test_request_log(self):
        self.imds.control("DELETE", "log")
        t = self.token()
        self.get("instance-id", t)
        self.request("GET", "/latest/meta-data/instance-id")
        log = [json.loads(line) for line in self.imds.control("GET", "log").splitlines()]
        self.assertEqual([(e["method"], e["path"], e["status"]) for e in log], [
            ("PUT", "/latest/api/token", 200),
            ("GET", "/latest/meta-data/instance-id", 200),
            ("GET", "/latest/meta-data/instance-id", 401)])


    def log(self):
        return [json.loads(line) for line in self.imds.control("GET", "log").splitlines()]

    def test_request_logged_on_arrival_even_if_client_timed_out(self):
        """The log once had only answered requests: one whose client gave up
        never appeared.  Now it is there from its arrival (status None while
        held), and its outcome is filled in, flagged client_gone."""
        t = self.token()
        self.imds.control("DELETE", "log")
        self.imds.control("POST", "inject", {"path": "instance-id$", "delay_ms": 1500,
                                             "status": 200, "body": "late", "count": 1})
        impatient = http.client.HTTPConnection(self.host, self.port, timeout=0.3)
        with self.assertRaises(OSError):  # socket.timeout
            impatient.request("GET", "/latest/meta-data/instance-id", headers={TOKEN: t})
            impatient.getresponse()
        impatient.close()
        held = self.log()
        self.assertEqual([(e["path"], e["status"]) for e in held],
                         [("/latest/meta-data/instance-id", None)])
        done = client.wait_for(lambda: [e for e in self.log() if e["status"] is not None],
                               10, "the held request's outcome")
        self.assertEqual((done[0]["status"], done[0]["client_gone"]), (200, True))

    def test_inject_status_body_truncate_reset(self):
        t = self.token()
        rules = [{"path": "instance-id$", "status": 500, "count": 1},
                 {"path": "instance-id$", "status": 429, "count": 1},
                 {"path": "instance-type$", "body": "not json {", "count": 1},
                 {"path": "instance-type$", "body": "0123456789", "truncate": 4, "count": 1},
                 {"path": "local-ipv4$", "body_bytes": 100000, "count": 1}]
        self.imds.control("POST", "inject", rules)
        self.assertEqual(self.get("instance-id", t)[0], 500)
        self.assertEqual(self.get("instance-id", t)[0], 429)
        self.assertEqual(self.get("instance-id", t), (200, "i-0123456789abcdef0"))
        self.assertEqual(self.get("instance-type", t), (200, "not json {"))
        with self.assertRaises(http.client.IncompleteRead):
            self.get("instance-type", t)
        self.conn.close()
        self.assertEqual(len(self.get("local-ipv4", t)[1]), 100000)
        self.imds.control("POST", "inject", {"method": "GET", "reset": True, "count": 1})
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected)):
            self.get("instance-id", t)
        self.conn.close()
        self.assertEqual(self.get("instance-id", t)[0], 200)
        self.assertEqual(self.imds.control("GET", "inject")["rules"], [])

    def test_inject_token_expires_mid_call(self):
        t = self.token()
        self.imds.control("POST", "inject", {"path": "instance-id$", "expire_tokens": True,
                                             "count": 1})
        self.assertEqual(self.get("instance-id", t)[0], 401)
        self.assertEqual(self.get("instance-id", self.token())[0], 200)

    def test_inject_rejects_unknown_keys(self):
        with self.assertRaises(RuntimeError):
            self.imds.control("POST", "inject", {"path": "x", "stauts": 500})


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
