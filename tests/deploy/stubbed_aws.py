"""Offline AWS for the tests of scripts/provision: real boto3 clients with
botocore's Stubber attached, so every call the script makes is checked
against botocore's service model (parameter names, types, required members)
and every canned response against the operation's output shape.

A scenario is the list of calls, in order, across all eight services:
  aws.expect("ec2", "create_vpc", {"Vpc": {...}}, params={...})
  aws.fail("elbv2", "describe_load_balancers", "LoadBalancerNotFound")
`params` (exact) are compared by the Stubber; the order
across services is checked by a recorder on each client's event hooks.
`aws.verify()` then asserts that exactly the scenario ran."""

import importlib.machinery
import importlib.util
import os

import unittest

import boto3
from botocore.stub import Stubber

TOP_SRCDIR = os.environ.get("top_srcdir",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SERVICES = ("ec2", "elbv2", "autoscaling", "iam", "ssm", "cloudfront", "acm", "route53")

# The mutating operations of those services: everything not Describe/Get/List.
READ_PREFIXES = ("describe_", "get_", "list_")


_PROVISION = []


def load_provision():
    """scripts/provision as a module, loaded once: a test that changes one
    of its settings changes it for run_provision too."""
    if _PROVISION:
        return _PROVISION[0]
    path = os.path.join(TOP_SRCDIR, "scripts", "provision")
    loader = importlib.machinery.SourceFileLoader("provision", path)
    spec = importlib.util.spec_from_loader("provision", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    _PROVISION.append(module)
    return module


class FakeTime:
    """clock() and sleep() for bounded waits: sleeping advances the clock."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


_SESSIONS = {}


def session(region):
    """One session per region for all scenarios: it keeps the service
    models it has loaded, which a new session would parse again (seconds
    for EC2's)."""
    if region not in _SESSIONS:
        _SESSIONS[region] = boto3.Session(aws_access_key_id="AKIDEXAMPLE",
                                          aws_secret_access_key="stubbed/secret",
                                          region_name=region)
    return _SESSIONS[region]


class StubbedAWS:
    def __init__(self, region="us-east-1"):
        session_ = session(region)
        self.clients = {name: session_.client(name) for name in SERVICES}
        self.stubbers = {name: Stubber(c) for name, c in self.clients.items()}
        self.expected = []  # (service, operation) in scenario order
        self.calls = []  # (service, operation, params) as the script made them
        for name, c in self.clients.items():
            c.meta.events.register("before-parameter-build",
                                   lambda params, model, name=name, **kw:
                                   self.calls.append((name, model.name, params)))
        for s in self.stubbers.values():
            s.activate()

    def expect(self, service, operation, response=None, params=None):
        self.stubbers[service].add_response(operation, response or {}, params)
        self.expected.append((service, operation))

    def fail(self, service, operation, code, message="stubbed error", status=400, params=None):
        self.stubbers[service].add_client_error(operation, service_error_code=code,
                                                service_message=message, http_status_code=status,
                                                expected_params=params)
        self.expected.append((service, operation))

    def operations(self):
        """The calls made, as (service, snake_case_operation)."""
        out = []
        for service, op, _ in self.calls:
            snake = self.clients[service].meta.method_to_api_mapping
            out.append((service, next(k for k, v in snake.items() if v == op)))
        return out

    def mutations(self):
        return [c for c in self.operations() if not c[1].startswith(READ_PREFIXES)]

    def verify(self, test):
        test.assertEqual(self.operations(), self.expected, "calls made vs the scenario")
        for s in self.stubbers.values():
            s.assert_no_pending_responses()

    def close(self):
        for s in self.stubbers.values():
            s.deactivate()


class ProvisionTestCase(unittest.TestCase):
    """A test of scripts/provision: a fresh StubbedAWS and fake clock per
    test; run_provision(*args) runs the script's main with them and keeps
    what it printed.  PREFIX_ARGS go before the test's own arguments
    (--destroy for the tests of destroy)."""

    PREFIX_ARGS = ()

    def setUp(self):
        self.aws = StubbedAWS()
        self.time = FakeTime()
        self.lines = []

    def tearDown(self):
        self.aws.close()

    def run_provision(self, *args):
        return load_provision().main(list(self.PREFIX_ARGS) + list(args), clients=self.aws.clients,
                                   sleep=self.time.sleep, clock=self.time.clock,
                                   out=self.lines.append)

    def output(self):
        return "\n".join(self.lines)

    def sent(self, operation):
        """The parameters of every call of operation (API name), in order."""
        return [p for _, op, p in self.aws.calls if op == operation]
