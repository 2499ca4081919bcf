"""The Auto Scaling group's controller for the fleet on one machine: what
EC2 Auto Scaling does on AWS's side, on top of the AWS stand-in.

- Capacity: desired, min and max.  Below desired it launches instances
  (through the launching hook: the instance's asg-agent decides when it
  enters service, and only then is it registered and does HAProxy route to
  it); above desired it terminates one at a time through the terminating
  hook (deregistration, then the drain).  Which one: the default
  termination policy's first rule, the zone with the most instances; then
  the oldest.
- Health, HealthCheckType ELB: an instance that is gone (all its processes
  died: EC2 reports it not running) is replaced at once, with no hook to
  run; one the load balancer finds unhealthy (HAProxy: DOWN) past the
  health check grace period is terminated through its hook and replaced.
- Target tracking on the agents' own metric: once per metric period the
  group's average (CloudWatch's aggregation in the AWS stand-in) of the
  period that has just closed goes to scaling.decide(); each decision is
  logged with the metric value behind it.

Time-scaled like the rest of the fleet; every wait is bounded.
"""

import math
import threading
import time
import urllib.parse

import scaling
from fleet import GROUP, MAX_SLOTS, METRIC_SCALE

GONE = ("Terminated", "Detached")


class Group:
    def __init__(self, fleet, min_size=2, max_size=4, desired=2, target=5.0,
                 warmup=2.0, grace=0.0, unhealthy_for=3.0, policy=None, log=None):
        """target: CPU percent; warmup, grace and unhealthy_for (how long the
        load balancer must have had it DOWN: its unhealthy threshold and
        the group's periodic health check): seconds here."""
        self.fleet = fleet
        self.min_size, self.max_size, self.desired = min_size, max_size, desired
        self.policy = policy or scaling.Policy(target=target)
        self.period = fleet.metric_period / METRIC_SCALE
        self.settle = min(self.period, 1.0) + self.period / 4 + 0.3
        self.warmup = warmup
        self.grace = grace
        self.unhealthy_for = unhealthy_for
        self.down_since = {}  # instance id: when HAProxy first had it DOWN
        self.paused = threading.Event()  # the demo's scripted scenarios
        self.log = log or fleet.events
        self.lock = threading.Lock()
        self.history = []       # the group metric per period, None: no data
        self.values = []        # (monotonic time, value) of every period evaluated
        self.decisions = []     # (monotonic time, Decision)
        self.replaced = []      # (monotonic time, slot, why)
        self.launching = set()  # slots being started
        self.in_service_at = {}  # instance id: monotonic time it entered service
        self.launched_at = {}
        self.errors = []
        self._set_desired(desired, None)
        self.seen_up = set()  # instance ids HAProxy has had UP: out of "initial"
        self.stopping = threading.Event()
        # the end of the next period to evaluate
        self.next_end = (math.floor(time.time() / self.period) + 1) * self.period
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    # --- the stand-in's view ---------------------------------------------
    def _states(self):
        return {i["InstanceId"]: i.get("LifecycleState")
                for i in self.fleet.aws.state().get("instances", [])}

    def members(self, states=None):
        """{slot: lifecycle state} of the instances the group counts."""
        states = states if states is not None else self._states()
        out = {}
        for slot, inst in list(self.fleet.instances.items()):
            st = states.get(inst.id)
            if st is None and inst.id in self.launched_at and not inst.terminated:
                # Launched after the states were read: counted, or the
                # next launch and a scale-in of a healthy instance follow
                # (seen: i3 and i4 launched for i1, then i2 terminated).
                st = "Pending"
            if st is not None and st not in GONE:
                out[slot] = st
        for slot in self.launching:
            out.setdefault(slot, "Pending")
        return out

    def _set_desired(self, n, decision):
        self.desired = n
        state = self.fleet.aws.state()
        for g in state["auto_scaling_groups"]:
            if g["AutoScalingGroupName"] == GROUP:
                g.update(MinSize=self.min_size, MaxSize=self.max_size, DesiredCapacity=n)
        self.fleet.aws.control("POST", "state",
                               {"auto_scaling_groups": state["auto_scaling_groups"]})

    # --- the loop ------------------------------------------------------------
    def _loop(self):
        while not self.stopping.wait(0.1):
            if self.paused.is_set():
                self.history = []
                self.next_end = (math.floor(time.time() / self.period) + 1) * self.period
                continue
            try:
                states = self._states()
                self._health(states)
                self._capacity(states)
                # Evaluated once every agent has sent it: an agent closes a
                # period at its first sample after the end (one a second)
                # and then waits at most a quarter period.
                if time.time() >= self.next_end + self.settle:
                    self._evaluate(states, self.next_end - self.period)
                    self.next_end += self.period
            except Exception as e:  # keep controlling; the test sees it
                self.errors.append(repr(e))
                self.log("group    error: %r" % e)

    def _health(self, states):
        now = time.monotonic()
        lbs = self.fleet.lb.slots()
        for slot, inst in list(self.fleet.instances.items()):
            st = states.get(inst.id)
            if st is None or st in GONE:
                continue
            lb = lbs.get(slot, "")
            if st == "InService":
                self.in_service_at.setdefault(inst.id, now)
                if lb == "UP":
                    self.seen_up.add(inst.id)
            # A new target is "initial" until its first checks: unhealthy
            # means DOWN after having been UP, or still not UP past grace.
            if st == "InService" and lb.startswith("DOWN") and (
                    inst.id in self.seen_up or now - self.in_service_at[inst.id] >= 5.0):
                self.down_since.setdefault(inst.id, now)
            else:
                self.down_since.pop(inst.id, None)
            unhealthy = now - self.down_since.get(inst.id, now) >= self.unhealthy_for
            if inst.terminated and not st.startswith("Terminat"):
                # EC2: the instance is not running; nothing can run a hook
                self.replaced.append((now, slot, "died"))
                self.log("group    i%d %s is gone (EC2 status): replacing it" % (slot, inst.id))
                self._gone(inst)
            elif unhealthy and now - self.launched_at.get(inst.id, 0) >= self.grace:
                self.down_since.pop(inst.id, None)
                self.replaced.append((now, slot, "unhealthy"))
                self.log("group    i%d %s failed the load balancer's checks: replacing it"
                         % (slot, inst.id))
                self.fleet.aws.control("POST", "terminate",
                                       {"InstanceId": inst.id, "cause": "unhealthy"})

    def _gone(self, inst):
        state = self.fleet.aws.state()
        for tg in state["target_groups"]:
            tg["targets"] = [t for t in tg["targets"] if t["Id"] != inst.id]
        self.fleet.aws.control("POST", "state", {"target_groups": state["target_groups"]})
        self.fleet.aws.control("POST", "instances", {"InstanceId": inst.id,
                                                     "LifecycleState": "Terminated"})

    def _capacity(self, states):
        members = self.members(states)
        active = {s: st for s, st in members.items() if not st.startswith("Terminat")}
        if len(active) < self.desired:
            for _ in range(self.desired - len(active)):
                slot = self._free_slot(states)
                if slot is None:
                    break
                self.launching.add(slot)
                threading.Thread(target=self._launch, args=(slot,), daemon=True).start()
        elif len(active) > self.desired and \
                not any(st.startswith("Terminat") for st in members.values()):
            victim = self._victim(active)
            if victim is not None:
                self.fleet.terminate(victim)

    def _free_slot(self, states):
        lbs = self.fleet.lb.slots()
        for slot in range(1, MAX_SLOTS + 1):
            # not an address the load balancer still routes to (its lag)
            if slot in self.launching or lbs.get(slot) != "MAINT":
                continue
            inst = self.fleet.instances.get(slot)
            if inst is None or (states.get(inst.id) in GONE + (None,) and
                                (inst.terminated or not inst.alive())):
                return slot
        return None

    def _launch(self, slot):
        try:
            inst = self.fleet.launch(slot)
            self.launched_at[inst.id] = time.monotonic()
        except Exception as e:
            self.errors.append("launch i%d: %r" % (slot, e))
            self.log("group    launch of i%d failed: %r" % (slot, e))
        finally:
            self.launching.discard(slot)

    def _victim(self, active):
        """The zone with the most in-service instances, then the oldest."""
        serving = [s for s, st in active.items() if st == "InService"]
        if not serving:
            return None
        zones = {}
        for s in serving:
            zones.setdefault(s % 3, []).append(s)
        zone = max(zones.values(), key=len)
        return min(zone, key=lambda s: self.fleet.instances[s].launch_seq)

    # --- target tracking -----------------------------------------------------
    def metric(self, start):
        q = urllib.parse.urlencode({
            "namespace": "ASGAgent", "name": "CPUUtilization",
            "dim": "AutoScalingGroupName=%s" % GROUP, "start": start,
            "end": start + self.period, "period": self.period})
        out = self.fleet.aws.control("GET", "metric-statistics?" + q)
        return out[0]["Average"] if out else None

    def _evaluate(self, states, start):
        value = self.metric(start)
        self.values.append((time.monotonic(), value))
        self.history = (self.history + [value])[-max(self.policy.low_points,
                                                     self.policy.high_points):]
        members = self.members(states)
        now = time.monotonic()
        serving = warming = 0
        for slot, st in members.items():
            inst = self.fleet.instances.get(slot)
            if st == "InService" and inst and \
                    now - self.in_service_at.get(inst.id, now) >= self.warmup:
                serving += 1
            elif not st.startswith("Terminat"):
                warming += 1
        d = scaling.decide(self.policy, self.history, serving, warming, self.desired,
                           self.min_size, self.max_size)
        if d:
            self.decisions.append((now, d))
            self.log("scale    %s: CPUUtilization %.1f %%, the group's average (%s): "
                     "desired %d -> %d" % (d.direction, d.metric, d.reason, self.desired,
                                           d.desired))
            self._set_desired(d.desired, d)
            # the alarms start over on fresh data
            self.history = []

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
