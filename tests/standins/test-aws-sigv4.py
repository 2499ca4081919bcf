#!/usr/bin/python3
"""Authentication in the AWS stand-in: botocore-signed requests pass, wrong
secrets, unknown keys, bad or expired session tokens, wrong regions,
tampered bodies and skewed clocks fail the way AWS answers them; keys issued
by the IMDS stand-in are accepted.  The verifier itself is checked against the
official SigV4 test suite."""

import datetime
import email.utils
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402
import query_protocol  # noqa: E402
import sigv4_verify  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

AKID, SECRET = "AKIDSTANDINSIGV40001", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TMP_AKID, TMP_SECRET, TMP_TOKEN = "ASIASTANDINSIGV40002", "tmp/secret", "FwoGZXIvYXdzEXAMPLETOKEN=="
SUITE = "/work/shared/oracles/sigv4-suite"


def error_code(e):
    return e.response["Error"]["Code"]


class SigV4Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.imds = client.start_imds()
        future = (datetime.datetime.now(datetime.timezone.utc)
                  + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cls.aws = client.start_aws(
            state=client.example_world(),
            credentials=[{"AccessKeyId": AKID, "SecretAccessKey": SECRET},
                         {"AccessKeyId": TMP_AKID, "SecretAccessKey": TMP_SECRET,
                          "SessionToken": TMP_TOKEN, "Expiration": future}],
            trust_imds=[cls.imds.url])

    @classmethod
    def tearDownClass(cls):
        assert cls.aws.stop() == 0
        assert cls.imds.stop() == 0

    def setUp(self):
        self.aws.control("POST", "clock", {"skew_seconds": 0})

    def client(self, service, akid=AKID, secret=SECRET, token=None, region="us-east-1"):
        return client.botocore_client(service, self.aws.url, akid, secret, token, region)

    def last_call(self):
        return self.aws.calls()[-1]

    def test_each_service_accepts_botocore_signature(self):
        self.client("cloudwatch").put_metric_data(
            Namespace="Asg/Test", MetricData=[{"MetricName": "m", "Value": 1.0}])
        self.assertEqual(self.last_call()["service"], "monitoring")
        self.client("autoscaling").describe_auto_scaling_groups()
        self.assertEqual(self.last_call()["service"], "autoscaling")
        self.client("elbv2").describe_target_health(
            TargetGroupArn=client.example_world()["target_groups"][0]["TargetGroupArn"])
        call = self.last_call()
        self.assertEqual((call["service"], call["status"], call["access_key_id"]),
                         ("elasticloadbalancing", 200, AKID))

    def test_wrong_secret(self):
        with self.assertRaises(ClientError) as cm:
            self.client("autoscaling", secret="not-the-secret").describe_auto_scaling_groups()
        self.assertEqual(error_code(cm.exception), "SignatureDoesNotMatch")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        self.assertIn("The Canonical String for this request should have been",
                      cm.exception.response["Error"]["Message"])
        call = self.last_call()
        self.assertEqual((call["action"], call["status"], call["error"]),
                         ("DescribeAutoScalingGroups", 403, "SignatureDoesNotMatch"))

    def test_unknown_key(self):
        with self.assertRaises(ClientError) as cm:
            self.client("cloudwatch", akid="AKIDUNKNOWN000000000").put_metric_data(
                Namespace="x", MetricData=[{"MetricName": "m", "Value": 1.0}])
        self.assertEqual(error_code(cm.exception), "InvalidClientTokenId")

    def test_wrong_region_scope(self):
        with self.assertRaises(ClientError) as cm:
            self.client("autoscaling", region="eu-west-1").describe_auto_scaling_groups()
        self.assertEqual(error_code(cm.exception), "SignatureDoesNotMatch")
        self.assertIn("region", cm.exception.response["Error"]["Message"])

    def test_session_token(self):
        self.client("autoscaling", TMP_AKID, TMP_SECRET, TMP_TOKEN).describe_auto_scaling_groups()
        with self.assertRaises(ClientError) as cm:
            self.client("autoscaling", TMP_AKID, TMP_SECRET).describe_auto_scaling_groups()
        self.assertEqual(error_code(cm.exception), "InvalidClientTokenId")
        with self.assertRaises(ClientError) as cm:
            self.client("autoscaling", TMP_AKID, TMP_SECRET, "other").describe_auto_scaling_groups()
        self.assertEqual(error_code(cm.exception), "InvalidClientTokenId")

    def test_unsigned_amz_headers_are_refused(self):
        """botocore always signs X-Amz-Security-Token (and every x-amz-*
        header); the stand-in once checked only the headers the client chose
        to sign, so a token added after signing passed."""
        body = {"Action": "DescribeAutoScalingGroups", "Version": "2011-01-01"}
        status, _, text = client.signed_request(self.aws.url, "autoscaling", TMP_AKID,
                                                TMP_SECRET, body, token=TMP_TOKEN)
        self.assertEqual(status, 200, text)
        status, _, text = client.signed_request(
            self.aws.url, "autoscaling", TMP_AKID, TMP_SECRET, body,
            unsigned_headers={"X-Amz-Security-Token": TMP_TOKEN})
        self.assertEqual(status, 403, text)
        _, code, message, _ = client.parse_error(text)
        self.assertEqual(code, "AccessDenied")
        self.assertIn("x-amz-security-token", message)
        # Any other x-amz-* header sent unsigned too.
        status, _, text = client.signed_request(
            self.aws.url, "autoscaling", AKID, SECRET, body,
            unsigned_headers={"X-Amz-Content-SHA256": "e3b0c44298fc1c149afbf4c8996fb924"
                                                      "27ae41e4649b934ca495991b7852b855"})
        self.assertEqual((status, client.parse_error(text)[1]), (403, "AccessDenied"))

    def test_expired_temporary_credentials(self):
        past = (datetime.datetime.now(datetime.timezone.utc)
                - datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.aws.add_credentials({"AccessKeyId": "ASIAEXPIREDKEY000001", "SecretAccessKey": "s",
                                  "SessionToken": "t", "Expiration": past})
        with self.assertRaises(ClientError) as cm:
            self.client("autoscaling", "ASIAEXPIREDKEY000001", "s", "t") \
                .describe_auto_scaling_groups()
        self.assertEqual(error_code(cm.exception), "ExpiredToken")

    def test_credentials_added_at_runtime(self):
        c = self.client("autoscaling", "AKIDADDEDLATER000001", "added")
        with self.assertRaises(ClientError):
            c.describe_auto_scaling_groups()
        self.aws.add_credentials({"AccessKeyId": "AKIDADDEDLATER000001",
                                  "SecretAccessKey": "added"})
        c.describe_auto_scaling_groups()

    def test_imds_issued_credentials(self):
        token = self.imds.token()
        status, body = self.imds.get("meta-data/iam/security-credentials/asg-agent-role", token)
        c = json.loads(body)
        self.client("cloudwatch", c["AccessKeyId"], c["SecretAccessKey"], c["Token"]) \
            .put_metric_data(Namespace="Asg/Test", MetricData=[{"MetricName": "m", "Value": 2.0}])
        # Rotation to a key that expires at once: the old key still works
        # until its own expiry, the new one is rejected as expired.
        short = self.imds.control("POST", "rotate-credentials", {"lifetime_seconds": 1})
        time.sleep(1.2)
        self.client("cloudwatch", c["AccessKeyId"], c["SecretAccessKey"], c["Token"]) \
            .put_metric_data(Namespace="Asg/Test", MetricData=[{"MetricName": "m", "Value": 3.0}])
        with self.assertRaises(ClientError) as cm:
            self.client("cloudwatch", short["AccessKeyId"], short["SecretAccessKey"],
                        short["Token"]).put_metric_data(
                Namespace="Asg/Test", MetricData=[{"MetricName": "m", "Value": 4.0}])
        self.assertEqual(error_code(cm.exception), "ExpiredToken")

    def test_tampered_body(self):
        body = {"Action": "DescribeAutoScalingGroups", "Version": "2011-01-01"}
        status, _, text = client.signed_request(
            self.aws.url, "autoscaling", AKID, SECRET, body,
            tamper=lambda b: b.replace(b"Groups", b"Instances"))
        self.assertEqual(status, 403)
        self.assertEqual(client.parse_error(text)[:2], ("Sender", "SignatureDoesNotMatch"))
        status, _, text = client.signed_request(self.aws.url, "autoscaling", AKID, SECRET, body)
        self.assertEqual(status, 200, text)

    def test_missing_authorization(self):
        u = self.aws.url.split("//")[1]
        conn = http.client.HTTPConnection(u, timeout=5)
        conn.request("POST", "/", body="Action=DescribeAutoScalingGroups&Version=2011-01-01",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        text = r.read().decode()
        conn.close()
        self.assertEqual(r.status, 403)
        self.assertEqual(client.parse_error(text)[1], "MissingAuthenticationToken")

    def test_curl_aws_sigv4(self):
        """libcurl's own signer (curl --aws-sigv4, the library the agent uses)
        as a second, independent client."""
        if shutil.which("curl") is None:
            self.skipTest("no curl")
        body = ("Action=PutMetricData&Version=2010-08-01&Namespace=Asg%2FCurl"
                "&MetricData.member.1.MetricName=cpu&MetricData.member.1.Value=5")

        def curl(secret):
            return subprocess.run(
                ["curl", "-sS", "--aws-sigv4", "aws:amz:us-east-1:monitoring",
                 "--user", "%s:%s" % (AKID, secret), "-H",
                 "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                 "--data-binary", body, "-o", "/dev/null", "-w", "%{http_code}",
                 self.aws.url + "/"], capture_output=True, text=True, timeout=20).stdout
        self.assertEqual(curl(SECRET), "200")
        self.assertEqual(self.last_call()["params"]["Namespace"], "Asg/Curl")
        self.assertEqual(curl("wrong"), "403")
        self.assertEqual(self.last_call()["error"], "SignatureDoesNotMatch")

    def test_clock_skew(self):
        body = {"Action": "DescribeAutoScalingGroups", "Version": "2011-01-01"}
        self.aws.control("POST", "clock", {"skew_seconds": 900})
        status, headers, text = client.signed_request(self.aws.url, "autoscaling", AKID,
                                                      SECRET, body)
        self.assertEqual(status, 403)
        _, code, message, _ = client.parse_error(text)
        self.assertEqual(code, "SignatureDoesNotMatch")
        self.assertTrue(message.startswith("Signature expired:"), message)
        server_time = email.utils.parsedate_to_datetime(headers["date"])
        offset = (server_time - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        self.assertTrue(880 < offset < 920, offset)
        # A client that corrects its clock from Date gets through.
        corrected = datetime.datetime.utcnow() + datetime.timedelta(seconds=offset)
        status, _, text = client.signed_request(self.aws.url, "autoscaling", AKID, SECRET,
                                                body, when=corrected)
        self.assertEqual(status, 200, text)
        # Also through the inject endpoint, with the other error code.
        self.aws.inject({"skew_seconds": -900, "skew_error": "RequestTimeTooSkewed"})
        with self.assertRaises(ClientError) as cm:
            self.client("autoscaling").describe_auto_scaling_groups()
        self.assertEqual(error_code(cm.exception), "RequestTimeTooSkewed")
        self.assertIn("Signature not yet current", cm.exception.response["Error"]["Message"])
        self.aws.control("POST", "clock", {"skew_seconds": 0})
        self.client("autoscaling").describe_auto_scaling_groups()


def parse_suite_request(path):
    with open(path, "rb") as f:
        raw = f.read()
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("utf-8").split("\n")
    rest, _ = lines[0].rsplit(" ", 1)
    method, target = rest.split(" ", 1)
    # request.txt shows the signer's input: the path before encoding (botocore
    # encodes it, as AWS does for non-S3 services) and the query as sent,
    # where a client percent-encodes UTF-8 (a request-target is ASCII).
    path, sep, query = target.partition("?")
    target = path + sep + urllib.parse.quote(
        query, safe="".join(chr(c) for c in range(0x21, 0x7f)))
    text = ""
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            text = text.rstrip("\n") + " " + line.strip() + "\n"  # folded value
        else:
            name, _, value = line.partition(":")
            text += "%s: %s\n" % (name, value)
    headers = http.client.parse_headers(__import__("io").BytesIO(text.encode() + b"\n"))
    return method, target, headers, body


class SuiteTest(unittest.TestCase):
    """sigv4_verify against the official AWS SigV4 suite (header signing).
    Cases with normalize=false are S3's unnormalized paths, which botocore's
    SigV4Auth (non-S3) never produces."""

    def test_suite(self):
        if not os.path.isdir(SUITE):
            self.skipTest("no SigV4 suite at %s" % SUITE)
        checked = 0
        for case in sorted(os.listdir(SUITE)):
            d = os.path.join(SUITE, case)
            if not os.path.isfile(os.path.join(d, "context.json")):
                continue
            with open(os.path.join(d, "context.json")) as f:
                ctx = json.load(f)
            if not ctx.get("normalize", True):
                continue
            method, target, headers, body = parse_suite_request(
                os.path.join(d, "header-signed-request.txt"))
            parsed = sigv4_verify.parse_authorization(headers)
            when = sigv4_verify.amz_date(headers, parsed)
            secret = ctx["credentials"]["secret_access_key"]
            with self.subTest(case=case):
                sigv4_verify.verify(method, target, headers, body, parsed, secret, when)
                with open(os.path.join(d, "header-signature.txt")) as f:
                    self.assertEqual(parsed.signature, f.read().strip())
                wrong = secret[:-1] + ("X" if secret[-1] != "X" else "Y")
                with self.assertRaises(query_protocol.QueryError) as cm:
                    sigv4_verify.verify(method, target, headers, body, parsed, wrong, when)
                self.assertEqual(cm.exception.code, "SignatureDoesNotMatch")
            checked += 1
        self.assertGreaterEqual(checked, 25)


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
