"""asg-agent with broken dependencies (issue 9 section 4): one agent, beside a
real asg-health, is driven through IMDS down (reset, 503, hanging), IMDS
answering 500/503/429, malformed, truncated and oversized documents, tokens
expiring mid-call, its credentials expiring during an IMDS outage, and AWS
throttling storms, 5xx, resets, hung requests and malformed or huge XML;
its launch and termination hooks are completed under throttling.  Then the
state directory full and read-only (a private mount namespace).

Throughout: the agent stays alive and does not spin (its CPU time from
/proc/PID/stat stays well under the wall time: a spin detector, not a timing
assertion), its RSS stays bounded, asg-health answers /health/live every
time, and at the end every metric period is at the stand-in exactly once
(by timestamp, contiguous) and each lifecycle action was completed exactly
once (by LifecycleActionToken).  Figures per phase are printed (they go to
RELIABILITY.md)."""

import json
import os
import subprocess
import threading
import time

import agentlib
import lifecyclelib
from agentlib import check, wait_until

PERIOD_MS = 1000
# A spinning agent uses a whole core (ratio 1.0); an idle one ~0.01.
SPIN_RATIO = 0.5
RSS_GROWTH_KB = 48 * 1024
# The stand-in rotates credentials on every read (they stay inside the 15 min
# advisory window), so the agent reads them every period: the credential
# faults below are met at once.
IMDS_STATE = {"credentials": {"lifetime_seconds": 902, "auto_rotate_before_seconds": 901}}


def proc_sample(pid):
    cpu = agentlib.cpu_seconds(pid)
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return cpu, rss


class Monitor(threading.Thread):
    """Samples the agent's CPU and RSS and probes asg-health's /health/live
    every 100 ms."""

    def __init__(self, agent, health):
        super().__init__(daemon=True)
        self.agent, self.health = agent, health
        self.stop_event = threading.Event()
        self.samples = []  # (monotonic, cpu seconds, rss kB)
        self.health_ok = 0
        self.health_failures = []
        self.died = None

    def run(self):
        while not self.stop_event.wait(0.1):
            if self.agent.proc.poll() is not None:
                self.died = self.agent.proc.returncode
                return
            try:
                cpu, rss = proc_sample(self.agent.proc.pid)
                self.samples.append((time.monotonic(), cpu, rss))
            except OSError:
                pass
            try:
                r = self.health.get("/health/live")
                if r.status == 200:
                    self.health_ok += 1
                else:
                    self.health_failures.append(r.status)
            except OSError as e:
                self.health_failures.append(repr(e))

    def window(self, t0, t1):
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        if len(inside) < 2:
            return None
        wall = inside[-1][0] - inside[0][0]
        cpu = inside[-1][1] - inside[0][1]
        return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 2),
                "cpu_ratio": round(cpu / wall, 3) if wall > 0 else 0,
                "rss_max_kb": max(s[2] for s in inside)}

    def stop(self):
        self.stop_event.set()
        self.join()


class Run:
    def __init__(self, s, monitor):
        self.s, self.m = s, monitor
        self.phases = []
        self.baseline_rss = None

    def imds_log(self):
        return [json.loads(line) for line in self.s.imds.control("GET", "log").splitlines()
                if line.strip()]

    def ok_puts(self):
        return [c for c in self.s.aws.calls(action="PutMetricData") if c["status"] == 200]

    def publish_resumed(self, what, timeout=30):
        n = len(self.ok_puts())
        check(wait_until(lambda: len(self.ok_puts()) > n, timeout, 0.2),
              "%s: no publish after recovery" % what)

    def phase(self, name, fault, until, recover=None, timeout=30):
        """Apply fault(), wait for until() (the agent met the fault), undo
        it with recover(), wait for a publish; check the agent meanwhile."""
        t0 = time.monotonic()
        fault()
        check(wait_until(until, timeout, 0.2), "%s: the agent never met the fault" % name)
        if recover:
            recover()
        self.publish_resumed(name)
        t1 = time.monotonic()
        check(self.m.died is None and self.s.agent.proc.poll() is None,
              "%s: asg-agent died (%s)" % (name, self.s.agent.proc.poll()))
        w = self.m.window(t0, t1)
        check(w, "%s: no samples" % name)
        w["phase"] = name
        self.phases.append(w)
        print("phase %-28s %5.1f s wall, %5.2f s CPU (ratio %.3f), RSS max %d kB" % (
            name, w["wall_s"], w["cpu_s"], w["cpu_ratio"], w["rss_max_kb"]), flush=True)
        check(w["cpu_ratio"] < SPIN_RATIO, "%s: asg-agent spins: %r" % (name, w))
        check(w["rss_max_kb"] - self.baseline_rss < RSS_GROWTH_KB,
              "%s: RSS grew from %d to %d kB" % (name, self.baseline_rss, w["rss_max_kb"]))

    def rules_used_up(self, standin):
        return lambda: not standin.control("GET", "inject")["rules"]


def imds_phases(r):
    s = r.s
    imds = s.imds

    def failed_reads(status, n, **match):
        mark = len(r.imds_log())

        def enough():
            got = [e for e in r.imds_log()[mark:] if e["status"] == status and
                   all(e.get(k) == v for k, v in match.items())]
            return len(got) >= n
        return enough

    for mode, status in (("reset", 0), ("503", 503)):
        r.phase("imds-down-" + mode, lambda: imds.control("POST", "down", {"mode": mode}),
                failed_reads(status, 8), lambda: imds.control("POST", "up"))
    # Hanging: requests are held until "up"; each is logged on arrival.
    mark = [0]

    def hang():
        mark[0] = len(r.imds_log())
        imds.control("POST", "down", {"mode": "hang"})
    r.phase("imds-hang", hang,
            lambda: len([e for e in r.imds_log()[mark[0]:] if e.get("down") == "hang"]) >= 4,
            lambda: imds.control("POST", "up"))
    r.phase("imds-500-503-429", lambda: imds.control("POST", "inject", [
        {"method": "GET", "status": 500, "count": 8},
        {"method": "GET", "status": 503, "count": 8},
        {"method": "GET", "status": 429, "count": 8}]), r.rules_used_up(imds))
    creds = "security-credentials/.+"
    r.phase("imds-garbage", lambda: imds.control("POST", "inject", [
        {"path": creds, "body": "{\"Code\": \"Success\", \"AccessKeyId\": ", "count": 2},
        {"path": creds, "body": "[1, 2, 3]", "count": 1},
        {"path": creds, "body": json.dumps({"Code": "Success", "AccessKeyId": 7}), "count": 1},
        {"path": creds, "body_bytes": 3 * 1024 * 1024, "count": 1},
        {"path": creds, "body_bytes": 6 * 1024 * 1024, "count": 1},
        {"path": creds, "body": "{\"Code\": \"Success\", \"AccessKeyId\": \"AKIA\"}",
         "truncate": 12, "count": 2},
        {"path": "target-lifecycle-state", "body": "InService", "truncate": 3, "count": 3},
        {"path": "target-lifecycle-state", "body_bytes": 2 * 1024 * 1024, "count": 1},
        {"path": "spot/instance-action", "body": "{\"action\": ", "count": 2},
        {"path": "events/maintenance/scheduled", "body": "[{\"NotBefore\": 5}]",
         "count": 2}]), r.rules_used_up(imds))
    r.phase("imds-token-expires-mid-call", lambda: imds.control("POST", "inject", [
        {"method": "GET", "expire_tokens": True, "count": 6},
        {"method": "PUT", "status": 503, "count": 2},
        {"method": "PUT", "reset": True, "count": 1}]), r.rules_used_up(imds))


def credentials_expire_during_outage(r):
    """Keys that expire 6 s after issue, no rotation; IMDS goes down; AWS
    refuses the expired keys; IMDS comes back: new keys, the backlog sent."""
    s = r.s
    state = {"credentials": {"auto_rotate_before_seconds": None}}
    s.imds.control("POST", "state", state)
    short = s.imds.control("POST", "rotate-credentials", {"lifetime_seconds": 6})
    check(wait_until(lambda: [c for c in r.ok_puts()
                              if c["access_key_id"] == short["AccessKeyId"]], 20, 0.2),
          "the short-lived keys were never used")

    def outage():
        s.imds.control("POST", "down", {"mode": "reset"})

    def recover():
        s.imds.control("POST", "up")
        s.imds.control("POST", "state", IMDS_STATE)
        s.imds.control("POST", "rotate-credentials", {})
    r.phase("credentials-expire-in-outage", outage,
            lambda: s.aws.calls(error="ExpiredToken"), recover, timeout=40)
    keys = {c["access_key_id"] for c in r.ok_puts()[-1:]}
    check(short["AccessKeyId"] not in keys, "still publishing with expired keys")


def aws_phases(r):
    aws = r.s.aws
    r.phase("aws-throttling-storm", lambda: aws.inject(
        {"error": "Throttling", "status": 400, "count": 20, "message": "Rate exceeded"}),
        r.rules_used_up(aws), timeout=60)
    r.phase("aws-5xx", lambda: [aws.inject({"status": st, "count": 3})
                                for st in (500, 502, 503, 504)],
            r.rules_used_up(aws), timeout=60)
    r.phase("aws-resets", lambda: aws.inject({"reset": True, "count": 8}),
            r.rules_used_up(aws), timeout=60)
    # A hung front end: held past the agent's 10 s timeout, then 504 (the
    # operation does not run, so a retry cannot double it).
    r.phase("aws-hung-request", lambda: aws.inject(
        {"action": "PutMetricData", "delay_ms": 11000, "status": 504, "count": 1}),
        lambda: [c for c in aws.calls(action="PutMetricData") if c.get("injected")
                 and c["status"] is not None], timeout=40)
    r.phase("aws-malformed-huge-xml", lambda: [aws.inject(rule) for rule in (
        {"action": "PutMetricData", "body": "<PutMetricDataResponse><oops", "count": 2},
        {"action": "PutMetricData", "body": "not xml at all", "status": 503, "count": 2},
        {"action": "PutMetricData", "body_bytes": 3 * 1024 * 1024, "status": 500, "count": 1},
        {"action": "PutMetricData", "body_bytes": 6 * 1024 * 1024, "status": 200, "count": 1},
        {"body": "<ErrorResponse><Error><Code>Throttling</Code>", "status": 400,
         "count": 2})], r.rules_used_up(aws), timeout=60)


def check_nothing_lost_or_doubled(s):
    points = agentlib.metric_points(s.aws)
    stamps = [agentlib.timestamp_ms(p) for p in points]
    check(stamps, "no metric published")
    check(len(stamps) == len(set(stamps)),
          "a period was published twice: %r" % sorted(t for t in stamps
                                                      if stamps.count(t) > 1))
    ordered = sorted(stamps)
    gaps = [(a, b) for a, b in zip(ordered, ordered[1:]) if b - a != PERIOD_MS]
    check(not gaps, "periods lost between %r" % gaps)
    done = s.aws.state()["completed_lifecycle_actions"]
    tokens = [d["LifecycleActionToken"] for d in done]
    check(len(done) == 2 and len(set(tokens)) == 2 and
          all(d["by"] == "CompleteLifecycleAction" for d in done),
          "lifecycle actions: %r" % done)
    ok = [c for c in s.aws.calls(action="CompleteLifecycleAction") if c["status"] == 200]
    check(len(ok) == 2, "CompleteLifecycleAction accepted %d times" % len(ok))
    print("periods published: %d, each once, none missing; lifecycle actions: 2, each "
          "completed once" % len(stamps))


def faults(tmp):
    s = lifecyclelib.Setup(tmp, state="Pending:Wait", imds_state=IMDS_STATE)
    monitor = None
    try:
        # The launch hook completed through throttling and 503s.
        s.aws.inject({"action": "CompleteLifecycleAction", "error": "Throttling", "status": 400,
                      "count": 3})
        s.aws.inject({"action": "RecordLifecycleActionHeartbeat", "status": 503, "count": 2})
        s.start_agent()
        monitor = Monitor(s.agent, s.health)
        monitor.start()
        s.wait_state("ready", 30)
        r = Run(s, monitor)
        r.publish_resumed("start")
        check(wait_until(lambda: monitor.samples, 5), "no samples")
        r.baseline_rss = monitor.samples[-1][2]
        t_start = time.monotonic()
        imds_phases(r)
        credentials_expire_during_outage(r)
        aws_phases(r)
        # Scale-in, its hook completed through a throttling storm.
        s.aws.inject({"action": "CompleteLifecycleAction", "error": "Throttling", "status": 400,
                      "count": 4})
        s.aws.control("POST", "terminate", {"InstanceId": lifecyclelib.INSTANCE_ID})
        s.wait_state("drained", 60)
        whole = monitor.window(t_start, time.monotonic())
        monitor.stop()
        s.stop_agent()
        check(monitor.died is None, "asg-agent died: %s" % monitor.died)
        check(not monitor.health_failures,
              "asg-health failed %d probes: %r" % (len(monitor.health_failures),
                                                  monitor.health_failures[:5]))
        print("whole run: %.1f s wall, %.2f s CPU (ratio %.3f), RSS %d -> max %d kB; "
              "asg-health answered %d probes, 0 failed" % (
                  whole["wall_s"], whole["cpu_s"], whole["cpu_ratio"], r.baseline_rss,
                  whole["rss_max_kb"], monitor.health_ok))
        check_nothing_lost_or_doubled(s)
        log = s.agent.stderr()
        check("Sanitizer" not in log and "runtime error" not in log, log[-3000:])
    finally:
        if monitor and monitor.is_alive():
            monitor.stop()
        s.close()


def state_dir_broken(tmp, how):
    """A Spot drain whose state file cannot be written (a full tmpfs or a
    read-only bind mount over state_dir, in a private mount namespace): the
    drain still happens, the failure is logged, the agent exits 0."""
    s = lifecyclelib.Setup(tmp)
    os.makedirs(s.state_dir, exist_ok=True)
    if how == "full":
        prep = ("mount -t tmpfs -o size=64k tmpfs {d} && "
                "{{ dd if=/dev/zero of={d}/fill bs=4k 2>/dev/null || true; }}")
    else:
        prep = "mount --bind {d} {d} && mount -o remount,bind,ro {d}"
    prep = prep.format(d=s.state_dir)
    try:
        agent_bin = agentlib.AGENT
        wrapper = os.path.join(tmp, "in-namespace")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nset -e\n%s\nexec %s \"$@\"\n" % (prep, agent_bin))
        os.chmod(wrapper, 0o755)
        outer = os.path.join(tmp, "outer")
        with open(outer, "w") as f:
            f.write("#!/bin/sh\nexec unshare -m --propagation private %s \"$@\"\n" % wrapper)
        os.chmod(outer, 0o755)
        agentlib.AGENT = outer
        try:
            s.start_agent()
        finally:
            agentlib.AGENT = agent_bin
        s.wait_state("ready", 15)
        pid = s.agent.proc.pid
        s.imds.set_state({"spot_instance_action": {
            "action": "terminate", "time": lifecyclelib.iso(time.time() + 120)}})
        check(wait_until(lambda: s.ok_calls("DeregisterTargets"), 10),
              "no drain with the state directory %s" % how)
        s.wait_state("drained", 15)
        check(s.health_status()["draining"], "asg-health not drained")
        check(s.agent.proc.poll() is None and s.agent.proc.pid == pid, "asg-agent died")
        err = s.status().get("last_error") or ""
        check("cannot save the lifecycle state" in err, "status last_error: %r" % err)
        s.stop_agent()
        log = s.agent.stderr()
        want = "No space left on device" if how == "full" else "Read-only file system"
        check("cannot save the lifecycle state" in log and want in log,
              "the failed save was not logged: %s" % log[-2000:])
        check("Sanitizer" not in log and "runtime error" not in log, log[-3000:])
        print("state directory %s: drained, exit 0" % how)
    finally:
        s.close()


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def clock_jump(tmp):
    """The wall clock jumps 10 minutes ahead, then back (libfaketime reads
    the offset from a file at every call; CLOCK_MONOTONIC is left alone, as
    with a step by NTP or an operator).  The agent keeps publishing (it learns
    AWS's clock from the skew error), nothing is sent twice, and it neither
    spins nor dies."""
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    offset = os.path.join(tmp, "faketime")
    with open(offset, "w") as f:
        f.write("+0\n")
    try:
        with agentlib.client.start_imds() as imds, \
                agentlib.client.start_aws(state=agentlib.AWS_STATE,
                                          trust_imds=[imds.url]) as aws:
            agent = agentlib.Agent(tmp, agentlib.base_config(tmp, proc.path), {
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_ENDPOINT_URL": aws.url,
                "LD_PRELOAD": FAKETIME, "FAKETIME_TIMESTAMP_FILE": offset,
                "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
            try:
                def ok():
                    return [c for c in aws.calls(action="PutMetricData") if c["status"] == 200]
                check(wait_until(lambda: len(ok()) >= 2, 15), "no publish before the jump")
                cpu0, t0 = proc_sample(agent.proc.pid)[0], time.monotonic()
                for jump in ("+600", "+0"):
                    with open(offset + ".tmp", "w") as f:
                        f.write(jump + "\n")
                    os.rename(offset + ".tmp", offset)
                    n = len(ok())
                    check(wait_until(lambda: len(ok()) >= n + 3, 30),
                          "publishing stopped after the clock jumped to %s" % jump)
                ratio = (proc_sample(agent.proc.pid)[0] - cpu0) / (time.monotonic() - t0)
                check(ratio < SPIN_RATIO, "asg-agent spins after a clock jump: %.3f" % ratio)
                check(agent.terminate() == 0, "exit status")
            finally:
                if agent.proc.poll() is None:
                    agent.proc.kill()
            stamps = [agentlib.timestamp_ms(p) for p in agentlib.metric_points(aws)]
            skews = aws.calls(error="SignatureDoesNotMatch")
    finally:
        proc.stop()
    check(len(stamps) == len(set(stamps)), "a period was sent twice: %r" % stamps)
    ahead = [t for t in stamps if t > time.time() * 1000 + 300000]
    check(ahead, "no period stamped on the jumped clock: %r" % stamps)
    check(len(skews) >= 1, "the jump was never refused as skewed")
    check("AWS's clock differs from ours" in agent.stderr(), agent.stderr())
    print("clock jump +600 s and back: %d periods, %d stamped ahead, %d skew refusals, "
          "CPU ratio %.3f" % (len(stamps), len(ahead), len(skews), ratio))


def asan_build():
    out = subprocess.run(["ldd", agentlib.AGENT], capture_output=True, text=True).stdout
    return "libasan" in out


def main(tmp):
    global RSS_GROWTH_KB
    if asan_build():
        # ASan keeps freed memory in quarantine (256 MiB by default): the
        # bound is checked in the plain build, ASan looks for memory errors.
        RSS_GROWTH_KB = 400 * 1024
    t0 = time.monotonic()
    d = os.path.join(tmp, "faults")
    os.makedirs(d)
    faults(d)
    print("faults: ok (%.1f s)" % (time.monotonic() - t0))
    if os.path.exists(FAKETIME) and not asan_build():
        d = os.path.join(tmp, "clock")
        os.makedirs(d)
        t0 = time.monotonic()
        clock_jump(d)
        print("clock-jump: ok (%.1f s)" % (time.monotonic() - t0))
    else:
        # libfaketime cannot be preloaded before ASan's runtime.
        print("clock-jump skipped: no libfaketime, or an ASan build")
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        print("state directory scenarios skipped: no mount namespace (not root)")
        return
    if asan_build():
        # A minute of ./scripts/check's budget under ASan for two saves that
        # fail with ENOSPC/EROFS: the plain build covers them.
        print("state directory scenarios skipped in the ASan build")
        return
    for how in ("full", "read-only"):
        d = os.path.join(tmp, "state-" + how)
        os.makedirs(d)
        t0 = time.monotonic()
        state_dir_broken(d, how)
        print("state-%s: ok (%.1f s)" % (how, time.monotonic() - t0))


agentlib.run(main)
