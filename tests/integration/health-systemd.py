"""systemd integration without systemd as PID 1: socket activation
through systemd-socket-activate (the listening socket and the control
socket both passed in), and sd_notify READY=1, STATUS=, WATCHDOG=1 and
STOPPING=1 received on a test NOTIFY_SOCKET."""

import os
import shutil
import signal
import socket
import subprocess
import time
import unittest

from asgtest import HEALTH_BIN, Health, NotifySocket, free_port, unix_request, wait_for, write


@unittest.skipUnless(shutil.which("systemd-socket-activate"), "systemd-socket-activate missing")
class SystemdTest(unittest.TestCase):
    def test_socket_activation_with_control_socket(self):
        with Health(start=False) as h:
            write(os.path.join(h.root, "index.html"), b"activated\n")
            port = free_port()
            log = open(h.log_path, "ab")
            env = dict(os.environ)
            p = subprocess.Popen(["systemd-socket-activate", "-l", "127.0.0.1:%d" % port,
                                  "-l", h.control, HEALTH_BIN, "--config", h.config_path],
                                 stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                def get():
                    try:
                        c = socket.create_connection(("127.0.0.1", port), timeout=2)
                    except OSError:
                        return None
                    c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    while True:
                        b = c.recv(4096)
                        if not b:
                            break
                        data += b
                    c.close()
                    return data
                answer = wait_for(get, what="the activated server")
                self.assertIn(b"200 OK", answer)
                self.assertTrue(answer.endswith(b"activated\n"))
                # "listen" from the config was not used: its port stays free
                with socket.socket() as s:
                    s.bind((h.host, h.port))
                # the control socket came from systemd too
                self.assertEqual(unix_request(h.control, "GET", "/status")[0], 200)
                with open(h.log_path) as f:
                    self.assertIn("socket activation: 1 HTTP socket(s) and the control socket",
                                  f.read())
            finally:
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(10), 0)
                log.close()

    def test_notify_ready_status_watchdog_stopping(self):
        with Health(start=False) as h:
            n = NotifySocket(os.path.join(h.tmp, "notify.sock"))
            try:
                h.env = {"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "400000"}
                # Health.start removes an inherited NOTIFY_SOCKET; ours is
                # set through h.env afterwards.
                h.start()
                self.assertTrue(n.wait_for("READY=1"), n.drain())
                self.assertTrue(n.wait_for("STATUS=healthy"), n.drain())
                self.assertTrue(n.wait_for("WATCHDOG=1"), n.drain())
                pings = sum(m.count("WATCHDOG=1") for m in n.drain())
                time.sleep(1.0)
                self.assertGreater(sum(m.count("WATCHDOG=1") for m in n.drain()), pings + 1,
                                   "watchdog pings should come every WATCHDOG_USEC/2")
                h.signal(signal.SIGTERM)
                self.assertTrue(n.wait_for("STOPPING=1"), n.drain())
                self.assertEqual(h.proc.wait(10), 0)
            finally:
                n.close()

    def test_no_ready_without_notify_socket(self):
        # Without NOTIFY_SOCKET nothing is sent and nothing breaks.
        with Health() as h:
            self.assertEqual(h.get("/health").status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
