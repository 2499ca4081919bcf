"""threads: 0 (issue 12, section 5) is one server thread per CPU this
process may run on (sched_getaffinity: taskset, systemd's CPUAffinity= and
cgroup cpusets), not the machine's CPU count.  The status document says
how many threads serve; the test checks that against the affinity the
process really has, and the number of threads the process really runs."""

import os
import shutil
import unittest

from asgtest import Health


def tasks(h):
    return len(os.listdir("/proc/%d/task" % h.proc.pid))


def affinity(h):
    return len(os.sched_getaffinity(h.proc.pid))


class ThreadsTest(unittest.TestCase):
    def setUp(self):
        if not shutil.which("taskset"):
            self.skipTest("taskset (util-linux) is not installed")
        # One CPU this test may use: taskset cannot grant more.
        self.cpu = min(os.sched_getaffinity(0))

    def test_zero_follows_the_affinity_not_the_machine(self):
        with Health(config={"threads": 0}, prefix=["taskset", "-c", str(self.cpu)]) as h:
            self.assertEqual(affinity(h), 1)
            self.assertEqual(h.status()["threads"], 1)
            self.assertIn("1 threads", h.logs())

    def test_zero_without_taskset_is_every_allowed_cpu(self):
        with Health(config={"threads": 0}) as h:
            self.assertEqual(h.status()["threads"], affinity(h))

    def test_explicit_count_wins_and_is_what_runs(self):
        with Health(config={"threads": 3}, prefix=["taskset", "-c", str(self.cpu)]) as h3, \
                Health(config={"threads": 1}, prefix=["taskset", "-c", str(self.cpu)]) as h1, \
                Health(config={"threads": 0}, prefix=["taskset", "-c", str(self.cpu)]) as h0:
            self.assertEqual(h3.status()["threads"], 3)
            self.assertEqual(h1.status()["threads"], 1)
            # the status is what runs: two more server threads, nothing else
            self.assertEqual(tasks(h3) - tasks(h1), 2)
            self.assertEqual(tasks(h0), tasks(h1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
