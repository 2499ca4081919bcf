"""HAProxy from Debian stands in for the ALB: `option httpchk GET /health`
with the ELB-HealthChecker user agent and `http-check expect status 200`.
A critical check failing (a maintenance flag file) turns /health to 503
and HAProxy marks the server DOWN after its fall count; removing the flag
brings it UP after rise.  An informational check failing ejects nobody."""

import os
import shutil
import time
import unittest

from asgtest import Health, free_port, wait_for, write
from haproxy import HAProxy

INTER_MS = 300


@unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed")
class HAProxyTest(unittest.TestCase):
    def test_critical_check_ejects_and_restores(self):
        with Health(start=False) as h:
            flag = os.path.join(h.tmp, "maintenance")
            unreachable = free_port()
            h.write_config({"checks": [
                {"name": "maintenance", "type": "file", "path": flag, "must_exist": False,
                 "interval": "100ms", "timeout": "100ms", "rise": 2, "fall": 2},
                # a shared dependency that is down: informational, ejects nobody
                {"name": "shared-db", "type": "tcp", "host": "127.0.0.2", "port": unreachable,
                 "interval": "200ms", "timeout": "100ms", "critical": False},
            ]})
            write(os.path.join(h.root, "index.html"), b"up\n")
            h.start()
            ha = HAProxy(h.tmp, free_port(), [("i1", h.host, h.port, False)], INTER_MS)
            try:
                wait_for(lambda: ha.server_status("i1") == "UP", timeout=10, what="UP")
                self.assertEqual(h.get("/health").status, 200)
                verbose = h.control_request("GET", "/health")[1]
                self.assertEqual(verbose["checks"]["shared-db"]["state"], "fail")
                self.assertFalse(verbose["checks"]["shared-db"]["critical"])

                write(flag, b"")
                t0 = time.monotonic()
                wait_for(lambda: h.get("/health").status == 503, timeout=5, what="/health 503")
                r = h.get("/health").json()
                self.assertEqual(r["status"], "unhealthy")
                self.assertEqual(r["failing"], ["maintenance"])
                wait_for(lambda: ha.server_status("i1").startswith("DOWN"), timeout=10,
                         what="HAProxy to mark the server DOWN")
                down_after = time.monotonic() - t0
                # pages are still served directly while ejected
                self.assertEqual(h.get("/index.html").status, 200)

                os.unlink(flag)
                t0 = time.monotonic()
                wait_for(lambda: ha.server_status("i1") == "UP", timeout=10,
                         what="HAProxy to mark the server UP again")
                up_after = time.monotonic() - t0
                print("DOWN after %.2fs, UP after %.2fs (inter %dms, fall 2, rise 2)"
                      % (down_after, up_after, INTER_MS))
                # the prober was counted per source address
                probers = h.status()["load_balancer"]["probers"]
                self.assertEqual([p["address"] for p in probers], ["127.0.0.1"])
                self.assertGreater(probers[0]["probes"], 4)
            finally:
                ha.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
