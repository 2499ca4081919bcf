"""The control protocol between the two daemons, tested from both sides
with both real daemons: a real asg-health with its control socket and a real
asg-agent pointed at it (health_socket), as lifecyclelib sets them up.

The names come from common/control-protocol.h, parsed here, so the test
follows a rename there.  Checked:
- every field the agent reads (FIELDS below) is in asg-health's status
  document with the type the agent expects, also the load balancer fields
  once probes confirmed a drain, and every CONTROL_ name the agent's
  sources use is one FIELDS (or PATHS/VALUES) covers: a field the agent
  starts reading fails here until its type is checked too;
- the agent reads them: under a launching hook its gate names the failing
  critical check with the state asg-health gave it, and completes the hook
  (CONTINUE) once the check passed `rise` times;
- `asg-agent drain` and `undrain` change asg-health's state as its control
  socket shows it, with the answers the header's paths give."""

import glob
import json
import os
import re

import agentlib
import asgtest
import lifecyclelib
from agentlib import check, wait_until
from lifecyclelib import LAUNCH_HOOK

HEADER = os.path.join(agentlib.TOP_SRCDIR, "common", "control-protocol.h")


def protocol():
    names = {}
    with open(HEADER) as f:
        for m in re.finditer(r'^#define\s+(CONTROL_[A-Z0-9_]+)\s+"([^"]*)"', f.read(), re.M):
            names[m.group(1)] = m.group(2)
    return names


P = protocol()
INT, BOOL, STR, OBJ, ARR = int, bool, str, dict, list

# What the agent reads (and version and failing, which operators rely on),
# as a path of header names, with the JSON type.
FIELDS = [
    (("CONTROL_FIELD_STATUS",), STR),
    (("CONTROL_FIELD_DRAINING",), BOOL),
    (("CONTROL_FIELD_IN_FLIGHT",), INT),
    (("CONTROL_FIELD_VERSION",), STR),
    (("CONTROL_FIELD_FAILING",), ARR),
    (("CONTROL_FIELD_CHECKS",), OBJ),
    (("CONTROL_FIELD_LOAD_BALANCER",), OBJ),
    (("CONTROL_FIELD_LOAD_BALANCER", "CONTROL_LB_RECENT"), INT),
    (("CONTROL_FIELD_LOAD_BALANCER", "CONTROL_LB_DRAIN_CONFIRMED"), BOOL),
    (("CONTROL_FIELD_LOAD_BALANCER", "CONTROL_LB_PROBERS"), ARR),
    (("CONTROL_FIELD_REQUESTS",), INT),
    # for operators (issue 12): the server threads, the access log's drops
    (("CONTROL_FIELD_THREADS",), INT),
    (("CONTROL_FIELD_ACCESS_LOG",), OBJ),
    (("CONTROL_FIELD_ACCESS_LOG", "CONTROL_ACCESS_LOG_DROPPED"), INT),
]
# Fields of each check object (under CONTROL_FIELD_CHECKS).
# Fields of each prober object (under load_balancer.probers).
PROBER_FIELDS = [("CONTROL_PROBER_PROBES", INT)]
CHECK_FIELDS = [("CONTROL_CHECK_STATE", STR), ("CONTROL_CHECK_CRITICAL", BOOL),
                ("CONTROL_CHECK_PASSES", INT), ("CONTROL_CHECK_TYPE", STR)]
PATHS = ["CONTROL_PATH_STATUS", "CONTROL_PATH_DRAIN", "CONTROL_PATH_UNDRAIN",
         "CONTROL_PATH_HEALTH", "CONTROL_DEFAULT_SOCKET", "CONTROL_PATH_METRICS",
         "CONTROL_AGENT_STATUS_PATH"]
VALUES = {"CONTROL_FIELD_STATUS": ["CONTROL_STATUS_HEALTHY", "CONTROL_STATUS_UNHEALTHY",
                                   "CONTROL_STATUS_DRAINING"],
          "CONTROL_CHECK_STATE": ["CONTROL_CHECK_PASS", "CONTROL_CHECK_FAIL",
                                  "CONTROL_CHECK_PENDING"]}


def covered():
    names = {n for path, _ in FIELDS for n in path} | {n for n, _ in CHECK_FIELDS}
    names |= {n for n, _ in PROBER_FIELDS}
    names |= set(PATHS) | {v for vs in VALUES.values() for v in vs}
    return names


def check_typed(doc, path, kind):
    v = doc
    for name in path:
        check(name in P, "%s is not defined in %s" % (name, HEADER))
        check(isinstance(v, dict) and P[name] in v,
              "asg-health's status lacks %s (%r): %r" % (
                  ".".join(P[n] for n in path), P[name], doc))
        v = v[P[name]]
    # bool is an int in Python: an integer field must not be a boolean.
    check(isinstance(v, kind) and not (kind is INT and isinstance(v, bool)),
          "%s is %r, not %s" % (".".join(P[n] for n in path), v, kind.__name__))


def check_document(doc):
    for path, kind in FIELDS:
        check_typed(doc, path, kind)
    check(doc[P["CONTROL_FIELD_STATUS"]] in [P[v] for v in VALUES["CONTROL_FIELD_STATUS"]],
          "status %r" % doc[P["CONTROL_FIELD_STATUS"]])
    for prober in doc[P["CONTROL_FIELD_LOAD_BALANCER"]][P["CONTROL_LB_PROBERS"]]:
        for field, kind in PROBER_FIELDS:
            check_typed(prober, (field,), kind)
    checks = doc[P["CONTROL_FIELD_CHECKS"]]
    check(checks, "no checks in %r" % doc)
    for name, c in checks.items():
        for field, kind in CHECK_FIELDS:
            check_typed(c, (field,), kind)
        check(c[P["CONTROL_CHECK_STATE"]] in [P[v] for v in VALUES["CONTROL_CHECK_STATE"]],
              "check %s state %r" % (name, c))


def agent_names():
    """The CONTROL_ names the agent's sources use."""
    used = set()
    for path in glob.glob(os.path.join(agentlib.TOP_SRCDIR, "agent", "*.[ch]")):
        with open(path, errors="replace") as f:
            used |= set(re.findall(r"\bCONTROL_[A-Z0-9_]+\b", f.read()))
    return used


def static_contract():
    check(len(P) >= 30, "too few names parsed from %s: %r" % (HEADER, P))
    missing = covered() - set(P)
    check(not missing, "names the test checks but the header lacks: %s" % sorted(missing))
    unchecked = agent_names() - covered()
    check(not unchecked, "the agent reads %s, which this test does not type-check" %
          sorted(unchecked))
    # asg-agent's default health_socket is asg-health's default
    # control_socket: the daemons meet without configuration.
    for side in ("health", "agent"):
        for path in glob.glob(os.path.join(agentlib.TOP_SRCDIR, side, "*.[ch]")):
            with open(path, errors="replace") as f:
                text = f.read()
            check(P["CONTROL_DEFAULT_SOCKET"] not in text,
                  "%s spells the default socket path itself; use CONTROL_DEFAULT_SOCKET" % path)


def probe(s):
    conn = s.health.connection()
    try:
        conn.request("GET", "/health", headers={"User-Agent": "ELB-HealthChecker/2.0"})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def check_metrics_paths(s):
    """CONTROL_PATH_METRICS on both sockets (Prometheus text), and the
    agent's status document at CONTROL_AGENT_STATUS_PATH."""
    prom_type = "text/plain; version=0.0.4; charset=utf-8"
    status, ctype, body = asgtest.unix_get(s.health.control, P["CONTROL_PATH_METRICS"])
    check(status == 200 and ctype == prom_type, "asg-health %s: %s %s" % (
        P["CONTROL_PATH_METRICS"], status, ctype))
    check("\nasg_health_draining 0\n" in body and "# TYPE asg_health_requests_total counter"
          in body, "asg-health metrics: %s" % body[:2000])
    agent_socket = s.config()["status_socket"]
    status, ctype, body = asgtest.unix_get(agent_socket, P["CONTROL_PATH_METRICS"])
    check(status == 200 and ctype == prom_type, "asg-agent %s: %s %s" % (
        P["CONTROL_PATH_METRICS"], status, ctype))
    check('asg_agent_lifecycle_state{state="ready"} 1\n' in body,
          "asg-agent metrics: %s" % body[:2000])
    status, ctype, body = asgtest.unix_get(agent_socket, P["CONTROL_AGENT_STATUS_PATH"])
    check(status == 200 and ctype == "application/json", "asg-agent %s: %s %s" % (
        P["CONTROL_AGENT_STATUS_PATH"], status, ctype))
    check(json.loads(body)["lifecycle"]["state"] == "ready", body)
    # The same document `asg-agent status` prints.
    cli = s.agent.cli("status")
    check(cli.returncode == 0 and json.loads(cli.stdout)["version"] == json.loads(body)["version"],
          "asg-agent status: %r" % cli)


def main(tmp):
    static_contract()
    s = lifecyclelib.Setup(tmp, state="Pending:Wait", flag=False,
                           health_config={"lb_unhealthy_threshold": 2})
    try:
        status, doc = s.health.control_request("GET", P["CONTROL_PATH_STATUS"])
        check(status == 200, "GET status: %s" % status)
        check_document(doc)

        # The agent reads the checks: its gate names the failing critical
        # check with asg-health's state for it.
        s.start_agent()
        check(wait_until(lambda: "app-ready (%s)" % P["CONTROL_CHECK_FAIL"] in
                         (s.lifecycle().get("failing_checks") or ""), 10),
              "the agent never reported app-ready failing: %r (asg-health: %r)" % (
                  s.lifecycle(), s.health_status()))
        check(not s.completed(), "hook completed while the check fails: %r" % s.completed())
        open(s.flag, "w").close()
        check(wait_until(lambda: s.completed(LAUNCH_HOOK), 15),
              "the agent never continued once the check passed: %r" % s.lifecycle())
        check(s.completed(LAUNCH_HOOK)[0].get("result") == "CONTINUE",
              repr(s.completed()))
        doc = s.health_status()
        check_document(doc)
        check(doc[P["CONTROL_FIELD_CHECKS"]]["app-ready"][P["CONTROL_CHECK_PASSES"]] >= 2,
              repr(doc))

        # asg-agent drain / undrain, seen on asg-health's control socket
        # (--force: the one target of this world's target group is this
        # instance, which the cascade guard protects; agent-standby.py).
        check(doc[P["CONTROL_FIELD_DRAINING"]] is False, repr(doc))
        r = s.agent.cli("drain", "--force")
        check(r.returncode == 0, "asg-agent drain: %s %s" % (r.returncode, r.stderr))
        doc = s.health_status()
        check_document(doc)
        check(doc[P["CONTROL_FIELD_DRAINING"]] is True and
              doc[P["CONTROL_FIELD_STATUS"]] == P["CONTROL_STATUS_DRAINING"], repr(doc))
        check(probe(s) == 503, "/health while drained")
        # Probes confirm the drain: the load balancer fields keep their
        # types once they have values.
        check(probe(s) == 503, "/health while drained")
        doc = s.health_status()
        check_document(doc)
        lb = doc[P["CONTROL_FIELD_LOAD_BALANCER"]]
        check(lb[P["CONTROL_LB_RECENT"]] == 1 and lb[P["CONTROL_LB_DRAIN_CONFIRMED"]] is True,
              repr(lb))
        r = s.agent.cli("undrain")
        check(r.returncode == 0, "asg-agent undrain: %s %s" % (r.returncode, r.stderr))
        doc = s.health_status()
        check_document(doc)
        check(doc[P["CONTROL_FIELD_DRAINING"]] is False and
              doc[P["CONTROL_FIELD_STATUS"]] == P["CONTROL_STATUS_HEALTHY"], repr(doc))
        check(probe(s) == 200, "/health after undrain")
        s.wait_state("ready", 5)
        check_metrics_paths(s)

        # The paths the header names are the ones asg-health serves.
        for name, method in (("CONTROL_PATH_HEALTH", "GET"), ("CONTROL_PATH_STATUS", "GET")):
            status, body = s.health.control_request(method, P[name])
            check(status == 200 and isinstance(body, dict), "%s %s: %s" % (method, P[name], status))
        status, body = s.health.control_request("GET", P["CONTROL_PATH_DRAIN"])
        check(status == 405 and P["CONTROL_FIELD_ERROR"] in body, "GET drain: %s %r" % (status, body))
    finally:
        s.close()


agentlib.run(main)
