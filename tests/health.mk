# Tests of asg-health: unit tests (cmocka) of the request logic and the
# config, and integration tests that drive the real daemon over HTTP.
HEALTH_UNIT_TESTS = tests/unit/test-health-http tests/unit/test-health-config \
	tests/unit/test-health-connections tests/unit/test-health-cache \
	tests/unit/test-health-listen tests/unit/test-health-beneath \
	tests/unit/test-health-forwarded
check_PROGRAMS += $(HEALTH_UNIT_TESTS)
TESTS += $(HEALTH_UNIT_TESTS)

HEALTH_TEST_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/health $(MHD_CFLAGS) $(JANSSON_CFLAGS) \
	$(CMOCKA_CFLAGS)
HEALTH_TEST_LDADD = $(HEALTH_LIBS) $(CMOCKA_LIBS)

tests_unit_test_health_http_SOURCES = tests/unit/test-health-http.c
tests_unit_test_health_http_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_http_LDADD = $(HEALTH_TEST_LDADD)
tests_unit_test_health_config_SOURCES = tests/unit/test-health-config.c
tests_unit_test_health_config_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_config_LDADD = $(HEALTH_TEST_LDADD)
tests_unit_test_health_connections_SOURCES = tests/unit/test-health-connections.c
tests_unit_test_health_connections_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_connections_LDADD = $(HEALTH_TEST_LDADD)
tests_unit_test_health_listen_SOURCES = tests/unit/test-health-listen.c
tests_unit_test_health_listen_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_listen_LDADD = $(HEALTH_TEST_LDADD)
tests_unit_test_health_beneath_SOURCES = tests/unit/test-health-beneath.c
tests_unit_test_health_beneath_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_beneath_LDADD = $(HEALTH_TEST_LDADD)
tests_unit_test_health_forwarded_SOURCES = tests/unit/test-health-forwarded.c
tests_unit_test_health_forwarded_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_forwarded_LDADD = $(HEALTH_TEST_LDADD)
tests_unit_test_health_cache_SOURCES = tests/unit/test-health-cache.c
tests_unit_test_health_cache_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_cache_LDADD = $(HEALTH_TEST_LDADD) -lpthread

HEALTH_INTEGRATION_TESTS = \
	tests/integration/health-static.py \
	tests/integration/health-safety.py \
	tests/integration/health-limits.py \
	tests/integration/health-drain.py \
	tests/integration/health-lifecycle.py \
	tests/integration/health-systemd.py \
	tests/integration/health-haproxy.py \
	tests/integration/health-head.py \
	tests/integration/health-cache.py \
	tests/integration/health-verbose.py \
	tests/integration/health-claims.py \
	tests/integration/health-shutdown.py \
	tests/integration/health-threads.py \
	tests/integration/health-access-log.py \
	tests/integration/health-access-journal.py
TESTS += $(HEALTH_INTEGRATION_TESTS)

# The control protocol (common/control-protocol.h) from both sides: a real
# asg-health and a real asg-agent pointed at it.
TESTS += tests/integration/control-contract.py
EXTRA_DIST += tests/integration/control-contract.py
EXTRA_DIST += $(HEALTH_INTEGRATION_TESTS) tests/integration/health-shutdown-shim.c
