"""asg-health static serving, driven over HTTP against the real daemon:
methods, index and redirects, MIME, content ETags, conditional GET, Range,
precompressed representations, Cache-Control, 404 page, keep-alive, and
a site rewrite picked up without a restart."""

import gzip
import hashlib
import os
import time
import unittest

from asgtest import Health, write, wait_for

INDEX = b"<!doctype html><title>t</title><p>hello</p>\n"
CSS = b"body { color: #123; }\n" * 20


def make_site(root, mtime=1_600_000_000):
    write(os.path.join(root, "index.html"), INDEX, mtime)
    write(os.path.join(root, "css/site.css"), CSS, mtime)
    write(os.path.join(root, "css/site.css.gz"), gzip.compress(CSS), mtime)
    write(os.path.join(root, "css/site.css.br"), b"fake-brotli-bytes", mtime)
    write(os.path.join(root, "about/index.html"), b"about\n", mtime)
    write(os.path.join(root, "empty/.keep"), b"", mtime)
    write(os.path.join(root, "404.html"), b"<h1>custom not found</h1>\n", mtime)
    write(os.path.join(root, "img/a.png"), b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, mtime)
    write(os.path.join(root, "assets/app.js"), b"console.log(1);\n", mtime)
    write(os.path.join(root, "big.bin"), os.urandom(3 * 1024 * 1024), mtime)
    write(os.path.join(root, ".env"), b"SECRET=1\n", mtime)


class StaticTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = Health(config={
            "cache_control": [
                {"prefix": "/assets/", "value": "public, max-age=31536000, immutable"},
                {"extension": "html", "value": "no-cache"},
            ],
            "cache_revalidate": "100ms",
        }, start=False)
        make_site(cls.h.root)
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def test_get_and_head(self):
        r = self.h.get("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, INDEX)
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(r.header("cache-control"), "no-cache")
        self.assertEqual(r.header("accept-ranges"), "bytes")
        self.assertEqual(r.header("last-modified"), "Sun, 13 Sep 2020 12:26:40 GMT")
        head = self.h.request("HEAD", "/index.html")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(head.header("content-length"), str(len(INDEX)))
        self.assertEqual(head.header("etag"), r.header("etag"))

    def test_directory_redirect_and_index(self):
        r = self.h.get("/about")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("location"), "/about/")
        r = self.h.get("/about/")
        self.assertEqual((r.status, r.body), (200, b"about\n"))

    def test_no_directory_listing(self):
        r = self.h.get("/empty/")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"<h1>custom not found</h1>\n")

    def test_custom_404(self):
        r = self.h.get("/nope.html")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"<h1>custom not found</h1>\n")
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        self.assertIsNone(r.header("etag"))

    def test_dotfiles_hidden(self):
        self.assertEqual(self.h.get("/.env").status, 404)

    def test_method_not_allowed(self):
        for m in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            r = self.h.request(m, "/index.html")
            self.assertEqual(r.status, 405, m)
            self.assertEqual(r.header("allow"), "GET, HEAD")

    def test_mime(self):
        self.assertEqual(self.h.get("/css/site.css").header("content-type"),
                         "text/css; charset=utf-8")
        self.assertEqual(self.h.get("/img/a.png").header("content-type"), "image/png")
        self.assertEqual(self.h.get("/assets/app.js").header("content-type"),
                         "text/javascript; charset=utf-8")

    def test_cache_control_rules(self):
        self.assertEqual(self.h.get("/assets/app.js").header("cache-control"),
                         "public, max-age=31536000, immutable")
        self.assertIsNone(self.h.get("/img/a.png").header("cache-control"))

    def test_etag_is_content_hash_shared_across_instances(self):
        # A second instance with the same bytes but another mtime and inode
        # must give the same ETag: behind the ALB the next request lands
        # elsewhere.
        with Health(start=False) as other:
            write(os.path.join(other.root, "index.html"), INDEX, 1_700_000_000)
            other.start()
            a = self.h.get("/index.html").header("etag")
            b = other.get("/index.html").header("etag")
        self.assertEqual(a, b)
        self.assertEqual(a, '"%s"' % hashlib.sha256(INDEX).hexdigest()[:32])

    def test_conditional(self):
        r = self.h.get("/index.html")
        etag, lm = r.header("etag"), r.header("last-modified")
        r = self.h.get("/index.html", {"If-None-Match": etag})
        self.assertEqual(r.status, 304)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("etag"), etag)
        self.assertEqual(self.h.get("/index.html", {"If-None-Match": '"x", ' + etag}).status, 304)
        self.assertEqual(self.h.get("/index.html", {"If-None-Match": "W/" + etag}).status, 304)
        self.assertEqual(self.h.get("/index.html", {"If-None-Match": '"nope"'}).status, 200)
        self.assertEqual(self.h.get("/index.html", {"If-Modified-Since": lm}).status, 304)
        self.assertEqual(self.h.get("/index.html",
                                    {"If-Modified-Since": "Sat, 12 Sep 2020 00:00:00 GMT"}).status, 200)
        # If-None-Match wins over If-Modified-Since
        self.assertEqual(self.h.get("/index.html", {"If-None-Match": '"nope"',
                                                    "If-Modified-Since": lm}).status, 200)

    def test_range(self):
        r = self.h.get("/index.html", {"Range": "bytes=0-4"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, INDEX[:5])
        self.assertEqual(r.header("content-range"), "bytes 0-4/%d" % len(INDEX))
        r = self.h.get("/index.html", {"Range": "bytes=-3"})
        self.assertEqual((r.status, r.body), (206, INDEX[-3:]))
        r = self.h.get("/index.html", {"Range": "bytes=9999-"})
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header("content-range"), "bytes */%d" % len(INDEX))
        r = self.h.get("/index.html", {"Range": "bytes=0-1,3-4"})
        self.assertEqual((r.status, r.body), (200, INDEX))
        etag = self.h.get("/index.html").header("etag")
        self.assertEqual(self.h.get("/index.html", {"Range": "bytes=0-1", "If-Range": etag}).status, 206)
        self.assertEqual(self.h.get("/index.html", {"Range": "bytes=0-1", "If-Range": '"old"'}).status, 200)

    def test_large_file_by_sendfile_with_range(self):
        with open(os.path.join(self.h.root, "big.bin"), "rb") as f:
            data = f.read()
        r = self.h.get("/big.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), len(data))
        self.assertEqual(r.body, data)
        self.assertEqual(r.header("etag"), '"%s"' % hashlib.sha256(data).hexdigest()[:32])
        r = self.h.get("/big.bin", {"Range": "bytes=1048576-1048675"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, data[1048576:1048676])

    def test_precompressed(self):
        r = self.h.get("/css/site.css", {"Accept-Encoding": "gzip"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(r.header("vary"), "Accept-Encoding")
        self.assertEqual(r.header("content-type"), "text/css; charset=utf-8")
        self.assertEqual(gzip.decompress(r.body), CSS)
        r = self.h.get("/css/site.css", {"Accept-Encoding": "gzip, br"})
        self.assertEqual(r.header("content-encoding"), "br")
        self.assertEqual(r.body, b"fake-brotli-bytes")
        r = self.h.get("/css/site.css")
        self.assertIsNone(r.header("content-encoding"))
        self.assertEqual(r.header("vary"), "Accept-Encoding")
        self.assertEqual(r.body, CSS)
        r = self.h.get("/css/site.css", {"Accept-Encoding": "br;q=0, gzip"})
        self.assertEqual(r.header("content-encoding"), "gzip")
        # representations have their own validators
        self.assertNotEqual(self.h.get("/css/site.css", {"Accept-Encoding": "gzip"}).header("etag"),
                            self.h.get("/css/site.css").header("etag"))

    def test_keep_alive_reuses_one_connection(self):
        before = self.h.status()["connections"]
        conn = self.h.connection()
        try:
            r1 = self.h.get("/index.html", conn=conn)
            sock = conn.sock
            r2 = self.h.get("/css/site.css", conn=conn)
            r3 = self.h.get("/health", conn=conn)
            self.assertEqual((r1.status, r2.status, r3.status), (200, 200, 200))
            self.assertIs(conn.sock, sock, "client had to reconnect")
            self.assertIsNone(r1.header("connection"))
            self.assertEqual(self.h.status()["connections"], before + 1)
        finally:
            conn.close()

    def test_rewrite_without_restart(self):
        path = os.path.join(self.h.root, "deploy.txt")
        write(path, b"version 1\n")
        self.assertEqual(self.h.get("/deploy.txt").body, b"version 1\n")
        # the deploy way: write aside, rename over
        write(path + ".tmp", b"version 2, longer\n")
        os.rename(path + ".tmp", path)
        wait_for(lambda: self.h.get("/deploy.txt").body == b"version 2, longer\n",
                 timeout=5, what="the new file to be served")
        os.unlink(path)
        wait_for(lambda: self.h.get("/deploy.txt").status == 404, timeout=5,
                 what="the deleted file to be gone")

    def test_health_endpoints(self):
        r = self.h.get("/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "healthy", "failing": []})
        self.assertEqual(r.header("cache-control"), "no-store")
        # the verbose document is the control socket's (issue 9, item 3)
        r = self.h.get("/health?verbose")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "healthy", "failing": []})
        status, doc = self.h.control_request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertIn("checks", doc)
        self.assertEqual(self.h.get("/health/live").status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
