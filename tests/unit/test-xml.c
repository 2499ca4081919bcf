/* xml.c: Query success and error bodies, namespaces, lists, bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "xml.h"

static void test_error_response(void **state)
{
	static const char body[] =
	        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\n"
	        "  <Error>\n    <Type>Sender</Type>\n    <Code>Throttling</Code>\n"
	        "    <Message>Rate exceeded &amp; more</Message>\n  </Error>\n"
	        "  <RequestId>abc-123</RequestId>\n</ErrorResponse>\n";
	struct xml_node *root;

	assert_int_equal(xml_parse(body, strlen(body), &root), 0);
	assert_string_equal(root->name, "ErrorResponse");
	assert_string_equal(xml_find_text(root, "Error/Code"), "Throttling");
	assert_string_equal(xml_find_text(root, "Error/Message"), "Rate exceeded & more");
	assert_string_equal(xml_find_text(root, "RequestId"), "abc-123");
	assert_null(xml_find_text(root, "Error/Nope"));
	xml_free(root);
}

static void test_member_list(void **state)
{
	static const char body[] = "<DescribeAutoScalingInstancesResponse "
	                           "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
	                           "<DescribeAutoScalingInstancesResult><AutoScalingInstances>"
	                           "<member><InstanceId>i-1</InstanceId><AutoScalingGroupName>web</"
	                           "AutoScalingGroupName></member>"
	                           "<member><InstanceId>i-2</InstanceId><AutoScalingGroupName>api</"
	                           "AutoScalingGroupName></member>"
	                           "</AutoScalingInstances></DescribeAutoScalingInstancesResult>"
	                           "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
	                           "</DescribeAutoScalingInstancesResponse>";
	struct xml_node *root;
	const struct xml_node *m;
	int n = 0;

	assert_int_equal(xml_parse(body, strlen(body), &root), 0);
	m = xml_find(root, "DescribeAutoScalingInstancesResult/AutoScalingInstances/member");
	assert_non_null(m);
	assert_string_equal(xml_find_text(m, "AutoScalingGroupName"), "web");
	for (; m; m = xml_next_named(m))
		n++;
	assert_int_equal(n, 2);
	assert_string_equal(xml_find_text(root, "ResponseMetadata/RequestId"), "r");
	xml_free(root);
}

static void test_malformed(void **state)
{
	static const char *bad[] = {"", "<a>", "<a></b>", "not xml", "<a/><b/>"};
	struct xml_node *root;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(xml_parse(bad[i], strlen(bad[i]), &root), -EBADMSG);
}

static void test_depth_limit(void **state)
{
	char body[4096] = "";
	struct xml_node *root;

	for (int i = 0; i < 40; i++)
		strcat(body, "<a>");
	for (int i = 0; i < 40; i++)
		strcat(body, "</a>");
	assert_int_equal(xml_parse(body, strlen(body), &root), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_error_response),
	        cmocka_unit_test(test_member_list),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_depth_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
