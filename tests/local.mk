# Tests: unit tests (cmocka) per module and integration tests that run the
# real binaries.  Each area keeps its own fragment.
EXTRA_DIST += tests/lib
include $(srcdir)/tests/health.mk
include $(srcdir)/tests/checks.mk
include $(srcdir)/tests/agent.mk
include $(srcdir)/tests/standins.mk

# Packaging and deployment tests.
include $(srcdir)/tests/package.mk
include $(srcdir)/tests/deploy.mk
