"""Helpers for the integration tests: run the real asg-health on a free
loopback port, talk HTTP to it over TCP and over its control socket, and
clean up only the processes the test started (by PID)."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

TOP_BUILDDIR = os.environ.get("top_builddir", os.path.abspath("."))
TOP_SRCDIR = os.environ.get("top_srcdir", os.path.abspath("."))
HEALTH_BIN = os.path.join(TOP_BUILDDIR, "health", "asg-health")

# ./scripts/check --valgrind runs the daemons under a wrapper, e.g.
# ASG_TEST_WRAPPER="valgrind --error-exitcode=99 --leak-check=full ...":
# the helpers that start asg-health and asg-agent put it in front of the
# command, and a daemon that exits with ASG_TEST_WRAPPER_ERROR (default 99,
# valgrind's --error-exitcode) fails the test when it is stopped.
WRAPPER = os.environ.get("ASG_TEST_WRAPPER", "").split()
WRAPPER_ERROR = int(os.environ.get("ASG_TEST_WRAPPER_ERROR", "99"))
# A wrapped daemon starts and answers more slowly: the helpers' waits for
# it (upper bounds, never expected durations) scale by this factor.
WAIT_SCALE = float(os.environ.get("ASG_TEST_WAIT_SCALE", "10" if WRAPPER else "1"))


def wrapped(argv):
    """The daemon command line with the test wrapper (if any) in front."""
    return WRAPPER + list(argv)


def check_wrapper_status(returncode, what, log=""):
    """Fails when the wrapper reported errors (valgrind's --error-exitcode)."""
    if WRAPPER and returncode == WRAPPER_ERROR:
        raise AssertionError("%s: %s reported errors (exit %d):\n%s"
                             % (what, WRAPPER[0], returncode, log[-6000:]))


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, what="condition", interval=0.02):
    timeout *= WAIT_SCALE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def stop_process(proc, timeout):
    """SIGTERM to proc (a Popen, by its PID), then SIGKILL if it has not
    exited within timeout seconds; reaped either way.  True when it exited
    on the SIGTERM (or had exited already)."""
    if proc.poll() is not None:
        return True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def unix_request(socket_path, method, path):
    """A request on an HTTP control socket: (status, Content-Type, body bytes)."""
    conn = UnixHTTPConnection(socket_path)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        conn.close()


def unix_get(socket_path, path):
    """GET path on an HTTP control socket: (status, Content-Type, text)."""
    status, ctype, body = unix_request(socket_path, "GET", path)
    return status, ctype, body.decode()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r %r>" % (self.status, self.headers, self.body[:80])


class Health:
    """One asg-health process with its own temp dir, root and config."""

    def __init__(self, root=None, config=None, host="127.0.0.1", extra_args=(), env=None,
                 start=True, prefix=()):
        self.tmp = tempfile.mkdtemp(prefix="asg-health-test.")
        self.host = host
        self.port = free_port(host)
        self.root = root or os.path.join(self.tmp, "root")
        os.makedirs(self.root, exist_ok=True)
        self.control = os.path.join(self.tmp, "health.sock")
        self.config_path = os.path.join(self.tmp, "health.json")
        self.log_path = os.path.join(self.tmp, "asg-health.log")
        self.write_config(config or {})
        self.extra_args = list(extra_args)
        self.prefix = list(prefix)  # e.g. ["taskset", "-c", "0"]
        self.env = env
        self.proc = None
        if start:
            self.start()

    def write_config(self, config):
        cfg = {"root": self.root, "listen": ["%s:%d" % (self.host, self.port)],
               "control_socket": self.control}
        cfg.update(config)
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=2)

    def start(self, wait=True):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("LISTEN_FDS", None)
        if self.env:
            env.update(self.env)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.prefix
                                     + wrapped([HEALTH_BIN, "--config", self.config_path]
                                               + self.extra_args),
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if wait:
            wait_for(self._live, what="asg-health to serve /health/live")
        return self

    def _live(self):
        if self.proc.poll() is not None:
            raise AssertionError("asg-health exited with %s:\n%s" % (self.proc.returncode,
                                                                     self.logs()))
        try:
            return self.get("/health/live").status == 200
        except OSError:
            return False

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def connection(self, timeout=5):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, headers=None, conn=None, body=None):
        own = conn is None
        conn = conn or self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            if own:
                conn.close()

    def get(self, path, headers=None, conn=None):
        return self.request("GET", path, headers, conn)

    def raw(self, data, timeout=5):
        """Sends raw bytes and returns everything the server answers."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
                    if b"\r\n\r\n" in b"".join(chunks):
                        head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
                        for line in head.split(b"\r\n"):
                            if line.lower().startswith(b"content-length:"):
                                if len(rest) >= int(line.split(b":")[1]):
                                    return b"".join(chunks)
            except socket.timeout:
                pass
            return b"".join(chunks)

    def raw_status(self, data):
        answer = self.raw(data)
        if not answer:
            return None
        return int(answer.split(b" ", 2)[1])

    def control_request(self, method, path):
        status, _, body = unix_request(self.control, method, path)
        return status, json.loads(body) if body else None

    def status(self):
        return self.control_request("GET", "/status")[1]

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        if self.proc:
            stop_process(self.proc, timeout * WAIT_SCALE)
            self.log.close()
            check_wrapper_status(self.proc.returncode, "asg-health", self.logs())
        return self.proc.returncode if self.proc else None

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write(path, data, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET,
    read continuously like systemd does: the kernel queues only
    net.unix.max_dgram_qlen (10) datagrams, after which sd_notify blocks."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.messages = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_event.is_set():
            try:
                m = self.sock.recv(4096).decode()
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append(m)

    def drain(self):
        time.sleep(0.15)
        with self.lock:
            return list(self.messages)

    def wait_for(self, text, timeout=10):
        deadline = time.monotonic() + timeout * WAIT_SCALE
        while time.monotonic() < deadline:
            with self.lock:
                if any(text in m for m in self.messages):
                    return True
            time.sleep(0.05)
        return False

    def close(self):
        self.stop_event.set()
        self.thread.join()
        self.sock.close()
