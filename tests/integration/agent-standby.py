"""asg-agent standby, protect and the cascade guard (issue 12 sections 3
and 4) against the stand-ins and a real asg-health:

- standby: `standby enter --decrement-desired-capacity` refused by the
  group (MinSize) leaves asg-health undrained and says why; `standby enter`
  drains asg-health, the group has the instance Standby and the daemon's
  lifecycle says standby; the daemon restarted in standby (asg-health
  undrained behind its back meanwhile) drains it again and stays in
  standby; `standby exit` brings it back InService and asg-health is
  undrained; no lifecycle hook was expected or completed; `protect on|off`
  is what `status` shows.
- guard: `drain` and `standby enter` refuse when the target group has no
  other healthy target, and when AWS cannot be asked; `--force` drains;
  `undrain` needs no guard.
- termination in standby: the drain runs and the terminating hook is
  completed once."""

import copy
import json
import os
import socket
import subprocess

import agentlib
import asgtest
import lifecyclelib
from agentlib import check, wait_until
from lifecyclelib import INSTANCE_ID, TERM_HOOK, TG_ARN

OTHER = "i-0aaaaaaaaaaaaaaa1"


def world(imds_url, other_healthy=True, hooks=False):
    w = lifecyclelib.world(imds_url, hooks=hooks)
    if other_healthy:
        w["target_groups"][0]["targets"].append({"Id": OTHER, "Port": 80, "State": "healthy"})
    return w


def cli(s, *args, env=None):
    e = dict(s.agent.env)
    e.update(env or {})
    return subprocess.run([agentlib.AGENT, "--config", s.agent.config_path] + list(args),
                          env=e, capture_output=True, text=True, timeout=120)


def group_state(s):
    return s.instance()["LifecycleState"]


def draining(s):
    return s.health_status()["draining"]


def standby(tmp):
    s = lifecyclelib.Setup(tmp)
    s.aws.control("PUT", "state", world(s.imds.url))
    fast = {"ASG_AGENT_TEST_PROTECTION_MS": "500"}
    try:
        s.start_agent(env=fast)
        s.wait_state("ready", 10)
        check(not draining(s), "asg-health drained at the start")

        # The group refuses: DesiredCapacity 1 = MinSize.
        r = cli(s, "standby", "enter", "--decrement-desired-capacity")
        check(r.returncode == 1 and "EnterStandby failed: ValidationError" in r.stderr
              and "min-size=1" in r.stderr, "decrement not refused: %r" % (r,))
        check("undrained again" in r.stdout, "asg-health not undrained: %r" % (r,))
        check(not draining(s) and group_state(s) == "InService",
              "after the refusal: draining %s, %s" % (draining(s), group_state(s)))

        r = cli(s, "standby", "enter")
        check(r.returncode == 0, "standby enter: %r" % (r,))
        out = r.stdout
        check(out.index("asg-health drained") < out.index("EnterStandby"),
              "EnterStandby before the drain: %r" % out)
        check(group_state(s) == "Standby", "group state %s" % group_state(s))
        check(s.aws.state()["auto_scaling_groups"][0]["DesiredCapacity"] == 1,
              "desired capacity changed without --decrement-desired-capacity")
        check(draining(s), "asg-health not drained in standby")
        s.wait_state("standby", 10)
        check(s.status()["metrics"]["publishing"] is False, "metric published in standby")

        # Restarted in standby; asg-health forgot its drain meanwhile (as
        # if it had restarted too): drained again, never undrained.
        s.stop_agent()
        s.health.control_request("POST", "/undrain")
        os.unlink(s.agent.notify.path)
        s.start_agent(env=fast)
        s.wait_state("standby", 10)
        check(wait_until(lambda: draining(s), 10), "not drained again after the restart")
        check("resuming standby" in s.agent.stderr(), s.agent.stderr())

        r = cli(s, "standby", "exit")
        check(r.returncode == 0 and "serving again" in r.stdout, "standby exit: %r" % (r,))
        check(group_state(s) == "InService", "group state %s" % group_state(s))
        check(not draining(s), "asg-health still drained after standby exit")
        s.wait_state("ready", 10)
        history = [h["state"] for h in s.instance()["history"]]
        check(history[-4:] == ["EnteringStandby", "Standby", "Pending", "InService"],
              "history %r" % history)
        check(not s.ok_calls("CompleteLifecycleAction") and
              not s.ok_calls("RecordLifecycleActionHeartbeat"), "a hook call in standby")

        r = cli(s, "standby", "exit")
        check(r.returncode == 1 and "not in standby" in r.stderr, "exit twice: %r" % (r,))

        # Scale-in protection, as status shows it: the daemon reads it
        # again every 0.5 s here (a minute by default).
        def protection():
            return s.status().get("scale_in_protection") or {}
        check(wait_until(lambda: protection().get("protected") is False, 10),
              "status before protect: %r" % protection())
        r = cli(s, "protect", "on")
        check(r.returncode == 0 and "scale-in protection on" in r.stdout, "protect on: %r" % (r,))
        check(s.instance()["ProtectedFromScaleIn"] is True, "not protected at the group")
        check(wait_until(lambda: protection().get("protected") is True, 10),
              "status: not protected: %r" % protection())
        check(protection()["as_of"] and protection()["error"] is None, repr(protection()))
        r = cli(s, "protect", "off")
        check(r.returncode == 0, "protect off: %r" % (r,))
        check(wait_until(lambda: protection().get("protected") is False, 10),
              "status: still protected: %r" % protection())
        r = cli(s, "protect", "maybe")
        check(r.returncode == 2 and "usage" in r.stderr, "protect maybe: %r" % (r,))
    finally:
        s.close()


def guard(tmp):
    s = lifecyclelib.Setup(tmp)
    s.aws.control("PUT", "state", world(s.imds.url, other_healthy=False))
    try:
        s.start_agent()
        s.wait_state("ready", 10)
        r = cli(s, "drain")
        check(r.returncode == 1 and "refusing to drain" in r.stderr and TG_ARN in r.stderr
              and "0 healthy" in r.stderr and "fails open" in r.stderr
              and "--force" in r.stderr, "drain not refused: %r" % (r,))
        check(not draining(s), "drained despite the refusal")
        r = cli(s, "standby", "enter")
        check(r.returncode == 1 and "refusing to enter standby" in r.stderr and
              TG_ARN in r.stderr, "standby enter not refused: %r" % (r,))
        check(not draining(s) and group_state(s) == "InService",
              "standby refused but draining %s, %s" % (draining(s), group_state(s)))
        check(not s.ok_calls("EnterStandby"), "EnterStandby called despite the guard")

        # Another target, unhealthy, does not count.
        w = s.aws.state()
        w["target_groups"][0]["targets"].append(
            {"Id": OTHER, "Port": 80, "State": "unhealthy", "forced": True,
             "Reason": "Target.FailedHealthChecks"})
        s.aws.control("PUT", "state", w)
        r = cli(s, "drain")
        check(r.returncode == 1 and "1 other target(s), 0 healthy" in r.stderr,
              "drain with an unhealthy other: %r" % (r,))

        r = cli(s, "drain", "--force")
        check(r.returncode == 0 and draining(s), "drain --force: %r" % (r,))
        r = cli(s, "undrain")
        check(r.returncode == 0 and not draining(s), "undrain: %r" % (r,))

        # AWS cannot be asked: refused unless --force.
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            dead = "http://127.0.0.1:%d" % closed.getsockname()[1]
        r = cli(s, "drain", env={"AWS_ENDPOINT_URL": dead})
        check(r.returncode == 1 and "cannot ask AWS whether another target is healthy"
              in r.stderr, "drain without AWS: %r" % (r,))
        check(not draining(s), "drained without AWS")
        r = cli(s, "drain", "--force", env={"AWS_ENDPOINT_URL": dead})
        check(r.returncode == 0 and draining(s), "drain --force without AWS: %r" % (r,))
        cli(s, "undrain")

        # A healthy other target: allowed.
        w = s.aws.state()
        for t in w["target_groups"][0]["targets"]:
            if t["Id"] == OTHER:
                t["State"] = "healthy"
                t.pop("Reason", None)
        s.aws.control("PUT", "state", w)
        r = cli(s, "drain")
        check(r.returncode == 0 and draining(s), "drain with a healthy other: %r" % (r,))
    finally:
        s.close()


def terminated_in_standby(tmp):
    s = lifecyclelib.Setup(tmp)
    s.aws.control("PUT", "state", world(s.imds.url, hooks=True))
    try:
        lifecyclelib.mark_script(s, "10-mark")
        s.start_agent()
        s.wait_state("ready", 10)
        r = cli(s, "standby", "enter")
        check(r.returncode == 0, "standby enter: %r" % (r,))
        s.wait_state("standby", 10)
        s.aws.control("POST", "terminate", {"InstanceId": INSTANCE_ID})
        done = wait_until(lambda: s.ok_calls("CompleteLifecycleAction"), 20)
        check(done, "hook never completed in standby: %r" % s.lifecycle())
        s.wait_state("drained", 10)
        check([m[0] for m in lifecyclelib.read_marks(s.marks)] == ["10-mark"],
              "drain.d did not run once")
        check(draining(s), "asg-health undrained")
        s.stop_agent()
        check(len(s.ok_calls("CompleteLifecycleAction")) == 1, "hook completed twice")
        check([c["LifecycleHookName"] for c in s.completed()] == [TERM_HOOK],
              "completed %r" % s.completed())
    finally:
        s.close()


def main(tmp):
    import time
    for name, fn in (("standby", standby), ("guard", guard),
                     ("terminated in standby", terminated_in_standby)):
        d = os.path.join(tmp, name.replace(" ", "-"))
        os.makedirs(d)
        t0 = time.monotonic()
        fn(d)
        print("%s: ok (%.1f s)" % (name, time.monotonic() - t0))


agentlib.run(main)
