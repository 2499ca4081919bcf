#!/usr/bin/python3
"""The user data: scripts/user-data.yaml passes `cloud-init schema` (and a
broken copy fails it), carries scripts/user-data.sh byte for byte, fits in
EC2's 16 KB; the shell script passes bash -n and shellcheck; and it is run
for real, twice, in a sandbox: ASG_AGENT_DESTDIR stands in for /, and PATH
holds only recording fakes of apt-get, curl, aws, systemctl and asg-health
plus the few coreutils it needs.  The second run must make the same calls
and leave the same files; failures must leave the old site serving."""

import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import unittest

import yaml

TOP_SRCDIR = os.environ.get("top_srcdir",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SCRIPT = os.path.join(TOP_SRCDIR, "scripts", "user-data.sh")
CLOUD_CONFIG = os.path.join(TOP_SRCDIR, "scripts", "user-data.yaml")
EXAMPLE_SITE = os.path.join(TOP_SRCDIR, "examples", "site")

# Real tools the script may use; anything else is "command not found".
REAL_TOOLS = ("bash", "cat", "chmod", "cp", "dirname", "gzip", "mkdir", "mv", "rm", "tar")

# A fake records "name args..." (one line per call, NUL-free) and then
# behaves just enough like the real command.
FAKE_PROLOGUE = """#!/bin/bash
printf '%s' "${0##*/}" >>"$CALLS"
for a in "$@"; do printf ' %s' "$a" >>"$CALLS"; done
echo >>"$CALLS"
"""
FAKES = {
    # apt-get install of a local .deb or of asg-agent "installs" the
    # package: here, its example site, where systemd/local.mk puts it.
    "apt-get": r"""
if [ "$3" = install ]; then
	for a in "$@"; do
		case $a in
		*.deb | asg-agent)
			mkdir -p "$ASG_AGENT_DESTDIR/usr/share/asg-agent"
			rm -rf "$ASG_AGENT_DESTDIR/usr/share/asg-agent/site"
			cp -R "$FIXTURES/example-site" "$ASG_AGENT_DESTDIR/usr/share/asg-agent/site"
			;;
		esac
	done
fi
exit "${FAIL_APT:-0}"
""",
    # curl ... -o FILE URL: a .tar.gz URL gets the fixture site tarball.
    "curl": r"""
out= url=
while [ $# -gt 0 ]; do
	case $1 in
	-o) out=$2; shift ;;
	-*) ;;
	*) url=$1 ;;
	esac
	shift
done
[ -n "${FAIL_CURL:-}" ] && exit 22
case $url in
*.tar.gz) cp "$FIXTURES/site.tar.gz" "$out" ;;
*) printf 'deb from %s\n' "$url" >"$out" ;;
esac
""",
    "aws": r"""
[ "$1" = s3 ] || exit 2
case $2 in
cp) printf 'deb from %s\n' "$4" >"$5" ;;
sync) cp -R "$FIXTURES/${SYNC_SITE:-s3-site}/." "$6/" ;;
*) exit 2 ;;
esac
""",
    "systemctl": "exit 0\n",
    "asg-health": 'exit "${FAIL_CHECK_CONFIG:-0}"\n',
}

REGENERATE = """scripts/user-data.yaml must carry scripts/user-data.sh exactly; after editing
the script, regenerate the YAML from the top of the source tree with:
{ sed '/^    content: |$/q' scripts/user-data.yaml; sed 's/^./      &/' scripts/user-data.sh;
  sed -n '/^runcmd:/,$p' scripts/user-data.yaml; } >ud.yaml && mv ud.yaml scripts/user-data.yaml"""

APT_UPDATE = "apt-get -o DPkg::Lock::Timeout=600 update -q"
PACKAGE_URL = "https://downloads.example.com/asg-agent_1.0_amd64.deb"


def set_lines(text, package, site="example", apt_source=""):
    """The three marked lines, as a user edits them."""
    for var, value in (("ASG_AGENT_PACKAGE", package), ("ASG_AGENT_SITE", site),
                       ("ASG_AGENT_APT_SOURCE", apt_source)):
        text, n = re.subn(r"^%s='[^']*'" % var, "%s='%s'" % (var, value), text, flags=re.M)
        assert n == 1, var
    return text


class Sandbox:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="asg-user-data-")
        self.root = os.path.join(self.dir, "root")
        self.bin = os.path.join(self.dir, "bin")
        self.fixtures = os.path.join(self.dir, "fixtures")
        self.calls = os.path.join(self.dir, "calls.log")
        for d in (self.root, self.bin, self.fixtures):
            os.makedirs(d)
        # What a Debian system already has.
        os.makedirs(os.path.join(self.root, "etc/apt/sources.list.d"))
        for tool in REAL_TOOLS:
            os.symlink(shutil.which(tool, path="/usr/bin:/bin"), os.path.join(self.bin, tool))
        self.set_fakes(FAKES)
        shutil.copytree(EXAMPLE_SITE, os.path.join(self.fixtures, "example-site"))
        self.make_site("s3-site", {"index.html": "<h1>from s3</h1>\n", "a/b.css": "b{}\n"})
        tar_src = self.make_site("tar-site", {"index.html": "<h1>from a tarball</h1>\n",
                                              "img/x.txt": "x\n"})
        with tarfile.open(os.path.join(self.fixtures, "site.tar.gz"), "w:gz") as t:
            for name in sorted(os.listdir(tar_src)):
                t.add(os.path.join(tar_src, name), arcname=name)
        self.make_site("s3-site-broken", {"no-index.html": "oops\n"})

    def set_fakes(self, fakes):
        for name, body in fakes.items():
            path = os.path.join(self.bin, name)
            if body is None:
                os.unlink(path)
                continue
            with open(path, "w") as f:
                f.write(FAKE_PROLOGUE + body)
            os.chmod(path, 0o755)

    def make_site(self, name, files):
        base = os.path.join(self.fixtures, name)
        for rel, content in files.items():
            os.makedirs(os.path.dirname(os.path.join(base, rel)), exist_ok=True)
            with open(os.path.join(base, rel), "w") as f:
                f.write(content)
        return base

    def run(self, script_text, **env):
        path = os.path.join(self.dir, "user-data.sh")
        with open(path, "w") as f:
            f.write(script_text)
        if os.path.exists(self.calls):
            os.unlink(self.calls)
        e = {"PATH": self.bin, "ASG_AGENT_DESTDIR": self.root, "CALLS": self.calls,
             "FIXTURES": self.fixtures, "LANG": "C"}
        e.update(env)
        r = subprocess.run([os.path.join(self.bin, "bash"), path], env=e, capture_output=True,
                           text=True, timeout=60)
        calls = []
        if os.path.exists(self.calls):
            with open(self.calls) as f:
                calls = f.read().splitlines()
        return r.returncode, calls, r.stdout + r.stderr

    def snapshot(self):
        """Every file under the sandbox root: path -> (mode, content)."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                rel = os.path.relpath(p, self.root)
                st = os.lstat(p)
                content = None
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        content = f.read()
                out[rel] = (stat.S_IMODE(st.st_mode), stat.S_IFMT(st.st_mode), content)
        return out

    def read(self, rel):
        with open(os.path.join(self.root, rel)) as f:
            return f.read()

    def close(self):
        shutil.rmtree(self.dir)


class ShellScript(unittest.TestCase):
    def setUp(self):
        self.box = Sandbox()
        with open(SCRIPT) as f:
            self.text = f.read()

    def tearDown(self):
        self.box.close()

    def unit_calls(self):
        return ["asg-health --check-config --config %s/etc/asg-agent/health.json" % self.box.root,
                "systemctl enable --now asg-health.socket asg-agent.service",
                "systemctl try-restart asg-health.service",
                "systemctl restart asg-agent.service"]

    def apt_install(self, *what):
        return ("apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends -o "
                "Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold " +
                " ".join(what))

    def test_https_package_and_tarball_site_twice(self):
        text = set_lines(self.text, PACKAGE_URL, "https://downloads.example.com/site.tar.gz")
        rc, calls, out = self.box.run(text)
        self.assertEqual(rc, 0, out)
        deb = "%s/var/cache/asg-agent-deploy/asg-agent.deb" % self.box.root
        self.assertEqual(calls, [
            "curl -fsSL --retry 5 --retry-connrefused -o %s.part %s" % (deb, PACKAGE_URL),
            APT_UPDATE,
            self.apt_install(deb),
            "curl -fsSL --retry 5 --retry-connrefused -o %s/var/cache/asg-agent-deploy/"
            "site.tar.gz.part https://downloads.example.com/site.tar.gz" % self.box.root,
        ] + self.unit_calls())
        first = self.box.snapshot()
        self.assertEqual(self.box.read("var/www/asg-agent/index.html"),
                         "<h1>from a tarball</h1>\n")
        self.assertEqual(self.box.read("var/www/asg-agent/img/x.txt"), "x\n")
        self.check_config_files()
        leftovers = [p for p in first if p.endswith((".new", ".old", ".part", ".tmp"))]
        self.assertEqual(leftovers, [])

        rc, calls2, out = self.box.run(text)
        self.assertEqual(rc, 0, out)
        self.assertEqual(calls2, calls)
        self.assertEqual(self.box.snapshot(), first)

    def check_config_files(self):
        health = json.loads(self.box.read("etc/asg-agent/health.json"))
        self.assertEqual(health["root"], "/var/www/asg-agent")
        self.assertEqual(health["lb_unhealthy_threshold"], 2)  # the target group's
        self.assertEqual({c["type"] for c in health["checks"]}, {"disk", "memory", "file"})
        agent = json.loads(self.box.read("etc/asg-agent/agent.json"))
        self.assertEqual(agent, {"namespace": "ASGAgent", "metric_name": "CPUUtilization",
                                 "period": 60})
        for rel in ("etc/asg-agent/health.json", "etc/asg-agent/agent.json"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.box.root, rel)).st_mode),
                             0o644)

    def test_s3_package_and_site_twice(self):
        text = set_lines(self.text, "s3://bucket/pkg/asg-agent.deb", "s3://bucket/site")
        rc, calls, out = self.box.run(text)
        self.assertEqual(rc, 0, out)
        deb = "%s/var/cache/asg-agent-deploy/asg-agent.deb" % self.box.root
        self.assertEqual(calls, [
            "aws s3 cp --only-show-errors s3://bucket/pkg/asg-agent.deb %s.part" % deb,
            APT_UPDATE,
            self.apt_install(deb),
            "aws s3 sync --only-show-errors --delete s3://bucket/site/ %s/var/www/asg-agent.new/"
            % self.box.root,
        ] + self.unit_calls())
        self.assertEqual(self.box.read("var/www/asg-agent/a/b.css"), "b{}\n")
        first = self.box.snapshot()
        rc, calls2, out = self.box.run(text)
        self.assertEqual((rc, calls2), (0, calls), out)
        self.assertEqual(self.box.snapshot(), first)

    def test_installs_the_aws_cli_when_missing(self):
        self.box.set_fakes({"aws": None})
        text = set_lines(self.text, "s3://bucket/pkg/asg-agent.deb")
        rc, calls, out = self.box.run(text)
        self.assertNotEqual(rc, 0)  # the fake apt-get does not provide it
        self.assertEqual(calls[:2], [APT_UPDATE, self.apt_install("awscli")])

    def test_apt_repository_and_example_site_twice(self):
        line = "deb [signed-by=/usr/share/keyrings/asg.gpg] https://repo.example.com/debian " \
               "bookworm main"
        text = set_lines(self.text, "apt", "example", line)
        rc, calls, out = self.box.run(text)
        self.assertEqual(rc, 0, out)
        self.assertEqual(calls, [APT_UPDATE, self.apt_install("asg-agent")] + self.unit_calls())
        self.assertEqual(self.box.read("etc/apt/sources.list.d/asg-agent.list"), line + "\n")
        with open(os.path.join(EXAMPLE_SITE, "index.html")) as f:
            self.assertEqual(self.box.read("var/www/asg-agent/index.html"), f.read())
        first = self.box.snapshot()
        rc, calls2, out = self.box.run(text)
        self.assertEqual((rc, calls2), (0, calls), out)
        self.assertEqual(self.box.snapshot(), first)

    def test_apt_without_a_source_line(self):
        rc, calls, out = self.box.run(set_lines(self.text, "apt"))
        self.assertNotEqual(rc, 0)
        self.assertIn("EDIT 3/3", out)
        self.assertEqual(calls, [])

    def test_unedited_placeholder_does_nothing(self):
        before = self.box.snapshot()
        rc, calls, out = self.box.run(self.text)
        self.assertEqual(rc, 1)
        self.assertIn("EDIT 1/3", out)
        self.assertEqual(calls, [])
        self.assertEqual(self.box.snapshot(), before)

    def test_a_broken_site_keeps_the_old_one(self):
        rc, _, out = self.box.run(set_lines(self.text, PACKAGE_URL, "s3://bucket/site/"))
        self.assertEqual(rc, 0, out)
        before = self.box.snapshot()
        rc, calls, out = self.box.run(set_lines(self.text, PACKAGE_URL, "s3://bucket/site/"),
                                      SYNC_SITE="s3-site-broken")
        self.assertNotEqual(rc, 0)
        self.assertIn("no index.html", out)
        self.assertFalse([c for c in calls if c.startswith("systemctl")])
        after = self.box.snapshot()
        for rel in [p for p in before if p.startswith("var/www/asg-agent/")]:
            self.assertEqual(after[rel], before[rel], rel)

    def test_a_failed_download_leaves_no_file(self):
        rc, calls, out = self.box.run(set_lines(self.text, PACKAGE_URL), FAIL_CURL="1")
        self.assertNotEqual(rc, 0)
        self.assertEqual(len(calls), 1)  # curl only: no install, no units
        self.assertFalse(os.path.exists(os.path.join(
            self.box.root, "var/cache/asg-agent-deploy/asg-agent.deb")))

    def test_a_config_asg_health_refuses_starts_nothing(self):
        rc, calls, out = self.box.run(set_lines(self.text, PACKAGE_URL), FAIL_CHECK_CONFIG="1")
        self.assertNotEqual(rc, 0)
        self.assertIn("refuses", out)
        self.assertFalse([c for c in calls if c.startswith("systemctl")])

    def test_metric_period_as_provision_renders_it(self):
        # scripts/provision --metric-period 30 sets ASG_AGENT_PERIOD; the
        # agent's period follows the policy's.
        import sys
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from stubbed_aws import load_provision
        provision = load_provision()
        text = provision.render_user_data(provision.Settings(
            user_data_path=SCRIPT, package=PACKAGE_URL, metric_period=30))
        rc, calls, out = self.box.run(text)
        self.assertEqual(rc, 0, out)
        self.assertEqual(json.loads(self.box.read("etc/asg-agent/agent.json"))["period"], 30)
        # A value the agent would refuse stops the script before anything.
        rc, calls, out = self.box.run(text.replace("ASG_AGENT_PERIOD='30'",
                                                   "ASG_AGENT_PERIOD='20'"))
        self.assertNotEqual(rc, 0)
        self.assertIn("ASG_AGENT_PERIOD must be 10, 30 or 60", out)
        self.assertEqual(calls, [])

    def test_syntax_and_shellcheck(self):
        r = subprocess.run(["bash", "-n", SCRIPT], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        if not shutil.which("shellcheck"):
            self.skipTest("shellcheck not installed (scripts/deps test installs it)")
        r = subprocess.run(["shellcheck", "-s", "bash", SCRIPT], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_three_marked_lines_at_the_top(self):
        head = self.text.split("\n")[:20]
        for n, var in enumerate(("ASG_AGENT_PACKAGE", "ASG_AGENT_SITE", "ASG_AGENT_APT_SOURCE"),
                                1):
            lines = [line for line in self.text.split("\n") if line.startswith(var + "=")]
            self.assertEqual(len(lines), 1, var)
            self.assertIn(lines[0], head)
            self.assertIn("# EDIT %d/3" % n, lines[0])
        self.assertTrue(self.text.startswith("#!/bin/bash\n"))


class CloudConfig(unittest.TestCase):
    def setUp(self):
        with open(CLOUD_CONFIG) as f:
            self.text = f.read()
        self.tmp = tempfile.mkdtemp(prefix="asg-cloud-config-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def schema(self, text):
        path = os.path.join(self.tmp, "user-data.yaml")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run(["cloud-init", "schema", "--config-file", path],
                              capture_output=True, text=True, timeout=120)

    def test_schema_valid(self):
        if not shutil.which("cloud-init"):
            self.fail("cloud-init not installed (scripts/deps test installs it)")
        r = self.schema(self.text)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Valid cloud-config", r.stdout)

    def test_schema_rejects_broken_copies(self):
        if not shutil.which("cloud-init"):
            self.fail("cloud-init not installed (scripts/deps test installs it)")
        broken = {
            "runcmd not a list": self.text.replace("runcmd:\n  - [", "runcmd: 42\nx:\n  - ["),
            "owner not a string": self.text.replace("owner: root:root", "owner: [root]"),
            "no #cloud-config": self.text.replace("#cloud-config", "#cloud-cfg", 1),
        }
        for what, text in broken.items():
            self.assertNotEqual(text, self.text, what)
            r = self.schema(text)
            self.assertNotEqual(r.returncode, 0, what)

    def test_carries_the_shell_script_exactly(self):
        doc = yaml.safe_load(self.text)
        files = {f["path"]: f for f in doc["write_files"]}
        deploy = files["/usr/local/sbin/asg-agent-deploy"]
        with open(SCRIPT) as f:
            self.assertEqual(deploy["content"], f.read(), REGENERATE)
        self.assertEqual(deploy["permissions"], "0755")
        self.assertEqual(doc["runcmd"], [["/usr/local/sbin/asg-agent-deploy"]])

    def test_fits_in_ec2_user_data(self):
        self.assertLessEqual(len(self.text.encode()), 16384)
        with open(SCRIPT, "rb") as f:
            self.assertLessEqual(len(f.read()), 16384)


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
