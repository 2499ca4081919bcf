# Hostile clients against a running asg-health (issue 9 section 3) and
# kill -9 loops (section 5): loopback only, every loop bounded in count and
# time.  ASG_KILL_LOOPS=60 runs the long kill loop by hand.
HOSTILE_TESTS = \
	tests/hostile/hostile-connections.py \
	tests/hostile/hostile-requests.py \
	tests/hostile/hostile-descriptors.py \
	tests/hostile/hostile-kill.py \
	tests/hostile/agent-kill.py
TESTS += $(HOSTILE_TESTS)
EXTRA_DIST += $(HOSTILE_TESTS) tests/hostile/hostilelib.py tests/hostile/prober.py bench/soak
