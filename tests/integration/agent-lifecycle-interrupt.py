"""asg-agent and interruptions the ALB does not know about, against the
stand-ins and a real asg-health (time-scaled).  A Spot interruption notice
8 s ahead: asg-health drained and the instance deregistered from its target
group at once (DeregisterTargets), in-flight and drain.d done, the drain
finished before the deadline even though SIGTERM arrived in the middle of
drain.d (the agent finishes first, then exits); restarted, it stays drained,
and the group's termination that follows has its hook completed once.  A scheduled event that is then canceled: drained and
deregistered, then undrained and registered again, serving and publishing.
A rebalance recommendation is ignored by default.  Without target groups
to leave, the drain waits for asg-health's drain_confirmed (the stand-in
probing /health as an ALB does)."""

import json
import os
import signal
import time

import agentlib
import lifecyclelib
from agentlib import check, wait_until
from lifecyclelib import INSTANCE_ID, TERM_HOOK, TG_ARN


def targets(s):
    for tg in s.aws.state()["target_groups"]:
        if tg["TargetGroupArn"] == TG_ARN:
            return [t["Id"] for t in tg.get("targets", [])
                    if t.get("State") not in ("draining",)]
    return []


def running_drain_d(s):
    lc = s.lifecycle()
    return lc if lc.get("phase") == "running drain.d" else None


def spot(tmp):
    s = lifecyclelib.Setup(tmp)
    try:
        # 10-stop-app runs until the test has sent SIGTERM (a flag file,
        # 30 s at most): the stop arrives while drain.d runs whatever the
        # machine's load (a fixed sleep lost that race at load 40).
        sigterm_sent = os.path.join(tmp, "sigterm-sent")
        lifecyclelib.mark_script(s, "10-stop-app")
        with open(os.path.join(s.drain_d, "10-stop-app"), "a") as f:
            f.write("i=0; while [ ! -e %s ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n"
                    % sigterm_sent)
        lifecyclelib.mark_script(s, "20-last")
        s.start_agent()
        s.wait_state("ready", 8)
        # A rebalance recommendation alone does nothing (on_rebalance false).
        # Proved once the agent has read it twice: whatever the first read
        # decided was done before the second one.
        s.imds.set_state({"rebalance_recommendation": {"noticeTime": lifecyclelib.iso(time.time())}})
        check(wait_until(lambda: len(s.imds_reads("events/recommendations/rebalance")) >= 2, 10),
              "the agent never read the rebalance recommendation")
        check(s.lifecycle().get("state") == "ready", "rebalance acted on: %r" % s.lifecycle())
        check(not s.aws.calls(action="DeregisterTargets"), "rebalance deregistered the target")

        # 20 s: the drain (1.5 s of drain.d) must end before it; 8 s was
        # missed at load 40, when every step takes seconds.
        deadline = int(time.time()) + 20
        t0 = time.time()
        s.imds.set_state({"spot_instance_action": {"action": "terminate",
                                                   "time": lifecyclelib.iso(deadline)}})
        dereg = wait_until(lambda: s.ok_calls("DeregisterTargets"), 3)
        check(dereg, "no DeregisterTargets after a Spot notice")
        check(dereg[0]["params"]["TargetGroupArn"] == TG_ARN and
              dereg[0]["params"]["Targets"] == [{"Id": INSTANCE_ID}], repr(dereg[0]))
        # Deregistered first: before drain.d started (an order, not a time:
        # a 1.5 s bound here failed on a loaded machine).
        t_dereg = lifecyclelib.call_time(dereg[0])
        check(t_dereg >= t0 - 1, "deregistered before the notice?")
        check(s.health_status()["draining"], "asg-health not drained")
        lc = wait_until(lambda: running_drain_d(s), 10)
        check(lc, "drain.d not reached: %r" % s.lifecycle())
        check(lc["deadline_source"] == "spot-action", repr(lc))
        # The machine shuts down meanwhile: SIGTERM does not cut the drain
        # short; the agent finishes it (within stop_timeout), then exits.
        s.agent.proc.send_signal(signal.SIGTERM)
        with open(sigterm_sent, "w"):
            pass
        rc = s.agent.proc.wait(30)
        t_drained = time.time()
        check(rc == 0, "exit status %s" % rc)
        check(t_drained < deadline, "drain finished after the Spot deadline")
        # Not cut short: drain.d ran to its last script after the SIGTERM
        # (10-stop-app was running when it came).
        marks = lifecyclelib.read_marks(s.marks)
        check([m[0] for m in marks] == ["10-stop-app", "20-last"],
              "drain.d cut short by SIGTERM: %r" % marks)
        check(t_dereg <= marks[0][1] + 0.05, "drain.d ran before the deregistration")
        with open(os.path.join(s.state_dir, "lifecycle.json")) as f:
            saved = json.load(f)
        check(saved["state"] == "drained", "saved state %r" % saved)
        check(not s.aws.calls(action="CompleteLifecycleAction"), "a hook completed for Spot")
        check(s.agent.notify.wait_for("STATUS=completed", 1), "no STATUS=completed")
        check("stop requested while draining" in s.agent.stderr(), s.agent.stderr())
        # Started again, it stays drained; the group then terminates the
        # interrupted instance: its hook is completed at once, once.
        s.agent.terminate()
        os.unlink(s.agent.notify.path)
        s.start_agent()
        s.wait_state("drained", 5)
        check(s.health_status()["draining"], "undrained by a restart")
        s.aws.control("POST", "terminate", {"InstanceId": INSTANCE_ID})
        done = wait_until(lambda: s.ok_calls("CompleteLifecycleAction"), 8)
        check(done and done[0]["params"]["LifecycleHookName"] == TERM_HOOK, repr(done))
        s.wait_state("drained", 5)
        s.stop_agent()  # exited: nothing more can be called
        check(len(s.aws.calls(action="CompleteLifecycleAction")) == 1, "completed twice")
        check(len(s.completed(TERM_HOOK)) == 1, repr(s.completed()))
    finally:
        s.close()


def scheduled_canceled(tmp):
    s = lifecyclelib.Setup(tmp)
    try:
        s.start_agent()
        s.wait_state("ready", 8)
        event = {"Code": "instance-stop", "EventId": "instance-event-0123456789abcdef0",
                 "Description": "The instance is scheduled for stop",
                 "NotBefore": lifecyclelib.event_time(time.time() + 600),
                 "NotAfter": lifecyclelib.event_time(time.time() + 4000), "State": "active"}
        s.imds.set_state({"scheduled_events": [event]})
        check(wait_until(lambda: s.ok_calls("DeregisterTargets"), 3), "not deregistered")
        check(wait_until(lambda: s.health_status()["draining"], 2), "asg-health not drained")
        check(wait_until(lambda: INSTANCE_ID not in targets(s), 3),
              "still a target: %r" % targets(s))
        lc = s.lifecycle()
        check(lc.get("causes") == "scheduled-event" and
              lc.get("deadline_source") == "scheduled-event", repr(lc))
        # Canceled: the event leaves .../scheduled for .../history.
        event["State"] = "canceled"
        s.imds.set_state({"scheduled_events": [event]})
        s.wait_state("ready", 5)
        check(not s.health_status()["draining"], "asg-health still drained")
        check(s.ok_calls("RegisterTargets"), "not registered again")
        check(wait_until(lambda: INSTANCE_ID in targets(s), 3), "not a target again")
        n = len(agentlib.metric_points(s.aws))
        check(wait_until(lambda: len(agentlib.metric_points(s.aws)) > n, 5),
              "no metrics after the cancel")
        check(not s.aws.calls(action="CompleteLifecycleAction"), "a hook was completed")
    finally:
        s.close()


def lb_confirms(tmp):
    """No target groups to leave (target_groups [] in the configuration,
    for users who grant no ELB permission): the drain waits until
    asg-health has seen the load balancer's probers get their unhealthy
    threshold of 503s, with the stand-in probing /health as an ALB does."""
    s = lifecyclelib.Setup(tmp)
    try:
        w = lifecyclelib.world(s.imds.url)
        w["instances"][0]["private_ip"] = "127.0.0.1"
        tg = w["target_groups"][0]
        tg.update({"probe": True, "Port": s.health.port, "HealthCheckIntervalSeconds": 0.2,
                   "HealthCheckTimeoutSeconds": 1, "UnhealthyThresholdCount": 2,
                   "HealthyThresholdCount": 2,
                   "targets": [{"Id": INSTANCE_ID, "Port": s.health.port}]})
        s.aws.control("PUT", "state", w)
        s.start_agent({"target_groups": []})
        s.wait_state("ready", 8)
        check(wait_until(lambda: s.health_status()["load_balancer"]["recent"] >= 1, 5),
              "asg-health saw no prober: %r" % s.health_status()["load_balancer"])
        s.imds.set_state({"spot_instance_action": {
            "action": "terminate", "time": lifecyclelib.iso(time.time() + 10)}})
        s.wait_state("drained", 8)
        check(not s.aws.calls(action="DeregisterTargets"), "deregistered without target groups")
        check("the load balancer has seen the drain" in s.agent.stderr(), s.agent.stderr())
        lb = s.health_status()["load_balancer"]
        check(lb["drain_confirmed"], "asg-health: %r" % lb)
    finally:
        s.close()


agentlib.run_scenarios(
    ("spot", spot),
    ("scheduled-canceled", scheduled_canceled),
    ("lb-confirms", lb_confirms),
)
