#!/usr/bin/python3
"""bench/run's arithmetic and markdown, kept out of the shell script.

  report.py parse-wrk FILE
      Prints "requests seconds rps p99_ms errors" from one wrk --latency
      output (errors: non-2xx/3xx responses plus socket errors).
  report.py table RESULTS_DIR [--write BENCHMARKS.md]
      Reads RESULTS_DIR/{meta,wrk,strace,first200,idle}.tsv, prints the
      markdown section, and with --write replaces the part of the file
      between the markers under "## asg-health vs lighttpd and nginx"
      (creating the file, heading or markers as needed; nothing else in
      the file is touched).
"""
import csv
import os
import re
import statistics
import sys

HEADING = "## asg-health vs lighttpd and nginx"
BEGIN = "<!-- bench/run: begin (generated; edit bench/report.py, not this) -->"
END = "<!-- bench/run: end -->"

NAMES = {
    "asg-health": "asg-health",
    "asg-health-alt": "asg-health-alt",
    "lighttpd": "lighttpd",
    "lighttpd-w2": "lighttpd, 2 workers",
    "lighttpd-copy": "lighttpd (copy)",
    "nginx-sendfile": "nginx, sendfile on",
    "nginx-nosendfile": "nginx, sendfile off",
}
ORDER = list(NAMES)
ANCHOR = "asg-health"
URLS = [
    ("/index.html", "2 KB index.html"),
    ("/file-100k.bin", "100 KB file"),
    ("/health", "/health"),
]

UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(path):
    with open(path) as f:
        text = f.read()
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", text, re.M)
    if not m:
        raise SystemExit("report: no request count in %s" % path)
    requests = int(m.group(1))
    seconds = float(m.group(2)) * UNIT_MS[m.group(3)] / 1e3
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    rps = float(m.group(1)) if m else requests / seconds
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    if not m:
        raise SystemExit("report: no 99%% latency in %s (was --latency given?)" % path)
    p99 = float(m.group(1)) * UNIT_MS[m.group(2)]
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    print(requests, "%.3f" % seconds, "%.2f" % rps, "%.3f" % p99, errors)


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = value
    return meta


class Row:
    """One line of the table: a value per server and how to judge it."""

    def __init__(self, label, values, higher_is_better, fmt, target=None):
        self.label = label
        self.values = values  # server -> float or None
        self.higher = higher_is_better
        self.fmt = fmt
        self.target = target  # (text, predicate(anchor_value, ratio)) or None


def collect(results):
    meta = read_meta(os.path.join(results, "meta.tsv"))
    hz = float(meta.get("hz", "100"))
    wrk = read_tsv(os.path.join(results, "wrk.tsv"))
    strace = read_tsv(os.path.join(results, "strace.tsv"))
    first = read_tsv(os.path.join(results, "first200.tsv"))
    idle = read_tsv(os.path.join(results, "idle.tsv"))

    servers = [s for s in ORDER if any(r["server"] == s for r in wrk)]
    per = {}  # (server, url) -> list of round dicts
    errors = 0
    for r in wrk:
        per.setdefault((r["server"], r["url"]), []).append(r)
        errors += int(r["errors"])

    def med(server, url, fn):
        rows = per.get((server, url))
        return statistics.median(fn(r) for r in rows) if rows else None

    rps = lambda r: float(r["rps"])
    p99 = lambda r: float(r["p99_ms"])
    cpu = lambda r: float(r["cpu_ticks"]) / hz * 1e6 / max(int(r["requests"]), 1)

    rows = []
    for url, label in URLS:
        target = None
        if url == "/index.html":
            target = ("≥ 1.1× best peer", lambda v, q: q >= 1.1)
        elif url == "/health":
            target = ("≥ 1.1× best peer", lambda v, q: q >= 1.1)
        else:
            target = ("≥ 1.0× best peer", lambda v, q: q >= 1.0)
        rows.append(Row("req/s, " + label, {s: med(s, url, rps) for s in servers}, True,
                        "{:,.0f}", target))
    for url, label in URLS:
        rows.append(Row("p99 latency ms, " + label, {s: med(s, url, p99) for s in servers},
                        False, "{:.2f}"))
    probes = {}
    for r in read_tsv(os.path.join(results, "probe.tsv")):
        probes.setdefault(r["server"], []).append(r)
        errors += int(r["errors"])
    rows.append(Row("/health p99 ms, probed every 10 ms beside the 2 KB load",
                    {s: statistics.median(float(r["p99_ms"]) for r in v)
                     for s, v in probes.items() if s in servers},
                    False, "{:.2f}", ("< 1 ms", lambda v, q: v < 1.0)))
    for url, label in URLS:
        target = ("≤ 7 µs", lambda v, q: v <= 7.0) if url == "/index.html" else None
        rows.append(Row("CPU µs/request, " + label, {s: med(s, url, cpu) for s in servers},
                        False, "{:.2f}", target))
    for url, label in URLS:
        vals = {}
        for r in strace:
            if r["url"] == url and r["server"] in servers:
                vals[r["server"]] = float(r["syscalls"]) / float(r["requests"])
        target = ("≤ 2.5", lambda v, q: v <= 2.5) if url == "/index.html" else None
        rows.append(Row("system calls/request, " + label, vals, False, "{:.2f}", target))
    rows.append(Row("RSS idle MiB",
                    {r["server"]: float(r["rss_idle_kib"]) / 1024 for r in idle
                     if r["server"] in servers},
                    False, "{:.2f}", ("≤ 5 MiB", lambda v, q: v <= 5.0)))
    load = {}
    for r in wrk:
        load[r["server"]] = max(load.get(r["server"], 0.0), float(r["rss_max_kib"]) / 1024)
    rows.append(Row("RSS under load MiB (highest sample)", load, False, "{:.2f}"))
    f200 = {}
    for r in first:
        f200.setdefault(r["server"], []).append(float(r["first200_ms"]))
    rows.append(Row("exec → first 200 ms (median)",
                    {s: statistics.median(v) for s, v in f200.items()}, False, "{:.1f}",
                    ("≤ 10 ms", lambda v, q: v <= 10.0)))
    return meta, servers, per, rows, errors


def render(results):
    meta, servers, per, rows, errors = collect(results)
    peers = [s for s in servers if not s.startswith(ANCHOR)]
    have_anchor = ANCHOR in servers
    out = []
    out.append("Measured on %s: %s, %s cores, Linux %s; nginx %s, lighttpd %s, asg-health %s." % (
        meta.get("date", "?"), meta.get("cpu", "?"), meta.get("nproc", "?"),
        meta.get("kernel", "?"), meta.get("nginx", "?"), meta.get("lighttpd", "?"),
        meta.get("asg-health", "none")))
    if "loadavg" in meta:
        out.append("Load average (1, 5, 15 min) %s (this run's own load included): other "
                   "work on the machine shared its cores, so compare ratios, which come from "
                   "the same minutes, rather than absolute numbers across runs." % meta["loadavg"])
    if "asg-health-alt" in meta:
        out.append("asg-health-alt: %s." % meta["asg-health-alt"])
    out.append("Load: %s, servers alternating within each round; each cell is the median "
               "over rounds. System calls: `strace -c -f` over exactly %s keep-alive "
               "requests (`ab -k -c %s`). Regenerate with `bench/run`." % (
                   meta.get("wrk", "?"), meta.get("strace_requests", "?"),
                   meta.get("connections", "?")))
    out.append("")
    head = ["metric"] + [NAMES[s] for s in servers] + ["best peer"]
    if have_anchor:
        head += ["asg-health ÷ best peer", "target"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    misses = []
    for row in rows:
        cells = [row.label]
        for s in servers:
            v = row.values.get(s)
            cells.append("–" if v is None else row.fmt.format(v))
        pv = [(row.values[s], s) for s in peers if row.values.get(s) is not None]
        best = (max(pv) if row.higher else min(pv)) if pv else None
        cells.append("–" if best is None else "%s (%s)" % (row.fmt.format(best[0]), NAMES[best[1]]))
        if have_anchor:
            a = row.values.get(ANCHOR)
            ratio = a / best[0] if (a is not None and best and best[0] > 0) else None
            cells.append("–" if ratio is None else "%.2f×" % ratio)
            ratio_target = row.target and "best peer" in row.target[0]
            if row.target and a is not None and (ratio is not None or not ratio_target):
                ok = row.target[1](a, ratio)
                cells.append("%s %s" % (row.target[0], "✅" if ok else "❌ missed"))
                if not ok:
                    misses.append(row.label)
            else:
                cells.append("")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("Ratios are asg-health's value divided by the best peer's: above 1 is better for "
               "req/s, below 1 is better for every other row. For lighttpd and nginx `/health` "
               "is a static file `health` in the root (the classic recipe); for asg-health it is "
               "its health endpoint. wrk's p99 is that of 50 connections in a closed loop, where every "
               "request queues behind the others (mean latency = 50 / req/s); the probe row is "
               "what a load balancer sees: one request at a time beside that load. nginx's RSS is the sum over its master and workers. "
               "lighttpd runs with `server.max-worker = 0` (one process), which was faster here "
               "than 2 workers (bench/README.md).")
    if errors:
        out.append("")
        out.append("**Warning:** wrk or the probe saw %d non-2xx responses or socket errors in this run; "
                   "see the raw output." % errors)
    if have_anchor:
        out.append("")
        out.append("Targets missed in this run: %s." % (", ".join(misses) if misses else "none"))
    out.append("")
    out.append("<details><summary>req/s in each round</summary>")
    out.append("")
    out.append("| server | URL | " + " | ".join(
        "round %d" % (i + 1) for i in range(max(len(v) for v in per.values()))) + " |")
    out.append("|---|---|" + "---:|" * max(len(v) for v in per.values()))
    for s in servers:
        for url, _ in URLS:
            rs = per.get((s, url), [])
            out.append("| %s | %s | %s |" % (NAMES[s], url, " | ".join(
                "{:,.0f}".format(float(r["rps"])) for r in rs)))
    out.append("")
    out.append("</details>")
    return "\n".join(out) + "\n", misses


def splice(path, section):
    block = BEGIN + "\n" + section + END + "\n"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmarks\n\nPerformance claims about asg-health come from these runs.\n"
    if BEGIN in text and END in text:
        a = text.index(BEGIN)
        b = text.index(END) + len(END)
        if b < len(text) and text[b] == "\n":
            b += 1
        text = text[:a] + block + text[b:]
    elif HEADING in text:
        lines = text.split("\n")
        i = lines.index(HEADING)
        lines[i + 1:i + 1] = ["", block.rstrip("\n")]
        text = "\n".join(lines)
    else:
        if not text.endswith("\n"):
            text += "\n"
        text += "\n" + HEADING + "\n\n" + block
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    if len(argv) == 3 and argv[1] == "parse-wrk":
        parse_wrk(argv[2])
        return 0
    if len(argv) in (3, 5) and argv[1] == "table":
        section, misses = render(argv[2])
        sys.stdout.write(section)
        if len(argv) == 5:
            if argv[3] != "--write":
                raise SystemExit(__doc__)
            splice(argv[4], section)
            sys.stderr.write("report: updated %s\n" % argv[4])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
