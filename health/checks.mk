# Health checks: owned by the checks work (health/checks.c, health/check-*.c).
HEALTH_CHECK_SOURCES =
