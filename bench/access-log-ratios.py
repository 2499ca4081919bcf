#!/usr/bin/python3
"""The access log's cost, from one bench/run with the log-on variants.

  bench/access-log-ratios.py RESULTS_DIR

Reads RESULTS_DIR/{wrk,strace,meta}.tsv of a run with
--servers asg-health,asg-health-log,lighttpd,lighttpd-log,nginx-sendfile,nginx-log
and prints the markdown table for BENCHMARKS.md's "## Access log": for each
server, median req/s over the rounds with the log off and on, their ratio
(the target for asg-health is >= 0.9x), CPU us per request and system calls
per request with the log on.  Each pair ran in the same rounds, alternating,
so a slow spell of the machine hits both alike.
"""
import csv
import os
import statistics
import sys

PAIRS = [("asg-health", "asg-health-log", "asg-health"),
         ("lighttpd", "lighttpd-log", "lighttpd"),
         ("nginx-sendfile", "nginx-log", "nginx (sendfile on)")]
URLS = [("/index.html", "2 KB"), ("/file-100k.bin", "100 KB"), ("/health", "/health")]


def read_tsv(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def main(results):
    wrk = read_tsv(os.path.join(results, "wrk.tsv"))
    strace = read_tsv(os.path.join(results, "strace.tsv"))
    meta = dict(l.rstrip("\n").split("\t", 1) for l in open(os.path.join(results, "meta.tsv")))
    hz = int(meta.get("hz", "100"))

    def cell(server, url, what):
        rows = [r for r in wrk if r["server"] == server and r["url"] == url]
        if not rows:
            return None
        if what == "rps":
            return statistics.median(float(r["rps"]) for r in rows)
        return statistics.median(int(r["cpu_ticks"]) / hz * 1e6 / int(r["requests"])
                                 for r in rows)

    def calls(server, url):
        for r in strace:
            if r["server"] == server and r["url"] == url:
                return int(r["syscalls"]) / int(r["requests"])
        return None

    print("| server | URL | req/s, log off | req/s, log on | on / off | CPU µs/req off → on "
          "| syscalls/req off → on |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for off, on, name in PAIRS:
        for url, label in URLS:
            a, b = cell(off, url, "rps"), cell(on, url, "rps")
            if a is None or b is None:
                continue
            ca, cb = cell(off, url, "cpu"), cell(on, url, "cpu")
            sa, sb = calls(off, url), calls(on, url)
            print("| %s | %s | %.0f | %.0f | **%.2fx** | %.1f → %.1f | %s |"
                  % (name, label, a, b, b / a, ca, cb,
                     "%.2f → %.2f" % (sa, sb) if sa is not None and sb is not None else "–"))
    print()
    print("Run: %s, %s; load average %s." % (meta.get("date", "?"), meta.get("wrk", "?"),
                                               meta.get("loadavg", "?")))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
