"""How long from a load step to a new instance serving, through the whole
closed loop (agents' CPU metric -> CloudWatch aggregation -> target
tracking -> launch -> launch gate -> registration -> first request), for
each metric period given (10, 30, 60; run ten times faster).  Not part of
make check: BENCHMARKS.md records its output.

    top_builddir=build /usr/bin/python3 tests/fleet/bench-scaling.py [ROUNDS] [PERIOD...]
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fleet as fleetlib  # noqa: E402
import group as grouplib  # noqa: E402
from asgtest import wait_for  # noqa: E402


def one_round(period):
    f = fleetlib.Fleet(n=2, metric_period=period)
    g = None
    try:
        f.wait_up([1, 2], timeout=60)
        g = grouplib.Group(f, min_size=2, max_size=3, desired=2, target=3.0)
        # a steady trickle first, so the step starts from a settled metric;
        # it also sees which instance answers
        load = fleetlib.Load(f.lb.port, clients=1, rate=10)
        scaled = period / fleetlib.METRIC_SCALE
        time.sleep(3 * scaled + 1)
        before = {i.id for i in f.live_instances()}
        t0 = time.monotonic()
        step = fleetlib.WrkLoad(f.lb.port)
        wait_for(lambda: g.decisions, 30 * scaled + 30, "a scale-out decision")
        t_decision = g.decisions[0][0]
        wait_for(lambda: any(i.id not in before and "i%d" % i.slot in load.by_server
                             for i in f.live_instances()), 60, "the new instance serving")
        new = [i for i in f.live_instances() if i.id not in before]
        t_serving = min(load.first_seen["i%d" % i.slot] for i in new
                        if "i%d" % i.slot in load.first_seen)
        step.stop()
        load.stop()
        load = None
        return t_decision - t0, t_serving - t0
    finally:
        if g:
            g.stop()
        f.close()


def main(argv):
    rounds = int(argv[0]) if argv else 3
    periods = [int(p) for p in argv[1:]] or [10, 60]
    print("period  rounds  decision median (min-max)  serving median (min-max)   "
          "[seconds here; x%d for AWS seconds]" % fleetlib.METRIC_SCALE)
    for period in periods:
        runs = [one_round(period) for _ in range(rounds)]
        d = [r[0] for r in runs]
        s = [r[1] for r in runs]
        print("%6d  %6d  %6.1f (%.1f-%.1f)            %6.1f (%.1f-%.1f)" % (
            period, rounds, statistics.median(d), min(d), max(d), statistics.median(s),
            min(s), max(s)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
