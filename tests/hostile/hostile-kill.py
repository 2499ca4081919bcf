"""kill -9 loops for asg-health (issue 9 section 5): SIGKILL at random
points of a reload (SIGHUP with a new configuration) and of a site
rewrite, with clients downloading meanwhile.  Every response received
complete is one complete version of its file; after each restart the
instance is right at once: it starts (no stale control socket or port in
the way), /health is healthy, the configuration on disk is the one in
force, and every file is served as its current version.

ASG_KILL_LOOPS sets the number of kills (default 10, 6 under ASan; RELIABILITY.md
has the figures of a 60-kill run by hand)."""

import json
import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hostilelib import ANSWER_TIMEOUT, SANITIZED, Daemon, Site, Stats, etag_of, http_get, raise_nofile  # noqa: E402

KILLS = int(os.environ.get("ASG_KILL_LOOPS", "6" if SANITIZED else "10"))


class Downloader:
    """Fetches the small and the large file in a loop; counts complete
    answers and any complete answer that is no version of its file."""

    def __init__(self, d, site):
        self.d, self.site = d, site
        self.stop_event = threading.Event()
        self.complete = self.cut = 0
        self.bad = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        i = 0
        while not self.stop_event.is_set() and i < 1000000:
            path = self.site.BIG if i % 3 == 0 else self.site.SMALL
            i += 1
            try:
                st, headers, body = http_get(self.d.host, self.d.port, path, timeout=5)
            except (OSError, AssertionError, ValueError):
                self.cut += 1  # killed mid-answer, or not restarted yet
                self.stop_event.wait(0.01)
                continue
            if st is None:
                self.cut += 1  # a truncated answer: never taken for a whole one
                continue
            if st == 200:
                self.complete += 1
                if not self.site.is_known(path, body) or headers.get("etag") != etag_of(body):
                    self.bad.append((path, len(body), headers.get("etag")))

    def stop(self):
        self.stop_event.set()
        self.thread.join(30)


class KillLoop(unittest.TestCase):
    def test_kill_9_during_reload_and_site_rewrite(self):
        raise_nofile(4096)
        seed = int(os.environ.get("ASG_KILL_SEED", str(int(time.time()))))
        print("ASG_KILL_SEED=%d" % seed, flush=True)
        rng = random.Random(seed)
        flag = None
        d = Daemon(start=False)
        try:
            flag = os.path.join(d.tmp, "ready-flag")
            open(flag, "w").close()
            site = Site(d.root)
            generation = [0]

            def write_config(g):
                cfg = {"root": d.root, "listen": ["%s:%d" % (d.host, d.port)], "control_socket": d.control,
                       "cache_control": "max-age=%d" % g, "shutdown_timeout": "2s",
                       "checks": [{"name": "flag", "type": "file", "path": flag, "must_exist": True,
                                   "interval": "1s"}]}
                tmp = d.config_path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(cfg, f)
                os.rename(tmp, d.config_path)  # as a config manager writes it

            write_config(0)
            d.start()
            dl = Downloader(d, site)
            counts = {"reload": 0, "rewrite": 0}
            restart_ms = []
            try:
                for k in range(KILLS):
                    what = "reload" if k % 2 == 0 else "rewrite"
                    counts[what] += 1
                    delay = rng.uniform(0, 0.03)
                    if what == "reload":
                        generation[0] += 1
                        write_config(generation[0])
                        d.signal(signal.SIGHUP)
                        time.sleep(delay)  # not an assertion: where in the reload the kill lands
                    else:
                        t = threading.Thread(target=lambda: [site.rewrite() for _ in range(3)])
                        t.start()
                        time.sleep(delay)  # where in the rewrite the kill lands
                    d.proc.send_signal(signal.SIGKILL)
                    d.proc.wait()
                    if what == "rewrite":
                        t.join(30)
                    d.log.close()
                    t0 = time.monotonic()
                    d.start()
                    restart_ms.append((time.monotonic() - t0) * 1000)
                    self.check_right(d, site, generation[0], "after kill %d (%s)" % (k + 1, what))
            finally:
                dl.stop()
            self.assertEqual(dl.bad, [], "complete answers that were no version of their file")
            self.assertGreater(dl.complete, 0)
            rc = d.stop_clean()
            self.assertEqual(rc, 0, d.logs()[-2000:])
            self.assertEqual(d.sanitizer_report(), [])
            restart_ms.sort()
            Stats().record("kill -9 loop", {"errors": [], "health_ms": [], "pages": dl.complete,
                                            "max_rss_kib": 0, "max_fds": 0},
                           {"kills": KILLS, "during_reload": counts["reload"],
                            "during_rewrite": counts["rewrite"], "complete_downloads": dl.complete,
                            "cut_downloads": dl.cut, "restart_ms_median": restart_ms[len(restart_ms) // 2],
                            "restart_ms_max": restart_ms[-1]})
        finally:
            d.close()

    def check_right(self, d, site, generation, when):
        st, _, body = http_get(d.host, d.port, "/health", timeout=ANSWER_TIMEOUT)
        self.assertEqual((st, json.loads(body)["status"]), (200, "healthy"), "/health " + when)
        for path in (site.SMALL, site.BIG):
            with site.lock, open(site.root + path, "rb") as f:
                current = f.read()
            st, headers, body = http_get(d.host, d.port, path, timeout=ANSWER_TIMEOUT)
            self.assertEqual(st, 200, path + " " + when)
            self.assertTrue(body == current, "%s %s: not the file's current version" % (path, when))
            self.assertEqual(headers.get("etag"), etag_of(body), path + " " + when)
            self.assertEqual(headers.get("cache-control"), "max-age=%d" % generation,
                             "%s %s: the configuration on disk is not the one in force" % (path, when))
        self.assertEqual(d.control_request("GET", "/status")[0], 200, "control socket " + when)


if __name__ == "__main__":
    unittest.main(verbosity=2)
