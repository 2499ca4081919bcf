"""The access log in the journal (access_log: "journal", issue 12 section
1): every line an entry with identifier asg-health-access and structured
fields, sent by the writer thread with sd_journal_send.

There is no systemd as PID 1 here, but journald runs without it: the test
re-runs itself in a mount namespace of its own (unshare --mount) with
tmpfs over /run/systemd, /run/log and /var/log/journal, starts a private
systemd-journald there (it creates /run/systemd/journal/socket, where
libsystemd sends), and reads the entries back with journalctl -D.  Nothing
of the machine's own journal is touched.  Skips without root, unshare or
systemd-journald.  (tests/package/in-container.sh checks the same under a
booted systemd.)"""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest

from asgtest import Health, wait_for

JOURNALD = "/lib/systemd/systemd-journald"
INSIDE = "ASG_TEST_IN_MOUNT_NS"


def reexec_in_namespace():
    if os.environ.get(INSIDE):
        return
    if os.geteuid() != 0 or not shutil.which("unshare") or not os.access(JOURNALD, os.X_OK) \
            or not shutil.which("journalctl"):
        print("SKIP: needs root, unshare (util-linux) and systemd-journald (systemd)")
        sys.exit(77)
    env = dict(os.environ, **{INSIDE: "1"})
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                        os.path.abspath(__file__)] + sys.argv[1:], env=env)
    sys.exit(r.returncode)


def entries():
    r = subprocess.run(["journalctl", "-D", "/run/log/journal", "-t", "asg-health-access",
                        "-o", "json", "--no-pager"], capture_output=True, text=True)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


class JournalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for d in ("/run/systemd", "/run/log", "/var/log/journal"):
            os.makedirs(d, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
        os.makedirs("/run/systemd/journal")
        cls.journald = subprocess.Popen([JOURNALD], env=dict(os.environ,
                                                             SYSTEMD_LOG_LEVEL="warning"))
        wait_for(lambda: os.path.exists("/run/systemd/journal/socket"), what="journald")

    @classmethod
    def tearDownClass(cls):
        cls.journald.terminate()
        cls.journald.wait(10)

    def test_entries_with_fields(self):
        with Health(config={"access_log": "journal", "trusted_proxies": ["130.176.0.0/16"]}) as h:
            h.get("/journal-a?x=1", {"X-Forwarded-For": "6.6.6.6, 203.0.113.9, 130.176.1.1",
                                     "User-Agent": "ua\"x", "Referer": "https://r.example/",
                                     "X-Amzn-Trace-Id": "Root=1-abc"})
            h.request("HEAD", "/journal-b")
            h.get("/health", {"User-Agent": "ELB-HealthChecker/2.0"})  # a probe: not logged
            got = wait_for(lambda: [e for e in entries() if e.get("URL") == "/journal-b"]
                           and entries(), what="the entries in the journal")
            self.assertEqual(h.status()["access_log"]["destination"], "journal")
        a = [e for e in got if e.get("URL") == "/journal-a?x=1"][0]
        self.assertEqual((a["CLIENT"], a["PEER"], a["METHOD"], a["PROTOCOL"], a["STATUS"]),
                         ("203.0.113.9", "127.0.0.1", "GET", "HTTP/1.1", "404"))
        self.assertEqual((a["USER_AGENT"], a["REFERER"], a["TRACE_ID"]),
                         ("ua\\x22x", "https://r.example/", "Root=1-abc"))
        self.assertRegex(a["REQUEST_TIME"], r"^\d+\.\d{3}$")
        self.assertTrue(a["MESSAGE"].startswith('203.0.113.9 - - ['), a["MESSAGE"])
        self.assertIn('"GET /journal-a?x=1 HTTP/1.1" 404 ', a["MESSAGE"])
        self.assertEqual(a["PRIORITY"], "6")
        b = [e for e in got if e.get("URL") == "/journal-b"][0]
        self.assertEqual((b["METHOD"], b["BYTES"], b["REFERER"]), ("HEAD", "0", "-"))
        self.assertFalse([e for e in got if e.get("URL") == "/health"])
        self.assertTrue(all(e["_COMM"].startswith("asg-health") for e in got))


if __name__ == "__main__":
    reexec_in_namespace()
    unittest.main(verbosity=2)
