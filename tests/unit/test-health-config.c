/* Unit tests: asg-health's configuration, defaults and error messages
 * (file, line, column and key), and the common config helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "conf.h"
#include "config.h"

static void test_defaults(void **state)
{
	struct health_config cfg;
	char err[1024] = "";

	assert_int_equal(health_config_parse(&cfg, "h.json", "{}", err, sizeof(err)), 0);
	assert_string_equal(cfg.root, "/var/www/html");
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(cfg.listen[0], "0.0.0.0:80");
	assert_string_equal(cfg.listen[1], "[::]:80");
	assert_string_equal(cfg.health_path, "/health");
	assert_string_equal(cfg.control, "/run/asg-agent/health.sock");
	assert_false(cfg.serve_dotfiles);
	assert_true(cfg.precompressed);
	/* above the ALB's 60 s idle timeout, so the ALB closes first */
	assert_true(cfg.connection_timeout_ms > 60000);
	assert_int_equal(cfg.max_header_size, 8192);
	assert_int_equal(cfg.lb_unhealthy_threshold, 2);
	assert_string_equal(cfg.metrics_listen, ""); /* off */
	health_config_free(&cfg);
}

static void test_values(void **state)
{
	struct health_config cfg;
	char err[1024] = "";
	const char *text = "{\n"
	                   "  \"root\": \"/srv/site\",\n"
	                   "  \"listen\": [\"127.0.0.1:8080\"],\n"
	                   "  \"cache_control\": [\n"
	                   "    {\"prefix\": \"/assets/\", \"value\": \"public, max-age=31536000, "
	                   "immutable\"},\n"
	                   "    {\"extension\": \".html\", \"value\": \"no-cache\"}\n"
	                   "  ],\n"
	                   "  \"connection_timeout\": \"90s\",\n"
	                   "  \"cache_max_file_size\": \"64k\",\n"
	                   "  \"shutdown_timeout\": 12.5,\n"
	                   "  \"serve_dotfiles\": true,\n"
	                   "  \"metrics_listen\": \"127.0.0.1:9101\"\n"
	                   "}\n";

	assert_int_equal(health_config_parse(&cfg, "h.json", text, err, sizeof(err)), 0);
	assert_string_equal(cfg.root, "/srv/site");
	assert_int_equal(cfg.n_listen, 1);
	assert_int_equal(cfg.connection_timeout_ms, 90000);
	assert_int_equal(cfg.cache_max_file_size, 65536);
	assert_int_equal(cfg.shutdown_timeout_ms, 12500);
	assert_true(cfg.serve_dotfiles);
	assert_string_equal(cfg.metrics_listen, "127.0.0.1:9101");
	assert_string_equal(health_config_cache_control(&cfg, "/assets/app.js"),
	                    "public, max-age=31536000, immutable");
	assert_string_equal(health_config_cache_control(&cfg, "/about/index.html"), "no-cache");
	assert_string_equal(health_config_cache_control(&cfg, "/img/a.png"), "");
	health_config_free(&cfg);
}

static void expect_error(const char *text, const char *want)
{
	struct health_config cfg;
	char err[1024] = "";

	assert_int_equal(
	        health_config_parse(&cfg, "/etc/asg-agent/health.json", text, err, sizeof(err)),
	        -EINVAL);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void test_errors(void **state)
{
	expect_error("{\n  \"root\": \"/srv\",\n  \"lisen\": []\n}",
	             "/etc/asg-agent/health.json:3:3: lisen: unknown key");
	expect_error("{\"root\": 5}", "health.json:1:2: root: expected a string");
	expect_error("{\"root\": \"relative\"}", "root: must be an absolute path");
	expect_error("{\n\"threads\": 1000}", "health.json:2:1: threads: 1000 is out of range");
	expect_error("{\"connection_timeout\": \"soon\"}",
	             "connection_timeout: expected a duration");
	expect_error("{\"listen\": [\"127.0.0.1:80\", \"nope\"]}",
	             "health.json:1:29: listen[1]: expected \"ADDR:PORT\"");
	expect_error("{\"cache_control\": [{\"prefix\": \"/a/\"}]}",
	             "cache_control[0]: missing \"value\"");
	expect_error("{\"cache_control\": [{\"prefix\": \"/a/\", \"extension\": \"css\", "
	             "\"value\": \"x\"}]}",
	             "give exactly one");
	expect_error("{\"root\": \"/a\",}", "health.json:1:");
	expect_error("{\"root\": \"/a\", \"root\": \"/b\"}", "duplicate");
	expect_error("[]", "top level must be a JSON object");
	/* header values: a CR/LF would split the header (issue 9, item 9) */
	expect_error("{\n  \"cache_control\": \"max-age=60\\r\\nSet-Cookie: a=b\"\n}",
	             "health.json:2:3: cache_control: a header value must not contain line breaks");
	expect_error("{\"cache_control\": \"max-age=60\\n\"}", "cache_control: a header value");
	expect_error("{\"cache_control\": \"a\\u007fb\"}", "cache_control: a header value");
	expect_error("{\"cache_control\": [{\"extension\": \"css\", \"value\": \"a\\rb\"}]}",
	             "health.json:1:20: cache_control[0]: value: a header value must not contain");
	expect_error("{\"health_path\": \"health\"}", "health_path: must be a path");
	/* static.c appends the index to the request's path in a PATH_MAX
	 * buffer, reserving strlen(index): a longer index made that reserve
	 * wrap and strcat() overflow the stack (clang-tidy's strcat finding) */
	{
		char text[6000];
		snprintf(text, sizeof(text), "{\"index\": \"%0256d\"}", 0);
		expect_error(text, "index: longer than 255 bytes");
		snprintf(text, sizeof(text), "{\"index\": \"%05000d\"}", 0);
		expect_error(text, "index: longer than 255 bytes");
	}
	expect_error("{\"metrics_listen\": \"9101\"}", "health.json:1:2: metrics_listen: expected");
	expect_error("{\"metrics_listen\": 9101}", "metrics_listen: expected a string");
	expect_error("{\"max_header_size\": \"1k\", \"max_uri_length\": 10}",
	             "max_uri_length: 10 is out of range");
}

/* Found by tests/fuzz/fuzz-health-config: a key with a newline was
 * written raw into the one-line error. */
static void test_error_escapes_controls(void **state)
{
	struct health_config cfg;
	char err[1024] = "";

	assert_int_equal(
	        health_config_parse(&cfg, "h.json", "{\"lb_pror\\nwind\": 1}", err, sizeof(err)),
	        -EINVAL);
	assert_null(strchr(err, '\n'));
	if (!strstr(err, "lb_pror\\x0awind"))
		fail_msg("error \"%s\" does not show the newline as \\x0a", err);
	assert_int_equal(health_config_parse(&cfg, "h.json", "{\"root\": \"/a\", \"x\\u0007\": 1}",
	                                     err, sizeof(err)),
	                 -EINVAL);
	assert_null(strchr(err, '\a'));
}

static void test_locate(void **state)
{
	const char *text = "{\n  \"a\": {\"b\": [1, {\"c\": 2}]},\n  \"d\": \"x\\\"y\"\n}";
	int line, col;

	assert_int_equal(conf_locate(text, "a", &line, &col), 0);
	assert_int_equal(line, 2);
	assert_int_equal(col, 3);
	assert_int_equal(conf_locate(text, "a.b[1].c", &line, &col), 0);
	assert_int_equal(line, 2);
	assert_int_equal(col, 19);
	assert_int_equal(conf_locate(text, "d", &line, &col), 0);
	assert_int_equal(line, 3);
	assert_int_not_equal(conf_locate(text, "zz", &line, &col), 0);
}

static void test_units(void **state)
{
	long long v;

	assert_int_equal(conf_parse_duration_ms("500ms", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(conf_parse_duration_ms("2m", &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(conf_parse_duration_ms("1.5s", &v), 0);
	assert_int_equal(v, 1500);
	assert_int_not_equal(conf_parse_duration_ms("-1s", &v), 0);
	assert_int_not_equal(conf_parse_duration_ms("5 parsecs", &v), 0);
	assert_int_equal(conf_parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(conf_parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1LL << 30);
	assert_int_not_equal(conf_parse_size("12q", &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults), cmocka_unit_test(test_values),
	        cmocka_unit_test(test_errors),   cmocka_unit_test(test_error_escapes_controls),
	        cmocka_unit_test(test_locate),   cmocka_unit_test(test_units),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
