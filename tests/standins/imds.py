#!/usr/bin/python3
"""EC2 instance metadata service (IMDSv2 only) stand-in.

Follows /work/shared/reference/aws.md section 3 (paths, status codes, token
rules) and sections 2 and 7 for the lifecycle, spot and event items.  A real
IMDS has no /_control/ tree; ours uses it to script the instance's state while
a test runs.  See tests/standins/README.md.
"""

import argparse
import base64
import copy
import datetime
import json
import os
import re
import secrets
import socket
import string
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import standin_http  # noqa: E402
from standin_http import iso8601, utcnow  # noqa: E402

# Token TTL bounds: "minimum 1 second, maximum 6 hours" (aws.md section 3).
TOKEN_TTL_MIN = 1
TOKEN_TTL_MAX = 21600
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
INJECT_KEYS = {"method", "path", "count", "delay_ms", "status", "body", "body_bytes",
               "truncate", "reset", "expire_tokens"}
VERSION_RE = re.compile(r"^(latest|1\.0|\d{4}-\d{2}-\d{2})$")

DEFAULT_STATE = {
    "instance_id": "i-0123456789abcdef0",
    "instance_type": "t3.micro",
    "ami_id": "ami-0abcdef1234567890",
    "account_id": "123456789012",
    "architecture": "x86_64",
    "availability_zone": "us-east-1a",
    "availability_zone_id": "use1-az1",
    "region": "us-east-1",
    "local_ipv4": "10.0.1.17",
    "mac": "0e:49:61:0f:c3:11",
    "local_hostname": "ip-10-0-1-17.ec2.internal",
    "instance_life_cycle": "on-demand",
    "pending_time": None,
    # null: 404, as on an instance that has not transitioned (aws.md 2).
    "target_lifecycle_state": None,
    "iam": {
        "role": "asg-agent-role",
        "instance_profile_arn":
            "arn:aws:iam::123456789012:instance-profile/asg-agent-profile",
        "instance_profile_id": "AIPAEXAMPLEPROFILEID1",
    },
    "credentials": {
        # Anything but "Success" makes the credentials document an error
        # document with Code and Message (served with HTTP 200, aws.md 3).
        "code": "Success",
        "message": "",
        # Lifetime of each issued set of keys.
        "lifetime_seconds": 21600,
        # When set, serving credentials that expire within this many seconds
        # first rotates them, as EC2 publishes new keys at least 5 minutes
        # before expiry.  null: only /_control/rotate-credentials rotates.
        "auto_rotate_before_seconds": None,
    },
    "spot_instance_action": None,       # {"action": "terminate", "time": "..."}
    "rebalance_recommendation": None,   # {"noticeTime": "..."}
    "scheduled_events": [],
    "tags_enabled": False,
    "tags": {"aws:autoscaling:groupName": "web-asg", "Name": "web"},
    "user_data": None,
}


def random_key(prefix, length):
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


class Imds:
    """Instance state, tokens and issued credentials; one lock guards all."""

    def __init__(self, state, log_path=None):
        self.lock = threading.Lock()
        self.state = standin_http.merge_patch(copy.deepcopy(DEFAULT_STATE), state)
        if not self.state.get("pending_time"):
            self.state["pending_time"] = iso8601(utcnow())
        self.tokens = {}            # token -> monotonic expiry
        self.issued = []            # every credential set issued, oldest first
        self.down_mode = None       # None, "reset", "503" or "hang"
        self.up_event = threading.Event()
        self.up_event.set()
        self.log = standin_http.JsonLines(log_path)
        self.injections = []        # /_control/inject rules, first match wins
        self.rotate_credentials(self.state.get("credentials", {}))

    # ---- credentials -------------------------------------------------------

    def rotate_credentials(self, spec):
        """Issue a new set of keys.  spec may fix access_key_id,
        secret_access_key, token, expiration (ISO 8601) or lifetime_seconds."""
        now = utcnow()
        lifetime = spec.get("lifetime_seconds",
                            self.state["credentials"].get("lifetime_seconds", 21600))
        expiration = spec.get("expiration")
        if not expiration:
            expiration = iso8601(now + _seconds(lifetime))
        creds = {
            "AccessKeyId": spec.get("access_key_id") or random_key("ASIA", 16),
            "SecretAccessKey": spec.get("secret_access_key")
            or base64.b64encode(secrets.token_bytes(30)).decode(),
            "Token": spec.get("token")
            or base64.b64encode(secrets.token_bytes(96)).decode(),
            "Expiration": expiration,
            "LastUpdated": iso8601(now),
        }
        self.issued.append(creds)
        return creds

    def current_credentials(self):
        creds = self.issued[-1]
        before = self.state["credentials"].get("auto_rotate_before_seconds")
        if before is not None:
            remaining = _parse_iso(creds["Expiration"]) - time.time()
            if remaining <= before:
                creds = self.rotate_credentials({})
        return creds

    # ---- faults ------------------------------------------------------------

    def take_injection(self, method, path):
        """The first rule whose method and path (a regular expression,
        searched) match; a rule with a count is used that many times."""
        with self.lock:
            for rule in self.injections:
                if rule.get("method") not in (None, method):
                    continue
                if rule.get("path") and not re.search(rule["path"], path):
                    continue
                if rule.get("count") is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.injections.remove(rule)
                rule["hits"] = rule.get("hits", 0) + 1
                return dict(rule)
        return None

    # ---- tokens ------------------------------------------------------------

    def new_token(self, ttl):
        token = "AQAEA" + base64.urlsafe_b64encode(secrets.token_bytes(36)).decode()
        self.tokens[token] = time.monotonic() + ttl
        return token

    def token_remaining(self, token):
        """Seconds left, or None if the token is unknown or expired."""
        expiry = self.tokens.get(token)
        if expiry is None:
            return None
        left = expiry - time.monotonic()
        if left <= 0:
            del self.tokens[token]
            return None
        return int(left + 0.999)

    # ---- the metadata tree -------------------------------------------------

    def meta_data_tree(self):
        s = self.state
        tree = {
            "ami-id": s["ami_id"],
            "hostname": s["local_hostname"],
            "instance-id": s["instance_id"],
            "instance-type": s["instance_type"],
            "instance-life-cycle": s["instance_life_cycle"],
            "local-hostname": s["local_hostname"],
            "mac": s["mac"],
            "placement": {
                "availability-zone": s["availability_zone"],
                "availability-zone-id": s["availability_zone_id"],
                "region": s["region"],
            },
            "events": {
                "maintenance": {
                    "scheduled": json.dumps(
                        [e for e in s.get("scheduled_events") or []
                         if e.get("State", "active") == "active"], indent=2),
                    "history": json.dumps(
                        [e for e in s.get("scheduled_events") or []
                         if e.get("State", "active") != "active"], indent=2),
                },
                "recommendations": {},
            },
        }
        if s.get("local_ipv4"):
            tree["local-ipv4"] = s["local_ipv4"]
        if s.get("target_lifecycle_state"):
            tree["autoscaling"] = {
                "target-lifecycle-state": s["target_lifecycle_state"]}
        if s.get("spot_instance_action"):
            action = s["spot_instance_action"]
            tree["spot"] = {"instance-action": json.dumps(action),
                            "termination-time": action.get("time", "")}
        if s.get("rebalance_recommendation"):
            tree["events"]["recommendations"]["rebalance"] = json.dumps(
                s["rebalance_recommendation"])
        iam = s.get("iam")
        if iam and iam.get("role"):
            tree["iam"] = {
                "info": lambda: self.iam_info(),
                "security-credentials": {iam["role"]: lambda: self.credentials_document()},
            }
        if s.get("tags_enabled"):
            tree["tags"] = {"instance": {k: str(v) for k, v in (s.get("tags") or {}).items()}}
        return tree

    def iam_info(self):
        iam = self.state["iam"]
        return json.dumps({
            "Code": "Success",
            "LastUpdated": self.issued[-1]["LastUpdated"],
            "InstanceProfileArn": iam.get("instance_profile_arn", ""),
            "InstanceProfileId": iam.get("instance_profile_id", ""),
        }, indent=2)

    def credentials_document(self):
        conf = self.state["credentials"]
        creds = self.current_credentials()
        if conf.get("code", "Success") != "Success":
            return json.dumps({"Code": conf["code"],
                               "Message": conf.get("message") or "",
                               "LastUpdated": creds["LastUpdated"]}, indent=2)
        return json.dumps({
            "Code": "Success",
            "LastUpdated": creds["LastUpdated"],
            "Type": "AWS-HMAC",
            "AccessKeyId": creds["AccessKeyId"],
            "SecretAccessKey": creds["SecretAccessKey"],
            "Token": creds["Token"],
            "Expiration": creds["Expiration"],
        }, indent=2)

    def identity_document(self):
        s = self.state
        return json.dumps({
            "accountId": s["account_id"],
            "architecture": s["architecture"],
            "availabilityZone": s["availability_zone"],
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": s["ami_id"],
            "instanceId": s["instance_id"],
            "instanceType": s["instance_type"],
            "kernelId": None,
            "pendingTime": s["pending_time"],
            "privateIp": s.get("local_ipv4"),
            "ramdiskId": None,
            "region": s["region"],
            "version": "2017-09-30",
        }, indent=2)

    def resolve(self, version, rest):
        """Return text for GET /<version>/<rest>, or None for 404."""
        parts = [p for p in rest.split("/")]
        trailing = rest.endswith("/")
        parts = [p for p in parts if p]
        if not parts:
            listing = {"dynamic": {}, "meta-data": {}}
            if self.state.get("user_data") is not None:
                listing["user-data"] = ""
            return _listing(listing)
        top, parts = parts[0], parts[1:]
        if top == "user-data":
            if parts or self.state.get("user_data") is None:
                return None
            return self.state["user_data"]
        if top == "meta-data":
            node = self.meta_data_tree()
        elif top == "dynamic":
            node = {"instance-identity": {"document": lambda: self.identity_document()}}
        else:
            return None
        for p in parts:
            if not isinstance(node, dict) or p not in node:
                return None
            node = node[p]
        if isinstance(node, dict):
            return _listing(node) if node else None
        if trailing:
            return None
        return node() if callable(node) else node


def _listing(node):
    """AWS lists a directory one entry a line, sub-directories with '/'."""
    lines = []
    for key in sorted(node):
        lines.append(key + "/" if isinstance(node[key], dict) else key)
    return "\n".join(lines)


def _seconds(n):
    return datetime.timedelta(seconds=float(n))


def _parse_iso(text):
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()


class ImdsHandler(standin_http.StandinHandler):
    server_version = "EC2ws"

    def send_error_page(self, status, headers=()):
        """IMDS answers errors with a small HTML page, not a bare text, so a
        client that reads the body of a 404 as a value is caught."""
        reason = self.responses[status][0]
        page = ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
                '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
                '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
                ' <head>\n  <title>%d - %s</title>\n </head>\n <body>\n'
                '  <h1>%d - %s</h1>\n </body>\n</html>\n' % (status, reason, status, reason))
        self.send_body(status, page, "text/html", headers=headers)

    def do_PUT(self):
        self.dispatch()

    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        """Every metadata request is logged when it arrives (status None)
        and its outcome filled in once answered, so a request whose client
        timed out, or that a fault holds, is in the log all the same."""
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/_control/"):
            return self.control(path)
        imds = self.app
        self.client_gone = False  # one handler serves a keep-alive connection
        entry = {"time": iso8601(utcnow()), "method": self.command, "path": path,
                 "status": None, "token": bool(self.headers.get(TOKEN_HEADER)),
                 "arrived_at": time.time()}
        imds.log.append(entry)
        with imds.lock:
            mode = imds.down_mode
        if mode:
            imds.log.update(entry, down=mode)
            if mode == "503":
                self.read_body()
                self.send_error_page(503)
                return imds.log.update(entry, answered_at=time.time(), status=503)
            if mode == "hang":
                imds.up_event.wait(30)
            self.reset_connection()
            return imds.log.update(entry, answered_at=time.time(), status=0)
        fault = imds.take_injection(self.command, path)
        if fault:
            imds.log.update(entry, injected=fault)
            status = self.inject(fault, path)
            if status is not None:
                return imds.log.update(entry, answered_at=time.time(), status=status, client_gone=self.client_gone)
        try:
            status = self.metadata(path)
        except (BrokenPipeError, ConnectionResetError):
            status, self.client_gone = None, True
        imds.log.update(entry, answered_at=time.time(), status=status, client_gone=self.client_gone)

    client_gone = False

    def inject(self, fault, path):
        """Apply one /_control/inject rule.  Returns the status answered,
        0 for a reset, or None to serve the request normally after it
        (a delay, or tokens expired just before the answer)."""
        self.read_body()
        if fault.get("delay_ms"):
            # Long enough and the client gives up: the answer then goes
            # to a closed socket, as with a hung IMDS.
            time.sleep(fault["delay_ms"] / 1000.0)
            if self.peer_closed():
                self.client_gone = True
        if fault.get("expire_tokens"):
            # A token that expires while the request is under way.
            with self.app.lock:
                self.app.tokens.clear()
        if fault.get("reset"):
            self.reset_connection()
            return 0
        body = fault.get("body")
        status = fault.get("status")
        if body is None and fault.get("body_bytes"):
            body = "x" * int(fault["body_bytes"])
        if status is None and body is None:
            return None
        status = status or 200
        try:
            if body is None:
                self.send_error_page(status)
            elif fault.get("truncate") is not None:
                # Content-Length promises the whole body; the connection
                # closes after the first `truncate` bytes.
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:int(fault["truncate"])])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_WR)  # FIN, not RST: the bytes arrive
            else:
                self.send_body(status, body)
        except (BrokenPipeError, ConnectionResetError):
            self.client_gone = True
        return status

    def metadata(self, path):
        imds = self.app
        body = self.read_body() if self.command == "PUT" else b""
        del body
        parts = path.split("/", 2)  # '', version, rest
        version = parts[1] if len(parts) > 1 else ""
        rest = parts[2] if len(parts) > 2 else ""
        if self.command == "PUT":
            return self.put_token(version, rest)
        if self.command not in ("GET", "HEAD"):
            self.send_error_page(405, headers=[("Allow", "GET, HEAD, PUT")])
            return 405
        if path == "/":
            self.send_body(200, "1.0\n2007-01-19\n2021-03-23\nlatest")
            return 200
        token = self.headers.get(TOKEN_HEADER)
        with imds.lock:
            remaining = imds.token_remaining(token) if token else None
            if remaining is None:
                # HttpTokens=required: no IMDSv1, a missing, invalid or
                # expired token is 401 (aws.md section 3).
                status, text = 401, None
            elif not VERSION_RE.match(version):
                status, text = 404, None
            else:
                text = imds.resolve(version, rest)
                status = 200 if text is not None else 404
        if status == 401:
            self.send_error_page(401)
        elif status == 404:
            self.send_error_page(404, headers=[(TTL_HEADER, str(remaining))])
        else:
            self.send_body(200, text, headers=[(TTL_HEADER, str(remaining))])
        return status

    def put_token(self, version, rest):
        if rest != "api/token":
            self.send_error_page(404)
            return 404
        if version != "latest":
            # "A PUT to a version path such as /2021-03-23/api/token returns
            # 403 by design" (aws.md section 3).
            self.send_error_page(403)
            return 403
        if self.headers.get("X-Forwarded-For") is not None:
            self.send_error_page(403)
            return 403
        ttl_text = self.headers.get(TTL_HEADER)
        if ttl_text is None or not ttl_text.strip().isdigit():
            self.send_error_page(400)
            return 400
        ttl = int(ttl_text.strip())
        if not TOKEN_TTL_MIN <= ttl <= TOKEN_TTL_MAX:
            self.send_error_page(400)
            return 400
        with self.app.lock:
            token = self.app.new_token(ttl)
        self.send_body(200, token, headers=[(TTL_HEADER, str(ttl))])
        return 200

    # ---- control API (no real IMDS has this) -------------------------------

    def control(self, path):
        imds = self.app
        name = path[len("/_control/"):]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        try:
            body = self.read_json() if self.command in ("POST", "PUT") else {}
        except ValueError as e:
            return self.send_json(400, {"error": "bad JSON: %s" % e})
        with imds.lock:
            if name == "state" and self.command == "GET":
                return self.send_json(200, imds.state)
            if name == "state" and self.command == "POST":
                imds.state = standin_http.merge_patch(imds.state, body)
                return self.send_json(200, imds.state)
            if name == "state" and self.command == "PUT":
                imds.state = standin_http.merge_patch(copy.deepcopy(DEFAULT_STATE), body)
                return self.send_json(200, imds.state)
            if name == "expire-tokens" and self.command == "POST":
                n = len(imds.tokens)
                imds.tokens.clear()
                return self.send_json(200, {"expired": n})
            if name == "rotate-credentials" and self.command == "POST":
                creds = imds.rotate_credentials(body)
                return self.send_json(200, creds)
            if name == "credentials" and self.command == "GET":
                return self.send_json(200, imds.issued)
            if name == "down" and self.command == "POST":
                mode = body.get("mode", "reset")
                if mode not in ("reset", "503", "hang"):
                    return self.send_json(400, {"error": "mode must be reset, 503 or hang"})
                imds.down_mode = mode
                imds.up_event.clear()
                return self.send_json(200, {"down": mode})
            if name == "inject" and self.command == "POST":
                rules = body if isinstance(body, list) else [body]
                for rule in rules:
                    unknown = set(rule) - INJECT_KEYS
                    if unknown:
                        return self.send_json(400, {"error": "unknown keys %s" % sorted(unknown)})
                    if rule.get("path"):
                        re.compile(rule["path"])
                imds.injections.extend(dict(r) for r in rules)
                return self.send_json(200, {"rules": imds.injections})
            if name == "inject" and self.command == "GET":
                return self.send_json(200, {"rules": imds.injections})
            if name == "inject" and self.command == "DELETE":
                imds.injections.clear()
                return self.send_json(200, {"rules": []})
            if name == "up" and self.command == "POST":
                imds.down_mode = None
                imds.up_event.set()
                return self.send_json(200, {"down": None})
        if name == "log" and self.command == "GET":
            since = int(query.get("since", ["0"])[0])
            text = "".join(json.dumps(e, sort_keys=True) + "\n"
                           for e in imds.log.entries(since))
            return self.send_body(200, text, "application/x-ndjson")
        if name == "log" and self.command == "DELETE":
            imds.log.clear()
            return self.send_json(200, {})
        return self.send_json(404, {"error": "no control endpoint %s %s" % (self.command, path)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    standin_http.common_arguments(parser)
    parser.add_argument("--state", help="JSON file with the initial instance state")
    parser.add_argument("--log", help="append every request as a JSON line here")
    args = parser.parse_args(argv)
    state = {}
    if args.state:
        with open(args.state, encoding="utf-8") as f:
            state = json.load(f)
    imds = Imds(state, args.log)
    server = standin_http.StandinServer(args.listen, ImdsHandler, imds)
    return standin_http.serve(server, args.port_file, on_stop=imds.log.close)


if __name__ == "__main__":
    sys.exit(main())
