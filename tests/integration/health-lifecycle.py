"""Process lifecycle: SIGTERM finishes an in-flight slow download and
exits 0; SIGHUP applies a good config and keeps the old one (serving on)
when the new one is bad; --check-config, --version and exit codes."""

import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import unittest

from asgtest import HEALTH_BIN, Health, write, wait_for


class LifecycleTest(unittest.TestCase):
    def test_sigterm_finishes_in_flight_download(self):
        with Health(config={"shutdown_timeout": "20s"}, start=False) as h:
            data = os.urandom(8 * 1024 * 1024)
            write(os.path.join(h.root, "big.bin"), data)
            h.start()
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            s.connect((h.host, h.port))
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            got = s.recv(8192)
            wait_for(lambda: h.status()["in_flight"] >= 1, what="the download in flight")
            h.signal(signal.SIGTERM)
            time.sleep(0.3)
            self.assertIsNone(h.proc.poll(), "exited with a download in flight")
            # new connections are no longer accepted
            with self.assertRaises(OSError):
                c = socket.create_connection((h.host, h.port), timeout=1)
                c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                if not c.recv(100):
                    raise ConnectionResetError("closed")
            # read the rest slowly-ish
            s.settimeout(10)
            chunks = [got]
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
                time.sleep(0.001)
            s.close()
            answer = b"".join(chunks)
            head, _, body = answer.partition(b"\r\n\r\n")
            self.assertIn(b"200 OK", head)
            self.assertEqual(len(body), len(data))
            self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(data).digest())
            self.assertEqual(h.proc.wait(10), 0)
            self.assertIn("all requests finished", h.logs())

    def test_sighup_reload_good_and_bad(self):
        with Health(start=False) as h:
            write(os.path.join(h.root, "index.html"), b"one\n")
            h.start()
            self.assertEqual(h.get("/health").status, 200)
            # good: move the health path
            h.write_config({"health_path": "/healthz"})
            h.signal(signal.SIGHUP)
            wait_for(lambda: h.get("/healthz").status == 200, what="the new health path")
            self.assertIn("configuration reloaded", h.logs())
            # bad: unknown key; the old config stays and the site serves on
            with open(h.config_path, "w") as f:
                f.write('{\n  "root": "%s",\n  "helth_path": "/x"\n}\n' % h.root)
            h.signal(signal.SIGHUP)
            wait_for(lambda: "reload failed" in h.logs(), what="the reload error")
            self.assertIn("health.json:3:3: helth_path: unknown key", h.logs())
            self.assertEqual(h.get("/healthz").status, 200)
            self.assertEqual(h.get("/index.html").body, b"one\n")
            # bad: a root that does not exist
            with open(h.config_path, "w") as f:
                json.dump({"root": "/nonexistent/root", "listen": ["%s:%d" % (h.host, h.port)],
                           "control_socket": h.control}, f)
            h.signal(signal.SIGHUP)
            wait_for(lambda: "cannot open the site root /nonexistent/root" in h.logs(),
                     what="the root error")
            self.assertEqual(h.get("/index.html").body, b"one\n")
            self.assertIsNone(h.proc.poll())

    def test_check_config(self):
        with Health(start=False) as h:
            r = subprocess.run([HEALTH_BIN, "--config", h.config_path, "--check-config"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            eff = json.loads(r.stdout)
            self.assertEqual(eff["root"], h.root)
            self.assertEqual(eff["health_path"], "/health")
            with open(h.config_path, "w") as f:
                f.write('{"root": "/srv", "threads": "many"}')
            r = subprocess.run([HEALTH_BIN, "--config", h.config_path, "--check-config"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("health.json:1:18: threads: expected an integer", r.stderr)
            r = subprocess.run([HEALTH_BIN, "--config", "/nonexistent.json", "--check-config"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("/nonexistent.json: cannot read", r.stderr)

    def test_first_probe_gets_the_checks_verdict(self):
        # A check that takes 300 ms: the first /health must already carry
        # its result, not a 503 for "not known yet".
        with Health(config={"checks": [
                {"name": "slow", "type": "exec", "command": ["/bin/sh", "-c", "sleep 0.3"],
                 "interval": "5s", "timeout": "2s"}]}, start=False) as h:
            write(os.path.join(h.root, "index.html"), b"x\n")
            h.start()
            r = h.get("/health")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json(), {"status": "healthy", "failing": []})

    def test_flags_override_config(self):
        with Health(start=False) as h:
            other = os.path.join(h.tmp, "other")
            write(os.path.join(other, "index.html"), b"other root\n")
            h.extra_args = ["--root", other]
            h.start()
            self.assertEqual(h.get("/").body, b"other root\n")

    def test_version_help_usage(self):
        r = subprocess.run([HEALTH_BIN, "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^asg-health \d+\.\d+\.\d+")
        r = subprocess.run([HEALTH_BIN, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--check-config", r.stdout)
        r = subprocess.run([HEALTH_BIN, "--bogus"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)

    def test_port_in_use_is_a_clear_error(self):
        with Health() as h:
            r = subprocess.run([HEALTH_BIN, "--config", h.config_path, "--control", ""],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot listen on %s:%d" % (h.host, h.port), r.stderr)
            self.assertIn("another server holds the port", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
