"""asg-agent's IMDSv2 client and instance-profile credentials against the
IMDS stand-in: credentials refreshed ahead of Expiration (advisory window,
15 min before), a token invalidated by IMDS (401) replaced at once, an IMDS
outage at refresh time survived on the old credentials, new ones fetched
once IMDS is back; and with a short token TTL, tokens renewed on expiry
without a 401 (that agent learns its group from the IMDS instance tag).  The stand-in never serves IMDSv1: a request without a token
would show up as 401 in its log."""

import json
import os
import time

import agentlib
from agentlib import check

# Credentials that enter botocore's 15-minute advisory window 2 s after
# they are issued; the stand-in rotates them when asked within 901 s of
# expiry, as EC2 publishes new keys ahead of time.
IMDS_STATE = {"credentials": {"lifetime_seconds": 902, "auto_rotate_before_seconds": 901}}


def imds_log(imds):
    text = imds.control("GET", "log")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def keys_used(aws):
    return [c["access_key_id"] for c in aws.calls(action="PutMetricData") if c["status"] == 200]


def wait_new_key(aws, known, timeout):
    found = agentlib.wait_until(lambda: [k for k in keys_used(aws) if k not in known], timeout)
    check(found, "no publish with new credentials within %ss (known %r)" % (timeout, known))
    return found[-1]


def refresh_and_outage(tmp, proc, imds, aws):
    agent = agentlib.Agent(tmp, agentlib.base_config(tmp, proc.path), {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
        "AWS_ENDPOINT_URL": aws.url,
    })
    try:
        check(agent.notify.wait_for("READY=1", 10), "no READY=1")
        first = agentlib.wait_until(lambda: keys_used(aws), 6)
        check(first, "nothing published")
        # Refreshed ahead of expiry: a new key while the old one is valid.
        second = wait_new_key(aws, set(first), 8)

        # IMDS forgets every token: the next GET is 401, then a new token.
        mark = len(imds_log(imds))
        imds.control("POST", "expire-tokens")
        third = wait_new_key(aws, set(first) | {second}, 8)
        entries = imds_log(imds)[mark:]
        statuses = [(e["method"], e["status"]) for e in entries]
        check(("GET", 401) in statuses, "no 401 after expire-tokens: %r" % statuses)
        i = statuses.index(("GET", 401))
        check(statuses[i + 1] == ("PUT", 200) and statuses[i + 2] == ("GET", 200),
              "401 not followed by a new token and the same GET: %r" % statuses[i:])

        # IMDS down at refresh time: publishing goes on with the old keys.
        imds.control("POST", "down", {"mode": "reset"})
        mark_calls = len(aws.calls(action="PutMetricData"))
        time.sleep(3.5)
        during = aws.calls(action="PutMetricData")[mark_calls:]
        check(len(during) >= 2 and all(c["status"] == 200 for c in during),
              "publishing stopped during the IMDS outage: %r" % during)
        check({c["access_key_id"] for c in during} == {third},
              "keys changed while IMDS was down: %r" % during)
        check(any(e["status"] == 0 for e in imds_log(imds)),
              "the agent did not try IMDS during the outage")
        imds.control("POST", "up")
        wait_new_key(aws, set(first) | {second, third}, 8)
        rc = agent.terminate()
        check(rc == 0, "exit status %s" % rc)
        stderr = agent.stderr()
        check(stderr.count("credential refresh failed") == 1,
              "the outage was not logged exactly once: %s" % stderr)
        check("instance profile credentials refreshed" in stderr,
              "the recovery was not logged: %s" % stderr)
        for creds in imds.control("GET", "credentials"):
            check(creds["SecretAccessKey"] not in stderr and creds["Token"] not in stderr,
                  "a secret was logged")
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()


def token_expiry(tmp, proc, imds, aws):
    sub = os.path.join(tmp, "short-ttl")
    os.mkdir(sub)
    config = agentlib.base_config(sub, proc.path)
    config["imds_token_ttl"] = 2
    imds.control("DELETE", "log")
    # With instance tags in IMDS, the group comes from aws:autoscaling:groupName.
    imds.control("POST", "state", {"tags_enabled": True,
                                   "tags": {"aws:autoscaling:groupName": "tagged-asg"}})
    agent = agentlib.Agent(sub, config, {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
        "AWS_ENDPOINT_URL": aws.url,
    })
    try:
        check(agent.notify.wait_for("READY=1", 10), "no READY=1")
        time.sleep(4.5)
        doc = json.loads(agent.cli("status").stdout)
        check(doc["auto_scaling_group"] == "tagged-asg" and
              doc["auto_scaling_group_source"] == "imds-tag", "status: %r" % doc)
        rc = agent.terminate()
        check(rc == 0, "exit status %s" % rc)
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()
    entries = imds_log(imds)
    puts = [e for e in entries if e["method"] == "PUT"]
    check(len(puts) >= 2, "the 2 s token was not renewed: %r" % entries)
    check(not [e for e in entries if e["status"] == 401],
          "an expired token was used: %r" % entries)
    check(all(e["token"] for e in entries if e["method"] == "GET"), "a GET without a token")


def test(tmp):
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    try:
        with agentlib.client.start_imds(state=IMDS_STATE) as imds, \
                agentlib.client.start_aws(state=agentlib.AWS_STATE, trust_imds=[imds.url]) as aws:
            refresh_and_outage(tmp, proc, imds, aws)
            token_expiry(tmp, proc, imds, aws)
    finally:
        proc.stop()


agentlib.run(test)
