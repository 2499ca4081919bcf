"""asg-agent's launch gate against the stand-ins and a real asg-health: an
instance in Pending:Wait under a launching hook is held until asg-health's
critical check has passed `rise` times, heartbeats keep a short hook alive
meanwhile, then CompleteLifecycleAction CONTINUE (with InstanceId) exactly
once and only then metrics; a check that never passes ends in ABANDON
after launch_timeout with the failing check logged; CompleteLifecycleAction
failing with 503s for a while is retried until it succeeds; a group
without hooks sees no hook call at all, even on scale-in; and a warmed
instance (Warmed:Running) publishes nothing and is not gated until it
leaves the pool."""

import time

import agentlib
import lifecyclelib
from agentlib import check, wait_until
from lifecyclelib import LAUNCH_HOOK, INSTANCE_ID


def gated_then_continue(tmp):
    # HeartbeatTimeout 8 s: without heartbeats (at once, then every 4 s)
    # the hook would time out (ABANDON) while the check keeps failing.  (4 s
    # expired before the agent's first heartbeat at load 47.)
    s = lifecyclelib.Setup(tmp, state="Pending:Wait", launch_hb=8, flag=False)
    try:
        s.start_agent()
        check(s.agent.notify.wait_for("READY=1", 10), "no READY=1 once the gate was decided")
        s.wait_state("warming", 5)
        check(s.lifecycle()["phase"] == "gating launch", "phase %r" % s.lifecycle())
        # Longer than the hook's timeout: alive only through heartbeats.
        hb = wait_until(lambda: len(s.ok_calls("RecordLifecycleActionHeartbeat")) >= 3, 20)
        hb = s.ok_calls("RecordLifecycleActionHeartbeat")
        check(len(hb) >= 3, "heartbeats on a long wait: %r" % hb)
        check(not s.aws.calls(action="CompleteLifecycleAction"),
              "hook completed while the check fails")
        check(not agentlib.metric_points(s.aws), "metrics published while gating")
        check(all(c["params"]["InstanceId"] == INSTANCE_ID and
                  c["params"]["LifecycleHookName"] == LAUNCH_HOOK for c in hb), repr(hb))
        check(not s.completed(), "hook resolved early: %r" % s.completed())
        check(s.instance()["LifecycleState"] == "Pending:Wait", repr(s.instance()))

        t_flag = time.time()
        open(s.flag, "w").close()
        done = wait_until(lambda: s.ok_calls("CompleteLifecycleAction"), 8)
        check(done, "no CompleteLifecycleAction after the check passed")
        c = done[0]["params"]
        check(c == {"AutoScalingGroupName": agentlib.GROUP, "LifecycleHookName": LAUNCH_HOOK,
                    "LifecycleActionResult": "CONTINUE", "InstanceId": INSTANCE_ID},
              "parameters %r" % c)
        # rise 2 at a 100 ms interval: not before the second pass.
        check(lifecyclelib.call_time(done[0]) >= t_flag + 0.1,
              "completed before two passes")
        s.wait_state("ready", 5)
        check(wait_until(lambda: s.instance()["LifecycleState"] == "InService", 5),
              "instance not InService: %r" % s.instance())
        pts = wait_until(lambda: agentlib.metric_points(s.aws), 6)
        check(pts, "no metrics once ready")
        check(s.agent.notify.wait_for("STATUS=serving", 2), "no STATUS=serving")
        s.stop_agent()  # exited: nothing more can be called
        comp = s.completed(LAUNCH_HOOK)
        check(len(comp) == 1 and comp[0]["result"] == "CONTINUE" and
              comp[0]["by"] == "CompleteLifecycleAction", "completions %r" % comp)
        check(len(s.aws.calls(action="CompleteLifecycleAction")) == 1, "completed twice")
        log = s.agent.stderr()
        check("warming -> ready" in log and "CompleteLifecycleAction web-launch CONTINUE" in log,
              log)
    finally:
        s.close()


def never_ready_abandon(tmp):
    s = lifecyclelib.Setup(tmp, state="Pending:Wait", flag=False)
    try:
        s.start_agent({"launch_timeout": "1500ms"})
        ok = wait_until(lambda: s.completed(LAUNCH_HOOK), 8)
        check(ok, "no completion after the launch timeout")
        check(ok[0]["result"] == "ABANDON" and ok[0]["by"] == "CompleteLifecycleAction",
              "completion %r" % ok)
        s.wait_state("drained", 3)
        check(not agentlib.metric_points(s.aws), "metrics from an abandoned instance")
        log = s.agent.stderr()
        check("not ready after" in log and "app-ready" in log,
              "the failing check is not logged: %s" % log)
    finally:
        s.close()


def aws_failing_then_recovers(tmp):
    s = lifecyclelib.Setup(tmp, state="Pending:Wait")
    try:
        s.aws.inject({"action": "CompleteLifecycleAction", "status": 503, "count": 4})
        s.start_agent()
        ok = wait_until(lambda: s.ok_calls("CompleteLifecycleAction"), 20)
        check(ok, "never completed after AWS recovered: %r" %
              s.aws.calls(action="CompleteLifecycleAction"))
        calls = s.aws.calls(action="CompleteLifecycleAction")
        check(len([c for c in calls if c["status"] == 503]) == 4, "calls %r" % calls)
        s.wait_state("ready", 3)
        s.stop_agent()  # exited: nothing more can be called
        check(len(s.ok_calls("CompleteLifecycleAction")) == 1, "completed more than once")
        comp = s.completed(LAUNCH_HOOK)
        check(len(comp) == 1 and comp[0]["result"] == "CONTINUE", repr(comp))
    finally:
        s.close()


def no_hooks(tmp):
    s = lifecyclelib.Setup(tmp, hooks=False)
    try:
        s.start_agent()
        s.wait_state("ready", 8)
        check(wait_until(lambda: agentlib.metric_points(s.aws), 6), "no metrics")
        # Scale-in without hooks: drained, but no hook call.
        s.aws.control("POST", "terminate", {"InstanceId": INSTANCE_ID})
        s.wait_state("drained", 8)
        check(s.health_status()["draining"], "asg-health not drained")
        for action in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat",
                       "DeregisterTargets"):
            check(not s.aws.calls(action=action), "%s called without hooks" % action)
    finally:
        s.close()


def warm_pool(tmp):
    # The instance sits in a warm pool (IMDS Warmed:Running); the stand-in
    # has no warm pools, so IMDS is scripted directly.
    w = lifecyclelib.world(None)
    del w["instances"][0]["imds_url"]
    s = lifecyclelib.Setup(tmp, aws_world=w,
                           imds_state={"target_lifecycle_state": "Warmed:Running"})
    try:
        s.start_agent()
        check(s.agent.notify.wait_for("READY=1", 10), "no READY=1 while warmed")
        s.wait_state("warmed", 5)
        # Settled in the pool by a CompleteLifecycleAction that comes after
        # the state (the agent's calls do not block its loop).
        check(wait_until(lambda: s.lifecycle()["launch_hook_completed"], 10),
              "launch hook not settled in the pool: %r" % s.lifecycle())
        # Two periods closed while warmed (counted by the agent), none sent.
        closed = s.closed_periods()
        check(wait_until(lambda: s.closed_periods() >= closed + 2, 10), "no period closed")
        check(s.lifecycle()["state"] == "warmed", repr(s.lifecycle()))
        t_warmed_end = time.time()
        check(not agentlib.metric_points(s.aws), "metrics from a warmed instance")
        # Leaving the pool: Pending:Wait under the launching hook again.
        w2 = lifecyclelib.world(None, state="Pending:Wait")
        del w2["instances"][0]["imds_url"]
        s.aws.control("PUT", "state", w2)
        s.imds.set_state({"target_lifecycle_state": "InService"})
        s.wait_state("ready", 8)
        comp = s.completed(lifecyclelib.LAUNCH_HOOK)
        check(len(comp) == 1 and comp[0]["result"] == "CONTINUE", repr(comp))
        pts = wait_until(lambda: agentlib.metric_points(s.aws), 6)
        check(pts, "no metrics once ready")
        # Nor later: the periods closed while warmed were discarded, not queued.
        check(all(agentlib.timestamp_ms(p) >= (t_warmed_end - 1) * 1000 for p in pts),
              "a warmed period was sent after the pool: %r" % pts)
        check("warmed -> warming" in s.agent.stderr(), s.agent.stderr())
    finally:
        s.close()


agentlib.run_scenarios(
    ("gate", gated_then_continue),
    ("abandon", never_ready_abandon),
    ("aws-failing", aws_failing_then_recovers),
    ("no-hooks", no_hooks),
    ("warm-pool", warm_pool),
)
