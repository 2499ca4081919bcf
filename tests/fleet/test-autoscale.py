"""Issue 11: the closed loop.  Two instances behind HAProxy under the group's
controller (group.py: desired/min/max, hooks, ELB health replacement,
target tracking on the agents' own CPU metric at a 10 s period run ten
times faster): an instance dies and is replaced; one fails its load
balancer checks and is replaced through its hook; a load step grows the group
and the end of it shrinks the group through drains.  Asserts on events and
counts, every wait bounded."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fleet as fleetlib  # noqa: E402
import group as grouplib  # noqa: E402
import scenarios  # noqa: E402


def sanitized():
    """The sanitizer pass of ./scripts/check runs the daemons through
    test-fleet.py already; these scenarios add control logic (Python) and
    ~40 s, so they run in the plain pass only."""
    out = subprocess.run(["ldd", fleetlib.HEALTH_BIN], capture_output=True, text=True).stdout
    return "libasan" in out


def main():
    if sanitized():
        print("SKIP: sanitizer build (the closed loop runs in the plain pass)")
        return 77
    events = []
    log = lambda line: events.append("%.2f %s" % (time.monotonic(), line))  # noqa: E731
    f = fleetlib.Fleet(n=2, events=log)
    g = None
    results = []
    t0 = time.monotonic()
    try:
        f.wait_up([1, 2], timeout=60)
        g = grouplib.Group(f, min_size=2, max_size=3, desired=2, target=2.0, log=log)
        results.append(scenarios.instance_failure(f, g, 1))
        results.append(scenarios.unhealthy_replaced(f, g, 2))
        results.append(scenarios.autoscale(f, g))
        if g.errors:
            raise AssertionError("group controller errors: %s" % g.errors[:5])
    except Exception:
        print("\n".join(events[-60:]))
        raise
    finally:
        if g:
            g.stop()
        f.close()
    lines = []
    for r in results:
        lines.append(("PASS " if r.passed else "FAIL ") + r.line)
        if not r.passed:
            lines.extend("     " + d for d in r.details)
    lines.append("autoscale: %d scenarios in %.0f s" % (len(results), time.monotonic() - t0))
    print("\n".join(lines))
    if not all(r.passed for r in results):
        print("\n".join(events[-80:]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
