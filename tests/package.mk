# Tests of the Debian package and systemd units (owned by the packaging work).
#   conf-defaults.sh  the packaged config files: valid, every default spelled
#                     out, every key documented in asg-agent.json(5)
#   deb-build.sh      dpkg-buildpackage, lintian --fail-on warning, contents,
#                     systemd-analyze security scores
#   deb-boot.py       the .deb on a booted Debian 12 (systemd-nspawn): port 80,
#                     READY, watchdog, drain on stop, journal fields, purge
PACKAGE_TESTS = tests/package/conf-defaults.sh tests/package/deb-build.sh \
	tests/package/deb-boot.py
TESTS += $(PACKAGE_TESTS)
EXTRA_DIST += $(PACKAGE_TESTS) tests/package/in-container.sh
# deb-boot.py boots the .deb that deb-build.sh leaves in tests/package/deb/.
tests/package/deb-boot.log: tests/package/deb-build.log
CLEANFILES += tests/package/deb/*.deb
