"""asg-agent's commands other than run: --version, --help, --check-config
(file:line:col errors), metadata (through IMDSv2, never through a proxy), drain/undrain (HTTP over
asg-health's control socket, here a stand-in that records what it gets), and
doctor (passing checks, then the container hop-limit trap and a missing
cloudwatch:PutMetricData permission, each with its fix)."""

import http.server
import json
import os
import socketserver
import subprocess
import threading

import agentlib
from agentlib import check


class HealthControl(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """asg-health's control API as the agent uses it: POST /drain,
    POST /undrain, GET /status."""
    daemon_threads = True

    def __init__(self, path):
        self.requests_seen = []
        self.draining = False
        super().__init__(path, HealthHandler)


class HealthHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):
        return "unix"

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.server.requests_seen.append(("POST", self.path))
        if self.path in ("/drain", "/undrain"):
            self.server.draining = self.path == "/drain"
            return self.answer(200, {"draining": self.server.draining})
        self.answer(404, {"error": "not found"})

    def do_GET(self):
        self.server.requests_seen.append(("GET", self.path))
        if self.path == "/status":
            return self.answer(200, {"draining": self.server.draining, "healthy": True})
        self.answer(404, {"error": "not found"})


def run_cli(env, *args, timeout=30):
    full = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    full.update(env)
    return subprocess.run([agentlib.AGENT] + list(args), env=full, capture_output=True,
                          text=True, timeout=timeout)


def test_basics(tmp):
    r = run_cli({}, "--version")
    check(r.returncode == 0 and r.stdout.startswith("asg-agent "), "--version: %r" % (r,))
    r = run_cli({}, "--help")
    check(r.returncode == 0 and "doctor" in r.stdout and "drain" in r.stdout, "--help: %r" % (r,))
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write('{\n  "period": 60,\n  "namespase": "x"\n}\n')
    r = run_cli({}, "--config", bad, "--check-config")
    check(r.returncode == 1 and "%s:3:3: namespase: unknown key" % bad in r.stderr,
          "--check-config: %r" % (r,))
    good = os.path.join(tmp, "good.json")
    with open(good, "w") as f:
        json.dump({"period": 30, "namespace": "Web"}, f)
    r = run_cli({}, "--config", good, "--check-config")
    check(r.returncode == 0, "--check-config on a good file: %r" % (r,))
    r = run_cli({}, "--config", good, "frobnicate")
    check(r.returncode == 2, "unknown command: %r" % (r,))


def test_metadata(tmp, imds, config):
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}
    r = run_cli(env, "--config", config, "metadata")
    check(r.returncode == 0 and "instance-id: %s" % agentlib.INSTANCE_ID in r.stdout and
          "region: us-east-1" in r.stdout, "metadata: %r" % (r,))
    # A proxy from the environment is never used for IMDS.
    proxied = dict(env, http_proxy="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    r = run_cli(proxied, "--config", config, "metadata", "placement/availability-zone")
    check(r.returncode == 0 and r.stdout == "us-east-1a\n", "metadata path: %r" % (r,))
    r = run_cli(env, "--config", config, "metadata", "/latest/dynamic/instance-identity/document")
    check(r.returncode == 0 and json.loads(r.stdout)["instanceId"] == agentlib.INSTANCE_ID,
          "identity document: %r" % (r,))
    r = run_cli(env, "--config", config, "metadata", "spot/instance-action")
    check(r.returncode == 1 and "404" in r.stderr, "metadata 404: %r" % (r,))
    r = run_cli(dict(env, AWS_EC2_METADATA_DISABLED="true"), "--config", config, "metadata")
    check(r.returncode == 1 and "disabled" in r.stderr, "metadata disabled: %r" % (r,))
    log = [json.loads(line) for line in imds.control("GET", "log").splitlines() if line]
    check(all(e["token"] for e in log if e["method"] == "GET"), "a GET without a token (v1)")


def test_drain(tmp, health, config):
    # No IMDS or AWS here: the cascade guard cannot ask, and refuses.
    r = run_cli({"AWS_EC2_METADATA_DISABLED": "true"}, "--config", config, "drain")
    check(r.returncode == 1 and "cannot ask AWS" in r.stderr and "--force" in r.stderr,
          "drain without AWS: %r" % (r,))
    check(health.requests_seen[-1:] != [("POST", "/drain")], "drained despite the refusal")
    r = run_cli({}, "--config", config, "drain", "--force")
    check(r.returncode == 0 and json.loads(r.stdout)["draining"] is True, "drain: %r" % (r,))
    r = run_cli({}, "--config", config, "undrain")
    check(r.returncode == 0 and json.loads(r.stdout)["draining"] is False, "undrain: %r" % (r,))
    check(health.requests_seen[-2:] == [("POST", "/drain"), ("POST", "/undrain")],
          "control requests: %r" % health.requests_seen)
    nowhere = os.path.join(tmp, "nowhere.json")
    with open(nowhere, "w") as f:
        json.dump({"health_socket": os.path.join(tmp, "missing.sock")}, f)
    r = run_cli({}, "--config", nowhere, "drain", "--force")
    check(r.returncode == 1 and "cannot reach asg-health" in r.stderr, "drain unreachable: %r"
          % (r,))


def test_doctor(tmp, imds, aws, config):
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_ENDPOINT_URL": aws.url}
    r = run_cli(env, "--config", config, "doctor")
    check(r.returncode == 0 and "All checks passed." in r.stdout, "doctor: %s%s" % (r.stdout,
                                                                                   r.stderr))
    for text in ("IMDSv2 token", "region us-east-1 (from imds)", "credentials from instance-profile",
                 "in group web-asg", "cloudwatch:PutMetricData allowed", "asg-health control"):
        check(text in r.stdout, "doctor lacks %r: %s" % (text, r.stdout))

    aws.inject({"action": "PutMetricData", "error": "AccessDenied", "status": 403, "count": 1,
                "message": "not authorized to perform: cloudwatch:PutMetricData"})
    r = run_cli(env, "--config", config, "doctor")
    check(r.returncode == 1 and "fix: allow cloudwatch:PutMetricData" in r.stdout,
          "doctor with AccessDenied: %s" % r.stdout)

    # The hop-limit trap: the token PUT's answer never arrives.
    imds.control("POST", "down", {"mode": "hang"})
    try:
        r = run_cli(dict(env, AWS_METADATA_SERVICE_NUM_ATTEMPTS="1"), "--config", config, "doctor")
    finally:
        imds.control("POST", "up")
    check(r.returncode == 1 and "timed out" in r.stdout and "hop-limit 2" in r.stdout,
          "doctor with a hanging IMDS: %s" % r.stdout)


def test(tmp):
    health_path = os.path.join(tmp, "health.sock")
    health = HealthControl(health_path)
    thread = threading.Thread(target=health.serve_forever, daemon=True)
    thread.start()
    config = os.path.join(tmp, "agent.json")
    with open(config, "w") as f:
        json.dump({"health_socket": health_path,
                   "status_socket": os.path.join(tmp, "agent.sock")}, f)
    try:
        test_basics(tmp)
        with agentlib.client.start_imds() as imds, \
                agentlib.client.start_aws(state=agentlib.AWS_STATE, trust_imds=[imds.url]) as aws:
            test_metadata(tmp, imds, config)
            test_drain(tmp, health, config)
            test_doctor(tmp, imds, aws, config)
    finally:
        health.shutdown()
        health.server_close()


agentlib.run(test)
