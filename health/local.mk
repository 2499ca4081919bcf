# asg-health: the network-facing static site and /health server.
include $(srcdir)/health/checks.mk

sbin_PROGRAMS += health/asg-health
noinst_LIBRARIES += health/libasghealth.a

# Everything but main() is a library, so unit tests link the same code.
health_libasghealth_a_SOURCES = \
	health/beneath.c health/beneath.h \
	health/access-log.c health/access-log.h \
	health/cache.c health/cache.h \
	health/config.c health/config.h \
	health/connections.c health/connections.h \
	health/control.c health/control.h \
	health/curl-loader.c health/curl-loader.h \
	health/forwarded.c health/forwarded.h \
	health/listen.c health/listen.h \
	health/metrics.c health/metrics.h \
	health/mime.c health/mime.h \
	health/path.c health/path.h \
	health/probes.c health/probes.h \
	health/range.c health/range.h \
	health/responses.c health/responses.h \
	health/server.c health/server.h \
	health/site.c health/site.h \
	health/static.c health/static.h \
	$(HEALTH_CHECK_SOURCES)
health_libasghealth_a_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) \
	$(SYSTEMD_CFLAGS) $(NETTLE_CFLAGS)

HEALTH_LIBS = health/libasghealth.a $(COMMON_LIBS) $(MHD_LIBS) $(NETTLE_LIBS) -ldl

health_asg_health_SOURCES = health/main.c
health_asg_health_CFLAGS = $(health_libasghealth_a_CFLAGS)
health_asg_health_LDADD = $(HEALTH_LIBS)
