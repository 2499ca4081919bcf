"""./scripts/demo: the fleet on one machine, for a newcomer to watch and
poke.  An Auto Scaling group of two instances (min 2, max 5) behind HAProxy
(the ALB) on 127.0.0.1:8000, its controller replacing instances that die or
fail the load balancer's checks and scaling on the agents' CPU metric
(target tracking), a light load running through it, a line per event and
per scaling decision, and the scenarios as commands:

    ./scripts/demo                  start the fleet and a command prompt
    ./scripts/demo terminate 1      start it and run a command at once

ASG_DEMO_METRIC_PERIOD (10, 30 or 60; default 10) is the agents' and the
policy's period, run ten times faster; ASG_DEMO_TARGET the target CPU %.
"""

import os
import shlex
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fleet as fleetlib  # noqa: E402
import group as grouplib  # noqa: E402
import scenarios  # noqa: E402

HELP = """commands:
  load high|low|off  the load through the ALB: 4 clients (at most 2000
                   requests/s), 1 client at 20/s, or none
  terminate N      instance N dies (every process killed, no hook): watch
                   the group replace it
  scale-in N       the group terminates instance N (drain, hook, gone)
  replace          rolling replacement of every instance
  crash N          kill -9 instance N's asg-health
  fail N / ok N    make instance N's critical check fail / pass again
  db-down / db-up  the shared dependency (an informational check) goes down / up
  spot N           spot interruption notice on instance N
  reload N         SIGHUP with a new config and a site rewrite on instance N
  status           one line per instance
  quit             stop everything (Ctrl-C does too)"""


def stamp(line):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), line), flush=True)


LEVELS = {"high": (4, 2000), "low": (1, 20), "off": None}


class LoadGen:
    """The demo's load: one bounded Load at a time, counts kept across."""

    def __init__(self, port):
        self.port = port
        self.level = "off"
        self.load = None
        self.done = [0, 0]

    def set(self, level):
        if self.load:
            ok, failures = self.load.stop()
            self.done[0] += ok
            self.done[1] += len(failures)
            self.load = None
        self.level = level
        if LEVELS[level]:
            clients, rate = LEVELS[level]
            self.load = fleetlib.Load(self.port, clients=clients, rate=rate)

    def snapshot(self):
        ok, failed = self.load.snapshot() if self.load else (0, 0)
        return self.done[0] + ok, self.done[1] + failed

    def stop(self):
        self.set("off")


def status_lines(f, load, group):
    ok, failed = load.snapshot()
    servers = f.lb.slots()
    parts = []
    for slot, inst in sorted(f.instances.items()):
        if not inst.alive() and servers.get(slot) == "MAINT":
            continue
        parts.append("i%d %s/%s" % (slot, f.instance_state(slot) or "-", servers.get(slot, "-")))
    last = [v for _, v in group.values[-1:]]
    metric = "%.1f %%" % last[0] if last and last[0] is not None else "no data"
    return "%s | load %s, served %d, failed %d | group desired %d, CPU %s (target %g)" % (
        "  ".join(parts), load.level, ok, failed, group.desired, metric, group.policy.target)


def run_command(f, words, load=None, group=None):
    cmd, args = words[0], [int(a) for a in words[1:] if a.isdigit()]
    n = args[0] if args else None
    if cmd == "load" and len(words) == 2 and words[1] in LEVELS and load:
        load.set(words[1])
        stamp("load %s" % words[1])
        return None
    if cmd == "terminate" and n:
        f.kill(n)
        return None
    scripted = {"scale-in": lambda: scenarios.scale_in(f, n),
                "replace": lambda: scenarios.rolling_replacement(f),
                "crash": lambda: scenarios.crash(f, n),
                "spot": lambda: scenarios.spot_interruption(f, n),
                "reload": lambda: scenarios.reload_under_load(f, n)}
    if cmd in scripted and (n or cmd == "replace"):
        # the group stands aside while a scenario scripts the capacity,
        # then brings the group back to its desired capacity
        if group:
            group.paused.set()
        try:
            return scripted[cmd]()
        finally:
            if group:
                group.paused.clear()
    if cmd == "fail" and n:
        open(f.instances[n].flag, "w").close()
        stamp("i%d: maintenance flag set; /health turns 503" % n)
    elif cmd == "ok" and n:
        try:
            os.unlink(f.instances[n].flag)
        except FileNotFoundError:
            pass
        stamp("i%d: maintenance flag removed" % n)
    elif cmd == "db-down":
        f.db_down()
        stamp("shared database down (informational check: nobody is ejected)")
    elif cmd == "db-up":
        f.db_up()
        stamp("shared database up")
    else:
        print(HELP)
    return None


def main(argv):
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    port = int(os.environ.get("ASG_DEMO_LB_PORT", "8000"))
    period = int(os.environ.get("ASG_DEMO_METRIC_PERIOD", "10"))
    target = float(os.environ.get("ASG_DEMO_TARGET", "3"))
    if period not in (10, 30, 60):
        print("demo: ASG_DEMO_METRIC_PERIOD must be 10, 30 or 60", file=sys.stderr)
        return 2
    stamp("starting 2 instances, the AWS stand-in and HAProxy ...")
    f = fleetlib.Fleet(n=2, lb_port=port, events=stamp, agent_config=fleet_agent_config,
                       metric_period=period)
    load = group = None
    try:
        f.wait_up(list(f.instances))
        group = grouplib.Group(f, min_size=2, max_size=5, desired=2, target=target, log=stamp)
        load = LoadGen(f.lb.port)
        load.set("low")
        print("""
The load balancer is http://127.0.0.1:%d/  (HAProxy, checking GET /health on each instance)
Instances: %s
The group: min 2, max 5, target tracking at %g %% CPU (each instance's asg-health,
measured), metric period %d s run ten times faster.  A light load runs through
it; every failed request is counted.  Try: load high, then load off; terminate 1.
""" % (f.lb.port, ", ".join("http://%s:8080/" % i.addr for i in f.live_instances()), target,
       period), flush=True)

        def ticker():
            while not stop.wait(5):
                try:
                    stamp(status_lines(f, load, group))
                except OSError:
                    return  # the fleet is stopping
        threading.Thread(target=ticker, daemon=True).start()

        if argv:
            r = run_command(f, argv, load, group)
            if r:
                stamp(("PASS " if r.passed else "FAIL ") + r.line)
        interactive = sys.stdin.isatty()
        if interactive:
            print(HELP, flush=True)
        stdin_open = True
        while not stop.is_set():
            if not stdin_open:
                stop.wait(1)  # no more commands: run until Ctrl-C / SIGTERM
                continue
            try:
                line = input("demo> " if interactive else "")
            except EOFError:
                stdin_open = False
                continue
            except KeyboardInterrupt:
                break
            words = shlex.split(line)
            if not words:
                continue
            if words[0] in ("quit", "exit"):
                break
            if words[0] == "status":
                stamp(status_lines(f, load, group))
                continue
            try:
                r = run_command(f, words, load, group)
                if r:
                    stamp(("PASS " if r.passed else "FAIL ") + r.line)
            except (AssertionError, KeyError, OSError) as e:
                stamp("error: %s" % e)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if load:
            load.stop()
        if group:
            group.stop()
        stamp("stopping the fleet")
        f.close()
    return 0


def fleet_agent_config(inst):
    return scenarios.AGENT_CONFIG(inst) if hasattr(scenarios, "AGENT_CONFIG") else {}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
