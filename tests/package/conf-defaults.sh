#!/bin/bash
# The packaged configuration files (conf/health.json, conf/agent.json):
# both daemons accept them; health.json spells out exactly the compiled-in
# defaults except where the package chooses otherwise (the root, the
# checks); and asg-agent.json(5) documents every key each daemon accepts
# exactly once, so a key added to the code without documentation, or
# documented twice, fails here.
set -uo pipefail
: "${top_srcdir:?run by make check}" "${top_builddir:?run by make check}"
health=$top_builddir/health/asg-health
agent=$top_builddir/agent/asg-agent
man5=$top_srcdir/man/asg-agent.json.5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

"$health" --check-config --config "$top_srcdir/conf/health.json" >"$tmp/packaged.json" ||
	fail "asg-health refuses conf/health.json"
"$agent" --config "$top_srcdir/conf/agent.json" --check-config >/dev/null ||
	fail "asg-agent refuses conf/agent.json"

echo '{}' >"$tmp/empty.json"
"$health" --check-config --config "$tmp/empty.json" >"$tmp/defaults.json" || fail "asg-health refuses {}"
# Every effective value but root and checks equals the compiled default.
/usr/bin/python3 - "$tmp/defaults.json" "$tmp/packaged.json" "$top_srcdir/conf/health.json" <<'PY' || failures=$((failures + 1))
import json, sys
defaults, packaged, source = (json.load(open(p)) for p in sys.argv[1:4])
bad = []
for key, value in defaults.items():
    if key in ("root", "checks"):
        continue
    if packaged.get(key) != value:
        bad.append("%s: packaged %r, default %r" % (key, packaged.get(key), value))
    if key not in source:
        bad.append("%s: not spelled out in conf/health.json" % key)
if packaged["root"] != "/usr/share/asg-agent/site":
    bad.append("root is %r, not the packaged example site" % packaged["root"])
for msg in bad:
    print("FAIL: conf/health.json: " + msg, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# The keys each daemon's config parser accepts, from its key list.
keys_of() { # file array-name: the longest array of that name (shorter ones are nested objects)
	/usr/bin/python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
arrays = re.findall(r"\b%s\[\] = \{(.*?)\};" % re.escape(sys.argv[2]), text, re.S)
if arrays:
    print("\n".join(re.findall(r'"([a-z_]+)"', max(arrays, key=len))))
PY
}
# Every key is documented once, in its man page: exactly one entry in its
# section of asg-agent.json(5), none anywhere else (man-keys.py says how).
/usr/bin/python3 "$top_srcdir/tests/package/man-keys.py" "$top_srcdir" ||
	fail "a configuration key is not documented exactly once in asg-agent.json(5)"
# Every key the agent accepts and that has a default is in agent.json; the
# others (region, endpoints, ...) default to "not set" and are documented.
for k in $(keys_of "$top_srcdir/agent/config.c" top_keys) $(keys_of "$top_srcdir/agent/config.c" lifecycle_keys); do
	grep -q "\"$k\"" "$top_srcdir/conf/agent.json" && continue
	sed -n "/^\.B.*\b$k\b/,/^\.TP/p" "$man5" | grep -q 'Not set by default' ||
		fail "conf/agent.json lacks \"$k\" and asg-agent.json(5) does not say it is unset by default"
done
# The agent plans a drain interrupted by SIGTERM to end within its
# lifecycle.stop_timeout: that must be the unit's TimeoutStopSec.
stop=$(sed -n 's/.*"stop_timeout": "\([0-9]*\)s".*/\1/p' "$top_srcdir/conf/agent.json")
unit=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$top_srcdir/systemd/asg-agent.service")
if [ -z "$stop" ] || [ "$stop" != "$unit" ]; then
	fail "lifecycle.stop_timeout (${stop:-?} s) differs from asg-agent.service's TimeoutStopSec (${unit:-?} s)"
fi
[ $failures -eq 0 ]
