"""Hostile requests (issue 9 section 3): request smuggling shapes
(Transfer-Encoding, duplicate or malformed Content-Length, whitespace
before the colon), invalid methods and versions, absolute-form targets,
HTTP/1.0 without Host, oversize URIs and heads, header floods and
pipelining floods.  A reload (SIGHUP) and a site rewrite run all the
while, and the watcher of hostilelib checks that a normal client and
/health keep being served."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hostilelib import (ANSWER_TIMEOUT, HostileCase, etag_of, read_responses,  # noqa: E402
                        run_clients, scaled)

SMUGGLED = b"GET /secret.html HTTP/1.1\r\nHost: x\r\n\r\n"


def exchange(h, data, head_only=False):
    """Sends data on a new connection; returns (responses, how it ended:
    True for EOF, "reset", or False if still open at the timeout)."""
    with socket.create_connection((h.host, h.port), timeout=ANSWER_TIMEOUT) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon answered and closed before reading it all
        return read_responses(s, time.monotonic() + 5, head_only=head_only)


class RequestAttacks(HostileCase, unittest.TestCase):
    def rejected_and_closed(self, name, data, statuses):
        """None if data got exactly one answer with one of statuses and
        then a close (not a reset); else what happened instead."""
        rs, ended = exchange(self.d, data)
        if not rs:
            return "%s: no answer (%s)" % (name, ended)
        status, headers, body = rs[0]
        if status not in statuses:
            return "%s: answered %s %r" % (name, status, body[:40])
        # libmicrohttpd 0.9.75 sends its own 400/413 for a malformed
        # Content-Length with the status line and head twice (a framing
        # bug of its own, harmless behind the close); what matters is that
        # nothing after the first answer is an answer to another request.
        later = [r[0] for r in rs[1:] if r[0] is not None and r[0] not in statuses]
        if later or any(b"SECRET" in r[2] for r in rs):
            return "%s: %d answers %r" % (name, len(rs), [(r[0], r[2][:20]) for r in rs])
        if ended is not True:
            return "%s: %s, then %s instead of a close" % (name, status, "a reset" if ended else "no close")
        return None

    def expect_rejected_and_closed(self, cases, statuses):
        failures = [f for f in (self.rejected_and_closed(n, d, statuses) for n, d in cases) if f]
        self.assertEqual(failures, [])

    def test_smuggling_shapes(self):
        """Each shape a front end and asg-health could read two ways gets a
        4xx and a close; the request smuggled behind it is never answered."""
        self.begin()
        shapes = {
            "CL+TE": b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "TE+CL": b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            "TE chunked": b"Transfer-Encoding: chunked\r\n",
            "TE twice": b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
            "TE list": b"Transfer-Encoding: chunked, identity\r\n",
            "TE xchunked": b"Transfer-Encoding: xchunked\r\n",
            "TE identity": b"Transfer-Encoding: identity\r\n",
            "TE empty": b"Transfer-Encoding:\r\n",
            "TE space before colon": b"Transfer-Encoding : chunked\r\n",
            "TE tab before colon": b"Transfer-Encoding\t: chunked\r\n",
            "CL space before colon": b"Content-Length : 5\r\n",
            "CL 0 and 0": b"Content-Length: 0\r\nContent-Length: 0\r\n",
            "CL 0 and 5": b"Content-Length: 0\r\nContent-Length: 5\r\n",
            "CL 5 and 0": b"Content-Length: 5\r\nContent-Length: 0\r\n",
            "CL 5 and 5": b"Content-Length: 5\r\nContent-Length: 5\r\n",
            "CL list": b"Content-Length: 0, 5\r\n",
            "CL plus": b"Content-Length: +0\r\n",
            "CL minus": b"Content-Length: -1\r\n",
            "CL hex": b"Content-Length: 0x5\r\n",
            "CL empty": b"Content-Length:\r\n",
            "CL huge": b"Content-Length: 99999999999999999999999\r\n",
        }
        self.expect_rejected_and_closed(
            [(name, b"GET /index.html HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n0\r\n\r\n" + SMUGGLED)
             for name, head in shapes.items()], range(400, 500))
        self.wait_rounds(1)
        self.finish("smuggling shapes", 2, {"shapes": len(shapes)})

    @unittest.expectedFailure
    def test_obs_fold_transfer_encoding(self):
        """KNOWN DEFECT, libmicrohttpd 0.9.75: an obs-fold continuation line
        is appended to the field *name* ("Transfer-Encoding:\\r\\n chunked"
        becomes a field "Transfer-Encodingchunked" with an empty value), so
        a front end that unfolds it sees a chunked body where asg-health
        sees none.  RFC 9112 says reject obs-fold with 400; the API gives
        the handler no way to see that a fold happened.  Remove the
        decorator when MHD rejects folds (0.9.76+ with
        MHD_OPTION_CLIENT_DISCIPLINE_LVL)."""
        self.expect_rejected_and_closed(
            [("TE folded", b"GET /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n"
              b"\r\n0\r\n\r\n" + SMUGGLED)], range(400, 500))

    def test_invalid_methods_and_versions(self):
        self.begin()
        methods = [b"GETT", b"get", b"PUT", b"DELETE", b"TRACE", b"PATCH", b"G\x00T",
                   b"CONNECT", b"OPTIONS"]
        cases = [(m.decode(errors="replace"),
                  m + b" " + (b"x:443" if m == b"CONNECT" else b"/index.html")
                  + b" HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED) for m in methods]
        cases.append(("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"))
        self.expect_rejected_and_closed(cases, (400, 405))
        versions = [b"HTTP/2.0", b"HTTP/3", b"http/1.1", b"HTTP/1.1x", b"FOO/1.1", b"HTTP/", b"HTTP/1",
                    b"HTTP/A.B"]
        cases = [(v.decode(), b"GET /index.html " + v + b"\r\nHost: x\r\n\r\n" + SMUGGLED) for v in versions]
        cases += [("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
                  ("HTTP/0.9", b"GET /index.html\r\n\r\n")]
        self.expect_rejected_and_closed(cases, (400, 505))
        # A space inside the target: libmicrohttpd's strict mode closes
        # without an answer (it was a 404 for "/index.html x", then the
        # request behind it answered too).
        rs, ended = exchange(self.d, b"GET /index.html x HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED)
        self.assertIn([r[0] for r in rs], ([], [400]), "space in target")
        self.assertIs(ended, True, "space in target")
        self.wait_rounds(1)
        self.finish("invalid methods and versions", 2, {"methods": len(methods), "versions": len(versions)})

    def test_absolute_form_targets(self):
        """Absolute-form targets are either served as the path they name or
        refused; never redirected, never another site's answer."""
        self.begin()
        for target in [b"http://x/index.html", b"http://evil.example/index.html", b"http://evil.example/",
                       b"http://evil.example", b"https://x/index.html", b"//evil.example/index.html",
                       b"http://x:80@evil.example/index.html"]:
            rs, _ = exchange(self.d, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertEqual(len(rs), 1, target)
            status, headers, body = rs[0]
            self.assertNotIn("location", headers, target)
            self.assertIn(status, (200, 400, 404), target)
            if status == 200:
                self.assertTrue(self.site.is_known(self.site.SMALL, body), target)
        self.wait_rounds(1)
        self.finish("absolute-form targets", 2)

    def test_http10_without_host(self):
        """HTTP/1.0 needs no Host: served and closed.  HTTP/1.1 without
        Host is a 400 (RFC 9112 section 3.2)."""
        self.begin()
        for i in range(5):
            rs, ended = exchange(self.d, b"GET /index.html HTTP/1.0\r\n\r\n")
            self.assertEqual(len(rs), 1)
            self.assertEqual(rs[0][0], 200)
            self.assertTrue(self.site.is_known(self.site.SMALL, rs[0][2]))
            self.assertIs(ended, True, "HTTP/1.0 without keep-alive must be closed")
            rs, ended = exchange(self.d, b"GET /health HTTP/1.0\r\n\r\n")
            self.assertEqual(rs[0][0], 200)
        self.expect_rejected_and_closed(
            [("HTTP/1.1 without Host", b"GET /index.html HTTP/1.1\r\n\r\n" + SMUGGLED)], (400,))
        self.wait_rounds(1)
        self.finish("HTTP/1.0 without Host", 2)

    def test_oversize_uris_and_heads(self):
        """Every size above the limits gets its 414 or 431 and a close."""
        self.begin()
        uri_limit = self.limits["max_uri_length"]
        head_limit = self.limits["max_header_size"]
        self.expect_rejected_and_closed(
            [("URI %d" % size, b"GET /" + b"a" * (size - 1) + b" HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED)
             for size in (uri_limit + 1, 2 * uri_limit, 16384, 65536, 70000)], (414,))
        cases = []
        for size in (head_limit + 1, 2 * head_limit, 16384, 70000, 262144):
            cases.append(("one header of %d" % size, b"GET /index.html HTTP/1.1\r\nHost: x\r\nX-Big: "
                          + b"b" * size + b"\r\n\r\n" + SMUGGLED))
            n = size // 100 + 1
            cases.append(("%d headers" % n, b"GET /index.html HTTP/1.1\r\nHost: x\r\n"
                          + b"".join(b"X-H%05d: %s\r\n" % (i, b"v" * 90) for i in range(n)) + b"\r\n"
                          + SMUGGLED))
        self.expect_rejected_and_closed(cases, (431,))
        self.wait_rounds(1)
        self.finish("oversize URIs and heads", 2)

    def test_header_flood(self):
        """Requests with heads just under max_header_size, back to back on
        keep-alive connections from several clients at once."""
        self.begin()
        head_limit = self.limits["max_header_size"]
        filler = b"".join(b"X-F%03d: %s\r\n" % (i, b"f" * 60) for i in range((head_limit - 600) // 70))
        req = b"GET /index.html HTTP/1.1\r\nHost: x\r\n" + filler + b"\r\n"
        per_conn = scaled(200, 40)
        failures = []

        def client():
            try:
                with socket.create_connection((self.d.host, self.d.port), timeout=ANSWER_TIMEOUT) as s:
                    for _ in range(per_conn):
                        s.sendall(req)
                        rs, _ = read_responses(s, time.monotonic() + ANSWER_TIMEOUT, limit=1)
                        if not rs or rs[0][0] != 200 or not self.site.is_known(self.site.SMALL, rs[0][2]):
                            failures.append(rs[:1])
                            return
            except OSError as e:
                failures.append(e)

        run_clients(client, 4, 10 * ANSWER_TIMEOUT)
        self.assertEqual(failures, [])
        self.wait_rounds(1)
        self.finish("header flood", 8, {"requests": 4 * per_conn, "head_bytes": len(req)})

    def test_pipelining_flood(self):
        """Thousands of pipelined requests written in one go on each of a
        few connections: every one answered, in order, with the right bytes."""
        self.begin()
        n = scaled(2000, 300)
        kinds = [b"/index.html", b"/health", b"/missing.html", b"/secret.html"]
        data = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % kinds[i % len(kinds)] for i in range(n))
        failures = []

        def client():
            try:
                with socket.create_connection((self.d.host, self.d.port), timeout=ANSWER_TIMEOUT) as s:
                    writer = threading.Thread(target=s.sendall, args=(data,))
                    writer.start()
                    rs, _ = read_responses(s, time.monotonic() + 10 * ANSWER_TIMEOUT, limit=n)
                    writer.join(ANSWER_TIMEOUT)
                if len(rs) != n:
                    failures.append("%d of %d answers" % (len(rs), n))
                for i, (status, headers, body) in enumerate(rs):
                    k = kinds[i % len(kinds)]
                    ok = {b"/index.html": status == 200 and self.site.is_known(self.site.SMALL, body)
                          and headers.get("etag") == etag_of(body),
                          b"/health": status == 200,
                          b"/missing.html": status == 404,
                          b"/secret.html": status == 200 and body == b"SECRET\n"}[k]
                    if not ok:
                        failures.append("answer %d to %s: %s" % (i, k, status))
                        return
            except OSError as e:
                failures.append(e)

        run_clients(client, 4, 12 * ANSWER_TIMEOUT)
        self.assertEqual(failures, [])
        self.wait_rounds(1)
        self.finish("pipelining flood", 8, {"requests": 4 * n})


if __name__ == "__main__":
    unittest.main(verbosity=2)
