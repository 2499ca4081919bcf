# Unit tests of the health checks (cmocka).  They link health/libasghealth.a
# (health/local.mk), which holds $(HEALTH_CHECK_SOURCES): the tests run the
# same objects as the daemon.
CHECKS_TESTS = \
	tests/unit/test-checks-config \
	tests/unit/test-checks-state \
	tests/unit/test-checks-types \
	tests/unit/test-checks-runner
check_PROGRAMS += $(CHECKS_TESTS)
TESTS += $(CHECKS_TESTS)

CHECKS_TEST_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/health \
	$(CURL_CFLAGS) $(JANSSON_CFLAGS) $(CMOCKA_CFLAGS)
CHECKS_TEST_LDADD = $(HEALTH_LIBS) $(CMOCKA_LIBS)

tests_unit_test_checks_config_SOURCES = tests/unit/test-checks-config.c
tests_unit_test_checks_config_CFLAGS = $(CHECKS_TEST_CFLAGS)
tests_unit_test_checks_config_LDADD = $(CHECKS_TEST_LDADD)
tests_unit_test_checks_state_SOURCES = tests/unit/test-checks-state.c
tests_unit_test_checks_state_CFLAGS = $(CHECKS_TEST_CFLAGS)
tests_unit_test_checks_state_LDADD = $(CHECKS_TEST_LDADD)
tests_unit_test_checks_types_SOURCES = tests/unit/test-checks-types.c
tests_unit_test_checks_types_CFLAGS = $(CHECKS_TEST_CFLAGS)
tests_unit_test_checks_types_LDADD = $(CHECKS_TEST_LDADD)
tests_unit_test_checks_runner_SOURCES = tests/unit/test-checks-runner.c
tests_unit_test_checks_runner_CFLAGS = $(CHECKS_TEST_CFLAGS)
tests_unit_test_checks_runner_LDADD = $(CHECKS_TEST_LDADD)
