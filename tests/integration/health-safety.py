"""Path safety against the real daemon: traversal attempts (plain,
encoded, double-encoded), encoded slashes and NUL, and symlinks that point
out of the root must never serve anything outside it."""

import os
import unittest

from asgtest import Health, write

SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT\n"


class SafetyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = Health(start=False)
        root = cls.h.root
        cls.outside = os.path.join(cls.h.tmp, "outside")
        write(os.path.join(cls.outside, "secret.txt"), SECRET)
        write(os.path.join(root, "index.html"), b"index\n")
        write(os.path.join(root, "dir/page.html"), b"page\n")
        write(os.path.join(root, "docs/index.html"), b"docs\n")
        write(os.path.join(root, "odd name/index.html"), b"odd\n")
        write(os.path.join(root, "%2e%2e/x"), b"literal percent name\n")
        os.symlink(os.path.join(cls.outside, "secret.txt"), os.path.join(root, "abs-link.txt"))
        os.symlink("../outside/secret.txt", os.path.join(root, "rel-link.txt"))
        os.symlink(cls.outside, os.path.join(root, "outdir"))
        os.symlink("dir/page.html", os.path.join(root, "inside-link.html"))
        os.mkfifo(os.path.join(root, "fifo"))
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def raw_get(self, target):
        return self.h.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    def assertNoSecret(self, answer, target):
        self.assertNotIn(b"TOP-SECRET", answer, target)
        self.assertNotIn(b"root:x:0:0", answer, target)

    def test_traversal_rejected(self):
        for target in [b"/../outside/secret.txt", b"/../../../../etc/passwd",
                       b"/dir/../../outside/secret.txt", b"/%2e%2e/outside/secret.txt",
                       b"/%2E%2E/%2E%2E/etc/passwd", b"/dir/%2e%2e/%2e%2e/etc/passwd",
                       b"/..%2foutside%2fsecret.txt", b"/dir%2f..%2f..%2fetc%2fpasswd",
                       b"/index.html%00.txt", b"/%zz", b"/%"]:
            answer = self.raw_get(target)
            self.assertNoSecret(answer, target)
            status = int(answer.split(b" ", 2)[1])
            self.assertEqual(status, 400, target)

    def test_double_encoding_is_a_literal_name(self):
        answer = self.raw_get(b"/%252e%252e/x")
        self.assertIn(b" 200 ", answer.split(b"\r\n")[0])
        self.assertIn(b"literal percent name", answer)
        answer = self.raw_get(b"/%252e%252e/outside/secret.txt")
        self.assertNoSecret(answer, "double")
        self.assertIn(b" 404 ", answer.split(b"\r\n")[0])

    def test_absolute_target_forms(self):
        for target in [b"http://x/../../etc/passwd", b"*", b"etc/passwd"]:
            answer = self.raw_get(target)
            self.assertNoSecret(answer, target)
            self.assertNotIn(b" 200 ", answer.split(b"\r\n")[0], target)

    def test_directory_redirect_stays_on_site(self):
        # issue 9, item 1: the Location was the raw target plus "/"
        for target, want in [(b"//evil.example/../docs", b"/docs/"),
                             (b"//evil.example/%2e%2e/docs", b"/docs/"),
                             (b"/\\evil.example/../docs", b"/docs/"),
                             (b"/docs", b"/docs/"), (b"///docs", b"/docs/"),
                             (b"/dir/../docs", b"/docs/"), (b"/d%6fcs", b"/docs/"),
                             (b"/odd%20name", b"/odd%20name/")]:
            answer = self.raw_get(target)
            head = answer.split(b"\r\n\r\n")[0].split(b"\r\n")
            self.assertIn(b" 301 ", head[0], target)
            location = [h.split(b":", 1)[1].strip() for h in head
                        if h.lower().startswith(b"location:")]
            self.assertEqual(location, [want], target)
        for target in [b"/\\evil.example/..", b"//evil.example/..", b"/./"]:
            answer = self.raw_get(target)
            for line in answer.split(b"\r\n\r\n")[0].split(b"\r\n"):
                if line.lower().startswith(b"location:"):
                    value = line.split(b":", 1)[1].strip()
                    self.assertTrue(value.startswith(b"/") and value[1:2] not in (b"/", b"\\"),
                                    (target, value))

    def test_huge_range_is_unsatisfiable(self):
        for value in [b"bytes=18446744073709551615-", b"bytes=99999999999999999999999-"]:
            answer = self.h.raw(b"GET /index.html HTTP/1.1\r\nHost: x\r\nRange: " + value +
                                b"\r\nConnection: close\r\n\r\n")
            self.assertIn(b" 416 ", answer.split(b"\r\n")[0], value)

    def test_symlinks_out_of_root(self):
        for path in ["/abs-link.txt", "/rel-link.txt", "/outdir/secret.txt", "/outdir/"]:
            r = self.h.get(path)
            self.assertEqual(r.status, 404, path)
            self.assertNoSecret(r.body, path)

    def test_symlink_inside_root_is_served(self):
        r = self.h.get("/inside-link.html")
        self.assertEqual((r.status, r.body), (200, b"page\n"))

    def test_fifo_never_opened(self):
        r = self.h.get("/fifo")
        self.assertEqual(r.status, 404)

    def test_normalised_paths_still_work(self):
        self.assertEqual(self.h.get("/dir/./page.html").body, b"page\n")
        self.assertEqual(self.h.get("//dir//page.html").body, b"page\n")
        self.assertEqual(self.h.get("/dir/../index.html").body, b"index\n")
        self.assertEqual(self.h.get("/dir/page%2Ehtml").body, b"page\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
