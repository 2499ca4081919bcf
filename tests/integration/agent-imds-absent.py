"""asg-agent off EC2: no IMDS at boot (connection refused).  It says so
once, still reports READY=1, and runs what it can: credentials from the
environment, region from AWS_REGION, the group from the config, metrics
published.  `asg-agent status` shows IMDS absent; `asg-agent metadata`
fails with a message and exit status 1."""

import json
import os
import socket

import agentlib
from agentlib import check

AKID = "AKIDAGENTTESTSTATIC1"
SECRET = "agent-test-static-secret-key/0123456789"


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "http://127.0.0.1:%d" % port


def test(tmp):
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    aws = agentlib.client.start_aws(state=agentlib.AWS_STATE,
                                    credentials=[{"AccessKeyId": AKID, "SecretAccessKey": SECRET}])
    config = agentlib.base_config(tmp, proc.path)
    config["auto_scaling_group_name"] = "web-asg"
    agent = agentlib.Agent(tmp, config, {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": closed_port_url(),
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": AKID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
    })
    try:
        check(agent.notify.wait_for("READY=1", 10), "no READY=1 without IMDS: %s" % agent.stderr())
        check(agentlib.wait_until(lambda: len(agentlib.metric_points(aws)) >= 3, 8),
              "nothing published without IMDS")
        doc = json.loads(agent.cli("status").stdout)
        check(doc["imds"] == "absent" and doc["instance_id"] is None, "status: %r" % doc)
        check(doc["credentials"] == "environment" and doc["region_source"] == "AWS_REGION",
              "status: %r" % doc)
        check(doc["auto_scaling_group_source"] == "config", "status: %r" % doc)
        md = agent.cli("metadata", "instance-id")
        check(md.returncode == 1 and "IMDS" in md.stderr, "metadata off EC2: %r" % (md,))
        rc = agent.terminate()
        check(rc == 0, "exit status %s" % rc)
        stderr = agent.stderr()
        check(stderr.count("instance metadata (IMDSv2) unavailable") == 1,
              "IMDS absence not logged exactly once: %s" % stderr)
        check(SECRET not in stderr, "the secret key was logged")
        calls = aws.calls(action="PutMetricData")
        check(calls and all(c["status"] == 200 and c["access_key_id"] == AKID for c in calls),
              "calls: %r" % calls)
        points = agentlib.metric_points(aws)
        check(all(p["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": "web-asg"}]
                  for p in points), "dimensions: %r" % points)
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()
        aws.stop()
        proc.stop()


agentlib.run(test)
