"""Shared plumbing of the IMDS and AWS stand-ins: command line, the HTTP/1.1
server, SIGTERM handling, JSON helpers and the JSON-lines recorder.

Both stand-ins are loopback-only test servers run by /usr/bin/python3; see
tests/standins/README.md for how tests drive them.
"""

import argparse
import datetime
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso8601(dt):
    """2026-11-28T06:19:59Z, the form IMDS and the Query APIs use."""
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso8601_ms(dt):
    return dt.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def parse_listen(text):
    """'127.0.1.5:0' -> ('127.0.1.5', 0); only loopback addresses are allowed
    because these servers accept any request that knows their control API."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected ADDRESS:PORT, got %r" % text)
    host = host.strip("[]")
    try:
        addr = ipaddress.ip_address(host)
        port_num = int(port)
    except ValueError as e:
        raise argparse.ArgumentTypeError("bad listen address %r: %s" % (text, e))
    if not addr.is_loopback:
        raise argparse.ArgumentTypeError("refusing non-loopback address %s" % host)
    if not 0 <= port_num <= 65535:
        raise argparse.ArgumentTypeError("bad port %r" % port)
    return host, port_num


def merge_patch(target, patch):
    """RFC 7396 JSON merge patch: objects merge recursively, null deletes a
    key, anything else (lists included) replaces."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class JsonLines:
    """Appends one JSON object per line to a file (optional) and keeps them in
    memory for the control API.  Thread safe.

    A request is appended when it arrives and its outcome is filled in later
    with update(): a request whose client gave up, or that a fault holds,
    is in the log from the moment it came in, and a late outcome changes
    only its own entry, never the order of the log."""

    def __init__(self, path=None):
        self._lock = threading.Lock()
        self._entries = []
        self._file = open(path, "a", encoding="utf-8") if path else None

    def _write(self, entry):
        if self._file:
            self._file.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
            self._file.flush()

    def append(self, entry):
        with self._lock:
            self._entries.append(entry)
            self._write(entry)

    def update(self, entry, **fields):
        """Fill in fields of an appended entry (the file gets the whole
        entry again, as a new line with the same identity)."""
        with self._lock:
            entry.update(fields)
            self._write(entry)

    def entries(self, since=0):
        with self._lock:
            return [dict(e) for e in self._entries[since:]]

    def clear(self):
        with self._lock:
            self._entries.clear()

    def close(self):
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler_class, app):
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        self.app = app
        super().__init__(address, handler_class)


class StandinHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: every response carries Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "standin"
    sys_version = ""
    # An idle keep-alive connection is dropped after this many seconds so its
    # thread ends.
    timeout = 30

    def version_string(self):
        return self.server_version

    @property
    def app(self):
        return self.server.app

    def log_message(self, fmt, *args):
        if os.environ.get("STANDIN_DEBUG"):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def read_body(self, limit=None):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked(limit)
        if length is None:
            return b""
        n = int(length)
        if limit is not None and n > limit:
            # Read and drop it anyway so the connection stays in sync.
            self.rfile.read(n)
            raise ValueError("body of %d bytes exceeds %d" % (n, limit))
        return self.rfile.read(n)

    def _read_chunked(self, limit):
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()
            if limit is not None and len(out) > limit:
                raise ValueError("body exceeds %d" % limit)

    def send_body(self, status, body, content_type="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj):
        self.send_body(status, json.dumps(obj, indent=1, default=str) + "\n",
                       "application/json")

    def read_json(self):
        body = self.read_body()
        if not body.strip():
            return {}
        return json.loads(body)

    def peer_closed(self):
        """True if the client has closed its end (it gave up waiting):
        the socket is readable and a peek finds end of file."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def reset_connection(self):
        """Abort the connection with a TCP RST (SO_LINGER 0), as a dead
        endpoint behind a firewall or a crashed service would."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        for f in (self.rfile, self.wfile):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        self.connection.close()


def common_arguments(parser):
    parser.add_argument("--listen", type=parse_listen, default=("127.0.0.1", 0),
                        help="loopback ADDRESS:PORT; port 0 picks a free one")
    parser.add_argument("--port-file",
                        help="write the bound URL (http://ADDR:PORT) here once listening")


def serve(server, port_file=None, on_stop=None):
    """Run until SIGTERM/SIGINT, then stop cleanly and return 0."""
    host, port = server.server_address[:2]
    shown = "[%s]" % host if ":" in host else host
    url = "http://%s:%d" % (shown, port)
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(url + "\n")
        os.rename(tmp, port_file)  # readers never see a half-written file
    print(url, flush=True)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if on_stop:
        on_stop()
    return 0
