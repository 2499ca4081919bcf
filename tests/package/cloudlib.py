"""Instances as EC2 boots them, on this machine: a copy of the cached
Debian 12 root (bootlib) with cloud-init, the NoCloud datasource seeded
with scripts/user-data.yaml exactly as scripts/provision renders it, booted
by systemd-nspawn in a network namespace of its own.

What stands in for what:
- the instance's network: a veth pair into the namespace (bootlib.Link),
  169.254.A.B/30 on both ends; the container has no default route and
  reaches only this host's end of its link;
- its IMDS: tests/standins/imds.py on this host's end of the link, one per
  instance (its own instance id, the group's tag); the AWS stand-in on the
  first instance's host address, routed to from the others;
- the AMI's configuration: /etc/cloud/cloud.cfg.d/90-asg-test.cfg (NoCloud
  only, no network configuration, the apt sources kept: there are none, so
  the user data's apt-get update and install stay offline; the package's
  dependencies are in the debootstrap include list);
- where the operator points the agent: a drop-in
  /etc/systemd/system/asg-agent.service.d/test.conf with the SDK variables,
  written by the test (the user data does not know about stand-ins);
- the package URL: an HTTP server on this host's end of the first link
  serving the .deb deb-build.sh made (--package http://.../NAME.deb,
  --site example).
"""

import copy
import functools
import http.server
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.environ.get("top_srcdir", os.path.join(HERE, "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir", TOP_SRCDIR)
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "standins"))
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "deploy"))
sys.path.insert(0, HERE)
import bootlib  # noqa: E402
import client  # noqa: E402  (tests/standins/client.py)
from stubbed_aws import load_provision  # noqa: E402  (scripts/provision as a module)

DEB_DIR = os.path.join(TOP_BUILDDIR, "tests", "package", "deb")
GROUP = "web-asg"
TG_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"
LAUNCH_HOOK = "web-launching"
TERM_HOOK = "web-terminating"
DEPLOY_DONE = "asg-agent user data: done"

CLOUD_CFG = """# The test's AMI configuration (tests/package/cloudlib.py).
# The datasource is the NoCloud seed in /var/lib/cloud/seed/nocloud/.
datasource_list: [NoCloud]
# The test configured eth0 in the container's namespace before the boot,
# as EC2's DHCP would have.
network: {config: disabled}
# Keep /etc/apt/sources.list (empty): the user data's apt-get stays
# offline, the dependencies are already installed.
apt: {preserve_sources_list: true}
# The only locale a minbase root has.  cloud-init's default, en_US.UTF-8,
# is not in /etc/locale.gen and Debian's locale-gen ignores the locale
# cloud-init passes it, so update-locale would fail the locale module.
locale: C.UTF-8
"""


def instance_id(n):
    return "i-0c1d0b0071a5e%04x" % n


def find_deb():
    debs = sorted(f for f in os.listdir(DEB_DIR) if f.endswith("_amd64.deb")) \
        if os.path.isdir(DEB_DIR) else []
    if not debs:
        raise bootlib.BootError("no .deb in %s: tests/package/deb-build.sh makes it" % DEB_DIR)
    return os.path.join(DEB_DIR, debs[-1])


def render_user_data(package_url):
    """scripts/user-data.yaml as `scripts/provision --package URL --site
    example` puts it in the launch template."""
    provision = load_provision()
    return provision.render_user_data(provision.Settings(package=package_url, site="example"))


class PackageServer:
    """The .deb over HTTP on this host's end of a link; counts downloads."""

    def __init__(self, address, deb):
        self.downloads = []
        served = self.downloads

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                served.append((self.client_address[0], self.path))
                return super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=os.path.dirname(deb))
        self.server = http.server.ThreadingHTTPServer((address, 0), handler)
        self.url = "http://%s:%d/%s" % (address, self.server.server_address[1],
                                        os.path.basename(deb))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def imds_state(inst_id, guest_ip):
    with open(os.path.join(TOP_SRCDIR, "tests", "standins", "example-imds-state.json")) as f:
        state = json.load(f)
    state.update(instance_id=inst_id, local_ipv4=guest_ip, instance_life_cycle="on-demand",
                 scheduled_events=[], local_hostname="ip-%s.ec2.internal"
                 % guest_ip.replace(".", "-"))
    state["tags"] = {"aws:autoscaling:groupName": GROUP, "Name": "web"}
    return state


def aws_world(instances, hooks=True):
    """The group, its hooks and target group, with instances [(id, imds_url)]
    InService; their transitions are mirrored into their IMDS."""
    group = {
        "AutoScalingGroupName": GROUP, "MinSize": 1, "MaxSize": 4,
        "DesiredCapacity": len(instances), "AvailabilityZones": ["us-east-1a"],
        "HealthCheckType": "ELB", "HealthCheckGracePeriod": 0, "TargetGroupARNs": [TG_ARN],
        "LaunchTemplate": {"LaunchTemplateId": "lt-0123456789abcdef0",
                           "LaunchTemplateName": "web", "Version": "1"},
        "Tags": [{"Key": "aws:autoscaling:groupName", "Value": GROUP}]}
    world = {"account_id": "123456789012", "auto_scaling_groups": [group], "instances": [],
             "lifecycle_hooks": [], "target_groups": [{
                 "TargetGroupArn": TG_ARN, "Port": 80, "HealthCheckPath": "/health",
                 "deregistration_delay_seconds": 0.5, "initial_seconds": 0.5,
                 "targets": []}]}
    for inst_id, imds_url in instances:
        world["instances"].append({
            "InstanceId": inst_id, "AutoScalingGroupName": GROUP,
            "AvailabilityZone": "us-east-1a", "LifecycleState": "InService",
            "HealthStatus": "Healthy", "InstanceType": "t3.micro", "imds_url": imds_url})
        world["target_groups"][0]["targets"].append(
            {"Id": inst_id, "Port": 80, "State": "healthy"})
    if hooks:
        world["lifecycle_hooks"] = [
            {"LifecycleHookName": LAUNCH_HOOK, "AutoScalingGroupName": GROUP,
             "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
             "HeartbeatTimeout": 300, "DefaultResult": "ABANDON"},
            {"LifecycleHookName": TERM_HOOK, "AutoScalingGroupName": GROUP,
             "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
             "HeartbeatTimeout": 300, "DefaultResult": "CONTINUE"}]
    return copy.deepcopy(world)


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class Instance:
    """One instance: its link, its IMDS stand-in and its root (an overlay
    on the cached one, bootlib.OverlayRoot).  seed() puts the user data and the test's drop-in in
    place; boot() starts it (a bootlib.Machine)."""

    def __init__(self, work, n, avoid=()):
        self.n = n
        self.id = instance_id(n)
        self.dir = os.path.join(work, "i%d" % n)
        os.makedirs(self.dir)
        self.link = bootlib.Link("cb%d" % n, avoid)
        self.imds = None
        self.overlay = None
        self.machine = None
        self.boots = 0
        try:
            self.imds = client.start_imds(state=imds_state(self.id, self.link.guest_ip),
                                          listen=self.link.host_ip + ":0")
            self.overlay = bootlib.OverlayRoot(self.dir)
            self.root = self.overlay.path
        except BaseException:
            self.close()
            raise

    @property
    def url(self):
        return "http://%s" % self.link.guest_ip

    def seed(self, user_data, aws_url, extra_env=()):
        r = self.root
        # The NoCloud seed: EC2's instance id is cloud-init's instance id.
        write(os.path.join(r, "var/lib/cloud/seed/nocloud/meta-data"),
              "instance-id: %s\nlocal-hostname: ip-%s\n"
              % (self.id, self.link.guest_ip.replace(".", "-")))
        write(os.path.join(r, "var/lib/cloud/seed/nocloud/user-data"), user_data)
        write(os.path.join(r, "etc/cloud/cloud.cfg.d/90-asg-test.cfg"), CLOUD_CFG)
        write(os.path.join(r, "etc/apt/sources.list"),
              "# empty: the test boots offline (tests/package/cloudlib.py)\n")
        env = ["AWS_EC2_METADATA_SERVICE_ENDPOINT=" + self.imds.url,
               "AWS_ENDPOINT_URL_CLOUDWATCH=" + aws_url,
               "AWS_ENDPOINT_URL_AUTO_SCALING=" + aws_url,
               "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=" + aws_url] + list(extra_env)
        write(os.path.join(r, "etc/systemd/system/asg-agent.service.d/test.conf"),
              "# The test's stand-ins (tests/package/cloudlib.py), not the user data's.\n"
              "[Service]\n" + "".join("Environment=%s\n" % e for e in env))
        bootlib.quiet_console(r)

    def boot(self):
        self.boots += 1
        self.machine = bootlib.Machine(
            self.root, self.link, os.path.join(self.dir, "console-%d.txt" % self.boots),
            ["--machine=asg-i%d-%d" % (self.n, os.getpid())])
        return self.machine

    def get(self, path, timeout=3):
        """(status, body) of GET path from this host through the link;
        status 0 when the connection fails."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (OSError, urllib.error.URLError):
            return 0, b""

    def health_since_boot(self):
        """Seconds from the boot's start if /health answers 200 from this
        host now, else None."""
        if not self.machine.running():
            raise bootlib.BootError("instance %d powered off before /health answered 200"
                                    % self.n)
        if self.get("/health", timeout=2)[0] == 200:
            return time.monotonic() - self.machine.started
        return None

    def wait_health(self, timeout):
        """Seconds from the boot's start to /health 200 from this host."""
        return wait_health([self], timeout)[0]

    def wait_cloud_init(self, timeout):
        """cloud-init's final status (a dict) once it has finished, and the
        seconds from the boot's start to its end.  Its final stage writes
        boot-finished on every boot: watched from this host (cheap; its
        mtime is when), then `cloud-init status --wait` inside reads the
        verdict."""
        m = self.machine
        finished = os.path.join(self.root, "var/lib/cloud/instances", self.id, "boot-finished")
        started = time.time() - (time.monotonic() - m.started)
        deadline = time.monotonic() + timeout
        while True:
            try:
                mtime = os.stat(finished).st_mtime
                if mtime >= started - 1:
                    done_s = mtime - started
                    break
            except OSError:
                pass
            if not m.running():
                raise bootlib.BootError("instance %d powered off during cloud-init" % self.n)
            if time.monotonic() > deadline:
                raise bootlib.BootError("instance %d: cloud-init did not finish within %d s"
                                        % (self.n, timeout))
            time.sleep(0.2)
        r = m.exec(["cloud-init", "status", "--wait", "--format", "json"], timeout=120)
        try:
            st = json.loads(r.stdout)
        except ValueError:
            st = {"unparsed": r.stdout + r.stderr}
        return st, done_s

    def agent_status(self):
        r = self.machine.exec(["asg-agent", "status"], timeout=20)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {"unparsed": r.stdout + r.stderr}

    def close(self):
        if self.machine:
            self.machine.kill()
        if self.imds:
            self.imds.stop()
            self.imds.tmpdir.cleanup()
            self.imds = None
        if self.overlay:
            self.overlay.close()
        self.link.close()


def wait_health(instances, timeout):
    """Polls every instance's /health in turn until each has answered 200;
    returns the seconds from each one's boot to its first 200."""
    seen = [None] * len(instances)
    deadline = time.monotonic() + timeout
    while None in seen:
        for i, inst in enumerate(instances):
            if seen[i] is None:
                seen[i] = inst.health_since_boot()
        if None in seen:
            if time.monotonic() > deadline:
                raise bootlib.BootError("/health did not answer 200 within %d s on instance %s"
                                        % (timeout, [inst.n for inst, s in zip(instances, seen)
                                                     if s is None]))
            time.sleep(0.2)
    return seen


# What a boot must leave as it was: the files the package and the user data
# installed (with their inode change times: a rewrite changes them), the
# unit files and their enablement, dpkg's database, the users, cloud-init's
# per-instance semaphores and instance id, and how often the user data ran.
# Directories are compared by their entries (cloud-init adds and removes
# lock files in sem/ on every boot), and data/instance-id by its content
# (cloud-init rewrites it on every boot).
SNAPSHOT = r"""
set -u
for p in /etc/asg-agent /var/www/asg-agent /usr/local/sbin/asg-agent-deploy \
	/var/cache/asg-agent-deploy /etc/systemd/system /usr/bin/asg-agent /usr/sbin/asg-health \
	/lib/systemd/system/asg-health.socket /lib/systemd/system/asg-health.service \
	/lib/systemd/system/asg-agent.service /var/lib/dpkg/status /etc/passwd /etc/group \
	/etc/apt/sources.list /etc/apt/sources.list.d /var/lib/cloud/instance/sem; do
	find "$p" -type d -printf '%p %y %m %u %g\n' -o -printf '%p %y %m %u %g %s %C@\n' 2>&1
	find "$p" -type f -exec sha256sum {} + 2>&1
done | sort
echo "instance-id: $(cat /var/lib/cloud/data/instance-id)"
echo "dpkg: $(dpkg-query -W -f '${Package} ${Version} ${Status}' asg-agent 2>&1)"
for u in asg-health.socket asg-health.service asg-agent.service; do
	echo "unit $u: $(systemctl is-enabled "$u" 2>&1) $(systemctl is-active "$u" 2>&1)"
done
echo "cloud-init: $(cloud-init status 2>&1 | tr '\n' ' ')"
echo "user data runs: $(grep -c '^asg-agent user data: done' /var/log/cloud-init-output.log)"
"""


def snapshot(machine):
    r = machine.exec(["/bin/bash", "-c", SNAPSHOT], timeout=60)
    return r.stdout.splitlines()
