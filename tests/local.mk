# Tests: unit tests (cmocka) per module and integration tests that run the
# real binaries.  Each area keeps its own fragment.
EXTRA_DIST += tests/lib
include $(srcdir)/tests/health.mk
include $(srcdir)/tests/checks.mk
include $(srcdir)/tests/agent.mk
include $(srcdir)/tests/standins.mk
include $(srcdir)/tests/metrics.mk

# Packaging and deployment tests.
include $(srcdir)/tests/package.mk
include $(srcdir)/tests/deploy.mk

# The fleet on one machine (issue 5): instances on 127.0.1.N behind HAProxy.
FLEET_TESTS = tests/fleet/test-fleet.py tests/fleet/test-scaling.py tests/fleet/test-autoscale.py
TESTS += $(FLEET_TESTS)
EXTRA_DIST += $(FLEET_TESTS) tests/fleet/fleet.py tests/fleet/scenarios.py tests/fleet/demo.py \
	tests/fleet/scaling.py tests/fleet/group.py tests/fleet/bench-scaling.py \
	tests/standins/cloudwatch_agg.py

# The benchmark's own arithmetic and BENCHMARKS.md splicing (no servers).
TESTS += bench/test-bench.py
EXTRA_DIST += bench/test-bench.py

# Hostile clients and kill -9 loops against asg-health (issue 9).
include $(srcdir)/tests/hostile.mk
# Fuzz harnesses: corpus replay in every build, libFuzzer runs in a clang one.
include $(srcdir)/tests/fuzz.mk
include $(srcdir)/tests/static.mk
