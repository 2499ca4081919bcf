/* Issue 9 §1 item 13: a region becomes part of a host name that receives
 * signed requests and the session token, so every region (config,
 * environment, IMDS) is checked against the AWS region syntax first. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent.h"
#include "aws.h"
#include "config.h"

static void test_syntax(void **state)
{
	static const char *const good[] = {
	        "us-east-1",      "eu-west-3",       "ap-southeast-2", "cn-north-1",
	        "cn-northwest-1", "us-gov-west-1",   "us-iso-east-1",  "us-isob-east-1",
	        "eu-isoe-west-1", "us-isof-south-1", "il-central-1",   "mx-central-1",
	};
	static const char *const bad[] = {
	        "",
	        "us-east",
	        "east-1",
	        "us-east-1a",
	        "US-EAST-1",
	        "us_east-1",
	        "us-east-1.evil.example",
	        "evil.example/x",
	        "us-east-1#",
	        "us-east-1/",
	        "us-east-1\n",
	        "us-east-1 ",
	        "us-east-1@evil.example",
	        "u-east-1",
	        "us--east-1",
	        "us-east-1234",
	        "us-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!aws_region_valid(good[i]))
			fail_msg("refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (aws_region_valid(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(aws_region_valid(NULL));
}

static void test_endpoint_refused(void **state)
{
	char *url = (char *)1;

	(void)state;
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH");
	/* Before the fix: https://monitoring.evil.example/x.amazonaws.com */
	assert_int_equal(aws_resolve_endpoint(AWS_CLOUDWATCH, "evil.example/x", NULL, &url),
	                 -EINVAL);
	assert_null(url);
	assert_int_equal(aws_resolve_endpoint(AWS_CLOUDWATCH, "eu-west-1", NULL, &url), 0);
	assert_string_equal(url, "https://monitoring.eu-west-1.amazonaws.com");
	free(url);
}

static void test_config_refused(void **state)
{
	struct agent_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(
	        agent_config_parse(&cfg, "a.json", "{\"region\": \"eu-west-1\"}", err, sizeof(err)),
	        0);
	agent_config_free(&cfg);
	assert_int_equal(agent_config_parse(&cfg, "a.json", "{\n  \"region\": \"evil.example#\"\n}",
	                                    err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "a.json:2"));
	assert_non_null(strstr(err, "not an AWS region name"));
}

/* The environment's region, refused by the agent's own discovery: no
 * region at all (no AWS call), and an error that says which and why. */
static void test_discovery_refuses(void **state)
{
	struct agent_config cfg;
	struct agent a;
	char err[512];

	(void)state;
	assert_int_equal(agent_config_parse(&cfg, "a.json", "{}", err, sizeof(err)), 0);
	memset(&a, 0, sizeof(a));
	a.cfg = &cfg;
	a.imds.disabled = true;
	setenv("AWS_REGION", "eu-west-1.evil.example\x01", 1);
	assert_int_equal(identity_discover(&a), 0);
	assert_string_equal(a.ident.region, "");
	assert_null(a.ident.region_source);
	assert_non_null(strstr(a.last_error, "\"eu-west-1.evil.example\\x01\" (from AWS_REGION) "
	                                     "is not an AWS region name"));
	setenv("AWS_REGION", "eu-west-1", 1);
	assert_int_equal(identity_discover(&a), 0);
	assert_string_equal(a.ident.region, "eu-west-1");
	assert_string_equal(a.ident.region_source, "AWS_REGION");
	unsetenv("AWS_REGION");
	agent_config_free(&cfg);
}

/* The identity document's region is only a fallback, and only text: it
 * goes through the same check in identity_discover(). */
static void test_identity_document(void **state)
{
	static const char doc[] = "{\"region\": \"evil.example/x\", \"accountId\": \"1\","
	                          " \"instanceType\": \"t3.micro\"}";
	struct imds_identity id;

	(void)state;
	memset(&id, 0, sizeof(id));
	strcpy(id.instance_type, "m5.large");
	assert_int_equal(imds_parse_identity_document(doc, strlen(doc), &id), 0);
	assert_string_equal(id.region, "evil.example/x");
	assert_false(aws_region_valid(id.region));
	assert_string_equal(id.account_id, "1");
	assert_string_equal(id.instance_type, "m5.large"); /* kept: only empty fields */
	assert_int_equal(imds_parse_identity_document("[1]", 3, &id), -EPROTO);
	assert_int_equal(imds_parse_identity_document("{", 1, &id), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_syntax),
	        cmocka_unit_test(test_endpoint_refused),
	        cmocka_unit_test(test_config_refused),
	        cmocka_unit_test(test_discovery_refuses),
	        cmocka_unit_test(test_identity_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
