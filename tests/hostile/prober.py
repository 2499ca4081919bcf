"""The load balancer's prober for the hostile tests, in its own process
so that the attack's Python threads (and their GIL) do not sit in the
latency it measures: GET /health on a new connection every `interval`
seconds, one line per probe on stdout: "<status> <healthy 0|1> <ms>"
(status 0: no answer, with the reason after the ms).  Runs until stdin
closes; every probe has a socket timeout."""

import socket
import sys
import threading
import time


def probe(host, port, path, timeout):
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: prober\r\nUser-Agent: hostile-prober\r\n"
                      b"Connection: close\r\n\r\n" % path.encode())
            buf = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                buf += b
    except OSError as e:
        return 0, 0, (time.monotonic() - t0) * 1000.0, type(e).__name__
    ms = (time.monotonic() - t0) * 1000.0
    try:
        status = int(buf.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0, 0, ms, "unparsable"
    return status, int(b'"healthy"' in buf), ms, ""


def main():
    host, port, path, interval, timeout = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                           float(sys.argv[4]), float(sys.argv[5]))
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    n = 0
    while not done.is_set() and n < 1000000:
        status, healthy, ms, why = probe(host, port, path, timeout)
        sys.stdout.write("%d %d %.3f %s\n" % (status, healthy, ms, why))
        sys.stdout.flush()
        n += 1
        done.wait(interval)


if __name__ == "__main__":
    main()
