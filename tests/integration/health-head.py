"""The request head against the real daemon (issue 9, section 1, items 7
and 8): a client dripping its head is cut at header_timeout, on the first
request and on a keep-alive one; an oversized head or URI gets 431 or 414
and a clean close, never a reset, at every size above the limit.  With
the connection table full of clients that have not finished a head, a new
connection (the load balancer's probe) is admitted by closing the one that
has waited longest, instead of waiting in the backlog for header_timeout."""

import socket
import time
import unittest

from asgtest import Health, wait_for, write

# How long a dripping client keeps going before the test calls it held:
# far above header_timeout (1 s here), so a slow machine cannot fail it.
HOLD_CEILING = 30.0


def drip_until_closed(sock, ceiling=HOLD_CEILING):
    """Sends a header line every 0.2 s until the server closes the
    connection; returns the seconds it took, or None if it never did."""
    t0 = time.monotonic()
    sock.settimeout(0.2)
    n = 0
    while time.monotonic() - t0 < ceiling:
        try:
            sock.sendall(b"X-Drip-%d: x\r\n" % n)
            n += 1
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
    return None


def read_all(sock):
    """Reads to EOF; a reset is reported as an exception to the caller."""
    chunks = []
    while True:
        b = sock.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


class HeadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = Health(config={"header_timeout": "1s", "max_header_size": 4096,
                               "max_uri_length": 1024}, start=False)
        write(cls.h.root + "/index.html", b"ok\n")
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def test_slowloris_first_request_cut(self):
        with socket.create_connection((self.h.host, self.h.port)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            held = drip_until_closed(s)
        self.assertIsNotNone(held, "a dripping head held its connection for %d s" % HOLD_CEILING)
        self.assertGreater(self.h.status()["connection_counters"]["head_timeouts"], 0)

    def test_slowloris_keep_alive_request_cut(self):
        with socket.create_connection((self.h.host, self.h.port)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            self.assertIn(b"200 OK", s.recv(4096))
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            held = drip_until_closed(s)
        self.assertIsNotNone(held, "a dripping second head held its connection")

    def test_idle_keep_alive_is_not_cut(self):
        # header_timeout is about heads, not idle connections: a keep-alive
        # connection idle for longer than it still works.
        with socket.create_connection((self.h.host, self.h.port)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            self.assertIn(b"200 OK", s.recv(4096))
            before = self.h.status()["connection_counters"]["head_timeouts"]
            # wait until the sweep has certainly run past the 1 s deadline:
            # another connection's dripping head gets cut meanwhile
            with socket.create_connection((self.h.host, self.h.port)) as other:
                other.sendall(b"GET / HTTP/1.1\r\n")
                self.assertIsNotNone(drip_until_closed(other))
            self.assertEqual(self.h.status()["connection_counters"]["head_timeouts"], before + 1)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"200 OK", s.recv(4096))

    def oversized(self, request, want):
        with socket.create_connection((self.h.host, self.h.port), timeout=10) as s:
            try:
                s.sendall(request)
                answer = read_all(s)
            except (ConnectionResetError, BrokenPipeError) as e:
                self.fail("%d-byte request: %r instead of %d" % (len(request), e, want))
        self.assertTrue(answer.startswith(b"HTTP/1.1 %d " % want),
                        "%d-byte request: %r" % (len(request), answer[:60]))

    def test_oversized_head_gets_431(self):
        for size in (4096 + 50, 12000, 70 * 1024, 1 << 20):
            parts, total = [], 0
            while total < size:
                parts.append(b"X-H%d: %s\r\n" % (len(parts), b"v" * 90))
                total += len(parts[-1])
            lines = b"".join(parts)
            self.oversized(b"GET / HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n", 431)
        one = b"X-One: " + b"o" * (70 * 1024) + b"\r\n"
        self.oversized(b"GET / HTTP/1.1\r\nHost: x\r\n" + one + b"\r\n", 431)

    def test_oversized_uri_gets_414(self):
        for size in (1024 + 10, 12000, 70 * 1024, 1 << 20):
            self.oversized(b"GET /" + b"a" * size + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)

    def test_server_still_serves(self):
        self.assertEqual(self.h.get("/").status, 200)


def closed_by_peer(sock):
    """Non-blocking: has the server closed sock?"""
    sock.setblocking(False)
    try:
        return sock.recv(4096) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


class FullTableTest(unittest.TestCase):
    """max_connections filled with slowloris heads; header_timeout so long
    that it cannot be what frees a slot during the test.  Nothing here is
    timed: a probe either gets in by an eviction or it waits in the backlog
    for ten minutes (the old behaviour), and the socket timeout that fails
    it is only "did not answer at all"."""

    MAX = 12
    ANSWER_TIMEOUT = 30

    @classmethod
    def setUpClass(cls):
        cls.h = Health(config={"header_timeout": "600s", "max_connections": cls.MAX},
                       start=False)
        write(cls.h.root + "/index.html", b"ok\n")
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def setUp(self):
        wait_for(lambda: self.h.status()["connections"] == 0, timeout=30,
                 what="the previous test's connections to be closed")
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()

    def counters(self):
        return self.h.status()["connection_counters"]

    def attacker(self):
        """One more slowloris connection, once the daemon holds it: each is
        accepted after the one before, so they are in the order they waited."""
        n = self.h.status()["connections"]
        s = socket.create_connection((self.h.host, self.h.port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        self.socks.append(s)
        wait_for(lambda: self.h.status()["connections"] > n, timeout=30,
                 what="the daemon to accept attacker %d" % len(self.socks))
        return s

    def probe(self):
        with socket.create_connection((self.h.host, self.h.port),
                                      timeout=self.ANSWER_TIMEOUT) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            try:
                answer = read_all(s)
            except socket.timeout:
                self.fail("/health waited in the backlog behind %d slowloris connections"
                          % self.MAX)
        return answer

    def test_probes_evict_the_oldest_heads(self):
        attackers = [self.attacker() for _ in range(self.MAX)]
        before = self.counters()
        rounds = 6
        for k in range(rounds):
            answer = self.probe()
            self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer[:80])
            # The oldest attacker went, the others are all still held.
            wait_for(lambda: closed_by_peer(attackers[k]), timeout=30,
                     what="the oldest slowloris connection to be closed")
            for j, s in enumerate(attackers[k + 1:], k + 1):
                self.assertFalse(closed_by_peer(s), "probe %d evicted attacker %d, not %d"
                                 % (k, j, k))
            # The attacker reconnects, as it would: the table is full again
            # (once the probe's own connection has left it).
            wait_for(lambda: self.h.status()["connections"] == self.MAX - 1, timeout=30,
                     what="the probe's connection to be closed")
            attackers.append(self.attacker())
        after = self.counters()
        self.assertEqual(after["evictions"] - before["evictions"], rounds)
        self.assertEqual(after["head_timeouts"], before["head_timeouts"])
        self.assertIn("max_connections", self.h.logs())

    def test_idle_keep_alive_waiting_longest_goes_first(self):
        idle = self.attacker()
        idle.sendall(b"\r\n")  # completes the head: answered, then idle
        idle.settimeout(self.ANSWER_TIMEOUT)
        self.assertIn(b"200 OK", idle.recv(4096))
        wait_for(lambda: self.h.status()["in_flight"] == 0, timeout=30,
                 what="the keep-alive request to be complete")
        heads = [self.attacker() for _ in range(self.MAX - 1)]
        self.assertTrue(self.probe().startswith(b"HTTP/1.1 200 "))
        wait_for(lambda: closed_by_peer(idle), timeout=30,
                 what="the idle keep-alive connection to be closed")
        self.assertFalse(any(closed_by_peer(s) for s in heads))


if __name__ == "__main__":
    unittest.main(verbosity=2)
