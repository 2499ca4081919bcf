"""A fleet on one machine: "instances" on their own loopback addresses
(127.X.Y.N, a /24 no other fleet on this machine uses), each running the real asg-health (and asg-agent against its
own IMDS stand-in), one AWS stand-in playing the Auto Scaling group and its
target group, and HAProxy from Debian as the ALB in front.

The ALB's two jobs are split the way AWS splits them:
- health checks: HAProxy probes GET /health with the ELB-HealthChecker
  user agent, fall/rise at a time-scaled interval;
- target group membership: a reconciler mirrors the AWS stand-in's target
  group into HAProxy through its runtime API (registered: ready;
  deregistered and draining: drain, no new requests but in-flight ones
  finish; gone: maint), the way the ALB stops routing to a deregistered
  target.  Not at once: ALB nodes learn of a deregistration each on its
  own, and new requests go on arriving for a few seconds (aws-load-
  balancer-controller#1064), so a target leaves HAProxy `dereg_lag`
  seconds (time-scaled) after the stand-in deregistered it.  The
  reconciler also ends an instance's processes once the stand-in has
  terminated it.

Each instance's CPU is measured, not invented: its asg-health's CPU time
(utime + stime from /proc/PID/stat) is written as a one-CPU /proc/stat
(busy, and idle = elapsed - busy) that its asg-agent reads through its
`proc_stat` setting, since all instances share this machine's cores.
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.environ.get("top_srcdir", os.path.abspath(os.path.join(HERE, "..", "..")))
TOP_BUILDDIR = os.environ.get("top_builddir", os.path.join(TOP_SRCDIR, "build"))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "standins"))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "lib"))

import client  # noqa: E402  (the stand-ins' helpers)
from asgtest import free_port, unix_request, wait_for  # noqa: E402
from haproxy import HAProxy  # noqa: E402

HEALTH_BIN = os.path.join(TOP_BUILDDIR, "health", "asg-health")
AGENT_BIN = os.path.join(TOP_BUILDDIR, "agent", "asg-agent")
SITE = os.path.join(TOP_SRCDIR, "examples", "site")
GROUP = "web-asg"
TG_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"
MAX_SLOTS = 9
STATIC_KEY = {"AccessKeyId": "AKIDFLEETSTATIC00001", "SecretAccessKey": "fleet-secret-key-not-real"}
# Seconds here per second on AWS for the metric period: period 10 is 1 s.
METRIC_SCALE = 10
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_net():
    """127.X.Y: a /24 of loopback addresses whose :8080 nobody listens on, so
    that fleets of several tests (or helpers) can run at once."""
    for _ in range(50):
        net = "127.%d.%d" % (random.randint(64, 250), random.randint(1, 250))
        socks = []
        try:
            for slot in range(1, MAX_SLOTS + 1):
                s = socket.socket()
                socks.append(s)
                s.bind(("%s.%d" % (net, slot), 8080))
            return net
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free 127.X.Y.0/24 for the fleet")


def instance_id(slot, launch):
    """Unique per launch, as EC2's are: a replacement is a new instance."""
    return "i-%017x" % (0xf1ee70000 + launch * 256 + slot)


class Instance:
    """One EC2 instance: its address, IMDS stand-in, asg-health and asg-agent."""

    def __init__(self, fleet, slot):
        self.fleet = fleet
        self.slot = slot
        self.addr = "%s.%d" % (fleet.net, slot)
        self.id = instance_id(slot, fleet.launches)
        self.launch_seq = fleet.launches
        fleet.launches += 1
        self.dir = os.path.join(fleet.tmp, "i%d.%d" % (slot, fleet.launches))
        self.root = os.path.join(self.dir, "site")
        self.control = os.path.join(self.dir, "health.sock")
        self.flag = os.path.join(self.dir, "maintenance")
        self.health = self.agent = self.imds = None
        self.terminated = False  # EC2 has taken it away; its processes are stopping
        self.proc_stat = os.path.join(self.dir, "proc-stat")
        self.cpu_base = None  # (wall time, busy ticks) when asg-health started
        self.cpu_idle = 0
        self.cpu_lock = threading.Lock()
        self.baseline_traffic = None
        os.makedirs(self.dir)
        shutil.copytree(SITE, self.root)
        # a download that takes a while, to be in flight during a drain
        with open(os.path.join(self.root, "big.bin"), "wb") as f:
            f.write(os.urandom(4 * 1024 * 1024))

    def health_config(self, extra=None):
        cfg = {
            "root": self.root,
            "listen": ["%s:8080" % self.addr],
            "control_socket": self.control,
            "cache_revalidate": "200ms",
            "shutdown_timeout": "10s",
            "lb_unhealthy_threshold": 2,
            "checks": [
                {"name": "maintenance", "type": "file", "path": self.flag, "must_exist": False,
                 "interval": "100ms", "timeout": "100ms", "rise": 2, "fall": 2},
                {"name": "shared-db", "type": "tcp", "host": "127.0.0.1",
                 "port": self.fleet.db_port, "critical": False,
                 "interval": "200ms", "timeout": "100ms", "rise": 1, "fall": 1},
            ],
        }
        cfg.update(extra or {})
        return cfg

    def write_health_config(self, extra=None):
        path = os.path.join(self.dir, "health.json")
        with open(path + ".tmp", "w") as f:
            json.dump(self.health_config(extra), f, indent=2)
        os.rename(path + ".tmp", path)
        return path

    def start_imds(self):
        self.imds = client.start_imds(listen="%s:0" % self.addr, state={
            "instance_id": self.id, "local_ipv4": self.addr, "region": "us-east-1",
            "availability_zone": "us-east-1%s" % "abc"[self.slot % 3],
            "tags_enabled": True, "tags": {"aws:autoscaling:groupName": GROUP},
            "iam": {"role": "fleet-role"},
        })

    def start_health(self):
        cfg = self.write_health_config()
        self.health_log = open(os.path.join(self.dir, "asg-health.log"), "ab")
        self.health = subprocess.Popen([HEALTH_BIN, "--config", cfg], stdout=self.health_log,
                                       stderr=subprocess.STDOUT)
        wait_for(self._health_live, 10, "asg-health of %s" % self.id)
        self.cpu_base = None
        self.write_proc_stat()
        # its control socket may come up a moment after the listener
        wait_for(self._traffic_known, 10, "asg-health's control socket of %s" % self.id)

    def _traffic_known(self):
        try:
            self.baseline_traffic = self.traffic()
            return True
        except (OSError, http.client.HTTPException, ValueError):
            return False

    def traffic(self):
        """Requests asg-health received other than the load balancer's
        probes (its /status: requests minus every prober's count)."""
        doc = self.health_status()
        probes = sum(p.get("probes", 0) for p in doc["load_balancer"]["probers"])
        return doc["requests"] - probes

    def write_proc_stat(self):
        """One CPU whose busy time is this instance's asg-health's."""
        with self.cpu_lock:
            self._write_proc_stat()

    def _write_proc_stat(self):
        if self.health is None:
            return
        try:
            with open("/proc/%d/stat" % self.health.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            utime, stime = int(fields[11]), int(fields[12])
        except (OSError, IndexError, ValueError):
            return  # it just exited
        now = time.time()
        if self.cpu_base is None:
            self.cpu_base = (now, utime + stime)
        elapsed = int((now - self.cpu_base[0]) * CLK_TCK)
        # asg-health has threads: more than one core's worth is 100 %
        self.cpu_idle = max(self.cpu_idle, elapsed - (utime + stime - self.cpu_base[1]))
        with open(self.proc_stat + ".tmp", "w") as f:
            f.write("cpu  %d 0 %d %d 0 0 0 0 0 0\ncpu0 %d 0 %d %d 0 0 0 0 0 0\n" % (
                utime, stime, self.cpu_idle, utime, stime, self.cpu_idle))
        os.rename(self.proc_stat + ".tmp", self.proc_stat)

    def _health_live(self):
        if self.health.poll() is not None:
            raise AssertionError("asg-health of %s exited %s" % (self.id, self.health.returncode))
        try:
            c = http.client.HTTPConnection(self.addr, 8080, timeout=1)
            c.request("GET", "/health/live")
            ok = c.getresponse().status == 200
            c.close()
            return ok
        except OSError:
            return False

    def start_agent(self):
        if not self.fleet.with_agents:
            return
        drain_d = os.path.join(self.dir, "drain.d")
        os.makedirs(drain_d, exist_ok=True)
        os.chmod(drain_d, 0o755)  # asg-agent refuses a group-writable drain.d
        hook = os.path.join(drain_d, "10-note")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\necho \"drain.d ran for $(cat %s)\" >> %s\n"
                    % (os.path.join(self.dir, "id"), os.path.join(self.dir, "drain.d.log")))
        os.chmod(hook, 0o755)
        with open(os.path.join(self.dir, "id"), "w") as f:
            f.write(self.id + "\n")
        # Time-scaled like the rest of the fleet: seconds where AWS has minutes.
        cfg = {
            "health_socket": self.control,
            "status_socket": os.path.join(self.dir, "agent.sock"),
            "period": self.fleet.metric_period,
            "proc_stat": self.proc_stat,
            "lifecycle": {
                "launch_timeout": "30s",
                "drain_timeout": "8s",
                # the load balancer's lag is fleet.dereg_lag: new
                # requests arrive back to back during it
                "drain_quiet": "500ms",
                "drain_d": drain_d,
                "drain_d_timeout": "2s",
                "stop_timeout": "20s",
                "state_dir": self.dir,
            },
        }
        cfg.update(self.fleet.agent_config(self))
        path = os.path.join(self.dir, "agent.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        env = dict(os.environ)
        for k in ("AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "NOTIFY_SOCKET"):
            env.pop(k, None)
        # Static keys from the environment (the chain's first link) rather
        # than each instance's role: one AWS stand-in trusts them all.
        env.update({
            "AWS_ACCESS_KEY_ID": STATIC_KEY["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": STATIC_KEY["SecretAccessKey"],
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds.url,
            "AWS_ENDPOINT_URL": self.fleet.aws.url,
            "ASG_AGENT_TEST_PERIOD_MS": str(self.fleet.metric_period * 1000 // METRIC_SCALE),
            "ASG_AGENT_TEST_WATCH_MS": "200",
        })
        self.agent_log = open(os.path.join(self.dir, "asg-agent.log"), "ab")
        self.agent = subprocess.Popen([AGENT_BIN, "--config", path, "run"], env=env,
                                      stdout=self.agent_log, stderr=subprocess.STDOUT)

    def health_status(self):
        return json.loads(unix_request(self.control, "GET", "/status")[2])

    def alive(self):
        return self.health is not None and self.health.poll() is None

    def kill(self):
        """The instance dies: every process of it at once, no hook."""
        self.terminated = True
        procs = [p for p in (self.agent, self.health) if p and p.poll() is None]
        if self.imds:
            procs.append(self.imds.proc)
        for p in procs:
            p.send_signal(signal.SIGKILL)
        for p in procs:
            p.wait()
        if self.imds:
            self.imds.stop()
            self.imds = None

    def stop(self, sig=signal.SIGTERM):
        for p in (self.agent, self.health):
            if p and p.poll() is None:
                p.send_signal(sig)
        for p in (self.agent, self.health):
            if p:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.imds:
            self.imds.stop()
            self.imds = None


class FleetHAProxy(HAProxy):
    """The fleet's load balancer: a slot per possible instance, all in
    maintenance until the target group registers one."""

    def __init__(self, tmp, port, inter_ms, net):
        super().__init__(tmp, port, [("i%d" % slot, "%s.%d" % (net, slot), 8080, True)
                                     for slot in range(1, MAX_SLOTS + 1)], inter_ms,
                         backend_extra=["http-response set-header X-Served-By %s",
                                        # The ALB never retries nor
                                        # redispatches: a refused or reset
                                        # connection to a target is a 502
                                        # for the client (aws.md 1).
                                        "retries 0"])

    def slots(self):
        """{slot: status text}"""
        return {int(name[1:]): st for name, st in self.servers().items() if name.startswith("i")}

    def set_slot(self, slot, state):
        self.set_state("i%d" % slot, state)


class Load:
    """Bounded load through the load balancer: keep-alive clients counting
    every error, reset and non-2xx response, and what each served."""

    def __init__(self, port, paths=("/",), clients=4, check=None, rate=None):
        """rate: at most this many requests a second in all (None: as
        fast as the clients go)."""
        self.port = port
        self.paths = paths
        self.check = check  # check(path, body) -> error text or None
        self.interval = clients / rate if rate else 0
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []  # (time it ended, description, time it started)
        self.by_server = {}
        self.first_seen = {}  # server: monotonic time of its first answer
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(clients)]
        for t in self.threads:
            t.start()

    def _run(self, n):
        conn = None
        i = n
        next_at = time.monotonic()
        while not self.stopping.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            if self.interval:
                next_at = max(next_at + self.interval, time.monotonic() - 1)
                if self.stopping.wait(max(0.0, next_at - time.monotonic())):
                    break
            t_start = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                server = r.getheader("X-Served-By", "?")
                err = None
                if r.status != 200:
                    err = "%s %d from %s" % (path, r.status, server)
                elif self.check:
                    err = self.check(path, body)
                with self.lock:
                    if err:
                        self.failures.append((time.monotonic(), err, t_start))
                    else:
                        self.ok += 1
                        self.by_server[server] = self.by_server.get(server, 0) + 1
                        self.first_seen.setdefault(server, time.monotonic())
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.failures.append((time.monotonic(), "%s: %s" % (path, e.__class__.__name__),
                                          t_start))
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()

    def snapshot(self):
        with self.lock:
            return self.ok, len(self.failures)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(15)
        return self.ok, list(self.failures)


class WrkLoad:
    """A load step heavier than Python's threads can make, so that the
    instances' CPU (the scaling metric) rises well above the target even on
    a busy machine: wrk (C, keep-alive) through the load balancer, bounded
    by its connections and `seconds`; its errors and non-2xx answers count
    as failures."""

    def __init__(self, port, connections=4, seconds=120, path="/"):
        self.proc = subprocess.Popen(
            ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "10s",
             "http://127.0.0.1:%d%s" % (port, path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self):
        """(requests answered 2xx/3xx, [failure descriptions])"""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # wrk prints its summary
        try:
            out = self.proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out = self.proc.communicate()[0]
        total = errors = 0
        failures = []
        for line in out.splitlines():
            words = line.replace(",", " ").split()
            if "requests in" in line:
                total = int(words[0])
            elif line.strip().startswith("Socket errors:"):
                errors = sum(int(w) for w in words if w.isdigit())
                failures.append(line.strip())
            elif line.strip().startswith("Non-2xx or 3xx responses:"):
                errors += int(words[-1])
                failures.append(line.strip())
        if not total and self.proc.returncode not in (0, -signal.SIGINT):
            failures.append("wrk failed: %s" % out.strip()[-300:])
        return total - errors, failures if errors or not total else []


class Fleet:
    def __init__(self, n=3, lb_port=None, inter_ms=400, with_agents=True, events=None,
                 agent_config=None, metric_period=10, dereg_lag=2.0, dereg_delay=0.5):
        """metric_period: the agents' period in AWS seconds (10, 30, 60),
        run METRIC_SCALE times faster.  dereg_lag: seconds new requests
        still reach a deregistered target.  dereg_delay: the target
        group's deregistration delay (AWS: 300 s, but a target with no
        request in flight leaves at once, aws.md 1): shorter than the lag,
        so the terminating hook comes while requests still arrive."""
        self.tmp = tempfile.mkdtemp(prefix="asg-fleet.")
        self.inter_ms = inter_ms
        self.metric_period = metric_period
        self.dereg_lag = dereg_lag
        self.dereg_delay = dereg_delay
        self.with_agents = with_agents and os.access(AGENT_BIN, os.X_OK)
        self.agent_config = agent_config or (lambda inst: {})
        self.events = events or (lambda line: None)
        self.instances = {}
        self.launches = 0
        self.lock = threading.Lock()
        # A "shared database" every instance checks (informational): a
        # listening socket the scenarios can close and reopen.
        self.db = None
        self.db_port = free_port()
        self.db_up()
        self.aws = client.start_aws(state=self._world(), credentials=[STATIC_KEY])
        self.net = free_net()
        self.lb = FleetHAProxy(self.tmp, lb_port or free_port(), inter_ms, self.net)
        self.stopping = threading.Event()
        self.reconciler = threading.Thread(target=self._reconcile_loop, daemon=True)
        self.reconciler.start()
        self.cpu_feeder = threading.Thread(target=self._cpu_loop, daemon=True)
        self.cpu_feeder.start()
        for slot in range(1, n + 1):
            self.launch(slot, initial=True)

    def _world(self):
        return {
            "account_id": "123456789012",
            "replace_unhealthy": False,
            "auto_scaling_groups": [{
                "AutoScalingGroupName": GROUP, "MinSize": 1, "MaxSize": MAX_SLOTS,
                "DesiredCapacity": 3, "HealthCheckType": "ELB", "HealthCheckGracePeriod": 0,
                "AvailabilityZones": ["us-east-1a", "us-east-1b", "us-east-1c"],
                "TargetGroupARNs": [TG_ARN]}],
            "instances": [],
            "lifecycle_hooks": [
                {"LifecycleHookName": "web-launch", "AutoScalingGroupName": GROUP,
                 "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                 "HeartbeatTimeout": 60, "DefaultResult": "ABANDON"},
                {"LifecycleHookName": "web-terminate", "AutoScalingGroupName": GROUP,
                 "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
                 "HeartbeatTimeout": 60, "DefaultResult": "CONTINUE"}],
            "target_groups": [{
                "TargetGroupArn": TG_ARN, "Port": 8080, "HealthCheckPath": "/health",
                "deregistration_delay_seconds": self.dereg_delay, "initial_seconds": 0,
                "targets": []}],
        }

    # --- the shared dependency ---------------------------------------
    def db_up(self):
        if self.db is None:
            self.db = socket.socket()
            self.db.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.db.bind(("127.0.0.1", self.db_port))
            self.db.listen(64)
            threading.Thread(target=self._db_accept, args=(self.db,), daemon=True).start()

    def _db_accept(self, s):
        while True:
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                return

    def db_down(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    # --- instances -----------------------------------------------------
    def live_instances(self):
        return [i for _, i in sorted(self.instances.items()) if i.alive() and not i.terminated]

    def free_slot(self):
        for slot in range(1, MAX_SLOTS + 1):
            if slot not in self.instances or not self.instances[slot].alive():
                if slot not in self.instances or self.instance_state(slot) in (None, "Terminated"):
                    return slot
        raise AssertionError("no free instance slot")

    def launch(self, slot, initial=False, hold_checks=0.0):
        """Scale-out: start the instance's processes, then tell the group.
        hold_checks keeps its critical check failing that long, so the
        launch gate has something to wait for."""
        old = self.instances.get(slot)
        if old:
            old.stop()
        inst = Instance(self, slot)
        with self.lock:
            self.instances[slot] = inst
        inst.checks_pass_from = 0.0
        if hold_checks:
            open(inst.flag, "w").close()
            inst.checks_pass_from = time.time() + hold_checks

            def release():
                time.sleep(hold_checks)
                os.unlink(inst.flag)
            threading.Thread(target=release, daemon=True).start()
        inst.start_imds()
        inst.start_health()
        if self.with_agents:
            self.aws.control("POST", "launch", {"InstanceId": inst.id, "AutoScalingGroupName": GROUP,
                                                "imds_url": inst.imds.url,
                                                "private_ip": inst.addr,
                                                "AvailabilityZone": "us-east-1%s" % "abc"[slot % 3]})
            inst.start_agent()
        else:
            # Without agents nothing completes the launch hook: enter the
            # group directly, as a group without hooks would.
            self.aws.control("POST", "instances", {"InstanceId": inst.id,
                                                   "AutoScalingGroupName": GROUP,
                                                   "LifecycleState": "InService",
                                                   "private_ip": inst.addr})
            state = self.aws.state()
            tg = state["target_groups"][0]
            tg["targets"] = [t for t in tg["targets"] if t["Id"] != inst.id] + [
                {"Id": inst.id, "Port": 8080, "State": "healthy"}]
            self.aws.control("POST", "state", {"target_groups": state["target_groups"]})
        self.events("launch   i%d %s at %s:8080" % (slot, inst.id, inst.addr))
        return inst

    def terminate(self, slot):
        """Scale-in through the group: deregistration, then the hook."""
        inst = self.instances[slot]
        self.aws.control("POST", "terminate", {"InstanceId": inst.id, "cause": "scale-in"})
        self.events("scale-in i%d %s" % (slot, inst.id))

    def launch_gate_respected(self, inst):
        """True if the launch hook was completed only after the instance's
        checks could pass."""
        for c in self.aws.calls(action="CompleteLifecycleAction"):
            p = c.get("params") or {}
            if p.get("InstanceId") == inst.id and p.get("LifecycleHookName") == "web-launch":
                t = time.mktime(time.strptime(c["time"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                return p.get("LifecycleActionResult") == "CONTINUE" and t >= int(inst.checks_pass_from)
        return False

    def kill(self, slot):
        """The instance dies (terminate N): every process at once, no hook;
        the group finds out from EC2 (group.py)."""
        self.instances[slot].kill()
        self.events("ec2      i%d died: every process killed" % slot)

    def reclaim(self, slot):
        """EC2 takes the instance away (a spot interruption's deadline)."""
        inst = self.instances[slot]
        inst.terminated = True
        inst.stop(signal.SIGKILL)
        state = self.aws.state()
        for tg in state["target_groups"]:
            tg["targets"] = [t for t in tg["targets"] if t["Id"] != inst.id]
        self.aws.control("POST", "state", {"target_groups": state["target_groups"]})
        self.aws.control("POST", "instances", {"InstanceId": inst.id, "LifecycleState": "Terminated"})
        self.events("ec2      i%d reclaimed" % slot)

    def instance_state(self, slot):
        inst = self.instances.get(slot)
        if not inst:
            return None
        for i in self.aws.state().get("instances", []):
            if i["InstanceId"] == inst.id:
                return i.get("LifecycleState")
        return None

    # --- each instance's CPU, for its agent ------------------------------
    def _cpu_loop(self):
        while not self.stopping.wait(0.2):
            for inst in list(self.instances.values()):
                if inst.alive() and not inst.terminated:
                    try:
                        inst.write_proc_stat()
                    except OSError as e:  # its directory is going away
                        self.events("cpu      i%d: %s" % (inst.slot, e))

    # --- the ALB's target group, mirrored into HAProxy -----------------
    def _reconcile_loop(self):
        applied = {}
        self.lagging = {}  # slot: (state to apply, when the stand-in changed)
        self.registered_traffic = {}  # instance id: its non-probe requests then
        while not self.stopping.is_set():
            try:
                applied = self._reconcile(applied)
            except Exception as e:  # the stand-in may be restarting
                self.events("reconcile: %s" % e)
            time.sleep(0.05)

    def _reconcile(self, applied):
        state = self.aws.state()
        by_id = {inst.id: slot for slot, inst in list(self.instances.items())}
        want = {}
        for tg in state.get("target_groups", []):
            for t in tg.get("targets", []):
                slot = by_id.get(t["Id"])
                if slot is not None:
                    want[slot] = "drain" if t.get("State") == "draining" else "ready"
        now = time.monotonic()
        for slot in range(1, MAX_SLOTS + 1):
            w = want.get(slot, "maint")
            if applied.get(slot) == "ready" and w != "ready":
                # The nodes learn of the deregistration late, and route to
                # the target as they last knew it: their own checks (2 x
                # 5-30 s on AWS) would take longer than the lag to eject it.
                if slot not in self.lagging:
                    inst = self.instances.get(slot)
                    self.lagging[slot] = (w, now, inst is not None and inst.alive() and
                                          self.haproxy_status(slot) == "UP")
                    if self.lagging[slot][2]:
                        self.lb.command("disable health web/i%d" % slot)
                if now - self.lagging[slot][1] < self.dereg_lag:
                    continue
            lag = self.lagging.pop(slot, None)
            if lag and lag[2]:
                self.lb.command("enable health web/i%d" % slot)
            if applied.get(slot) != w:
                inst = self.instances.get(slot)
                if w == "ready" and inst and inst.id not in self.registered_traffic:
                    # evidence that nothing reached it before its gate: the
                    # ALB is the only way in, and this is where it opens
                    try:
                        self.registered_traffic[inst.id] = inst.traffic()
                    except OSError:
                        self.registered_traffic[inst.id] = None
                self.lb.set_slot(slot, w)
                if slot in self.instances or applied.get(slot):
                    self.events("alb      i%d %s" % (slot, {"ready": "registered",
                                                              "drain": "draining (deregistered)",
                                                              "maint": "not registered"}[w]))
                applied[slot] = w
        for i in state.get("instances", []):
            slot = by_id.get(i["InstanceId"])
            if slot is not None and i.get("LifecycleState") == "Terminated":
                inst = self.instances[slot]
                if inst.alive() and not inst.terminated:
                    inst.terminated = True
                    self.events("ec2      i%d terminated: stopping its processes" % slot)
                    threading.Thread(target=inst.stop, daemon=True).start()
        return applied

    def haproxy_status(self, slot):
        return self.lb.slots().get(slot)

    def wait_up(self, slots, timeout=20):
        wait_for(lambda: all(self.haproxy_status(s) == "UP" for s in slots), timeout,
                 "HAProxy to mark %s UP" % slots)

    def close(self):
        self.stopping.set()
        self.reconciler.join(5)
        for inst in list(self.instances.values()):
            inst.stop()
        self.lb.stop()
        self.aws.stop()
        self.db_down()
        shutil.rmtree(self.tmp, ignore_errors=True)
