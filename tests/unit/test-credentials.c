/* credentials.c and imds.c without a network: the environment provider,
 * the IMDS settings from the environment, and the refresh schedule with a
 * fake clock and an IMDS that refuses connections (the static-stability
 * rules: keep old credentials through an outage, up to expiry plus the
 * SDKs' 12-20 minute extension). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>

#include "credentials.h"
#include "imds.h"

static time_t fake_now;
static time_t clock_now(void)
{
	return fake_now;
}

/* A loopback URL nothing listens on: connections are refused at once. */
static void closed_port_url(char *buf, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	snprintf(buf, len, "http://127.0.0.1:%d", ntohs(sa.sin_port));
}

static void clear_env(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	unsetenv("AWS_METADATA_SERVICE_TIMEOUT");
	unsetenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS");
}

static void test_imds_settings(void **state)
{
	struct imds_client c;

	clear_env();
	assert_int_equal(imds_client_init(&c, NULL, 0), 0);
	assert_string_equal(c.endpoint, "http://169.254.169.254");
	assert_int_equal(c.token_ttl_s, 21600);
	assert_int_equal(c.timeout_ms, 1000);
	assert_false(c.disabled);
	imds_client_free(&c);

	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6", 1);
	assert_int_equal(imds_client_init(&c, NULL, 60), 0);
	assert_string_equal(c.endpoint, "http://[fd00:ec2::254]");
	assert_int_equal(c.token_ttl_s, 60);
	imds_client_free(&c);

	/* The explicit endpoint wins over the mode and the config. */
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8111/", 1);
	setenv("AWS_METADATA_SERVICE_TIMEOUT", "2.5", 1);
	setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	assert_int_equal(imds_client_init(&c, "http://config", 0), 0);
	assert_string_equal(c.endpoint, "http://127.0.0.1:8111");
	assert_int_equal(c.timeout_ms, 2500);
	assert_int_equal(c.attempts, 1);
	assert_true(c.disabled);
	assert_int_equal(imds_ensure_token(&c), -EHOSTDOWN);
	imds_client_free(&c);
	clear_env();

	/* Values that are not numbers, or only start like one, or do not fit
	 * (atof gave inf for "1e400", and inf * 1000 converted to long is
	 * undefined behaviour): the defaults, as when unset. */
	static const char *const bad_timeouts[] = {"1e400", "2.5x", "x",   "-1",
	                                           "0",     "inf",  "nan", ""};
	static const char *const bad_attempts[] = {"2x", "11", "0", "-3", "99999999999999999999",
	                                           ""};
	for (size_t i = 0; i < sizeof(bad_timeouts) / sizeof(bad_timeouts[0]); i++) {
		setenv("AWS_METADATA_SERVICE_TIMEOUT", bad_timeouts[i], 1);
		setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS",
		       bad_attempts[i % (sizeof(bad_attempts) / sizeof(bad_attempts[0]))], 1);
		assert_int_equal(imds_client_init(&c, NULL, 0), 0);
		if (c.timeout_ms != IMDS_DEFAULT_TIMEOUT_MS || c.attempts != IMDS_DEFAULT_ATTEMPTS)
			fail_msg("timeout \"%s\": %ld ms, attempts \"%s\": %d", bad_timeouts[i],
			         (long)c.timeout_ms, getenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS"),
			         (int)c.attempts);
		imds_client_free(&c);
	}
	clear_env();
}

static void test_environment_first(void **state)
{
	struct credentials_provider p;
	struct sigv4_credentials out;

	clear_env();
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_SESSION_TOKEN", "token", 1);
	credentials_provider_init(&p, NULL);
	assert_int_equal(credentials_get(&p, &out), 0);
	assert_string_equal(out.access_key_id, "AKIDENV");
	assert_string_equal(out.session_token, "token");
	assert_int_equal(p.current.source, CREDENTIALS_ENVIRONMENT);
	credentials_provider_free(&p);
	clear_env();
}

/* Instance-profile credentials expiring at T, as if fetched at T - 6 h. */
static void install(struct credentials_provider *p, time_t expiration)
{
	p->current.access_key_id = strdup("ASIAOLD");
	p->current.secret_access_key = strdup("old-secret");
	p->current.session_token = strdup("old-token");
	p->current.expiration = expiration;
	p->current.source = CREDENTIALS_INSTANCE_PROFILE;
	p->usable_until = expiration;
	p->refresh_at = expiration - CREDENTIALS_ADVISORY_REFRESH_S;
}

static void test_outage_keeps_old_credentials(void **state)
{
	const time_t T = 2000000000;
	struct credentials_provider p;
	struct imds_client imds;
	struct sigv4_credentials out;
	char url[64];

	clear_env();
	closed_port_url(url, sizeof(url));
	setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1", 1);
	assert_int_equal(imds_client_init(&imds, url, 0), 0);
	credentials_provider_init(&p, &imds);
	p.now = clock_now;
	p.retry_interval_s = 60;
	install(&p, T);

	/* Before the advisory window: no IMDS call, the cached keys. */
	fake_now = T - 3600;
	assert_int_equal(credentials_get(&p, &out), 0);
	assert_string_equal(out.access_key_id, "ASIAOLD");
	assert_int_equal(p.retry_after, 0);

	/* Advisory window, IMDS refused: the old keys, a retry in 60 s. */
	fake_now = T - 14 * 60;
	assert_int_equal(credentials_get(&p, &out), 0);
	assert_string_equal(out.access_key_id, "ASIAOLD");
	assert_int_equal(p.retry_after, fake_now + 60);
	assert_non_null(strstr(p.last_error, "IMDS"));

	/* Past Expiration: still usable within the extension (12-20 min). */
	fake_now = T + 11 * 60;
	assert_int_equal(credentials_get(&p, &out), 0);
	assert_true(p.usable_until >= T + 12 * 60 && p.usable_until <= T + 20 * 60);

	/* Beyond it: refused, nothing stale is signed with. */
	fake_now = T + 21 * 60;
	assert_int_equal(credentials_get(&p, &out), -EKEYEXPIRED);

	/* ExpiredToken from AWS makes the next call try IMDS at once. */
	credentials_expire(&p);
	assert_int_equal(p.retry_after, 0);
	assert_int_equal(p.refresh_at, 0);

	credentials_provider_free(&p);
	imds_client_free(&imds);
	clear_env();
}

static void test_no_source(void **state)
{
	struct credentials_provider p;
	struct sigv4_credentials out;
	struct imds_client imds;

	clear_env();
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	assert_int_equal(imds_client_init(&imds, NULL, 0), 0);
	credentials_provider_init(&p, &imds);
	assert_int_equal(credentials_get(&p, &out), -ENOKEY);
	assert_non_null(strstr(p.last_error, "IMDS disabled"));
	credentials_provider_free(&p);
	imds_client_free(&imds);
	clear_env();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_imds_settings),
	        cmocka_unit_test(test_environment_first),
	        cmocka_unit_test(test_outage_keeps_old_credentials),
	        cmocka_unit_test(test_no_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
