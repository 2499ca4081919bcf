"""The scenarios of the provision tests: the calls scripts/provision must
make, in order, with the parameters the walkthrough's architecture needs,
and the answers AWS would give.  The values here are written out, not taken
from the script, so a changed threshold or a lost rule fails a test."""

import base64
import json
import os

from botocore.stub import ANY
from stubbed_aws import TOP_SRCDIR

NAME = "asg-agent"
TAGS = [{"Key": "Name", "Value": NAME}, {"Key": "asg-agent:stack", "Value": NAME}]
TAG_FILTER = {"Name": "tag:asg-agent:stack", "Values": [NAME]}
VPC = "vpc-0a1b2c3d4e5f60001"
SUBNET_A, SUBNET_B = "subnet-0a0000000000000a1", "subnet-0b0000000000000b2"
IGW = "igw-0c0000000000000c3"
RT = "rtb-0d0000000000000d4"
LB_SG, INSTANCE_SG = "sg-0e0000000000000e5", "sg-0f0000000000000f6"
LT = "lt-0123456789abcdef0"
AMI, NEW_AMI = "ami-0fedcba9876543210", "ami-0aaaaaaaaaaaaaaa1"
ACCOUNT = "123456789012"
TG_ARN = "arn:aws:elasticloadbalancing:us-east-1:%s:targetgroup/%s/0123456789abcdef" % (ACCOUNT,
                                                                                      NAME)
LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:%s:loadbalancer/app/%s/fedcba9876543210" % (
    ACCOUNT, NAME)
LISTENER_ARN = LB_ARN.replace(":loadbalancer/", ":listener/") + "/0011223344556677"
LB_DNS = "%s-1234567890.us-east-1.elb.amazonaws.com" % NAME
ROLE = NAME + "-instance"
ROLE_ARN = "arn:aws:iam::%s:role/%s" % (ACCOUNT, ROLE)
PROFILE_ARN = "arn:aws:iam::%s:instance-profile/%s" % (ACCOUNT, ROLE)
DATE = "2026-11-28T06:00:00Z"

# The seed's target group probe, written out: interval 5 s, timeout 2 s,
# healthy after 5, unhealthy after 2.
HEALTH_CHECK = {
    "HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port", "HealthCheckEnabled": True,
    "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 5,
    "HealthCheckTimeoutSeconds": 2, "HealthyThresholdCount": 5, "UnhealthyThresholdCount": 2,
    "Matcher": {"HttpCode": "200"},
}
HOOKS = [
    {"LifecycleHookName": "asg-agent-launching",
     "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
     "HeartbeatTimeout": 300, "DefaultResult": "ABANDON"},
    {"LifecycleHookName": "asg-agent-terminating",
     "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
     "HeartbeatTimeout": 300, "DefaultResult": "CONTINUE"},
]
TRACKING = {
    "CustomizedMetricSpecification": {
        "MetricName": "CPUUtilization", "Namespace": "ASGAgent",
        "Dimensions": [{"Name": "AutoScalingGroupName", "Value": NAME}],
        "Statistic": "Average", "Unit": "Percent"},
    "TargetValue": 50.0, "DisableScaleIn": False,
}
METADATA = {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1,
            "InstanceMetadataTags": "enabled"}
PREFIX_LIST = "pl-3b927c52"
LB_RULE = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
           "PrefixListIds": [{"PrefixListId": PREFIX_LIST,
                              "Description": "HTTP from CloudFront's origin-facing servers"}]}
OPEN_LB_RULE = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTP from anywhere"}]}
LB_EGRESS = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
             "UserIdGroupPairs": [{"GroupId": INSTANCE_SG,
                                   "Description": "HTTP to the instances only"}]}
ALL_EGRESS = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
INSTANCE_RULE = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                 "UserIdGroupPairs": [{"GroupId": LB_SG,
                                       "Description": "HTTP from the load balancer"}]}

# The edge.
SECRET = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycA"  # what a rerun finds
DIST_ID = "E2QWRUHEXAMPLE"
DIST_DOMAIN = "d111111abcdef8.cloudfront.net"
DIST_ARN = "arn:aws:cloudfront::%s:distribution/%s" % (ACCOUNT, DIST_ID)
POLICY_ID = "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
DOMAIN = "www.example.com"
ZONE = "Z0123456789EXAMPLE"
CERT_ARN = "arn:aws:acm:us-east-1:%s:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" % ACCOUNT
FORBIDDEN = {"Type": "fixed-response", "FixedResponseConfig": {
    "StatusCode": "403", "ContentType": "text/plain", "MessageBody": "Forbidden"}}
FORWARD = {"Type": "forward", "TargetGroupArn": TG_ARN}
HEALTH_RULE = {"Conditions": [{"Field": "path-pattern",
                               "PathPatternConfig": {"Values": ["/health*"]}}],
               "Actions": [FORBIDDEN]}


def header_rule(secret=ANY):
    return {"Conditions": [{"Field": "http-header", "HttpHeaderConfig": {
        "HttpHeaderName": "X-Origin-Verify", "Values": [secret]}}], "Actions": [FORWARD]}


CACHE_POLICY = {
    "Name": NAME + "-site", "Comment": "asg-agent stack %s: the origin's Cache-Control" % NAME,
    "DefaultTTL": 0, "MaxTTL": 31536000, "MinTTL": 0,
    "ParametersInCacheKeyAndForwardedToOrigin": {
        "EnableAcceptEncodingGzip": True, "EnableAcceptEncodingBrotli": True,
        "HeadersConfig": {"HeaderBehavior": "none"}, "CookiesConfig": {"CookieBehavior": "none"},
        "QueryStringsConfig": {"QueryStringBehavior": "none"}}}
METHODS = {"Quantity": 2, "Items": ["GET", "HEAD"],
           "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}


def distribution_config(secret=ANY, domain=None, cert=None, origin=LB_DNS):
    return {
        "Comment": "asg-agent stack " + NAME, "Enabled": True,
        "Aliases": {"Quantity": 1, "Items": [domain]} if domain else {"Quantity": 0},
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "alb", "DomainName": origin,
            "CustomHeaders": {"Quantity": 1, "Items": [
                {"HeaderName": "X-Origin-Verify", "HeaderValue": secret}]},
            "CustomOriginConfig": {
                "HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only",
                "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
                "OriginReadTimeout": 30, "OriginKeepaliveTimeout": 5},
            "ConnectionAttempts": 3, "ConnectionTimeout": 10}]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "alb", "ViewerProtocolPolicy": "redirect-to-https",
            "AllowedMethods": METHODS, "Compress": True, "CachePolicyId": POLICY_ID},
        "CacheBehaviors": {"Quantity": 1, "Items": [{
            "PathPattern": "/health*", "TargetOriginId": "alb",
            "ViewerProtocolPolicy": "redirect-to-https", "AllowedMethods": METHODS,
            "Compress": False, "CachePolicyId": CACHING_DISABLED}]},
        "PriceClass": "PriceClass_100", "HttpVersion": "http2and3", "IsIPV6Enabled": True,
        "ViewerCertificate": {"ACMCertificateArn": cert, "SSLSupportMethod": "sni-only",
                              "MinimumProtocolVersion": "TLSv1.2_2021"} if cert else
        {"CloudFrontDefaultCertificate": True},
    }


def distribution_answer(config, status="Deployed"):
    """What GetDistribution answers: the config plus what AWS adds."""
    return {"Id": DIST_ID, "ARN": DIST_ARN, "Status": status,
            "LastModifiedTime": DATE, "InProgressInvalidationBatches": 0,
            "DomainName": DIST_DOMAIN, "DistributionConfig": config}


def stored_distribution(secret=SECRET, **kw):
    """The distribution's config as GetDistributionConfig answers it:
    everything sent, the caller reference, and defaults AWS fills in."""
    c = distribution_config(secret, **kw)
    c.update(CallerReference="asg-agent-%s-0011223344556677" % NAME, DefaultRootObject="",
             Logging={"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""},
             WebACLId="", Restrictions={"GeoRestriction": {"RestrictionType": "none",
                                                           "Quantity": 0}})
    c["Origins"]["Items"][0]["OriginPath"] = ""
    c["DefaultCacheBehavior"]["AllowedMethods"] = dict(METHODS, Items=["HEAD", "GET"])
    return c
EC2_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}

PACKAGE = "s3://deploy-bucket/pkg/asg-agent_1.0_amd64.deb"
SITE = "s3://deploy-bucket/site/"
S3_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject"],
     "Resource": "arn:aws:s3:::deploy-bucket/pkg/asg-agent_1.0_amd64.deb"},
    {"Effect": "Allow", "Action": ["s3:GetObject"],
     "Resource": "arn:aws:s3:::deploy-bucket/site/*"},
    {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::deploy-bucket",
     "Condition": {"StringLike": {"s3:prefix": ["site/*"]}}},
]}


def agent_policy():
    with open(os.path.join(TOP_SRCDIR, "scripts", "iam-policy.json")) as f:
        return json.load(f)


def user_data(package=PACKAGE, site=SITE):
    """scripts/user-data.yaml with the two marked lines set, base64: what
    the launch template must carry."""
    with open(os.path.join(TOP_SRCDIR, "scripts", "user-data.yaml")) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if line.lstrip().startswith("ASG_AGENT_PACKAGE='"):
            lines[i] = line.split("=")[0] + "='%s'" % package + line[line.index("' #") + 1:]
        if line.lstrip().startswith("ASG_AGENT_SITE='"):
            lines[i] = line.split("=")[0] + "='%s'" % site + line[line.index("' #") + 1:]
    return base64.b64encode("\n".join(lines).encode()).decode()


def lt_data(ami=AMI, package=PACKAGE, site=SITE):
    return {"ImageId": ami, "InstanceType": "t3.micro", "IamInstanceProfile": {"Name": ROLE},
            "SecurityGroupIds": [INSTANCE_SG], "UserData": user_data(package, site),
            "MetadataOptions": METADATA}


def azs(aws):
    aws.expect("ec2", "describe_availability_zones", {"AvailabilityZones": [
        {"ZoneName": z, "State": "available"} for z in ("us-east-1c", "us-east-1a", "us-east-1b")]},
        params={"Filters": [{"Name": "state", "Values": ["available"]},
                            {"Name": "zone-type", "Values": ["availability-zone"]}]})


SUBNET_C = "subnet-0c0000000000000c3"


def create_network(aws, three=False):
    aws.expect("ec2", "describe_vpcs", {"Vpcs": []}, params={"Filters": [TAG_FILTER]})
    aws.expect("ec2", "create_vpc", {"Vpc": {"VpcId": VPC, "CidrBlock": "10.42.0.0/16"}},
               params={"CidrBlock": "10.42.0.0/16",
                       "TagSpecifications": [{"ResourceType": "vpc", "Tags": TAGS}]})
    azs(aws)
    subnets = [(SUBNET_A, "10.42.0.0/20", "us-east-1a"), (SUBNET_B, "10.42.16.0/20", "us-east-1b")]
    if three:
        subnets.append((SUBNET_C, "10.42.32.0/20", "us-east-1c"))
    for sid, cidr, az in subnets:
        aws.expect("ec2", "create_subnet", {"Subnet": {"SubnetId": sid, "AvailabilityZone": az}},
                   params={"VpcId": VPC, "CidrBlock": cidr, "AvailabilityZone": az,
                           "TagSpecifications": [{"ResourceType": "subnet", "Tags": TAGS}]})
        aws.expect("ec2", "modify_subnet_attribute",
                   params={"SubnetId": sid, "MapPublicIpOnLaunch": {"Value": True}})
    aws.expect("ec2", "create_internet_gateway", {"InternetGateway": {"InternetGatewayId": IGW}},
               params={"TagSpecifications": [{"ResourceType": "internet-gateway", "Tags": TAGS}]})
    aws.expect("ec2", "attach_internet_gateway", params={"InternetGatewayId": IGW, "VpcId": VPC})
    aws.expect("ec2", "create_route_table", {"RouteTable": {"RouteTableId": RT}},
               params={"VpcId": VPC,
                       "TagSpecifications": [{"ResourceType": "route-table", "Tags": TAGS}]})
    aws.expect("ec2", "create_route", {"Return": True},
               params={"RouteTableId": RT, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": IGW})
    for i, (sid, _, _) in enumerate(subnets):
        aws.expect("ec2", "associate_route_table", {"AssociationId": "rtbassoc-%d" % i},
                   params={"RouteTableId": RT, "SubnetId": sid})


def prefix_list(aws):
    aws.expect("ec2", "describe_managed_prefix_lists", {"PrefixLists": [
        {"PrefixListId": PREFIX_LIST, "AddressFamily": "IPv4", "State": "create-complete",
         "PrefixListName": "com.amazonaws.global.cloudfront.origin-facing", "MaxEntries": 55,
         "OwnerId": "AWS"}]}, params={"Filters": [
             {"Name": "prefix-list-name",
              "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}]})


def create_security_groups(aws, vpc=VPC, look=False, cdn=True):
    for name, gid, desc in (
            (NAME + "-lb", LB_SG, "asg-agent load balancer: HTTP from %s" % (
                "CloudFront only" if cdn else "anywhere")),
            (NAME + "-instance", INSTANCE_SG,
             "asg-agent instances: HTTP from the load balancer only")):
        if look:
            aws.expect("ec2", "describe_security_groups", {"SecurityGroups": []}, params={
                "Filters": [{"Name": "vpc-id", "Values": [vpc]},
                            {"Name": "group-name", "Values": [name]}]})
        aws.expect("ec2", "create_security_group", {"GroupId": gid}, params={
            "GroupName": name, "Description": desc, "VpcId": vpc, "TagSpecifications": [
                {"ResourceType": "security-group",
                 "Tags": [{"Key": "Name", "Value": name}, TAGS[1]]}]})
    aws.expect("ec2", "authorize_security_group_ingress", {"Return": True},
               params={"GroupId": INSTANCE_SG, "IpPermissions": [INSTANCE_RULE]})
    if cdn:
        prefix_list(aws)
    aws.expect("ec2", "authorize_security_group_ingress", {"Return": True},
               params={"GroupId": LB_SG, "IpPermissions": [LB_RULE if cdn else OPEN_LB_RULE]})
    # Egress: only to the instances; EC2's default allow-all goes.
    aws.expect("ec2", "authorize_security_group_egress", {"Return": True},
               params={"GroupId": LB_SG, "IpPermissions": [LB_EGRESS]})
    aws.expect("ec2", "revoke_security_group_egress", {"Return": True},
               params={"GroupId": LB_SG, "IpPermissions": [ALL_EGRESS]})


def create_role(aws, s3_policy=S3_POLICY):
    aws.fail("iam", "get_role", "NoSuchEntity", status=404, params={"RoleName": ROLE})
    aws.expect("iam", "create_role", {"Role": {
        "Path": "/", "RoleName": ROLE, "RoleId": "AROAEXAMPLEROLEID0001", "Arn": ROLE_ARN,
        "CreateDate": DATE}}, params={
        "RoleName": ROLE, "AssumeRolePolicyDocument": json.dumps(EC2_TRUST),
        "Description": "asg-agent instances: the agent's API actions", "Tags": TAGS})
    aws.expect("iam", "put_role_policy", params={
        "RoleName": ROLE, "PolicyName": "asg-agent", "PolicyDocument": json.dumps(agent_policy())})
    if s3_policy:
        aws.expect("iam", "put_role_policy", params={
            "RoleName": ROLE, "PolicyName": "deploy-read", "PolicyDocument": json.dumps(s3_policy)})
    aws.fail("iam", "get_instance_profile", "NoSuchEntity", status=404,
             params={"InstanceProfileName": ROLE})
    aws.expect("iam", "create_instance_profile", {"InstanceProfile": profile([])},
               params={"InstanceProfileName": ROLE, "Tags": TAGS})
    aws.expect("iam", "add_role_to_instance_profile",
               params={"InstanceProfileName": ROLE, "RoleName": ROLE})


def profile(roles):
    return {"Path": "/", "InstanceProfileName": ROLE, "InstanceProfileId": "AIPAEXAMPLE000001",
            "Arn": PROFILE_ARN, "CreateDate": DATE,
            "Roles": [{"Path": "/", "RoleName": r, "RoleId": "AROAEXAMPLEROLEID0001",
                       "Arn": ROLE_ARN, "CreateDate": DATE} for r in roles]}


def ami(aws, value=AMI):
    aws.expect("ssm", "get_parameter", {"Parameter": {
        "Name": "/aws/service/debian/release/bookworm/latest/amd64", "Type": "String",
        "Value": value}}, params={"Name": "/aws/service/debian/release/bookworm/latest/amd64"})


def create_rule(aws, priority, rule, answer=None):
    arn = LISTENER_ARN.replace(":listener/", ":listener-rule/") + "/%d" % priority
    aws.expect("elbv2", "create_rule", {"Rules": [dict(
        answer or rule, RuleArn=arn, Priority=str(priority))]}, params=dict(rule, ListenerArn=LISTENER_ARN,
                                               Priority=priority))


def no_distribution(aws):
    aws.expect("cloudfront", "list_distributions", {"DistributionList": {
        "Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": 0}}, params={})


def create_cache_policy(aws):
    aws.expect("cloudfront", "list_cache_policies", {"CachePolicyList": {
        "MaxItems": 100, "Quantity": 0}}, params={"Type": "custom"})
    aws.expect("cloudfront", "create_cache_policy", {"CachePolicy": {
        "Id": POLICY_ID, "LastModifiedTime": DATE, "CachePolicyConfig": CACHE_POLICY},
        "ETag": "E1"}, params={"CachePolicyConfig": CACHE_POLICY})


def create_distribution(aws, domain=None, cert=None):
    config = dict(distribution_config(ANY, domain=domain, cert=cert), CallerReference=ANY)
    aws.expect("cloudfront", "create_distribution_with_tags", {
        "Distribution": distribution_answer(stored_distribution(domain=domain, cert=cert),
                                            "InProgress"),
        "ETag": "E2"}, params={"DistributionConfigWithTags": {
            "DistributionConfig": config, "Tags": {"Items": TAGS}}})


def create_compute(aws, subnets=(SUBNET_A, SUBNET_B), vpc=VPC, profile_retries=0, data=None,
                   cdn=True, edge=True, tracking=TRACKING):
    aws.fail("ec2", "describe_launch_templates", "InvalidLaunchTemplateName.NotFoundException",
             params={"LaunchTemplateNames": [NAME]})
    aws.expect("ec2", "create_launch_template", {"LaunchTemplate": {
        "LaunchTemplateId": LT, "LaunchTemplateName": NAME, "LatestVersionNumber": 1}}, params={
        "LaunchTemplateName": NAME, "VersionDescription": "scripts/provision",
        "LaunchTemplateData": data or lt_data(),
        "TagSpecifications": [{"ResourceType": "launch-template", "Tags": TAGS}]})
    aws.fail("elbv2", "describe_target_groups", "TargetGroupNotFound", params={"Names": [NAME]})
    params = {"Name": NAME, "Protocol": "HTTP", "Port": 80, "VpcId": vpc,
              "TargetType": "instance", "Tags": TAGS}
    params.update(HEALTH_CHECK)
    aws.expect("elbv2", "create_target_group", {"TargetGroups": [target_group(vpc)]},
               params=params)
    aws.expect("elbv2", "modify_target_group_attributes", params={
        "TargetGroupArn": TG_ARN,
        "Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]})
    if cdn:
        no_distribution(aws)
    aws.fail("elbv2", "describe_load_balancers", "LoadBalancerNotFound", params={"Names": [NAME]})
    aws.expect("elbv2", "create_load_balancer", {"LoadBalancers": [load_balancer()]}, params={
        "Name": NAME, "Subnets": list(subnets), "SecurityGroups": [LB_SG],
        "Scheme": "internet-facing", "Type": "application", "IpAddressType": "ipv4",
        "Tags": TAGS})
    aws.expect("elbv2", "create_listener", {"Listeners": [
        {"ListenerArn": LISTENER_ARN, "Port": 80, "Protocol": "HTTP"}]}, params={
        "LoadBalancerArn": LB_ARN, "Protocol": "HTTP", "Port": 80,
        "DefaultActions": [FORBIDDEN if cdn else FORWARD]})
    create_rule(aws, 1, HEALTH_RULE)
    if cdn:
        create_rule(aws, 2, header_rule(), answer=header_rule(SECRET))
    aws.expect("autoscaling", "describe_auto_scaling_groups", {"AutoScalingGroups": []},
               params={"AutoScalingGroupNames": [NAME]})
    group = {
        "AutoScalingGroupName": NAME,
        "LaunchTemplate": {"LaunchTemplateId": LT, "Version": "$Latest"},
        "MinSize": 2, "MaxSize": 4, "DesiredCapacity": 2,
        "VPCZoneIdentifier": ",".join(subnets), "TargetGroupARNs": [TG_ARN],
        "HealthCheckType": "ELB", "HealthCheckGracePeriod": 120,
        "LifecycleHookSpecificationList": HOOKS,
        "Tags": [dict(t, PropagateAtLaunch=True) for t in TAGS]}
    for _ in range(profile_retries):
        aws.fail("autoscaling", "create_auto_scaling_group", "ValidationError",
                 message="You must use a valid fully-formed launch template. Value (%s) for "
                 "parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile "
                 "name" % ROLE, params=group)
    aws.expect("autoscaling", "create_auto_scaling_group", params=group)
    aws.expect("autoscaling", "put_scaling_policy", {"PolicyARN": "arn:policy"}, params={
        "AutoScalingGroupName": NAME, "PolicyName": "asg-agent-target-tracking",
        "PolicyType": "TargetTrackingScaling", "TargetTrackingConfiguration": tracking})
    if cdn and edge:
        create_cache_policy(aws)
        create_distribution(aws)


def target_group(vpc=VPC, **overrides):
    tg = {"TargetGroupArn": TG_ARN, "TargetGroupName": NAME, "Protocol": "HTTP", "Port": 80,
          "VpcId": vpc, "TargetType": "instance"}
    tg.update(HEALTH_CHECK)
    tg.update(overrides)
    return tg


def load_balancer(subnets=None):
    subnets = subnets or ((SUBNET_A, "us-east-1a"), (SUBNET_B, "us-east-1b"))
    return {"LoadBalancerArn": LB_ARN, "DNSName": LB_DNS, "LoadBalancerName": NAME,
            "Scheme": "internet-facing", "VpcId": VPC, "State": {"Code": "provisioning"},
            "Type": "application",
            "AvailabilityZones": [{"ZoneName": az, "SubnetId": sid} for sid, az in subnets]}


def create_everything(aws, profile_retries=0):
    create_network(aws)
    create_security_groups(aws)
    create_role(aws)
    ami(aws)
    create_compute(aws, profile_retries=profile_retries)


# ---- the stack as it stands once created: the answers of a rerun ----

def existing_network(aws):
    aws.expect("ec2", "describe_vpcs", {"Vpcs": [{"VpcId": VPC, "CidrBlock": "10.42.0.0/16"}]},
               params={"Filters": [TAG_FILTER]})
    azs(aws)
    aws.expect("ec2", "describe_subnets", {"Subnets": [
        {"SubnetId": SUBNET_B, "AvailabilityZone": "us-east-1b", "VpcId": VPC},
        {"SubnetId": SUBNET_A, "AvailabilityZone": "us-east-1a", "VpcId": VPC}]},
        params={"Filters": [{"Name": "vpc-id", "Values": [VPC]}, TAG_FILTER]})
    aws.expect("ec2", "describe_internet_gateways", {"InternetGateways": [
        {"InternetGatewayId": IGW, "Attachments": [{"VpcId": VPC, "State": "available"}]}]},
        params={"Filters": [{"Name": "attachment.vpc-id", "Values": [VPC]}]})
    aws.expect("ec2", "describe_route_tables", {"RouteTables": [route_table()]},
               params={"Filters": [{"Name": "vpc-id", "Values": [VPC]}, TAG_FILTER]})


def route_table():
    return {"RouteTableId": RT, "VpcId": VPC,
            "Routes": [{"DestinationCidrBlock": "10.42.0.0/16", "GatewayId": "local"},
                       {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": IGW}],
            "Associations": [{"RouteTableAssociationId": "rtbassoc-%d" % i, "SubnetId": sid,
                              "RouteTableId": RT, "Main": False}
                             for i, sid in enumerate((SUBNET_A, SUBNET_B))]}


def security_group(name, gid, rule, egress=None):
    return {"GroupName": name, "GroupId": gid, "VpcId": VPC, "Description": "d",
            "IpPermissions": [rule] if rule else [], "IpPermissionsEgress": egress or []}


def existing_security_groups(aws, lb_ingress=(LB_RULE,), lb_egress=(LB_EGRESS,), cdn=True):
    for name, gid, ingress, egress in (
            (NAME + "-lb", LB_SG, lb_ingress, lb_egress),
            (NAME + "-instance", INSTANCE_SG, [INSTANCE_RULE], [ALL_EGRESS])):
        aws.expect("ec2", "describe_security_groups", {"SecurityGroups": [
            dict(security_group(name, gid, None), IpPermissions=list(ingress),
                 IpPermissionsEgress=list(egress))]}, params={
            "Filters": [{"Name": "vpc-id", "Values": [VPC]},
                        {"Name": "group-name", "Values": [name]}]})
    if cdn:
        prefix_list(aws)


def existing_role(aws, policy=None, s3_policy=S3_POLICY):
    aws.expect("iam", "get_role", {"Role": {
        "Path": "/", "RoleName": ROLE, "RoleId": "AROAEXAMPLEROLEID0001", "Arn": ROLE_ARN,
        "CreateDate": DATE}}, params={"RoleName": ROLE})
    for pname, doc in (("asg-agent", policy or agent_policy()), ("deploy-read", s3_policy)):
        if doc is None:
            continue
        aws.expect("iam", "get_role_policy", {"RoleName": ROLE, "PolicyName": pname,
                                              "PolicyDocument": json.dumps(doc)},
                   params={"RoleName": ROLE, "PolicyName": pname})
    if s3_policy is None:
        return  # the caller continues the scenario
    aws.expect("iam", "get_instance_profile", {"InstanceProfile": profile([ROLE])},
               params={"InstanceProfileName": ROLE})


def existing_launch_template(aws, data=None):
    aws.expect("ec2", "describe_launch_templates", {"LaunchTemplates": [
        {"LaunchTemplateId": LT, "LaunchTemplateName": NAME, "LatestVersionNumber": 1}]},
        params={"LaunchTemplateNames": [NAME]})
    current = lt_data() if data is None else data
    # What EC2 answers carries more than what was sent.
    current = dict(current, MetadataOptions=dict(current["MetadataOptions"],
                                                 State="applied", HttpProtocolIpv6="disabled"))
    aws.expect("ec2", "describe_launch_template_versions", {"LaunchTemplateVersions": [
        {"LaunchTemplateId": LT, "VersionNumber": 1, "LaunchTemplateData": current}]},
        params={"LaunchTemplateId": LT, "Versions": ["$Latest"]})


def existing_target_group(aws, delay="30", **overrides):
    aws.expect("elbv2", "describe_target_groups",
               {"TargetGroups": [target_group(**overrides)]}, params={"Names": [NAME]})
    aws.expect("elbv2", "describe_target_group_attributes", {"Attributes": [
        {"Key": "stickiness.enabled", "Value": "false"},
        {"Key": "deregistration_delay.timeout_seconds", "Value": delay}]},
        params={"TargetGroupArn": TG_ARN})


def described_rule(priority, rule):
    """A rule as DescribeRules answers it: conditions carry Values too."""
    conditions = []
    for c in rule["Conditions"]:
        c = dict(c)
        if c["Field"] == "path-pattern":
            c["Values"] = c["PathPatternConfig"]["Values"]
        conditions.append(c)
    actions = [dict(a, Order=i + 1) for i, a in enumerate(rule["Actions"])]
    for a in actions:
        if a["Type"] == "forward":
            a["ForwardConfig"] = {"TargetGroups": [{"TargetGroupArn": TG_ARN, "Weight": 1}]}
    return {"RuleArn": LISTENER_ARN.replace(":listener/", ":listener-rule/") + "/%d" % priority,
            "Priority": str(priority), "Conditions": conditions, "Actions": actions,
            "IsDefault": False}


def existing_load_balancer(aws, expect_subnets=None, rules=None, default=FORBIDDEN,
                           secret=SECRET, repair_default=None):
    aws.expect("elbv2", "describe_load_balancers", {"LoadBalancers": [
        dict(load_balancer(), State={"Code": "active"})]}, params={"Names": [NAME]})
    if expect_subnets:
        aws.expect("elbv2", "set_subnets", {"AvailabilityZones": []},
                   params={"LoadBalancerArn": LB_ARN, "Subnets": expect_subnets})
    aws.expect("elbv2", "describe_listeners", {"Listeners": [
        {"ListenerArn": LISTENER_ARN, "Port": 80, "Protocol": "HTTP",
         "LoadBalancerArn": LB_ARN, "DefaultActions": [dict(default, Order=1)]}]},
        params={"LoadBalancerArn": LB_ARN})
    if repair_default:
        aws.expect("elbv2", "modify_listener", {"Listeners": []}, params={
            "ListenerArn": LISTENER_ARN, "DefaultActions": [repair_default]})
    if rules is None:
        rules = [described_rule(1, HEALTH_RULE), described_rule(2, header_rule(secret))]
    aws.expect("elbv2", "describe_rules", {"Rules": rules + [{
        "RuleArn": LISTENER_ARN + "/default", "Priority": "default", "Conditions": [],
        "Actions": [dict(default, Order=1)], "IsDefault": True}]},
        params={"ListenerArn": LISTENER_ARN})


def distribution_summary(config):
    keys = ("Aliases", "Origins", "DefaultCacheBehavior", "CacheBehaviors", "Comment",
            "PriceClass", "Enabled", "ViewerCertificate", "Restrictions", "WebACLId",
            "HttpVersion", "IsIPV6Enabled")
    d = {k: config[k] for k in keys}
    d.update(Id=DIST_ID, ARN=DIST_ARN, Status="Deployed", LastModifiedTime=DATE,
             DomainName=DIST_DOMAIN, CustomErrorResponses={"Quantity": 0}, Staging=False)
    return d


def existing_distribution(aws, config=None):
    """ListDistributions finds it by its comment (past another account
    distribution on a first page), GetDistributionConfig gives the secret."""
    config = config or stored_distribution()
    other = dict(distribution_summary(config), Id="E3OTHEREXAMPLE", Comment="someone else's",
                 DomainName="d222222abcdef8.cloudfront.net")
    aws.expect("cloudfront", "list_distributions", {"DistributionList": {
        "Marker": "", "MaxItems": 1, "IsTruncated": True, "NextMarker": "E3OTHEREXAMPLE",
        "Quantity": 1, "Items": [other]}}, params={})
    aws.expect("cloudfront", "list_distributions", {"DistributionList": {
        "Marker": "E3OTHEREXAMPLE", "MaxItems": 1, "IsTruncated": False, "Quantity": 1,
        "Items": [distribution_summary(config)]}}, params={"Marker": "E3OTHEREXAMPLE"})
    aws.expect("cloudfront", "get_distribution_config", {"DistributionConfig": config,
                                                         "ETag": "E2ETAG"},
               params={"Id": DIST_ID})


def existing_cache_policy(aws, config=CACHE_POLICY):
    aws.expect("cloudfront", "list_cache_policies", {"CachePolicyList": {
        "MaxItems": 100, "Quantity": 1, "Items": [{"Type": "custom", "CachePolicy": {
            "Id": POLICY_ID, "LastModifiedTime": DATE, "CachePolicyConfig": config}}]}},
        params={"Type": "custom"})


def group(status=None):
    g = {"AutoScalingGroupName": NAME, "MinSize": 2, "MaxSize": 4, "DesiredCapacity": 2,
         "DefaultCooldown": 300, "AvailabilityZones": ["us-east-1a", "us-east-1b"],
         "HealthCheckType": "ELB", "CreatedTime": DATE,
         "VPCZoneIdentifier": "%s,%s" % (SUBNET_A, SUBNET_B), "TargetGroupARNs": [TG_ARN]}
    if status:
        g["Status"] = status
    return g


def existing_group(aws, hooks=HOOKS, expect_subnets=None, target_group_attached=True):
    g = group()
    if not target_group_attached:
        g["TargetGroupARNs"] = []
    aws.expect("autoscaling", "describe_auto_scaling_groups",
               {"AutoScalingGroups": [g]}, params={"AutoScalingGroupNames": [NAME]})
    if expect_subnets:
        aws.expect("autoscaling", "update_auto_scaling_group", params={
            "AutoScalingGroupName": NAME, "VPCZoneIdentifier": ",".join(expect_subnets)})
    if not target_group_attached:
        aws.expect("autoscaling", "attach_load_balancer_target_groups", params={
            "AutoScalingGroupName": NAME, "TargetGroupARNs": [TG_ARN]})
    aws.expect("autoscaling", "describe_lifecycle_hooks", {"LifecycleHooks": [
        dict(h, AutoScalingGroupName=NAME, GlobalTimeout=30000) for h in hooks]},
        params={"AutoScalingGroupName": NAME})


def existing_policy(aws, tracking=TRACKING):
    policies = []
    if tracking:
        policies.append({"AutoScalingGroupName": NAME, "PolicyName": "asg-agent-target-tracking",
                         "PolicyType": "TargetTrackingScaling",
                         "TargetTrackingConfiguration": tracking})
    aws.expect("autoscaling", "describe_policies", {"ScalingPolicies": policies}, params={
        "AutoScalingGroupName": NAME, "PolicyNames": ["asg-agent-target-tracking"]})
