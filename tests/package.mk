# Tests of the Debian package and systemd units (owned by the packaging work).
#   conf-defaults.sh  the packaged config files: valid, every default spelled
#                     out, every key documented once in asg-agent.json(5)
#                     (man-keys.py)
#   deb-build.sh      dpkg-buildpackage, lintian --fail-on warning, contents,
#                     systemd-analyze security scores
#   deb-boot.py       the .deb on a booted Debian 12 (systemd-nspawn): port 80,
#                     READY, watchdog, drain on stop, journal fields, purge
#   cloud-boot.py     the instance as EC2 boots it: real cloud-init runs the
#                     rendered user data at first boot (NoCloud seed, its own
#                     network namespace); a second boot changes nothing
#   cloud-scale-in.py three such instances behind HAProxy, one scaled in
#                     (skips unless ASG_TEST_SLOW=1: ./scripts/check --slow)
PACKAGE_TESTS = tests/package/conf-defaults.sh tests/package/deb-build.sh \
	tests/package/deb-boot.py tests/package/cloud-boot.py \
	tests/package/cloud-scale-in.py
TESTS += $(PACKAGE_TESTS)
EXTRA_DIST += $(PACKAGE_TESTS) tests/package/in-container.sh \
	tests/package/bootlib.py tests/package/cloudlib.py tests/package/man-keys.py
# The boot tests boot the .deb that deb-build.sh leaves in tests/package/deb/.
tests/package/deb-boot.log: tests/package/deb-build.log
tests/package/cloud-boot.log: tests/package/deb-build.log
tests/package/cloud-scale-in.log: tests/package/deb-build.log
CLEANFILES += tests/package/deb/*.deb
