#!/usr/bin/python3
"""scripts/provision against an independent implementation of the AWS APIs:
moto's server (`python3 -m moto.server`, from the python3 on PATH that has
moto; Debian 12 packages no moto) on 127.0.0.1, reached through
AWS_ENDPOINT_URL, which scripts/provision honours itself (Debian's
botocore 1.29 predates the variable).  The script runs here under
/usr/bin/python3 with Debian's boto3, as a Debian user runs it.

One stack, with --domain: created from nothing, every resource read back
with boto3 and checked against docs/deploying.md's table, rerun (no mutating call
at all), destroyed (nothing left, the hosted zone back to its NS and SOA).

What moto 5.2 lacks, and where it is covered instead:
  - CloudFront cache policies (List/Get/Create/Update/DeleteCachePolicy):
    answered here by a small in-memory table registered on the CloudFront
    client (marked MOTO_LACKS below); their parameters are checked against
    botocore's model by the Stubber tests (test-provision-create.py,
    test-provision-destroy.py).
  - moto keeps no distribution state machine worth waiting for and lets a
    distribution be deleted while enabled; the disable-wait-delete order is
    checked by the Stubber test of --destroy.
  - high-resolution target tracking (Period) is unknown to Debian's botocore:
    test-provision-edge.py covers it.
Skipped (exit 77) when no python3 with moto is found."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from asgtest import free_port  # noqa: E402
from stubbed_aws import TOP_SRCDIR, load_provision  # noqa: E402

import boto3  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402

REGION = "eu-west-1"
NAME = "motostack"
DOMAIN = "www.example.com"
PACKAGE = "https://downloads.example.com/asg-agent_1.0_amd64.deb"
READ_PREFIXES = ("Describe", "Get", "List")
AMI = "ami-0d3b2c1a09f8e7d60"


def moto_python():
    """A python3 with moto: MOTO_PYTHON, else the python3 on PATH."""
    for cand in (os.environ.get("MOTO_PYTHON"), shutil.which("python3")):
        if not cand:
            continue
        r = subprocess.run([cand, "-c", "import moto.server"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return cand
    return None


class CachePolicies:
    """MOTO_LACKS: moto 5.2 has no CloudFront cache policies.  A table of
    them answers the five calls on the CloudFront client, in the shapes of
    botocore's model, so the run goes on to moto for everything else."""

    def __init__(self):
        self.policies = {}
        self.n = 0
        self.calls = []

    def attach(self, client):
        def remember(params, context, **kw):
            context["api_params"] = params
        client.meta.events.register("before-parameter-build.cloudfront", remember)
        for op in ("ListCachePolicies", "GetCachePolicy", "CreateCachePolicy",
                   "UpdateCachePolicy", "DeleteCachePolicy"):
            client.meta.events.register_first("before-call.cloudfront.%s" % op,
                                              self.handler(op))

    def handler(self, op):
        def answer(context, **kw):
            params = context["api_params"]
            self.calls.append(op)
            status, parsed = 200, getattr(self, op)(params)
            if "Error" in parsed:
                status = 409
            parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status})
            return AWSResponse(None, status, {}, None), parsed
        return answer

    def policy(self, pid):
        config, _ = self.policies[pid]
        return {"Id": pid, "LastModifiedTime": "2026-12-01T00:00:00Z",
                "CachePolicyConfig": json.loads(json.dumps(config))}

    def ListCachePolicies(self, params):
        assert params.get("Type") == "custom"
        items = [{"Type": "custom", "CachePolicy": self.policy(p)} for p in self.policies]
        return {"CachePolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}}

    def GetCachePolicy(self, params):
        return {"CachePolicy": self.policy(params["Id"]), "ETag": self.policies[params["Id"]][1]}

    def CreateCachePolicy(self, params):
        self.n += 1
        pid = "cp-%d" % self.n
        self.policies[pid] = (params["CachePolicyConfig"], "E%d" % self.n)
        return {"CachePolicy": self.policy(pid), "ETag": "E%d" % self.n}

    def UpdateCachePolicy(self, params):
        self.n += 1
        assert params["IfMatch"] == self.policies[params["Id"]][1]
        self.policies[params["Id"]] = (params["CachePolicyConfig"], "E%d" % self.n)
        return {"CachePolicy": self.policy(params["Id"]), "ETag": "E%d" % self.n}

    def DeleteCachePolicy(self, params):
        assert params["IfMatch"] == self.policies[params["Id"]][1]
        del self.policies[params["Id"]]
        return {}


class MotoStack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.py = moto_python()
        port = free_port()
        cls.endpoint = "http://127.0.0.1:%d" % port
        # One AMI (moto otherwise loads a few hundred per region, seconds
        # on a busy machine): a stand-in for Debian 12.
        cls.tmp = tempfile.TemporaryDirectory()
        amis = os.path.join(cls.tmp.name, "amis.json")
        with open(amis, "w") as f:
            json.dump([{"ami_id": AMI, "state": "available", "public": True,
                        "owner_id": "136693071363", "image_location": "debian/bookworm",
                        "root_device_type": "ebs", "root_device_name": "/dev/xvda",
                        "description": "Debian 12 (stand-in)", "image_type": "machine",
                        "architecture": "x86_64", "name": "debian-12-amd64",
                        "virtualization_type": "hvm", "hypervisor": "xen"}], f)
        # ACM issues a DNS-validated certificate after this many seconds.
        env = dict(os.environ, MOTO_ACM_VALIDATION_WAIT="1", MOTO_AMIS_PATH=amis)
        cls.server = subprocess.Popen([cls.py, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                       str(port)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if cls.server.poll() is not None or time.monotonic() > deadline:
                    cls.server.kill()
                    raise AssertionError("moto.server did not start")
                time.sleep(0.1)
        for k, v in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                     ("AWS_ENDPOINT_URL", cls.endpoint), ("AWS_DEFAULT_REGION", REGION)):
            os.environ[k] = v
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(k, None)
        cls.provision = load_provision()
        cls.log("moto.server up")
        cls.policies = CachePolicies()

    @classmethod
    def log(cls, what):
        if os.environ.get("VERBOSE"):
            print("%6.1f s %s" % (time.monotonic() - cls.t0, what), file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(timeout=30)
        cls.tmp.cleanup()

    def client(self, name, region=REGION):
        """The test's own clients for reading back, one per service and
        region, from one session (which parses each service model once)."""
        cls = type(self)
        if not hasattr(cls, "session"):
            cls.session, cls.clients_ = boto3.Session(), {}
        if (name, region) not in cls.clients_:
            cls.clients_[name, region] = cls.session.client(name, region_name=region,
                                                           endpoint_url=self.endpoint)
        return cls.clients_[name, region]

    def run_provision(self, *args):
        """One run; the clients come from make_clients (so AWS_ENDPOINT_URL
        is what reaches moto), made once and reused.  Returns (exit code,
        printed lines, mutating calls)."""
        if not hasattr(self, "clients"):
            self.clients = self.provision.make_clients(REGION)
            self.policies.attach(self.clients["cloudfront"])
            raw = self.client("cloudfront", "us-east-1")

            def add_comments(parsed, **kw):  # MOTO_LACKS: Comment in summaries
                for d in parsed.get("DistributionList", {}).get("Items", []):
                    d.setdefault("Comment", raw.get_distribution_config(Id=d["Id"])[
                        "DistributionConfig"]["Comment"])
            self.clients["cloudfront"].meta.events.register(
                "after-call.cloudfront.ListDistributions", add_comments)
            for name, c in self.clients.items():
                self.assertEqual(c.meta.endpoint_url, self.endpoint, name)
                c.meta.events.register("before-parameter-build", lambda model, name=name, **kw:
                                       self.calls.append((name, model.name)))
        self.calls = []
        lines = []
        t0 = time.monotonic()
        rc = self.provision.main(list(args), clients=self.clients, out=lines.append,
                                 sleep=lambda s: time.sleep(0.2))
        self.log("\n".join(lines) + "\nprovision %s: %.1f s" % (" ".join(args[-2:]),
                                                               time.monotonic() - t0))
        return rc, lines, [c for c in self.calls if not c[1].startswith(READ_PREFIXES)]

    def test_create_read_back_rerun_destroy(self):
        self.log("test starts")
        r53 = self.client("route53")
        zone_id = r53.create_hosted_zone(Name="example.com", CallerReference="test")[
            "HostedZone"]["Id"].split("/")[-1]
        args = ["--name", NAME, "--region", REGION, "--ami", AMI, "--package", PACKAGE,
                "--site", "example", "--domain", DOMAIN]

        rc, lines, mutations = self.run_provision(*args)
        out = "\n".join(lines)
        self.assertEqual(rc, 0, out)
        self.assertIn(("cloudfront", "CreateDistributionWithTags"), mutations)
        self.assertIn("Site: https://%s/" % DOMAIN, out)
        secret = self.read_back(zone_id)
        self.assertNotIn(secret, out)

        # MOTO_LACKS: moto's CreateAutoScalingGroup drops
        # LifecycleHookSpecificationList, so the first rerun finds the hooks
        # missing and repairs them, as it would after a hook was deleted by
        # hand (the Stubber tests check that the hooks go with the group).
        rc, lines, mutations = self.run_provision(*args)
        self.assertEqual(rc, 0, "\n".join(lines))
        self.assertEqual(mutations, [("autoscaling", "PutLifecycleHook")] * 2,
                         "\n".join(lines))
        self.check_hooks()

        rc, lines, mutations = self.run_provision(*args)
        self.assertEqual(rc, 0, "\n".join(lines))
        self.assertEqual(mutations, [], "a rerun changed something:\n" + "\n".join(lines))
        self.assertNotIn(secret, "\n".join(lines))

        rc, lines, mutations = self.run_provision(*(args + ["--destroy"]))
        self.assertEqual(rc, 0, "\n".join(lines))
        self.assertNotIn(secret, "\n".join(lines))
        self.nothing_left(zone_id)

        rc, lines, mutations = self.run_provision(*(args + ["--destroy"]))
        self.assertEqual((rc, mutations), (0, []), "\n".join(lines))

    # ---- docs/deploying.md's table, read back ----

    def read_back(self, zone_id):
        ec2, elbv2 = self.client("ec2"), self.client("elbv2")
        asg, iam = self.client("autoscaling"), self.client("iam")
        cf, acm = self.client("cloudfront", "us-east-1"), self.client("acm", "us-east-1")
        r53 = self.client("route53")
        tag = {"Name": "tag:asg-agent:stack", "Values": [NAME]}

        vpcs = ec2.describe_vpcs(Filters=[tag])["Vpcs"]
        self.assertEqual([v["CidrBlock"] for v in vpcs], ["10.42.0.0/16"])
        vpc = vpcs[0]["VpcId"]
        subnets = ec2.describe_subnets(Filters=[tag])["Subnets"]
        self.assertEqual(sorted(s["CidrBlock"] for s in subnets),
                         ["10.42.0.0/20", "10.42.16.0/20"])
        self.assertEqual(len({s["AvailabilityZone"] for s in subnets}), 2)
        self.assertTrue(all(s["MapPublicIpOnLaunch"] for s in subnets))
        igws = ec2.describe_internet_gateways(Filters=[
            {"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]
        self.assertEqual(len(igws), 1)
        rts = ec2.describe_route_tables(Filters=[tag])["RouteTables"]
        self.assertIn(("0.0.0.0/0", igws[0]["InternetGatewayId"]),
                      [(r.get("DestinationCidrBlock"), r.get("GatewayId"))
                       for r in rts[0]["Routes"]])
        self.assertEqual({a["SubnetId"] for a in rts[0]["Associations"]},
                         {s["SubnetId"] for s in subnets})

        # Security groups: exactly these rules, no allow-all egress on the
        # load balancer's.
        sgs = {g["GroupName"]: g for g in ec2.describe_security_groups(Filters=[tag])[
            "SecurityGroups"]}
        self.assertEqual(set(sgs), {NAME + "-lb", NAME + "-instance"})
        lb_sg, inst_sg = sgs[NAME + "-lb"], sgs[NAME + "-instance"]
        pl = ec2.describe_managed_prefix_lists(Filters=[{
            "Name": "prefix-list-name",
            "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}])["PrefixLists"]
        rules = self.provision.sg_rule_keys
        self.assertEqual(set(rules(lb_sg["IpPermissions"])),
                         {("tcp", 80, 80, "PrefixListIds", pl[0]["PrefixListId"])})
        self.assertEqual(set(rules(lb_sg["IpPermissionsEgress"])),
                         {("tcp", 80, 80, "UserIdGroupPairs", inst_sg["GroupId"])})
        self.assertEqual(set(rules(inst_sg["IpPermissions"])),
                         {("tcp", 80, 80, "UserIdGroupPairs", lb_sg["GroupId"])})

        # Load balancer, listener (403 unless the secret header), rules.
        lb = elbv2.describe_load_balancers(Names=[NAME])["LoadBalancers"][0]
        self.assertEqual((lb["Scheme"], lb["Type"], lb["IpAddressType"], lb["SecurityGroups"]),
                         ("internet-facing", "application", "ipv4", [lb_sg["GroupId"]]))
        listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        self.assertEqual([(li["Protocol"], li["Port"]) for li in listeners], [("HTTP", 80)])
        forbidden = ("fixed-response", "403", "text/plain", "Forbidden")
        self.assertEqual(self.provision.action_keys(listeners[0]["DefaultActions"]), [forbidden])
        tg = elbv2.describe_target_groups(Names=[NAME])["TargetGroups"][0]
        rules_ = {r["Priority"]: r for r in elbv2.describe_rules(
            ListenerArn=listeners[0]["ListenerArn"])["Rules"]}
        self.assertEqual(set(rules_), {"1", "2", "default"})
        self.assertEqual(self.provision.condition_keys(rules_["1"]["Conditions"]),
                         [("path-pattern", ("/health*",))])
        self.assertEqual(self.provision.action_keys(rules_["1"]["Actions"]), [forbidden])
        header = rules_["2"]["Conditions"][0]["HttpHeaderConfig"]
        self.assertEqual(header["HttpHeaderName"], "X-Origin-Verify")
        secret = header["Values"][0]
        self.assertRegex(secret, r"^[A-Za-z0-9_-]{43}$")
        self.assertEqual(self.provision.action_keys(rules_["2"]["Actions"]),
                         [("forward", (tg["TargetGroupArn"],))])

        # Target group: the seed's health check settings.
        self.assertEqual({k: tg[k] for k in (
            "Protocol", "Port", "HealthCheckPath", "HealthCheckIntervalSeconds",
            "HealthCheckTimeoutSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount")},
            {"Protocol": "HTTP", "Port": 80, "HealthCheckPath": "/health",
             "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
             "HealthyThresholdCount": 5, "UnhealthyThresholdCount": 2})
        self.assertEqual(tg["Matcher"], {"HttpCode": "200"})
        attrs = {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(
            TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
        self.assertEqual(attrs["deregistration_delay.timeout_seconds"], "30")

        # Role, policy, instance profile.
        role = NAME + "-instance"
        with open(os.path.join(TOP_SRCDIR, "scripts", "iam-policy.json")) as f:
            self.assertEqual(iam.get_role_policy(RoleName=role, PolicyName="asg-agent")[
                "PolicyDocument"], json.load(f))
        profile = iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
        self.assertEqual([r["RoleName"] for r in profile["Roles"]], [role])

        # Launch template and group.
        lt = ec2.describe_launch_template_versions(LaunchTemplateName=NAME, Versions=[
            "$Latest"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        self.assertEqual(lt["MetadataOptions"]["HttpTokens"], "required")
        self.assertEqual(lt["MetadataOptions"]["HttpPutResponseHopLimit"], 1)
        self.assertEqual(lt["SecurityGroupIds"], [inst_sg["GroupId"]])
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[NAME])[
            "AutoScalingGroups"][0]
        self.assertEqual((group["MinSize"], group["MaxSize"], group["DesiredCapacity"],
                          group["HealthCheckType"], group["HealthCheckGracePeriod"]),
                         (2, 4, 2, "ELB", 120))
        self.assertEqual(group["TargetGroupARNs"], [tg["TargetGroupArn"]])
        policy = asg.describe_policies(AutoScalingGroupName=NAME)["ScalingPolicies"]
        spec = policy[0]["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]
        self.assertEqual((spec["Namespace"], spec["MetricName"], spec["Dimensions"]),
                         ("ASGAgent", "CPUUtilization",
                          [{"Name": "AutoScalingGroupName", "Value": NAME}]))

        # The distribution.
        dists = [d for d in cf.list_distributions()["DistributionList"].get("Items", [])
                 if cf.get_distribution_config(Id=d["Id"])["DistributionConfig"]["Comment"] ==
                 "asg-agent stack " + NAME]
        self.assertEqual(len(dists), 1)
        config = cf.get_distribution_config(Id=dists[0]["Id"])["DistributionConfig"]
        origin = config["Origins"]["Items"][0]
        self.assertEqual(origin["DomainName"], lb["DNSName"])
        self.assertEqual(origin["CustomHeaders"]["Items"],
                         [{"HeaderName": "X-Origin-Verify", "HeaderValue": secret}])
        self.assertEqual(origin["CustomOriginConfig"]["OriginProtocolPolicy"], "http-only")
        default = config["DefaultCacheBehavior"]
        self.assertEqual(default["ViewerProtocolPolicy"], "redirect-to-https")
        [policy_id] = self.policies.policies
        self.assertEqual(default["CachePolicyId"], policy_id)
        params = self.policies.policies[policy_id][0]
        self.assertEqual((params["MinTTL"], params["DefaultTTL"]), (0, 0))
        keyed = params["ParametersInCacheKeyAndForwardedToOrigin"]
        self.assertTrue(keyed["EnableAcceptEncodingGzip"] and keyed["EnableAcceptEncodingBrotli"])
        health = config["CacheBehaviors"]["Items"]
        self.assertEqual([(b["PathPattern"], b["CachePolicyId"], b["ViewerProtocolPolicy"])
                          for b in health], [("/health*", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
                                              "redirect-to-https")])
        self.assertEqual(config["Aliases"]["Items"], [DOMAIN])
        self.assertTrue(config["Enabled"])
        self.assertTrue(config["IsIPV6Enabled"])

        # The certificate, its validation record, the alias records.
        cert_arn = config["ViewerCertificate"]["ACMCertificateArn"]
        self.assertEqual((config["ViewerCertificate"]["SSLSupportMethod"],
                          config["ViewerCertificate"]["MinimumProtocolVersion"]),
                         ("sni-only", "TLSv1.2_2021"))
        cert = acm.describe_certificate(CertificateArn=cert_arn)["Certificate"]
        self.assertEqual((cert["DomainName"], cert["Status"]), (DOMAIN, "ISSUED"))
        record = cert["DomainValidationOptions"][0]["ResourceRecord"]
        rrs = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        by = {(rr["Name"].rstrip("."), rr["Type"]): rr for rr in rrs}
        self.assertEqual(by[(record["Name"].rstrip("."), "CNAME")]["ResourceRecords"],
                         [{"Value": record["Value"]}])
        for rtype in ("A", "AAAA"):
            alias = by[(DOMAIN, rtype)]["AliasTarget"]
            self.assertEqual((alias["HostedZoneId"], alias["DNSName"].rstrip("."),
                              alias["EvaluateTargetHealth"]),
                             ("Z2FDTNDATAQYW2", dists[0]["DomainName"], False))
        return secret

    def check_hooks(self):
        hooks = {h["LifecycleHookName"]: (h["LifecycleTransition"], h["HeartbeatTimeout"],
                                          h["DefaultResult"])
                 for h in self.client("autoscaling").describe_lifecycle_hooks(
                     AutoScalingGroupName=NAME)["LifecycleHooks"]}
        self.assertEqual(hooks, {
            NAME + "-launching": ("autoscaling:EC2_INSTANCE_LAUNCHING", 300, "ABANDON"),
            NAME + "-terminating": ("autoscaling:EC2_INSTANCE_TERMINATING", 300, "CONTINUE")})

    def nothing_left(self, zone_id):
        ec2, elbv2 = self.client("ec2"), self.client("elbv2")
        tag = {"Name": "tag:asg-agent:stack", "Values": [NAME]}
        for what, items in (
                ("VPC", ec2.describe_vpcs(Filters=[tag])["Vpcs"]),
                ("subnets", ec2.describe_subnets(Filters=[tag])["Subnets"]),
                ("security groups", ec2.describe_security_groups(Filters=[tag])[
                    "SecurityGroups"]),
                ("route tables", ec2.describe_route_tables(Filters=[tag])["RouteTables"]),
                ("internet gateways", ec2.describe_internet_gateways(Filters=[tag])[
                    "InternetGateways"]),
                ("launch templates", ec2.describe_launch_templates()["LaunchTemplates"]),
                ("load balancers", elbv2.describe_load_balancers()["LoadBalancers"]),
                ("target groups", elbv2.describe_target_groups()["TargetGroups"]),
                ("groups", self.client("autoscaling").describe_auto_scaling_groups()[
                    "AutoScalingGroups"]),
                ("roles", [r for r in self.client("iam").list_roles()["Roles"]
                           if r["RoleName"].startswith(NAME)]),
                ("instance profiles", self.client("iam").list_instance_profiles()[
                    "InstanceProfiles"]),
                ("distributions", self.client("cloudfront", "us-east-1").list_distributions()[
                    "DistributionList"].get("Items", [])),
                ("certificates", self.client("acm", "us-east-1").list_certificates()[
                    "CertificateSummaryList"]),
                ("cache policies", list(self.policies.policies)),
                ("records", [rr for rr in self.client("route53").list_resource_record_sets(
                    HostedZoneId=zone_id)["ResourceRecordSets"]
                    if rr["Type"] not in ("NS", "SOA")])):
            self.assertEqual(items, [], what)


if __name__ == "__main__":
    if os.environ.get("ASAN_OPTIONS"):
        # ./scripts/check's second pass rebuilds the C code with sanitizers;
        # this test runs no C code, so it runs once, in the plain pass.
        print("SKIP: no C code under test (runs in the plain pass)")
        sys.exit(77)
    if moto_python() is None:
        print("SKIP: no python3 with moto (MOTO_PYTHON, or python3 on PATH); Debian 12 has no "
              "python3-moto package")
        sys.exit(77)
    unittest.main(verbosity=2, warnings="ignore")
