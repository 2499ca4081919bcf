"""asg-agent doctor's cascade warnings (issue 12 section 4) against the
stand-ins: none on a good setup; on a bad one, one warning each, saying
what to change, for a critical asg-health check of a shared host with
HealthCheckType ELB, a deregistration delay longer than the terminating
hook's HeartbeatTimeout, a load balancer idle timeout not below
asg-health's connection_timeout, and a health check that needs longer
than a Spot notice to see a failure.  Warnings do not fail the doctor."""

import json
import os
import subprocess

import agentlib
import lifecyclelib
from agentlib import check

LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef"


def world(s, bad, health_check_type="ELB"):
    w = lifecyclelib.world(s.imds.url)
    w["auto_scaling_groups"][0]["HealthCheckType"] = health_check_type
    tg = w["target_groups"][0]
    tg["LoadBalancerArns"] = [LB]
    # The terminating hook's HeartbeatTimeout is 300 s (lifecyclelib).
    if bad:
        tg.update(HealthCheckIntervalSeconds=30, UnhealthyThresholdCount=5,
                  deregistration_delay_seconds=600)
    else:
        tg.update(HealthCheckIntervalSeconds=5, UnhealthyThresholdCount=2,
                  deregistration_delay_seconds=30)
    w["load_balancers"] = [{"LoadBalancerArn": LB, "idle_timeout_seconds": 75 if bad else 60}]
    return w


def health_config(path, bad):
    checks = [{"name": "app-ready", "type": "file", "path": "/tmp/x", "critical": True},
              {"name": "local-http", "type": "http", "url": "http://127.0.0.1:8080/ready",
               "critical": True},
              # Remote, but informational (asg-health's default for them).
              {"name": "db-info", "type": "tcp", "host": "db.internal", "port": 5432}]
    if bad:
        checks += [{"name": "db", "type": "tcp", "host": "db.internal", "port": 5432,
                    "critical": True},
                   {"name": "api", "type": "http", "url": "https://api.example.com/health",
                    "critical": True}]
    with open(path, "w") as f:
        json.dump({"checks": checks, "connection_timeout": "75s"}, f)


def doctor(s, tmp, bad, health_check_type="ELB"):
    s.aws.control("PUT", "state", world(s, bad, health_check_type))
    hc = os.path.join(tmp, "health.json")
    health_config(hc, bad)
    cfg = s.config()
    cfg["health_config"] = hc
    path = os.path.join(tmp, "doctor.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_SERVICE_ENDPOINT=s.imds.url, AWS_ENDPOINT_URL=s.aws.url)
    r = subprocess.run([agentlib.AGENT, "--config", path, "doctor"], env=env,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "All checks passed." in r.stdout,
          "doctor failed: %s%s" % (r.stdout, r.stderr))
    warnings = [l for l in r.stdout.splitlines() if l.startswith("[WARN]")]
    changes = [l for l in r.stdout.splitlines() if l.strip().startswith("change:")]
    check(len(changes) == len(warnings), "a warning without a change: %s" % r.stdout)
    return warnings, r.stdout


def main(tmp):
    s = lifecyclelib.Setup(tmp)
    try:
        warnings, out = doctor(s, tmp, bad=False)
        check(warnings == [], "warnings on a good setup: %s" % out)
        check("deregistration delay 30 s" in out, out)

        warnings, out = doctor(s, tmp, bad=True)
        text = "\n".join(warnings)
        for what in ('"db" is critical and depends on db.internal',
                     '"api" is critical and depends on api.example.com',
                     "deregistration delay 600 s is longer than the terminating hook's "
                     "HeartbeatTimeout 300 s",
                     "idle timeout 75 s is not below asg-health's connection_timeout 75 s",
                     "up to 150 s (interval 30 s x unhealthy threshold 5)"):
            check(what in text, "no warning %r in:\n%s" % (what, out))
        check(len(warnings) == 5, "%d warnings:\n%s" % (len(warnings), out))
        check("5 warning(s) above" in out, out)

        # Without ELB health checks the group replaces nobody for a failing
        # /health: shared critical checks are no cascade.
        warnings, out = doctor(s, tmp, bad=True, health_check_type="EC2")
        check(not any("is critical and depends on" in w for w in warnings), out)
        check(len(warnings) == 3, "%d warnings:\n%s" % (len(warnings), out))
    finally:
        s.close()


agentlib.run(main)
