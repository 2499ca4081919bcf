#!/usr/bin/python3
"""scripts/provision --destroy against botocore's Stubber: the whole stack
deleted in dependency order (the edge first: alias records, the
distribution disabled, deployed and deleted, its cache policy, the
certificate and its validation record; then group and instances, launch
template, listener, load balancer, target group, the load balancer's egress
rule, instance then load balancer security group, instance profile and
role, then the VPC it created), with
bounded waits driven by an injected clock; a second destroy finds nothing;
a group that never goes away ends in a timeout, not a hang; existing
subnets are never deleted; --dry-run --destroy only reads."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stack_scenarios as sc  # noqa: E402
from stubbed_aws import ProvisionTestCase, load_provision  # noqa: E402

provision = load_provision()


class DestroyCase(ProvisionTestCase):
    PREFIX_ARGS = ("--destroy",)

    # ---- scenario pieces ----

    def no_edge(self):
        sc.no_distribution(self.aws)
        self.aws.expect("cloudfront", "list_cache_policies", {"CachePolicyList": {
            "MaxItems": 100, "Quantity": 0}}, params={"Type": "custom"})
        self.aws.expect("acm", "list_certificates", {"CertificateSummaryList": []}, params={})

    def zone_lookup(self):
        # www.example.com has no zone of its own; example.com has a private
        # zone (skipped) and the public one.
        self.aws.expect("route53", "list_hosted_zones_by_name", {
            "HostedZones": [], "IsTruncated": False, "MaxItems": "10"},
            params={"DNSName": sc.DOMAIN, "MaxItems": "10"})
        zone = {"Name": "example.com.", "CallerReference": "r"}
        self.aws.expect("route53", "list_hosted_zones_by_name", {"HostedZones": [
            dict(zone, Id="/hostedzone/ZPRIVATE0000000", Config={"PrivateZone": True}),
            dict(zone, Id="/hostedzone/" + sc.ZONE, Config={"PrivateZone": False})],
            "IsTruncated": False, "MaxItems": "10"},
            params={"DNSName": "example.com", "MaxItems": "10"})

    def delete_edge(self, dry=False):
        """The alias records, the distribution (disabled, deployed, then
        deleted with a fresh ETag), the cache policy, the certificate and
        its validation record.  dry: only the reads of --dry-run."""
        config = sc.stored_distribution(domain=sc.DOMAIN, cert=sc.CERT_ARN)
        self.aws.expect("cloudfront", "list_distributions", {"DistributionList": {
            "Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": 1,
            "Items": [sc.distribution_summary(config)]}}, params={})
        self.aws.expect("cloudfront", "get_distribution_config", {
            "DistributionConfig": config, "ETag": "E2ETAG"}, params={"Id": sc.DIST_ID})
        self.zone_lookup()
        alias = {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": sc.DIST_DOMAIN + ".",
                 "EvaluateTargetHealth": False}
        records = [{"Name": sc.DOMAIN + ".", "Type": t, "AliasTarget": alias}
                   for t in ("A", "AAAA")]
        # A record of the same name the stack did not make stays.
        txt = {"Name": sc.DOMAIN + ".", "Type": "TXT", "TTL": 300,
               "ResourceRecords": [{"Value": '"v=spf1 -all"'}]}
        self.aws.expect("route53", "list_resource_record_sets", {
            "ResourceRecordSets": records + [txt], "IsTruncated": False, "MaxItems": "10"},
            params={"HostedZoneId": sc.ZONE, "StartRecordName": sc.DOMAIN, "MaxItems": "10"})
        change = {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING",
                                 "SubmittedAt": sc.DATE}}
        if dry:
            sc.existing_cache_policy(self.aws)
            self.certificates(dry=True)
            return
        self.aws.expect("route53", "change_resource_record_sets", change, params={
            "HostedZoneId": sc.ZONE, "ChangeBatch": {"Changes": [
                {"Action": "DELETE", "ResourceRecordSet": r} for r in records]}})
        self.aws.expect("cloudfront", "update_distribution", {
            "Distribution": sc.distribution_answer(dict(config, Enabled=False), "InProgress"),
            "ETag": "E3ETAG"}, params={"DistributionConfig": dict(config, Enabled=False),
                                       "Id": sc.DIST_ID, "IfMatch": "E2ETAG"})
        for status in ("InProgress", "Deployed"):
            self.aws.expect("cloudfront", "get_distribution", {
                "Distribution": sc.distribution_answer(dict(config, Enabled=False), status),
                "ETag": "E3ETAG"}, params={"Id": sc.DIST_ID})
        self.aws.expect("cloudfront", "get_distribution_config", {
            "DistributionConfig": dict(config, Enabled=False), "ETag": "E4ETAG"},
            params={"Id": sc.DIST_ID})
        self.aws.expect("cloudfront", "delete_distribution",
                        params={"Id": sc.DIST_ID, "IfMatch": "E4ETAG"})
        sc.existing_cache_policy(self.aws)
        self.aws.expect("cloudfront", "get_cache_policy", {"CachePolicy": {
            "Id": sc.POLICY_ID, "LastModifiedTime": sc.DATE,
            "CachePolicyConfig": sc.CACHE_POLICY}, "ETag": "E5ETAG"},
            params={"Id": sc.POLICY_ID})
        self.aws.expect("cloudfront", "delete_cache_policy",
                        params={"Id": sc.POLICY_ID, "IfMatch": "E5ETAG"})
        self.certificates()

    def certificates(self, dry=False):
        change = {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING",
                                 "SubmittedAt": sc.DATE}}
        other = sc.CERT_ARN.replace("0f1e2d3c", "99999999")
        self.aws.expect("acm", "list_certificates", {"CertificateSummaryList": [
            {"CertificateArn": other, "DomainName": "shop.example.com"},
            {"CertificateArn": sc.CERT_ARN, "DomainName": sc.DOMAIN}]}, params={})
        self.aws.expect("acm", "list_tags_for_certificate", {"Tags": [
            {"Key": "team", "Value": "shop"}]}, params={"CertificateArn": other})
        self.aws.expect("acm", "list_tags_for_certificate", {"Tags": sc.TAGS},
                        params={"CertificateArn": sc.CERT_ARN})
        cname = {"Name": "_x1.www.example.com.", "Type": "CNAME",
                 "Value": "_y2.acm-validations.aws."}
        self.aws.expect("acm", "describe_certificate", {"Certificate": {
            "CertificateArn": sc.CERT_ARN, "DomainName": sc.DOMAIN, "Status": "ISSUED",
            "DomainValidationOptions": [{"DomainName": sc.DOMAIN, "ValidationMethod": "DNS",
                                         "ValidationStatus": "SUCCESS",
                                         "ResourceRecord": cname}]}},
            params={"CertificateArn": sc.CERT_ARN})
        self.zone_lookup()
        rr = {"Name": cname["Name"], "Type": "CNAME", "TTL": 300,
              "ResourceRecords": [{"Value": cname["Value"]}]}
        self.aws.expect("route53", "list_resource_record_sets", {
            "ResourceRecordSets": [rr], "IsTruncated": False, "MaxItems": "10"},
            params={"HostedZoneId": sc.ZONE, "StartRecordName": "_x1.www.example.com",
                    "MaxItems": "10"})
        if dry:
            return
        self.aws.expect("route53", "change_resource_record_sets", change, params={
            "HostedZoneId": sc.ZONE, "ChangeBatch": {"Changes": [
                {"Action": "DELETE", "ResourceRecordSet": rr}]}})
        # CloudFront lets go of the certificate a while after the delete.
        self.aws.fail("acm", "delete_certificate", "ResourceInUseException",
                      params={"CertificateArn": sc.CERT_ARN})
        self.aws.expect("acm", "delete_certificate", params={"CertificateArn": sc.CERT_ARN})

    def group_polls(self, polls_until_gone):
        for _ in range(polls_until_gone):
            self.aws.expect("autoscaling", "describe_auto_scaling_groups", {
                "AutoScalingGroups": [sc.group("Delete in progress")]},
                params={"AutoScalingGroupNames": [sc.NAME]})
        self.aws.expect("autoscaling", "describe_auto_scaling_groups", {"AutoScalingGroups": []},
                        params={"AutoScalingGroupNames": [sc.NAME]})

    def delete_group(self, polls_until_gone=2):
        self.aws.expect("autoscaling", "describe_auto_scaling_groups", {
            "AutoScalingGroups": [sc.group()]}, params={"AutoScalingGroupNames": [sc.NAME]})
        self.aws.expect("autoscaling", "delete_auto_scaling_group",
                        params={"AutoScalingGroupName": sc.NAME, "ForceDelete": True})
        self.group_polls(polls_until_gone)

    def delete_compute(self):
        self.aws.expect("ec2", "describe_launch_templates", {"LaunchTemplates": [
            {"LaunchTemplateId": sc.LT, "LaunchTemplateName": sc.NAME}]},
            params={"LaunchTemplateNames": [sc.NAME]})
        self.aws.expect("ec2", "delete_launch_template", {"LaunchTemplate": {
            "LaunchTemplateId": sc.LT}}, params={"LaunchTemplateId": sc.LT})
        self.aws.expect("elbv2", "describe_load_balancers", {"LoadBalancers": [
            sc.load_balancer()]}, params={"Names": [sc.NAME]})
        self.aws.expect("elbv2", "describe_listeners", {"Listeners": [
            {"ListenerArn": sc.LISTENER_ARN, "Port": 80, "Protocol": "HTTP"}]},
            params={"LoadBalancerArn": sc.LB_ARN})
        self.aws.expect("elbv2", "delete_listener", params={"ListenerArn": sc.LISTENER_ARN})
        self.aws.expect("elbv2", "delete_load_balancer", params={"LoadBalancerArn": sc.LB_ARN})
        self.aws.expect("elbv2", "describe_load_balancers", {"LoadBalancers": [
            sc.load_balancer()]}, params={"Names": [sc.NAME]})
        self.aws.fail("elbv2", "describe_load_balancers", "LoadBalancerNotFound",
                      params={"Names": [sc.NAME]})
        self.aws.expect("elbv2", "describe_target_groups", {"TargetGroups": [sc.target_group()]},
                        params={"Names": [sc.NAME]})
        # Still referenced for a moment after the load balancer is gone.
        self.aws.fail("elbv2", "delete_target_group", "ResourceInUse",
                      params={"TargetGroupArn": sc.TG_ARN})
        self.aws.expect("elbv2", "delete_target_group", params={"TargetGroupArn": sc.TG_ARN})

    def delete_security_groups(self):
        # Listed load balancer first: the script must still delete the
        # instances' group (which refers to it) first, once the load
        # balancer's egress rule (which refers to the instances' group) is
        # gone.
        self.aws.expect("ec2", "describe_security_groups", {"SecurityGroups": [
            sc.security_group(sc.NAME + "-lb", sc.LB_SG, sc.LB_RULE, [sc.LB_EGRESS]),
            sc.security_group(sc.NAME + "-instance", sc.INSTANCE_SG, sc.INSTANCE_RULE,
                              [sc.ALL_EGRESS])]},
            params={"Filters": [sc.TAG_FILTER]})
        self.aws.expect("ec2", "revoke_security_group_egress", {"Return": True},
                        params={"GroupId": sc.LB_SG, "IpPermissions": [sc.LB_EGRESS]})
        self.aws.expect("ec2", "delete_security_group", params={"GroupId": sc.INSTANCE_SG})
        self.aws.fail("ec2", "delete_security_group", "DependencyViolation",
                      message="resource sg has a dependent object", params={"GroupId": sc.LB_SG})
        self.aws.expect("ec2", "delete_security_group", params={"GroupId": sc.LB_SG})

    def delete_role(self):
        self.aws.expect("iam", "get_instance_profile", {"InstanceProfile": sc.profile([sc.ROLE])},
                        params={"InstanceProfileName": sc.ROLE})
        self.aws.expect("iam", "remove_role_from_instance_profile",
                        params={"InstanceProfileName": sc.ROLE, "RoleName": sc.ROLE})
        self.aws.expect("iam", "delete_instance_profile", params={"InstanceProfileName": sc.ROLE})
        self.aws.expect("iam", "get_role", {"Role": {
            "Path": "/", "RoleName": sc.ROLE, "RoleId": "AROAEXAMPLEROLEID0001",
            "Arn": sc.ROLE_ARN, "CreateDate": sc.DATE}}, params={"RoleName": sc.ROLE})
        self.aws.expect("iam", "list_role_policies", {"PolicyNames": ["asg-agent", "deploy-read"],
                                                      "IsTruncated": False},
                        params={"RoleName": sc.ROLE})
        for p in ("asg-agent", "deploy-read"):
            self.aws.expect("iam", "delete_role_policy",
                            params={"RoleName": sc.ROLE, "PolicyName": p})
        # Attached by hand after provisioning (Session Manager, say).
        ssm_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
        self.aws.expect("iam", "list_attached_role_policies", {"AttachedPolicies": [
            {"PolicyName": "AmazonSSMManagedInstanceCore", "PolicyArn": ssm_arn}],
            "IsTruncated": False}, params={"RoleName": sc.ROLE})
        self.aws.expect("iam", "detach_role_policy",
                        params={"RoleName": sc.ROLE, "PolicyArn": ssm_arn})
        self.aws.expect("iam", "delete_role", params={"RoleName": sc.ROLE})

    def delete_network(self):
        in_vpc = {"Name": "vpc-id", "Values": [sc.VPC]}
        self.aws.expect("ec2", "describe_vpcs", {"Vpcs": [{"VpcId": sc.VPC}]},
                        params={"Filters": [sc.TAG_FILTER]})
        self.aws.expect("ec2", "describe_route_tables", {"RouteTables": [sc.route_table()]},
                        params={"Filters": [in_vpc, sc.TAG_FILTER]})
        for i in range(2):
            self.aws.expect("ec2", "disassociate_route_table",
                            params={"AssociationId": "rtbassoc-%d" % i})
        self.aws.expect("ec2", "delete_route_table", params={"RouteTableId": sc.RT})
        self.aws.expect("ec2", "describe_internet_gateways", {"InternetGateways": [
            {"InternetGatewayId": sc.IGW, "Attachments": [{"VpcId": sc.VPC}]}]},
            params={"Filters": [{"Name": "attachment.vpc-id", "Values": [sc.VPC]}]})
        self.aws.expect("ec2", "detach_internet_gateway",
                        params={"InternetGatewayId": sc.IGW, "VpcId": sc.VPC})
        self.aws.expect("ec2", "delete_internet_gateway", params={"InternetGatewayId": sc.IGW})
        self.aws.expect("ec2", "describe_subnets", {"Subnets": [
            {"SubnetId": sc.SUBNET_A}, {"SubnetId": sc.SUBNET_B}]},
            params={"Filters": [in_vpc, sc.TAG_FILTER]})
        # The load balancer's network interfaces linger after it is deleted.
        self.aws.fail("ec2", "delete_subnet", "DependencyViolation",
                      params={"SubnetId": sc.SUBNET_A})
        self.aws.expect("ec2", "delete_subnet", params={"SubnetId": sc.SUBNET_A})
        self.aws.expect("ec2", "delete_subnet", params={"SubnetId": sc.SUBNET_B})
        self.aws.expect("ec2", "delete_vpc", params={"VpcId": sc.VPC})

    def nothing_left(self, edge=True):
        if edge:
            self.no_edge()
        self.aws.expect("autoscaling", "describe_auto_scaling_groups", {"AutoScalingGroups": []},
                        params={"AutoScalingGroupNames": [sc.NAME]})
        self.aws.fail("ec2", "describe_launch_templates",
                      "InvalidLaunchTemplateName.NotFoundException",
                      params={"LaunchTemplateNames": [sc.NAME]})
        self.aws.fail("elbv2", "describe_load_balancers", "LoadBalancerNotFound",
                      params={"Names": [sc.NAME]})
        self.aws.fail("elbv2", "describe_target_groups", "TargetGroupNotFound",
                      params={"Names": [sc.NAME]})
        self.aws.expect("ec2", "describe_security_groups", {"SecurityGroups": []},
                        params={"Filters": [sc.TAG_FILTER]})
        self.aws.fail("iam", "get_instance_profile", "NoSuchEntity", status=404,
                      params={"InstanceProfileName": sc.ROLE})
        self.aws.fail("iam", "get_role", "NoSuchEntity", status=404, params={"RoleName": sc.ROLE})
        self.aws.expect("ec2", "describe_vpcs", {"Vpcs": []}, params={"Filters": [sc.TAG_FILTER]})


class Destroy(DestroyCase):
    def test_everything_in_order(self):
        self.delete_edge()
        self.delete_group()
        self.delete_compute()
        self.delete_security_groups()
        self.delete_role()
        self.delete_network()
        self.assertEqual(self.run_provision(), 0)
        self.aws.verify(self)  # the order above, across all services
        # Waits: one poll of the disabled distribution (30 s), a retry of
        # the certificate (30 s), two group polls (15 s), one load
        # balancer poll (10 s), then a retry each for the target group, the
        # LB security group and a subnet (15 s).
        self.assertEqual(self.time.sleeps, [30, 30, 15, 15, 10, 15, 15, 15])
        self.assertIn("is gone", "\n".join(self.lines))

    def test_order_constraints(self):
        # The same run, checked as the constraints AWS imposes rather than
        # as one sequence.
        self.test_everything_in_order()
        ops = [op for _, op in self.aws.mutations()]

        def first(op):
            return ops.index(op)

        def last(op):
            return len(ops) - 1 - ops[::-1].index(op)
        self.assertLess(first("delete_auto_scaling_group"), first("delete_launch_template"))
        self.assertLess(first("delete_listener"), first("delete_load_balancer"))
        self.assertLess(first("delete_load_balancer"), first("delete_target_group"))
        self.assertLess(last("delete_target_group"), first("delete_security_group"))
        self.assertLess(first("remove_role_from_instance_profile"), first("delete_role"))
        self.assertLess(first("delete_role_policy"), first("delete_role"))
        self.assertLess(first("detach_role_policy"), first("delete_role"))
        self.assertLess(last("delete_security_group"), first("delete_subnet"))
        self.assertLess(first("detach_internet_gateway"), first("delete_internet_gateway"))
        self.assertEqual(ops[-1], "delete_vpc")
        # The edge: records before the distribution, disabled before
        # deleted, the certificate and cache policy after it.
        self.assertLess(first("change_resource_record_sets"), first("update_distribution"))
        self.assertLess(first("update_distribution"), first("delete_distribution"))
        self.assertLess(first("delete_distribution"), first("delete_cache_policy"))
        self.assertLess(first("delete_distribution"), first("delete_certificate"))
        self.assertLess(first("revoke_security_group_egress"), first("delete_security_group"))

    def test_twice_is_a_no_op(self):
        self.nothing_left()
        self.assertEqual(self.run_provision(), 0)
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])

    def test_resumes_a_group_already_being_deleted(self):
        self.no_edge()
        self.aws.expect("autoscaling", "describe_auto_scaling_groups", {
            "AutoScalingGroups": [sc.group("Delete in progress")]},
            params={"AutoScalingGroupNames": [sc.NAME]})
        self.group_polls(1)
        self.aws.fail("ec2", "describe_launch_templates",
                      "InvalidLaunchTemplateName.NotFoundException",
                      params={"LaunchTemplateNames": [sc.NAME]})
        self.aws.fail("elbv2", "describe_load_balancers", "LoadBalancerNotFound",
                      params={"Names": [sc.NAME]})
        self.aws.fail("elbv2", "describe_target_groups", "TargetGroupNotFound",
                      params={"Names": [sc.NAME]})
        self.aws.expect("ec2", "describe_security_groups", {"SecurityGroups": []},
                        params={"Filters": [sc.TAG_FILTER]})
        self.aws.fail("iam", "get_instance_profile", "NoSuchEntity", status=404,
                      params={"InstanceProfileName": sc.ROLE})
        self.aws.fail("iam", "get_role", "NoSuchEntity", status=404, params={"RoleName": sc.ROLE})
        self.aws.expect("ec2", "describe_vpcs", {"Vpcs": []}, params={"Filters": [sc.TAG_FILTER]})
        self.assertEqual(self.run_provision(), 0)
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])  # no second DeleteAutoScalingGroup

    def test_bounded_wait_for_the_group(self):
        # The group never finishes deleting: a timeout after the bound,
        # each poll a real DescribeAutoScalingGroups, no later step run.
        provision.WAIT_GROUP_GONE = (60, 15)
        try:
            self.no_edge()
            self.aws.expect("autoscaling", "describe_auto_scaling_groups", {
                "AutoScalingGroups": [sc.group()]}, params={"AutoScalingGroupNames": [sc.NAME]})
            self.aws.expect("autoscaling", "delete_auto_scaling_group",
                            params={"AutoScalingGroupName": sc.NAME, "ForceDelete": True})
            for _ in range(5):  # t = 0, 15, 30, 45, 60
                self.aws.expect("autoscaling", "describe_auto_scaling_groups", {
                    "AutoScalingGroups": [sc.group("Delete in progress")]},
                    params={"AutoScalingGroupNames": [sc.NAME]})
            self.assertEqual(self.run_provision(), 1)
        finally:
            provision.WAIT_GROUP_GONE = (900, 15)
        self.aws.verify(self)
        self.assertEqual(self.time.sleeps, [15, 15, 15, 15])

    def test_other_errors_are_not_retried(self):
        self.no_edge()
        self.delete_group(polls_until_gone=0)
        self.aws.expect("ec2", "describe_launch_templates", {"LaunchTemplates": []},
                        params={"LaunchTemplateNames": [sc.NAME]})
        self.aws.fail("elbv2", "describe_load_balancers", "LoadBalancerNotFound",
                      params={"Names": [sc.NAME]})
        self.aws.expect("elbv2", "describe_target_groups", {"TargetGroups": [sc.target_group()]},
                        params={"Names": [sc.NAME]})
        self.aws.fail("elbv2", "delete_target_group", "AccessDenied", status=403,
                      params={"TargetGroupArn": sc.TG_ARN})
        self.assertEqual(self.run_provision(), 1)
        self.aws.verify(self)
        self.assertEqual(self.time.sleeps, [])


class ExistingSubnets(DestroyCase):
    def test_never_touches_a_vpc_it_did_not_create(self):
        # A stack on --subnets: no tagged VPC, so the network stays.
        self.no_edge()
        self.delete_group(polls_until_gone=0)
        self.delete_compute()
        self.delete_security_groups()
        self.delete_role()
        self.aws.expect("ec2", "describe_vpcs", {"Vpcs": []}, params={"Filters": [sc.TAG_FILTER]})
        self.assertEqual(self.run_provision(), 0)
        self.aws.verify(self)
        for op in ("delete_subnet", "delete_vpc", "delete_route_table", "detach_internet_gateway"):
            self.assertNotIn(("ec2", op), self.aws.mutations())


class DryRunDestroy(DestroyCase):
    def test_the_edge_only_read(self):
        self.delete_edge(dry=True)
        self.nothing_left(edge=False)
        self.assertEqual(self.run_provision("--dry-run"), 0)
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])
        self.assertEqual(self.time.sleeps, [])
        out = "\n".join(self.lines)
        for what in ("delete   records www.example.com A+AAAA", "disable  CloudFront distribution",
                     "delete   CloudFront distribution " + sc.DIST_ID,
                     "delete   cache policy asg-agent-site",
                     "delete   records _x1.www.example.com CNAME",
                     "delete   certificate " + sc.CERT_ARN):
            self.assertIn(what, out)
        self.assertNotIn(sc.SECRET, out)

    def test_only_reads_and_lists_what_would_go(self):
        self.no_edge()
        self.aws.expect("autoscaling", "describe_auto_scaling_groups", {
            "AutoScalingGroups": [sc.group()]}, params={"AutoScalingGroupNames": [sc.NAME]})
        self.aws.expect("ec2", "describe_launch_templates", {"LaunchTemplates": [
            {"LaunchTemplateId": sc.LT, "LaunchTemplateName": sc.NAME}]},
            params={"LaunchTemplateNames": [sc.NAME]})
        self.aws.expect("elbv2", "describe_load_balancers", {"LoadBalancers": [
            sc.load_balancer()]}, params={"Names": [sc.NAME]})
        self.aws.expect("elbv2", "describe_listeners", {"Listeners": [
            {"ListenerArn": sc.LISTENER_ARN, "Port": 80, "Protocol": "HTTP"}]},
            params={"LoadBalancerArn": sc.LB_ARN})
        self.aws.expect("elbv2", "describe_target_groups", {"TargetGroups": [sc.target_group()]},
                        params={"Names": [sc.NAME]})
        self.aws.expect("ec2", "describe_security_groups", {"SecurityGroups": [
            sc.security_group(sc.NAME + "-lb", sc.LB_SG, sc.LB_RULE)]},
            params={"Filters": [sc.TAG_FILTER]})
        self.aws.fail("iam", "get_instance_profile", "NoSuchEntity", status=404,
                      params={"InstanceProfileName": sc.ROLE})
        self.aws.fail("iam", "get_role", "NoSuchEntity", status=404, params={"RoleName": sc.ROLE})
        self.aws.expect("ec2", "describe_vpcs", {"Vpcs": []}, params={"Filters": [sc.TAG_FILTER]})
        self.assertEqual(self.run_provision("--dry-run"), 0)
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])
        self.assertEqual(self.time.sleeps, [])
        out = "\n".join(self.lines)
        for what in ("Auto Scaling group asg-agent", "launch template " + sc.LT,
                     "listener HTTP:80", "load balancer asg-agent", "target group asg-agent",
                     "security group asg-agent-lb"):
            self.assertIn("delete   %s" % what, out)


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
