# Code both daemons link: logging, JSON config access, time.
noinst_LIBRARIES += common/libasgcommon.a
common_libasgcommon_a_SOURCES = \
	common/cleanup.h \
	common/conf.c common/conf.h \
	common/control-protocol.h \
	common/host.c common/host.h \
	common/log.c common/log.h \
	common/prom.c common/prom.h \
	common/timeutil.c common/timeutil.h
common_libasgcommon_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SYSTEMD_CFLAGS)
COMMON_LIBS = common/libasgcommon.a $(JANSSON_LIBS) $(SYSTEMD_LIBS) -lm -lpthread
