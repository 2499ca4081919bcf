#!/usr/bin/python3
"""Tests of the benchmark's own arithmetic and file handling (no servers).

  /usr/bin/python3 bench/test-bench.py

- make-site writes exactly 2048 and 102400 bytes, the same bytes every time;
- report.py reads wrk's latency units right and counts errors;
- report.py's splice into BENCHMARKS.md replaces only its own block, keeps
  every other section byte for byte, and is idempotent;
- the table takes medians over rounds, the best peer per row, and judges
  targets on the right side (higher req/s, lower everything else).
"""
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("report", os.path.join(HERE, "report.py"))
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:1234/index.html
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   454.55us  235.13us   4.16ms   78.88%
    Req/Sec    70.17k     5.96k   76.70k    73.33%
  Latency Distribution
     50%  349.00us
     75%  553.00us
     90%  819.00us
     99%  {p99}
  209047 requests in 3.00s, 449.96MB read
{extra}Requests/sec:  69610.66
Transfer/sec:    149.83MB
"""


def run_parse(text):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(text)
    try:
        out = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), "parse-wrk",
                              f.name], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    return out.split()


class MakeSite(unittest.TestCase):
    def test_sizes_and_determinism(self):
        digests = []
        for _ in range(2):
            with tempfile.TemporaryDirectory() as d:
                subprocess.run([os.path.join(HERE, "make-site"), d], check=True)
                self.assertEqual(os.path.getsize(os.path.join(d, "index.html")), 2048)
                self.assertEqual(os.path.getsize(os.path.join(d, "file-100k.bin")), 102400)
                with open(os.path.join(d, "health"), "rb") as f:
                    self.assertEqual(f.read(), b"OK\n")
                with open(os.path.join(d, "index.html"), "rb") as f:
                    page = f.read()
                self.assertTrue(page.startswith(b"<!DOCTYPE html>"))
                self.assertNotIn(b"<!---", page)  # "--" inside a comment is invalid
                h = hashlib.sha256()
                for name in ("index.html", "file-100k.bin"):
                    with open(os.path.join(d, name), "rb") as f:
                        h.update(f.read())
                digests.append(h.hexdigest())
        self.assertEqual(digests[0], digests[1])


class ParseWrk(unittest.TestCase):
    def test_units(self):
        for p99, ms in (("812.00us", "0.812"), ("1.25ms", "1.250"), ("1.50s", "1500.000")):
            fields = run_parse(WRK_OUTPUT.format(p99=p99, extra=""))
            self.assertEqual(fields, ["209047", "3.000", "69610.66", ms, "0"], p99)

    def test_errors_counted(self):
        extra = ("  Socket errors: connect 1, read 2, write 3, timeout 4\n"
                 "  Non-2xx or 3xx responses: 10\n")
        fields = run_parse(WRK_OUTPUT.format(p99="1.00ms", extra=extra))
        self.assertEqual(fields[4], "20")


class Splice(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "BENCHMARKS.md")

    def tearDown(self):
        self.dir.cleanup()

    def read(self):
        with open(self.path) as f:
            return f.read()

    def test_new_file(self):
        report.splice(self.path, "table one\n")
        text = self.read()
        self.assertIn(report.HEADING + "\n\n" + report.BEGIN + "\ntable one\n" + report.END,
                      text)

    def test_other_sections_untouched_and_idempotent(self):
        before = "# Benchmarks\n\n## The agent's footprint\n\nnumbers by someone else\n"
        after = "\n## Later section\n\nmore text\n"
        with open(self.path, "w") as f:
            f.write(before + "\n" + report.HEADING + "\n\nold intro kept\n" + after)
        report.splice(self.path, "table one\n")
        first = self.read()
        self.assertTrue(first.startswith(before))
        self.assertTrue(first.endswith(after))
        self.assertIn("old intro kept", first)
        report.splice(self.path, "table two\n")
        second = self.read()
        self.assertNotIn("table one", second)
        self.assertEqual(second, first.replace("table one", "table two"))
        report.splice(self.path, "table two\n")
        self.assertEqual(self.read(), second)

    def test_heading_missing_appends(self):
        with open(self.path, "w") as f:
            f.write("# Benchmarks\n\n## Other\n\ntext")
        report.splice(self.path, "t\n")
        text = self.read()
        self.assertTrue(text.startswith("# Benchmarks\n\n## Other\n\ntext\n"))
        self.assertTrue(text.endswith(report.HEADING + "\n\n" + report.BEGIN + "\nt\n" +
                                      report.END + "\n"))


class Table(unittest.TestCase):
    def write(self, d, name, header, rows):
        with open(os.path.join(d, name), "w") as f:
            f.write("\t".join(header) + "\n")
            for r in rows:
                f.write("\t".join(str(x) for x in r) + "\n")

    def test_medians_best_peer_and_targets(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "meta.tsv"), "w") as f:
                f.write("date\tD\nhz\t100\n")
            wrk = []
            # asg-health: 2 KB 110k (median of 100k, 110k, 120k), CPU 6 us;
            # lighttpd: 100k, nginx-sendfile: 90k.
            for rnd, (a, l, n) in enumerate(((100e3, 100e3, 90e3), (110e3, 90e3, 80e3),
                                             (120e3, 110e3, 95e3)), 1):
                for server, rps in (("asg-health", a), ("lighttpd", l), ("nginx-sendfile", n)):
                    for url in ("/index.html", "/file-100k.bin", "/health"):
                        requests = int(rps * 10)
                        ticks = int(requests * 6e-6 * 100)  # 6 us per request
                        wrk.append((rnd, server, url, requests, 10, rps, 0.5, ticks, 3000, 0))
            self.write(d, "wrk.tsv", ["round", "server", "url", "requests", "seconds", "rps",
                                      "p99_ms", "cpu_ticks", "rss_max_kib", "errors"], wrk)
            self.write(d, "strace.tsv", ["server", "url", "requests", "syscalls"],
                       [("asg-health", "/index.html", 1000, 2100),
                        ("lighttpd", "/index.html", 1000, 3100),
                        ("nginx-sendfile", "/index.html", 1000, 5000)])
            self.write(d, "first200.tsv", ["server", "first200_ms"],
                       [("asg-health", 5), ("asg-health", 50), ("asg-health", 6),
                        ("lighttpd", 12)])
            self.write(d, "idle.tsv", ["server", "rss_idle_kib"],
                       [("asg-health", 6 * 1024), ("lighttpd", 2560)])
            self.write(d, "probe.tsv", ["round", "server", "samples", "p50_ms", "p99_ms",
                                        "max_ms", "errors"],
                       [(1, "asg-health", 100, 0.1, 0.8, 1, 0),
                        (1, "lighttpd", 100, 0.1, 0.9, 1, 0)])
            text, misses = report.render(d)
        rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()
                if line.startswith("| ")}
        small = rows["req/s, 2 KB index.html"]
        self.assertIn("| 110,000 | 100,000 | 90,000 | 100,000 (lighttpd) | 1.10× |", small)
        self.assertIn("✅", small)  # 1.10 >= 1.1
        self.assertIn("0.68×", rows["system calls/request, 2 KB index.html"])
        self.assertIn("✅", rows["system calls/request, 2 KB index.html"])
        self.assertIn("| 6.00 |", rows["CPU µs/request, 2 KB index.html"])
        self.assertIn("✅", rows["CPU µs/request, 2 KB index.html"])
        self.assertIn("❌", rows["RSS idle MiB"])  # 6 MiB > 5 MiB
        self.assertIn("| 6.0 |", rows["exec → first 200 ms (median)"])  # median of 5, 6, 50
        self.assertIn("✅", rows["exec → first 200 ms (median)"])
        self.assertEqual(misses, ["RSS idle MiB"])


if __name__ == "__main__":
    unittest.main()
