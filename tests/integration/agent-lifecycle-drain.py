"""asg-agent's termination drain against the stand-ins and a real
asg-health.  Scale-in (target-lifecycle-state Terminated): asg-health is
drained, a slow download in flight is allowed to finish, drain.d runs in
run-parts order (a name with a dot is skipped), heartbeats keep a short
hook alive, then CompleteLifecycleAction CONTINUE exactly once.  And an
agent killed (SIGKILL) in the middle of drain.d and started again resumes
from its state file and completes the hook once."""

import os
import signal
import socket
import threading
import time

import agentlib
import lifecyclelib
from agentlib import check, wait_until
from lifecyclelib import INSTANCE_ID, TERM_HOOK

BIG = 12 * 1024 * 1024


class SlowDownload(threading.Thread):
    """GET /big.bin, read at 4 MiB/s (about 3 s in all; the
    last few MB sit in the kernel's socket buffers, so asg-health counts
    the request done somewhat earlier)."""

    def __init__(self, health):
        super().__init__(daemon=True)
        self.health = health
        self.received = 0
        self.finished_at = None
        self.started = threading.Event()

    def run(self):
        with socket.create_connection((self.health.host, self.health.port), timeout=20) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(4096)
            head, _, body = data.partition(b"\r\n\r\n")
            self.received = len(body)
            self.started.set()
            t0 = time.monotonic()
            while self.received < BIG:
                allowed = int(4 * 1024 * 1024 * (time.monotonic() - t0))
                if self.received >= allowed:
                    time.sleep(0.02)
                    continue
                chunk = s.recv(min(allowed - self.received, 256 * 1024))
                if not chunk:
                    break
                self.received += len(chunk)
        self.finished_at = time.time()


def termination(tmp):
    # HeartbeatTimeout 6 s, a drain of 5 s or more (the download, then a
    # drain.d script of 1.5 s): the hook lives on heartbeats.
    s = lifecyclelib.Setup(tmp, term_hb=6)
    try:
        with open(os.path.join(s.health.root, "big.bin"), "wb") as f:
            f.write(os.urandom(BIG))
        lifecyclelib.mark_script(s, "10-first", sleep=1.5)
        lifecyclelib.mark_script(s, "20-second")
        lifecyclelib.mark_script(s, "15-skipped.sh")  # run-parts skips names with a dot
        with open(os.path.join(s.drain_d, "05-not-executable"), "w") as f:
            f.write("#!/bin/sh\necho never\n")
        s.start_agent()
        s.wait_state("ready", 8)
        dl = SlowDownload(s.health)
        dl.start()
        check(dl.started.wait(5), "download did not start")
        # The last moment asg-health reported the download in flight.
        busy_until = [None]
        watching = threading.Event()

        def watch():
            while not watching.is_set():
                if s.health_status()["in_flight"] > 0:
                    busy_until[0] = time.time()
                time.sleep(0.02)
        threading.Thread(target=watch, daemon=True).start()
        t_term = time.time()
        s.aws.control("POST", "terminate", {"InstanceId": INSTANCE_ID})
        check(wait_until(lambda: s.health_status()["draining"], 3), "asg-health not drained")
        done = wait_until(lambda: s.ok_calls("CompleteLifecycleAction"), 15)
        check(done, "hook never completed: %r" % s.lifecycle())
        # The wait for in-flight requests happened (read from the log
        # afterwards: polling for the phase missed it at load 47).
        check("drain step wait-in-flight done" in s.agent.stderr(), s.agent.stderr())
        dl.join(5)
        watching.set()
        check(dl.received == BIG, "download cut short: %d of %d" % (dl.received, BIG))
        marks = lifecyclelib.read_marks(s.marks)
        check([m[0] for m in marks] == ["10-first", "20-second"], "drain.d order %r" % marks)
        check(busy_until[0] and busy_until[0] <= marks[0][1],
              "drain.d ran while asg-health had the download in flight (%.2f > %.2f)" % (
                  busy_until[0] or 0, marks[0][1]))
        check(marks[0][1] - t_term > 1.0, "drain.d did not wait for the download (%.2f s)" %
              (marks[0][1] - t_term))
        t_complete = lifecyclelib.call_time(done[0])
        check(t_complete >= marks[-1][1] - 0.05, "completed before drain.d finished")
        check(done[0]["params"]["LifecycleHookName"] == TERM_HOOK and
              done[0]["params"]["LifecycleActionResult"] == "CONTINUE", repr(done[0]))
        check(s.ok_calls("RecordLifecycleActionHeartbeat"), "no heartbeat on a long drain")
        s.wait_state("drained", 3)
        s.stop_agent()  # exited: nothing more can be called
        check(len(s.aws.calls(action="CompleteLifecycleAction")) == 1,
              "CompleteLifecycleAction called more than once: %r" %
              s.aws.calls(action="CompleteLifecycleAction"))
        comp = s.completed(TERM_HOOK)
        check(len(comp) == 1 and comp[0]["by"] == "CompleteLifecycleAction", repr(comp))
        check(not s.aws.calls(action="DeregisterTargets"),
              "scale-in: the group deregisters, not the agent")
        log = s.agent.stderr()
        check("drain.d/10-first: 10-first ran for termination" in log, log)
        check("never" not in log, "a non-executable file ran")
        check(s.agent.notify.wait_for("STATUS=completed", 2), "no STATUS=completed")
    finally:
        s.close()


def restart_mid_drain(tmp):
    s = lifecyclelib.Setup(tmp)
    try:
        lifecyclelib.mark_script(s, "10-slow", sleep=2)
        lifecyclelib.mark_script(s, "20-after")
        s.start_agent()
        s.wait_state("ready", 8)
        s.aws.control("POST", "terminate", {"InstanceId": INSTANCE_ID})
        check(wait_until(lambda: s.lifecycle().get("phase") == "running drain.d", 5),
              "drain.d not reached: %r" % s.lifecycle())
        s.agent.proc.send_signal(signal.SIGKILL)
        s.agent.proc.wait()
        check(not s.aws.calls(action="CompleteLifecycleAction"), "completed before the kill")
        s.agent.terminate()
        os.unlink(s.agent.notify.path)
        s.start_agent()
        done = wait_until(lambda: s.ok_calls("CompleteLifecycleAction"), 15)
        check(done, "the restarted agent never completed the hook")
        s.wait_state("drained", 3)
        s.stop_agent()  # exited: nothing more can be called
        check(len(s.aws.calls(action="CompleteLifecycleAction")) == 1,
              "completed %d times" % len(s.aws.calls(action="CompleteLifecycleAction")))
        comp = s.completed(TERM_HOOK)
        check(len(comp) == 1 and comp[0]["by"] == "CompleteLifecycleAction", repr(comp))
        names = [m[0] for m in lifecyclelib.read_marks(s.marks)]
        check(names[-1] == "20-after" and names.count("20-after") == 1, "marks %r" % names)
        check("resuming draining" in s.agent.stderr(), s.agent.stderr())
    finally:
        s.close()


def late_requests(tmp):
    """A load balancer node that learns of the deregistration late goes on
    sending new requests after the hook (aws-load-balancer-controller
    #1064): nothing is in flight between two of them, yet the instance
    must not leave while they still arrive."""
    s = lifecyclelib.Setup(tmp)
    try:
        s.start_agent({"drain_quiet": "800ms"})
        s.wait_state("ready", 8)
        sent = []
        failed = []
        stop = threading.Event()

        def lagging_node():
            # new requests, one connection each, for 3 s after the hook
            end = time.monotonic() + 3.0
            while time.monotonic() < end and not stop.is_set():
                t = time.time()
                try:
                    with socket.create_connection((s.health.host, s.health.port), 2) as c:
                        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        head = c.recv(64)
                    # any answer: asg-health was still there to give it
                    (sent if head.startswith(b"HTTP/1.1 ") else failed).append(t)
                except OSError:
                    failed.append(t)
                time.sleep(0.1)
        s.aws.control("POST", "terminate", {"InstanceId": INSTANCE_ID})
        node = threading.Thread(target=lagging_node, daemon=True)
        node.start()
        done = wait_until(lambda: s.ok_calls("CompleteLifecycleAction"), 15)
        check(done, "hook never completed: %r" % s.lifecycle())
        stop.set()
        node.join(5)
        t_complete = lifecyclelib.call_time(done[0])
        check(not failed and len(sent) > 5, "late requests: %d served, %d failed" %
              (len(sent), len(failed)))
        check(t_complete > sent[-1], "the hook was completed %.2f s before the last new "
              "request arrived" % (sent[-1] - t_complete))
        check("drain step wait-in-flight done" in s.agent.stderr(), s.agent.stderr())
    finally:
        s.close()


agentlib.run_scenarios(
    ("termination", termination),
    ("restart", restart_mid_drain),
    ("late requests", late_requests),
)
