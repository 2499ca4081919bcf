# Health checks: the "checks" config, the background runner and one file
# per check type (after relayd's check_*.c).  health/local.mk links them
# into asg-health; tests/checks.mk into the unit tests.
HEALTH_CHECK_SOURCES = \
	health/checks.h health/check-internal.h \
	health/checks.c health/checks-config.c \
	health/check-disk.c health/check-memory.c health/check-file.c \
	health/check-tcp.c health/check-http.c health/check-exec.c
