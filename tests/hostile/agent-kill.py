"""kill -9 loops for asg-agent (issue 9 section 5), against the IMDS and
AWS stand-ins and a real asg-health: during a termination drain (drain.d
running, heartbeats, the hook's completion) and while it publishes a
metric every second, the agent is killed with SIGKILL at random points and
started again, ASG_KILL_LOOPS times in all (default 5, 3 under ASan, in one drain;
RELIABILITY.md has a run of 60 by hand, 6 kills in each of 10 drains).  After the last restart the drain finishes: the
terminating hook is completed exactly once (never twice, never not), the
instance stays drained, asg-health was drained throughout, every drain.d
script finished at least once and the last one last, and no metric period
was accepted twice."""

import collections
import os
import random
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import agentlib  # noqa: E402
import lifecyclelib  # noqa: E402
from agentlib import check, wait_until  # noqa: E402
from lifecyclelib import INSTANCE_ID, TERM_HOOK  # noqa: E402

# Fewer under ASan (./scripts/check's second pass), whose restarts are slow.
KILLS = int(os.environ.get("ASG_KILL_LOOPS", "3" if "ASAN_OPTIONS" in os.environ else "5"))
KILLS_PER_DRAIN = 6


def restart(s):
    s.agent.proc.send_signal(signal.SIGKILL)
    s.agent.proc.wait()
    s.agent.terminate()
    os.unlink(s.agent.notify.path)
    s.start_agent()


def one_drain(tmp, rng, kills):
    s = lifecyclelib.Setup(tmp)
    try:
        lifecyclelib.mark_script(s, "10-stop-app", sleep=0.5)
        lifecyclelib.mark_script(s, "20-last")
        s.start_agent()
        s.wait_state("ready", 15)
        s.aws.control("POST", "terminate", {"InstanceId": INSTANCE_ID})
        check(wait_until(lambda: s.health_status()["draining"], 10), "asg-health not drained")
        phases = []
        for _ in range(kills):
            # Anywhere from the state file's first write to drain.d, a
            # heartbeat or the completion itself.
            time.sleep(rng.uniform(0.0, 1.2))  # not an assertion: where the kill lands
            phases.append(s.lifecycle().get("phase") or s.lifecycle().get("state") or "?")
            restart(s)
        done = wait_until(lambda: s.completed(TERM_HOOK), 30)
        check(done, "the hook was never completed after %d kills: %r" % (kills, s.lifecycle()))
        s.wait_state("drained", 15)
        # The state that excludes a second completion: drained, and the
        # agent restarted once more reads it and completes nothing.
        restart(s)
        s.wait_state("drained", 15)
        comp = s.completed(TERM_HOOK)
        check(len(comp) == 1, "hook completed %d times: %r" % (len(comp), comp))
        ok = s.ok_calls("CompleteLifecycleAction")
        check(len(ok) == 1, "CompleteLifecycleAction accepted %d times" % len(ok))
        check(s.health_status()["draining"], "asg-health undrained after the drain")
        names = [m[0] for m in lifecyclelib.read_marks(s.marks)]
        check("10-stop-app" in names and names[-1] == "20-last", "drain.d marks %r" % names)
        stamps = collections.Counter()
        for c in s.ok_calls("PutMetricData"):
            for d in c["params"].get("MetricData", []):
                stamps[(d.get("MetricName"), str(d.get("Timestamp")),
                        str(d.get("Dimensions")))] += 1
        doubled = [k for k, n in stamps.items() if n > 1]
        check(not doubled, "metric periods accepted twice: %r" % doubled[:5])
        return {"kills": kills, "phases": phases, "completions": len(comp),
                "attempts": len(s.aws.calls(action="CompleteLifecycleAction")),
                "periods": len(stamps), "drain_d_runs": names.count("10-stop-app")}
    finally:
        try:
            s.close()
        finally:
            stop_all(s)


def stop_all(s):
    """Whatever s.close() left running when it raised (the agent not
    exiting on SIGTERM, a wrapper error, a stand-in that would not stop):
    every process of the Setup killed by its PID and reaped, so a failed
    run leaves no asg-health, agent or stand-in behind."""
    procs = [getattr(x, "proc", None) for x in (s.agent, s.health, s.aws, s.imds) if x]
    for p in procs:
        if p is not None and p.poll() is None:
            p.kill()  # SIGKILL to p.pid
            p.wait()
    s.proc_stat.stop()


def main(tmp):
    seed = int(os.environ.get("ASG_KILL_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    t0 = time.monotonic()
    left, n, results = KILLS, 0, []
    while left > 0:
        k = min(KILLS_PER_DRAIN, left)
        d = os.path.join(tmp, "drain%d" % n)
        os.makedirs(d)
        results.append(one_drain(d, rng, k))
        left -= k
        n += 1
    phases = collections.Counter(p for r in results for p in r["phases"])
    print("STATS {\"attack\": \"agent kill -9 loop\", \"kills\": %d, \"drains\": %d, "
          "\"completions_per_drain\": %r, \"complete_attempts\": %r, \"drain_d_runs\": %r, "
          "\"killed_in\": %r, \"seed\": %d, \"seconds\": %.1f}"
          % (KILLS, len(results), [r["completions"] for r in results], [r["attempts"] for r in results],
             [r["drain_d_runs"] for r in results], dict(phases), seed, time.monotonic() - t0))


agentlib.run(main)
