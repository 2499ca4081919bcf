#!/usr/bin/python3
"""scripts/provision against botocore's Stubber: a stack created from
nothing (new VPC in two AZs), a rerun that finds everything and changes
nothing, a rerun that repairs drift, an existing-subnets stack, the dry run
(reads only, prints the plan), and the refusals that happen before any
call.  Every call is checked against botocore's service models, in order."""

import base64
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stack_scenarios as sc  # noqa: E402
from stubbed_aws import ProvisionTestCase  # noqa: E402

S3_ARGS = ["--package", sc.PACKAGE, "--site", sc.SITE]


class ProvisionCase(ProvisionTestCase):
    def check_secret(self):
        """One secret, 256 random bits, sent to the listener rule and the
        distribution's origin, and never printed."""
        sent = []
        for _, op, p in self.aws.calls:
            if op == "CreateRule" and p["Priority"] == 2:
                sent.append(p["Conditions"][0]["HttpHeaderConfig"]["Values"][0])
            if op in ("CreateDistributionWithTags", "UpdateDistribution"):
                config = p.get("DistributionConfigWithTags", p).get("DistributionConfig")
                sent.append(config["Origins"]["Items"][0]["CustomHeaders"]["Items"][0][
                    "HeaderValue"])
        self.assertGreaterEqual(len(sent), 1)
        self.assertEqual(len(set(sent)), 1, "the listener and the distribution disagree")
        self.assertRegex(sent[0], r"^[A-Za-z0-9_-]{43}$")
        self.assertNotIn(sent[0], self.output())
        return sent[0]


class Create(ProvisionCase):
    def test_from_nothing(self):
        sc.create_everything(self.aws)
        self.assertEqual(self.run_provision(*S3_ARGS), 0)
        self.aws.verify(self)
        self.assertIn("Site: https://%s/" % sc.DIST_DOMAIN, self.output())
        self.check_secret()
        self.assertEqual(self.time.sleeps, [])
        # The launch template's user data is the edited cloud-config and
        # within EC2's 16 KB.
        data = [p for s, op, p in self.aws.calls if op == "CreateLaunchTemplate"][0]
        raw = base64.b64decode(data["LaunchTemplateData"]["UserData"])
        self.assertTrue(raw.startswith(b"#cloud-config\n"))
        self.assertIn(("ASG_AGENT_PACKAGE='%s'" % sc.PACKAGE).encode(), raw)
        self.assertLessEqual(len(raw), 16384)

    def test_waits_for_a_new_instance_profile(self):
        # Auto Scaling refuses a launch template whose instance profile IAM
        # has not propagated yet: retried, bounded, with the injected sleep.
        sc.create_everything(self.aws, profile_retries=2)
        self.assertEqual(self.run_provision(*S3_ARGS), 0)
        self.aws.verify(self)
        self.assertEqual(self.time.sleeps, [10, 10])

    def test_gives_up_when_the_profile_never_propagates(self):
        sc.create_everything(self.aws, profile_retries=13)
        # The last scenario entries (the successful create and the scaling
        # policy) are never reached.
        self.assertEqual(self.run_provision(*S3_ARGS), 1)
        made = self.aws.operations()
        self.assertEqual(made.count(("autoscaling", "create_auto_scaling_group")), 13)
        self.assertNotIn(("autoscaling", "put_scaling_policy"), made)
        self.assertEqual(sum(self.time.sleeps), 120)

    def test_https_package_needs_no_s3_policy(self):
        url = "https://downloads.example.com/asg-agent_1.0_amd64.deb"
        sc.create_network(self.aws)
        sc.create_security_groups(self.aws)
        sc.create_role(self.aws, s3_policy=None)
        sc.ami(self.aws)
        sc.create_compute(self.aws, data=sc.lt_data(package=url, site="example"))
        self.assertEqual(self.run_provision("--package", url, "--site", "example"), 0)
        self.aws.verify(self)

    def test_three_azs(self):
        sc.create_network(self.aws, three=True)
        sc.create_security_groups(self.aws)
        sc.create_role(self.aws)
        sc.ami(self.aws)
        sc.create_compute(self.aws, subnets=(sc.SUBNET_A, sc.SUBNET_B, sc.SUBNET_C))
        self.assertEqual(self.run_provision("--azs", "3", *S3_ARGS), 0)
        self.aws.verify(self)

    def test_rerun_adds_a_missing_subnet(self):
        # The subnet in us-east-1b was deleted by hand: only it is created
        # again, with the same CIDR, associated with the route table, and
        # given to the load balancer and the group.
        new_b = "subnet-0b0000000000000bb"
        self.aws.expect("ec2", "describe_vpcs", {"Vpcs": [
            {"VpcId": sc.VPC, "CidrBlock": "10.42.0.0/16"}]},
            params={"Filters": [sc.TAG_FILTER]})
        sc.azs(self.aws)
        self.aws.expect("ec2", "describe_subnets", {"Subnets": [
            {"SubnetId": sc.SUBNET_A, "AvailabilityZone": "us-east-1a", "VpcId": sc.VPC}]},
            params={"Filters": [{"Name": "vpc-id", "Values": [sc.VPC]}, sc.TAG_FILTER]})
        self.aws.expect("ec2", "create_subnet", {"Subnet": {"SubnetId": new_b}}, params={
            "VpcId": sc.VPC, "CidrBlock": "10.42.16.0/20", "AvailabilityZone": "us-east-1b",
            "TagSpecifications": [{"ResourceType": "subnet", "Tags": sc.TAGS}]})
        self.aws.expect("ec2", "modify_subnet_attribute", params={
            "SubnetId": new_b, "MapPublicIpOnLaunch": {"Value": True}})
        self.aws.expect("ec2", "describe_internet_gateways", {"InternetGateways": [
            {"InternetGatewayId": sc.IGW}]},
            params={"Filters": [{"Name": "attachment.vpc-id", "Values": [sc.VPC]}]})
        rt = sc.route_table()
        rt["Associations"] = rt["Associations"][:1]
        self.aws.expect("ec2", "describe_route_tables", {"RouteTables": [rt]},
                        params={"Filters": [{"Name": "vpc-id", "Values": [sc.VPC]},
                                            sc.TAG_FILTER]})
        self.aws.expect("ec2", "associate_route_table", {"AssociationId": "rtbassoc-9"},
                        params={"RouteTableId": sc.RT, "SubnetId": new_b})
        sc.existing_security_groups(self.aws)
        sc.existing_role(self.aws)
        sc.ami(self.aws)
        sc.existing_launch_template(self.aws)
        sc.existing_target_group(self.aws)
        sc.existing_distribution(self.aws)
        sc.existing_load_balancer(self.aws, expect_subnets=[sc.SUBNET_A, new_b])
        sc.existing_group(self.aws, expect_subnets=[sc.SUBNET_A, new_b])
        sc.existing_policy(self.aws)
        sc.existing_cache_policy(self.aws)
        self.assertEqual(self.run_provision(*S3_ARGS), 0)
        self.aws.verify(self)

    def test_existing_subnets(self):
        other_vpc = "vpc-0999999999999999a"
        self.aws.expect("ec2", "describe_subnets", {"Subnets": [
            {"SubnetId": sc.SUBNET_A, "AvailabilityZone": "eu-west-1a", "VpcId": other_vpc},
            {"SubnetId": sc.SUBNET_B, "AvailabilityZone": "eu-west-1b", "VpcId": other_vpc}]},
            params={"SubnetIds": [sc.SUBNET_A, sc.SUBNET_B]})
        sc.create_security_groups(self.aws, vpc=other_vpc, look=True)
        sc.create_role(self.aws)
        sc.ami(self.aws)
        sc.create_compute(self.aws, vpc=other_vpc)
        self.assertEqual(self.run_provision(
            "--subnets", "%s,%s" % (sc.SUBNET_A, sc.SUBNET_B), *S3_ARGS), 0)
        self.aws.verify(self)
        for op in ("create_vpc", "create_subnet", "create_internet_gateway", "create_route"):
            self.assertNotIn(("ec2", op), self.aws.operations())


class Rerun(ProvisionCase):
    def existing_stack(self, **kw):
        sc.existing_network(self.aws)
        sc.existing_security_groups(self.aws)
        sc.existing_role(self.aws, policy=kw.get("policy"))
        sc.ami(self.aws, kw.get("ami", sc.AMI))
        sc.existing_launch_template(self.aws)

    def test_finds_everything_and_changes_nothing(self):
        self.existing_stack()
        sc.existing_target_group(self.aws)
        sc.existing_distribution(self.aws)
        sc.existing_load_balancer(self.aws)
        sc.existing_group(self.aws)
        sc.existing_policy(self.aws)
        sc.existing_cache_policy(self.aws)
        self.assertEqual(self.run_provision(*S3_ARGS), 0)
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])
        self.assertNotIn("created", self.output())

    def test_repairs_drift(self):
        # A new Debian AMI, an older policy document, a deregistration
        # delay and health check edited by hand, a detached target group,
        # a lost hook, a lost policy.
        old_policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*"}]}
        sc.existing_network(self.aws)
        sc.existing_security_groups(self.aws)
        sc.existing_role(self.aws, policy=old_policy, s3_policy=None)  # get_role, get_role_policy
        self.aws.expect("iam", "put_role_policy", params={
            "RoleName": sc.ROLE, "PolicyName": "asg-agent",
            "PolicyDocument": json.dumps(sc.agent_policy())})
        self.aws.expect("iam", "get_role_policy", {
            "RoleName": sc.ROLE, "PolicyName": "deploy-read",
            "PolicyDocument": json.dumps(sc.S3_POLICY)},
            params={"RoleName": sc.ROLE, "PolicyName": "deploy-read"})
        self.aws.expect("iam", "get_instance_profile", {"InstanceProfile": sc.profile([sc.ROLE])},
                        params={"InstanceProfileName": sc.ROLE})
        sc.ami(self.aws, sc.NEW_AMI)
        sc.existing_launch_template(self.aws)
        self.aws.expect("ec2", "create_launch_template_version", {"LaunchTemplateVersion": {
            "LaunchTemplateId": sc.LT, "VersionNumber": 2}}, params={
            "LaunchTemplateId": sc.LT, "VersionDescription": "scripts/provision",
            "LaunchTemplateData": sc.lt_data(ami=sc.NEW_AMI)})
        self.aws.expect("elbv2", "describe_target_groups", {"TargetGroups": [
            sc.target_group(HealthCheckPath="/")]}, params={"Names": [sc.NAME]})
        params = {"TargetGroupArn": sc.TG_ARN}
        params.update(sc.HEALTH_CHECK)
        self.aws.expect("elbv2", "modify_target_group", {"TargetGroups": [sc.target_group()]},
                        params=params)
        self.aws.expect("elbv2", "describe_target_group_attributes", {"Attributes": [
            {"Key": "deregistration_delay.timeout_seconds", "Value": "300"}]},
            params={"TargetGroupArn": sc.TG_ARN})
        self.aws.expect("elbv2", "modify_target_group_attributes", params={
            "TargetGroupArn": sc.TG_ARN,
            "Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]})
        sc.existing_distribution(self.aws)
        sc.existing_load_balancer(self.aws)
        sc.existing_group(self.aws, hooks=sc.HOOKS[:1], target_group_attached=False)
        self.aws.expect("autoscaling", "put_lifecycle_hook",
                        params=dict(sc.HOOKS[1], AutoScalingGroupName=sc.NAME))
        sc.existing_policy(self.aws, tracking=None)
        self.aws.expect("autoscaling", "put_scaling_policy", {"PolicyARN": "arn:policy"}, params={
            "AutoScalingGroupName": sc.NAME, "PolicyName": "asg-agent-target-tracking",
            "PolicyType": "TargetTrackingScaling", "TargetTrackingConfiguration": sc.TRACKING})
        sc.existing_cache_policy(self.aws)
        self.assertEqual(self.run_provision(*S3_ARGS), 0)
        self.aws.verify(self)
        self.assertIn("start-instance-refresh", self.output())

    def test_refuses_a_group_being_deleted(self):
        self.existing_stack()
        sc.existing_target_group(self.aws)
        sc.existing_distribution(self.aws)
        sc.existing_load_balancer(self.aws)
        self.aws.expect("autoscaling", "describe_auto_scaling_groups", {
            "AutoScalingGroups": [sc.group("Delete in progress")]},
            params={"AutoScalingGroupNames": [sc.NAME]})
        self.assertEqual(self.run_provision(*S3_ARGS), 1)
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])


class DryRun(ProvisionCase):
    def test_plan_from_nothing_only_reads(self):
        self.aws.expect("ec2", "describe_vpcs", {"Vpcs": []}, params={"Filters": [sc.TAG_FILTER]})
        sc.azs(self.aws)
        sc.prefix_list(self.aws)
        self.aws.fail("iam", "get_role", "NoSuchEntity", status=404, params={"RoleName": sc.ROLE})
        self.aws.fail("iam", "get_instance_profile", "NoSuchEntity", status=404,
                      params={"InstanceProfileName": sc.ROLE})
        sc.ami(self.aws)
        self.aws.fail("ec2", "describe_launch_templates",
                      "InvalidLaunchTemplateName.NotFoundException",
                      params={"LaunchTemplateNames": [sc.NAME]})
        self.aws.fail("elbv2", "describe_target_groups", "TargetGroupNotFound",
                      params={"Names": [sc.NAME]})
        sc.no_distribution(self.aws)
        self.aws.fail("elbv2", "describe_load_balancers", "LoadBalancerNotFound",
                      params={"Names": [sc.NAME]})
        self.aws.expect("autoscaling", "describe_auto_scaling_groups", {"AutoScalingGroups": []},
                        params={"AutoScalingGroupNames": [sc.NAME]})
        self.aws.expect("cloudfront", "list_cache_policies", {"CachePolicyList": {
            "MaxItems": 100, "Quantity": 0}}, params={"Type": "custom"})
        # The placeholder package line is fine for a plan.
        self.assertEqual(self.run_provision("--dry-run"), 0)
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])
        out = self.output()
        for what in ("VPC 10.42.0.0/16", "subnet 10.42.0.0/20 in us-east-1a",
                     "subnet 10.42.16.0/20 in us-east-1b", "internet gateway",
                     "security group asg-agent-lb", "security group asg-agent-instance",
                     "IAM role asg-agent-instance", "role policy asg-agent",
                     "instance profile asg-agent-instance", "launch template asg-agent",
                     "target group asg-agent", "load balancer asg-agent",
                     "listener HTTP:80 (default: fixed response 403)",
                     "listener rule 1: path /health* -> fixed response 403",
                     "listener rule 2: header x-origin-verify is the secret -> forward",
                     "asg-agent-lb ingress tcp/80 for pl-3b927c52",
                     "asg-agent-lb egress tcp/80 with (new security group asg-agent-instance)",
                     "asg-agent-lb egress all for 0.0.0.0/0",
                     "Auto Scaling group asg-agent (min 2, max 4)",
                     "target tracking policy asg-agent-target-tracking",
                     "cache policy asg-agent-site",
                     "CloudFront distribution (origin (the new load balancer's name), "
                     "secret header X-Origin-Verify)"):
            self.assertIn(what + " (dry run)" if what.startswith(("VPC", "subnet"))
                          else what, out)
        self.assertNotIn("deploy-read", out)  # nothing comes from S3

    def test_plan_of_a_complete_stack_is_empty(self):
        sc.existing_network(self.aws)
        sc.existing_security_groups(self.aws)
        sc.existing_role(self.aws)
        sc.ami(self.aws)
        sc.existing_launch_template(self.aws)
        sc.existing_target_group(self.aws)
        sc.existing_distribution(self.aws)
        sc.existing_load_balancer(self.aws)
        sc.existing_group(self.aws)
        sc.existing_policy(self.aws)
        sc.existing_cache_policy(self.aws)
        self.assertEqual(self.run_provision("--dry-run", *S3_ARGS), 0)
        self.aws.verify(self)
        self.assertNotIn("(dry run)", self.output())


class Refusals(ProvisionCase):
    """Errors found before any AWS call: the Stubber has nothing queued, so
    any call would fail the test."""

    def test_placeholder_package(self):
        self.assertEqual(self.run_provision(), 1)
        self.assertEqual(self.aws.calls, [])

    def test_bad_name_and_azs(self):
        self.assertEqual(self.run_provision("--name", "bad_name", *S3_ARGS), 1)
        self.assertEqual(self.run_provision("--azs", "4", *S3_ARGS), 1)
        self.assertEqual(self.run_provision("--subnets", sc.SUBNET_A, *S3_ARGS), 1)
        self.assertEqual(self.run_provision("--package", "https://x/it's.deb"), 1)
        self.assertEqual(self.aws.calls, [])

    def test_user_data_over_16k(self):
        with tempfile.NamedTemporaryFile("w", suffix=".sh") as f:
            f.write("#!/bin/sh\nASG_AGENT_PACKAGE='x'\n" + "#" * 16400 + "\n")
            f.flush()
            self.assertEqual(self.run_provision("--user-data", f.name), 1)
        self.assertEqual(self.aws.calls, [])

    def test_subnets_in_one_az(self):
        self.aws.expect("ec2", "describe_subnets", {"Subnets": [
            {"SubnetId": sc.SUBNET_A, "AvailabilityZone": "us-east-1a", "VpcId": sc.VPC},
            {"SubnetId": sc.SUBNET_B, "AvailabilityZone": "us-east-1a", "VpcId": sc.VPC}]},
            params={"SubnetIds": [sc.SUBNET_A, sc.SUBNET_B]})
        self.assertEqual(self.run_provision(
            "--subnets", "%s,%s" % (sc.SUBNET_A, sc.SUBNET_B), *S3_ARGS), 1)
        self.aws.verify(self)


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
