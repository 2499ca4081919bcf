"""The most faithful local twin of the group (issue 11, section 3): three
instances booted from the rendered user data by real cloud-init (each in
its own network namespace, with its own IMDS stand-in; cloudlib.py),
behind HAProxy from Debian standing in for the ALB, one AWS stand-in
playing the group and its target group.

Scale-in: under steady load through HAProxy, the group terminates one
instance.  The stand-in deregisters its target (mirrored into HAProxy as
the ALB stops routing to it: drain, then maintenance) and puts the
terminating hook on it; asg-agent inside sees Terminated in its IMDS,
drains asg-health, and completes the hook exactly once (CONTINUE); the
instance is then powered off.  No request fails.  HAProxy is given
`retries 0` and no redispatch: the ALB retries nothing.

Slow (three first boots: see RELIABILITY.md): runs only with ASG_TEST_SLOW=1,
which `./scripts/check --slow` sets; otherwise it skips.  Needs what
cloud-boot.py needs, and haproxy.
"""

import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bootlib  # noqa: E402
import cloudlib  # noqa: E402

sys.path.insert(0, os.path.join(cloudlib.TOP_SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(cloudlib.TOP_SRCDIR, "tests", "fleet"))
from asgtest import free_port  # noqa: E402
from fleet import Load  # noqa: E402  (keep-alive clients counting every failure)
from haproxy import HAProxy  # noqa: E402

N = 3
BOOT_TIMEOUT = 600
INTER_MS = 500


class TargetGroupMirror:
    """The ALB's side of target group membership: registered targets are
    ready, draining ones drain (in-flight requests finish, no new ones),
    gone ones in maintenance; a Terminated instance is powered off."""

    def __init__(self, aws, lb, instances, events):
        self.aws, self.lb, self.instances, self.events = aws, lb, instances, events
        self.stopping = threading.Event()
        self.powered_off = {}
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        applied = {}
        while not self.stopping.wait(0.05):
            try:
                state = self.aws.state()
            except RuntimeError as e:
                self.events("mirror: %s" % e)
                continue
            want = {}
            for t in state["target_groups"][0]["targets"]:
                want[t["Id"]] = "drain" if t.get("State") == "draining" else "ready"
            for inst in self.instances:
                w = want.get(inst.id, "maint")
                if applied.get(inst.id) != w:
                    self.lb.set_state("i%d" % inst.n, w)
                    self.events("alb i%d %s" % (inst.n, w))
                    applied[inst.id] = w
            for i in state["instances"]:
                inst = next((x for x in self.instances if x.id == i["InstanceId"]), None)
                if inst and i["LifecycleState"] == "Terminated" and inst.id not in self.powered_off:
                    self.events("ec2 i%d terminated: power-off" % inst.n)
                    self.powered_off[inst.id] = None
                    threading.Thread(target=self._power_off, args=(inst,), daemon=True).start()

    def _power_off(self, inst):
        try:
            inst.machine.poweroff()
            self.powered_off[inst.id] = inst.machine.proc.returncode
        except bootlib.BootError as e:
            self.powered_off[inst.id] = str(e)

    def stop(self):
        self.stopping.set()
        self.thread.join(5)


def main():
    if os.environ.get("ASG_IN_PACKAGE_BUILD"):
        bootlib.skip("inside dpkg-buildpackage")
    if bootlib.sanitized_build(cloudlib.TOP_BUILDDIR):
        bootlib.skip("sanitizer build: the package is built and booted by the plain build's run")
    if os.environ.get("ASG_TEST_SLOW") != "1":
        bootlib.skip("three first boots under cloud-init: run with ./scripts/check --slow "
             "(or ASG_TEST_SLOW=1)")
    if os.geteuid() != 0:
        print("FAIL: needs root (debootstrap, systemd-nspawn, ip netns)", file=sys.stderr)
        return 1
    for tool in ("systemd-nspawn", "debootstrap", "ip", "nsenter", "haproxy"):
        if not shutil.which(tool):
            print("FAIL: %s not found (scripts/deps test)" % tool, file=sys.stderr)
            return 1
    t_start = time.monotonic()
    failures = []
    events = []

    def event(line):
        events.append("%7.2f %s" % (time.monotonic() - t_start, line))

    bootlib.clean_stale()
    work = tempfile.mkdtemp(prefix="asg-cloud-scale-in-%d-" % os.getpid(), dir="/var/tmp")
    instances, aws, pkg, lb, mirror, load = [], None, None, None, None, None
    try:
        deb = cloudlib.find_deb()
        for n in range(1, N + 1):
            instances.append(cloudlib.Instance(work, n, avoid={i.link.prefix
                                                               for i in instances}))
        first = instances[0]
        aws = cloudlib.client.start_aws(
            state=cloudlib.aws_world([(i.id, i.imds.url) for i in instances]),
            trust_imds=[i.imds.url for i in instances], listen=first.link.host_ip + ":0")
        pkg = cloudlib.PackageServer(first.link.host_ip, deb)
        user_data = cloudlib.render_user_data(pkg.url)
        for inst in instances:
            if inst is not first:
                inst.link.route_to(first.link.host_ip)
            inst.seed(user_data, aws.url, ["ASG_AGENT_TEST_WATCH_MS=500",
                                           "ASG_AGENT_TEST_PERIOD_MS=1000"])
        t0 = time.monotonic()
        for inst in instances:
            inst.boot()
        health = cloudlib.wait_health(instances, BOOT_TIMEOUT)
        for inst, health_s in zip(instances, health):
            ci, ci_s = inst.wait_cloud_init(BOOT_TIMEOUT)
            event("i%d booted: /health 200 after %.1f s, cloud-init %s after %.1f s"
                  % (inst.n, health_s, ci.get("status"), ci_s))
            if ci.get("status") != "done" or ci.get("errors"):
                failures.append("i%d: cloud-init %s" % (inst.n, ci))
        event("%d instances up in %.1f s" % (N, time.monotonic() - t0))
        port = free_port()
        lb = HAProxy(work, port, [("i%d" % i.n, i.link.guest_ip, 80, True) for i in instances],
                     INTER_MS, backend_extra=["http-response set-header X-Served-By %s",
                                              # the ALB never retries or redispatches
                                              "retries 0"])
        mirror = TargetGroupMirror(aws, lb, instances, event)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and set(lb.servers().values()) != {"UP"}:
            time.sleep(0.1)
        if set(lb.servers().values()) != {"UP"}:
            raise bootlib.BootError("HAProxy: %s" % lb.servers())
        load = Load(port)
        time.sleep(2.0)
        victim = instances[-1]
        event("scale-in i%d %s" % (victim.n, victim.id))
        t1 = time.monotonic()
        aws.control("POST", "terminate", {"InstanceId": victim.id, "cause": "scale-in"})
        deadline = time.monotonic() + 180
        state = None
        while time.monotonic() < deadline:
            state = next(i["LifecycleState"] for i in aws.state()["instances"]
                         if i["InstanceId"] == victim.id)
            if state == "Terminated":
                break
            time.sleep(0.2)
        took = time.monotonic() - t1
        event("i%d %s after %.1f s" % (victim.n, state, took))
        if state != "Terminated":
            failures.append("i%d not terminated within 180 s (%s)" % (victim.n, state))
        # Load on the survivors a little longer: nothing may fail as the
        # victim powers off.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and victim.machine.running():
            time.sleep(0.2)
        time.sleep(1.0)
        ok, failed = load.stop()
        event("served by %s" % dict(sorted(load.by_server.items())))
        load = None
        completes = [c for c in aws.calls(action="CompleteLifecycleAction")
                     if (c.get("params") or {}).get("InstanceId") == victim.id
                     and c["status"] == 200]
        event("%d requests, %d failed; CompleteLifecycleAction x%d %s"
              % (ok + len(failed), len(failed), len(completes),
                 [(c["params"].get("LifecycleHookName"), c["params"].get("LifecycleActionResult"))
                  for c in completes]))
        if failed:
            failures.append("%d of %d requests failed: %s" % (len(failed), ok + len(failed),
                                                               [f[1] for f in failed[:5]]))
        if ok < 50:
            failures.append("only %d requests answered: the load did not run" % ok)
        if [(c["params"].get("LifecycleHookName"), c["params"].get("LifecycleActionResult"))
                for c in completes] != [(cloudlib.TERM_HOOK, "CONTINUE")]:
            failures.append("the terminating hook was not completed exactly once by the agent")
        if victim.machine.running() or mirror.powered_off.get(victim.id) != 0:
            failures.append("i%d did not power off cleanly: %s"
                            % (victim.n, mirror.powered_off.get(victim.id)))
        for inst in instances[:-1]:
            if inst.get("/health")[0] != 200:
                failures.append("survivor i%d: /health not 200" % inst.n)
        print("timing: scale-in: drained and terminated in %.1f s" % took)
    except (bootlib.BootError, OSError, RuntimeError, StopIteration) as e:
        failures.append(str(e))
    finally:
        if load:
            load.stop()
        if mirror:
            mirror.stop()
        for line in events:
            print(line)
        if failures:
            for inst in instances:
                for n in range(1, inst.boots + 1):
                    path = os.path.join(inst.dir, "console-%d.txt" % n)
                    try:
                        with open(path, errors="replace") as f:
                            tail = f.readlines()[-25:]
                    except OSError:
                        tail = []
                    print("---- i%d console (last 25 lines)\n%s" % (inst.n, "".join(tail)))
        if lb:
            lb.stop()
        if pkg:
            pkg.close()
        if aws:
            aws.stop()
            aws.tmpdir.cleanup()
        for inst in instances:
            inst.close()
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
