"""Both daemons' /metrics against the real Prometheus (Debian's prometheus
package, issue 12 section 2).

A real asg-health (metrics_listen on a free port) and a real asg-agent
(metrics_listen too) under a launching hook, as lifecyclelib sets them up,
then:
- asg-health's counters move by exactly what the test did: requests by
  method and status class, and bytes written equal to the bytes the
  client received; an informational check flapped on purpose flips its
  state gauge and counts two transitions; probes are counted per prober;
  a drain sets draining and, after the unhealthy threshold of probes,
  drain_confirmed;
- the agent's lifecycle gauge says ready after the hook's CONTINUE, which
  is counted once, with its AWS call; a publish is counted;
- `promtool check metrics` passes on all four outputs (both sockets, both
  metrics_listen addresses) after that traffic;
- a Prometheus server started here (own config, storage and port in the
  temporary directory) scrapes both addresses every second and answers
  queries through /api/v1/query: the request counter at the value the test
  knows, the agent's ready state, and the check's state gauge as it flips
  both ways.  Every wait polls with a bound; the server is stopped by PID.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import agentlib
import asgtest
import lifecyclelib
from agentlib import check, wait_until
from lifecyclelib import LAUNCH_HOOK

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def parse(text):
    """{(name, frozenset(labels)): value} from the text format (our own
    output: one sample a line, no timestamps)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        check(m, "unparsable sample line %r" % line)
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                      m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def http_get(host_port, path):
    with urllib.request.urlopen("http://%s%s" % (host_port, path), timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def scrape(host_port):
    status, ctype, body = http_get(host_port, "/metrics")
    check(status == 200 and ctype == PROM_TYPE, "GET %s/metrics: %s %s" % (host_port, status,
                                                                           ctype))
    return body


def settled(host_port):
    """A scrape once asg-health has finished with the test's requests:
    a response reaches the client before asg-health's completion callback
    counts it (and before it closes the connection), so counts read at
    once can lag by the last request."""
    last = [None]

    def done():
        last[0] = parse(scrape(host_port))
        return value(last[0], "asg_health_requests_in_flight") == 0 and \
            value(last[0], "asg_health_open_connections") == 0
    wait_until(done, 10, interval=0.05)
    return last[0]


def promtool_ok(text, what):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 0, "promtool check metrics on %s: %s%s" % (what, r.stdout, r.stderr))


def raw_requests(health, requests):
    """Sends each raw request on its own connection with Connection:
    close and reads to EOF; returns the bytes received in all."""
    total = 0
    for req in requests:
        answer = b""
        with socket.create_connection((health.host, health.port), timeout=10) as s:
            s.sendall(req)
            while True:
                b = s.recv(65536)
                if not b:
                    break
                answer += b
        check(answer.startswith(b"HTTP/1.1 "), "answer to %r: %r" % (req, answer[:200]))
        total += len(answer)
    return total


def keepalive_requests(health, paths):
    """Several requests on one keep-alive connection; returns bytes received."""
    total = 0
    with socket.create_connection((health.host, health.port), timeout=10) as s:
        f = s.makefile("rb")
        for path in paths:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = f.readline()
                check(line, "connection closed mid-answer")
                head += line
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            body = f.read(length)
            total += len(head) + len(body)
    return total


def probe(health, expect):
    conn = health.connection()
    try:
        conn.request("GET", "/health", headers={"User-Agent": "ELB-HealthChecker/2.0"})
        r = conn.getresponse()
        n = len(r.read())
        check(r.status == expect, "probe answered %s, not %s" % (r.status, expect))
        return n
    finally:
        conn.close()


class Prometheus:
    """A Prometheus server scraping the two addresses every second."""

    def __init__(self, tmp, health_addr, agent_addr):
        self.dir = os.path.join(tmp, "prometheus")
        os.makedirs(self.dir)
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: asg-health\n"
                    "    static_configs: [{targets: ['%s']}]\n"
                    "  - job_name: asg-agent\n"
                    "    static_configs: [{targets: ['%s']}]\n" % (health_addr, agent_addr))
        self.addr = "127.0.0.1:%d" % asgtest.free_port()
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=" + self.addr, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        ready = wait_until(self._ready, 30)
        check(ready, "prometheus never became ready: %s" % self.logs())

    def logs(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-4000:]

    def _ready(self):
        check(self.proc.poll() is None, "prometheus exited: %s" % self.logs())
        try:
            return http_get(self.addr, "/-/ready")[0] == 200
        except OSError:
            return False

    def query(self, expr):
        """The instant vector expr, as [(labels, value)]."""
        status, _, body = http_get(self.addr, "/api/v1/query?" +
                                   urllib.parse.urlencode({"query": expr}))
        doc = json.loads(body)
        check(status == 200 and doc["status"] == "success", "query %s: %s" % (expr, body))
        return [(r["metric"], float(r["value"][1])) for r in doc["data"]["result"]]

    def wait_value(self, expr, want, timeout=20):
        """Polls until expr has exactly one series whose value is want."""
        last = []

        def seen():
            nonlocal last
            last = self.query(expr)
            return len(last) == 1 and last[0][1] == want
        check(wait_until(seen, timeout, interval=0.25),
              "prometheus: %s never was %s (last %r)" % (expr, want, last))

    def stop(self):
        asgtest.stop_process(self.proc, 30)
        self.log.close()


def health_traffic(s, addr):
    """Exact deltas of asg-health's counters for traffic the test made."""
    h = s.health
    asgtest.write(os.path.join(h.root, "index.html"), b"<p>hello</p>\n" * 50)
    before = settled(addr)
    received = raw_requests(h, [
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b"BREW / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ])
    received += keepalive_requests(h, ["/", "/index.html", "/missing", "/"])
    after = settled(addr)

    def delta(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)
    want = {("GET", "2xx"): 5, ("GET", "4xx"): 2, ("HEAD", "2xx"): 1, ("POST", "4xx"): 1,
            ("other", "4xx"): 1}
    for (method, code), n in want.items():
        got = delta("asg_health_requests_total", method=method, code=code)
        check(got == n, "requests_total{method=%s,code=%s} moved by %s, not %s" % (
            method, code, got, n))
    total = sum(v for (name, _), v in after.items() if name == "asg_health_requests_total") - \
        sum(v for (name, _), v in before.items() if name == "asg_health_requests_total")
    check(total == sum(want.values()), "requests_total moved by %s in all" % total)
    got = delta("asg_health_sent_bytes_total")
    check(got == received, "sent_bytes_total moved by %s; the client received %s" % (
        got, received))
    check(value(after, "asg_health_requests_in_flight") == 0, "in flight after the traffic")
    check(delta("asg_health_cache_hits_total") >= 1, "no cache hit for repeated /")
    check(value(after, "asg_health_cache_entries") >= 1 and
          value(after, "asg_health_cache_bytes") >= 650, "cache gauges: %r" % after)
    return value(after, "asg_health_requests_total", method="GET", code="2xx")


def check_state(samples, check_name, state):
    return value(samples, "asg_health_check_state", check=check_name, type="file",
                 critical="false", state=state)


def bind_errors(tmp):
    """A metrics_listen address that cannot be bound stops either daemon's
    start with an error naming it; SIGHUP keeps asg-health's running one."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        addr = "127.0.0.1:%d" % taken.getsockname()[1]
        h = asgtest.Health(config={"metrics_listen": addr}, start=False)
        try:
            h.start(wait=False)
            check(h.proc.wait(20 * asgtest.WAIT_SCALE) == 1, "asg-health started anyway")
            check("metrics_listen: cannot listen on %s" % addr in h.logs(),
                  "asg-health's error: %s" % h.logs())
        finally:
            h.close()
        sub = os.path.join(tmp, "bind-error")
        os.makedirs(sub)
        cfg = agentlib.base_config(sub, "/proc/stat")
        cfg["metrics_listen"] = addr
        cfg["region"] = "us-east-1"
        agent = agentlib.Agent(sub, cfg, {"AWS_EC2_METADATA_DISABLED": "true"})
        check(agent.proc.wait(20 * asgtest.WAIT_SCALE) != 0, "asg-agent started anyway")
        agent.terminate()
        check("metrics_listen: cannot listen on %s" % addr in agent.stderr(),
              "asg-agent's error: %s" % agent.stderr())

    # SIGHUP with another address: logged, the running one stays.
    addr = "127.0.0.1:%d" % asgtest.free_port()
    h = asgtest.Health(config={"metrics_listen": addr})
    try:
        scrape(addr)
        other = "127.0.0.1:%d" % asgtest.free_port()
        h.write_config({"metrics_listen": other})
        h.signal(signal.SIGHUP)
        check(wait_until(lambda: "metrics_listen take effect only on restart" in h.logs(), 10),
              "no reload warning: %s" % h.logs())
        check("asg_health_requests_total" in scrape(addr), "the running address stopped")
        try:
            http_get(other, "/metrics")
            check(False, "the new address answers before a restart")
        except OSError:
            pass
    finally:
        h.stop()
        h.close()


def test(tmp):
    for tool in (PROMETHEUS, PROMTOOL):
        check(tool, "prometheus and promtool are needed (scripts/deps test)")
    bind_errors(tmp)
    health_addr = "127.0.0.1:%d" % asgtest.free_port()
    agent_addr = "127.0.0.1:%d" % asgtest.free_port()
    flap = os.path.join(tmp, "flap")
    s = lifecyclelib.Setup(tmp, state="Pending:Wait", health_config={
        "metrics_listen": health_addr, "lb_unhealthy_threshold": 2,
        "checks": [
            {"name": "app-ready", "type": "file", "path": os.path.join(tmp, "ready.flag"),
             "must_exist": True, "interval": "100ms", "timeout": "50ms", "rise": 2},
            # Informational: its flaps never touch /health or the agent.
            {"name": "flappy", "type": "file", "path": flap, "must_exist": False,
             "interval": "100ms", "timeout": "50ms", "rise": 1, "fall": 1,
             "critical": False}]})
    prom = None
    try:
        s.restart_hook_timers()
        config = s.config()
        config["metrics_listen"] = agent_addr
        s.agent = agentlib.Agent(s.tmp, config, {
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": s.imds.url, "AWS_ENDPOINT_URL": s.aws.url,
            "ASG_AGENT_TEST_WATCH_MS": "100"})
        s.wait_state("ready", 15)
        check(wait_until(lambda: agentlib.metric_points(s.aws), 10), "no publish once ready")

        # The agent: lifecycle, the hook's CONTINUE and its call, a publish.
        a = parse(scrape(agent_addr))
        check(value(a, "asg_agent_lifecycle_state", state="ready") == 1 and
              sum(v for (n, _), v in a.items() if n == "asg_agent_lifecycle_state") == 1,
              "lifecycle gauges: %r" % a)
        check(value(a, "asg_agent_lifecycle_hooks_completed_total", result="CONTINUE") == 1 and
              value(a, "asg_agent_lifecycle_hooks_completed_total", result="ABANDON") == 0,
              "hooks completed: %r" % a)
        check(len(s.ok_calls("CompleteLifecycleAction")) == 1, "CompleteLifecycleAction calls")
        check(value(a, "asg_agent_aws_requests_total", service="auto_scaling",
                    action="CompleteLifecycleAction", outcome="success") == 1,
              "CompleteLifecycleAction not counted once: %r" % a)
        published = value(a, "asg_agent_metric_periods_published_total")
        check(published >= 1, "no published period counted: %r" % a)
        check(value(a, "asg_agent_metric_seconds_since_last_publish") is not None and
              value(a, "asg_agent_credentials_expiry_timestamp_seconds") > time.time(),
              "publish age or credential expiry missing: %r" % a)
        # Every PutMetricData the stand-in answered before the scrape is
        # counted by it, and none it had not yet answered (one may be
        # under way while the agent answers the scrape from its wait).
        n_before = len(s.ok_calls("PutMetricData"))
        a = parse(scrape(agent_addr))
        n_after = len(s.ok_calls("PutMetricData"))
        puts = value(a, "asg_agent_aws_requests_total", service="cloudwatch",
                     action="PutMetricData", outcome="success")
        check(n_before - 1 <= puts <= n_after, "PutMetricData counted %s; the stand-in "
              "answered %s..%s" % (puts, n_before, n_after))
        check(all(v == 0 for (n, _), v in a.items() if n == "asg_agent_imds_errors_total"),
              "IMDS errors against a healthy stand-in: %r" % a)

        # Faults with known counts: a PutMetricData answered 503 twice, then
        # accepted (two retries in one call, no failure), and one IMDS read
        # answered 500 on each of its three attempts (one IMDS error).
        def agent_value(name, **labels):
            return value(parse(scrape(agent_addr)), name, **labels) or 0
        retries = agent_value("asg_agent_aws_retries_total", service="cloudwatch",
                              action="PutMetricData")
        unreachable = agent_value("asg_agent_imds_errors_total", reason="unreachable")
        errors = agent_value("asg_agent_aws_requests_total", service="cloudwatch",
                             action="PutMetricData", outcome="aws_error")
        s.aws.inject({"action": "PutMetricData", "status": 503, "count": 2})
        s.imds.control("POST", "inject", {"method": "GET", "path": "spot/instance-action",
                                          "status": 500, "count": 3})
        check(wait_until(lambda: agent_value("asg_agent_aws_retries_total",
                                             service="cloudwatch",
                                             action="PutMetricData") >= retries + 2 and
                         agent_value("asg_agent_imds_errors_total",
                                     reason="unreachable") >= unreachable + 1, 20),
              "the faults were not counted: %s" % scrape(agent_addr))
        check(not s.aws.control("GET", "inject")["rules"] and
              not s.imds.control("GET", "inject")["rules"],
              "fault rules left unused")
        a = parse(scrape(agent_addr))
        check(value(a, "asg_agent_aws_retries_total", service="cloudwatch",
                    action="PutMetricData") == retries + 2 and
              value(a, "asg_agent_imds_errors_total", reason="unreachable") == unreachable + 1
              and value(a, "asg_agent_aws_requests_total", service="cloudwatch",
                        action="PutMetricData", outcome="aws_error") == errors,
              "fault counts: %r" % a)

        prom = Prometheus(tmp, health_addr, agent_addr)
        get_2xx = health_traffic(s, health_addr)

        # A check flapping: the state gauge flips, two transitions.
        before = settled(health_addr)
        check(check_state(before, "flappy", "pass") == 1, "flappy not passing: %r" % before)
        open(flap, "w").close()
        check(wait_until(lambda: check_state(parse(scrape(health_addr)), "flappy", "fail") == 1,
                         5), "the state gauge never showed the check failing")
        mid = settled(health_addr)
        check(check_state(mid, "flappy", "pass") == 0 and
              check_state(mid, "flappy", "pending") == 0, "state gauges: %r" % mid)
        # Prometheus sees it fail too before it passes again.
        prom.wait_value('asg_health_check_state{check="flappy",state="fail"}', 1)
        os.unlink(flap)
        check(wait_until(lambda: check_state(parse(scrape(health_addr)), "flappy", "pass") == 1,
                         5), "the state gauge never showed the check passing again")
        after = settled(health_addr)
        check(value(after, "asg_health_check_transitions_total", check="flappy") -
              value(before, "asg_health_check_transitions_total", check="flappy") == 2,
              "transitions: %r -> %r" % (before, after))
        check(value(after, "asg_health_check_duration_seconds", check="flappy") is not None,
              "no duration for a check that ran")
        prom.wait_value('asg_health_check_state{check="flappy",state="pass"}', 1)

        # Probes per prober, a drain and its confirmation.
        body = 0
        for _ in range(3):
            body += probe(s.health, 200)
        m = settled(health_addr)
        check(value(m, "asg_health_lb_probes_total", prober="127.0.0.1") == 3,
              "probes: %r" % m)
        check(value(m, "asg_health_draining") == 0 and
              value(m, "asg_health_lb_drain_confirmed") == 0, "before the drain: %r" % m)
        status, _ = s.health.control_request("POST", "/drain")
        check(status == 200, "POST /drain: %s" % status)
        probe(s.health, 503)
        m = settled(health_addr)
        check(value(m, "asg_health_draining") == 1 and value(m, "asg_health_healthy") == 0 and
              value(m, "asg_health_lb_drain_confirmed") == 0, "after one 503: %r" % m)
        probe(s.health, 503)
        m = settled(health_addr)
        check(value(m, "asg_health_lb_drain_confirmed") == 1 and
              value(m, "asg_health_lb_probes_total", prober="127.0.0.1") == 5 and
              value(m, "asg_health_lb_probers_recent") == 1, "after two 503s: %r" % m)
        check(value(m, "asg_health_requests_total", method="GET", code="2xx") == get_2xx + 3 and
              value(m, "asg_health_requests_total", method="GET", code="5xx") == 2,
              "probes as requests: %r" % m)

        # promtool on all four outputs, after the traffic.
        status, ctype, control_text = asgtest.unix_get(s.health.control, "/metrics")
        check(status == 200 and ctype == PROM_TYPE, "control /metrics: %s %s" % (status, ctype))
        status, ctype, agent_socket_text = asgtest.unix_get(config["status_socket"], "/metrics")
        check(status == 200 and ctype == PROM_TYPE, "agent socket /metrics: %s %s" % (status,
                                                                                       ctype))
        for text, what in ((scrape(health_addr), "asg-health metrics_listen"),
                           (control_text, "asg-health control socket"),
                           (scrape(agent_addr), "asg-agent metrics_listen"),
                           (agent_socket_text, "asg-agent status socket")):
            promtool_ok(text, what)
        # metrics_listen serves /metrics only: the identity stays local.
        try:
            http_get(agent_addr, "/status")
            check(False, "asg-agent's metrics_listen answered /status")
        except urllib.error.HTTPError as e:
            check(e.code == 404, "asg-agent metrics_listen /status: %s" % e.code)

        # Prometheus has scraped both and answers a query on each.
        prom.wait_value('up{job="asg-health"}', 1)
        prom.wait_value('up{job="asg-agent"}', 1)
        prom.wait_value('asg_health_requests_total{method="GET",code="2xx"}', get_2xx + 3)
        prom.wait_value('asg_health_lb_drain_confirmed', 1)
        prom.wait_value('asg_agent_lifecycle_state{state="ready"} == 1', 1)
        prom.wait_value('asg_agent_lifecycle_hooks_completed_total{result="CONTINUE"}', 1)
        got = prom.query('asg_agent_metric_periods_published_total')
        check(len(got) == 1 and got[0][1] >= published, "published in prometheus: %r" % got)
    finally:
        if prom:
            prom.stop()
        s.close()


agentlib.run(test)
