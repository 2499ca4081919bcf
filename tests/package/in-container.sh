#!/bin/bash
# Runs inside the booted Debian 12 container (systemd 252 as PID 1), as the
# oneshot unit asg-test.service that deb-boot.py installs, in two boots of
# the same root.  Boot 1 installs the package and checks it; boot 2 is a
# reboot with nothing run but the boot itself (what a warm-pool instance
# does: user data does not run again), checks that the units did all the
# start-up work, then purges the package.  One line per check on
# /out/results: "ok NAME" or "FAIL NAME: detail"; "boot1 done" and "done"
# say each boot's part ran to its end.  The host (deb-boot.py) reads it.
#
# Inputs in /out: asg-agent.deb, env (IMDS_URL, AWS_URL).
set -u
# shellcheck source=/dev/null
. /out/env
results=/out/results
phase=$(cat /out/phase 2>/dev/null || echo 1)

ok() { echo "ok $1 [${SECONDS}s]" >>"$results"; }
fail() { echo "FAIL $1 [${SECONDS}s]: $2" >>"$results"; }
check() { # name command...: ok if the command succeeds
	local name=$1
	shift
	if "$@" >/out/check.out 2>&1; then ok "$name"; else fail "$name" "$(tr '\n' ' ' </out/check.out | cut -c1-300)"; fi
}
prop() { systemctl show -p "$2" --value "$1"; }
# wait_for SECONDS command...: retries every 0.2 s.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
health_is() { [ "$(http_code "http://127.0.0.1/health")" = "$1" ]; }
uid_of() { awk '/^Uid:/ {print $2}' "/proc/$1/status"; }

# What the system holds before the package, to prove the purge complete.
# Logs, journals, dpkg's and systemd's own databases change on any run.
snapshot() {
	find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /out -o -path /tmp \
		-o -path /var/log -o -path /var/lib/dpkg -o -path /var/cache -o -path /var/tmp \
		-o -path /var/lib/systemd -o -path /run/systemd -o -path /run/user -o -path /run/log \
		-o -path /etc/systemd/system/asg-agent.service.d -o -path /etc/systemd/system/asg-test.service \
		-o -path /etc/systemd/system/multi-user.target.wants/asg-test.service \
		-o -path /etc/ld.so.cache -o -path /var/lib/private -o -path /run/credentials \) -prune -o -print | sort
}
# --- dpkg --purge leaves nothing behind -----------------------------------------
purge_and_compare() {
	rm -rf /etc/systemd/system/asg-agent.service.d
	systemctl daemon-reload
	check dpkg-purge dpkg --purge asg-agent
	check port80-closed sh -c '! curl -s -o /dev/null --max-time 3 http://127.0.0.1/'
	# A purged unit systemd still holds a reference to (a job or a
	# dependency being garbage-collected, slower on a loaded machine) is
	# listed as "not-found inactive dead" for a while: no file, not running,
	# nothing left to do.  Anything else (a unit file, a loaded, active or
	# failed unit) is a leftover.
	left=$(systemctl list-units --all --no-legend 'asg-health*' 'asg-agent*' 2>&1 |
		grep -v -E '[[:space:]]not-found[[:space:]]+inactive[[:space:]]+dead([[:space:]]|$)'
		systemctl list-unit-files --no-legend 'asg-health*' 'asg-agent*' 2>&1)
	if [ -z "$left" ]; then ok units-gone; else fail units-gone "$left"; fi
	snapshot >/out/files.after
	getent passwd >/out/passwd.after
	getent group >/out/group.after
	new=$(comm -13 /out/files.before /out/files.after; comm -13 /out/passwd.before /out/passwd.after; comm -13 /out/group.before /out/group.after)
	if [ -z "$new" ]; then ok purge-leaves-nothing; else fail purge-leaves-nothing "$(echo "$new" | tr '\n' ' ' | cut -c1-400)"; fi
	leftover=$(ls -d /var/lib/systemd/deb-systemd-helper-enabled/*asg* /var/lib/systemd/deb-systemd-helper-masked/*asg* \
		/var/lib/private/asg* /var/lib/dpkg/info/asg-agent.* 2>/dev/null)
	if [ -z "$leftover" ]; then ok purge-state-gone; else fail purge-state-gone "$leftover"; fi
}

dump_logs() {
	journalctl -u asg-agent.service -o short-precise --no-pager >/out/journal-agent.txt 2>&1
	journalctl -u asg-health.service -u asg-health.socket -o short-precise --no-pager >/out/journal-health.txt 2>&1
}

if [ "$phase" = 2 ]; then
	# --- after a reboot: the units did the start-up work ---------------------
	for u in asg-health.socket asg-health.service asg-agent.service; do
		if systemctl is-active --quiet "$u"; then ok "reboot-$u-active"; else fail "reboot-$u-active" "$(prop "$u" ActiveState)"; fi
	done
	dir=$(stat -c '%a %U %G' /run/asg-agent 2>&1)
	if [ "$dir" = "750 asg-agent asg-agent" ]; then ok reboot-runtime-dir; else fail reboot-runtime-dir "$dir"; fi
	check reboot-port80 wait_for 10 health_is 200
	check reboot-agent-drains runuser -u asg-agent -- asg-agent drain --force
	check reboot-drained-503 wait_for 5 health_is 503
	check reboot-agent-undrains runuser -u asg-agent -- asg-agent undrain
	st=$(prop asg-agent.service StatusText)
	if [ -n "$st" ]; then ok reboot-agent-ready; else fail reboot-agent-ready "no StatusText"; fi
	# The packaged "maintenance" check: the flag file takes the instance out
	# of service (fall 2 x interval 5 s) and its removal brings it back.
	touch /etc/asg-agent/maintenance
	check maintenance-flag-503 wait_for 15 health_is 503
	rm -f /etc/asg-agent/maintenance
	check maintenance-cleared-200 wait_for 15 health_is 200

	# --- the group terminates the instance: a drain, with a drain hook -----
	# The hook runs under the packaged unit's sandbox: as asg-agent, with a
	# read-only /etc, writing only to /run/asg-agent.  `systemctl stop`
	# arrives while it runs: the hook must not get the SIGTERM
	# (KillMode=mixed), and the agent must finish the drain before exiting.
	hook=/etc/asg-agent/drain.d/50-package-test
	cat >"$hook" <<'HOOK'
#!/bin/sh
echo started >/run/asg-agent/hook-started
sleep 3
{
	echo "user=$(id -un)"
	echo "cause=$ASG_AGENT_DRAIN_CAUSE"
	if touch /etc/asg-agent/hook-probe 2>/dev/null; then echo "etc=writable"; else echo "etc=read-only"; fi
} >/run/asg-agent/hook-ran
HOOK
	chmod 755 "$hook"
	curl -s --max-time 5 -H 'Content-Type: application/json' -X POST \
		-d "{\"InstanceId\": \"$INSTANCE_ID\"}" "$AWS_URL/_control/terminate" >/out/terminate.json
	check termination-drains wait_for 20 health_is 503
	check drain-hook-started wait_for 40 test -e /run/asg-agent/hook-started
	t0=$(date +%s.%N)
	systemctl stop asg-agent.service
	t1=$(date +%s.%N)
	stop_s=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
	echo "agent_stop_during_drain_seconds $stop_s" >>/out/timings
	cp /run/asg-agent/hook-ran /out/hook-ran 2>/dev/null
	if [ -s /out/hook-ran ] && [ "$(prop asg-agent.service Result)" = success ]; then
		ok stop-finishes-drain
	else
		fail stop-finishes-drain "after $stop_s s: hook output '$(cat /out/hook-ran 2>/dev/null)', Result=$(prop asg-agent.service Result)"
	fi
	if grep -qx 'user=asg-agent' /out/hook-ran && grep -qx 'etc=read-only' /out/hook-ran &&
		grep -q '^cause=.*termination' /out/hook-ran; then
		ok drain-hook-sandboxed
	else
		fail drain-hook-sandboxed "$(tr '\n' ' ' </out/hook-ran)"
	fi
	journalctl -u asg-agent.service --no-pager | grep -i 'lifecycle' >/out/lifecycle.txt
	if grep -q 'stop requested while draining' /out/lifecycle.txt; then ok stop-logged-drain; else fail stop-logged-drain "no 'stop requested while draining' in the journal"; fi
	rm -f "$hook"
	dump_logs
	purge_and_compare
	echo "done" >>"$results"
	exit 0
fi

: >"$results"
getent passwd >/out/passwd.before
getent group >/out/group.before
snapshot >/out/files.before

# --- install -------------------------------------------------------------
t0=$SECONDS
check dpkg-install dpkg -i /out/asg-agent.deb
echo "install_seconds $((SECONDS - t0))" >>/out/timings
check units-active wait_for 15 systemctl is-active --quiet asg-health.socket asg-health.service asg-agent.service
for u in asg-health.socket asg-health.service asg-agent.service; do
	systemctl status --no-pager "$u" >>/out/status.txt 2>&1
done
check units-enabled systemctl is-enabled --quiet asg-health.socket asg-health.service asg-agent.service
check verify systemd-analyze verify --man=no asg-health.socket asg-health.service asg-agent.service

# --- the socket unit answers on port 80, IPv4 and IPv6 -------------------
check port80-ipv4 wait_for 10 health_is 200
code=$(http_code http://127.0.0.1/)
body=$(curl -s --max-time 5 http://127.0.0.1/ | head -c 20000)
if [ "$code" = 200 ] && grep -qi '<html' <<<"$body"; then ok port80-site; else fail port80-site "GET / gave $code"; fi
code6=$(http_code 'http://[::1]/health')
if [ "$code6" = 200 ]; then ok port80-ipv6; else fail port80-ipv6 "GET http://[::1]/health gave $code6"; fi
# systemd, not asg-health, holds the listening sockets.
listen=$(systemctl show -p Listen --value asg-health.socket)
if grep -q '0.0.0.0:80' <<<"$listen" && grep -q '\[::\]:80' <<<"$listen" &&
	grep -q '/run/asg-agent/health.sock' <<<"$listen"; then ok socket-listen; else fail socket-listen "$listen"; fi

# --- READY reached systemd (Type=notify, STATUS=) -------------------------
st=$(prop asg-health.service StatusText)
if [ "$(prop asg-health.service Type)" = notify ] && [ -n "$st" ]; then ok health-ready "$st"; else fail health-ready "StatusText='$st'"; fi
agent_status_set() { [ -n "$(prop asg-agent.service StatusText)" ]; }
check agent-ready wait_for 15 agent_status_set
echo "health_status $(prop asg-health.service StatusText)" >>/out/timings
echo "agent_status $(prop asg-agent.service StatusText)" >>/out/timings

# --- users and privileges --------------------------------------------------
hpid=$(prop asg-health.service MainPID)
apid=$(prop asg-agent.service MainPID)
huid=$(uid_of "$hpid")
auid=$(uid_of "$apid")
if [ "$huid" = "$(id -u asg-health)" ] && [ "$huid" != 0 ]; then ok health-system-user; else fail health-system-user "uid $huid"; fi
if [ "$auid" = "$(id -u asg-agent)" ]; then ok agent-system-user; else fail agent-system-user "uid $auid"; fi
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$hpid/status")
if [ "$capeff" = 0000000000000000 ]; then ok health-no-capabilities; else fail health-no-capabilities "CapEff $capeff"; fi
# The site is read-only in asg-health's view, even for root entering its
# mount namespace.
if nsenter --target "$hpid" --mount -- sh -c 'echo x > /usr/share/asg-agent/site/.probe' 2>/out/ro.err; then
	fail health-site-read-only "could write into the site"
else
	if grep -q 'Read-only' /out/ro.err; then ok health-site-read-only; else fail health-site-read-only "$(cat /out/ro.err)"; fi
fi
deny=$(prop asg-health.service IPAddressDeny)
if grep -q '169.254.169.254' <<<"$deny"; then ok health-imds-denied; else fail health-imds-denied "IPAddressDeny='$deny'"; fi
# This systemd enforces IPAddressDeny= (a cgroup BPF program; the
# container is started with bpf(2) allowed): a transient unit denied
# 127.0.0.1 cannot reach it.  The test never sends anything to the real
# metadata address.
if systemd-run --wait --quiet -p IPAddressDeny=127.0.0.1 curl -s -o /dev/null --max-time 3 http://127.0.0.1/health 2>/dev/null; then
	fail ip-firewall-enforced "a unit with IPAddressDeny=127.0.0.1 still reached 127.0.0.1 (cgroup $(stat -f -c %T /sys/fs/cgroup)): the IMDS deny would not hold"
else
	if systemd-run --wait --quiet curl -s -o /dev/null --max-time 3 http://127.0.0.1/health; then
		ok ip-firewall-enforced
	else
		fail ip-firewall-enforced "curl from a transient unit fails even without IPAddressDeny"
	fi
fi

# --- control socket: group asg-agent only ----------------------------------
sock=$(stat -c '%A %U %G' /run/asg-agent/health.sock 2>&1)
if [ "$sock" = "srw-rw---- root asg-agent" ]; then ok control-socket-mode; else fail control-socket-mode "$sock"; fi
check agent-drains runuser -u asg-agent -- asg-agent drain --force
check drained-503 wait_for 5 health_is 503
check agent-undrains runuser -u asg-agent -- asg-agent undrain
check undrained-200 wait_for 5 health_is 200
if runuser -u nobody -- curl -s --max-time 3 --unix-socket /run/asg-agent/health.sock -X POST http://localhost/drain >/dev/null 2>&1; then
	fail control-socket-private "user nobody could drain"
else
	ok control-socket-private
fi
check agent-status sh -c 'asg-agent status | grep -q "\"auto_scaling_group_name\"\\|group"'
asg-agent status >/out/agent-status.json 2>&1

# --- the journal carries the structured fields -----------------------------
journalctl -u asg-health.service -o export --no-pager >/out/journal-health.export 2>&1
for f in CHECK= CHECK_STATE= DRAIN=1 DRAIN=0; do
	if grep -q "^$f" /out/journal-health.export; then ok "journal-$f"; else fail "journal-$f" "no $f field in asg-health's journal"; fi
done

# --- the access log (issue 12): journal, then a file rotated as logrotate does
set_access_log() { # value: into health.json, then a reload
	python3 - "$1" <<'PY'
import json, sys
p = "/etc/asg-agent/health.json"
c = json.load(open(p))
c["access_log"] = sys.argv[1]
json.dump(c, open(p, "w"), indent=2)
PY
	systemctl reload asg-health.service
}
cp /etc/asg-agent/health.json /out/health.json.orig
check logrotate-installed test -f /etc/logrotate.d/asg-health
set_access_log journal
if wait_for 20 sh -c 'curl -s -o /dev/null -H "X-Forwarded-For: 6.6.6.6, 203.0.113.9" http://127.0.0.1/alog-journal; journalctl -t asg-health-access -o export --no-pager | grep -q "^URL=/alog-journal"'; then
	journalctl -t asg-health-access -o export --no-pager >/out/journal-access.export 2>&1
	for f in CLIENT=203.0.113.9 METHOD=GET STATUS=404 PROTOCOL=HTTP/1.1 REQUEST_TIME= TRACE_ID= MESSAGE=203.0.113.9; do
		if grep -q "^$f" /out/journal-access.export; then ok "access-journal-$f"; else fail "access-journal-$f" "no $f in the access log's journal entries"; fi
	done
else
	fail access-journal "no asg-health-access entry for /alog-journal: $(journalctl -u asg-health.service --no-pager | tail -5 | tr '\n' ' ')"
fi
log=/var/log/asg-health/access.log
set_access_log "$log"
check access-file-line wait_for 20 sh -c "curl -s -o /dev/null http://127.0.0.1/alog-1; grep -q 'GET /alog-1 ' $log"
check access-file-owner sh -c "[ \"\$(stat -c %U $log)\" = asg-health ]"
# logrotate's move, then its postrotate (the same command)
mv "$log" "$log.1"
systemctl kill --signal=USR1 --kill-whom=main asg-health.service
check access-reopened wait_for 20 test -f "$log"
check access-after-rotate wait_for 20 sh -c "curl -s -o /dev/null http://127.0.0.1/alog-2; grep -q 'GET /alog-2 ' $log"
check access-rotated-kept grep -q 'GET /alog-1 ' "$log.1"
check access-status sh -c "curl -s --unix-socket /run/asg-agent/health.sock http://localhost/status | grep -q '\"dropped\":0'"
cp /out/health.json.orig /etc/asg-agent/health.json
systemctl reload asg-health.service

# --- a stopped watchdog ping gets the service restarted --------------------
restarts0=$(prop asg-health.service NRestarts)
t0=$SECONDS
kill -STOP "$hpid"
# A request made while the process hangs waits in the socket's backlog and
# is answered by the restarted process: systemd kept the socket open.
curl -s -o /out/during-hang.txt -w '%{http_code}' --max-time 40 http://127.0.0.1/ >/out/during-hang.code 2>&1 &
curlpid=$!
result=
end=$((SECONDS + 30))
while [ $SECONDS -lt $end ]; do
	r=$(prop asg-health.service Result)
	[ "$r" = watchdog ] && result=watchdog
	[ "$(prop asg-health.service NRestarts)" -gt "$restarts0" ] &&
		systemctl is-active --quiet asg-health.service && break
	sleep 0.2
done
echo "watchdog_restart_seconds $((SECONDS - t0))" >>/out/timings
npid=$(prop asg-health.service MainPID)
if [ "$(prop asg-health.service NRestarts)" -gt "$restarts0" ] && [ "$npid" != "$hpid" ] &&
	systemctl is-active --quiet asg-health.service; then ok watchdog-restart; else fail watchdog-restart "NRestarts $(prop asg-health.service NRestarts), MainPID $npid"; fi
if [ "$result" = watchdog ] || journalctl -u asg-health.service --no-pager | grep -q "Failed with result 'watchdog'"; then
	ok watchdog-result
else
	fail watchdog-result "no Result=watchdog"
fi
wait "$curlpid"
if [ "$(cat /out/during-hang.code)" = 200 ]; then ok no-refused-connection; else fail no-refused-connection "request during the hang: $(cat /out/during-hang.code)"; fi

# --- systemctl stop drains before exit --------------------------------------
# A 48 MB file fetched at 16 MB/s is in flight when the stop begins (more
# than the loopback socket buffers hold, so asg-health is still sending);
# asg-health must let it finish (shutdown_timeout 30 s) before it exits.
head -c 48000000 /dev/urandom >/usr/share/asg-agent/site/big.bin
sum=$(md5sum </usr/share/asg-agent/site/big.bin)
curl -s --limit-rate 16000000 --max-time 30 -o /out/big.bin http://127.0.0.1/big.bin &
curlpid=$!
sleep 0.5
t0=$(date +%s.%N)
systemctl stop asg-health.service
t1=$(date +%s.%N)
wait "$curlpid"
crc=$?
stop_s=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
echo "stop_seconds $stop_s" >>/out/timings
if [ $crc = 0 ] && [ "$(md5sum </out/big.bin)" = "$sum" ] && awk -v s="$stop_s" 'BEGIN{exit !(s >= 1.0)}'; then
	ok stop-drains
else
	fail stop-drains "curl exit $crc, stop took $stop_s s, $(stat -c %s /out/big.bin 2>/dev/null) bytes"
fi
if journalctl -u asg-health.service --no-pager | grep -q 'finishing [1-9][0-9]* in-flight'; then
	ok stop-logged
else
	fail stop-logged "the journal does not show the stop waiting for an in-flight request"
fi
rm -f /usr/share/asg-agent/site/big.bin /out/big.bin
# The socket is still there: the next request starts the service again.
check socket-reactivates wait_for 10 health_is 200

# --- reinstall, an upgrade's path: edits kept, no connection refused -------
# dpkg keeps an edited conffile; postinst restarts the units.  Requests sent
# all along must all be answered: systemd holds port 80 while asg-health
# restarts.
sed -i 's/"threads": 0/"threads": 2/' /etc/asg-agent/health.json
hpid=$(prop asg-health.service MainPID)
: >/out/upgrade-codes
(
	while [ ! -e /out/upgrade-stop ]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 http://127.0.0.1/ >>/out/upgrade-codes
		sleep 0.02
	done
) &
looppid=$!
sleep 0.3
check reinstall dpkg -i /out/asg-agent.deb
sleep 0.5
touch /out/upgrade-stop
wait "$looppid"
rm -f /out/upgrade-stop
n=$(wc -l </out/upgrade-codes)
bad=$(grep -vc '^200$' /out/upgrade-codes)
echo "reinstall_requests $n (not 200: $bad)" >>/out/timings
if [ "$n" -ge 10 ] && [ "$bad" = 0 ]; then ok reinstall-no-refused; else fail reinstall-no-refused "$bad of $n requests not 200: $(sort /out/upgrade-codes | uniq -c | tr '\n' ' ')"; fi
if grep -q '"threads": 2' /etc/asg-agent/health.json; then ok reinstall-keeps-conffile; else fail reinstall-keeps-conffile "the edit to health.json is gone"; fi
if [ "$(prop asg-health.service MainPID)" != "$hpid" ] && systemctl is-active --quiet asg-health.service asg-agent.service; then
	ok reinstall-restarts
else
	fail reinstall-restarts "asg-health MainPID $(prop asg-health.service MainPID) (was $hpid)"
fi

# --- asg-agent stops cleanly ----------------------------------------------------
check agent-stop systemctl stop asg-agent.service
if [ "$(prop asg-agent.service Result)" = success ]; then ok agent-stop-result; else fail agent-stop-result "$(prop asg-agent.service Result)"; fi
dump_logs
echo 2 >/out/phase
echo "boot1 done" >>"$results"

