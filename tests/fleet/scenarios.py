"""The fleet scenarios of issue 5.  Each runs under bounded load through
the load balancer and returns a Result whose line carries its figures."""

import os
import signal
import socket
import threading
import time

from fleet import Load, WrkLoad, wait_for

FALL = 2


class Result:
    def __init__(self, name, ok, failed, line, allowed=0, details=None):
        self.name = name
        self.requests = ok + failed
        self.failed = failed
        self.allowed = allowed
        self.line = "%-10s %s; %d requests, %d failed" % (name + ":", line, self.requests, failed)
        self.details = details or []

    @property
    def passed(self):
        return self.failed <= self.allowed


def _finish(load, name, line, allowed=0):
    ok, failures = load.stop()
    return Result(name, ok, len(failures), line, allowed, [f[1] for f in failures[:10]])


def _steady(fleet, seconds):
    time.sleep(seconds)


def _late(failures, t_kill, t_eject):
    """The failures a kill does not excuse: those that ended before the
    kill, or whose request was sent after the test saw the load balancer
    eject the instance.  (By end time alone, with 50 ms of slack, a 503
    that HAProxy gave just before the ejection and a busy client recorded
    later counted as late: seen at load 5.)"""
    return [f for f in failures if f[0] < t_kill or f[2] > t_eject]


def crash(fleet, slot):
    """kill -9 one asg-health: HAProxy ejects it within fall x interval;
    only requests in flight on that instance may fail, so every failure
    must fall between the kill and the ejection (_late)."""
    inst = fleet.instances[slot]
    load = Load(fleet.lb.port)
    _steady(fleet, 1.0)
    t_kill = time.monotonic()
    inst.health.send_signal(signal.SIGKILL)
    inst.health.wait()
    wait_for(lambda: (fleet.haproxy_status(slot) or "").startswith("DOWN"), 10,
             "HAProxy to eject i%d" % slot)
    t_eject = time.monotonic()
    _steady(fleet, 1.0)
    # The instance's health server comes back (systemd's Restart=), and the
    # load balancer takes it back after rise checks.
    inst.start_health()
    fleet.wait_up([slot])
    back = time.monotonic() - t_kill
    bound = FALL * fleet.inter_ms / 1000.0
    ok, failures = load.stop()
    late = _late(failures, t_kill, t_eject)
    res = Result("crash", ok, len(failures),
                 "i%d killed, ejected after %.2f s (fall x interval = %.2f s), back after %.2f s; "
                 "failures after the ejection: %d" % (slot, t_eject - t_kill, bound, back, len(late)),
                 allowed=len(failures) if not late else -1,
                 details=[f[1] for f in (late or failures)[:10]])
    return res


def dependency(fleet, slot):
    """A critical check fails on one instance: 503, ejected; it recovers:
    back after rise.  An informational check failing everywhere ejects
    nobody."""
    inst = fleet.instances[slot]
    load = Load(fleet.lb.port)
    _steady(fleet, 0.5)
    t0 = time.monotonic()
    open(inst.flag, "w").close()
    wait_for(lambda: (fleet.haproxy_status(slot) or "").startswith("DOWN"), 10,
             "i%d to be ejected" % slot)
    ejected = time.monotonic() - t0
    os.unlink(inst.flag)
    t0 = time.monotonic()
    fleet.wait_up([slot])
    restored = time.monotonic() - t0
    # the shared database goes down: every instance reports it, none fails
    fleet.db_down()
    wait_for(lambda: all(i.health_status()["checks"]["shared-db"]["state"] == "fail"
                         for i in fleet.live_instances()), 10,
             "every instance to see the shared database down")
    _steady(fleet, 3 * fleet.inter_ms / 1000.0 * FALL)
    still_up = all(fleet.haproxy_status(i.slot) == "UP" for i in fleet.live_instances())
    fleet.db_up()
    res = _finish(load, "dependency", "critical check on i%d: ejected after %.2f s, back %.2f s "
                  "after recovery; shared dependency down on all: %s" %
                  (slot, ejected, restored, "nobody ejected" if still_up else "EJECTED"))
    if not still_up:
        res.allowed = -1
    return res


def reload_under_load(fleet, slot):
    """SIGHUP with a new config and a site rewrite on one instance: no
    failed request, and no response mixes old and new content."""
    inst = fleet.instances[slot]
    old = {"/version.txt": b"OLD\n" * 2048, "/index.html": None}
    with open(os.path.join(inst.root, "index.html"), "rb") as f:
        old["/index.html"] = f.read()
    new = {"/version.txt": b"NEW!\n" * 3000,
           "/index.html": old["/index.html"].replace(b"</body>", b"<p>v2</p></body>")}
    # every instance serves the same site, as after a deploy
    for i in fleet.live_instances():
        with open(os.path.join(i.root, "version.txt"), "wb") as f:
            f.write(old["/version.txt"])
    seen_new = []

    def check(path, body):
        if body == old.get(path) or path not in old:
            return None
        if body == new.get(path):
            seen_new.append(path)
            return None
        return "%s: %d bytes that are neither the old nor the new file" % (path, len(body))

    load = Load(fleet.lb.port, paths=("/index.html", "/version.txt"), check=check)
    _steady(fleet, 1.0)
    inst.write_health_config({"cache_control": [{"extension": "txt", "value": "no-cache"}]})
    inst.health.send_signal(signal.SIGHUP)
    for path, data in new.items():
        target = os.path.join(inst.root, path.lstrip("/"))
        with open(target + ".new", "wb") as f:
            f.write(data)
        os.rename(target + ".new", target)  # the deploy way: atomic per file
    wait_for(lambda: len(seen_new) > 20, 10, "the new content to be served")
    _steady(fleet, 1.0)
    return _finish(load, "reload", "SIGHUP + site rewrite on i%d, new content served %d times, "
                   "mixed responses: counted as failures" % (slot, len(seen_new)))


def slow_download(inst, seconds=2.0):
    """Starts a download from the instance that takes about `seconds`;
    returns a function that waits for it and says whether it completed."""
    result = {}

    def run():
        with open(os.path.join(inst.root, "big.bin"), "rb") as f:
            want = f.read()
        s = socket.create_connection((inst.addr, 8080), timeout=30)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        pause = seconds / (len(want) / 65536)
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
            time.sleep(pause)
        s.close()
        result["ok"] = data.endswith(want) and b" 200 " in data[:20]
    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(0.2)

    def wait():
        t.join(30)
        return result.get("ok", False)
    return wait


def scale_in(fleet, slot):
    """The group terminates an instance: deregistration, then the hook;
    the agent drains, lets in-flight requests finish (a slow download) and
    completes the hook exactly once."""
    inst = fleet.instances[slot]
    load = Load(fleet.lb.port)
    _steady(fleet, 1.0)
    download = slow_download(inst)
    t0 = time.monotonic()
    fleet.terminate(slot)
    wait_for(lambda: fleet.instance_state(slot) == "Terminated", 60,
             "i%d to be terminated" % slot)
    took = time.monotonic() - t0
    completes = [c for c in fleet.aws.calls(action="CompleteLifecycleAction")
                 if c["params"] and c["params"].get("InstanceId") == inst.id
                 and c["params"].get("LifecycleHookName") == "web-terminate" and c["status"] == 200]
    finished = download()
    res = _finish(load, "scale-in", "i%d drained and terminated in %.1f s, in-flight download "
                  "%s, CompleteLifecycleAction x%d" % (slot, took, "completed" if finished
                                                       else "CUT OFF", len(completes)))
    if len(completes) != 1 or not finished:
        res.allowed = -1
    return res


def rolling_replacement(fleet):
    """Every instance replaced one after another: the replacement first,
    through the launch gate only once its checks pass, then the old one
    scaled in."""
    load = Load(fleet.lb.port)
    _steady(fleet, 1.0)
    old_slots = sorted(s for s, i in fleet.instances.items() if i.alive())
    gates = []
    for old in old_slots:
        old_inst = fleet.instances[old]
        new = fleet.free_slot()
        t0 = time.monotonic()
        inst = fleet.launch(new, hold_checks=1.0)
        wait_for(lambda: fleet.instance_state(new) == "InService", 60,
                 "i%d to pass the launch gate" % new)
        gates.append(time.monotonic() - t0)
        fleet.wait_up([new])
        fleet.terminate(old)
        wait_for(lambda: fleet.instance_state(old) == "Terminated", 60,
                 "i%d to be terminated" % old)
        wait_for(lambda: not fleet.instances[old].alive() or fleet.instances[old] is not old_inst,
                 30, "i%d's processes to end" % old)
        if not fleet.launch_gate_respected(inst):
            now = time.monotonic()
            load.failures.append((now, "i%d entered service before its checks passed" % new,
                                  now))
    return _finish(load, "rolling", "%d instances replaced, launch gates %s s" %
                   (len(old_slots), ", ".join("%.1f" % g for g in gates)))


def spot_interruption(fleet, slot, notice_s=12.0):
    """A spot interruption notice (two minutes, time-scaled): deregistered
    and drained well before the deadline."""
    inst = fleet.instances[slot]
    load = Load(fleet.lb.port)
    _steady(fleet, 1.0)
    t0 = time.monotonic()
    deadline = time.time() + notice_s
    inst.imds.control("POST", "state", {"spot_instance_action": {
        "action": "terminate",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline))}})
    wait_for(lambda: any(c["params"] and inst.id in str(c["params"].get("Targets"))
                         for c in fleet.aws.calls(action="DeregisterTargets")), notice_s,
             "DeregisterTargets for i%d" % slot)
    deregistered = time.monotonic() - t0
    wait_for(lambda: inst.health_status()["draining"] and inst.health_status()["in_flight"] == 0,
             notice_s, "i%d to drain" % slot)
    drained = time.monotonic() - t0
    # EC2 reclaims the instance at the deadline
    time.sleep(max(0.0, deadline - time.time()))
    fleet.reclaim(slot)
    _steady(fleet, 1.0)
    res = _finish(load, "spot", "notice on i%d: deregistered after %.1f s, drained after %.1f s, "
                  "deadline %.0f s" % (slot, deregistered, drained, notice_s))
    if drained > notice_s:
        res.allowed = -1
    return res


# --- the closed loop (issue 11): the group's controller in group.py ------

def _serving(fleet, group):
    """Slots the group has in service that HAProxy has UP."""
    lbs = fleet.lb.slots()
    return sorted(s for s, st in group.members().items()
                  if st == "InService" and lbs.get(s) == "UP")


def _no_request_before_gate(fleet, inst):
    """The ALB is the only way in, and the reconciler opens it only once the
    stand-in has registered the instance, i.e. after its launch hook was
    completed; at that moment asg-health had received nothing but probes
    since it started."""
    seen = fleet.registered_traffic.get(inst.id)
    return seen is not None and seen == inst.baseline_traffic and \
        fleet.launch_gate_respected(inst)


def instance_failure(fleet, group, slot):
    """terminate N: every process of the instance killed at once, no hook.
    The load balancer ejects it, the group replaces it.  The ALB does not
    retry: the requests sent to it between the kill and the ejection fail
    (502), none after."""
    inst = fleet.instances[slot]
    load = Load(fleet.lb.port, clients=4, rate=200)
    _steady(fleet, 1.0)
    t_kill = time.monotonic()
    fleet.kill(slot)
    wait_for(lambda: (fleet.haproxy_status(slot) or "").split(" ")[0] in ("DOWN", "MAINT"), 10,
             "HAProxy to eject i%d" % slot)
    t_eject = time.monotonic()
    wait_for(lambda: any(r[1] == slot and r[2] == "died" for r in group.replaced), 10,
             "the group to see i%d gone" % slot)
    wait_for(lambda: len(_serving(fleet, group)) >= group.desired and
             any(i.launch_seq > inst.launch_seq for i in fleet.live_instances()), 60,
             "a replacement for i%d in service" % slot)
    t_back = time.monotonic()
    new = max(fleet.live_instances(), key=lambda i: i.launch_seq)
    wait_for(lambda: "i%d" % new.slot in load.by_server, 20, "the replacement to serve")
    _steady(fleet, 0.5)
    ok, failures = load.stop()
    late = _late(failures, t_kill, t_eject)
    gated = _no_request_before_gate(fleet, new)
    res = Result("failure", ok, len(failures),
                 "i%d killed, ejected after %.2f s, replaced by i%d %s serving after %.1f s; "
                 "failures: %d between the kill and the ejection, %d after; nothing "
                 "before the replacement's gate: %s" % (
                     slot, t_eject - t_kill, new.slot, new.id, t_back - t_kill,
                     len(failures) - len(late), len(late), gated),
                 allowed=len(failures) if not late and gated else -1,
                 details=[f[1] for f in (late or failures)[:10]])
    return res


def autoscale(fleet, group):
    """A load step (wrk): the group grows from 2 to at least 3 on the
    agents' CPU metric, and the new instance receives no request before its
    gate completed; the load drops to a trickle: it shrinks back to 2
    through drains.  A Python client at 10 requests/s runs throughout and
    sees which instance answers; no request of either fails."""
    before = {i.id for i in fleet.live_instances()}
    load = Load(fleet.lb.port, clients=1, rate=10)
    t0 = time.monotonic()
    step = WrkLoad(fleet.lb.port)
    wait_for(lambda: any(d.direction == "out" for t, d in group.decisions if t > t0), 90,
             "a scale-out decision")
    out = next(d for t, d in group.decisions if t > t0 and d.direction == "out")
    wait_for(lambda: len(_serving(fleet, group)) >= 3, 60, "a third instance in service")
    new = [i for i in fleet.live_instances() if i.id not in before]
    wait_for(lambda: any("i%d" % i.slot in load.by_server for i in new), 20,
             "the new instance to serve")
    t_serving = min(load.first_seen["i%d" % i.slot] for i in new
                    if "i%d" % i.slot in load.by_server)
    gated = all(_no_request_before_gate(fleet, i) for i in new)
    grown = len(group.members())
    grown_ids = {fleet.instances[s].id for s in group.members() if s in fleet.instances}
    # the load drops to the trickle, which keeps flowing through the drains
    t1 = time.monotonic()
    ok2, f2 = step.stop()
    wait_for(lambda: any(d.direction == "in" for t, d in group.decisions if t > t1), 90,
             "a scale-in decision")
    inn = next(d for t, d in group.decisions if t > t1 and d.direction == "in")
    wait_for(lambda: len(group.members()) == 2 and len(fleet.live_instances()) == 2, 60,
             "the group back to 2")
    gone = grown_ids - {fleet.instances[s].id for s in group.members()}
    drained = [c for c in fleet.aws.calls(action="CompleteLifecycleAction")
               if c["status"] == 200 and c["params"].get("LifecycleHookName") == "web-terminate"
               and c["params"].get("LifecycleActionResult") == "CONTINUE"
               and c["params"].get("InstanceId") in gone]
    ok1, f1 = load.stop()
    failures = [f[1] for f in f1] + f2
    res = Result("autoscale", ok1 + ok2, len(failures),
                 "scale-out at %.1f %% (%s), %d instances, new one serving %.1f s after the "
                 "load step, nothing before its gate: %s; scale-in at %.1f %% to %d after "
                 "%.1f s, %d drained through the hook" % (
                     out.metric, out.reason, grown, t_serving - t0, gated, inn.metric,
                     inn.desired, time.monotonic() - t1, len(drained)),
                 details=failures[:10])
    if not gated or grown < 3 or not gone or len(drained) != len(gone):
        res.allowed = -1
    res.t_serving = t_serving - t0
    return res


def unhealthy_replaced(fleet, group, slot):
    """A critical check fails on one instance and stays failing: the load
    balancer ejects it, and past the group's health check (HealthCheckType
    ELB) it is terminated through its hook, drained, and replaced.  No
    request fails."""
    inst = fleet.instances[slot]
    load = Load(fleet.lb.port, clients=4, rate=200)
    _steady(fleet, 0.5)
    t0 = time.monotonic()
    open(inst.flag, "w").close()
    wait_for(lambda: (fleet.haproxy_status(slot) or "").startswith("DOWN"), 10,
             "HAProxy to eject i%d" % slot)
    t_eject = time.monotonic()
    wait_for(lambda: any(r[1] == slot and r[2] == "unhealthy" for r in group.replaced), 30,
             "the group to find i%d unhealthy" % slot)
    wait_for(lambda: fleet.instance_state(slot) == "Terminated" or
             fleet.instances[slot] is not inst, 30, "i%d to be terminated" % slot)
    wait_for(lambda: len(_serving(fleet, group)) >= group.desired and
             any(i.launch_seq > inst.launch_seq for i in fleet.live_instances()), 60,
             "a replacement for i%d in service" % slot)
    t_back = time.monotonic()
    completes = [c for c in fleet.aws.calls(action="CompleteLifecycleAction")
                 if c["status"] == 200 and c["params"].get("InstanceId") == inst.id
                 and c["params"].get("LifecycleHookName") == "web-terminate"]
    _steady(fleet, 0.5)
    res = _finish(load, "unhealthy", "critical check failing on i%d: ejected after %.2f s, "
                  "terminated through its hook (x%d) and replaced, serving after %.1f s" % (
                      slot, t_eject - t0, len(completes), t_back - t0))
    if len(completes) != 1:
        res.allowed = -1
    return res
