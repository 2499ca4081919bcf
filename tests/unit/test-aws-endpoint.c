/* aws.c endpoint resolution (botocore's order) and credentials.c's
 * parsing of the IMDS credentials document. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "aws.h"
#include "credentials.h"

static void clear_env(void)
{
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH");
	unsetenv("AWS_ENDPOINT_URL_AUTO_SCALING");
	unsetenv("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
}

static void expect_endpoint(enum aws_service svc, const char *region,
                            const struct aws_endpoint_config *cfg, const char *want)
{
	char *got = NULL;

	assert_int_equal(aws_resolve_endpoint(svc, region, cfg, &got), 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_regional_defaults(void **state)
{
	clear_env();
	expect_endpoint(AWS_CLOUDWATCH, "eu-west-1", NULL,
	                "https://monitoring.eu-west-1.amazonaws.com");
	expect_endpoint(AWS_AUTO_SCALING, "us-east-2", NULL,
	                "https://autoscaling.us-east-2.amazonaws.com");
	expect_endpoint(AWS_ELBV2, "ap-south-1", NULL,
	                "https://elasticloadbalancing.ap-south-1.amazonaws.com");
	expect_endpoint(AWS_CLOUDWATCH, "cn-north-1", NULL,
	                "https://monitoring.cn-north-1.amazonaws.com.cn");
}

static void test_overrides(void **state)
{
	struct aws_endpoint_config cfg = {"http://cfg-global", {"http://cfg-cw", NULL, NULL}};

	clear_env();
	expect_endpoint(AWS_CLOUDWATCH, "eu-west-1", &cfg, "http://cfg-cw");
	expect_endpoint(AWS_AUTO_SCALING, "eu-west-1", &cfg, "http://cfg-global");
	setenv("AWS_ENDPOINT_URL", "http://env-global", 1);
	expect_endpoint(AWS_CLOUDWATCH, "eu-west-1", &cfg, "http://env-global");
	setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://env-cw", 1);
	expect_endpoint(AWS_CLOUDWATCH, "eu-west-1", &cfg, "http://env-cw");
	expect_endpoint(AWS_ELBV2, "eu-west-1", &cfg, "http://env-global");
	setenv("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "http://env-elb", 1);
	expect_endpoint(AWS_ELBV2, "eu-west-1", &cfg, "http://env-elb");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	expect_endpoint(AWS_CLOUDWATCH, "eu-west-1", &cfg,
	                "https://monitoring.eu-west-1.amazonaws.com");
	clear_env();
}

static void test_imds_credentials(void **state)
{
	static const char ok[] = "{\"Code\":\"Success\",\"LastUpdated\":\"2024-01-01T00:00:00Z\","
	                         "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIA1\","
	                         "\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok\","
	                         "\"Expiration\":\"2024-01-01T06:00:00Z\",\"UnknownField\":[1,2]}";
	static const char failed[] = "{\"Code\":\"Failure\",\"Message\":\"no role\"}";
	static const char missing[] = "{\"Code\":\"Success\",\"AccessKeyId\":\"A\"}";
	struct credentials c;

	assert_int_equal(credentials_parse_imds(ok, strlen(ok), &c), 0);
	assert_string_equal(c.access_key_id, "ASIA1");
	assert_string_equal(c.secret_access_key, "s3cr3t");
	assert_string_equal(c.session_token, "tok");
	assert_int_equal(c.expiration, 1704088800);
	credentials_clear(&c);
	assert_int_equal(credentials_parse_imds(failed, strlen(failed), &c), -EKEYREJECTED);
	assert_int_equal(credentials_parse_imds(missing, strlen(missing), &c), -EBADMSG);
	assert_int_equal(credentials_parse_imds("[", 1, &c), -EBADMSG);
}

static void test_environment_credentials(void **state)
{
	struct credentials_provider p;
	struct sigv4_credentials out;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
	unsetenv("AWS_SESSION_TOKEN");
	credentials_provider_init(&p, NULL);
	assert_int_equal(credentials_get(&p, &out), 0);
	assert_string_equal(out.access_key_id, "AKIDENV");
	assert_null(out.session_token);
	credentials_provider_free(&p);
	unsetenv("AWS_ACCESS_KEY_ID");
	credentials_provider_init(&p, NULL);
	assert_int_equal(credentials_get(&p, &out), -ENOKEY);
	credentials_provider_free(&p);
	unsetenv("AWS_SECRET_ACCESS_KEY");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_regional_defaults),
	        cmocka_unit_test(test_overrides),
	        cmocka_unit_test(test_imds_credentials),
	        cmocka_unit_test(test_environment_credentials),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
