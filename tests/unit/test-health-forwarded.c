/* Unit tests: X-Forwarded-For and trusted proxies (forwarded.c), the
 * access log's escaping and line (access-log.c), and the config keys
 * access_log, trusted_proxies and log_probes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "access-log.h"
#include "config.h"
#include "forwarded.h"

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_addr_parse(s, strlen(s), &a), 0);
	return a;
}

static const char *text(const struct ip_addr *a)
{
	static char buf[INET6_ADDRSTRLEN];

	ip_addr_format(a, buf, sizeof(buf));
	return buf;
}

static void test_addresses(void **state)
{
	static const char *const bad[] = {"",        "1.2.3",          "1.2.3.4:",  "1.2.3.4:x",
	                                  "[::1",    "[::1]x",         "[1.2.3.4]", "fe80::1%eth0",
	                                  "unknown", "1.2.3.4:123456", "::1]",      "1.2.3.4 5"};
	struct ip_addr a;

	assert_string_equal(text(&(struct ip_addr){0}), "-");
	a = addr("203.0.113.9");
	assert_string_equal(text(&a), "203.0.113.9");
	a = addr("203.0.113.9:443");
	assert_string_equal(text(&a), "203.0.113.9");
	a = addr("2001:DB8:0::1");
	assert_string_equal(text(&a), "2001:db8::1");
	a = addr("[2001:db8::1]:8443");
	assert_string_equal(text(&a), "2001:db8::1");
	a = addr("[2001:db8::2]");
	assert_string_equal(text(&a), "2001:db8::2");
	/* what a dual-stack socket reports for an IPv4 peer */
	a = addr("::ffff:10.0.0.1");
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(text(&a), "10.0.0.1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ip_addr_parse(bad[i], strlen(bad[i]), &a), -EINVAL);
}

static void test_networks(void **state)
{
	static const char *const bad[] = {"10.0.0.0/33", "10.1.2.3/8",         "::/129",
	                                  "10.0.0.0/",   "10.0.0.0/-1",        "[::1]/128",
	                                  "1.2.3.4:80",  "::ffff:1.2.3.0/120", "x/8",
	                                  "10.0.0.0/8/8"};
	struct cidr c;
	struct ip_addr a;
	const char *why = NULL;

	assert_int_equal(cidr_parse("130.176.0.0/16", &c, &why), 0);
	a = addr("130.176.255.1");
	assert_true(cidr_contains(&c, &a));
	a = addr("130.177.0.1");
	assert_false(cidr_contains(&c, &a));
	a = addr("::ffff:130.176.0.1"); /* mapped: the same IPv4 address */
	assert_true(cidr_contains(&c, &a));
	assert_int_equal(cidr_parse("2600:9000::/28", &c, &why), 0);
	a = addr("2600:900f:ffff::1");
	assert_true(cidr_contains(&c, &a));
	a = addr("2600:9010::1");
	assert_false(cidr_contains(&c, &a));
	a = addr("130.176.0.1");
	assert_false(cidr_contains(&c, &a));
	assert_int_equal(cidr_parse("0.0.0.0/0", &c, &why), 0);
	assert_true(cidr_contains(&c, &a));
	assert_int_equal(cidr_parse("10.0.0.7", &c, &why), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(cidr_parse("10.0.0.0/31", &c, &why), 0);
	a = addr("10.0.0.1");
	assert_true(cidr_contains(&c, &a));
	a = addr("10.0.0.2");
	assert_false(cidr_contains(&c, &a));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(cidr_parse(bad[i], &c, &why), -EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(cidr_parse("10.1.2.3/8", &c, &why), -EINVAL);
	assert_non_null(strstr(why, "host bits"));
}

static const char *client_of(const char *xff, const char *peer, const char *const *trusted)
{
	struct cidr nets[8];
	struct ip_addr p = addr(peer), client;
	const char *why;
	size_t n = 0;

	for (; trusted && trusted[n]; n++)
		assert_int_equal(cidr_parse(trusted[n], &nets[n], &why), 0);
	forwarded_client(xff, &p, nets, n, &client);
	return text(&client);
}

static void test_forwarded_client(void **state)
{
	static const char *const cloudfront[] = {"130.176.0.0/16", "2600:9000::/28", NULL};

	/* without the header: the peer */
	assert_string_equal(client_of(NULL, "10.0.1.5", NULL), "10.0.1.5");
	assert_string_equal(client_of("", "10.0.1.5", NULL), "10.0.1.5");
	assert_string_equal(client_of(" , ", "10.0.1.5", NULL), "10.0.1.5");
	/* the ALB (the peer) appended the client */
	assert_string_equal(client_of("203.0.113.9", "10.0.1.5", NULL), "203.0.113.9");
	/* the client's own entries are left of it, never believed */
	assert_string_equal(client_of("6.6.6.6, 203.0.113.9", "10.0.1.5", NULL), "203.0.113.9");
	assert_string_equal(client_of("130.176.0.1,203.0.113.9", "10.0.1.5", cloudfront),
	                    "203.0.113.9");
	/* CloudFront in front: skip its edge */
	assert_string_equal(client_of("6.6.6.6, 203.0.113.9, 130.176.3.4", "10.0.1.5", cloudfront),
	                    "203.0.113.9");
	assert_string_equal(client_of("6.6.6.6, 203.0.113.9, 130.176.3.4", "10.0.1.5", NULL),
	                    "130.176.3.4");
	assert_string_equal(
	        client_of("6.6.6.6,\t2001:db8::7 ,2600:9000:1::5", "10.0.1.5", cloudfront),
	        "2001:db8::7");
	/* every hop trusted: the leftmost */
	assert_string_equal(client_of("130.176.0.9, 130.176.3.4", "10.0.1.5", cloudfront),
	                    "130.176.0.9");
	/* not an address: the last trusted hop stands */
	assert_string_equal(client_of("6.6.6.6, unknown, 130.176.3.4", "10.0.1.5", cloudfront),
	                    "130.176.3.4");
	assert_string_equal(client_of("203.0.113.9, unknown", "10.0.1.5", cloudfront), "10.0.1.5");
	/* IPv6 peer, mapped IPv4 peer */
	assert_string_equal(client_of("2001:db8::9", "2001:db8::1", NULL), "2001:db8::9");
	assert_string_equal(client_of(NULL, "::ffff:10.0.1.5", NULL), "10.0.1.5");
}

static void test_escape(void **state)
{
	char out[64];

	assert_int_equal(access_escape("a\"b\\c", 5, out, sizeof(out)), 11);
	assert_string_equal(out, "a\\x22b\\x5cc");
	assert_int_equal(access_escape("\r\n\x01\x7f\xff", 5, out, sizeof(out)), 20);
	assert_string_equal(out, "\\x0d\\x0a\\x01\\x7f\\xff");
	/* an escape that does not fit is left out whole */
	assert_int_equal(access_escape("ab\n", 3, out, 6), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(access_escape("abc", 3, out, 1), 0);
	assert_string_equal(out, "");
}

static void test_line(void **state)
{
	struct access_entry e;
	struct ip_addr client = addr("2001:db8::7");
	char line[ACCESS_LINE_MAX], *big = malloc(ACCESS_URL_MAX);
	const char *expect_tail =
	        "\"GET /a?b=\\x22 HTTP/1.1\" 200 2048 \"-\" \"curl\\x0a1.1.1.1\" 1.234 "
	        "\"Root=1-x\"\n";
	size_t n;

	setenv("TZ", "UTC", 1);
	memset(&e, 0, sizeof(e));
	e.started.tv_sec = 1764547200; /* 2025-12-01 00:00:00 UTC */
	e.duration_us = 1234567;
	e.status = 200;
	e.body_bytes = 2048;
	e.field[AF_METHOD] = "GET";
	e.field[AF_URL] = "/a?b=\"";
	e.field[AF_VERSION] = "HTTP/1.1";
	e.field[AF_USER_AGENT] = "curl\n1.1.1.1";
	e.field[AF_TRACE_ID] = "Root=1-x";
	for (int f = 0; f < AF_COUNT; f++)
		e.len[f] = e.field[f] ? strlen(e.field[f]) : 0;
	n = access_format_line(&e, &client, line, sizeof(line));
	assert_int_equal(n, strlen(line));
	assert_string_equal(line, "2001:db8::7 - - [01/Dec/2025:00:00:00 +0000] "
	                          "\"GET /a?b=\\x22 HTTP/1.1\" 200 2048 \"-\" "
	                          "\"curl\\x0a1.1.1.1\" 1.234 \"Root=1-x\"\n");
	assert_non_null(strstr(line, expect_tail));
	/* no response, unknown size */
	e.status = 0;
	e.body_bytes = UINT64_MAX;
	access_format_line(&e, &client, line, sizeof(line));
	assert_non_null(strstr(line, "\" 499 - \""));
	/* every field at its largest, all escaped: still one bounded line */
	memset(big, '\x01', ACCESS_URL_MAX);
	for (int f = 0; f < AF_COUNT; f++) {
		e.field[f] = big;
		e.len[f] = f == AF_URL ? ACCESS_URL_MAX
		                       : (f == AF_METHOD ? ACCESS_METHOD_MAX
		                                         : (f == AF_VERSION ? ACCESS_VERSION_MAX
		                                                            : ACCESS_HEADER_MAX));
	}
	e.len[AF_TRACE_ID] = ACCESS_TRACE_MAX;
	n = access_format_line(&e, &client, line, sizeof(line));
	assert_true(n < ACCESS_LINE_MAX);
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', n - 1));
	assert_non_null(strstr(line, "\\x01\\x01\" 1.234"));
	free(big);
}

static void test_config(void **state)
{
	struct health_config cfg;
	char err[1024] = "";

	assert_int_equal(health_config_parse(&cfg, "h.json", "{}", err, sizeof(err)), 0);
	assert_string_equal(cfg.access_log, "");
	assert_int_equal(cfg.n_trusted_proxies, 0);
	assert_false(cfg.log_probes);
	health_config_free(&cfg);
	assert_int_equal(health_config_parse(&cfg, "h.json",
	                                     "{\"access_log\": \"journal\", \"log_probes\": true,\n"
	                                     " \"trusted_proxies\": [\"130.176.0.0/16\", "
	                                     "\"2600:9000::/28\"]}",
	                                     err, sizeof(err)),
	                 0);
	assert_string_equal(cfg.access_log, "journal");
	assert_true(cfg.log_probes);
	assert_int_equal(cfg.n_trusted_proxies, 2);
	assert_int_equal(cfg.trusted_proxies[1].prefix, 28);
	health_config_free(&cfg);
	assert_int_equal(health_config_parse(&cfg, "h.json", "{\"access_log\": \"x.log\"}", err,
	                                     sizeof(err)),
	                 -EINVAL);
	assert_string_equal(err, "h.json:1:2: access_log: must be \"\" (none), \"journal\" or an "
	                         "absolute file path");
	assert_int_equal(health_config_parse(&cfg, "h.json",
	                                     "{\n  \"trusted_proxies\": [\"10.0.0.0/8\",\n"
	                                     "    \"10.0.0.0/40\"]}",
	                                     err, sizeof(err)),
	                 -EINVAL);
	assert_string_equal(err, "h.json:3:5: trusted_proxies[1]: 10.0.0.0/40: the prefix length "
	                         "must be 0 to 32");
	assert_int_equal(
	        health_config_parse(&cfg, "h.json", "{\"trusted_proxies\": [8]}", err, sizeof(err)),
	        -EINVAL);
	assert_non_null(strstr(err, "trusted_proxies[0]: expected a string"));
	assert_int_equal(
	        health_config_parse(&cfg, "h.json", "{\"log_probes\": \"yes\"}", err, sizeof(err)),
	        -EINVAL);
	assert_non_null(strstr(err, "log_probes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_addresses),
	        cmocka_unit_test(test_networks),
	        cmocka_unit_test(test_forwarded_client),
	        cmocka_unit_test(test_escape),
	        cmocka_unit_test(test_line),
	        cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
