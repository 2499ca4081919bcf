"""Helpers for the hostile-client tests (issue 9 section 3): a running
asg-health with a site that is rewritten under it, a watcher that keeps
acting as a normal client and as the load balancer's prober while an
attack runs, and the bookkeeping to say afterwards what held.

Everything here is bounded: every loop has a count and a deadline, every
socket a timeout.  Nothing asserts on elapsed time: latencies are
recorded (and printed, and written to $ASG_HOSTILE_STATS if set) but the
only time limits are generous timeouts that mean "did not answer at all".
"""

import hashlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from asgtest import HEALTH_BIN, Health, stop_process, wait_for, write  # noqa: E402

# The ASan pass of ./scripts/check sets ASAN_OPTIONS; the daemon is then
# several times slower, so the floods are shrunk (never the limits that
# the attack is about, such as max_connections).
SANITIZED = "ASAN_OPTIONS" in os.environ
SCALE = 0.4 if SANITIZED else 1.0

# For the measurement run of RELIABILITY.md: hold every attack for at
# least this many watcher rounds (default: the few each test needs).
MEASURE_ROUNDS = int(os.environ.get("ASG_HOSTILE_ROUNDS", "0"))

# "Did not answer at all", not a latency target: a loaded 2-core machine
# running the ASan build can stall a request for seconds.
ANSWER_TIMEOUT = 20.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: AddressSanitizer")


def scaled(n, minimum=1):
    return max(minimum, int(n * SCALE))


def raise_nofile(want):
    """Raises this process's descriptor limit towards want; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def etag_of(body):
    return '"%s"' % hashlib.sha256(body).hexdigest()[:32]


class Daemon(Health):
    """asg-health with an optional hard descriptor limit (so that the
    daemon's own raise to the hard limit cannot undo it)."""

    def __init__(self, nofile=None, **kw):
        self.nofile = nofile
        super().__init__(**kw)

    def start(self, wait=True):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("LISTEN_FDS", None)
        if self.env:
            env.update(self.env)
        nofile = self.nofile

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([HEALTH_BIN, "--config", self.config_path] + self.extra_args,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=limit)
        if wait:
            wait_for(self._live, timeout=30, what="asg-health to serve /health/live")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sanitizer_report(self):
        text = self.logs()
        return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]

    def stop_clean(self, timeout=60):
        """SIGTERM; returns the exit status (the caller asserts 0)."""
        if not stop_process(self.proc, timeout):
            return "did not stop within %ds of SIGTERM" % timeout
        return self.proc.returncode


class Site:
    """A site whose files are rewritten as a deploy does it (a complete new
    file renamed over the old one), so every version ever written is a
    complete file; any body served must be one of them."""

    SMALL = "/index.html"       # cached in memory
    BIG = "/big.bin"            # above cache_max_file_size: sendfile
    BIG_SIZE = 600 * 1024

    def __init__(self, root):
        self.root = root
        self.version = 0
        self.lock = threading.Lock()
        self.known = {self.SMALL: set(), self.BIG: set()}
        self.rewrite()

    def content(self, path, v):
        if path == self.SMALL:
            return (b"<!doctype html><title>v%d</title>\n" % v) + b"x" * (v % 97) + b"\n"
        unit = hashlib.sha256(b"big %d" % v).digest()
        return (unit * (self.BIG_SIZE // len(unit) + 1))[:self.BIG_SIZE]

    def rewrite(self):
        with self.lock:
            v = self.version = self.version + 1
            for path in self.known:
                data = self.content(path, v)
                self.known[path].add(hashlib.sha256(data).digest())
                tmp = os.path.join(self.root, ".tmp-%d" % v)
                write(tmp, data)
                os.rename(tmp, self.root + path)
        return v

    def is_known(self, path, body):
        with self.lock:
            return hashlib.sha256(body).digest() in self.known[path]


def http_get(host, port, path, timeout=ANSWER_TIMEOUT, headers=b""):
    """One GET on a new connection, parsed by hand (no http.client: it
    would hide a second response or a missing one).  Returns (status,
    headers dict, body)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: watcher\r\nConnection: close\r\n%s\r\n"
                  % (path.encode(), headers))
        responses, eof = read_responses(s, time.monotonic() + timeout)
    if not responses:
        raise AssertionError("no response to GET %s (eof=%s)" % (path, eof))
    return responses[0]


def read_responses(sock, deadline, head_only=False, limit=None):
    """Reads HTTP/1.1 responses (Content-Length framed, as asg-health
    sends them) until EOF, the deadline or `limit` responses.  Returns
    ([(status, headers, body)], eof)."""
    buf = b""
    out = []
    eof = False
    while limit is None or len(out) < limit:
        while b"\r\n\r\n" not in buf or not _complete(buf, head_only):
            left = deadline - time.monotonic()
            if left <= 0:
                return out, eof
            sock.settimeout(left)
            try:
                b = sock.recv(262144)
            except socket.timeout:
                return out, eof
            except ConnectionResetError:
                return out, "reset"
            if not b:
                eof = True
                if buf:
                    out.append((None, {}, buf))  # a partial answer
                return out, eof
            buf += b
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode(errors="replace")
        n = 0 if head_only else int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        buf = rest[n:]
    return out, eof


def _complete(buf, head_only):
    head, _, rest = buf.partition(b"\r\n\r\n")
    if head_only:
        return True
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":", 1)[1])
    return True


def run_clients(fn, n, timeout):
    """Runs fn in n threads at once and waits for each (timeout seconds
    at most per thread); fn reports failures itself."""
    threads = [threading.Thread(target=fn) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Watcher:
    """While an attack runs: a normal client fetching pages (checking the
    bytes against the site's versions and the ETag against the bytes),
    the prober fetching /health every 20 ms in its own process (prober.py;
    latency recorded), and samples of the daemon's RSS and descriptors.
    Failures are collected, not raised, so the attack can be stopped
    before the test reports them."""

    PROBE_INTERVAL = 0.02

    def __init__(self, daemon, site, pause=0.02):
        self.d = daemon
        self.site = site
        self.pause = pause
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.reset()
        self.thread = None

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.errors = []
            self.health_ms = []
            self.pages = 0
            self.max_rss = 0
            self.max_fds = 0

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.prober = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "prober.py"),
             self.d.host, str(self.d.port), "/health", str(self.PROBE_INTERVAL),
             str(ANSWER_TIMEOUT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.prober_thread = threading.Thread(target=self._read_prober, daemon=True)
        self.prober_thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join(ANSWER_TIMEOUT * 3)
        self.prober.stdin.close()  # it ends after its current probe
        try:
            self.prober.wait(ANSWER_TIMEOUT * 2)
        except subprocess.TimeoutExpired:
            self.prober.kill()
            self.prober.wait()
        self.prober_thread.join(ANSWER_TIMEOUT)

    def _read_prober(self):
        for line in self.prober.stdout:
            status, healthy, ms, why = (line.split(None, 3) + [""])[:4]
            if status != "200" or healthy != "1":
                self._fail("/health: %s %s" % (status, why.strip()))
                continue
            with self.lock:
                self.health_ms.append(float(ms))

    def _fail(self, what):
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(what)

    def _page(self, path):
        status, headers, body = http_get(self.d.host, self.d.port, path)
        if status != 200:
            return self._fail("GET %s: %s" % (path, status))
        if not self.site.is_known(path, body):
            return self._fail("GET %s: %d bytes that are no complete version of the file"
                              % (path, len(body)))
        if headers.get("etag") != etag_of(body):
            return self._fail("GET %s: ETag %s does not match the bytes" % (path, headers.get("etag")))
        with self.lock:
            self.pages += 1

    def _sample(self):
        try:
            rss, fds = self.d.rss_kib(), self.d.fds()
        except OSError:
            return self._fail("asg-health is gone (exit %s)" % self.d.proc.poll())
        with self.lock:
            self.max_rss = max(self.max_rss, rss)
            self.max_fds = max(self.max_fds, fds)

    def _run(self):
        i = 0
        # bounded: one iteration takes at least `pause`, and an attack
        # phase lasts seconds; the count is a backstop
        while not self.stop_event.is_set() and i < 100000:
            try:
                self._page(self.site.SMALL)
                if i % 8 == 0:
                    self._page(self.site.BIG)
            except (OSError, AssertionError, ValueError) as e:
                self._fail("%s: %s" % (type(e).__name__, e))
            self._sample()
            i += 1
            self.stop_event.wait(self.pause)

    def snapshot(self):
        with self.lock:
            return {"errors": list(self.errors), "health_ms": list(self.health_ms),
                    "pages": self.pages, "max_rss_kib": self.max_rss, "max_fds": self.max_fds}


class Churn:
    """Reloads (SIGHUP) and site rewrites, alternating, every `period`
    seconds, for as long as it runs."""

    def __init__(self, daemon, site, period=0.25):
        self.d = daemon
        self.site = site
        self.period = period
        self.stop_event = threading.Event()
        self.paused = threading.Event()
        self.acting = threading.Lock()
        self.reloads = 0
        self.rewrites = 0

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join(30)

    def _run(self):
        n = 0
        while not self.stop_event.wait(self.period) and n < 100000:
            with self.acting:
                if self.paused.is_set():
                    continue
                if n % 2 == 0:
                    self.d.signal(signal.SIGHUP)
                    self.reloads += 1
                else:
                    self.site.rewrite()
                    self.rewrites += 1
            n += 1

    def pause(self):
        """Returns once no action is under way and none will start until
        resume()."""
        self.paused.set()
        with self.acting:
            pass

    def resume(self):
        self.paused.clear()


class Stats:
    """Per-attack figures for RELIABILITY.md: printed, and appended as
    JSON lines to $ASG_HOSTILE_STATS when set."""

    def __init__(self):
        self.path = os.environ.get("ASG_HOSTILE_STATS")

    def record(self, name, snap, extra=None):
        h = snap["health_ms"]
        row = {"attack": name, "sanitized": SANITIZED, "health_probes": len(h),
               "health_p50_ms": percentile(h, 50), "health_p99_ms": percentile(h, 99),
               "health_max_ms": max(h) if h else None, "pages": snap["pages"],
               "max_rss_kib": snap["max_rss_kib"], "max_fds": snap["max_fds"],
               "loadavg_1m": os.getloadavg()[0]}
        row.update(extra or {})
        print("STATS %s" % json.dumps(row), flush=True)
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")
        return row


class HostileCase:
    """Mixin for unittest.TestCase: one daemon and site per class, a
    watcher and the reload/rewrite churn running through every attack,
    and the checks that must hold after each one and at the end."""

    CONFIG = {}
    CHURN = True

    @classmethod
    def setUpClass(cls):
        raise_nofile(16384)
        cls.d = Daemon(config=dict({"shutdown_timeout": "5s"}, **cls.CONFIG), start=False)
        cls.site = Site(cls.d.root)
        write(cls.d.root + "/secret.html", b"SECRET\n")
        cls.d.start()
        cls.limits = json.loads(subprocess.run(
            [HEALTH_BIN, "--config", cls.d.config_path, "--check-config"],
            capture_output=True, text=True, check=True).stdout)
        cls.base_fds = cls.d.fds()
        cls.base_rss = cls.d.rss_kib()
        cls.stats = Stats()
        cls.w = Watcher(cls.d, cls.site).start()
        cls.churn = Churn(cls.d, cls.site).start() if cls.CHURN else None

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()
        if cls.churn:
            cls.churn.stop()
        try:
            alive = cls.d.alive()
            rc = cls.d.stop_clean()
            report = cls.d.sanitizer_report()
            logs = cls.d.logs()
        finally:
            cls.d.close()
        assert alive, "asg-health died:\n" + logs[-3000:]
        assert rc == 0, "asg-health exit status on SIGTERM: %s\n%s" % (rc, logs[-3000:])
        assert not report, "sanitizer report:\n" + "\n".join(report[:20])

    def connections(self):
        return self.d.status()["connections"]

    def wait_rounds(self, n=2, timeout=3 * ANSWER_TIMEOUT):
        """Waits until the watcher has done n more full rounds (a /health
        answer and a page) than now: proof that a normal client and the
        prober got through while the attack is in place."""
        n = max(n, MEASURE_ROUNDS)
        timeout = max(timeout, n * 2.0)
        snap = self.w.snapshot()
        h0, p0 = len(snap["health_ms"]), snap["pages"]
        wait_for(lambda: len(self.w.snapshot()["health_ms"]) >= h0 + n
                 and self.w.snapshot()["pages"] >= p0 + n,
                 timeout=timeout, interval=0.05,
                 what="the watcher to get /health and a page %d times during the attack (errors: %s)"
                 % (n, self.w.snapshot()["errors"][:3]))

    def begin(self):
        self.w.reset()
        self.assertTrue(self.d.alive(), "asg-health is not running")

    def finish(self, name, attack_conns, extra=None):
        """Checks what held during the attack, then that the daemon went
        back to its baseline descriptors once the attackers were gone."""
        snap = self.w.snapshot()
        row = self.stats.record(name, snap, extra)
        self.assertEqual(snap["errors"], [], "%s: the normal client or /health failed" % name)
        self.assertGreater(snap["pages"], 0)
        self.assertGreater(len(snap["health_ms"]), 0)
        self.assertTrue(self.d.alive(), "asg-health died during %s" % name)
        # Bounds relative to the daemon's own limits: a descriptor per
        # connection and one per open file it is sending, plus its fixed set.
        fd_bound = self.base_fds + 2 * min(attack_conns + 16, self.limits["max_connections"]) + 32
        self.assertLessEqual(snap["max_fds"], fd_bound, "%s: descriptors" % name)
        per_conn_kib = (256 if SANITIZED else 64)
        rss_bound = (self.base_rss * (3 if SANITIZED else 1) + 65536 + 65536
                     + per_conn_kib * min(attack_conns + 16, self.limits["max_connections"]))
        self.assertLessEqual(snap["max_rss_kib"], rss_bound, "%s: RSS (KiB)" % name)
        wait_for(lambda: self.d.fds() <= self.base_fds + 8, timeout=3 * ANSWER_TIMEOUT,
                 interval=0.1, what="%s: descriptors back to the baseline %d (now %d)"
                 % (name, self.base_fds, self.d.fds()))
        return row


def connect_many(host, port, n, deadline, rcvbuf=None):
    """Opens up to n non-blocking connections (the SYNs wait in the listen
    queue if the daemon is at its limit)."""
    socks = []
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setblocking(False)
        s.connect_ex((host, port))
        socks.append(s)
    return socks


def close_all(socks, reset_every=2):
    """Closes, every reset_every-th with a RST (SO_LINGER 0) as a client
    that vanishes does."""
    for i, s in enumerate(socks):
        try:
            if reset_every and i % reset_every == 0:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        s.close()


def closed_by_peer(s):
    """Non-blocking: has the server closed (or answered and closed) s?"""
    try:
        b = s.recv(4096)
        return True if not b else b
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
