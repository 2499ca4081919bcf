# asg-agent: the AWS side (IMDSv2, SigV4, CloudWatch, lifecycle hooks).
# Everything but main() lives in an internal library so the unit tests
# link the same objects the daemon runs.
noinst_LIBRARIES += agent/libasgagent.a
agent_libasgagent_a_SOURCES = \
	agent/secret.c agent/secret.h \
	agent/strbuf.c agent/strbuf.h \
	agent/sigv4.c agent/sigv4.h \
	agent/random.c agent/random.h \
	agent/watchdog.c agent/watchdog.h \
	agent/http.c agent/http.h \
	agent/xml.c agent/xml.h \
	agent/retry.c agent/retry.h \
	agent/aws.c agent/aws.h \
	agent/imds.c agent/imds.h \
	agent/credentials.c agent/credentials.h \
	agent/cpu.c agent/cpu.h \
	agent/memory.c agent/memory.h \
	agent/disk.c agent/disk.h \
	agent/metrics.c agent/metrics.h \
	agent/config.c agent/config.h \
	agent/agent.c agent/agent.h \
	agent/identity.c agent/identity.h \
	agent/watch.c agent/watch.h \
	agent/autoscaling.c agent/autoscaling.h \
	agent/elbv2.c agent/elbv2.h \
	agent/guard.c agent/guard.h \
	agent/protection.c agent/protection.h \
	agent/cloudwatch.c agent/cloudwatch.h \
	agent/health-client.c agent/health-client.h \
	agent/drain.c agent/drain.h \
	agent/state-file.c agent/state-file.h \
	agent/lifecycle-state.c agent/lifecycle-state.h \
	agent/lifecycle.c agent/lifecycle.h agent/lifecycle-internal.h \
	agent/lifecycle-gate.c \
	agent/lifecycle-drain.c \
	agent/lifecycle-status.c \
	agent/driver.c \
	agent/status.c agent/status.h \
	agent/status-metrics.c \
	agent/counters.c agent/counters.h \
	agent/commands.h \
	agent/cmd-run.c \
	agent/cmd-metadata.c \
	agent/cmd-status.c \
	agent/cmd-drain.c \
	agent/cmd-doctor.c \
	agent/cmd-standby.c \
	agent/cmd-protect.c
agent_libasgagent_a_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) $(CRYPTO_CFLAGS) $(EXPAT_CFLAGS) \
	$(JANSSON_CFLAGS) $(SYSTEMD_CFLAGS)

bin_PROGRAMS += agent/asg-agent
agent_asg_agent_SOURCES = agent/main.c
agent_asg_agent_CFLAGS = $(agent_libasgagent_a_CFLAGS)
agent_asg_agent_LDADD = $(AGENT_LIBS)

AGENT_LIBS = agent/libasgagent.a $(MHD_LIBS) $(CURL_LIBS) $(CRYPTO_LIBS) $(EXPAT_LIBS) $(COMMON_LIBS)
