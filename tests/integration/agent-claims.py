"""README claims of asg-agent that had no test, each checked at the
stand-ins (whose parameter validation is botocore's model, so a call with
status 200 has the shape botocore accepts):

* `per_instance_metrics` with `memory_metric` and `disk_metric`: every
  period carries CPU, memory and disk under the group dimension and again
  under group + InstanceId, with the values of the fake /proc/meminfo and
  of statvfs(disk_path);
* the publish jitter: several agents draw different offsets, and each one
  publishes no earlier than its offset after the period ends;
* lifecycle state is kept across a restart in the same boot and discarded
  after a reboot (another boot id, ASG_AGENT_TEST_BOOT_ID);
* IMDS requests time out after 1 s and are retried: a request held 2.5 s
  is given up and the retry answered before the held one would have been.
"""

import datetime
import json
import os
import re
import time

import agentlib
import lifecyclelib
from agentlib import check, wait_until

PERIOD_MS = 1000


def call_ms(call):
    t = datetime.datetime.fromisoformat(call["time"].replace("Z", "+00:00"))
    return t.timestamp() * 1000


def stamp_ms(ts):
    if isinstance(ts, str):
        ts = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return int(round(ts.timestamp() * 1000))


def extra_metrics(tmp):
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    meminfo = os.path.join(tmp, "meminfo")
    with open(meminfo, "w") as f:
        # 75 % used: (total - available) / total.
        f.write("MemTotal:       4000000 kB\nMemFree:         100000 kB\n"
                "MemAvailable:    1000000 kB\nBuffers:           1000 kB\n")
    disk = os.path.join(tmp, "disk")
    os.mkdir(disk)
    config = agentlib.base_config(tmp, proc.path)
    config.update({"per_instance_metrics": True, "memory_metric": True, "disk_metric": True,
                   "disk_path": disk, "proc_meminfo": meminfo})
    try:
        with agentlib.client.start_imds() as imds, \
                agentlib.client.start_aws(state=agentlib.AWS_STATE,
                                          trust_imds=[imds.url]) as aws:
            agent = agentlib.Agent(tmp, config, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                                                 "AWS_ENDPOINT_URL": aws.url})
            try:
                check(agent.notify.wait_for("READY=1", 10), "no READY=1")
                check(wait_until(lambda: len(agentlib.metric_points(aws)) >= 3, 15),
                      "no CPU points")
                check(agent.terminate() == 0, "exit status")
            finally:
                if agent.proc.poll() is None:
                    agent.proc.kill()
            st = os.statvfs(disk)
            used = st.f_blocks - st.f_bfree
            disk_pct = 100.0 * used / (used + st.f_bavail)
            calls = aws.calls(action="PutMetricData")
            points = aws.control("GET", "metrics")
    finally:
        proc.stop()
    check(calls and all(c["status"] == 200 for c in calls), "refused: %r" % calls)
    group = [{"Name": "AutoScalingGroupName", "Value": agentlib.GROUP}]
    both = group + [{"Name": "InstanceId", "Value": agentlib.INSTANCE_ID}]
    by_period = {}
    for p in points:
        dims = sorted((d["Name"], d["Value"]) for d in p["Dimensions"])
        by_period.setdefault(stamp_ms(p["Timestamp"]), []).append((p["MetricName"], dims, p))
    want = sorted((name, sorted((d["Name"], d["Value"]) for d in dims))
                  for name in ("CPUUtilization", "MemoryUtilization", "DiskUtilization")
                  for dims in (group, both))
    check(len(by_period) >= 3, "periods: %r" % sorted(by_period))
    for stamp, got in sorted(by_period.items()):
        carriers = [(c["time"], c["request_id"], c["status"], c.get("client_gone"))
                    for c in calls if any(stamp_ms(d["Timestamp"]) == stamp
                                          for d in c["params"]["MetricData"])]
        check(len(got) == len(set((n, tuple(d)) for n, d, _ in got)),
              "period %d stored twice, sent by %r" % (stamp, carriers))
    complete = 0
    for stamp, got in sorted(by_period.items()):
        have = sorted((n, d) for n, d, _ in got)
        # Every period has CPU; memory and disk are read at each tick, so a
        # period the loop skipped over (a late tick spreads only CPU over the
        # periods it covered: seen at load 47) may lack them.  Whatever is
        # there comes in both series, group and group + instance.
        names = {n for n, _ in have}
        check("CPUUtilization" in names and
              have == [w for w in want if w[0] in names],
              "period %d has %r, expected (a subset of) %r" % (stamp, have, want))
        complete += have == want
        for name, _, p in got:
            sv = p["StatisticValues"]
            check(p["Unit"] == "Percent", repr(p))
            if name == "MemoryUtilization":
                check(abs(sv["Minimum"] - 75) < 1e-9 and abs(sv["Maximum"] - 75) < 1e-9,
                      "memory: %r" % sv)
            if name == "DiskUtilization":
                check(abs(sv["Sum"] / sv["SampleCount"] - disk_pct) < 1.0,
                      "disk %r, statvfs says %.2f" % (sv, disk_pct))
    check(complete >= 1, "no period with all six data: %r" % sorted(by_period))


JITTER_KEYS = ["AKIDJITTERTEST%06d" % i for i in range(4)]


def jitter_fleet(tmp):
    """Four agents, no IMDS, static keys (the key tells their calls apart)."""
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    creds = [{"AccessKeyId": k, "SecretAccessKey": "secret/" + k} for k in JITTER_KEYS]
    agents = []
    try:
        with agentlib.client.start_aws(state=agentlib.AWS_STATE, credentials=creds) as aws:
            for i, key in enumerate(JITTER_KEYS):
                sub = os.path.join(tmp, "a%d" % i)
                os.mkdir(sub)
                config = agentlib.base_config(sub, proc.path)
                config["auto_scaling_group_name"] = agentlib.GROUP
                agents.append(agentlib.Agent(sub, config, {
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": "secret/" + key,
                    "AWS_ENDPOINT_URL": aws.url}))

            def published(key):
                return [c for c in aws.calls(action="PutMetricData")
                        if c["access_key_id"] == key and c["status"] == 200]
            check(wait_until(lambda: all(len(published(k)) >= 3 for k in JITTER_KEYS), 20),
                  "not every agent published 3 periods")
            for a in agents:
                check(a.terminate() == 0, "exit status")
            calls = {k: published(k) for k in JITTER_KEYS}
    finally:
        for a in agents:
            if a.proc.poll() is None:
                a.proc.kill()
        proc.stop()
    jitters = []
    for a, key in zip(agents, JITTER_KEYS):
        m = re.search(r"publish jitter (\d+) ms", a.stderr())
        check(m, "jitter not logged: %s" % a.stderr())
        j = int(m.group(1))
        check(0 <= j <= PERIOD_MS // 4, "jitter %d outside a quarter period" % j)
        jitters.append(j)
        # Each call goes no earlier than the jitter after the end of its
        # newest period (a lower bound: a loaded machine only adds delay).
        # The call made at SIGTERM flushes at once and is left out.
        for c in calls[key][:-1]:
            newest = max(stamp_ms(d["Timestamp"]) for d in c["params"]["MetricData"])
            offset = call_ms(c) - (newest + PERIOD_MS)
            check(offset >= j - 5, "agent %s published %.0f ms after the period, before its "
                  "jitter %d ms" % (key, offset, j))
    # Four draws from 0..250: all equal with probability 251^-3.
    check(len(set(jitters)) > 1, "every agent drew the same jitter: %r" % jitters)
    print("jitters %r" % jitters)


def boot_id(tmp):
    """A Spot drain leaves state drained; restarted in the same boot the agent
    resumes it, after a reboot (another boot id) it discards it."""
    s = lifecyclelib.Setup(tmp)
    try:
        s.start_agent(env={"ASG_AGENT_TEST_BOOT_ID": "0b1d5c8e-1111-4a6f-9c3e-000000000001"})
        s.wait_state("ready", 8)
        s.imds.set_state({"spot_instance_action": {
            "action": "terminate", "time": lifecyclelib.iso(time.time() + 120)}})
        s.wait_state("drained", 10)
        s.stop_agent()
        s.imds.set_state({"spot_instance_action": None})

        os.unlink(s.agent.notify.path)
        s.start_agent(env={"ASG_AGENT_TEST_BOOT_ID": "0b1d5c8e-1111-4a6f-9c3e-000000000001"})
        s.wait_state("drained", 8)
        s.stop_agent()
        check("ignoring" not in s.agent.stderr(), "same boot ignored: %s" % s.agent.stderr())

        os.unlink(s.agent.notify.path)
        s.start_agent(env={"ASG_AGENT_TEST_BOOT_ID": "0b1d5c8e-2222-4a6f-9c3e-000000000002"})
        s.wait_state("ready", 8)
        check("from another boot or instance" in s.agent.stderr(),
              "reboot not logged: %s" % s.agent.stderr())
        # (asg-health is left as it was: after a real reboot it starts afresh.)
        def saved():
            with open(os.path.join(s.state_dir, "lifecycle.json")) as f:
                return json.load(f)
        check(wait_until(lambda: saved().get("boot_id") == "0b1d5c8e-2222-4a6f-9c3e-000000000002" and
                         saved().get("state") == "ready", 5),
              "state file not replaced after the reboot: %r" % saved())
    finally:
        s.close()


def imds_timeout(tmp):
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    try:
        with agentlib.client.start_imds() as imds, \
                agentlib.client.start_aws(state=agentlib.AWS_STATE,
                                          trust_imds=[imds.url]) as aws:
            imds.control("POST", "inject", {"method": "GET", "path": "/instance-id$",
                                            "delay_ms": 2500, "count": 1})
            agent = agentlib.Agent(tmp, agentlib.base_config(tmp, proc.path), {
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_ENDPOINT_URL": aws.url})
            try:
                check(agent.notify.wait_for("READY=1", 15), "no READY=1")

                def reads():
                    log = [json.loads(l)
                           for l in imds.control("GET", "log").splitlines() if l.strip()]
                    return [e for e in log if e["path"].endswith("/instance-id")]
                # Wait for the held request's outcome too.
                def settled():
                    r = reads()
                    return r if len(r) >= 2 and r[0].get("answered_at") else None
                got = wait_until(settled, 10)
                check(got, "instance-id reads: %r" % reads())
                held, retry = got[0], got[1]
                check(held.get("injected") and held["client_gone"],
                      "the held read was not given up: %r" % held)
                check(retry["status"] == 200, "retry: %r" % retry)
                # Order, not time: the retry came before the held answer
                # (the agent did not wait 2.5 s), and no sooner than ~1 s
                # after the first (it waited its timeout; load only adds).
                check(retry["arrived_at"] < held["answered_at"],
                      "the retry waited for the held answer: %r %r" % (held, retry))
                check(retry["arrived_at"] - held["arrived_at"] >= 0.95,
                      "gave up before 1 s: %r %r" % (held, retry))
                st = agent.cli("status")
                check(st.returncode == 0 and agentlib.INSTANCE_ID in st.stdout, st.stdout)
                check(agent.terminate() == 0, "exit status")
            finally:
                if agent.proc.poll() is None:
                    agent.proc.kill()
    finally:
        proc.stop()


def sigterm_during_publish(tmp):
    """SIGTERM while a PutMetricData is held at the stand-in: the agent once
    abandoned the call (which AWS may apply, and here does) and sent the same
    periods again in its exit flush: a period published twice (flakiness
    run at load 40).  Now the call in flight ends first, then the flush."""
    proc = agentlib.ProcStat(os.path.join(tmp, "stat"), agentlib.STEP_30)
    try:
        with agentlib.client.start_imds() as imds, \
                agentlib.client.start_aws(state=agentlib.AWS_STATE,
                                          trust_imds=[imds.url]) as aws:
            agent = agentlib.Agent(tmp, agentlib.base_config(tmp, proc.path), {
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_ENDPOINT_URL": aws.url})
            try:
                check(agent.notify.wait_for("READY=1", 10), "no READY=1")
                check(wait_until(lambda: agentlib.metric_points(aws), 10), "no publish")
                aws.inject({"action": "PutMetricData", "delay_ms": 2000, "count": 1})
                check(wait_until(lambda: [c for c in aws.calls(action="PutMetricData")
                                          if c.get("injected") and c["status"] is None], 10),
                      "the delayed call never arrived")
                check(agent.terminate() == 0, "exit status")
            finally:
                if agent.proc.poll() is None:
                    agent.proc.kill()
            # The held call's outcome is in (the stand-in applied it).
            check(wait_until(lambda: all(c["status"] is not None
                                         for c in aws.calls(action="PutMetricData")), 10),
                  "the held call never ended")
            calls = aws.calls(action="PutMetricData")
            stamps = [agentlib.timestamp_ms(p) for p in agentlib.metric_points(aws)]
    finally:
        proc.stop()
    held = [c for c in calls if c.get("injected")][0]
    check(not held.get("client_gone"), "the agent abandoned the call in flight at SIGTERM")
    check(len(stamps) == len(set(stamps)),
          "a period was published twice: %r" % sorted(t for t in stamps if stamps.count(t) > 1))


agentlib.run_scenarios(
    ("extra-metrics", extra_metrics),
    ("jitter", jitter_fleet),
    ("boot-id", boot_id),
    ("imds-timeout", imds_timeout),
    ("sigterm-during-publish", sigterm_during_publish),
)
