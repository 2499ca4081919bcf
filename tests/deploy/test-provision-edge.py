#!/usr/bin/python3
"""scripts/provision's edge against botocore's Stubber: --domain from
nothing (hosted zone found by name past a private twin, ACM certificate in
us-east-1, its DNS validation record, bounded waits, the distribution's
alias and certificate, A and AAAA aliases); a rerun that repairs drift in
the security groups, the listener, the secret, the cache policy and the
distribution; the secret found on the listener when the distribution is
gone; --no-cdn; refusals before any change; and --metric-period, whose
Period field Debian's botocore 1.29 does not know (a clear error, tested
here) while a newer botocore does (the success path runs under the python3
on PATH when its botocore has the field)."""

import base64
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stack_scenarios as sc  # noqa: E402
from stubbed_aws import ProvisionTestCase, StubbedAWS, load_provision  # noqa: E402

import botocore  # noqa: E402

provision = load_provision()
S3_ARGS = ["--package", sc.PACKAGE, "--site", sc.SITE]
CHANGE = {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING", "SubmittedAt": sc.DATE}}


def has_period():
    return "Period" in StubbedAWS().clients["autoscaling"].meta.service_model.shape_for(
        "CustomizedMetricSpecification").members


class EdgeCase(ProvisionTestCase):
    def zone_lookup(self):
        self.aws.expect("route53", "list_hosted_zones_by_name", {
            "HostedZones": [{"Id": "/hostedzone/ZOTHER", "Name": "www.example.org.",
                             "CallerReference": "r"}],
            "IsTruncated": False, "MaxItems": "10"},
            params={"DNSName": sc.DOMAIN, "MaxItems": "10"})
        zone = {"Name": "example.com.", "CallerReference": "r"}
        self.aws.expect("route53", "list_hosted_zones_by_name", {"HostedZones": [
            dict(zone, Id="/hostedzone/ZPRIVATE0000000", Config={"PrivateZone": True}),
            dict(zone, Id="/hostedzone/" + sc.ZONE, Config={"PrivateZone": False})],
            "IsTruncated": False, "MaxItems": "10"},
            params={"DNSName": "example.com", "MaxItems": "10"})


def cname_lookup(aws, have=()):
    aws.expect("route53", "list_resource_record_sets", {
        "ResourceRecordSets": list(have), "IsTruncated": False, "MaxItems": "1"},
        params={"HostedZoneId": sc.ZONE, "StartRecordName": "_x1.www.example.com",
                "StartRecordType": "CNAME", "MaxItems": "1"})


class Domain(EdgeCase):
    def certificate_from_nothing(self):
        self.aws.expect("acm", "list_certificates", {"CertificateSummaryList": [
            {"CertificateArn": sc.CERT_ARN.replace("0f1e", "9999"), "DomainName": "other.com"}]},
            params={})
        self.aws.expect("acm", "request_certificate", {"CertificateArn": sc.CERT_ARN}, params={
            "DomainName": sc.DOMAIN, "ValidationMethod": "DNS",
            "IdempotencyToken": "asgagentasgagent", "Tags": sc.TAGS})
        pending = {"CertificateArn": sc.CERT_ARN, "DomainName": sc.DOMAIN,
                   "Status": "PENDING_VALIDATION"}
        # The validation record appears only seconds after the request.
        self.aws.expect("acm", "describe_certificate", {"Certificate": dict(
            pending, DomainValidationOptions=[{"DomainName": sc.DOMAIN}])},
            params={"CertificateArn": sc.CERT_ARN})
        record = {"Name": "_x1.www.example.com.", "Type": "CNAME",
                  "Value": "_y2.acm-validations.aws."}
        with_record = dict(pending, DomainValidationOptions=[{
            "DomainName": sc.DOMAIN, "ValidationStatus": "PENDING_VALIDATION",
            "ResourceRecord": record}])
        self.aws.expect("acm", "describe_certificate", {"Certificate": with_record},
                        params={"CertificateArn": sc.CERT_ARN})
        cname_lookup(self.aws)
        self.aws.expect("route53", "change_resource_record_sets", CHANGE, params={
            "HostedZoneId": sc.ZONE, "ChangeBatch": {"Changes": [{
                "Action": "UPSERT", "ResourceRecordSet": {
                    "Name": record["Name"], "Type": "CNAME", "TTL": 300,
                    "ResourceRecords": [{"Value": record["Value"]}]}}]}})
        self.aws.expect("acm", "describe_certificate", {"Certificate": with_record},
                        params={"CertificateArn": sc.CERT_ARN})
        self.aws.expect("acm", "describe_certificate", {"Certificate": dict(
            with_record, Status="ISSUED")}, params={"CertificateArn": sc.CERT_ARN})

    def test_from_nothing(self):
        self.zone_lookup()
        sc.create_network(self.aws)
        sc.create_security_groups(self.aws)
        sc.create_role(self.aws)
        sc.ami(self.aws)
        sc.create_compute(self.aws, edge=False)
        sc.create_cache_policy(self.aws)
        self.certificate_from_nothing()
        sc.create_distribution(self.aws, domain=sc.DOMAIN, cert=sc.CERT_ARN)
        self.aws.expect("route53", "list_resource_record_sets", {
            "ResourceRecordSets": [], "IsTruncated": False, "MaxItems": "2"},
            params={"HostedZoneId": sc.ZONE, "StartRecordName": sc.DOMAIN,
                    "StartRecordType": "A", "MaxItems": "2"})
        alias = {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": sc.DIST_DOMAIN,
                 "EvaluateTargetHealth": False}
        self.aws.expect("route53", "change_resource_record_sets", CHANGE, params={
            "HostedZoneId": sc.ZONE, "ChangeBatch": {"Changes": [
                {"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": sc.DOMAIN, "Type": t, "AliasTarget": alias}}
                for t in ("A", "AAAA")]}})
        self.assertEqual(self.run_provision("--domain", "WWW.Example.com.", *S3_ARGS), 0,
                         self.output())
        self.aws.verify(self)
        # The record wait (5 s) and the validation wait (15 s), bounded.
        self.assertEqual(self.time.sleeps, [5, 15])
        self.assertIn("Site: https://www.example.com/", self.output())
        [config] = [p["DistributionConfigWithTags"]["DistributionConfig"]
                    for p in self.sent("CreateDistributionWithTags")]
        secret = config["Origins"]["Items"][0]["CustomHeaders"]["Items"][0]["HeaderValue"]
        [rule] = [p for p in self.sent("CreateRule") if p["Priority"] == 2]
        self.assertEqual(rule["Conditions"][0]["HttpHeaderConfig"]["Values"], [secret])
        self.assertNotIn(secret, self.output())

    def test_certificate_that_never_validates_times_out(self):
        provision.WAIT_CERT_ISSUED = (60, 15)
        try:
            self.zone_lookup()
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
            self.aws.expect("acm", "list_certificates", {"CertificateSummaryList": [
                {"CertificateArn": sc.CERT_ARN, "DomainName": sc.DOMAIN}]}, params={})
            self.aws.expect("acm", "list_tags_for_certificate", {"Tags": sc.TAGS},
                            params={"CertificateArn": sc.CERT_ARN})
            record = {"Name": "_x1.www.example.com.", "Type": "CNAME", "Value": "_y2.aws."}
            pending = {"Certificate": {
                "CertificateArn": sc.CERT_ARN, "DomainName": sc.DOMAIN,
                "Status": "PENDING_VALIDATION", "DomainValidationOptions": [
                    {"DomainName": sc.DOMAIN, "ResourceRecord": record}]}}
            self.aws.expect("acm", "describe_certificate", pending,
                            params={"CertificateArn": sc.CERT_ARN})
            # A record of the same name with another value is replaced.
            cname_lookup(self.aws, [{"Name": record["Name"], "Type": "CNAME", "TTL": 300,
                                     "ResourceRecords": [{"Value": "_old.aws."}]}])
            self.aws.expect("route53", "change_resource_record_sets", CHANGE, params={
                "HostedZoneId": sc.ZONE, "ChangeBatch": {"Changes": [{
                    "Action": "UPSERT", "ResourceRecordSet": {
                        "Name": record["Name"], "Type": "CNAME", "TTL": 300,
                        "ResourceRecords": [{"Value": record["Value"]}]}}]}})
            for _ in range(5):  # t = 0, 15, 30, 45, 60
                self.aws.expect("acm", "describe_certificate", pending,
                                params={"CertificateArn": sc.CERT_ARN})
            self.assertEqual(self.run_provision("--domain", sc.DOMAIN, *S3_ARGS), 1)
        finally:
            provision.WAIT_CERT_ISSUED = (1800, 15)
        self.aws.verify(self)
        self.assertEqual(self.time.sleeps, [15, 15, 15, 15])
        # The distribution is not touched with a certificate it cannot use.
        self.assertEqual(self.sent("UpdateDistribution"), [])

    def existing_domain_stack(self, cname_present=True, aliases=("A", "AAAA")):
        self.zone_lookup()
        sc.existing_network(self.aws)
        sc.existing_security_groups(self.aws)
        sc.existing_role(self.aws)
        sc.ami(self.aws)
        sc.existing_launch_template(self.aws)
        sc.existing_target_group(self.aws)
        sc.existing_distribution(self.aws, config=sc.stored_distribution(
            domain=sc.DOMAIN, cert=sc.CERT_ARN))
        sc.existing_load_balancer(self.aws)
        sc.existing_group(self.aws)
        sc.existing_policy(self.aws)
        sc.existing_cache_policy(self.aws)
        self.aws.expect("acm", "list_certificates", {"CertificateSummaryList": [
            {"CertificateArn": sc.CERT_ARN, "DomainName": sc.DOMAIN}]}, params={})
        self.aws.expect("acm", "list_tags_for_certificate", {"Tags": sc.TAGS},
                        params={"CertificateArn": sc.CERT_ARN})
        record = {"Name": "_x1.www.example.com.", "Type": "CNAME", "Value": "_y2.aws."}
        self.aws.expect("acm", "describe_certificate", {"Certificate": {
            "CertificateArn": sc.CERT_ARN, "DomainName": sc.DOMAIN, "Status": "ISSUED",
            "DomainValidationOptions": [{"DomainName": sc.DOMAIN, "ResourceRecord": record}]}},
            params={"CertificateArn": sc.CERT_ARN})
        rr = {"Name": record["Name"], "Type": "CNAME", "TTL": 300,
              "ResourceRecords": [{"Value": record["Value"]}]}
        cname_lookup(self.aws, [rr] if cname_present else [])
        if not cname_present:
            self.aws.expect("route53", "change_resource_record_sets", CHANGE, params={
                "HostedZoneId": sc.ZONE, "ChangeBatch": {"Changes": [{
                    "Action": "UPSERT", "ResourceRecordSet": rr}]}})
        alias = {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": sc.DIST_DOMAIN + ".",
                 "EvaluateTargetHealth": False}
        self.aws.expect("route53", "list_resource_record_sets", {"ResourceRecordSets": [
            {"Name": sc.DOMAIN + ".", "Type": t, "AliasTarget": alias} for t in aliases],
            "IsTruncated": False, "MaxItems": "2"},
            params={"HostedZoneId": sc.ZONE, "StartRecordName": sc.DOMAIN,
                    "StartRecordType": "A", "MaxItems": "2"})

    def test_rerun_changes_nothing(self):
        self.existing_domain_stack()
        self.assertEqual(self.run_provision("--domain", sc.DOMAIN, *S3_ARGS), 0, self.output())
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])
        self.assertEqual(self.time.sleeps, [])
        self.assertIn("Site: https://www.example.com/", self.output())

    def test_rerun_repairs_the_validation_record_and_an_alias(self):
        # The CNAME ACM's renewal needs and the AAAA alias were deleted.
        self.existing_domain_stack(cname_present=False, aliases=("A",))
        self.aws.expect("route53", "change_resource_record_sets", CHANGE, params={
            "HostedZoneId": sc.ZONE, "ChangeBatch": {"Changes": [{
                "Action": "UPSERT", "ResourceRecordSet": {
                    "Name": sc.DOMAIN, "Type": "AAAA", "AliasTarget": {
                        "HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": sc.DIST_DOMAIN,
                        "EvaluateTargetHealth": False}}}]}})
        self.assertEqual(self.run_provision("--domain", sc.DOMAIN, *S3_ARGS), 0, self.output())
        self.aws.verify(self)

    def test_no_hosted_zone_stops_before_any_change(self):
        for name in (sc.DOMAIN, "example.com"):
            self.aws.expect("route53", "list_hosted_zones_by_name", {
                "HostedZones": [], "IsTruncated": False, "MaxItems": "10"},
                params={"DNSName": name, "MaxItems": "10"})
        self.assertEqual(self.run_provision("--domain", sc.DOMAIN, *S3_ARGS), 1)
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])

    def test_hosted_zone_id_must_hold_the_domain(self):
        self.aws.expect("route53", "get_hosted_zone", {"HostedZone": {
            "Id": "/hostedzone/" + sc.ZONE, "Name": "example.org.", "CallerReference": "r"},
            "DelegationSet": {"NameServers": ["ns-1.example."]}}, params={"Id": sc.ZONE})
        self.assertEqual(self.run_provision("--domain", sc.DOMAIN, "--hosted-zone-id", sc.ZONE,
                                            *S3_ARGS), 1)
        self.aws.verify(self)
        self.assertEqual(self.aws.mutations(), [])

    def test_refusals(self):
        self.assertEqual(self.run_provision("--domain", "not a name", *S3_ARGS), 1)
        self.assertEqual(self.run_provision("--domain", sc.DOMAIN, "--no-cdn", *S3_ARGS), 1)
        self.assertEqual(self.run_provision("--hosted-zone-id", sc.ZONE, *S3_ARGS), 1)
        self.assertEqual(self.aws.calls, [])


class Drift(EdgeCase):
    def test_repairs_every_edge_rule(self):
        # By hand: the load balancer's group reopened to the internet and
        # given back its allow-all egress; the listener's default set to
        # forward; the header rule's value changed; the cache policy's
        # MinTTL raised; the distribution's origin pointed elsewhere.
        sc.existing_network(self.aws)
        sc.existing_security_groups(self.aws, lb_ingress=[sc.LB_RULE, sc.OPEN_LB_RULE],
                                    lb_egress=[sc.LB_EGRESS, sc.ALL_EGRESS])
        self.aws.expect("ec2", "revoke_security_group_ingress", {"Return": True}, params={
            "GroupId": sc.LB_SG, "IpPermissions": [sc.OPEN_LB_RULE]})
        self.aws.expect("ec2", "revoke_security_group_egress", {"Return": True}, params={
            "GroupId": sc.LB_SG, "IpPermissions": [sc.ALL_EGRESS]})
        sc.existing_role(self.aws)
        sc.ami(self.aws)
        sc.existing_launch_template(self.aws)
        sc.existing_target_group(self.aws)
        drifted = sc.stored_distribution()
        drifted["Origins"]["Items"][0]["DomainName"] = "old-lb.us-east-1.elb.amazonaws.com"
        sc.existing_distribution(self.aws, config=drifted)
        sc.existing_load_balancer(self.aws, default=sc.FORWARD, rules=[
            sc.described_rule(1, sc.HEALTH_RULE),
            sc.described_rule(2, sc.header_rule("changed-by-hand"))],
            repair_default=sc.FORBIDDEN)
        rule = sc.header_rule(sc.SECRET)  # the distribution's value wins
        self.aws.expect("elbv2", "modify_rule", {"Rules": []}, params=dict(
            rule, RuleArn=sc.described_rule(2, rule)["RuleArn"]))
        sc.existing_group(self.aws)
        sc.existing_policy(self.aws)
        sc.existing_cache_policy(self.aws, config=dict(sc.CACHE_POLICY, MinTTL=1))
        self.aws.expect("cloudfront", "get_cache_policy", {"CachePolicy": {
            "Id": sc.POLICY_ID, "LastModifiedTime": sc.DATE, "CachePolicyConfig": dict(
                sc.CACHE_POLICY, MinTTL=1)}, "ETag": "E7ETAG"}, params={"Id": sc.POLICY_ID})
        self.aws.expect("cloudfront", "update_cache_policy", {"CachePolicy": {
            "Id": sc.POLICY_ID, "LastModifiedTime": sc.DATE, "CachePolicyConfig":
            sc.CACHE_POLICY}}, params={"CachePolicyConfig": sc.CACHE_POLICY,
                                       "Id": sc.POLICY_ID, "IfMatch": "E7ETAG"})
        # The whole configuration goes back: the script's fields as it wants
        # them, the others (caller reference, logging, restrictions) as
        # they were.
        merged = dict(sc.stored_distribution(), **sc.distribution_config(sc.SECRET))
        self.assertEqual(merged["CallerReference"], "asg-agent-asg-agent-0011223344556677")
        self.aws.expect("cloudfront", "update_distribution", {
            "Distribution": sc.distribution_answer(sc.stored_distribution()), "ETag": "E8"},
            params={"DistributionConfig": merged, "Id": sc.DIST_ID, "IfMatch": "E2ETAG"})
        self.assertEqual(self.run_provision(*S3_ARGS), 0, self.output())
        self.aws.verify(self)
        self.assertNotIn(sc.SECRET, self.output())
        self.assertNotIn("changed-by-hand", self.output())

    def test_secret_found_on_the_listener_when_the_distribution_is_gone(self):
        # The distribution was deleted by hand: the new one gets the
        # listener's secret, so the two agree without touching the rule.
        sc.existing_network(self.aws)
        sc.existing_security_groups(self.aws)
        sc.existing_role(self.aws)
        sc.ami(self.aws)
        sc.existing_launch_template(self.aws)
        sc.existing_target_group(self.aws)
        sc.no_distribution(self.aws)
        sc.existing_load_balancer(self.aws)
        sc.existing_group(self.aws)
        sc.existing_policy(self.aws)
        sc.existing_cache_policy(self.aws)
        config = dict(sc.distribution_config(sc.SECRET), CallerReference=sc.ANY)
        self.aws.expect("cloudfront", "create_distribution_with_tags", {
            "Distribution": sc.distribution_answer(sc.stored_distribution(), "InProgress"),
            "ETag": "E2"}, params={"DistributionConfigWithTags": {
                "DistributionConfig": config, "Tags": {"Items": sc.TAGS}}})
        self.assertEqual(self.run_provision(*S3_ARGS), 0, self.output())
        self.aws.verify(self)
        self.assertEqual(self.sent("ModifyRule") + self.sent("CreateRule"), [])
        self.assertNotIn(sc.SECRET, self.output())

    def test_dry_run_of_a_complete_stack_prints_no_secret(self):
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
        self.assertEqual(self.aws.mutations(), [])
        self.assertNotIn(sc.SECRET, self.output())
        self.assertIn("Site: https://%s/" % sc.DIST_DOMAIN, self.output())


class NoCdn(EdgeCase):
    def test_open_load_balancer_and_no_cloudfront(self):
        sc.create_network(self.aws)
        sc.create_security_groups(self.aws, cdn=False)
        sc.create_role(self.aws)
        sc.ami(self.aws)
        sc.create_compute(self.aws, cdn=False)
        self.assertEqual(self.run_provision("--no-cdn", *S3_ARGS), 0, self.output())
        self.aws.verify(self)
        self.assertIn("Site: http://%s/" % sc.LB_DNS, self.output())
        self.assertFalse([c for c in self.aws.calls if c[0] in ("cloudfront", "acm", "route53")])

    def test_switching_to_no_cdn_drops_the_header_rule(self):
        sc.existing_network(self.aws)
        sc.existing_security_groups(self.aws, cdn=False)
        self.aws.expect("ec2", "authorize_security_group_ingress", {"Return": True}, params={
            "GroupId": sc.LB_SG, "IpPermissions": [sc.OPEN_LB_RULE]})
        self.aws.expect("ec2", "revoke_security_group_ingress", {"Return": True}, params={
            "GroupId": sc.LB_SG, "IpPermissions": [sc.LB_RULE]})
        sc.existing_role(self.aws)
        sc.ami(self.aws)
        sc.existing_launch_template(self.aws)
        sc.existing_target_group(self.aws)
        sc.existing_load_balancer(self.aws, repair_default=sc.FORWARD)
        self.aws.expect("elbv2", "delete_rule", params={
            "RuleArn": sc.described_rule(2, sc.HEALTH_RULE)["RuleArn"]})
        sc.existing_group(self.aws)
        sc.existing_policy(self.aws)
        self.assertEqual(self.run_provision("--no-cdn", *S3_ARGS), 0, self.output())
        self.aws.verify(self)
        self.assertNotIn(sc.SECRET, self.output())


class MetricPeriod(EdgeCase):
    @unittest.skipIf(has_period(), "this botocore knows Period")
    def test_old_botocore_gets_a_clear_error_before_any_call(self):
        # Debian 12's botocore (1.29.27) has no CustomizedMetricSpecification.Period.
        import contextlib
        import io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = self.run_provision("--metric-period", "10", *S3_ARGS)
        self.assertEqual(rc, 1)
        self.assertEqual(self.aws.calls, [])
        self.assertIn("--metric-period needs botocore 1.35.68 or later", err.getvalue())
        self.assertIn("this is botocore %s" % botocore.__version__, err.getvalue())

    def test_bad_period(self):
        import contextlib
        import io
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            provision.parse_args(["--metric-period", "20"])
        with self.assertRaises(provision.StackError):
            provision.Settings(metric_period=20)

    @unittest.skipUnless(has_period(), "this botocore has no Period (see the other python3)")
    def test_period_in_the_policy_and_the_user_data(self):
        tracking = {"CustomizedMetricSpecification": dict(
            sc.TRACKING["CustomizedMetricSpecification"], Period=10),
            "TargetValue": 50.0, "DisableScaleIn": False}
        text = base64.b64decode(sc.lt_data()["UserData"]).decode()
        text = text.replace("ASG_AGENT_PERIOD='60'", "ASG_AGENT_PERIOD='10'")
        data = dict(sc.lt_data(), UserData=base64.b64encode(text.encode()).decode())
        sc.create_network(self.aws)
        sc.create_security_groups(self.aws)
        sc.create_role(self.aws)
        sc.ami(self.aws)
        sc.create_compute(self.aws, data=data, tracking=tracking)
        self.assertEqual(self.run_provision("--metric-period", "10", *S3_ARGS), 0,
                         self.output())
        self.aws.verify(self)
        self.assertIn("at 50, 10 s", self.output())

    def test_success_path_under_a_newer_botocore(self):
        """The test above, run by the python3 on PATH when it has a botocore
        with Period (and this one has not)."""
        if has_period() or os.environ.get("ASG_EDGE_CHILD"):
            self.skipTest("covered in this interpreter")
        cmd = ["python3", os.path.abspath(__file__),
               "MetricPeriod.test_period_in_the_policy_and_the_user_data"]
        probe = subprocess.run(["python3", "-c", "import boto3, botocore.session as s; "
                                "assert 'Period' in s.get_session().get_service_model("
                                "'autoscaling').shape_for('CustomizedMetricSpecification')"
                                ".members"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        if probe.returncode != 0:
            self.skipTest("no python3 on PATH with boto3 and botocore >= 1.35.68")
        r = subprocess.run(cmd, env=dict(os.environ, ASG_EDGE_CHILD="1"),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("OK", r.stdout)
        self.assertNotIn("skipped", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
