#!/usr/bin/python3
"""AWS stand-in for CloudWatch, Auto Scaling and Elastic Load Balancing v2
(all Query protocol) on one loopback endpoint.

Every request to / is authenticated like AWS does it (SigV4, checked with
botocore), its parameters are rebuilt from the form body and validated
against botocore's model of the operation, it runs against the world in
aws_world.py and is answered in the service's XML.  Each call is recorded as a
JSON line.  /_control/ (no AWS service has it) scripts the world, the
accepted credentials, faults and the clock.  See tests/standins/README.md.
"""

import argparse
import datetime
import email.utils
import gzip
import http.client
import json
import os
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore.session  # noqa: E402

import aws_world  # noqa: E402
import cloudwatch_agg  # noqa: E402
import query_protocol  # noqa: E402
import sigv4_verify  # noqa: E402
import standin_http  # noqa: E402
from query_protocol import QueryError  # noqa: E402

# PutMetricData: "1 MB per POST request" (aws.md section 4); the same cap is
# applied to the other two services.
MAX_BODY = 1024 * 1024
DEFAULT_STATUS_CODES = {500: "InternalFailure", 502: "BadGateway",
                        503: "ServiceUnavailable", 504: "GatewayTimeout",
                        400: "Throttling", 429: "Throttling"}


class CredentialStore:
    """Keys the stand-in accepts: static ones from --credentials FILE (re-read
    when it changes), ones added through /_control/credentials, and whatever
    the IMDS stand-ins named by --trust-imds have issued."""

    def __init__(self, path, imds_urls):
        self.lock = threading.Lock()
        self.path = path
        self.mtime = None
        self.file_keys = {}
        self.added = {}
        self.imds_urls = list(imds_urls)
        self._reload()

    @staticmethod
    def _entry(obj):
        token = obj.get("SessionToken", obj.get("Token"))
        return {"AccessKeyId": obj["AccessKeyId"],
                "SecretAccessKey": obj["SecretAccessKey"],
                "SessionToken": token or None,
                "Expiration": obj.get("Expiration")}

    def _reload(self):
        if not self.path:
            return
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return
        if mtime == self.mtime:
            return
        with open(self.path, encoding="utf-8") as f:
            entries = json.load(f)
        self.file_keys = {e["AccessKeyId"]: self._entry(e) for e in entries}
        self.mtime = mtime

    def add(self, obj):
        e = self._entry(obj)
        with self.lock:
            self.added[e["AccessKeyId"]] = e
        return e

    def remove(self, akid):
        with self.lock:
            return self.added.pop(akid, None) is not None

    def all(self):
        with self.lock:
            self._reload()
            merged = dict(self.file_keys)
            merged.update(self.added)
            return list(merged.values())

    def lookup(self, akid):
        with self.lock:
            self._reload()
            if akid in self.added:
                return self.added[akid]
            if akid in self.file_keys:
                return self.file_keys[akid]
            urls = list(self.imds_urls)
        for url in urls:
            try:
                with urllib.request.urlopen(url.rstrip("/") + "/_control/credentials",
                                            timeout=2) as r:
                    issued = json.load(r)
            except (OSError, ValueError):
                continue
            for c in issued:
                if c["AccessKeyId"] == akid:
                    return self._entry(c)
        return None


class AwsApp:
    def __init__(self, args):
        self.session = botocore.session.get_session()
        self.models = {name: self.session.get_service_model(name)
                       for name in set(query_protocol.SIGNING_NAME_TO_SERVICE.values())}
        self.region = args.region
        state = {}
        if args.state:
            with open(args.state, encoding="utf-8") as f:
                state = json.load(f)
        self.world = aws_world.World(state, args.region)
        self.credentials = CredentialStore(args.credentials, args.trust_imds or [])
        self.calls = standin_http.JsonLines(args.record)
        self.lock = threading.Lock()
        self.injections = []
        self.skew_seconds = 0.0
        self.skew_error_code = "SignatureDoesNotMatch"
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def _tick(self):
        while not self.stop.wait(0.1):
            self.world.tick()
            for probe in self.world.probes_due():
                threading.Thread(target=self._probe, args=(probe,), daemon=True).start()

    def _probe(self, probe):
        """One health check the way an ALB node sends it: GET over a fresh
        connection, Host <ip>:<port>, User-Agent ELB-HealthChecker/2.0, closed
        after the answer (aws.md section 1)."""
        status, error = 0, None
        conn = http.client.HTTPConnection(probe["ip"], probe["port"], timeout=probe["timeout"])
        try:
            conn.request("GET", probe["path"], headers={
                "Host": "%s:%d" % (probe["ip"], probe["port"]),
                "User-Agent": "ELB-HealthChecker/2.0", "Connection": "close"})
            response = conn.getresponse()
            response.read()
            status = response.status
        except socket.timeout:
            error = "timeout"
        except (OSError, http.client.HTTPException) as e:
            error = "%s: %s" % (type(e).__name__, e)
        finally:
            conn.close()
        self.world.apply_probe(probe, status, error)

    def now(self):
        """The stand-in's clock, shifted by /_control/clock skew."""
        return datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(seconds=self.skew_seconds)

    def take_injection(self, service, action):
        with self.lock:
            for rule in self.injections:
                if rule.get("action") not in (None, action):
                    continue
                if rule.get("service") not in (None, service, query_protocol.
                                               SIGNING_NAME_TO_SERVICE.get(service)):
                    continue
                if rule.get("count") is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.injections.remove(rule)
                rule["hits"] = rule.get("hits", 0) + 1
                return dict(rule)
        return None


def _peek_action(raw, query):
    """The Action, for the record of a request rejected before parsing."""
    try:
        for source in (query, raw.decode("utf-8", "replace")):
            found = urllib.parse.parse_qs(source).get("Action")
            if found:
                return found[0]
    except ValueError:
        pass
    return None


class AwsHandler(standin_http.StandinHandler):
    server_version = "Server"

    def date_time_string(self, timestamp=None):
        # The Date header follows the shifted clock so that a client can
        # correct its skew from it.
        return email.utils.formatdate(self.app.now().timestamp(), usegmt=True)

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        split = urllib.parse.urlsplit(self.path)
        if split.path.startswith("/_control/"):
            return self.control(split.path[len("/_control/"):],
                                urllib.parse.parse_qs(split.query))
        if split.path != "/" or self.command not in ("GET", "POST"):
            self.read_body()
            return self.send_body(404, "<UnknownOperationException/>\n", "text/xml")
        self.api(split)

    # ---- the three services ---------------------------------------------------

    def api(self, split):
        """One API request.  It is recorded when it arrives (its action,
        caller and, once parsed, its params), before any fault or delay,
        and its outcome is filled in when it is answered: a test sees a
        request that is still held by a delay (status None), and a late
        answer never appears as a new call."""
        app = self.app
        request_id = str(uuid.uuid4())
        record = {"time": standin_http.iso8601_ms(standin_http.utcnow()),
                  "request_id": request_id, "service": None, "action": None,
                  "params": None, "status": None, "error": None,
                  "access_key_id": None, "region": None, "answered": None}
        namespace = None
        arrived = []

        def arrive():
            if not arrived:
                arrived.append(True)
                app.calls.append(record)

        def outcome(status, **fields):
            arrive()  # a body too large is recorded only here
            app.calls.update(record, status=status,
                             answered=standin_http.iso8601_ms(standin_http.utcnow()), **fields)

        try:
            try:
                raw = self.read_body(MAX_BODY)
            except ValueError as e:
                raise QueryError("RequestEntityTooLarge", str(e), 413)
            record["action"] = _peek_action(raw, split.query)
            try:
                parsed = sigv4_verify.parse_authorization(self.headers)
                record.update(access_key_id=parsed.access_key, region=parsed.region,
                              service=parsed.service)
            finally:
                arrive()  # arrived: recorded before anything can fail
            model_name = query_protocol.SIGNING_NAME_TO_SERVICE.get(parsed.service)
            if model_name is None:
                raise QueryError("SignatureDoesNotMatch",
                                 "Credential should be scoped to correct service: '%s' is "
                                 "not monitoring, autoscaling or elasticloadbalancing"
                                 % parsed.service, 403)
            model = app.models[model_name]
            namespace = model.metadata["xmlNamespace"]
            self.authenticate(parsed, raw)
            body = raw
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                # PutMetricData has the requestcompression trait (aws.md 4);
                # the signature covers the compressed bytes.
                try:
                    body = gzip.decompress(raw)
                except (OSError, EOFError) as e:
                    raise QueryError("MalformedQueryString", "bad gzip body: %s" % e)
            if self.headers.get("X-Amz-Target"):
                raise QueryError("InvalidAction", "This stand-in speaks the Query protocol only; "
                                 "X-Amz-Target (AWS JSON) is not supported")
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if self.command == "POST" and body and ctype != "application/x-www-form-urlencoded":
                # The Query services read the form only with this type; the
                # body is then not seen and the Action is missing.
                raise QueryError("MissingAction",
                                 "Could not find operation: a Query POST body needs Content-Type "
                                 "application/x-www-form-urlencoded, got '%s'" % ctype)
            try:
                text = body.decode("utf-8", "strict")
            except UnicodeDecodeError as e:
                raise QueryError("MalformedQueryString", "body is not UTF-8: %s" % e)
            flat = query_protocol.parse_form(text, split.query)
            action = flat.get("Action")
            app.calls.update(record, action=action)
            if not action:
                raise QueryError("MissingAction", "Could not find operation (Action missing)")
            if action not in model.operation_names or flat.get("Version") != model.api_version:
                raise QueryError("InvalidAction", "Could not find operation %s for version %s"
                                 % (action, flat.get("Version")))
            op = model.operation_model(action)
            # Parsed before a fault applies, so that a throttled or delayed
            # call is recorded with what it asked for; a validation error
            # still loses to an injected fault, as before.
            params, param_error = None, None
            try:
                params = query_protocol.parse_params(flat, op)
                app.calls.update(record, params=query_protocol.jsonable(params))
            except QueryError as e:
                param_error = e
            fault = app.take_injection(parsed.service, action)
            if fault:
                app.calls.update(record, injected=fault)
                if fault.get("delay_ms"):
                    time.sleep(fault["delay_ms"] / 1000.0)
                    if self.peer_closed():
                        app.calls.update(record, client_gone=True)
                if fault.get("reset"):
                    outcome(0)
                    return self.reset_connection()
                if self.send_fault_body(fault, outcome):
                    return None
                if fault.get("status") or fault.get("error"):
                    status = fault.get("status") or 400
                    code = fault.get("error") or DEFAULT_STATUS_CODES.get(status, "InternalFailure")
                    raise QueryError(code, fault.get("message") or "Injected %s" % code, status,
                                     "Receiver" if status >= 500 else "Sender")
            if param_error:
                raise param_error
            handler = getattr(app.world, action, None)
            if handler is None:
                raise QueryError("InvalidAction", "The stand-in does not implement %s" % action)
            ctx = {"now": app.now(), "time": record["time"],
                   "access_key_id": parsed.access_key}
            with app.world.lock:
                result = handler(params, ctx)
                result = query_protocol.jsonable(result)
            out = query_protocol.response_xml(model, op, result, request_id)
            outcome(200)
            if not self.send_xml(200, out, request_id):
                app.calls.update(record, client_gone=True)
        except QueryError as e:
            outcome(e.status, error=e.code, message=e.message)
            if not self.send_xml(e.status, query_protocol.error_xml(namespace, e, request_id),
                                 request_id):
                app.calls.update(record, client_gone=True)
        except Exception as e:  # a stand-in bug: answer 500 and keep serving
            err = QueryError("InternalFailure", "stand-in error: %s\n%s"
                             % (e, traceback.format_exc()), 500, "Receiver")
            outcome(500, error=err.code, message=err.message)
            self.send_xml(500, query_protocol.error_xml(namespace, err, request_id), request_id)

    def send_fault_body(self, fault, outcome):
        """A fault that replaces the answer with a raw body (malformed or
        huge XML from a broken front end): `body` (text) or `body_bytes` (that
        many bytes of an endless <member> list), status `status` or 200.  The
        operation does not run.  False: the fault has no body."""
        body = fault.get("body")
        if body is None and fault.get("body_bytes"):
            n = int(fault["body_bytes"])
            head, tail = "<Response><Members>", "</Members></Response>"
            item = "<member>xxxxxxxxxxxxxxxxxxxxxxxx</member>"
            body = head + item * max(0, (n - len(head) - len(tail)) // len(item)) + tail
        if body is None:
            return False
        status = int(fault.get("status") or 200)
        outcome(status, error="InjectedBody")
        try:
            self.send_body(status, body, "text/xml")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        return True

    def send_xml(self, status, body, request_id):
        """False if the client was gone (it gave up waiting)."""
        try:
            self.send_body(status, body, "text/xml",
                           headers=[("x-amzn-RequestId", request_id)])
            return True
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a delay_ms fault longer than its timeout).
            self.close_connection = True
            return False

    def authenticate(self, parsed, body):
        """Key, token, clock, then signature: the order AWS reports them."""
        app = self.app
        if parsed.region != app.region:
            raise QueryError("SignatureDoesNotMatch",
                             "Credential should be scoped to a valid region, not '%s'. "
                             % parsed.region, 403)
        creds = app.credentials.lookup(parsed.access_key)
        if creds is None:
            raise QueryError("InvalidClientTokenId",
                             "The security token included in the request is invalid.", 403)
        token = self.headers.get("X-Amz-Security-Token")
        if (creds["SessionToken"] or token) and token != creds["SessionToken"]:
            raise QueryError("InvalidClientTokenId",
                             "The security token included in the request is invalid.", 403)
        if creds.get("Expiration"):
            expires = datetime.datetime.fromisoformat(creds["Expiration"].replace("Z", "+00:00"))
            if app.now() >= expires:
                raise QueryError("ExpiredToken",
                                 "The security token included in the request is expired", 403)
        request_time = sigv4_verify.amz_date(self.headers, parsed)
        skew = sigv4_verify.check_skew(request_time, app.now())
        if skew:
            raise QueryError(app.skew_error_code, skew, 403)
        sigv4_verify.check_all_amz_headers_signed(self.headers, parsed)
        sigv4_verify.verify(self.command, self.path, self.headers, body, parsed,
                            creds["SecretAccessKey"], request_time)

    # ---- control API ------------------------------------------------------------

    def control(self, name, query):
        try:
            body = self.read_json() if self.command in ("POST", "PUT") else {}
        except ValueError as e:
            return self.send_json(400, {"error": "bad JSON: %s" % e})
        try:
            return self._control(name, query, body)
        except (KeyError, TypeError, ValueError) as e:
            return self.send_json(400, {"error": "%s: %r" % (type(e).__name__, e)})

    def _control(self, name, query, body):
        app = self.app
        world = app.world
        cmd = self.command
        if name == "state":
            with world.lock:
                if cmd == "POST":
                    world.replace_state(standin_http.merge_patch(world.state, body))
                elif cmd == "PUT":
                    world.replace_state(body)
                return self.send_json(200, world.state)
        if name == "instances" and cmd == "POST":
            with world.lock:
                inst = world.instance(body["InstanceId"])
                if inst is None:
                    world.state["instances"].append(body)
                else:
                    inst.update(body)
                world.normalize()
                return self.send_json(200, world.instance(body["InstanceId"]))
        if name == "launch" and cmd == "POST":
            with world.lock:
                if world.group(body["AutoScalingGroupName"]) is None:
                    return self.send_json(400, {"error": "no such group"})
                return self.send_json(200, world.start_launch(body))
        if name == "terminate" and cmd == "POST":
            with world.lock:
                inst = world.instance(body["InstanceId"])
                if inst is None:
                    return self.send_json(404, {"error": "no such instance"})
                world.start_terminate(inst, body.get("cause", "scale-in"))
                return self.send_json(200, inst)
        if name == "target-health" and cmd == "POST":
            with world.lock:
                changed = []
                for tg in world.state["target_groups"]:
                    if body.get("TargetGroupArn") not in (None, tg["TargetGroupArn"]):
                        continue
                    for t in tg["targets"]:
                        if t["Id"] != body["Id"]:
                            continue
                        if body.get("State") is None:
                            # Hand the target back to the timer or the probes.
                            t.pop("forced", None)
                            changed.append(t)
                            continue
                        if t["Id"] == body["Id"]:
                            t.update(State=body["State"], forced=True, since=time.time(),
                                     passes=0, failures=0)
                            for key in ("Reason", "Description"):
                                t.pop(key, None)
                                if body.get(key):
                                    t[key] = body[key]
                            changed.append(t)
                return self.send_json(200 if changed else 404, changed)
        if name == "credentials":
            if cmd == "POST":
                entries = body if isinstance(body, list) else [body]
                return self.send_json(200, [app.credentials.add(e) for e in entries])
            if cmd == "DELETE":
                akid = query.get("AccessKeyId", [None])[0]
                return self.send_json(200, {"removed": app.credentials.remove(akid)})
            return self.send_json(200, app.credentials.all())
        if name == "inject":
            with app.lock:
                if cmd == "POST":
                    rule = dict(body)
                    if "skew_seconds" in rule:
                        app.skew_seconds = float(rule.pop("skew_seconds"))
                        if "skew_error" in rule:
                            app.skew_error_code = rule.pop("skew_error")
                    if set(rule) - {"service"}:
                        app.injections.append(rule)
                elif cmd == "DELETE":
                    app.injections.clear()
                return self.send_json(200, {"rules": app.injections,
                                            "skew_seconds": app.skew_seconds})
        if name == "clock":
            with app.lock:
                if cmd == "POST":
                    app.skew_seconds = float(body.get("skew_seconds", 0))
                    app.skew_error_code = body.get("error", "SignatureDoesNotMatch")
                return self.send_json(200, {"skew_seconds": app.skew_seconds,
                                            "now": app.now().isoformat(),
                                            "error": app.skew_error_code})
        if name == "calls":
            if cmd == "DELETE":
                app.calls.clear()
                return self.send_json(200, [])
            since = int(query.get("since", ["0"])[0])
            calls = app.calls.entries(since)
            for key in ("action", "service", "error"):
                if key in query:
                    calls = [c for c in calls if c.get(key) == query[key][0]]
            if query.get("format", [""])[0] == "jsonl":
                return self.send_body(200, "".join(json.dumps(c, sort_keys=True) + "\n"
                                                   for c in calls), "application/x-ndjson")
            return self.send_json(200, calls)
        if name == "metrics":
            with world.lock:
                if cmd == "DELETE":
                    world.metrics.clear()
                return self.send_json(200, query_protocol.jsonable(world.metrics))
        if name == "metric-statistics":
            # GetMetricStatistics for Auto Scaling's own use (target
            # tracking): ?namespace=&name=&dim=Name=Value...&start=&end=&period=
            dims = [dict(zip(("Name", "Value"), d.split("=", 1))) for d in query.get("dim", [])]
            with world.lock:
                points = list(world.metrics)
            return self.send_json(200, cloudwatch_agg.statistics(
                points, query["namespace"][0], query["name"][0], dims,
                float(query["start"][0]), float(query["end"][0]), float(query["period"][0]),
                query.get("unit", [None])[0]))
        return self.send_json(404, {"error": "no control endpoint %s /_control/%s" % (cmd, name)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    standin_http.common_arguments(parser)
    parser.add_argument("--state", help="JSON file with groups, instances, hooks, target groups")
    parser.add_argument("--credentials",
                        help="JSON list of {AccessKeyId, SecretAccessKey[, SessionToken, "
                             "Expiration]} accepted; re-read when it changes")
    parser.add_argument("--trust-imds", action="append", metavar="URL",
                        help="also accept credentials issued by this IMDS stand-in")
    parser.add_argument("--record", help="append every call as a JSON line here")
    parser.add_argument("--region", default="us-east-1",
                        help="the region requests must be scoped to (default us-east-1)")
    args = parser.parse_args(argv)
    app = AwsApp(args)
    server = standin_http.StandinServer(args.listen, AwsHandler, app)

    def on_stop():
        app.stop.set()
        app.calls.close()
    return standin_http.serve(server, args.port_file, on_stop=on_stop)


if __name__ == "__main__":
    sys.exit(main())
