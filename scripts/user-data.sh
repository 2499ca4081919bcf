#!/bin/bash
# asg-agent user data for the Debian 12 instances of the Auto Scaling group:
# installs the asg-agent package, puts the site in place, writes
# /etc/asg-agent/health.json and agent.json, and enables and starts the
# units.  cloud-init runs it as root at first boot (output in
# /var/log/cloud-init-output.log); running it again gives the same result
# (same package, same files, units restarted), so it also redeploys a site.
# scripts/user-data.yaml carries this same script as a #cloud-config.
# EC2 limits user data to 16 KB before base64: keep it small.
#
# ====================== EDIT THESE THREE LINES ======================
ASG_AGENT_PACKAGE='https://EDIT-ME.example.com/asg-agent_amd64.deb' # EDIT 1/3: https:// URL of the .deb, s3://BUCKET/KEY.deb, or apt
ASG_AGENT_SITE='example' # EDIT 2/3: s3://BUCKET/PREFIX/, https:// URL of a .tar.gz, or example
ASG_AGENT_APT_SOURCE='' # EDIT 3/3: with apt only, the sources.list line, e.g. deb [signed-by=/usr/share/keyrings/k.gpg] https://repo.example.com/debian bookworm main
# ==================== nothing to edit below here ====================
# The agent's metric period, seconds: scripts/provision --metric-period sets
# it to the target tracking policy's (10, 30 or 60).
ASG_AGENT_PERIOD='60'
set -euo pipefail
umask 022
export DEBIAN_FRONTEND=noninteractive

# ASG_AGENT_DESTDIR stands in for / in the offline tests only.
root=${ASG_AGENT_DESTDIR:-}
site=/var/www/asg-agent
conf=/etc/asg-agent
cache=$root/var/cache/asg-agent-deploy

log() { echo "asg-agent user data: $*"; }
die() {
	log "error: $*" >&2
	exit 1
}

case $ASG_AGENT_PACKAGE in
*EDIT-ME*) die "set ASG_AGENT_PACKAGE (the line marked EDIT 1/3) to where the .deb is" ;;
esac
case $ASG_AGENT_PERIOD in
10 | 30 | 60) ;;
*) die "ASG_AGENT_PERIOD must be 10, 30 or 60" ;;
esac

# At first boot apt's daily timers may hold the dpkg lock: wait for it
# (apt >= 1.9.11) instead of failing.
apt_lock=(-o DPkg::Lock::Timeout=600)
apt_updated=
apt_install() {
	# A fresh AMI's package lists may be stale: update once per run.
	if [ -z "$apt_updated" ]; then
		apt-get "${apt_lock[@]}" update -q
		apt_updated=1
	fi
	# confold: a rerun or an upgrade keeps the config this script wrote.
	apt-get "${apt_lock[@]}" install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

need() { # need COMMAND PACKAGE...
	local cmd=$1
	shift
	command -v "$cmd" >/dev/null 2>&1 || apt_install "$@"
}

# download URL|S3-URI FILE: to FILE.part first, so a failed download never
# leaves a truncated file under the final name.
download() {
	case $1 in
	s3://*)
		need aws awscli
		aws s3 cp --only-show-errors "$1" "$2.part"
		;;
	https://* | http://*)
		need curl curl ca-certificates
		curl -fsSL --retry 5 --retry-connrefused -o "$2.part" "$1"
		;;
	*) die "cannot download '$1': expected s3:// or https://" ;;
	esac
	mv -f "$2.part" "$2"
}

install_package() {
	mkdir -p "$cache"
	case $ASG_AGENT_PACKAGE in
	apt)
		[ -n "$ASG_AGENT_APT_SOURCE" ] ||
			die "ASG_AGENT_PACKAGE is apt: set ASG_AGENT_APT_SOURCE (EDIT 3/3)"
		printf '%s\n' "$ASG_AGENT_APT_SOURCE" >"$root/etc/apt/sources.list.d/asg-agent.list"
		apt_install asg-agent
		;;
	*)
		download "$ASG_AGENT_PACKAGE" "$cache/asg-agent.deb"
		# apt (not dpkg -i) so the package's dependencies come too; the
		# same version installed again is a no-op.
		apt_install "$cache/asg-agent.deb"
		;;
	esac
}

# The site is assembled next to the live one and swapped in with two
# renames, so a failed fetch leaves the old site serving.
install_site() {
	local new=$root$site.new old=$root$site.old dir
	rm -rf "$new" "$old"
	mkdir -p "$new"
	case $ASG_AGENT_SITE in
	example)
		# The package installs the example site here (systemd/local.mk).
		dir=/usr/share/asg-agent/site
		[ -d "$root$dir" ] || die "the package ships no example site; set ASG_AGENT_SITE (EDIT 2/3)"
		cp -R "$root$dir/." "$new/"
		;;
	s3://*)
		need aws awscli
		aws s3 sync --only-show-errors --delete "${ASG_AGENT_SITE%/}/" "$new/"
		;;
	https://* | http://*)
		download "$ASG_AGENT_SITE" "$cache/site.tar.gz"
		tar -xzf "$cache/site.tar.gz" -C "$new" --no-same-owner --no-same-permissions
		;;
	*) die "ASG_AGENT_SITE must be s3://..., https://... or example" ;;
	esac
	[ -f "$new/index.html" ] || die "the site has no index.html at its top; the old one is kept"
	# asg-health runs unprivileged: everything must be world-readable.
	chmod -R a+rX,go-w "$new"
	if [ -d "$root$site" ]; then mv "$root$site" "$old"; fi
	mv "$new" "$root$site"
	rm -rf "$old"
}

# write_file PATH: stdin to PATH, replaced atomically.
write_file() {
	mkdir -p "$(dirname "$root$1")"
	cat >"$root$1.tmp"
	chmod 0644 "$root$1.tmp"
	mv -f "$root$1.tmp" "$root$1"
}

write_config() {
	# lb_unhealthy_threshold: the target group's UnhealthyThresholdCount
	# (scripts/provision sets 2).  The maintenance file takes an instance
	# out of the load balancer by hand: touch it.
	write_file "$conf/health.json" <<JSON
{
  "root": "$site",
  "lb_unhealthy_threshold": 2,
  "checks": [
    {"name": "disk-root", "type": "disk", "path": "/", "min_free_percent": 5},
    {"name": "memory", "type": "memory", "min_available_percent": 5},
    {"name": "maintenance", "type": "file", "path": "$conf/maintenance", "must_exist": false}
  ]
}
JSON
	# The metric the target tracking policy follows (scripts/provision);
	# the group's name comes from the instance's aws:autoscaling:groupName
	# tag in the instance metadata.
	write_file "$conf/agent.json" <<JSON
{
  "namespace": "ASGAgent",
  "metric_name": "CPUUtilization",
  "period": $ASG_AGENT_PERIOD
}
JSON
}

start_units() {
	asg-health --check-config --config "$root$conf/health.json" >/dev/null ||
		die "asg-health refuses $conf/health.json (see above)"
	systemctl enable --now asg-health.socket asg-agent.service
	# A running asg-health holds the old site's directory and config: a
	# restart (graceful: in-flight requests finish) picks up the new ones.
	systemctl try-restart asg-health.service
	systemctl restart asg-agent.service
}

install_package
install_site
write_config
start_units
log "done: package $ASG_AGENT_PACKAGE, site $ASG_AGENT_SITE"
