"""The instance as EC2 boots it (issue 11, section 3): a Debian 12 machine
with cloud-init, booted by systemd-nspawn in a network namespace of its
own, its NoCloud datasource seeded with scripts/user-data.yaml exactly as
`scripts/provision --package URL --site example` renders it (see
cloudlib.py for what stands in for what).

Boot 1: real cloud-init runs the real user data.  cloud-init finishes with
status done and no error, saw the rendered user data byte for byte, and
ran it once; the package came over the link from this host and is
installed; the units are enabled and active; from this host, /health
answers 200 and / serves the user data's site through the container's
address; `asg-agent status` inside shows the identity the IMDS stand-in
gave (instance id, group from its tag, region) and the agent published to
the AWS stand-in.

Boot 2, the same root (cloud-init's per-instance semantics): cloud-init
runs again and finishes done, runcmd does not run again, the package is
not fetched again, and the installed files, units, dpkg's database, users
and cloud-init's semaphores are exactly as boot 1 left them; /health
answers 200 and the agent has its identity again.

Needs root, debootstrap, systemd-container and iproute2 (scripts/deps
test).  Skips inside dpkg-buildpackage and in the sanitizer pass (the
package is built and booted by the plain pass).
"""

import difflib
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bootlib  # noqa: E402
import cloudlib  # noqa: E402

BOOT_TIMEOUT = 300


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Checks:
    def __init__(self):
        self.failures = []

    def __call__(self, name, cond, detail=""):
        if cond:
            print("ok " + name)
        else:
            print("FAIL %s: %s" % (name, detail))
            self.failures.append(name)
        return cond


def check_boot(check, inst, boot):
    """What every boot must show: units up, /health and the site from this
    host, the identity from the IMDS stand-in."""
    m = inst.machine
    for u in ("asg-health.socket", "asg-health.service", "asg-agent.service"):
        r = m.exec(["systemctl", "is-enabled", u])
        check("boot%d %s enabled" % (boot, u), r.stdout.strip() == "enabled", r.stdout + r.stderr)
        r = m.exec(["systemctl", "is-active", u])
        check("boot%d %s active" % (boot, u), r.stdout.strip() == "active", r.stdout + r.stderr)
    status, body = inst.get("/")
    index = m.exec(["cat", "/var/www/asg-agent/index.html"]).stdout.encode()
    check("boot%d / from this host is the user data's site" % boot,
          status == 200 and index and body == index,
          "GET / gave %d, %d bytes; /var/www/asg-agent/index.html %d bytes"
          % (status, len(body), len(index)))
    # The agent's identity comes from its IMDS (a few requests after it
    # starts): wait for it rather than assume it.
    deadline = time.monotonic() + 60
    st = {}
    while time.monotonic() < deadline:
        st = inst.agent_status()
        if st.get("instance_id") and st.get("auto_scaling_group"):
            break
        time.sleep(0.5)
    check("boot%d asg-agent status: identity from the IMDS stand-in" % boot,
          st.get("instance_id") == inst.id and st.get("auto_scaling_group") == cloudlib.GROUP
          and st.get("region") == "us-east-1"
          and st.get("instance_type") == "t3.micro",
          "status %s" % st)
    print("boot%d asg-agent status: instance_id %s, group %s (%s), region %s (%s), imds %s"
          % (boot, st.get("instance_id"), st.get("auto_scaling_group"),
             st.get("auto_scaling_group_source"), st.get("region"), st.get("region_source"),
             st.get("imds")))
    return st


def main():
    if os.environ.get("ASG_IN_PACKAGE_BUILD"):
        bootlib.skip("inside dpkg-buildpackage (this test boots that package)")
    if bootlib.sanitized_build(cloudlib.TOP_BUILDDIR):
        bootlib.skip("sanitizer build: the package is built and booted once, by the plain build's run")
    if os.geteuid() != 0:
        print("FAIL: needs root (debootstrap, systemd-nspawn, ip netns)", file=sys.stderr)
        return 1
    for tool, pkg in (("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap"),
                      ("ip", "iproute2"), ("nsenter", "util-linux")):
        if not shutil.which(tool):
            print("FAIL: %s not found: install %s (scripts/deps test)" % (tool, pkg),
                  file=sys.stderr)
            return 1
    check = Checks()
    bootlib.clean_stale()
    work = tempfile.mkdtemp(prefix="asg-cloud-boot-%d-" % os.getpid(), dir="/var/tmp")
    inst = aws = pkg = None
    timings = []
    try:
        deb = cloudlib.find_deb()
        inst = cloudlib.Instance(work, 1)
        aws = cloudlib.client.start_aws(
            state=cloudlib.aws_world([(inst.id, inst.imds.url)]), trust_imds=[inst.imds.url],
            listen=inst.link.host_ip + ":0")
        pkg = cloudlib.PackageServer(inst.link.host_ip, deb)
        user_data = cloudlib.render_user_data(pkg.url)
        check("rendered user data names the package URL",
              "ASG_AGENT_PACKAGE='%s'" % pkg.url in user_data
              and "ASG_AGENT_SITE='example'" in user_data)
        # A one-second period, so the agent publishes while the test looks.
        inst.seed(user_data, aws.url, ["ASG_AGENT_TEST_PERIOD_MS=1000"])

        # ---- boot 1: first boot, cloud-init runs the user data
        inst.boot()
        health_s = inst.wait_health(BOOT_TIMEOUT)
        ci, ci_s = inst.wait_cloud_init(BOOT_TIMEOUT)
        timings.append("boot 1: /health 200 after %.1f s, cloud-init done after %.1f s"
                       % (health_s, ci_s))
        m = inst.machine
        check("boot1 cloud-init status done, no errors",
              ci.get("status") == "done" and not ci.get("errors"), "status %s" % ci)
        check("boot1 cloud-init used the NoCloud seed",
              "nocloud" in str(ci.get("datasource", "")).lower()
              and m.exec(["cat", "/var/lib/cloud/data/instance-id"]).stdout.strip() == inst.id,
              "datasource %s" % ci.get("datasource"))
        seen = m.exec(["cat", "/var/lib/cloud/instance/user-data.txt"]).stdout
        check("boot1 cloud-init saw the rendered user data byte for byte", seen == user_data,
              "".join(difflib.unified_diff(user_data.splitlines(True), seen.splitlines(True),
                                           "rendered", "cloud-init's", n=1))[:1500])
        out = m.exec(["cat", "/var/log/cloud-init-output.log"]).stdout
        done_line = "%s: package %s, site example" % (cloudlib.DEPLOY_DONE, pkg.url)
        check("boot1 the user data ran to its end once", out.count(done_line) == 1,
              "cloud-init-output.log:\n" + out[-2000:])
        check("boot1 the package came over the link from this host",
              pkg.downloads == [(inst.link.guest_ip, "/" + os.path.basename(deb))],
              "downloads %s" % pkg.downloads)
        version = os.path.basename(deb).split("_")[1]
        r = m.exec(["dpkg-query", "-W", "-f", "${Version} ${Status}", "asg-agent"])
        check("boot1 asg-agent %s installed" % version,
              r.stdout == "%s install ok installed" % version, r.stdout + r.stderr)
        r = m.exec(["asg-health", "--check-config", "--config", "/etc/asg-agent/health.json"])
        conf = m.exec(["cat", "/etc/asg-agent/health.json"]).stdout
        check("boot1 health.json is the user data's (root /var/www/asg-agent)",
              r.returncode == 0 and '"root": "/var/www/asg-agent"' in conf, conf[:400])
        status, body = inst.get("/health")
        check("boot1 /health 200 from this host through %s" % inst.link.guest_ip,
              status == 200, "status %d" % status)
        check_boot(check, inst, 1)
        # The agent's credentials and region came from its IMDS and its
        # PutMetricData reached the AWS stand-in, signed (the stand-in
        # checks SigV4 with botocore and the IMDS credentials).
        deadline = time.monotonic() + 30
        points = []
        while time.monotonic() < deadline and not points:
            points = [p for p in aws.control("GET", "metrics")
                      if p.get("MetricName") == "CPUUtilization"]
            time.sleep(0.5)
        check("boot1 CPUUtilization published to the AWS stand-in", points,
              "%d calls: %s" % (len(aws.calls()), sorted({c.get("action")
                                                          for c in aws.calls()})))
        imds_log = inst.imds.control("GET", "log")
        check("boot1 the agent used IMDSv2 through the link",
              '"PUT"' in imds_log and "instance-id" in imds_log, imds_log[:300])
        snap1 = cloudlib.snapshot(m)
        timings.append("boot 1: power-off %.1f s" % m.poweroff())

        # ---- boot 2: the same instance again
        inst.boot()
        health_s = inst.wait_health(BOOT_TIMEOUT)
        ci, ci_s = inst.wait_cloud_init(BOOT_TIMEOUT)
        timings.append("boot 2: /health 200 after %.1f s, cloud-init done after %.1f s"
                       % (health_s, ci_s))
        m = inst.machine
        check("boot2 cloud-init status done, no errors",
              ci.get("status") == "done" and not ci.get("errors"), "status %s" % ci)
        log = m.exec(["cat", "/var/log/cloud-init.log"]).stdout
        check("boot2 cloud-init ran again (its final stage twice in its log)",
              log.count("running 'modules:final'") == 2,
              "%d final stages" % log.count("running 'modules:final'"))
        check_boot(check, inst, 2)
        snap2 = cloudlib.snapshot(m)
        diff = list(difflib.unified_diff(snap1, snap2, "boot 1", "boot 2", n=0, lineterm=""))
        check("boot2 changed nothing (files, units, dpkg, users, semaphores, runcmd)",
              snap1 and not diff, "\n".join(diff[:40]))
        check("boot2 snapshot: one user data run, units enabled and active",
              "user data runs: 1" in snap2
              and all(("unit %s: enabled active" % u) in snap2
                      for u in ("asg-health.socket", "asg-health.service",
                                "asg-agent.service")), "\n".join(snap2[-6:]))
        check("boot2 the package was not fetched again", len(pkg.downloads) == 1,
              "downloads %s" % pkg.downloads)
        timings.append("boot 2: power-off %.1f s" % m.poweroff())
    except (bootlib.BootError, OSError, RuntimeError) as e:
        check("the test ran to its end", False, str(e))
    finally:
        for t in timings:
            print("timing: " + t)
        if check.failures and inst:
            for n in range(1, inst.boots + 1):
                text = read(os.path.join(inst.dir, "console-%d.txt" % n))
                print("---- console of boot %d (last 40 lines)\n%s"
                      % (n, "\n".join(text.splitlines()[-40:])))
            for f in ("var/log/cloud-init-output.log", "var/log/cloud-init.log"):
                text = read(os.path.join(inst.root, f))
                print("---- /%s (last 40 lines)\n%s" % (f, "\n".join(text.splitlines()[-40:])))
        if pkg:
            pkg.close()
        if aws:
            aws.stop()
            aws.tmpdir.cleanup()
        if inst:
            inst.close()
        shutil.rmtree(work, ignore_errors=True)
    if check.failures:
        for f in check.failures:
            print("FAIL: " + f, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
