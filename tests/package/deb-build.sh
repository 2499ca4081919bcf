#!/bin/bash
# Builds the Debian package with `dpkg-buildpackage -us -uc -b` (debhelper
# compat 13, the project's autotools build) in a copy of the source tree,
# so the work tree is never touched; gates on `lintian --fail-on warning`;
# checks the package's contents and conffiles; and measures the units with
# `systemd-analyze security --offline=true` against the issue's targets
# (asg-health.service <= 1.5, asg-agent.service <= 2.5; Debian's own
# nginx, haproxy and lighttpd units score 9.6).  Leaves the .deb in
# $top_builddir/tests/package/deb/ for deb-boot.py.
set -uo pipefail
: "${top_srcdir:?run by make check}" "${top_builddir:?run by make check}"

if [ -n "${ASG_IN_PACKAGE_BUILD:-}" ]; then
	echo "SKIP: inside dpkg-buildpackage (this test builds that package)"
	exit 77
fi
if grep -q -- -fsanitize "$top_builddir/config.status" 2>/dev/null; then
	echo "SKIP: sanitizer build: the package is built once, by the plain build's run"
	exit 77
fi
for tool in dpkg-buildpackage dh lintian systemd-analyze; do
	if ! command -v "$tool" >/dev/null; then
		echo "FAIL: $tool not found: install dpkg-dev, debhelper, lintian and systemd (scripts/deps test)" >&2
		exit 1
	fi
done

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

work=$(mktemp -d /tmp/asg-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/asg-agent
mkdir -p "$src"

# The tree as committed plus new files, without build products or anything
# .gitignore excludes; a tree that is not a git checkout (a dist tarball)
# is copied whole.
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top_srcdir" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -C "$src" -xf - || { echo "FAIL: copying the tree" >&2; exit 1; }
else
	(cd "$top_srcdir" && tar --exclude=./build --exclude=./build-asan -cf - .) | tar -C "$src" -xf -
fi

start=$SECONDS
if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
	tail -60 "$work/build.log"
	echo "FAIL: dpkg-buildpackage -us -uc -b failed" >&2
	exit 1
fi
version=$(cd "$src" && dpkg-parsechangelog -S Version)
deb=$work/asg-agent_${version}_amd64.deb
echo "built $(basename "$deb") in $((SECONDS - start)) s"
[ -f "$deb" ] || { echo "FAIL: no $(basename "$deb")" >&2; ls "$work" >&2; exit 1; }

# No errors and no warnings; informational tags are listed, not gated.
if lintian --fail-on warning --display-info "$deb" >"$work/lintian.txt" 2>&1; then
	echo "lintian: no errors, no warnings ($(grep -c '^I:' "$work/lintian.txt") informational tags)"
else
	cat "$work/lintian.txt"
	fail "lintian --fail-on warning"
fi
grep '^I:' "$work/lintian.txt" | sed 's/^/  /'

# What the issue asks the package to install.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/contents"
for path in /usr/sbin/asg-health /usr/bin/asg-agent \
	/lib/systemd/system/asg-health.service /lib/systemd/system/asg-health.socket \
	/lib/systemd/system/asg-agent.service /usr/lib/sysusers.d/asg-agent.conf \
	/usr/lib/tmpfiles.d/asg-agent.conf /etc/asg-agent/health.json /etc/asg-agent/agent.json \
	/usr/share/man/man8/asg-health.8.gz /usr/share/man/man8/asg-agent.8.gz \
	/usr/share/man/man5/asg-agent.json.5.gz /usr/share/asg-agent/site/index.html \
	/usr/share/asg-agent/site/404.html /etc/logrotate.d/asg-health; do
	grep -qx "$path" "$work/contents" || fail "the package lacks $path"
done
dpkg-deb -e "$deb" "$work/control"
for conf in /etc/asg-agent/health.json /etc/asg-agent/agent.json /etc/logrotate.d/asg-health; do
	grep -qx "$conf" "$work/control/conffiles" || fail "$conf is not a conffile"
done
# dh_installsysusers must create the user before systemd-tmpfiles hands
# /run/asg-agent to it, and both before the units start.
order=$(grep -n -o 'systemd-sysusers\|systemd-tmpfiles\|deb-systemd-invoke' "$work/control/postinst" |
	awk -F: '!seen[$2]++ {print $2}' | tr '\n' ' ')
[ "$order" = "systemd-sysusers systemd-tmpfiles deb-systemd-invoke " ] ||
	fail "postinst order is '$order', want sysusers, tmpfiles, then starting the units"

# The installed conffiles pass both daemons' own checks.
dpkg-deb -x "$deb" "$work/root"
# logrotate reads the access log's rotation (a dry run: nothing rotated).
if command -v logrotate >/dev/null; then
	if ! logrotate --debug --state "$work/logrotate.state" "$work/root/etc/logrotate.d/asg-health" \
		>"$work/logrotate.txt" 2>&1 || grep -qi 'error' "$work/logrotate.txt"; then
		fail "logrotate refuses /etc/logrotate.d/asg-health: $(tr '\n' ' ' <"$work/logrotate.txt" | cut -c1-300)"
	fi
else
	fail "logrotate not found: install it (scripts/deps test)"
fi
"$work/root/usr/sbin/asg-health" --check-config --config "$work/root/etc/asg-agent/health.json" >/dev/null ||
	fail "asg-health refuses the packaged health.json"
"$work/root/usr/bin/asg-agent" --config "$work/root/etc/asg-agent/agent.json" --check-config >/dev/null ||
	fail "asg-agent refuses the packaged agent.json"

# Boot ordering next to cloud-init: cloud-final.service runs after
# multi-user.target, which wants our units, so ordering them after it is a
# cycle that systemd breaks by dropping a job at boot.  Build a unit tree of
# this host's units (cloud-init's included), the package's, enabled as dh
# enables them, and cloud-init.target wanted by multi-user.target as
# cloud-init's generator does on EC2; then let systemd-analyze verify
# start multi-user.target.  A drop-in ordering asg-agent after
# cloud-final.service must show the cycle, or the check proves nothing.
if [ ! -f /lib/systemd/system/cloud-final.service ]; then
	fail "cloud-init's units are not installed: install cloud-init (scripts/deps test)"
else
	v=$work/units
	mkdir -p "$v/lib/systemd" "$v/etc/systemd" "$v/bin"
	cp -a /lib/systemd/system "$v/lib/systemd/"
	cp -a /etc/systemd/system "$v/etc/systemd/"
	cp /bin/sh "$v/bin/sh"
	dpkg-deb -x "$deb" "$v"
	w=$v/etc/systemd/system
	mkdir -p "$w/multi-user.target.wants" "$w/sockets.target.wants"
	ln -sf /lib/systemd/system/asg-health.service "$w/multi-user.target.wants/"
	ln -sf /lib/systemd/system/asg-agent.service "$w/multi-user.target.wants/"
	ln -sf /lib/systemd/system/asg-health.socket "$w/sockets.target.wants/"
	ln -sf /lib/systemd/system/cloud-init.target "$w/multi-user.target.wants/"
	cycles() { systemd-analyze verify --man=no --root="$v" multi-user.target 2>&1 | grep -i 'ordering cycle'; }
	if c=$(cycles); then
		fail "an ordering cycle at boot with cloud-init: $c"
	else
		echo "ordering: no cycle with cloud-init's units (multi-user.target)"
	fi
	mkdir -p "$w/asg-agent.service.d"
	printf '[Unit]\nAfter=cloud-final.service\n' >"$w/asg-agent.service.d/cycle.conf"
	cycles >/dev/null || fail "the cycle check does not see After=cloud-final.service's cycle"
fi

# Exposure scores, offline, on the units as packaged.
score() { # root unit
	systemd-analyze security --offline=true --no-pager ${1:+--root="$1"} "$2" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
for pair in asg-health.service:1.5 asg-agent.service:2.5; do
	unit=${pair%%:*}
	max=${pair#*:}
	s=$(score "$work/root" "$unit")
	echo "systemd-analyze security: $unit $s (target <= $max)"
	if [ -z "$s" ] || ! awk -v s="$s" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
		fail "$unit exposure ${s:-unknown} is above $max"
	fi
done
for unit in nginx.service haproxy.service lighttpd.service; do
	[ -f "/lib/systemd/system/$unit" ] && echo "systemd-analyze security: $unit $(score "" "$unit") (Debian's, for comparison)"
done

mkdir -p "$top_builddir/tests/package/deb"
rm -f "$top_builddir/tests/package/deb/"*.deb
cp "$deb" "$top_builddir/tests/package/deb/"
[ $failures -eq 0 ]
