#!/usr/bin/python3
"""scripts/iam-policy.json allows exactly the AWS API actions asg-agent's
code calls: every aws_query() call site in agent/*.c is read, its service
(AWS_CLOUDWATCH, ...) mapped to the IAM prefix, and the set compared with
the policy's actions, both ways.  Each action must exist in botocore's
model of its service.  The metric the scaling policy tracks, the agent's
default, the user data's agent.json and the policy's namespace condition
must all name the same namespace and metric."""

import glob
import json
import os
import re
import sys
import unittest

import botocore.session

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stubbed_aws import TOP_SRCDIR, load_provision  # noqa: E402

# agent/aws.h's enum aws_service: botocore service name and IAM prefix.
SERVICES = {
    "AWS_CLOUDWATCH": ("cloudwatch", "cloudwatch"),
    "AWS_AUTO_SCALING": ("autoscaling", "autoscaling"),
    "AWS_ELBV2": ("elbv2", "elasticloadbalancing"),
}
CALL = re.compile(r"\baws_query\s*\(")


def split_args(text, start):
    """The top-level comma-separated arguments of the call whose '(' is at
    text[start - 1]."""
    args, depth, cur, i = [], 0, "", start
    while i < len(text):
        ch = text[i]
        if ch == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            cur += text[i:j + 1]
            i = j + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                args.append(cur.strip())
                return args
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            i += 1
            continue
        cur += ch
        i += 1
    raise ValueError("unterminated call")


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", lambda m: " " * len(m.group(0)), text, flags=re.S)


def agent_calls():
    """{(iam_prefix, action): [file:line, ...]} for every call site."""
    calls, problems = {}, []
    sources = sorted(glob.glob(os.path.join(TOP_SRCDIR, "agent", "*.c")))
    for path in sources:
        with open(path, encoding="utf-8") as f:
            text = strip_comments(f.read())
        for m in CALL.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            where = "%s:%d" % (os.path.relpath(path, TOP_SRCDIR), line)
            # The definition itself (its parameters are declarations).
            before = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
            if before.strip() in ("int", "static int"):
                continue
            args = split_args(text, m.end())
            if len(args) < 3:
                problems.append("%s: aws_query with %d arguments" % (where, len(args)))
                continue
            svc, action = args[1], args[2]
            if svc not in SERVICES or not re.fullmatch(r'"[A-Za-z]+"', action):
                problems.append("%s: cannot tell the action of aws_query(%s, %s): use an "
                                "AWS_* constant and a string literal" % (where, svc, action))
                continue
            calls.setdefault((SERVICES[svc][1], action.strip('"')), []).append(where)
    return calls, problems, sources


def policy_actions(doc):
    out = set()
    for st in doc["Statement"]:
        actions = st["Action"]
        for a in [actions] if isinstance(actions, str) else actions:
            prefix, _, name = a.partition(":")
            out.add((prefix, name))
    return out


class PolicyMatchesTheAgent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(TOP_SRCDIR, "scripts", "iam-policy.json")) as f:
            cls.doc = json.load(f)
        cls.calls, cls.problems, cls.sources = agent_calls()

    def test_sources_read(self):
        self.assertTrue(self.sources, "no agent/*.c found under %s" % TOP_SRCDIR)
        self.assertEqual(self.problems, [])
        self.assertTrue(self.calls, "no aws_query call found in agent/*.c")

    def test_exactly_the_actions_called(self):
        called = set(self.calls)
        allowed = policy_actions(self.doc)
        missing = sorted(called - allowed)
        extra = sorted(allowed - called)
        self.assertEqual(missing, [], "called by the agent but not allowed: %s" % {
            "%s:%s" % k: self.calls[k] for k in missing})
        self.assertEqual(extra, [], "allowed but never called by the agent")

    def test_policy_shape(self):
        self.assertEqual(self.doc["Version"], "2012-10-17")
        for st in self.doc["Statement"]:
            self.assertEqual(st["Effect"], "Allow")
            self.assertEqual(set(st) - {"Sid", "Effect", "Action", "Resource", "Condition"},
                             set())
            for a in st["Action"]:
                self.assertNotIn("*", a, "no wildcard actions")

    def test_every_action_is_in_the_service_model(self):
        session = botocore.session.get_session()
        by_prefix = {prefix: name for name, prefix in SERVICES.values()}
        for prefix, action in policy_actions(self.doc) | set(self.calls):
            model = session.get_service_model(by_prefix[prefix])
            self.assertIn(action, model.operation_names, "%s:%s" % (prefix, action))


class OneNamespaceEverywhere(unittest.TestCase):
    def test_namespace_and_metric_agree(self):
        with open(os.path.join(TOP_SRCDIR, "agent", "config.c")) as f:
            config_c = f.read()
        namespace = re.search(r'cfg->namespace = strdup\("([^"]+)"\)', config_c).group(1)
        metric = re.search(r'cfg->cpu_metric_name = strdup\("([^"]+)"\)', config_c).group(1)

        with open(os.path.join(TOP_SRCDIR, "scripts", "iam-policy.json")) as f:
            doc = json.load(f)
        conditions = [st["Condition"]["StringEquals"]["cloudwatch:namespace"]
                      for st in doc["Statement"]
                      if "cloudwatch:PutMetricData" in st["Action"]]
        self.assertEqual(conditions, [namespace])

        with open(os.path.join(TOP_SRCDIR, "scripts", "user-data.sh")) as f:
            script = f.read()
        agent_json = re.search(r'"\$conf/agent.json" <<JSON\n(.*?)\nJSON\n', script, re.S)
        # The period is the user data's ASG_AGENT_PERIOD (60 unless
        # provision --metric-period sets it).
        self.assertEqual(json.loads(agent_json.group(1).replace("$ASG_AGENT_PERIOD", "60")),
                         {"namespace": namespace, "metric_name": metric, "period": 60})

        provision = load_provision()
        s = provision.Settings(subnets=None)
        self.assertEqual((s.namespace, s.metric_name), (namespace, metric))
        # --name changes nothing here; a different namespace is carried
        # into the policy's condition.
        s.namespace = "Custom/Web"
        doc2 = provision.agent_policy(s)
        self.assertIn("Custom/Web", json.dumps(doc2))
        self.assertEqual(policy_actions(doc2), policy_actions(doc))


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
