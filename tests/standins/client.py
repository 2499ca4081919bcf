"""Helpers for tests that use the stand-ins: start one on a free loopback
port, talk to its control API, stop it by PID.

    from client import start_imds, start_aws
    imds = start_imds(state={"target_lifecycle_state": "InService"})
    aws = start_aws(state=..., credentials=[{"AccessKeyId": ..., ...}],
                    trust_imds=[imds.url])
    aws.control("POST", "inject", {"action": "PutMetricData", "error": "Throttling",
                                   "status": 400, "count": 2})
    aws.calls(action="PutMetricData")
    aws.stop(); imds.stop()
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


class Standin:
    """A running stand-in process.  Usable as a context manager."""

    def __init__(self, program, args, listen="127.0.0.1:0", startup_timeout=60, tmpdir=None):
        # Removed when this object goes (at the latest when the test exits),
        # with the state files start_imds()/start_aws() wrote into it.
        self.tmpdir = tmpdir or tempfile.TemporaryDirectory(prefix="standin-")
        self.port_file = os.path.join(self.tmpdir.name, "url")
        self.stderr_path = os.path.join(self.tmpdir.name, "stderr")
        cmd = [PYTHON, os.path.join(HERE, program), "--listen", listen,
               "--port-file", self.port_file] + list(args)
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self.pid = self.proc.pid
        deadline = time.monotonic() + startup_timeout
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s: %s" % (program, self.proc.returncode,
                                                              self.stderr()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("%s did not start within %ss" % (program, startup_timeout))
            time.sleep(0.02)
        with open(self.port_file, encoding="utf-8") as f:
            self.url = f.read().strip()

    def path(self, name):
        """A file in the stand-in's private temporary directory."""
        return os.path.join(self.tmpdir.name, name)

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def control(self, method, name, body=None, timeout=10):
        """Call /_control/<name>; returns the decoded JSON (or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_control/" + name, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read().decode()
                ctype = r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s /_control/%s: HTTP %d %s" % (method, name, e.code,
                                                                e.read().decode()))
        return json.loads(text) if ctype.startswith("application/json") else text

    def stop(self, timeout=10):
        """SIGTERM this process (by PID) and wait; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        self.tmpdir.cleanup()


def wait_for(predicate, timeout, what="condition", interval=0.05):
    """Poll predicate until it returns something true; raise
    AssertionError naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def _write_json(standin_dir, name, obj):
    path = os.path.join(standin_dir, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f)
    return path


class Imds(Standin):
    def token(self, ttl=21600, headers=None):
        req = urllib.request.Request(self.url + "/latest/api/token", method="PUT",
                                     headers=dict({"X-aws-ec2-metadata-token-ttl-seconds":
                                                   str(ttl)}, **(headers or {})))
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read().decode()

    def get(self, path, token):
        """GET /latest/<path> with a token; returns (status, text)."""
        req = urllib.request.Request(self.url + "/latest/" + path,
                                     headers={"X-aws-ec2-metadata-token": token})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def set_state(self, patch):
        return self.control("POST", "state", patch)


class Aws(Standin):
    def calls(self, **filters):
        query = "&".join("%s=%s" % kv for kv in filters.items())
        return self.control("GET", "calls" + ("?" + query if query else ""))

    def state(self):
        return self.control("GET", "state")

    def inject(self, rule):
        return self.control("POST", "inject", rule)

    def add_credentials(self, entry):
        return self.control("POST", "credentials", entry)


def start_imds(state=None, listen="127.0.0.1:0", extra_args=()):
    tmp = tempfile.TemporaryDirectory(prefix="standin-")
    args = list(extra_args)
    if state is not None:
        args += ["--state", _write_json(tmp.name, "state.json", state)]
    return Imds("imds.py", args, listen, tmpdir=tmp)


def start_aws(state=None, credentials=None, trust_imds=(), record=None,
              listen="127.0.0.1:0", region="us-east-1", extra_args=()):
    tmp = tempfile.TemporaryDirectory(prefix="standin-")
    args = ["--region", region] + list(extra_args)
    if state is not None:
        args += ["--state", _write_json(tmp.name, "state.json", state)]
    if credentials is not None:
        args += ["--credentials", _write_json(tmp.name, "credentials.json", credentials)]
    for url in trust_imds:
        args += ["--trust-imds", url]
    if record:
        args += ["--record", record]
    return Aws("aws.py", args, listen, tmpdir=tmp)


def botocore_client(service, url, access_key, secret_key, token=None, region="us-east-1",
                    retries=0, read_timeout=10):
    """A real botocore client pointed at the stand-in."""
    import botocore.config
    import botocore.session
    config = botocore.config.Config(retries={"max_attempts": retries, "mode": "standard"}
                                    if retries else {"total_max_attempts": 1},
                                    read_timeout=read_timeout, connect_timeout=5)
    return botocore.session.get_session().create_client(
        service, endpoint_url=url, region_name=region, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, aws_session_token=token, config=config)


def signed_request(url, service, access_key, secret_key, body, token=None, region="us-east-1",
                   when=None, headers=None, tamper=None, method="POST", path="/",
                   unsigned_headers=None):
    """Sign a raw Query request with botocore's SigV4Auth (at time `when`,
    a naive UTC datetime, if given) and send it with http.client, bypassing
    botocore's own parameter validation.  body: bytes, str or a dict of form
    parameters.  tamper(bytes) -> bytes changes the body after signing;
    unsigned_headers are added after signing (not in SignedHeaders).
    Returns (status, headers dict with lowercase names, body text)."""
    import datetime
    import http.client
    import types
    import urllib.parse
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    if isinstance(body, dict):
        body = urllib.parse.urlencode(body)
    if isinstance(body, str):
        body = body.encode()
    u = urllib.parse.urlsplit(url)
    req = AWSRequest(method=method, url=url.rstrip("/") + path, data=body,
                     headers=dict({"Content-Type":
                                   "application/x-www-form-urlencoded; charset=utf-8"},
                                  **(headers or {})))
    auth = botocore.auth.SigV4Auth(Credentials(access_key, secret_key, token), service, region)
    if when is None:
        auth.add_auth(req)
    else:
        class Frozen(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when
        saved = botocore.auth.datetime
        botocore.auth.datetime = types.SimpleNamespace(datetime=Frozen)
        try:
            auth.add_auth(req)
        finally:
            botocore.auth.datetime = saved
    if tamper:
        body = tamper(body)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        send_headers = {k: v for k, v in req.headers.items()}
        send_headers["Content-Length"] = str(len(body))
        send_headers.update(unsigned_headers or {})
        conn.request(method, path, body=body, headers=send_headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        conn.close()


def parse_error(xml_text):
    """(Type, Code, Message, RequestId) of an ErrorResponse."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(xml_text)
    ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    assert root.tag == ns + "ErrorResponse", root.tag
    err = root.find(ns + "Error")
    return (err.findtext(ns + "Type"), err.findtext(ns + "Code"),
            err.findtext(ns + "Message"), root.findtext(ns + "RequestId"))


def example_world():
    """A small group behind one target group, as tests/standins/example-state.json."""
    with open(os.path.join(HERE, "example-aws-state.json"), encoding="utf-8") as f:
        return json.load(f)


if __name__ == "__main__":
    sys.exit("a module for tests; see README.md")
