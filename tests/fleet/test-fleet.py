"""Issue 5: the fleet on one machine.  Three instances behind HAProxy (the
ALB), every scenario under load, each with its one-line result; fails if
any zero-failure target is missed.  The lines are also written to
fleet-results.txt in the build tree (BENCHMARKS.md records a run)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fleet as fleetlib  # noqa: E402
import scenarios  # noqa: E402


def main():
    events = []
    f = fleetlib.Fleet(n=3, events=lambda line: events.append("%.2f %s" % (time.monotonic(), line)))
    results = []
    t0 = time.monotonic()
    try:
        f.wait_up([1, 2, 3], timeout=60)
        results.append(scenarios.dependency(f, 3))
        results.append(scenarios.crash(f, 2))
        results.append(scenarios.reload_under_load(f, 1))
        results.append(scenarios.rolling_replacement(f))
        live = [i.slot for i in f.live_instances()]
        results.append(scenarios.scale_in(f, live[0]))
        results.append(scenarios.spot_interruption(f, live[1]))
    except Exception:
        print("\n".join(events[-40:]))
        raise
    finally:
        f.close()
    lines = []
    for r in results:
        lines.append(("PASS " if r.passed else "FAIL ") + r.line)
        if not r.passed:
            lines.extend("     " + d for d in r.details)
    lines.append("fleet: %d scenarios in %.0f s" % (len(results), time.monotonic() - t0))
    print("\n".join(lines))
    out = os.path.join(os.environ.get("top_builddir", "."), "fleet-results.txt")
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    if not all(r.passed for r in results):
        print("\n".join(events[-60:]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
