"""State and operations of the AWS stand-in: one Auto Scaling group world
(groups, instances, lifecycle hooks and pending lifecycle actions), ELBv2
target groups, and the CloudWatch datapoints received.

Behaviour follows /work/shared/reference/aws.md sections 1, 2 and 4.  API
names are botocore's (AWS's) member names, so state entries serialize
directly; lowercase keys are the stand-in's own bookkeeping.
"""

import base64
import copy
import datetime
import json
import math
import queue
import threading
import time
import urllib.request
import uuid

from query_protocol import QueryError, validation_error

ACCOUNT_DEFAULT = "123456789012"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
# "the most an instance can stay in a wait state is 48 hours or 100 x
# heartbeat timeout, whichever is smaller" (aws.md section 2).
GLOBAL_TIMEOUT_CAP = 48 * 3600
GONE_STATES = ("Terminated", "Detached")
# IMDS autoscaling/target-lifecycle-state gives where an instance is going
# (aws.md section 2): a launch is heading for InService, a termination for
# Terminated.
MIRRORED_TARGET_STATE = {"Pending": "InService", "InService": "InService",
                         "Terminating": "Terminated", "Terminated": "Terminated",
                         "EnteringStandby": "Standby", "Standby": "Standby",
                         "Detached": "Detached"}


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (int(epoch * 1000) % 1000)


def _page(items, max_records, next_token, limit):
    """AWS pagination with an opaque NextToken (here a base64 offset)."""
    if max_records is None:
        max_records = 50
    if not 1 <= max_records <= limit:
        raise validation_error("MaxRecords must be between 1 and %d, got %d"
                               % (limit, max_records))
    start = 0
    if next_token:
        try:
            start = int(base64.b64decode(next_token, validate=True).decode())
        except (ValueError, UnicodeDecodeError):
            raise QueryError("InvalidNextToken", "The token '%s' is invalid." % next_token)
        if not 0 <= start <= len(items):
            raise QueryError("InvalidNextToken", "The token '%s' is invalid." % next_token)
    page = items[start:start + max_records]
    token = None
    if start + max_records < len(items):
        token = base64.b64encode(str(start + max_records).encode()).decode()
    return page, token


class World:
    def __init__(self, state, region):
        self.lock = threading.RLock()
        self.region = region
        self.metrics = []          # every datapoint received, in order
        self._notify_queue = queue.Queue()
        threading.Thread(target=self._notify_worker, daemon=True).start()
        self.state = {}
        self.replace_state(state)

    # ---- state loading -----------------------------------------------------

    def replace_state(self, state):
        state = copy.deepcopy(state)
        state.setdefault("account_id", ACCOUNT_DEFAULT)
        for key in ("auto_scaling_groups", "instances", "lifecycle_hooks",
                    "target_groups", "lifecycle_actions", "completed_lifecycle_actions",
                    "load_balancers", "activities"):
            state.setdefault(key, [])
        self.state = state
        self.normalize()

    def normalize(self):
        """Fill what AWS always returns and derive pending lifecycle actions
        for instances a state file puts in a wait state."""
        s = self.state
        now = time.time()
        account = s["account_id"]
        for g in s["auto_scaling_groups"]:
            name = g["AutoScalingGroupName"]
            g.setdefault("AutoScalingGroupARN",
                         "arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s"
                         % (self.region, account, uuid.uuid5(uuid.NAMESPACE_URL, name), name))
            g.setdefault("MinSize", 1)
            g.setdefault("MaxSize", 4)
            g.setdefault("DesiredCapacity", g["MinSize"])
            g.setdefault("DefaultCooldown", 300)
            g.setdefault("AvailabilityZones", [self.region + "a"])
            g.setdefault("HealthCheckType", "EC2")
            g.setdefault("HealthCheckGracePeriod", 0)
            g.setdefault("TargetGroupARNs", [])
            g.setdefault("LoadBalancerNames", [])
            g.setdefault("CreatedTime", _iso(now))
            g.setdefault("TerminationPolicies", ["Default"])
            g.setdefault("NewInstancesProtectedFromScaleIn", False)
            g.setdefault("ServiceLinkedRoleARN",
                         "arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/"
                         "AWSServiceRoleForAutoScaling" % account)
            tags = g.setdefault("Tags", [])
            for t in tags:
                t.setdefault("ResourceId", name)
                t.setdefault("ResourceType", "auto-scaling-group")
                t.setdefault("PropagateAtLaunch", True)
        for i in s["instances"]:
            group = self.group(i.get("AutoScalingGroupName")) or {}
            for key in ("LaunchTemplate", "LaunchConfigurationName"):
                if key in group:
                    i.setdefault(key, copy.deepcopy(group[key]))
            i.setdefault("InstanceType", "t3.micro")
            i.setdefault("AvailabilityZone", self.region + "a")
            i.setdefault("LifecycleState", "InService")
            i.setdefault("HealthStatus", "Healthy")
            i.setdefault("ProtectedFromScaleIn", False)
            i.setdefault("launch_time", now)
            i.setdefault("history", [{"time": _iso(now), "state": i["LifecycleState"]}])
        for h in s["lifecycle_hooks"]:
            h.setdefault("HeartbeatTimeout", 3600)
            h.setdefault("DefaultResult", "ABANDON")
            h.setdefault("GlobalTimeout",
                         min(GLOBAL_TIMEOUT_CAP, 100 * h["HeartbeatTimeout"]))
        for tg in s["target_groups"]:
            tg.setdefault("TargetGroupName", tg["TargetGroupArn"].split("/")[-2]
                          if tg["TargetGroupArn"].count("/") >= 2 else "tg")
            tg.setdefault("Port", 80)
            tg.setdefault("Protocol", "HTTP")
            tg.setdefault("HealthCheckPort", "traffic-port")
            tg.setdefault("HealthCheckPath", "/")
            # aws.md section 1: deregistration delay default 300 s.
            tg.setdefault("deregistration_delay_seconds", 300)
            # How long a newly registered target stays "initial" before it
            # counts as passing its first health check.
            tg.setdefault("initial_seconds", 2)
            # Active health checks (probe: true) use the ALB's settings and
            # defaults (aws.md section 1).
            tg.setdefault("probe", False)
            tg.setdefault("HealthCheckProtocol", "HTTP")
            tg.setdefault("HealthCheckIntervalSeconds", 30)
            tg.setdefault("HealthCheckTimeoutSeconds", 5)
            tg.setdefault("HealthyThresholdCount", 5)
            tg.setdefault("UnhealthyThresholdCount", 2)
            tg.setdefault("Matcher", {"HttpCode": "200"})
            tg.setdefault("LoadBalancerArns", [])
            tg.setdefault("TargetType", "instance")
            for t in tg.setdefault("targets", []):
                t.setdefault("Port", tg["Port"])
                t.setdefault("State", "healthy")
                t.setdefault("since", now)
        for lb in s["load_balancers"]:
            # aws.md section 1: idle timeout default 60 s.
            lb.setdefault("idle_timeout_seconds", 60)
        # How long an instance leaving standby stays Pending before
        # InService (AWS: until it is registered and launched again).
        s.setdefault("standby_exit_seconds", 1)
        for i in s["instances"]:
            # An instance loaded with an IMDS stand-in gets the target state
            # its lifecycle state implies, once.
            if i.get("imds_url") and "target_lifecycle_state" not in i:
                target = MIRRORED_TARGET_STATE.get(i["LifecycleState"].split(":")[0])
                if target:
                    self._notify_imds(i, target)
        pending = {(a["InstanceId"], a["LifecycleHookName"]) for a in s["lifecycle_actions"]}
        for i in s["instances"]:
            transition = {"Pending:Wait": LAUNCHING,
                          "Terminating:Wait": TERMINATING}.get(i["LifecycleState"])
            if transition:
                for h in self.hooks_for(i["AutoScalingGroupName"], transition):
                    if (i["InstanceId"], h["LifecycleHookName"]) not in pending:
                        self._add_action(i, h, now)

    # ---- lookups -----------------------------------------------------------

    def group(self, name):
        for g in self.state["auto_scaling_groups"]:
            if g["AutoScalingGroupName"] == name:
                return g
        return None

    def instance(self, instance_id):
        for i in self.state["instances"]:
            if i["InstanceId"] == instance_id:
                return i
        return None

    def hooks_for(self, group_name, transition):
        return [h for h in self.state["lifecycle_hooks"]
                if h["AutoScalingGroupName"] == group_name
                and h.get("LifecycleTransition") == transition]

    def target_group(self, arn):
        for tg in self.state["target_groups"]:
            if tg["TargetGroupArn"] == arn:
                return tg
        return None

    # ---- lifecycle engine --------------------------------------------------

    def _set_state(self, inst, new_state):
        inst["LifecycleState"] = new_state
        inst.setdefault("history", []).append({"time": _iso(time.time()), "state": new_state})

    def _notify_imds(self, inst, target_state):
        """Mirror the transition into the instance's IMDS stand-in, whose
        autoscaling/target-lifecycle-state gives the state the instance is
        transitioning to (aws.md section 2)."""
        inst["target_lifecycle_state"] = target_state
        if inst.get("imds_url"):
            # One worker posts them in order, so InService can never land
            # after a quick Terminated.
            self._notify_queue.put((inst, inst["imds_url"], target_state))

    def _notify_worker(self):
        while True:
            inst, url, target_state = self._notify_queue.get()
            body = json.dumps({"target_lifecycle_state": target_state}).encode()
            try:
                req = urllib.request.Request(url.rstrip("/") + "/_control/state", data=body,
                                             method="POST",
                                             headers={"Content-Type": "application/json"})
                urllib.request.urlopen(req, timeout=5).read()
                error = None
            except OSError as e:
                error = str(e)
            with self.lock:
                if error:
                    inst["imds_notify_error"] = error
                else:
                    inst.pop("imds_notify_error", None)

    def _add_action(self, inst, hook, now):
        self.state["lifecycle_actions"].append({
            "InstanceId": inst["InstanceId"],
            "AutoScalingGroupName": inst["AutoScalingGroupName"],
            "LifecycleHookName": hook["LifecycleHookName"],
            "LifecycleTransition": hook["LifecycleTransition"],
            "LifecycleActionToken": str(uuid.uuid4()),
            "started": now,
            "deadline": now + hook["HeartbeatTimeout"],
            "global_deadline": now + hook["GlobalTimeout"],
            "heartbeats": 0,
        })

    def _actions_of(self, instance_id):
        return [a for a in self.state["lifecycle_actions"] if a["InstanceId"] == instance_id]

    def start_launch(self, spec):
        """Scale-out: Pending -> Pending:Wait (launch hooks) or InService."""
        inst = self.instance(spec["InstanceId"])
        if inst is None:
            inst = dict(spec)
            inst["LifecycleState"] = "Pending"
            self.state["instances"].append(inst)
            self.normalize()
        else:
            inst.update(spec)
            self._set_state(inst, "Pending")
        now = time.time()
        inst["launch_time"] = now
        hooks = self.hooks_for(inst["AutoScalingGroupName"], LAUNCHING)
        self._notify_imds(inst, "InService")
        if hooks:
            self._set_state(inst, "Pending:Wait")
            for h in hooks:
                self._add_action(inst, h, now)
        else:
            self._proceed_launch(inst)
        return inst

    def _proceed_launch(self, inst):
        self._set_state(inst, "Pending:Proceed")
        # Registered with the group's target groups before InService; health
        # checks start at registration (aws.md section 2, scale-out order).
        group = self.group(inst["AutoScalingGroupName"]) or {}
        for arn in group.get("TargetGroupARNs", []):
            tg = self.target_group(arn)
            if tg is not None:
                self._register(tg, {"Id": inst["InstanceId"], "Port": inst.get("target_port")})
        self._set_state(inst, "InService")

    def start_terminate(self, inst, cause="scale-in"):
        """Scale-in: deregister from the target groups and wait out the
        deregistration delay, then Terminating:Wait (termination hooks) or
        Terminated (aws.md section 2, scale-in order)."""
        if inst["LifecycleState"].startswith("Terminat") or inst["LifecycleState"] in GONE_STATES:
            return
        self.state["lifecycle_actions"] = [
            a for a in self.state["lifecycle_actions"] if a["InstanceId"] != inst["InstanceId"]]
        inst["termination_cause"] = cause
        self._set_state(inst, "Terminating")
        self._notify_imds(inst, "Terminated")
        draining = False
        for tg in self.state["target_groups"]:
            for t in tg["targets"]:
                if t["Id"] == inst["InstanceId"] and t["State"] != "draining":
                    self._deregister(tg, t)
                    draining = draining or t["State"] == "draining"
        if draining:
            inst["awaiting_drain"] = True
        else:
            self._after_drain(inst)

    def _after_drain(self, inst):
        inst.pop("awaiting_drain", None)
        hooks = self.hooks_for(inst["AutoScalingGroupName"], TERMINATING)
        if hooks:
            self._set_state(inst, "Terminating:Wait")
            now = time.time()
            for h in hooks:
                self._add_action(inst, h, now)
        else:
            self._finish_terminate(inst)

    def _finish_terminate(self, inst):
        self._set_state(inst, "Terminating:Proceed")
        for tg in self.state["target_groups"]:
            tg["targets"] = [t for t in tg["targets"] if t["Id"] != inst["InstanceId"]]
        self._set_state(inst, "Terminated")

    def _resolve_action(self, action, result, how):
        self.state["lifecycle_actions"].remove(action)
        done = dict(action)
        done.update({"result": result, "by": how, "completed": time.time()})
        self.state["completed_lifecycle_actions"].append(done)
        inst = self.instance(action["InstanceId"])
        if inst is None:
            return
        if action["LifecycleTransition"] == TERMINATING and result == "ABANDON":
            # ABANDON on termination stops the remaining hooks (aws.md 2).
            self.state["lifecycle_actions"] = [
                a for a in self.state["lifecycle_actions"]
                if a["InstanceId"] != inst["InstanceId"]]
        if self._actions_of(inst["InstanceId"]):
            return
        results = [a["result"] for a in self.state["completed_lifecycle_actions"]
                   if a["InstanceId"] == inst["InstanceId"]
                   and a["LifecycleTransition"] == action["LifecycleTransition"]
                   and a["started"] >= inst.get("launch_time", 0) - 1]
        if action["LifecycleTransition"] == LAUNCHING:
            if "ABANDON" in results:
                # ABANDON on launch: the instance is terminated and replaced.
                inst["termination_cause"] = "launch-abandoned"
                self._set_state(inst, "Terminating")
                self._notify_imds(inst, "Terminated")
                self._finish_terminate(inst)
            else:
                self._proceed_launch(inst)
        else:
            self._finish_terminate(inst)

    def tick(self):
        """Timeouts and delays that pass by themselves."""
        now = time.time()
        with self.lock:
            for a in list(self.state["lifecycle_actions"]):
                if now >= min(a["deadline"], a["global_deadline"]):
                    hook = next((h for h in self.hooks_for(a["AutoScalingGroupName"],
                                                           a["LifecycleTransition"])
                                 if h["LifecycleHookName"] == a["LifecycleHookName"]), {})
                    if a in self.state["lifecycle_actions"]:
                        self._resolve_action(a, hook.get("DefaultResult", "ABANDON"), "timeout")
            for tg in self.state["target_groups"]:
                for t in list(tg["targets"]):
                    if t["State"] == "initial" and not t.get("forced") and \
                            self._probe_address(tg, t) is None and \
                            now - t["since"] >= tg["initial_seconds"]:
                        t.update(State="healthy", since=now)
                        t.pop("Reason", None)
                        t.pop("Description", None)
                    elif t["State"] == "draining" and now >= t["drain_until"]:
                        tg["targets"].remove(t)
            for inst in self.state["instances"]:
                if inst["LifecycleState"] == "EnteringStandby" and not any(
                        t["Id"] == inst["InstanceId"]
                        for tg in self.state["target_groups"] for t in tg["targets"]):
                    self._set_state(inst, "Standby")
                if inst.get("leaving_standby_at") and now >= inst["leaving_standby_at"]:
                    inst.pop("leaving_standby_at")
                    if inst["LifecycleState"] == "Pending":
                        self._set_state(inst, "InService")
                if inst.get("awaiting_drain") and not any(
                        t["Id"] == inst["InstanceId"]
                        for tg in self.state["target_groups"] for t in tg["targets"]):
                    self._after_drain(inst)

    # ---- active health checks ----------------------------------------------

    def _probe_address(self, tg, t):
        """(ip, port) the load balancer would check, or None when the group
        does not probe or the instance has no private_ip."""
        if not tg.get("probe"):
            return None
        inst = self.instance(t["Id"])
        if inst is None or not inst.get("private_ip"):
            return None
        port = tg["HealthCheckPort"]
        port = t["Port"] if port == "traffic-port" else int(port)
        return inst["private_ip"], port

    def probes_due(self):
        """Health checks to run now: one per registered, non-draining target
        whose interval has passed.  Run them without the lock."""
        now = time.time()
        due = []
        with self.lock:
            for tg in self.state["target_groups"]:
                for t in tg["targets"]:
                    addr = self._probe_address(tg, t)
                    if addr is None or t["State"] == "draining" or t.get("forced"):
                        if addr is not None and now >= t.get("next_probe", 0):
                            # Due but not probed: a test waits for this
                            # instead of sleeping to show no probe came.
                            t["skipped_due"] = t.get("skipped_due", 0) + 1
                            t["next_probe"] = now + tg["HealthCheckIntervalSeconds"]
                        continue
                    if now < t.get("next_probe", 0):
                        continue
                    t["next_probe"] = now + tg["HealthCheckIntervalSeconds"]
                    due.append({"TargetGroupArn": tg["TargetGroupArn"], "Id": t["Id"],
                                "Port": t["Port"], "ip": addr[0], "port": addr[1],
                                "path": tg["HealthCheckPath"],
                                "timeout": tg["HealthCheckTimeoutSeconds"],
                                "matcher": tg["Matcher"].get("HttpCode", "200")})
        return due

    @staticmethod
    def code_matches(matcher, status):
        """ALB Matcher HttpCode: "200", "200,202" or "200-299"."""
        for part in matcher.split(","):
            low, _, high = part.strip().partition("-")
            if int(low) <= status <= int(high or low):
                return True
        return False

    def apply_probe(self, probe, status, error):
        """Count one check result: a new target is healthy after one pass;
        otherwise HealthyThresholdCount passes or UnhealthyThresholdCount
        failures in a row change the state (aws.md section 1)."""
        with self.lock:
            tg = self.target_group(probe["TargetGroupArn"])
            if tg is None:
                return
            t = next((t for t in tg["targets"] if t["Id"] == probe["Id"]
                      and t["Port"] == probe["Port"]), None)
            if t is None or t["State"] == "draining" or t.get("forced"):
                return
            t["last_probe"] = {"status": status, "error": error, "time": time.time()}
            ok = error is None and self.code_matches(probe["matcher"], status)
            if ok:
                t["passes"] = t.get("passes", 0) + 1
                t["failures"] = 0
                if t["State"] == "initial" or (t["State"] == "unhealthy" and
                                               t["passes"] >= tg["HealthyThresholdCount"]):
                    t.update(State="healthy", since=time.time())
                    t.pop("Reason", None)
                    t.pop("Description", None)
                return
            t["failures"] = t.get("failures", 0) + 1
            t["passes"] = 0
            if t["State"] in ("initial", "healthy") and \
                    t["failures"] >= tg["UnhealthyThresholdCount"]:
                if error == "timeout":
                    reason, text = "Target.Timeout", "Request timed out"
                elif error:
                    reason, text = "Target.FailedHealthChecks", "Health checks failed"
                else:
                    reason = "Target.ResponseCodeMismatch"
                    text = "Health checks failed with these codes: [%d]" % status
                t.update(State="unhealthy", Reason=reason, Description=text, since=time.time())

    # ---- ELBv2 target bookkeeping ------------------------------------------

    def _register(self, tg, target):
        now = time.time()
        port = target.get("Port") or tg["Port"]
        for t in tg["targets"]:
            if t["Id"] == target["Id"] and t["Port"] == port:
                if t["State"] == "draining":
                    t.update(State="initial", Reason="Elb.RegistrationInProgress",
                             Description="Target registration is in progress", since=now,
                             passes=0, failures=0, next_probe=0)
                    t.pop("drain_until", None)
                return
        entry = {"Id": target["Id"], "Port": port, "State": "initial",
                 "Reason": "Elb.RegistrationInProgress",
                 "Description": "Target registration is in progress", "since": now}
        if target.get("AvailabilityZone"):
            entry["AvailabilityZone"] = target["AvailabilityZone"]
        tg["targets"].append(entry)

    def _deregister(self, tg, t):
        now = time.time()
        delay = tg["deregistration_delay_seconds"]
        if delay <= 0:
            tg["targets"].remove(t)
            return
        t.update(State="draining", Reason="Target.DeregistrationInProgress",
                 Description="Target deregistration is in progress",
                 since=now, drain_until=now + delay)
        t.pop("forced", None)

    # ---- Auto Scaling operations ------------------------------------------

    def _live_instances(self, group_name=None):
        return [i for i in self.state["instances"]
                if i["LifecycleState"] not in GONE_STATES
                and (group_name is None or i["AutoScalingGroupName"] == group_name)]

    def DescribeAutoScalingInstances(self, p, ctx):
        ids = p.get("InstanceIds")
        if ids is not None and len(ids) > 50:
            raise validation_error("The number of instance ids that may be passed in is 50.")
        found = [i for i in self._live_instances() if not ids or i["InstanceId"] in ids]
        page, token = _page(found, p.get("MaxRecords"), p.get("NextToken"), 50)
        # DescribeAutoScalingInstances spells health in capitals (HEALTHY),
        # unlike the Instances of DescribeAutoScalingGroups (Healthy).
        out = []
        for i in page:
            d = dict(i)
            d["HealthStatus"] = i["HealthStatus"].upper()
            out.append(d)
        result = {"AutoScalingInstances": out}
        if token:
            result["NextToken"] = token
        return result

    def DescribeAutoScalingGroups(self, p, ctx):
        names = p.get("AutoScalingGroupNames")
        groups = [g for g in self.state["auto_scaling_groups"]
                  if not names or g["AutoScalingGroupName"] in names]
        for f in p.get("Filters") or []:
            values = f.get("Values") or []
            name = f.get("Name", "")

            def match(g, name=name, values=values):
                tags = g.get("Tags", [])
                if name == "tag-key":
                    return any(t["Key"] in values for t in tags)
                if name == "tag-value":
                    return any(t["Value"] in values for t in tags)
                if name.startswith("tag:"):
                    return any(t["Key"] == name[4:] and t["Value"] in values for t in tags)
                raise validation_error("Filter name '%s' is not valid." % name)
            groups = [g for g in groups if match(g)]
        page, token = _page(groups, p.get("MaxRecords"), p.get("NextToken"), 100)
        out = []
        for g in page:
            d = dict(g)
            d["Instances"] = self._live_instances(g["AutoScalingGroupName"])
            out.append(d)
        result = {"AutoScalingGroups": out}
        if token:
            result["NextToken"] = token
        return result

    def DescribeLifecycleHooks(self, p, ctx):
        name = p["AutoScalingGroupName"]
        if self.group(name) is None:
            raise validation_error("Group %s not found" % name)
        wanted = p.get("LifecycleHookNames")
        hooks = [h for h in self.state["lifecycle_hooks"]
                 if h["AutoScalingGroupName"] == name
                 and (not wanted or h["LifecycleHookName"] in wanted)]
        return {"LifecycleHooks": hooks}

    def _find_action(self, p):
        token = p.get("LifecycleActionToken")
        instance_id = p.get("InstanceId")
        if not token and not instance_id:
            raise validation_error("Either InstanceId or LifecycleActionToken must be specified.")
        for a in self.state["lifecycle_actions"]:
            if a["AutoScalingGroupName"] != p["AutoScalingGroupName"] or \
                    a["LifecycleHookName"] != p["LifecycleHookName"]:
                continue
            if token and a["LifecycleActionToken"] != token:
                continue
            if instance_id and a["InstanceId"] != instance_id:
                continue
            return a
        # The wording AWS uses (seen in public issue threads, aws.md 2).
        if instance_id:
            raise validation_error("No active Lifecycle Action found with instance ID %s"
                                   % instance_id)
        raise validation_error("No active Lifecycle Action found with token %s" % token)

    def CompleteLifecycleAction(self, p, ctx):
        action = self._find_action(p)
        self._resolve_action(action, p["LifecycleActionResult"], "CompleteLifecycleAction")
        return {}

    def RecordLifecycleActionHeartbeat(self, p, ctx):
        action = self._find_action(p)
        hook = next(h for h in self.state["lifecycle_hooks"]
                    if h["AutoScalingGroupName"] == action["AutoScalingGroupName"]
                    and h["LifecycleHookName"] == action["LifecycleHookName"])
        # A heartbeat restarts the full HeartbeatTimeout, still capped by the
        # global timeout (aws.md section 2).
        action["deadline"] = time.time() + hook["HeartbeatTimeout"]
        action["heartbeats"] += 1
        return {}

    def SetInstanceHealth(self, p, ctx):
        inst = self.instance(p["InstanceId"])
        if inst is None or inst["LifecycleState"] in GONE_STATES:
            raise validation_error("Instance Id not found - No managed instance found for "
                                   "instance ID: %s" % p["InstanceId"])
        if p["HealthStatus"] not in ("Healthy", "Unhealthy"):
            raise validation_error("Valid health status values are Healthy and Unhealthy, "
                                   "got %s" % p["HealthStatus"])
        group = self.group(inst["AutoScalingGroupName"]) or {}
        respect = p.get("ShouldRespectGracePeriod", True)
        in_grace = time.time() - inst.get("launch_time", 0) < group.get("HealthCheckGracePeriod", 0)
        if respect and in_grace:
            # Within the grace period AWS ignores a health report that asks to
            # respect it.
            return {}
        inst["HealthStatus"] = p["HealthStatus"]
        if p["HealthStatus"] == "Unhealthy" and self.state.get("replace_unhealthy", True) \
                and inst["LifecycleState"] == "InService":
            # An Unhealthy instance is replaced at the next periodic check
            # (aws.md section 2).
            self.start_terminate(inst, cause="unhealthy")
        return {}

    # ---- standby and scale-in protection (aws.md section 11) ---------------

    def _group_or_fail(self, name):
        g = self.group(name)
        if g is None:
            raise validation_error("AutoScalingGroup name not found - AutoScalingGroup %s "
                                   "not found" % name)
        return g

    def _members(self, g, ids, limit):
        if ids is not None and len(ids) > limit:
            raise validation_error("The number of instance ids that may be passed in is %d."
                                   % limit)
        out = []
        for instance_id in ids or []:
            inst = self.instance(instance_id)
            if inst is None or inst["LifecycleState"] in GONE_STATES or \
                    inst["AutoScalingGroupName"] != g["AutoScalingGroupName"]:
                raise validation_error("The instance %s is not part of Auto Scaling group %s."
                                       % (instance_id, g["AutoScalingGroupName"]))
            out.append(inst)
        return out

    def _activity(self, g, inst, description, cause):
        now = time.time()
        a = {"ActivityId": str(uuid.uuid4()), "AutoScalingGroupName": g["AutoScalingGroupName"],
             "AutoScalingGroupARN": g["AutoScalingGroupARN"],
             "Description": description % inst["InstanceId"], "Cause": cause,
             "StartTime": _iso(now), "StatusCode": "InProgress", "Progress": 50,
             "Details": json.dumps({"Availability Zone": inst["AvailabilityZone"]})}
        self.state["activities"].append(a)
        return a

    def EnterStandby(self, p, ctx):
        """InService -> EnteringStandby (deregistered from the target groups,
        through their deregistration delay) -> Standby.  With decrement the
        desired capacity must stay >= MinSize; without, it is kept (a
        replacement launches)."""
        g = self._group_or_fail(p["AutoScalingGroupName"])
        insts = self._members(g, p.get("InstanceIds"), 20)
        for inst in insts:
            if inst["LifecycleState"] != "InService":
                raise validation_error("The instance %s is not in InService."
                                       % inst["InstanceId"])
        decrement = p["ShouldDecrementDesiredCapacity"]
        if decrement and g["DesiredCapacity"] - len(insts) < g["MinSize"]:
            raise validation_error(
                "AutoScalingGroup %s has min-size=%d, max-size=%d, and desired-size=%d. To "
                "place into standby %d instances, please update the AutoScalingGroup sizes "
                "appropriately." % (g["AutoScalingGroupName"], g["MinSize"], g["MaxSize"],
                                    g["DesiredCapacity"], len(insts)))
        activities = []
        for inst in insts:
            cause = ("At %s instance %s was moved to standby in response to a user request%s."
                     % (_iso(time.time()), inst["InstanceId"],
                        ", shrinking the capacity from %d to %d"
                        % (g["DesiredCapacity"], g["DesiredCapacity"] - 1) if decrement else ""))
            if decrement:
                g["DesiredCapacity"] -= 1
            activities.append(self._activity(g, inst, "Moving EC2 instance to Standby: %s",
                                             cause))
            self._set_state(inst, "EnteringStandby")
            self._notify_imds(inst, "Standby")
            for tg in self.state["target_groups"]:
                for t in list(tg["targets"]):
                    if t["Id"] == inst["InstanceId"] and t["State"] != "draining":
                        self._deregister(tg, t)
            if not any(t["Id"] == inst["InstanceId"]
                       for tg in self.state["target_groups"] for t in tg["targets"]):
                self._set_state(inst, "Standby")
        return {"Activities": activities}

    def ExitStandby(self, p, ctx):
        """Standby -> Pending (registered again with the target groups) ->
        InService; the desired capacity goes up by one."""
        g = self._group_or_fail(p["AutoScalingGroupName"])
        insts = self._members(g, p.get("InstanceIds"), 20)
        for inst in insts:
            if inst["LifecycleState"] != "Standby":
                raise validation_error("The instance %s is not in Standby."
                                       % inst["InstanceId"])
        if g["DesiredCapacity"] + len(insts) > g["MaxSize"]:
            raise validation_error(
                "AutoScalingGroup %s has min-size=%d, max-size=%d, and desired-size=%d. To "
                "move %d instances out of standby, please update the AutoScalingGroup sizes "
                "appropriately." % (g["AutoScalingGroupName"], g["MinSize"], g["MaxSize"],
                                    g["DesiredCapacity"], len(insts)))
        activities = []
        for inst in insts:
            cause = ("At %s instance %s was removed from standby in response to a user "
                     "request, increasing the capacity from %d to %d."
                     % (_iso(time.time()), inst["InstanceId"], g["DesiredCapacity"],
                        g["DesiredCapacity"] + 1))
            g["DesiredCapacity"] += 1
            activities.append(self._activity(g, inst, "Removing EC2 instance from Standby: %s",
                                             cause))
            self._set_state(inst, "Pending")
            self._notify_imds(inst, "InService")
            for arn in g.get("TargetGroupARNs", []):
                tg = self.target_group(arn)
                if tg is not None:
                    self._register(tg, {"Id": inst["InstanceId"],
                                        "Port": inst.get("target_port")})
            # Hooks do not fire on the way out of standby (aws.md 2, 11).
            inst["leaving_standby_at"] = time.time() + self.state["standby_exit_seconds"]
        return {"Activities": activities}

    def SetInstanceProtection(self, p, ctx):
        g = self._group_or_fail(p["AutoScalingGroupName"])
        insts = self._members(g, p["InstanceIds"], 50)
        for inst in insts:
            if inst["LifecycleState"].startswith("Warmed:"):
                raise validation_error("The instance %s is in a warm pool; scale-in protection "
                                       "cannot be set on it." % inst["InstanceId"])
        for inst in insts:
            inst["ProtectedFromScaleIn"] = bool(p["ProtectedFromScaleIn"])
        return {}

    # ---- ELBv2 operations ---------------------------------------------------

    def _tg_or_fail(self, arn):
        tg = self.target_group(arn)
        if tg is None:
            raise QueryError("TargetGroupNotFound", "One or more target groups not found")
        return tg

    def RegisterTargets(self, p, ctx):
        tg = self._tg_or_fail(p["TargetGroupArn"])
        for target in p["Targets"]:
            if self.instance(target["Id"]) is None:
                raise QueryError("InvalidTarget",
                                 "The following targets are not valid instances: '%s'"
                                 % target["Id"])
        for target in p["Targets"]:
            self._register(tg, target)
        return {}

    def DeregisterTargets(self, p, ctx):
        tg = self._tg_or_fail(p["TargetGroupArn"])
        for target in p["Targets"]:
            port = target.get("Port") or tg["Port"]
            for t in list(tg["targets"]):
                if t["Id"] == target["Id"] and t["Port"] == port and t["State"] != "draining":
                    self._deregister(tg, t)
        return {}

    def _describe_target(self, tg, t):
        port = tg["HealthCheckPort"]
        if port == "traffic-port":
            port = str(t["Port"])
        health = {"State": t["State"]}
        for key in ("Reason", "Description"):
            if t.get(key):
                health[key] = t[key]
        target = {"Id": t["Id"], "Port": t["Port"]}
        if t.get("AvailabilityZone"):
            target["AvailabilityZone"] = t["AvailabilityZone"]
        return {"Target": target, "HealthCheckPort": port, "TargetHealth": health}

    def DescribeTargetHealth(self, p, ctx):
        tg = self._tg_or_fail(p["TargetGroupArn"])
        out = []
        if p.get("Targets"):
            for target in p["Targets"]:
                port = target.get("Port")
                match = [t for t in tg["targets"] if t["Id"] == target["Id"]
                         and (port is None or t["Port"] == port)]
                if match:
                    out.extend(self._describe_target(tg, t) for t in match)
                else:
                    out.append({"Target": {"Id": target["Id"], "Port": port or tg["Port"]},
                                "HealthCheckPort": str(port or tg["Port"]),
                                "TargetHealth": {"State": "unused",
                                                 "Reason": "Target.NotRegistered",
                                                 "Description": "Target is not registered "
                                                                "to the target group"}})
        else:
            out = [self._describe_target(tg, t) for t in tg["targets"]]
        return {"TargetHealthDescriptions": out}

    _TG_FIELDS = ("TargetGroupArn", "TargetGroupName", "Protocol", "Port", "VpcId",
                  "HealthCheckProtocol", "HealthCheckPort", "HealthCheckEnabled",
                  "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds",
                  "HealthyThresholdCount", "UnhealthyThresholdCount", "HealthCheckPath",
                  "Matcher", "LoadBalancerArns", "TargetType")

    def DescribeTargetGroups(self, p, ctx):
        tgs = self.state["target_groups"]
        if p.get("TargetGroupArns"):
            tgs = [self._tg_or_fail(arn) for arn in p["TargetGroupArns"]]
        if p.get("LoadBalancerArn"):
            tgs = [tg for tg in tgs if p["LoadBalancerArn"] in tg["LoadBalancerArns"]]
        out = []
        for tg in tgs:
            d = {k: copy.deepcopy(tg[k]) for k in self._TG_FIELDS if k in tg}
            d.setdefault("HealthCheckEnabled", True)
            out.append(d)
        return {"TargetGroups": out}

    def DescribeTargetGroupAttributes(self, p, ctx):
        tg = self._tg_or_fail(p["TargetGroupArn"])
        attrs = {"deregistration_delay.timeout_seconds": tg["deregistration_delay_seconds"],
                 "stickiness.enabled": "false",
                 "load_balancing.algorithm.type": "round_robin",
                 "slow_start.duration_seconds": tg.get("slow_start_seconds", 0)}
        return {"Attributes": [{"Key": k, "Value": str(v)} for k, v in attrs.items()]}

    def DescribeLoadBalancerAttributes(self, p, ctx):
        lb = next((lb for lb in self.state["load_balancers"]
                   if lb["LoadBalancerArn"] == p["LoadBalancerArn"]), None)
        if lb is None:
            raise QueryError("LoadBalancerNotFound", "One or more load balancers not found")
        attrs = {"idle_timeout.timeout_seconds": lb["idle_timeout_seconds"],
                 "deletion_protection.enabled": "false",
                 "routing.http2.enabled": "true",
                 "client_keep_alive.seconds": 3600}
        return {"Attributes": [{"Key": k, "Value": str(v)} for k, v in attrs.items()]}

    # ---- CloudWatch ---------------------------------------------------------

    def PutMetricData(self, p, ctx):
        """Checks beyond the model that CloudWatch makes (aws.md section 4)."""
        ns = p["Namespace"]
        if ns.startswith("AWS/"):
            raise QueryError("InvalidParameterValue",
                             "The value %s for parameter Namespace is invalid." % ns)
        data = p["MetricData"]
        if len(data) > 1000:
            raise QueryError("InvalidParameterValue",
                             "The collection MetricData must not have a size greater than 1000.")
        now = ctx["now"]
        points = []
        for n, d in enumerate(data, 1):
            prefix = "MetricData.member.%d" % n
            has_values = "Values" in d
            if "Value" in d and "StatisticValues" in d:
                raise QueryError("InvalidParameterCombination",
                                 "The parameters %s.Value and %s.StatisticValues are mutually "
                                 "exclusive and you have specified both." % (prefix, prefix))
            if "Value" in d and has_values:
                raise QueryError("InvalidParameterCombination",
                                 "The parameters %s.Value and %s.Values are mutually "
                                 "exclusive and you have specified both." % (prefix, prefix))
            values = list(d.get("Values") or [])
            if "Value" in d:
                values.append(d["Value"])
            for key, v in [("Value", x) for x in values] + [
                    ("StatisticValues." + k, v) for k, v in (d.get("StatisticValues") or {}).items()]:
                if math.isnan(v) or math.isinf(v) or abs(v) > 2.0 ** 360 or \
                        (v != 0 and abs(v) < 2.0 ** -360):
                    raise QueryError("InvalidParameterValue",
                                     "The value %s for parameter %s.%s is invalid."
                                     % (v, prefix, key))
            if len(d.get("Values") or []) > 150:
                raise QueryError("InvalidParameterValue",
                                 "The collection %s.Values must not have a size greater "
                                 "than 150." % prefix)
            if d.get("Counts") is not None and len(d["Counts"]) != len(d.get("Values") or []):
                raise QueryError("InvalidParameterValue",
                                 "The parameters %s.Values and %s.Counts must be of the same "
                                 "size." % (prefix, prefix))
            if d.get("StorageResolution", 60) not in (1, 60):
                raise QueryError("InvalidParameterValue",
                                 "The value %s for parameter %s.StorageResolution is invalid."
                                 % (d["StorageResolution"], prefix))
            ts = d.get("Timestamp")
            if ts is not None:
                age = (now - ts).total_seconds()
                if age > 14 * 86400:
                    raise QueryError("InvalidParameterValue",
                                     "The parameter %s.Timestamp must specify a time no more "
                                     "than two weeks in the past." % prefix)
                if age < -2 * 3600:
                    raise QueryError("InvalidParameterValue",
                                     "The parameter %s.Timestamp must specify a time no more "
                                     "than two hours in the future." % prefix)
            point = {"Namespace": ns, "received": ctx["time"],
                     "access_key_id": ctx["access_key_id"]}
            point.update(d)
            points.append(point)
        self.metrics.extend(points)
        return {}
