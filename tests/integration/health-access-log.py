"""The access log (issue 12, section 1): one line per request in the
combined log format plus the request time and X-Amzn-Trace-Id; the client
from X-Forwarded-For read from the right past trusted hops (the peer and
trusted_proxies), never the spoofable leftmost entry; probes skipped unless
log_probes; strings escaped so no request can forge a line; SIGUSR1 reopens
the file after logrotate's rename; a writer that cannot keep up (a FIFO
nobody reads) makes lines drop and be counted, never a request wait;
SIGTERM flushes; a bad value on reload keeps the running log."""

import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from asgtest import TOP_SRCDIR, Health, wait_for, write



def Q(name):
    return r'"(?P<%s>(?:[^"\\]|\\x[0-9a-f]{2})*)"' % name


LINE = re.compile(r'^(?P<client>\S+) - - \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} '
                  r'[+-]\d{4})\] "(?P<method>[^ "\\]*) (?P<url>[^ "]*) (?P<version>[^ "]*)" '
                  r'(?P<status>\d{3}) (?P<bytes>\d+|-) ' + Q("referer") + ' ' + Q("ua") +
                  r' (?P<rt>\d+\.\d{3}) ' + Q("trace") + '$')
CLOUDFRONT = ["130.176.0.0/16", "2600:9000::/28"]


def parse(text):
    """The lines, but the /health/live of the helper's start-up wait."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            raise AssertionError("not a combined log line: %r" % line)
        if m.group("url") != "/health/live":
            out.append(m.groupdict())
    return out


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("ascii")  # escaped: ASCII only
    except FileNotFoundError:
        return ""


class LogTest(unittest.TestCase):
    config = {}

    def start(self, **config):
        self.h = Health(start=False)
        logs = os.path.join(self.h.tmp, "logs")  # nothing else in it: logrotate's *.log
        os.makedirs(logs)
        self.log = os.path.join(logs, "access.log")
        cfg = {"access_log": self.log}
        cfg.update(config)
        self.h.write_config(cfg)
        self.h.start()
        self.addCleanup(self.h.close)
        write(os.path.join(self.h.root, "index.html"), "x" * 2048)
        return self.h

    def lines(self, n, path=None):
        """Waits for at least n lines and returns them parsed."""
        path = path or self.log
        wait_for(lambda: len(parse(read(path))) >= n, what="%d access log lines" % n)
        return parse(read(path))

    def settled(self):
        """Every request answered so far is in the file.  A request's line
        is queued when it completes, which can be after its client has
        the answer (and after a later request on another connection
        completed): so wait until none is in flight (in_flight drops
        after the line is queued), then until the writer wrote every
        queued line."""
        def done():
            st = self.h.status()
            al = st["access_log"]
            return st["in_flight"] == 0 and al["lines"] + al["write_errors"] == al["queued"]
        wait_for(done, what="every line written")
        return parse(read(self.log))

    def marker(self, tag):
        self.h.get("/marker-" + tag)
        return self.settled()


class FormatTest(LogTest):
    def test_combined_format_with_time_and_trace(self):
        h = self.start()
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        r = h.get("/index.html?q=1", {"Referer": "https://example.com/a",
                                      "User-Agent": "Mozilla/5.0 (X11)",
                                      "X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678"})
        self.assertEqual(r.status, 200)
        h.request("HEAD", "/index.html")
        h.get("/missing")
        r206 = h.get("/index.html", {"Range": "bytes=0-99"})
        self.assertEqual(r206.status, 206)
        lines = self.settled()
        after = datetime.datetime.now(datetime.timezone.utc)
        self.assertEqual(len(lines), 4)
        get, = [l for l in lines if l["url"] == "/index.html?q=1"]
        head, = [l for l in lines if l["method"] == "HEAD"]
        missing, = [l for l in lines if l["url"] == "/missing"]
        part, = [l for l in lines if l["status"] == "206"]
        self.assertEqual((get["client"], get["method"], get["url"], get["version"]),
                         ("127.0.0.1", "GET", "/index.html?q=1", "HTTP/1.1"))
        self.assertEqual((get["status"], get["bytes"]), ("200", "2048"))
        self.assertEqual(get["referer"], "https://example.com/a")
        self.assertEqual(get["ua"], "Mozilla/5.0 (X11)")
        self.assertEqual(get["trace"], "Root=1-67891233-abcdef012345678912345678")
        when = datetime.datetime.strptime(get["time"], "%d/%b/%Y:%H:%M:%S %z")
        self.assertTrue(before <= when <= after, (before, when, after))
        self.assertLess(float(get["rt"]), 60)
        self.assertEqual((head["method"], head["status"], head["bytes"]), ("HEAD", "200", "0"))
        self.assertEqual(missing["status"], "404")
        self.assertEqual(int(missing["bytes"]), len(h.get("/missing").body))
        self.assertEqual((part["status"], part["bytes"]), ("206", "100"))
        for l in (head, missing, part):
            self.assertEqual(l["referer"], "-")
            self.assertEqual(l["trace"], "-")

    def test_refused_requests_are_logged_with_their_status(self):
        h = self.start()
        self.assertEqual(h.request("POST", "/", body=b"x").status, 405)
        self.assertEqual(h.raw_status(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                                      b"Content-Length: 1\r\n\r\nx"), 400)
        lines = self.marker("refused")
        self.assertEqual(sorted(l["status"] for l in lines), ["400", "404", "405"])

    def test_no_request_can_forge_a_line(self):
        h = self.start()
        forged = b'1.1.1.1 - - [01/Jan/2030:00:00:00 +0000] "GET /forged HTTP/1.1" 200 1'
        # a quote, a backslash, control characters, a raw CR and a
        # non-ASCII byte in header values; an encoded CR LF in the target
        heads = [
            b'GET /a%0d%0a' + forged.replace(b" ", b"%20") + b' HTTP/1.1\r\nHost: x\r\n'
            b'User-Agent: x" 200 0 "-" "\\\x01\x1b[31m\xff\r\nConnection: close\r\n\r\n',
            b'GET /b HTTP/1.1\r\nHost: x\r\nReferer: a\rb\r\nConnection: close\r\n\r\n',
            b'GET /c HTTP/1.1\r\nHost: x\r\nUser-Agent: ' + forged + b'\r\n'
            b'X-Amzn-Trace-Id: "\r\nConnection: close\r\n\r\n',
        ]
        for head in heads:
            h.raw(head)
        lines = self.marker("forge")  # parse() fails on any line not ours
        text = read(self.log)
        self.assertFalse(any(l.startswith("1.1.1.1") for l in text.splitlines()))
        self.assertEqual(len(parse(text)), len(lines))
        first = [l for l in lines if l["url"].startswith("/a")][0]
        self.assertEqual(first["ua"], r'x\x22 200 0 \x22-\x22 \x22\x5c\x01\x1b[31m\xff')
        c = [l for l in lines if l["url"] == "/c"][0]
        self.assertEqual(c["trace"], r"\x22")
        self.assertIn(r"\x22GET /forged", c["ua"])

    def test_lines_are_bounded(self):
        h = self.start(max_header_size="64k", max_uri_length="16k")
        h.get("/u?" + "u" * 8000, {"User-Agent": "a" * 20000, "Referer": "\x01" * 5000})
        self.settled()
        line = read(self.log)
        self.assertLess(len(line), 20480)
        l = parse(line)[0]
        self.assertEqual(l["ua"], "a" * 1024)
        self.assertEqual(l["referer"], r"\x01" * 1024)
        self.assertEqual(l["url"], "/u?" + "u" * 2045)


class ForwardedTest(LogTest):
    CASES = [
        # (X-Forwarded-For headers, expected client)
        ([], "127.0.0.1"),
        (["203.0.113.9"], "203.0.113.9"),
        # the leftmost entries are whatever the client wrote
        (["6.6.6.6, 203.0.113.9"], "203.0.113.9"),
        (["127.0.0.1, 6.6.6.6, 203.0.113.9"], "203.0.113.9"),
        # CloudFront in front: the edge's address is a trusted hop
        (["6.6.6.6, 203.0.113.9, 130.176.1.2"], "203.0.113.9"),
        (["130.176.7.7, 6.6.6.6, 203.0.113.9, 130.176.1.2"], "203.0.113.9"),
        # IPv6 viewers and edges
        (["6.6.6.6, 2001:db8::7, 2600:9000:1::5"], "2001:db8::7"),
        (["2001:DB8:0:0::8"], "2001:db8::8"),
        (["[2001:db8::9]:4431, 2600:9000::1"], "2001:db8::9"),
        (["203.0.113.10:50123"], "203.0.113.10"),
        (["::ffff:203.0.113.11"], "203.0.113.11"),
        # every hop trusted: the leftmost one is the client
        (["130.176.0.9, 130.176.1.2"], "130.176.0.9"),
        # not an address: the last trusted hop stands
        (["6.6.6.6, unknown, 130.176.1.2"], "130.176.1.2"),
        (["203.0.113.9, garbage"], "127.0.0.1"),
        # several headers are one list, in order
        (["6.6.6.6", "203.0.113.12, 130.176.1.2"], "203.0.113.12"),
        (["203.0.113.13, , 130.176.1.2"], "203.0.113.13"),
        # an untrusted address one hop in is the client, even with a
        # trusted one further left
        (["130.176.0.1, 203.0.113.14"], "203.0.113.14"),
    ]

    def request_with(self, xffs, tag):
        head = b"GET /" + tag.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        for v in xffs:
            head += b"X-Forwarded-For: " + v.encode() + b"\r\n"
        self.h.raw(head + b"Connection: close\r\n\r\n")

    def test_client_from_the_right(self):
        self.start(trusted_proxies=CLOUDFRONT)
        for i, (xffs, _) in enumerate(self.CASES):
            self.request_with(xffs, "case-%d" % i)
        lines = {l["url"]: l for l in self.marker("xff")}
        for i, (xffs, want) in enumerate(self.CASES):
            self.assertEqual(lines["/case-%d" % i]["client"], want, xffs)

    def test_without_trusted_proxies_the_edge_is_the_client(self):
        self.start()
        self.request_with(["6.6.6.6, 203.0.113.9, 130.176.1.2"], "edge")
        edge, = [l for l in self.marker("edge") if l["url"] == "/edge"]
        self.assertEqual(edge["client"], "130.176.1.2")

    def test_ipv6_peer(self):
        try:
            socket.create_server(("::1", 0), family=socket.AF_INET6).close()
        except OSError:
            self.skipTest("no IPv6 loopback")
        h = Health(start=False)
        self.addCleanup(h.close)
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            h.host, h.port = "::1", s.getsockname()[1]
        log = os.path.join(h.tmp, "access.log")
        h.write_config({"access_log": log, "trusted_proxies": ["::1/128"],
                        "listen": ["[::1]:%d" % h.port]})
        h.start()
        h.get("/six")
        h.get("/seven", {"X-Forwarded-For": "2001:db8::1, ::1"})
        wait_for(lambda: len(parse(read(log))) >= 2, what="2 lines")
        self.assertEqual({l["url"]: l["client"] for l in parse(read(log))},
                         {"/six": "::1", "/seven": "2001:db8::1"})


class ProbeTest(LogTest):
    PROBE = {"User-Agent": "ELB-HealthChecker/2.0"}

    def test_probes_are_not_logged(self):
        h = self.start()
        self.assertEqual(h.get("/health", self.PROBE).status, 200)
        # a client sending the checker's name through the ALB is no probe
        h.get("/health", dict(self.PROBE, **{"X-Forwarded-For": "203.0.113.9"}))
        h.get("/health")
        lines = self.marker("probes")
        self.assertEqual(sorted((l["url"], l["client"]) for l in lines),
                         [("/health", "127.0.0.1"), ("/health", "203.0.113.9"),
                          ("/marker-probes", "127.0.0.1")])
        self.assertEqual(h.status()["load_balancer"]["probers"][0]["probes"], 1)

    def test_log_probes(self):
        h = self.start(log_probes=True)
        h.get("/health", self.PROBE)
        lines = [l for l in self.marker("probes") if l["url"] == "/health"]
        self.assertEqual([(l["ua"], l["status"]) for l in lines],
                         [("ELB-HealthChecker/2.0", "200")])


class RotateTest(LogTest):
    def test_sigusr1_reopens_after_a_rename(self):
        h = self.start()
        h.get("/before")
        self.lines(1)
        os.rename(self.log, self.log + ".1")  # logrotate's move
        h.get("/between")  # still the open file: the old one
        wait_for(lambda: "/between" in read(self.log + ".1"), what="the line in the old file")
        h.signal(signal.SIGUSR1)
        wait_for(lambda: os.path.exists(self.log), what="the new file")
        h.get("/after")
        self.assertEqual([l["url"] for l in self.lines(1)], ["/after"])
        self.assertEqual([l["url"] for l in parse(read(self.log + ".1"))],
                         ["/before", "/between"])
        self.assertIn("reopened", h.logs())

    def test_the_packaged_logrotate_file(self):
        """debian/asg-agent.asg-health.logrotate run by logrotate itself,
        with its path moved into the test's directory and its postrotate's
        systemctl replaced by the same signal to this asg-health."""
        if not shutil.which("logrotate"):
            self.skipTest("logrotate is not installed (scripts/deps test)")
        h = self.start()
        src = os.path.join(TOP_SRCDIR, "debian", "asg-agent.asg-health.logrotate")
        with open(src) as f:
            conf = f.read()
        self.assertIn("/var/log/asg-health/*.log {", conf)
        self.assertIn("systemctl kill --signal=USR1 --kill-whom=main asg-health.service", conf)
        conf = conf.replace("/var/log/asg-health/*.log", os.path.join(h.tmp, "logs", "*.log"))
        conf = re.sub(r"postrotate.*endscript",
                      "postrotate\n\t\tkill -USR1 %d\n\tendscript" % h.proc.pid, conf,
                      flags=re.S)
        path = os.path.join(h.tmp, "logrotate.conf")
        with open(path, "w") as f:
            f.write(conf)
        h.get("/day-1")
        self.lines(1)
        state = os.path.join(h.tmp, "logrotate.state")
        r = subprocess.run(["logrotate", "-f", "-s", state, path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: os.path.exists(self.log), what="the reopened file")
        h.get("/day-2")
        self.assertEqual([l["url"] for l in self.lines(1)], ["/day-2"])
        # delaycompress: yesterday's file stays plain until the next run
        self.assertEqual([l["url"] for l in parse(read(self.log + ".1"))], ["/day-1"])

    def test_sigterm_writes_every_line(self):
        h = self.start()
        conn = h.connection()
        for i in range(200):
            h.get("/n%d" % i, conn=conn)
        conn.close()
        h.signal(signal.SIGTERM)
        self.assertEqual(h.proc.wait(30), 0)
        self.assertEqual([l["url"] for l in parse(read(self.log))],
                         ["/n%d" % i for i in range(200)])

    def test_reload(self):
        h = self.start()
        other = os.path.join(h.tmp, "other.log")
        bad = [{"access_log": "relative.log"}, {"access_log": "/nonexistent-dir/x.log"},
               {"access_log": other, "trusted_proxies": ["10.1.2.3/8"]}]
        for i, cfg in enumerate(bad):
            h.write_config(cfg)
            h.signal(signal.SIGHUP)
            wait_for(lambda: h.logs().count("reload failed") == i + 1, what="reload failure")
            h.get("/kept-%d" % i)
        logs = h.logs()
        self.assertIn("health.json:", logs)  # file, line and key
        self.assertIn("access_log: must be", logs)
        self.assertIn("cannot open the access log /nonexistent-dir/x.log", logs)
        self.assertIn("trusted_proxies[0]: 10.1.2.3/8: host bits", logs)
        self.assertEqual(sorted(l["url"] for l in self.settled()),
                         ["/kept-0", "/kept-1", "/kept-2"])
        self.assertFalse(os.path.exists(other))
        h.write_config({"access_log": other})
        h.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in h.logs(), what="the reload")
        h.get("/moved")
        self.assertEqual([l["url"] for l in self.lines(1, other)], ["/moved"])
        self.assertEqual(h.status()["access_log"]["destination"], other)

    def test_unopenable_file_fails_start(self):
        h = Health(config={"access_log": "/nonexistent-dir/access.log"}, start=False)
        self.addCleanup(h.close)
        h.start(wait=False)
        self.assertEqual(h.proc.wait(30), 1)
        self.assertIn("cannot open the access log /nonexistent-dir/access.log", h.logs())


class DropTest(LogTest):
    def test_a_stalled_writer_drops_and_counts(self):
        self.h = Health(start=False)
        self.addCleanup(self.h.close)
        fifo = os.path.join(self.h.tmp, "access.fifo")
        os.mkfifo(fifo)
        # a reader that reads nothing: the writer's write(2) blocks once
        # the pipe (64 KiB) is full
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, reader)
        self.h.write_config({"access_log": fifo, "max_header_size": "16k"})
        self.h.start()
        h = self.h
        conn = h.connection()
        big = {"User-Agent": "u" * 1024, "Referer": "r" * 1024}
        sent = 0
        # each line is about 4.5 KB: the pipe and both 512 KiB buffers
        # are full after some 250; bounded, in case nothing ever drops
        while sent < 5000:
            r = h.get("/p?" + "q" * 2000 + "&%d" % sent, big, conn=conn)
            self.assertEqual(r.status, 404)  # answered, never held up
            sent += 1
            if sent % 50 == 0 and h.status()["access_log"]["dropped"] > 0:
                break
        conn.close()
        st = h.status()["access_log"]
        self.assertGreater(st["dropped"], 0)
        self.assertLess(st["lines"], sent)
        # unblock the writer: every request is either written or dropped
        got = bytearray()
        stop = threading.Event()

        def drain():
            os.set_blocking(reader, True)
            while not stop.is_set():
                b = os.read(reader, 1 << 16)
                if not b:
                    break
                got.extend(b)

        t = threading.Thread(target=drain, daemon=True)
        t.start()

        def accounted():
            s = h.status()["access_log"]
            return s["lines"] + s["dropped"] == sent + 1 and s
        st = wait_for(accounted, what="every line written or dropped")
        wait_for(lambda: got.count(b"\n") == st["lines"], what="the lines in the pipe")
        self.assertEqual(len(parse(got.decode())), st["lines"] - 1)  # and /health/live
        self.assertEqual(st["write_errors"], 0)
        self.assertEqual(st["lines"] + st["dropped"], sent + 1)
        h.signal(signal.SIGTERM)
        self.assertEqual(h.proc.wait(30), 0)
        stop.set()


if __name__ == "__main__":
    unittest.main(verbosity=2)
