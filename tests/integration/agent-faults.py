"""asg-agent's AWS client under faults, against the AWS stand-in:
throttling (400 Throttling) and 503s are retried in the standard retry mode
and nothing is lost; a skewed AWS clock (RequestTimeTooSkewed) is corrected
from the response's Date header; AWS unreachable (connections reset) for
several periods, after which every period is delivered, oldest first, with
its own timestamp, exactly once; `asg-agent status` answering while a call
hangs."""

import os

import agentlib
from agentlib import check

PERIOD_MS = 1000


def puts(aws):
    return [c for c in aws.calls(action="PutMetricData")]


def wait_puts_ok(aws, n, timeout):
    """Waits until n more successful PutMetricData calls were recorded."""
    start = sum(1 for c in puts(aws) if c["status"] == 200)
    ok = agentlib.wait_until(
        lambda: sum(1 for c in puts(aws) if c["status"] == 200) >= start + n, timeout)
    check(ok, "no %d successful PutMetricData within %ss: %r" % (n, timeout, puts(aws)[-6:]))


def exercise(tmp, proc, imds, aws):
    agent = agentlib.Agent(tmp, agentlib.base_config(tmp, proc.path), {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
        "AWS_ENDPOINT_URL": aws.url,
    }, period_ms=PERIOD_MS)
    try:
        check(agent.notify.wait_for("READY=1", 10), "no READY=1: %s" % agent.stderr())
        wait_puts_ok(aws, 1, 6)

        # Throttled twice, then accepted on the third attempt.
        aws.inject({"action": "PutMetricData", "error": "Throttling", "status": 400, "count": 2})
        wait_puts_ok(aws, 1, 10)
        # Two 503s.
        aws.inject({"action": "PutMetricData", "status": 503, "count": 2})
        wait_puts_ok(aws, 1, 10)

        # AWS's clock 15 minutes ahead: the first request is refused as
        # skewed, the retry is signed with AWS's time.
        # Wait for the refusal itself, then an accepted call: a call in
        # flight when the clock moved could count as the accepted one, and
        # the skew was reset before any call met it (seen at load 40).
        aws.control("POST", "clock", {"skew_seconds": 900, "error": "RequestTimeTooSkewed"})
        check(agentlib.wait_until(lambda: aws.calls(error="RequestTimeTooSkewed"), 10),
              "no call refused as skewed")
        wait_puts_ok(aws, 1, 10)
        aws.control("POST", "clock", {"skew_seconds": 0, "error": "SignatureDoesNotMatch"})
        check(agentlib.wait_until(lambda: aws.calls(error="SignatureDoesNotMatch"), 10),
              "no call refused with the learned offset")
        wait_puts_ok(aws, 1, 10)

        # A hanging endpoint blocks the loop in the call; `status` still
        # answers meanwhile.  Proved by order, not by time: the call is
        # held at the stand-in (recorded, no outcome) before `status` and
        # still held after it, and the stand-in holds it for less than the
        # agent's 10 s timeout, so the agent was inside the call.
        aws.inject({"action": "PutMetricData", "delay_ms": 7000, "count": 1})

        def held():
            return [c for c in puts(aws) if c.get("injected") and c["status"] is None]
        check(agentlib.wait_until(held, 10, 0.02), "the delayed call never arrived")
        status = agent.cli("status")
        check(status.returncode == 0, "status during a blocked call: %r" % status)
        check(held(), "status answered only after the blocked call ended: %r" % puts(aws)[-3:])
        wait_puts_ok(aws, 1, 15)
        delayed = [c for c in puts(aws) if c.get("injected")]
        check(not delayed[0].get("client_gone"), "the agent gave up the delayed call")

        # Unreachable for several periods: every attempt reset.
        aws.inject({"action": "PutMetricData", "reset": True, "count": 6})
        agentlib.wait_until(lambda: not aws.control("GET", "inject")["rules"], 20)
        wait_puts_ok(aws, 1, 10)
        rc = agent.terminate()
        check(rc == 0, "exit status %s: %s" % (rc, agent.stderr()))
        return agent.stderr()
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()


def test(tmp):
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    with agentlib.client.start_imds() as imds, \
            agentlib.client.start_aws(state=agentlib.AWS_STATE, trust_imds=[imds.url]) as aws:
        try:
            stderr = exercise(tmp, proc, imds, aws)
        finally:
            proc.stop()
        calls = puts(aws)
        points = agentlib.metric_points(aws)

    errors = [c.get("error") for c in calls if c["status"] != 200]
    check(errors.count("Throttling") == 2, "throttling not retried: %r" % errors)
    check(errors.count("ServiceUnavailable") == 2, "503 not retried: %r" % errors)
    check("RequestTimeTooSkewed" in errors, "no skew error seen: %r" % errors)
    check(sum(1 for c in calls if c["status"] == 0) == 6, "resets: %r" % errors)
    # Back to AWS's real time, the learned offset is now wrong the other
    # way: SignatureDoesNotMatch while the Date header disagrees is a skew.
    check("SignatureDoesNotMatch" in errors, "no skewed SignatureDoesNotMatch: %r" % errors)
    # A skew error is followed by an accepted call: corrected, not given up.
    for i, c in enumerate(calls):
        if c.get("error") in ("RequestTimeTooSkewed", "SignatureDoesNotMatch"):
            check(i + 1 < len(calls) and calls[i + 1]["status"] == 200,
                  "skew not corrected: %r" % calls[i:i + 3])
    check(any(len(c["params"]["MetricData"]) > 1 for c in calls if c["status"] == 200),
          "the backlog was not sent after the outage")

    # Nothing lost, nothing twice, in order of timestamps as received.
    stamps = [agentlib.timestamp_ms(p) for p in points]
    check(stamps == sorted(stamps), "delivered out of order: %r" % stamps)
    check(len(stamps) == len(set(stamps)), "a period was sent twice: %r" % stamps)
    check(all(b - a == PERIOD_MS for a, b in zip(stamps, stamps[1:])),
          "a period was lost: %r" % stamps)
    check("keeping" in stderr, "the failed publish was not logged: %s" % stderr)


agentlib.run(test)
