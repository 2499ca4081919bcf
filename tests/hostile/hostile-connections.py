"""Hostile clients that attack with connections (issue 9 section 3):
slowloris at the default max_connections, slow readers that never read
their responses, thousands of idle connections, clients that vanish in
the middle of a download (descriptor exhaustion: hostile-descriptors.py).  A reload (SIGHUP)
and a site rewrite run all the while; during each attack a normal client
still gets complete pages, /health answers, descriptors and memory stay
within bounds set by the daemon's limits, and at the end SIGTERM exits 0
with no sanitizer report."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hostilelib import (ANSWER_TIMEOUT, MEASURE_ROUNDS, HostileCase, close_all,  # noqa: E402
                        closed_by_peer, connect_many, etag_of, http_get, raise_nofile, scaled,
                        wait_for)


class ConnectionAttacks(HostileCase, unittest.TestCase):
    def test_baseline_without_attack(self):
        """The watcher alone (with the reload and rewrite churn): the
        reference the attacks' figures are read against."""
        self.begin()
        self.wait_rounds(3)
        self.finish("baseline (no attack, churn only)", 0)

    def test_slowloris_at_default_max_connections(self):
        """max_connections (default 4096) connections that each drip a
        header line a second.  The prober and a normal client must get in
        although the table is full: the daemon closes the connection that
        has waited longest for its head to admit each of them (an
        eviction), not only at the head deadline; every connection the
        daemon drops is reopened, as an attacker would (bounded)."""
        self.begin()
        n = self.limits["max_connections"]
        self.assertEqual(n, 4096, "the test is about the default max_connections")
        self.assertGreaterEqual(raise_nofile(n + 512), n + 256, "not enough descriptors here")
        deadline = time.monotonic() + 120
        socks = connect_many(self.d.host, self.d.port, n, deadline)
        reopened = dropped = 0
        started = set()
        try:
            wait_for(lambda: self.connections() >= n - 4, timeout=30, interval=0.1,
                     what="the daemon to hold max_connections connections")
            t_full = time.monotonic()
            evictions0 = self.d.status()["connection_counters"]["evictions"]
            h0 = len(self.w.snapshot()["health_ms"])
            p0 = self.w.snapshot()["pages"]
            last_drip = 0.0
            # Drip until the watcher has got through twice since the daemon
            # was full; bounded in time (and by the reconnection budget).
            while time.monotonic() < deadline:
                snap = self.w.snapshot()
                rounds = max(2, MEASURE_ROUNDS)
                if (len(snap["health_ms"]) >= h0 + rounds and snap["pages"] >= p0 + rounds
                        and self.d.status()["connection_counters"]["evictions"] > evictions0):
                    break
                if time.monotonic() - last_drip >= 1.0:
                    last_drip = time.monotonic()
                    for i, s in enumerate(socks):
                        if closed_by_peer(s):
                            dropped += 1
                            s.close()
                            socks[i] = connect_many(self.d.host, self.d.port, 1, deadline)[0]
                            reopened += 1
                            continue
                        try:
                            s.send(b"X-Drip: %d\r\n" % i if s in started else
                                   b"GET / HTTP/1.1\r\nHost: x\r\n")
                            started.add(s)
                        except OSError:
                            pass  # not connected yet, or closed: seen on the next round
                time.sleep(0.05)
            held = time.monotonic() - t_full
            # The watcher may get in the moment the head deadline frees the
            # slots, before the next drip round notices: count the drops.
            wait_for(lambda: sum(1 for x in socks if closed_by_peer(x)) > 0, timeout=ANSWER_TIMEOUT,
                     what="the daemon to close a dripping connection")
            dropped += sum(1 for x in socks if closed_by_peer(x))
            evictions = self.d.status()["connection_counters"]["evictions"] - evictions0
        finally:
            close_all(socks)
        self.finish("slowloris", n, {"connections": n, "dropped_by_daemon": dropped,
                                     "reopened": reopened, "held_s": round(held, 1),
                                     "evictions": evictions})
        self.assertGreater(dropped, 0, "the daemon never dropped a dripping connection")
        # The watcher's connections came in by evicting attackers (not only
        # when the head deadline freed slots: health-head.py's FullTableTest
        # shows that without any deadline).
        self.assertGreater(evictions, 0, "nobody was admitted by an eviction")

    def test_slow_readers_never_read(self):
        """Connections that ask for the large (sendfile) file and for many
        pipelined small ones and never read a byte of the answers."""
        self.begin()
        n = scaled(64, 16)
        deadline = time.monotonic() + 60
        big = b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 4
        small = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n" * 200
        socks = connect_many(self.d.host, self.d.port, 2 * n, deadline, rcvbuf=4096)
        sent = 0
        try:
            for i, s in enumerate(socks):
                data = big if i % 2 else small
                s.setblocking(True)
                s.settimeout(ANSWER_TIMEOUT)
                try:
                    s.sendall(data)
                    sent += 1
                except socket.timeout:
                    pass  # the daemon stopped reading: that is allowed
            wait_for(lambda: self.connections() >= len(socks), timeout=30, interval=0.1,
                     what="the slow readers to be connected")
            self.wait_rounds(3)
        finally:
            close_all(socks)
        self.finish("slow readers", len(socks), {"connections": len(socks), "sent": sent})

    def test_thousands_of_idle_connections(self):
        """Thousands of connections that never send anything (below
        max_connections: the daemon must keep serving everyone else)."""
        self.begin()
        n = 3000
        self.assertGreaterEqual(raise_nofile(n + 512), n + 256, "not enough descriptors here")
        deadline = time.monotonic() + 60
        socks = connect_many(self.d.host, self.d.port, n, deadline)
        try:
            wait_for(lambda: self.connections() >= n, timeout=30, interval=0.1,
                     what="%d idle connections to be accepted" % n)
            self.wait_rounds(3)
            # The control socket (the agent's drain) still answers: its
            # connection's descriptor is now far above FD_SETSIZE.
            for _ in range(5):
                self.assertEqual(self.d.control_request("GET", "/status")[0], 200)
        finally:
            close_all(socks)
        self.finish("idle connections", n, {"connections": n})

    def test_clients_vanishing_mid_download(self):
        """Downloads (whole files and ranges, sendfile and cached) cut off
        after a few bytes, half with a RST; no descriptor may stay behind."""
        self.begin()
        n = scaled(300, 60)
        deadline = time.monotonic() + 60
        done = 0
        # Connection: close on the last request, so that a download shorter
        # than the bytes the client means to read ends with the server's close.
        requests = [b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-\r\nConnection: close\r\n\r\n",
                    b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n" * 49
                    + b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]
        for i in range(n):
            if time.monotonic() > deadline:
                break
            s = socket.create_connection((self.d.host, self.d.port), timeout=ANSWER_TIMEOUT)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            s.sendall(requests[i % len(requests)])
            got = 0
            while got < 1 + (i * 7919) % 8192:
                b = s.recv(8192)
                if not b:
                    break
                got += len(b)
            close_all([s], reset_every=1 if i % 2 else 0)
            done += 1
        self.wait_rounds(2)
        self.finish("vanishing downloads", 16, {"downloads_cut": done})
        self.assertEqual(done, n)

    def test_large_file_served_right_after_a_rewrite(self):
        """A deploy renames a new large (sendfile) file over the old one;
        the very next request gets the new file, not a 503 until the
        cache's next revalidation.  (The churn's own rewrites are paused:
        the claim is about the request after a rewrite.)"""
        self.begin()
        self.churn.pause()
        try:
            for _ in range(20):
                v = self.site.rewrite()
                st, headers, body = http_get(self.d.host, self.d.port, self.site.BIG)
                self.assertEqual(st, 200, "GET %s right after rewrite %d" % (self.site.BIG, v))
                self.assertEqual(body, self.site.content(self.site.BIG, v))
                self.assertEqual(headers.get("etag"), etag_of(body))
        finally:
            self.churn.resume()
        self.wait_rounds(1)
        self.finish("large file rewritten", 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
