# Prometheus metrics (issue 12 section 2): the exposition writer's unit
# test, and both daemons' /metrics checked by promtool and scraped by a
# real Prometheus server (Debian's prometheus package).
check_PROGRAMS += tests/unit/test-prom
tests_unit_test_prom_SOURCES = tests/unit/test-prom.c
tests_unit_test_prom_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/common $(CMOCKA_CFLAGS)
tests_unit_test_prom_LDADD = $(COMMON_LIBS) $(CMOCKA_LIBS)
TESTS += tests/unit/test-prom

# Both daemons scraped by a real Prometheus server, promtool on every
# output, exact counter deltas (about 20 s).
TESTS += tests/integration/metrics-prometheus.py
EXTRA_DIST += tests/integration/metrics-prometheus.py

check_PROGRAMS += tests/unit/test-counters
tests_unit_test_counters_SOURCES = tests/unit/test-counters.c
tests_unit_test_counters_CFLAGS = $(AGENT_TEST_CFLAGS)
tests_unit_test_counters_LDADD = $(AGENT_TEST_LIBS)
TESTS += tests/unit/test-counters
