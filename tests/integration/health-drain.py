"""Drain through the control socket: /health turns 503 while pages are
still served with Connection: close; the status document reports
in-flight requests and counts the load balancer's probes per source until
the drain is confirmed; undrain restores it."""

import http.client
import os
import unittest

from asgtest import Health, write, wait_for, UnixHTTPConnection

ELB = {"User-Agent": "ELB-HealthChecker/2.0"}


def probe_from(h, source, extra=None):
    conn = http.client.HTTPConnection(h.host, h.port, timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", "/health", headers=dict(ELB, **(extra or {})))
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


class DrainTest(unittest.TestCase):
    def setUp(self):
        self.h = Health(config={"lb_unhealthy_threshold": 2}, start=False)
        write(os.path.join(self.h.root, "index.html"), b"page\n")
        self.h.start()

    def tearDown(self):
        self.h.close()

    def test_control_socket_mode(self):
        self.assertEqual(os.stat(self.h.control).st_mode & 0o777, 0o660)

    def test_drain_and_undrain(self):
        self.assertEqual(self.h.get("/health").status, 200)
        status, doc = self.h.control_request("POST", "/drain")
        self.assertEqual(status, 200)
        self.assertTrue(doc["draining"])
        r = self.h.get("/health")
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json()["status"], "draining")
        page = self.h.get("/index.html")
        self.assertEqual((page.status, page.body), (200, b"page\n"))
        self.assertEqual(page.header("connection"), "close")
        # keep-alive clients are moved off: the server closes after the reply
        conn = self.h.connection()
        self.h.get("/index.html", conn=conn)
        self.assertIsNone(conn.sock, "connection left open while draining")
        status, doc = self.h.control_request("POST", "/undrain")
        self.assertFalse(doc["draining"])
        self.assertEqual(self.h.get("/health").status, 200)
        self.assertIsNone(self.h.get("/index.html").header("connection"))

    def test_status_document(self):
        doc = self.h.status()
        for key in ("status", "draining", "in_flight", "connections", "checks", "load_balancer"):
            self.assertIn(key, doc)
        self.assertEqual(doc["status"], "healthy")
        self.assertEqual(self.h.control_request("GET", "/nope")[0], 404)
        self.assertEqual(self.h.control_request("GET", "/drain")[0], 405)

    def test_in_flight_counts_open_request(self):
        # a request whose headers are not complete is not in flight; one
        # whose response is blocked on a full socket is
        write(os.path.join(self.h.root, "big.bin"), os.urandom(16 * 1024 * 1024))
        import socket
        s = socket.create_connection((self.h.host, self.h.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            from asgtest import wait_for
            wait_for(lambda: self.h.status()["in_flight"] >= 1, timeout=5, what="in_flight 1")
        finally:
            s.close()
        from asgtest import wait_for
        wait_for(lambda: self.h.status()["in_flight"] == 0, timeout=5, what="in_flight 0")

    def test_drain_confirmed_by_probers(self):
        self.assertEqual(probe_from(self.h, "127.0.0.1"), 200)
        self.assertEqual(probe_from(self.h, "127.0.0.2"), 200)
        self.h.control_request("POST", "/drain")
        lb = self.h.status()["load_balancer"]
        self.assertEqual(lb["recent"], 2)
        self.assertFalse(lb["drain_confirmed"])
        self.assertEqual(probe_from(self.h, "127.0.0.1"), 503)
        self.assertEqual(probe_from(self.h, "127.0.0.1"), 503)
        self.assertEqual(probe_from(self.h, "127.0.0.2"), 503)
        self.assertFalse(self.h.status()["load_balancer"]["drain_confirmed"],
                         "one prober has seen only one 503")
        self.assertEqual(probe_from(self.h, "127.0.0.2"), 503)
        lb = self.h.status()["load_balancer"]
        self.assertTrue(lb["drain_confirmed"])
        by_addr = {p["address"]: p for p in lb["probers"]}
        self.assertEqual(by_addr["127.0.0.1"]["consecutive_503"], 2)
        # probes without the ELB user agent are not counted
        self.h.get("/health")
        self.assertEqual(len(self.h.status()["load_balancer"]["probers"]), 2)

    def test_forwarded_probes_do_not_count(self):
        # A client behind the ALB can send the ALB's User-Agent; the ALB
        # then adds X-Forwarded-For, which its own probes never carry.
        self.assertEqual(probe_from(self.h, "127.0.0.1"), 200)
        self.h.control_request("POST", "/drain")
        for _ in range(3):
            self.assertEqual(probe_from(self.h, "127.0.0.1",
                                        {"X-Forwarded-For": "203.0.113.7"}), 503)
            self.assertEqual(probe_from(self.h, "127.0.0.3",
                                        {"X-Forwarded-For": "203.0.113.7"}), 503)
        lb = self.h.status()["load_balancer"]
        self.assertFalse(lb["drain_confirmed"], "faked probes confirmed the drain")
        self.assertEqual([p["address"] for p in lb["probers"]], ["127.0.0.1"])
        self.assertEqual(lb["probers"][0]["consecutive_503"], 0)


class ProbeWindowTest(unittest.TestCase):
    """README: a prober not seen for lb_probe_window no longer counts."""

    def setUp(self):
        self.h = Health(config={"lb_unhealthy_threshold": 2, "lb_probe_window": "1s"})

    def tearDown(self):
        self.h.close()

    def test_silent_prober_expires(self):
        self.assertEqual(probe_from(self.h, "127.0.0.1"), 200)
        self.assertEqual(probe_from(self.h, "127.0.0.2"), 200)
        self.h.control_request("POST", "/drain")
        self.assertEqual(probe_from(self.h, "127.0.0.1"), 503)
        self.assertEqual(probe_from(self.h, "127.0.0.1"), 503)
        lb = self.h.status()["load_balancer"]
        if lb["recent"] == 2:  # .2 still inside the window: it blocks
            self.assertFalse(lb["drain_confirmed"])
        # .2 goes silent (its ALB node left) while .1 keeps probing; once
        # the window has passed .2 no longer counts and .1 alone confirms.
        def probe_and_look():
            self.assertEqual(probe_from(self.h, "127.0.0.1"), 503)
            lb = self.h.status()["load_balancer"]
            return lb if lb["recent"] == 1 else None
        lb = wait_for(probe_and_look, timeout=30, interval=0.1,
                      what="the silent prober to expire")
        self.assertTrue(lb["drain_confirmed"])
        by_addr = {p["address"]: p for p in lb["probers"]}
        self.assertGreater(by_addr["127.0.0.2"]["last_seen_ms_ago"], 1000)
        self.assertLessEqual(by_addr["127.0.0.1"]["last_seen_ms_ago"], 1000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
