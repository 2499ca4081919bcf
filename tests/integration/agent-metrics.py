"""asg-agent against the IMDS and AWS stand-ins: identity and group from
IMDS and DescribeAutoScalingInstances, instance-profile credentials, one
PutMetricData per period whose StatisticValues come from a known /proc/stat
sequence, every request's signature equal to botocore's (the stand-in
recomputes it with SigV4Auth and refuses any other), READY=1 and STATUS=
through NOTIFY_SOCKET, `asg-agent status` from the running daemon, and
SIGTERM flushing the current period before exit 0."""

import json
import os
import time

import agentlib
from agentlib import check

PERIOD_MS = 1000


def exercise(tmp, proc, imds, aws):
    config = agentlib.base_config(tmp, proc.path)
    agent = agentlib.Agent(tmp, config, {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH": aws.url,
        "AWS_ENDPOINT_URL_AUTO_SCALING": aws.url,
        "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": aws.url,
    }, period_ms=PERIOD_MS)
    try:
        check(agent.notify.wait_for("READY=1", 10), "no READY=1: %s" % agent.stderr())
        # Periods at 30 %, then at 75 %.
        agentlib.wait_until(lambda: len(agentlib.metric_points(aws)) >= 3, 8)
        proc.set_step(agentlib.STEP_75)
        agentlib.wait_until(lambda: sum(1 for p in agentlib.metric_points(aws)
                                        if p["StatisticValues"]["Minimum"] > 74.9) >= 2, 8)

        status = agent.cli("status")
        check(status.returncode == 0, "status failed: %s" % status.stderr)
        doc = json.loads(status.stdout)
        check(doc["instance_id"] == agentlib.INSTANCE_ID, "status: %r" % doc)
        check(doc["region"] == "us-east-1" and doc["region_source"] == "imds", "status: %r" % doc)
        check(doc["auto_scaling_group"] == agentlib.GROUP, "status: %r" % doc)
        check(doc["auto_scaling_group_source"] == "DescribeAutoScalingInstances",
              "status: %r" % doc)
        check(doc["credentials"] == "instance-profile", "status: %r" % doc)
        check(doc["metrics"]["last_publish_result"] == "ok", "status: %r" % doc)

        term_at_ms = int(time.time() * 1000)
        rc = agent.terminate()
        check(rc == 0, "exit status %s after SIGTERM: %s" % (rc, agent.stderr()))
        agent.notify.drain()
        check(any(m.startswith("STATUS=published") for m in agent.notify.messages),
              "no STATUS=published in %r" % agent.notify.messages)
        return term_at_ms, agent.stderr()
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()


def test(tmp):
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    with agentlib.client.start_imds() as imds, \
            agentlib.client.start_aws(state=agentlib.AWS_STATE, trust_imds=[imds.url]) as aws:
        try:
            term_at_ms, stderr = exercise(tmp, proc, imds, aws)
        finally:
            proc.stop()
        calls = aws.calls()
        points = agentlib.metric_points(aws)

    # Every request was accepted: its signature equals botocore's and its
    # parameters pass botocore's model.
    bad = [c for c in calls if c["status"] != 200]
    check(not bad, "refused calls: %r" % bad)
    check(any(c["action"] == "DescribeAutoScalingInstances" for c in calls),
          "the group was not looked up")
    puts = [c for c in calls if c["action"] == "PutMetricData"]
    # Every datum sent is stored once.  A call may carry two periods when
    # the loop ran late (a loaded machine); that is correct, so count data,
    # not calls.
    sent = sum(len(c["params"]["MetricData"]) for c in puts)
    check(sent == len(points), "%d data in %d calls, %d points stored" % (
        sent, len(puts), len(points)))
    check(all(c["service"] == "monitoring" and c["region"] == "us-east-1" for c in puts),
          "wrong scope: %r" % puts[0])

    stamps = [agentlib.timestamp_ms(p) for p in points]
    check(stamps == sorted(set(stamps)), "timestamps not increasing: %r" % stamps)
    check(all(t % PERIOD_MS == 0 for t in stamps), "timestamps not aligned: %r" % stamps)
    check(all(b - a == PERIOD_MS for a, b in zip(stamps, stamps[1:])),
          "a period is missing: %r" % stamps)
    # The period SIGTERM interrupted was flushed.
    check(stamps[-1] == term_at_ms - term_at_ms % PERIOD_MS or
          stamps[-1] == term_at_ms - term_at_ms % PERIOD_MS - PERIOD_MS,
          "last period %d not flushed at SIGTERM %d" % (stamps[-1], term_at_ms))

    for p in points:
        check(p["Namespace"] == "ASGAgent" and p["Unit"] == "Percent", "point: %r" % p)
        check(p["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": agentlib.GROUP}],
              "dimensions: %r" % p["Dimensions"])
        check(p["StorageResolution"] == 1, "a 1 s test period is high resolution: %r" % p)
        sv = p["StatisticValues"]
        check(sv["SampleCount"] >= 1, "SampleCount: %r" % sv)
        check(sv["Minimum"] <= sv["Sum"] / sv["SampleCount"] + 1e-9 <= sv["Maximum"] + 2e-9,
              "inconsistent statistics: %r" % sv)
        check(29.999 < sv["Minimum"] and sv["Maximum"] < 75.001, "outside the sequence: %r" % sv)
    # The first full periods are exactly 30 % (guest counted once, iowait
    # idle, steal busy), the last full ones exactly 75 %.
    full = [p["StatisticValues"] for p in points[1:-1]]
    check(any(abs(sv["Minimum"] - 30) < 1e-9 and abs(sv["Maximum"] - 30) < 1e-9 and
              abs(sv["Sum"] / sv["SampleCount"] - 30) < 1e-9 for sv in full),
          "no period at exactly 30 %%: %r" % full)
    check(any(abs(sv["Minimum"] - 75) < 1e-9 and abs(sv["Sum"] / sv["SampleCount"] - 75) < 1e-9
              for sv in full), "no period at exactly 75 %%: %r" % full)
    # About ten 100 ms samples per 1 s period.
    check(any(8 <= sv["SampleCount"] <= 11 for sv in full), "sample counts: %r" % full)
    check("SecretAccessKey" not in stderr and "Token" not in stderr, "a secret was logged")


agentlib.run(test)
