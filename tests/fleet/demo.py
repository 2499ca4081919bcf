"""./scripts/demo: the fleet on one machine, for a newcomer to watch and
poke.  Three instances behind HAProxy (the ALB) on 127.0.0.1:8000, a light
load running through it, a line per event, and the scenarios as commands:

    ./scripts/demo                  start the fleet and a command prompt
    ./scripts/demo scale-in 2       start it and run a scenario at once
"""

import os
import shlex
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fleet as fleetlib  # noqa: E402
import scenarios  # noqa: E402

HELP = """commands:
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


def status_lines(f, load):
    ok, failed = load.snapshot()
    servers = f.lb.slots()
    parts = []
    for slot, inst in sorted(f.instances.items()):
        if not inst.alive() and servers.get(slot) == "MAINT":
            continue
        parts.append("i%d %s/%s" % (slot, f.instance_state(slot) or "-", servers.get(slot, "-")))
    return "%s | served %d, failed %d" % ("  ".join(parts), ok, failed)


def run_command(f, words):
    cmd, args = words[0], [int(a) for a in words[1:] if a.isdigit()]
    n = args[0] if args else None
    if cmd == "scale-in" and n:
        return scenarios.scale_in(f, n)
    if cmd == "replace":
        return scenarios.rolling_replacement(f)
    if cmd == "crash" and n:
        return scenarios.crash(f, n)
    if cmd == "spot" and n:
        return scenarios.spot_interruption(f, n)
    if cmd == "reload" and n:
        return scenarios.reload_under_load(f, n)
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
    stamp("starting 3 instances, the AWS stand-in and HAProxy ...")
    f = fleetlib.Fleet(n=3, lb_port=port, events=stamp, agent_config=fleet_agent_config)
    load = None
    try:
        f.wait_up(list(f.instances))
        load = fleetlib.Load(f.lb.port, clients=2)
        print("""
The load balancer is http://127.0.0.1:%d/  (HAProxy, checking GET /health on each instance)
Instances: %s
A light load runs through it; every failed request is counted.
""" % (f.lb.port, ", ".join("http://%s:8080/" % i.addr for i in f.live_instances())), flush=True)

        def ticker():
            while not stop.wait(5):
                try:
                    stamp(status_lines(f, load))
                except OSError:
                    return  # the fleet is stopping
        threading.Thread(target=ticker, daemon=True).start()

        if argv:
            r = run_command(f, argv)
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
                stamp(status_lines(f, load))
                continue
            try:
                r = run_command(f, words)
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
        stamp("stopping the fleet")
        f.close()
    return 0


def fleet_agent_config(inst):
    return scenarios.AGENT_CONFIG(inst) if hasattr(scenarios, "AGENT_CONFIG") else {}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
