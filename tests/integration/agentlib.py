"""Harness for asg-agent's integration tests: a fake /proc/stat with a known
utilisation, the IMDS and AWS stand-ins (tests/standins, see their README),
and the agent itself with a fast test clock.

The stand-in for AWS checks every request's SigV4 signature with botocore
(SigV4Auth at the request's X-Amz-Date over exactly the headers the agent
signed) and validates the parameters against botocore's model, so a call
recorded with status 200 is one whose signature equals botocore's.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP_SRCDIR = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir", TOP_SRCDIR)
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "standins"))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "lib"))

import client  # noqa: E402  (tests/standins/client.py)
from asgtest import NotifySocket  # noqa: E402,F401  (tests/lib/asgtest.py)
from asgtest import WAIT_SCALE, check_wrapper_status, stop_process, wrapped  # noqa: E402

AGENT = os.path.join(TOP_BUILDDIR, "agent", "asg-agent")
INSTANCE_ID = "i-0123456789abcdef0"
GROUP = "web-asg"

AWS_STATE = {
    "account_id": "123456789012",
    "auto_scaling_groups": [{
        "AutoScalingGroupName": GROUP, "MinSize": 1, "MaxSize": 4, "DesiredCapacity": 1,
        "AvailabilityZones": ["us-east-1a"], "HealthCheckType": "ELB",
        "HealthCheckGracePeriod": 0,
        "LaunchTemplate": {"LaunchTemplateId": "lt-0123456789abcdef0",
                           "LaunchTemplateName": "web", "Version": "1"},
        "Tags": [{"Key": "aws:autoscaling:groupName", "Value": GROUP}]}],
    "instances": [{"InstanceId": INSTANCE_ID, "AutoScalingGroupName": GROUP,
                   "AvailabilityZone": "us-east-1a", "LifecycleState": "InService",
                   "HealthStatus": "Healthy", "InstanceType": "t3.micro"}],
    "lifecycle_hooks": [],
    "target_groups": [],
}


class ProcStat:
    """A /proc/stat whose counters advance by fixed steps from a thread, so
    every sampled interval has exactly the utilisation of the current step.

    A step adds (user, nice, system, idle, iowait, irq, softirq, steal,
    guest, guest_nice).  guest is part of user, as the kernel counts it."""

    def __init__(self, path, step):
        self.path = path
        self.counters = [1000, 10, 500, 90000, 300, 20, 30, 5, 0, 0]
        self.step = list(step)
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self._write()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def set_step(self, step):
        with self.lock:
            self.step = list(step)

    def _write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("cpu  %s\n" % " ".join(str(c) for c in self.counters))
            f.write("cpu0 %s\n" % " ".join(str(c) for c in self.counters))
            f.write("intr 0\nctxt 0\nbtime 0\n")
        os.rename(tmp, self.path)

    def _run(self):
        while not self.stop_event.wait(0.01):
            with self.lock:
                self.counters = [c + s for c, s in zip(self.counters, self.step)]
                self._write()

    def stop(self):
        self.stop_event.set()
        self.thread.join()


# 30 % busy: user 20 (10 of it guest), system 5, steal 5; idle 60 + iowait 10.
# Counting guest twice would give 36.4 %, iowait as busy 40 %.
STEP_30 = (20, 0, 5, 60, 10, 0, 0, 5, 10, 0)
# 75 % busy: user 50, nice 10, system 10, irq 2, softirq 3; idle 20, iowait 5.
STEP_75 = (50, 10, 10, 20, 5, 2, 3, 0, 0, 0)


class Agent:
    """asg-agent run, with a config in a temporary directory."""

    def __init__(self, tmp, config, env, period_ms=1000):
        self.tmp = tmp
        self.config_path = os.path.join(tmp, "agent.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        self.stderr_path = os.path.join(tmp, "agent.stderr")
        self.notify = NotifySocket(os.path.join(tmp, "notify.sock"))
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("AWS_") and k != "NOTIFY_SOCKET"}
        full_env.update(env)
        full_env["NOTIFY_SOCKET"] = self.notify.path
        full_env["ASG_AGENT_TEST_PERIOD_MS"] = str(period_ms)
        self.env = full_env
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(wrapped([AGENT, "--config", self.config_path, "run"]),
                                     env=full_env, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr)

    def cli(self, *args):
        return subprocess.run([AGENT, "--config", self.config_path] + list(args),
                              env=self.env, capture_output=True, text=True, timeout=20)

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def terminate(self, timeout=15):
        if not stop_process(self.proc, timeout * WAIT_SCALE):
            raise AssertionError("asg-agent did not exit within %ss of SIGTERM" % timeout)
        self._stderr.close()
        self.notify.close()
        check_wrapper_status(self.proc.returncode, "asg-agent", self.stderr())
        return self.proc.returncode


def base_config(tmp, proc_stat):
    return {
        "proc_stat": proc_stat,
        "sample_interval": "100ms",
        "status_socket": os.path.join(tmp, "agent.sock"),
        "health_socket": os.path.join(tmp, "health.sock"),
        # Never the default /run/asg-agent: every agent test (and every
        # concurrent run of the suite) shared that lifecycle.json, same boot
        # and instance id, so one test's "drained" was resumed by the next.
        "lifecycle": {"state_dir": os.path.join(tmp, "lifecycle-state")},
    }


# Every wait is for an event and ends as soon as it happens; its timeout
# only bounds a failure.  The timeouts written in the tests were chosen on a
# quiet machine; at load 45 (2 cores, eight sessions) a launch-hook ABANDON
# took more than 8 s to reach the stand-in.  Give each one this much more.
TIMEOUT_SCALE = float(os.environ.get("ASG_TEST_TIMEOUT_SCALE", "3"))


def wait_until(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout * TIMEOUT_SCALE * WAIT_SCALE
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def metric_points(aws, name="CPUUtilization"):
    return [p for p in aws.control("GET", "metrics") if p.get("MetricName") == name]


def timestamp_ms(point):
    """The stand-in stores Timestamp as ISO 8601 text."""
    import datetime
    ts = point["Timestamp"]
    if isinstance(ts, str):
        ts = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return int(round(ts.timestamp() * 1000))


def cpu_seconds(pid):
    """The CPU time (user + system) process pid has used, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def run(test):
    """Runs test(tmp) and maps the outcome to automake exit codes.  On a
    failure the tail of every daemon's stderr under tmp (scenario folders
    included) follows the message."""
    with tempfile.TemporaryDirectory(prefix="agent-test-") as tmp:
        try:
            test(tmp)
        except AssertionError as e:
            print("FAIL: %s" % e, file=sys.stderr)
            for top, _, files in sorted(os.walk(tmp)):
                for name in sorted(files):
                    if name.endswith(".stderr"):
                        path = os.path.join(top, name)
                        with open(path, errors="replace") as f:
                            print("--- %s (last 40 lines)\n%s" % (
                                os.path.relpath(path, tmp), "".join(f.readlines()[-40:])),
                                file=sys.stderr)
            sys.exit(1)
    sys.exit(0)


def run_scenarios(*scenarios):
    """Runs each (name, fn) in turn, fn(folder of its own), and says how
    long each took; the first failure ends the run (see run)."""
    def main(tmp):
        for name, fn in scenarios:
            d = os.path.join(tmp, name)
            os.makedirs(d)
            t0 = time.monotonic()
            fn(d)
            print("%s: ok (%.1f s)" % (name, time.monotonic() - t0))
    run(main)
