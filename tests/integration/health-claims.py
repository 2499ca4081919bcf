"""README claims that had no test (issue 9, section 6): max_connections
(a new connection is admitted by closing the oldest idle one)
and a file rewritten while being read is never served torn."""

import os
import socket
import threading
import time
import unittest

from asgtest import Health, wait_for, write


class MaxConnectionsTest(unittest.TestCase):
    def test_full_table_admits_by_closing_the_oldest_idle(self):
        """max_connections: never more open; a new connection is admitted by
        closing the one that has waited longest for its client (here the
        oldest idle keep-alive connection), not left in the backlog."""
        with Health(config={"max_connections": 3}, start=False) as h:
            write(h.root + "/index.html", b"ok\n")
            h.start()
            held = []
            for _ in range(3):
                s = socket.create_connection((h.host, h.port), timeout=10)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(b"200 OK", s.recv(4096))
                held.append(s)  # keep-alive: the slot stays taken
                wait_for(lambda: h.status()["in_flight"] == 0, what="the request to end")
            before = h.status()["connection_counters"]
            late = socket.create_connection((h.host, h.port), timeout=10)
            late.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"200 OK", late.recv(4096))
            self.assertEqual(held[0].recv(4096), b"", "the oldest idle connection was kept")
            for s in held[1:]:
                s.setblocking(False)
                self.assertRaises(BlockingIOError, s.recv, 4096)
            st = h.status()
            self.assertLessEqual(st["connections"], 3)
            self.assertEqual(st["connection_counters"]["accepted"], before["accepted"] + 1)
            self.assertEqual(st["connection_counters"]["evictions"], before["evictions"] + 1)
            for s in held + [late]:
                s.close()


class TornTest(unittest.TestCase):
    """Each version of the file is one letter repeated; a body mixing two
    letters, or of a length no version has, is torn."""

    ROUNDS = 150

    def run_writer(self, path, in_place, small, stop):
        k = 0
        while not stop.is_set():
            letter = b"ABCDEFGH"[k % 8:k % 8 + 1]
            # in place ("wb" truncates first): every rewrite also changes
            # the size, so a read that overlaps it is always detected even
            # within one tick of the file system's mtime clock
            size = (40000 + 10000 * (k % 2)) if small else (1 << 20) + 4096 * (k % 2)
            data = letter * size
            if in_place:
                with open(path, "wb") as f:
                    f.write(data)
                # A change is seen through size or mtime; mtime moves with
                # the kernel's coarse clock (a few ms), so rewrites in place
                # faster than that could restore an identical (size, mtime)
                # under a reader.  Deploy tools are slower; so is this.
                time.sleep(0.01)
            else:
                with open(path + ".tmp", "wb") as f:
                    f.write(data)
                os.rename(path + ".tmp", path)
            k += 1

    def check(self, name, in_place, small):
        with Health(config={"cache_revalidate": "0ms"}, start=False) as h:
            path = h.root + "/" + name
            write(path, b"A" * (40000 if small else 1 << 20))
            h.start()
            stop = threading.Event()
            writer = threading.Thread(target=self.run_writer, args=(path, in_place, small, stop))
            writer.start()
            served = 0
            try:
                conn = h.connection(timeout=30)
                for _ in range(self.ROUNDS if small else self.ROUNDS // 4):
                    r = h.get("/" + name, conn=conn)
                    if r.status == 503:  # kept changing: the client retries
                        continue
                    self.assertEqual(r.status, 200)
                    served += 1
                    if in_place:
                        # truncated or partly written is a real state of
                        # the file then; two versions mixed never is
                        self.assertLessEqual(len(set(r.body)), 1, "torn body (%s)" % name)
                        self.assertLessEqual(len(r.body), 50000)
                        continue
                    self.assertEqual(len(set(r.body)), 1, "torn body (%s)" % name)
                    self.assertIn(len(r.body), (40000, 50000) if small
                                  else ((1 << 20), (1 << 20) + 4096))
                conn.close()
            finally:
                stop.set()
                writer.join()
            self.assertGreater(served, 0)

    def test_small_file_rewritten_in_place(self):
        self.check("page.html", in_place=True, small=True)

    def test_small_file_replaced_by_rename(self):
        self.check("page.html", in_place=False, small=True)

    def test_large_file_replaced_by_rename(self):
        self.check("big.bin", in_place=False, small=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
