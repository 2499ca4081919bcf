"""Request limits: 414 for a long URI, 431 for large headers, 413 for a
request body, 405 for other methods, and a keep-alive connection kept
longer than the ALB's 60 s idle timeout by default."""

import socket
import unittest

from asgtest import Health, write


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = Health(config={"max_uri_length": 1024, "max_header_size": 4096}, start=False)
        write(cls.h.root + "/index.html", b"ok\n")
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def test_uri_too_long(self):
        self.assertEqual(self.h.raw_status(b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414)
        self.assertEqual(self.h.raw_status(b"GET /" + b"a" * 900 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 404)

    def test_header_fields_too_large(self):
        big = b"X-Big: " + b"b" * 6000 + b"\r\n"
        self.assertEqual(self.h.raw_status(b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n"), 431)
        many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(60))
        self.assertEqual(self.h.raw_status(b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"), 431)
        small = b"X-Small: " + b"s" * 1000 + b"\r\n"
        self.assertEqual(self.h.raw_status(b"GET / HTTP/1.1\r\nHost: x\r\n" + small + b"\r\n"), 200)

    def test_request_body_refused(self):
        self.assertEqual(self.h.raw_status(
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"), 413)
        self.assertEqual(self.h.raw_status(
            b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 413)
        self.assertEqual(self.h.raw_status(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"), 405)

    def test_bad_request_line(self):
        status = self.h.raw_status(b"GARBAGE\r\n\r\n")
        self.assertIn(status, (400, None))

    def test_idle_keep_alive_outlives_alb_timeout_setting(self):
        cfg = self.h.status()
        # the effective timeout is what --check-config prints
        import subprocess
        from asgtest import HEALTH_BIN
        out = subprocess.run([HEALTH_BIN, "--config", self.h.config_path, "--check-config"],
                             capture_output=True, text=True, check=True).stdout
        import json
        self.assertEqual(json.loads(out)["connection_timeout"], "75000ms")
        self.assertIn("version", cfg)
        # and an idle connection is still open after a short pause
        with socket.create_connection((self.h.host, self.h.port)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(4096)
            s.settimeout(1.5)
            try:
                data = s.recv(1)
                self.assertNotEqual(data, b"", "server closed an idle keep-alive connection")
            except socket.timeout:
                pass
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            self.assertIn(b"200 OK", s.recv(4096))


if __name__ == "__main__":
    unittest.main(verbosity=2)
