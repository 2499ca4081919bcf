# Tests of asg-agent and the AWS/IMDS stand-ins.
AGENT_TEST_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/agent $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) \
	$(CURL_CFLAGS) $(CRYPTO_CFLAGS) $(EXPAT_CFLAGS)
AGENT_TEST_LIBS = $(AGENT_LIBS) $(CMOCKA_LIBS)

# SigV4: the official suite (tests/sigv4/suite, Apache-2.0, see its NOTICE).
check_PROGRAMS += tests/unit/test-sigv4
tests_unit_test_sigv4_SOURCES = tests/unit/test-sigv4.c
tests_unit_test_sigv4_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_sigv4_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-sigv4
EXTRA_DIST += tests/sigv4

check_PROGRAMS += tests/unit/test-xml
tests_unit_test_xml_SOURCES = tests/unit/test-xml.c
tests_unit_test_xml_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_xml_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-xml

check_PROGRAMS += tests/unit/test-retry
tests_unit_test_retry_SOURCES = tests/unit/test-retry.c
tests_unit_test_retry_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_retry_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-retry

# http.c as the loop's event source: timers, interrupts, one completion.
check_PROGRAMS += tests/unit/test-http-loop
tests_unit_test_http_loop_SOURCES = tests/unit/test-http-loop.c
tests_unit_test_http_loop_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_http_loop_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-http-loop

check_PROGRAMS += tests/unit/test-aws-endpoint
tests_unit_test_aws_endpoint_SOURCES = tests/unit/test-aws-endpoint.c
tests_unit_test_aws_endpoint_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_aws_endpoint_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-aws-endpoint

check_PROGRAMS += tests/unit/test-metrics
tests_unit_test_metrics_SOURCES = tests/unit/test-metrics.c
tests_unit_test_metrics_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_metrics_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-metrics

check_PROGRAMS += tests/unit/test-config
tests_unit_test_config_SOURCES = tests/unit/test-config.c
tests_unit_test_config_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_config_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-config

check_PROGRAMS += tests/unit/test-credentials
tests_unit_test_credentials_SOURCES = tests/unit/test-credentials.c
tests_unit_test_credentials_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_credentials_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-credentials

check_PROGRAMS += tests/unit/test-lifecycle
tests_unit_test_lifecycle_SOURCES = tests/unit/test-lifecycle.c
tests_unit_test_lifecycle_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_lifecycle_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-lifecycle

# Integration: the real daemon against tests/standins (IMDS and AWS),
# with a 1 s test period (ASG_AGENT_TEST_PERIOD_MS) and a fake /proc/stat.
AGENT_INTEGRATION_TESTS = \
	tests/integration/agent-metrics.py \
	tests/integration/agent-faults.py \
	tests/integration/agent-imds.py \
	tests/integration/agent-imds-absent.py \
	tests/integration/agent-cli.py \
	tests/integration/agent-lifecycle-launch.py \
	tests/integration/agent-lifecycle-drain.py \
	tests/integration/agent-lifecycle-interrupt.py \
	tests/integration/agent-drain-safety.py \
	tests/integration/agent-claims.py \
	tests/integration/agent-broken-deps.py \
	tests/integration/agent-loop.py \
	tests/integration/agent-standby.py \
	tests/integration/agent-doctor.py
TESTS += $(AGENT_INTEGRATION_TESTS)
EXTRA_DIST += $(AGENT_INTEGRATION_TESTS) tests/integration/agentlib.py \
	tests/integration/lifecyclelib.py

# The lifecycle state file: validation of every field, safe saves.
check_PROGRAMS += tests/unit/test-state-file
tests_unit_test_state_file_SOURCES = tests/unit/test-state-file.c
tests_unit_test_state_file_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_state_file_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-state-file

# drain.d: refused files, process-group kills (interposes kill()).
check_PROGRAMS += tests/unit/test-drain
tests_unit_test_drain_SOURCES = tests/unit/test-drain.c
tests_unit_test_drain_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_drain_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-drain

# Region syntax before any host name is built from it.
check_PROGRAMS += tests/unit/test-region
tests_unit_test_region_SOURCES = tests/unit/test-region.c
tests_unit_test_region_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_region_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-region

# The cascade guard's decision (agent/guard.c).
check_PROGRAMS += tests/unit/test-guard
tests_unit_test_guard_SOURCES = tests/unit/test-guard.c
tests_unit_test_guard_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_guard_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-guard

# Secrets wiped before free.
check_PROGRAMS += tests/unit/test-secret
tests_unit_test_secret_SOURCES = tests/unit/test-secret.c
tests_unit_test_secret_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_secret_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-secret

# The lifecycle engine (agent/lifecycle*.c) as data: tests/lifecycle/
# scenarios/*.txt, events in, actions and states out; one runner.
check_PROGRAMS += tests/lifecycle/run-scenarios
tests_lifecycle_run_scenarios_SOURCES = tests/lifecycle/run-scenarios.c \
	tests/lifecycle/lc-parse.h tests/lifecycle/lc-text.h
tests_lifecycle_run_scenarios_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_lifecycle_run_scenarios_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/lifecycle/run-scenarios
EXTRA_DIST += tests/lifecycle/scenarios

# The lifecycle explorer: every interleaving of events to depth 8 from
# each start state, invariants checked on every path (see its header).
check_PROGRAMS += tests/lifecycle/explore
tests_lifecycle_explore_SOURCES = tests/lifecycle/explore.c tests/lifecycle/lc-text.h
tests_lifecycle_explore_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_lifecycle_explore_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/lifecycle/explore
