"""The Debian package on a real systemd: boots a minimal Debian 12 root with
systemd 252 as PID 1 (systemd-nspawn), installs the .deb that deb-build.sh
made, and runs tests/package/in-container.sh inside as a oneshot unit.

The root comes from debootstrap, once (2 to 15 min from the Debian mirror,
with the machine's load), cached outside the tree in
/var/cache/asg-agent-tests/bookworm-cloud and copied for each run so runs
never change it (bootlib.py; cloud-boot.py shares it).  cloud-init is in it
but disabled here: this test boots with the host's network and no
datasource.  The container shares the host's network: its
asg-health.socket binds the host's port 80 (which must be free), and
asg-agent inside talks to the IMDS and AWS stand-ins (tests/standins) that
this script runs on the host's loopback.  It never reaches 169.254.169.254
or AWS.

Needs root, debootstrap and systemd-container (scripts/deps test).  With no
mirror to debootstrap from, it fails and says so.  ASG_TEST_NSPAWN_ARGS adds
systemd-nspawn options (debugging); ASG_TEST_MIRROR picks the mirror.
"""

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP_SRCDIR = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILDDIR = os.environ.get("top_builddir", TOP_SRCDIR)
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "integration"))
import agentlib  # noqa: E402  (tests/integration/agentlib.py: stand-ins and the group's state)
import lifecyclelib  # noqa: E402  (the group with lifecycle hooks and a target group)
sys.path.insert(0, os.path.join(TOP_SRCDIR, "tests", "package"))
import bootlib  # noqa: E402  (the cached debootstrap root)

BOOT_TIMEOUT = 240
# Port 80 is one per machine: concurrent runs (two `make check`s) take
# turns on this lock rather than fail each other.
LOCK = os.path.join(os.path.dirname(bootlib.CACHE), "boot.lock")
LOCK_WAIT = 600
HERE = os.path.join(TOP_SRCDIR, "tests", "package")
DEB_DIR = os.path.join(TOP_BUILDDIR, "tests", "package", "deb")


def fail(why):
    print("FAIL: " + why, file=sys.stderr)
    sys.exit(1)


def port80_free():
    """asg-health.socket inside binds the host's port 80 (shared network)."""
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, 80))
        except OSError as e:
            holder = subprocess.run(["ss", "-ltnpH", "sport", "= :80"], capture_output=True,
                                    text=True).stdout.strip()
            fail("port 80 (%s) is in use on this host (%s): the container shares the host's "
                 "network and its asg-health.socket needs the port; stop %s"
                 % (addr, e.strerror, holder or "whatever holds it"))
        finally:
            s.close()


TEST_UNIT = """[Unit]
Description=asg-agent package test (tests/package/in-container.sh)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/bash /out/in-container.sh
StandardOutput=append:/out/test.log
StandardError=append:/out/test.log
TimeoutStartSec=200
ExecStopPost=/bin/systemctl --no-block poweroff

[Install]
WantedBy=multi-user.target
"""


def prepare(root, out, deb, imds_url, aws_url):
    shutil.copy(deb, os.path.join(out, "asg-agent.deb"))
    shutil.copy(os.path.join(HERE, "in-container.sh"), os.path.join(out, "in-container.sh"))
    with open(os.path.join(out, "env"), "w") as f:
        f.write("IMDS_URL=%s\nAWS_URL=%s\nINSTANCE_ID=%s\n"
                % (imds_url, aws_url, agentlib.INSTANCE_ID))
    units = os.path.join(root, "etc", "systemd", "system")
    with open(os.path.join(units, "asg-test.service"), "w") as f:
        f.write(TEST_UNIT)
    wants = os.path.join(units, "multi-user.target.wants")
    os.makedirs(wants, exist_ok=True)
    os.symlink("/etc/systemd/system/asg-test.service", os.path.join(wants, "asg-test.service"))
    # The packaged unit as it is, pointed at the stand-ins the way an
    # operator would point it anywhere: a drop-in with the SDK variables.
    dropin = os.path.join(units, "asg-agent.service.d")
    os.makedirs(dropin, exist_ok=True)
    with open(os.path.join(dropin, "test.conf"), "w") as f:
        f.write("[Service]\n"
                "Environment=AWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n"
                "Environment=AWS_ENDPOINT_URL_CLOUDWATCH=%s\n"
                "Environment=AWS_ENDPOINT_URL_AUTO_SCALING=%s\n"
                "Environment=AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=%s\n"
                "Environment=ASG_AGENT_TEST_PERIOD_MS=1000\n"
                "Environment=ASG_AGENT_TEST_WATCH_MS=500\n"
                % (imds_url, aws_url, aws_url, aws_url))
    bootlib.quiet_console(root)
    # No datasource here, and the host's network: cloud-init must not look
    # for one (its Ec2 datasource would try 169.254.169.254).
    with open(os.path.join(root, "etc", "cloud", "cloud-init.disabled"), "w") as f:
        f.write("tests/package/deb-boot.py: no cloud-init in this boot\n")


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def main():
    if os.environ.get("ASG_IN_PACKAGE_BUILD"):
        bootlib.skip("inside dpkg-buildpackage (this test builds and boots that package)")
    if bootlib.sanitized_build(TOP_BUILDDIR):
        bootlib.skip("sanitizer build: the package is built and booted once, by the plain build's run")
    if os.geteuid() != 0:
        fail("needs root (debootstrap, systemd-nspawn, port 80)")
    for tool, pkg in (("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap")):
        if not shutil.which(tool):
            fail("%s not found: install %s (scripts/deps test)" % (tool, pkg))
    debs = sorted(f for f in os.listdir(DEB_DIR) if f.endswith("_amd64.deb")) \
        if os.path.isdir(DEB_DIR) else []
    if not debs:
        fail("no .deb in %s: tests/package/deb-build.sh makes it" % DEB_DIR)
    deb = os.path.join(DEB_DIR, debs[-1])
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    lock = open(LOCK, "w")
    t0 = time.monotonic()
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() - t0 > LOCK_WAIT:
                fail("another package boot test has held %s for %d s" % (LOCK, LOCK_WAIT))
            time.sleep(1)
    if time.monotonic() - t0 > 1:
        print("waited %.0f s for another package boot test (%s)" % (time.monotonic() - t0, LOCK))
    port80_free()

    work = tempfile.mkdtemp(prefix="asg-boot-", dir="/var/tmp")
    root, out = os.path.join(work, "root"), os.path.join(work, "out")
    os.makedirs(out)
    try:
        copy_s = bootlib.copy_root(root)
    except bootlib.BootError as e:
        shutil.rmtree(work, ignore_errors=True)
        fail(str(e))
    failures = []
    try:
        with agentlib.client.start_imds() as imds, \
                agentlib.client.start_aws(state=lifecyclelib.world(imds.url),
                                          trust_imds=[imds.url]) as aws:
            prepare(root, out, deb, imds.url, aws.url)
            console, boot_s = "", []
            # Boot 1 installs and checks; boot 2 is the reboot (see
            # in-container.sh).
            for n in (1, 2):
                t1 = time.monotonic()
                try:
                    boot = subprocess.run(
                        ["systemd-nspawn", "--quiet", "--keep-unit", "--register=no",
                         "-D", root, "--bind=%s:/out" % out,
                         # nspawn's own seccomp filter refuses bpf(2); the
                         # systemd inside needs it for IPAddressDeny=.
                         "--system-call-filter=bpf", "-b"]
                        + os.environ.get("ASG_TEST_NSPAWN_ARGS", "").split(),
                        stdin=subprocess.DEVNULL, capture_output=True, text=True,
                        timeout=BOOT_TIMEOUT)
                    console += "==== boot %d\n%s%s" % (n, boot.stdout, boot.stderr)
                except subprocess.TimeoutExpired as e:
                    console += "==== boot %d (timed out after %d s)\n%s" % (
                        n, BOOT_TIMEOUT, e.stdout or "")
                    failures.append("boot %d did not power off within %d s" % (n, BOOT_TIMEOUT))
                boot_s.append(time.monotonic() - t1)
                if "boot1 done" not in read(os.path.join(out, "results")):
                    break
            metrics = agentlib.metric_points(aws)
            calls = aws.calls()
            completed = aws.state().get("completed_lifecycle_actions", [])
        results = read(os.path.join(out, "results")).splitlines()
        for line in results:
            print(line)
        for line in read(os.path.join(out, "timings")).splitlines():
            print("timing: " + line)
        print("timing: root copy %.1f s, boot+test+poweroff %s" % (
            copy_s, ", ".join("%.1f s" % s for s in boot_s)))
        failures += [l for l in results if l.startswith("FAIL")]
        for mark in ("boot1 done", "done"):
            if mark not in results:
                failures.append("in-container.sh did not reach \"%s\"" % mark)
        if not any(l.startswith("ok ") for l in results):
            failures.append("no check ran inside the container")
        # The agent inside published to the stand-in with credentials it got
        # from the stand-in IMDS, signed as botocore signs.
        print("stand-in: %d AWS calls, %d CPUUtilization points" % (len(calls), len(metrics)))
        if not metrics:
            failures.append("asg-agent in the container published no CPUUtilization to the "
                            "AWS stand-in (%d calls: %s)" % (
                                len(calls), sorted({c.get("action") for c in calls})))
        # The terminating hook was completed by the agent, not by a timeout.
        done_by_agent = [c for c in completed
                         if c.get("LifecycleHookName") == lifecyclelib.TERM_HOOK
                         and c.get("by") == "CompleteLifecycleAction"]
        print("stand-in: completed lifecycle actions %s" % json.dumps(completed)[:400])
        if not done_by_agent:
            failures.append("the terminating hook %s was not completed by the agent"
                            % lifecyclelib.TERM_HOOK)
        status = read(os.path.join(out, "agent-status.json"))
        if agentlib.GROUP not in status:
            failures.append("asg-agent status does not name the group %s: %s"
                            % (agentlib.GROUP, status[:300]))
        if failures:
            print("---- console\n" + console[-3000:])
            for name in ("test.log", "status.txt", "journal-health.txt", "journal-agent.txt"):
                text = read(os.path.join(out, name))
                if text:
                    print("---- %s (last 40 lines)\n%s" % (
                        name, "\n".join(text.splitlines()[-40:])))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        for f in failures:
            print("FAIL: " + f, file=sys.stderr)
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
