"""Shared set-up of the lifecycle tests: the IMDS and AWS stand-ins with
the instance's transitions mirrored into IMDS, a real asg-health with a
flag-file critical check and its control socket, and asg-agent with a fast
watch (ASG_AGENT_TEST_WATCH_MS) and millisecond lifecycle durations."""

import copy
import datetime
import json
import os
import socket
import subprocess
import sys
import time

import agentlib
import asgtest
from agentlib import check, wait_until

INSTANCE_ID = agentlib.INSTANCE_ID
GROUP = agentlib.GROUP
TG_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"
LAUNCH_HOOK = "web-launch"
TERM_HOOK = "web-terminate"


def world(imds_url, state="InService", launch_hb=300, term_hb=300, hooks=True,
          target_registered=True):
    w = copy.deepcopy(agentlib.AWS_STATE)
    w["auto_scaling_groups"][0]["TargetGroupARNs"] = [TG_ARN]
    inst = w["instances"][0]
    inst["LifecycleState"] = state
    inst["imds_url"] = imds_url
    if hooks:
        w["lifecycle_hooks"] = [
            {"LifecycleHookName": LAUNCH_HOOK, "AutoScalingGroupName": GROUP,
             "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
             "HeartbeatTimeout": launch_hb, "DefaultResult": "ABANDON"},
            {"LifecycleHookName": TERM_HOOK, "AutoScalingGroupName": GROUP,
             "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
             "HeartbeatTimeout": term_hb, "DefaultResult": "CONTINUE"}]
    w["target_groups"] = [{
        "TargetGroupArn": TG_ARN, "Port": 80, "HealthCheckPath": "/health",
        "deregistration_delay_seconds": 0.5, "initial_seconds": 0.5,
        "targets": ([{"Id": INSTANCE_ID, "Port": 80, "State": "healthy"}]
                    if target_registered else [])}]
    return w


class Setup:
    """Stand-ins, asg-health and (start_agent) asg-agent in tmp."""

    def __init__(self, tmp, aws_world=None, imds_state=None, flag=True, health_config=None,
                 **world_args):
        self.tmp = tmp
        self.flag = os.path.join(tmp, "ready.flag")
        if flag:
            open(self.flag, "w").close()
        self.drain_d = os.path.join(tmp, "drain.d")
        os.makedirs(self.drain_d, exist_ok=True)
        os.chmod(self.drain_d, 0o755)  # not group-writable whatever the umask
        self.state_dir = os.path.join(tmp, "state")
        self.marks = os.path.join(tmp, "marks")
        self.imds = agentlib.client.start_imds(state=imds_state)
        self.aws = None
        try:
            self.aws = agentlib.client.start_aws(
                state=aws_world or world(self.imds.url, **world_args),
                trust_imds=[self.imds.url])
            cfg = {"checks": [{"name": "app-ready", "type": "file", "path": self.flag,
                               "must_exist": True, "interval": "100ms", "timeout": "50ms",
                               "rise": 2, "critical": True}]}
            cfg.update(health_config or {})
            self.health = asgtest.Health(config=cfg)
        except BaseException:
            # The caller gets no Setup to close: stop what started here (a
            # slow asg-health start at load 47 left stand-ins running).
            if self.aws:
                self.aws.stop()
            self.imds.stop()
            raise
        self.agent = None
        self.proc_stat = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)

    def script(self, name, body):
        path = os.path.join(self.drain_d, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)

    def config(self, lifecycle=None):
        cfg = agentlib.base_config(self.tmp, self.proc_stat.path)
        cfg["health_socket"] = self.health.control
        lc = {"state_dir": self.state_dir, "drain_d": self.drain_d,
              "launch_timeout": "20s", "drain_timeout": "20s", "drain_d_timeout": "5s",
              # the timing these tests were written for (no wait for new
              # requests to stop); agent-lifecycle-drain.py's late_requests
              # sets it
              "drain_quiet": "0ms"}
        lc.update(lifecycle or {})
        cfg["lifecycle"] = lc
        return cfg

    def restart_hook_timers(self):
        """A pending lifecycle action's HeartbeatTimeout counts from the
        moment the stand-in started; on a loaded machine asg-health and the
        agent can take longer than a short timeout to come up, and the hook
        then expired before the agent could heartbeat (gate scenario, seen
        once at load 16).  Start the timers when the agent starts, as the
        instance would boot right after the hook begins."""
        world = self.aws.state()
        hooks = {h["LifecycleHookName"]: h for h in world.get("lifecycle_hooks", [])}
        now = time.time()
        for action in world.get("lifecycle_actions", []):
            hook = hooks.get(action["LifecycleHookName"])
            if hook:
                action["started"] = now
                action["deadline"] = now + hook["HeartbeatTimeout"]
                action["global_deadline"] = now + hook["GlobalTimeout"]
        if world.get("lifecycle_actions"):
            self.aws.control("PUT", "state", world)

    def start_agent(self, lifecycle=None, env=None):
        self.restart_hook_timers()
        full_env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds.url,
                    "AWS_ENDPOINT_URL": self.aws.url,
                    "ASG_AGENT_TEST_WATCH_MS": "100"}
        full_env.update(env or {})
        self.agent = agentlib.Agent(self.tmp, self.config(lifecycle), full_env)
        return self.agent

    def status(self):
        r = self.agent.cli("status")
        if r.returncode != 0:
            return {}
        return json.loads(r.stdout)

    def lifecycle(self):
        return self.status().get("lifecycle") or {}

    def wait_state(self, state, timeout):
        ok = wait_until(lambda: self.lifecycle().get("state") == state, timeout)
        check(ok, "lifecycle never reached %s (now %r)" % (state, self.lifecycle()))

    def instance(self):
        for i in self.aws.state()["instances"]:
            if i["InstanceId"] == INSTANCE_ID:
                return i
        return None

    def completed(self, hook=None):
        return [c for c in self.aws.state().get("completed_lifecycle_actions", [])
                if c.get("InstanceId", INSTANCE_ID) == INSTANCE_ID
                and (hook is None or c.get("LifecycleHookName") == hook)]

    def stop_agent(self):
        """SIGTERM the agent and wait for its exit 0: afterwards it can call
        nothing, so counting calls then proves "never twice" whatever the
        machine's speed (a sleep before counting proves nothing)."""
        rc = self.agent.terminate()
        check(rc == 0, "asg-agent exited with %s" % rc)

    def closed_periods(self):
        return self.status().get("metrics", {}).get("closed", 0)

    def imds_reads(self, suffix, status=200):
        """Answered GETs of an IMDS path ending in suffix."""
        log = [json.loads(line) for line in self.imds.control("GET", "log").splitlines()
               if line.strip()]
        return [e for e in log if e["method"] == "GET" and e["path"].endswith(suffix)
                and e["status"] == status]

    def ok_calls(self, action):
        return [c for c in self.aws.calls(action=action) if c["status"] == 200]

    def health_status(self):
        return self.health.status()

    def close(self):
        try:
            rc = self.agent.terminate() if self.agent else 0
        finally:
            # Even when the agent would not stop (terminate() killed it and
            # raised): asg-health and the stand-ins were left running.
            # health.stderr goes in the test's directory (the agent's is
            # there already), where agentlib.run() shows *.stderr files
            # when the test fails; appended, for a scenario that closes and
            # starts stacks in one directory.
            self.health.stop()
            with open(os.path.join(self.tmp, "health.stderr"), "a") as f:
                f.write(self.health.logs())
            self.health.close()
            self.proc_stat.stop()
            self.aws.stop()
            self.imds.stop()
        # A clean exit (under ASan: no leak, no error) unless the test
        # failed already.
        if rc != 0 and sys.exc_info()[0] is None:
            raise AssertionError("asg-agent exited with %s" % rc)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def event_time(t):
    """IMDS scheduled events: "21 Jan 2019 09:00:43 GMT"."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%d %b %Y %H:%M:%S GMT").lstrip("0")


def call_time(call):
    return datetime.datetime.fromisoformat(call["time"].replace("Z", "+00:00")).timestamp()


def read_marks(path):
    """Lines "name epoch" appended by drain.d scripts."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [(l.split()[0], float(l.split()[1])) for l in f if l.strip()]


def mark_script(setup, name, sleep=0):
    """A drain.d script that notes when it started, then sleeps."""
    setup.script(name, "printf '%%s %%s\\n' %s \"$(date +%%s.%%N)\" >> %s\n"
                 "echo \"%s ran for $ASG_AGENT_DRAIN_CAUSE\"\n%s" % (
                     name, setup.marks, name, "sleep %s\n" % sleep if sleep else ""))
