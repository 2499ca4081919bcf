"""HAProxy from Debian standing in for the ALB in tests: health checks
like the ALB's (GET /health, ELB-HealthChecker/2.0 user agent, expect
200, fall/rise at an interval) and the runtime API to read server states
and to set them (ready / drain / maint, as target group registration)."""

import csv
import io
import os
import socket
import subprocess

from asgtest import stop_process, wait_for


class HAProxy:
    def __init__(self, tmp, port, servers, inter_ms, backend_extra=()):
        """servers: (name, address, port, disabled) tuples."""
        self.stats = os.path.join(tmp, "haproxy.sock")
        self.port = port
        lines = [
            "global",
            "  stats socket %s mode 600 level admin" % self.stats,
            "  maxconn 4096",
            "defaults",
            "  mode http",
            "  timeout connect 1s",
            "  timeout client 30s",
            "  timeout server 30s",
            # the ALB keeps back-end connections and reuses them (aws.md 1)
            "  http-reuse safe",
            # the ALB appends X-Forwarded-For to every proxied request
            # (aws.md 1), never to its own health checks
            "  option forwardfor",
            "frontend alb",
            "  bind 127.0.0.1:%d" % port,
            "  default_backend web",
            "backend web",
            "  balance roundrobin",
            "  option httpchk",
            "  http-check send meth GET uri /health ver HTTP/1.1 hdr Host 10.0.1.17:8080 "
            "hdr User-Agent ELB-HealthChecker/2.0",
            "  http-check expect status 200",
            "  default-server inter %dms fall 2 rise 2" % inter_ms,
        ] + ["  " + line for line in backend_extra]
        for name, addr, sport, disabled in servers:
            lines.append("  server %s %s:%d check%s" % (name, addr, sport,
                                                        " disabled" if disabled else ""))
        cfg = os.path.join(tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(tmp, "haproxy.log"), "ab")
        self.proc = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.stats), 10, what="haproxy's stats socket")

    def command(self, cmd):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.stats)
            s.sendall(cmd.encode() + b"\n")
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        return out.decode()

    def servers(self):
        """{server name: status text such as 'UP', 'DOWN 1/2', 'MAINT', 'DRAIN'}"""
        text = self.command("show stat").lstrip("# ")
        return {row["svname"]: row["status"] for row in csv.DictReader(io.StringIO(text))
                if row["pxname"] == "web" and row["svname"] not in ("BACKEND", "FRONTEND")}

    def server_status(self, name):
        return self.servers().get(name)

    def set_state(self, name, state):
        self.command("set server web/%s state %s" % (name, state))

    def stop(self):
        stop_process(self.proc, 5)
        self.log.close()
