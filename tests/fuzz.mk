# Fuzzing (issue 9 section 2): one libFuzzer harness per parser of
# untrusted or semi-trusted input, tests/fuzz/fuzz-<name>.c, with its seed
# corpus (and every crash ever found) in tests/fuzz/corpus/<name>/.
#
# Every build links each harness with tests/fuzz/replay.c into
# tests/fuzz/replay-<name>, a test that runs the committed corpus once
# (so gcc and the ASan build replay every seed and past crash).
#
# A clang build links them with libFuzzer as tests/fuzz/fuzz-<name>:
#   mkdir build-fuzz && cd build-fuzz && ../configure CC=clang \
#     CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined" \
#     LDFLAGS="-fsanitize=address,undefined"
#   make fuzz FUZZ_SECONDS=600      # each harness, corpus first, then fuzzing
# `make fuzz` runs them as tests (one result each, -j runs several at
# once); new inputs go to tests/fuzz/work-<name>/ in the build directory,
# crashes too (crash-<sha1>): copy a crash into the corpus when fixing it.
FUZZ_SECONDS = 60
FUZZ_REPLAY = \
	tests/fuzz/replay-path \
	tests/fuzz/replay-range \
	tests/fuzz/replay-conditional \
	tests/fuzz/replay-accept-encoding \
	tests/fuzz/replay-http \
	tests/fuzz/replay-control \
	tests/fuzz/replay-health-config \
	tests/fuzz/replay-checks-config \
	tests/fuzz/replay-conf \
	tests/fuzz/replay-durations \
	tests/fuzz/replay-agent-config \
	tests/fuzz/replay-credentials \
	tests/fuzz/replay-identity \
	tests/fuzz/replay-imds-notices \
	tests/fuzz/replay-xml \
	tests/fuzz/replay-aws-error \
	tests/fuzz/replay-health-status \
	tests/fuzz/replay-sigv4 \
	tests/fuzz/replay-state-file \
	tests/fuzz/replay-beneath \
	tests/fuzz/replay-forwarded
FUZZ_HARNESSES = \
	tests/fuzz/fuzz-path \
	tests/fuzz/fuzz-range \
	tests/fuzz/fuzz-conditional \
	tests/fuzz/fuzz-accept-encoding \
	tests/fuzz/fuzz-http \
	tests/fuzz/fuzz-control \
	tests/fuzz/fuzz-health-config \
	tests/fuzz/fuzz-checks-config \
	tests/fuzz/fuzz-conf \
	tests/fuzz/fuzz-durations \
	tests/fuzz/fuzz-agent-config \
	tests/fuzz/fuzz-credentials \
	tests/fuzz/fuzz-identity \
	tests/fuzz/fuzz-imds-notices \
	tests/fuzz/fuzz-xml \
	tests/fuzz/fuzz-aws-error \
	tests/fuzz/fuzz-health-status \
	tests/fuzz/fuzz-sigv4 \
	tests/fuzz/fuzz-state-file \
	tests/fuzz/fuzz-beneath \
	tests/fuzz/fuzz-forwarded
check_PROGRAMS += $(FUZZ_REPLAY)
TESTS += $(FUZZ_REPLAY)
EXTRA_PROGRAMS = $(FUZZ_HARNESSES)
CLEANFILES += $(FUZZ_HARNESSES)
EXTRA_DIST += tests/fuzz

FUZZ_HEALTH_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/health -I$(top_srcdir)/tests/fuzz \
	$(MHD_CFLAGS) $(JANSSON_CFLAGS)
FUZZ_COMMON_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/tests/fuzz $(JANSSON_CFLAGS)
FUZZ_AGENT_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/agent -I$(top_srcdir)/tests/fuzz \
	$(CURL_CFLAGS) $(JANSSON_CFLAGS)
FUZZ_LIBFUZZER = -fsanitize=fuzzer

# `make fuzz` runs each harness as a test named tests/fuzz/fuzz-<name>.fuzz
# (a stamp file: automake needs an extension for tests listed at make time).
TEST_EXTENSIONS += .fuzz
FUZZ_LOG_COMPILER = $(SHELL) $(abs_top_srcdir)/tests/fuzz/run-fuzzer
FUZZ_RUNS = $(FUZZ_HARNESSES:=.fuzz)
CLEANFILES += $(FUZZ_RUNS)
fuzz: all
	@case "$(CC)" in *clang*) ;; *) echo "make fuzz needs a clang build: see tests/fuzz.mk" >&2; exit 1 ;; esac
	@for p in $(FUZZ_HARNESSES); do echo "run by tests/fuzz/run-fuzzer" > $$p.fuzz; done
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(FUZZ_RUNS)' check_PROGRAMS='$(FUZZ_HARNESSES)' \
		FUZZ_SECONDS='$(FUZZ_SECONDS)'
.PHONY: fuzz
AM_TESTS_ENVIRONMENT += FUZZ_SECONDS='$(FUZZ_SECONDS)'; export FUZZ_SECONDS;

tests_fuzz_replay_path_SOURCES = tests/fuzz/fuzz-path.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_path_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_path_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_path_SOURCES = tests/fuzz/fuzz-path.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_path_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_path_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_path_LDADD = $(HEALTH_LIBS)
tests_fuzz_replay_range_SOURCES = tests/fuzz/fuzz-range.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_range_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_range_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_range_SOURCES = tests/fuzz/fuzz-range.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_range_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_range_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_range_LDADD = $(HEALTH_LIBS)
tests_fuzz_replay_conditional_SOURCES = tests/fuzz/fuzz-conditional.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_conditional_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_conditional_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_conditional_SOURCES = tests/fuzz/fuzz-conditional.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_conditional_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_conditional_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_conditional_LDADD = $(HEALTH_LIBS)
tests_fuzz_replay_accept_encoding_SOURCES = tests/fuzz/fuzz-accept-encoding.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_accept_encoding_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_accept_encoding_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_accept_encoding_SOURCES = tests/fuzz/fuzz-accept-encoding.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_accept_encoding_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_accept_encoding_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_accept_encoding_LDADD = $(HEALTH_LIBS)
tests_fuzz_replay_http_SOURCES = tests/fuzz/fuzz-http.c tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/server-harness.h
tests_fuzz_replay_http_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_http_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_http_SOURCES = tests/fuzz/fuzz-http.c tests/fuzz/fuzz.h tests/fuzz/server-harness.h
tests_fuzz_fuzz_http_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_http_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_http_LDADD = $(HEALTH_LIBS)
tests_fuzz_replay_control_SOURCES = tests/fuzz/fuzz-control.c tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/server-harness.h
tests_fuzz_replay_control_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_control_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz-control.c tests/fuzz/fuzz.h tests/fuzz/server-harness.h
tests_fuzz_fuzz_control_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_control_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_control_LDADD = $(HEALTH_LIBS)
tests_fuzz_replay_health_config_SOURCES = tests/fuzz/fuzz-health-config.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_health_config_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_health_config_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_health_config_SOURCES = tests/fuzz/fuzz-health-config.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_health_config_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_health_config_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_health_config_LDADD = $(HEALTH_LIBS)
tests_fuzz_replay_checks_config_SOURCES = tests/fuzz/fuzz-checks-config.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_checks_config_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_checks_config_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_checks_config_SOURCES = tests/fuzz/fuzz-checks-config.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_checks_config_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_checks_config_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_checks_config_LDADD = $(HEALTH_LIBS)
tests_fuzz_replay_conf_SOURCES = tests/fuzz/fuzz-conf.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_conf_CFLAGS = $(FUZZ_COMMON_CFLAGS)
tests_fuzz_replay_conf_LDADD = $(COMMON_LIBS)
tests_fuzz_fuzz_conf_SOURCES = tests/fuzz/fuzz-conf.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_conf_CFLAGS = $(FUZZ_COMMON_CFLAGS)
tests_fuzz_fuzz_conf_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_conf_LDADD = $(COMMON_LIBS)
tests_fuzz_replay_durations_SOURCES = tests/fuzz/fuzz-durations.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_durations_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_durations_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_durations_SOURCES = tests/fuzz/fuzz-durations.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_durations_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_durations_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_durations_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_agent_config_SOURCES = tests/fuzz/fuzz-agent-config.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_agent_config_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_agent_config_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_agent_config_SOURCES = tests/fuzz/fuzz-agent-config.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_agent_config_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_agent_config_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_agent_config_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_credentials_SOURCES = tests/fuzz/fuzz-credentials.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_credentials_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_credentials_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_credentials_SOURCES = tests/fuzz/fuzz-credentials.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_credentials_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_credentials_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_credentials_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_identity_SOURCES = tests/fuzz/fuzz-identity.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_identity_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_identity_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_identity_SOURCES = tests/fuzz/fuzz-identity.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_identity_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_identity_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_identity_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_imds_notices_SOURCES = tests/fuzz/fuzz-imds-notices.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_imds_notices_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_imds_notices_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_imds_notices_SOURCES = tests/fuzz/fuzz-imds-notices.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_imds_notices_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_imds_notices_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_imds_notices_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_xml_SOURCES = tests/fuzz/fuzz-xml.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_xml_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_xml_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_xml_SOURCES = tests/fuzz/fuzz-xml.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_xml_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_xml_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_xml_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_aws_error_SOURCES = tests/fuzz/fuzz-aws-error.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_aws_error_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_aws_error_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_aws_error_SOURCES = tests/fuzz/fuzz-aws-error.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_aws_error_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_aws_error_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_aws_error_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_health_status_SOURCES = tests/fuzz/fuzz-health-status.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_health_status_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_health_status_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_health_status_SOURCES = tests/fuzz/fuzz-health-status.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_health_status_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_health_status_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_health_status_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_sigv4_SOURCES = tests/fuzz/fuzz-sigv4.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_sigv4_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_sigv4_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_sigv4_SOURCES = tests/fuzz/fuzz-sigv4.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_sigv4_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_sigv4_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_sigv4_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_state_file_SOURCES = tests/fuzz/fuzz-state-file.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_state_file_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_replay_state_file_LDADD = $(AGENT_LIBS)
tests_fuzz_fuzz_state_file_SOURCES = tests/fuzz/fuzz-state-file.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_state_file_CFLAGS = $(FUZZ_AGENT_CFLAGS)
tests_fuzz_fuzz_state_file_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_state_file_LDADD = $(AGENT_LIBS)
tests_fuzz_replay_beneath_SOURCES = tests/fuzz/fuzz-beneath.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_beneath_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_beneath_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_beneath_SOURCES = tests/fuzz/fuzz-beneath.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_beneath_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_beneath_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_beneath_LDADD = $(HEALTH_LIBS)
tests_fuzz_replay_forwarded_SOURCES = tests/fuzz/fuzz-forwarded.c tests/fuzz/replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_forwarded_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_replay_forwarded_LDADD = $(HEALTH_LIBS)
tests_fuzz_fuzz_forwarded_SOURCES = tests/fuzz/fuzz-forwarded.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_forwarded_CFLAGS = $(FUZZ_HEALTH_CFLAGS)
tests_fuzz_fuzz_forwarded_LDFLAGS = $(FUZZ_LIBFUZZER)
tests_fuzz_fuzz_forwarded_LDADD = $(HEALTH_LIBS)
