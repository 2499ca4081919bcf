"""SIGTERM with downloads in flight (issue 9, section 1, item 14): the
daemon once aborted in libmicrohttpd's MHD_quiesce_daemon, which races its
own epoll worker threads.  An LD_PRELOAD shim widens that race (see
health-shutdown-shim.c) so that, with quiesce, most iterations abort; the
daemon must exit 0 every time.  Also: connections that arrive while it
stops wait in the backlog instead of being refused."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from asgtest import TOP_SRCDIR, Health, write

ITERATIONS = 10
SHIM_SRC = os.path.join(TOP_SRCDIR, "tests", "integration", "health-shutdown-shim.c")


def build_shim(tmp):
    out = os.path.join(tmp, "epoll-delay.so")
    cc = os.environ.get("CC_FOR_SHIM", "cc")
    # No sanitizer flags: the shim only wraps one libc call.
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", out, SHIM_SRC, "-ldl"], check=True)
    return out


class Reader(threading.Thread):
    """Reads a download at about 10 MB/s until told to stop or the server
    closes: slow enough to stay in flight, fast enough to keep the server's
    worker thread waking up."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.stop = threading.Event()

    def run(self):
        self.sock.settimeout(0.5)
        while not self.stop.is_set():
            try:
                if not self.sock.recv(65536):
                    return
            except OSError:
                return
            time.sleep(0.005)


class ShutdownTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="asg-health-shutdown.")
        cls.shim = build_shim(cls.tmp)
        cls.big = os.urandom(1 << 20) * 16

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, config):
        env = {"LD_PRELOAD": self.shim}
        if os.environ.get("ASAN_OPTIONS") is not None or "asan" in os.environ.get("top_builddir", ""):
            env["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                   ":verify_asan_link_order=0").lstrip(":")
        h = Health(config=config, env=env, start=False)
        write(h.root + "/big.bin", self.big)
        return h.start()

    def test_sigterm_with_downloads_in_flight(self):
        failures = []
        for i in range(ITERATIONS):
            h = self.start({"threads": 2, "shutdown_timeout": "200ms"})
            readers = []
            try:
                for _ in range(4):
                    s = socket.create_connection((h.host, h.port))
                    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                    readers.append(Reader(s))
                for r in readers:
                    r.start()
                # the downloads are under way once the server counts them
                while h.status()["in_flight"] < 4:
                    time.sleep(0.01)
                h.signal(signal.SIGTERM)
                rc = h.proc.wait(30)
                if rc != 0 or "Fatal error" in h.logs():
                    failures.append((i, rc, h.logs()[-400:]))
            finally:
                for r in readers:
                    r.stop.set()
                    r.join()
                    r.sock.close()
                h.close()
        self.assertEqual(failures, [], "asg-health did not exit 0 on SIGTERM")

    def test_connections_during_stop_wait_in_backlog(self):
        h = self.start({"shutdown_timeout": "20s"})
        try:
            s = socket.create_connection((h.host, h.port))
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            s.recv(65536)  # a download in flight, read no further
            h.signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while "SIGTERM" not in h.logs() and time.monotonic() < deadline:
                time.sleep(0.01)
            # The listening socket is still open: the kernel completes the
            # handshake and the connection waits for the next process.
            late = socket.create_connection((h.host, h.port), timeout=5)
            late.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            late.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                late.recv(1)  # not served by the stopping process
            s.close()  # the in-flight download ends: the process exits
            self.assertEqual(h.proc.wait(30), 0)
            late.close()
        finally:
            h.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
