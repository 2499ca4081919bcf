"""asg-agent's one event loop (issue 10 section 2): no AWS or IMDS call
blocks it.  Every check is an order of events seen at the stand-ins, never
a duration: a call is "held" while the stand-in has recorded it without an
outcome, and the stand-ins hold it for less than the agent's timeout for
that call, so while it is held the agent is waiting for it.

1. While a PutMetricData is held, the lifecycle goes on watching IMDS: an
   IMDS request arrives after the call was seen held, and the call is still
   held afterwards.  `asg-agent status` answers meanwhile and shows the
   lifecycle state.  (Before, the loop sat inside the call; only `status`
   was served, from a hook deep in the HTTP client.)
2. While the lifecycle's IMDS watch read is held, a metric period is
   published: a PutMetricData is accepted after the read was seen held, and
   the read is still held afterwards.
3. SIGTERM while a PutMetricData is held: the call is let end (AWS may
   apply a POST after we hang up), the agent exits 0, and no period is
   published twice.
"""

import json
import os

import agentlib
from agentlib import check

PERIOD_MS = 1000
# The stand-ins hold a call this long; the agent's timeouts are longer
# (AWS 10 s; IMDS raised to 10 s below), so a held call is one the agent
# is still waiting for.
HOLD_MS = 6000


def puts(aws):
    return aws.calls(action="PutMetricData")


def held_puts(aws):
    return [c for c in puts(aws) if c.get("injected") and c["status"] is None]


def accepted_puts(aws):
    return [c for c in puts(aws) if c["status"] == 200]


def imds_log(imds):
    return [json.loads(line) for line in imds.control("GET", "log").splitlines() if line.strip()]


def held_watch_reads(imds):
    return [e for e in imds_log(imds)
            if "target-lifecycle-state" in e["path"] and e["status"] is None]


def lifecycle_watches_while_put_is_held(agent, imds, aws):
    aws.inject({"action": "PutMetricData", "delay_ms": HOLD_MS, "count": 1})
    check(agentlib.wait_until(lambda: held_puts(aws), 10, 0.02),
          "the held PutMetricData never arrived")
    seen = len(imds_log(imds))
    check(agentlib.wait_until(lambda: len(imds_log(imds)) > seen, 10, 0.02),
          "no IMDS request after the PutMetricData was held")
    status = agent.cli("status")
    check(held_puts(aws),
          "the lifecycle's IMDS watch waited for the PutMetricData to end: %r"
          % (imds_log(imds)[seen:][:3],))
    check(status.returncode == 0, "status during a held call: %r" % status)
    doc = json.loads(status.stdout)
    check(doc.get("lifecycle", {}).get("state"), "no lifecycle state in status: %r" % doc)
    check(agentlib.wait_until(lambda: not held_puts(aws), 15), "the held call never ended")
    check(not [c for c in puts(aws) if c.get("injected") and c.get("client_gone")],
          "the agent gave the held PutMetricData up")


def publishes_while_watch_is_held(imds, aws):
    imds.control("POST", "inject",
                 {"path": "target-lifecycle-state", "delay_ms": HOLD_MS, "count": 1})
    check(agentlib.wait_until(lambda: held_watch_reads(imds), 15, 0.02),
          "the held IMDS watch read never arrived")
    seen = len(accepted_puts(aws))
    check(agentlib.wait_until(lambda: len(accepted_puts(aws)) > seen, 10, 0.02),
          "no PutMetricData accepted after the IMDS read was held")
    check(held_watch_reads(imds),
          "the metric waited for the lifecycle's IMDS read to end: %r" % puts(aws)[-3:])
    check(agentlib.wait_until(lambda: not held_watch_reads(imds), 15), "the read never ended")
    late = [e for e in imds_log(imds) if "target-lifecycle-state" in e["path"]
            and e.get("client_gone")]
    check(not late, "the agent gave the held IMDS read up: %r" % late)


def sigterm_while_put_is_held(agent, aws):
    aws.inject({"action": "PutMetricData", "delay_ms": HOLD_MS, "count": 1})
    check(agentlib.wait_until(lambda: held_puts(aws), 10, 0.02),
          "the held PutMetricData never arrived")
    rc = agent.terminate(timeout=30)
    check(rc == 0, "exit status %s: %s" % (rc, agent.stderr()))
    held = [c for c in puts(aws) if c.get("injected")][-1]
    check(held["status"] == 200 and not held.get("client_gone"),
          "the held PutMetricData was cut short by SIGTERM: %r" % held)


def test(tmp):
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    config = agentlib.base_config(tmp, proc.path)
    config["lifecycle"]["watch_interval"] = "1s"
    with agentlib.client.start_imds() as imds, \
            agentlib.client.start_aws(state=agentlib.AWS_STATE, trust_imds=[imds.url]) as aws:
        agent = agentlib.Agent(tmp, config, {
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_METADATA_SERVICE_TIMEOUT": "10",
        }, period_ms=PERIOD_MS)
        try:
            check(agent.notify.wait_for("READY=1", 15), "no READY=1: %s" % agent.stderr())
            check(agentlib.wait_until(lambda: accepted_puts(aws), 10), "nothing published")
            lifecycle_watches_while_put_is_held(agent, imds, aws)
            publishes_while_watch_is_held(imds, aws)
            sigterm_while_put_is_held(agent, aws)
        finally:
            if agent.proc.poll() is None:
                agent.proc.kill()
            proc.stop()
        stamps = [p["Timestamp"] for p in agentlib.metric_points(aws)]
    check(len(stamps) == len(set(stamps)), "a period was published twice: %r" % stamps)


if __name__ == "__main__":
    agentlib.run(test)
