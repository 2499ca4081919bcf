/* Parsing of the "checks" config array: good configs, defaults, the
 * critical default by host, and every error class with its exact
 * file:line:col: key: message. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf.h"
#include "check-internal.h"

struct parsed {
	struct conf_doc doc;
	struct check_spec *specs;
	size_t n;
	int r;
};

static void parse(struct parsed *p, const char *text)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(conf_doc_parse(&p->doc, "t.json", text), 0);
	p->r = checks_parse(&p->doc, json_object_get(p->doc.root, "checks"), "checks", &p->specs,
	                    &p->n);
}

static void parsed_free(struct parsed *p)
{
	check_specs_free(p->specs, p->n);
	conf_doc_free(&p->doc);
}

/* Parses text, which must fail, and compares the recorded error. */
static void expect_error(const char *text, const char *error)
{
	struct parsed p;

	parse(&p, text);
	assert_int_equal(p.r, -EINVAL);
	assert_null(p.specs);
	assert_string_equal(p.doc.error, error);
	parsed_free(&p);
}

/* One check as the only element, on line 2, for short error cases. */
static void expect_error1(const char *check, const char *error)
{
	char text[2048];

	snprintf(text, sizeof(text), "{\"checks\": [\n%s\n]}", check);
	expect_error(text, error);
}

static void test_all_types(void **state)
{
	struct parsed p;

	parse(&p,
	      "{\"checks\": [\n"
	      " {\"name\":\"disk-root\",\"type\":\"disk\",\"path\":\"/\",\"min_free\":\"1G\","
	      "\"interval\":\"10s\",\"timeout\":\"3s\",\"rise\":3,\"fall\":4,\"critical\":true},\n"
	      " {\"name\":\"memory\",\"type\":\"memory\",\"min_available_percent\":5},\n"
	      " {\"name\":\"maintenance\",\"type\":\"file\",\"path\":\"/etc/asg-agent/"
	      "maintenance\","
	      "\"must_exist\":false},\n"
	      " {\"name\":\"app\",\"type\":\"tcp\",\"host\":\"127.0.0.1\",\"port\":5432},\n"
	      " {\"name\":\"backend\",\"type\":\"http\",\"url\":\"http://127.0.0.1:9000/ping\","
	      "\"expect_status\":204},\n"
	      " {\"name\":\"custom\",\"type\":\"exec\",\"command\":[\"/usr/local/bin/"
	      "ready\",\"--quick\"],"
	      "\"interval\":\"500ms\",\"timeout\":0.25}\n"
	      "]}");
	assert_int_equal(p.r, 0);
	assert_string_equal(p.doc.error, "");
	assert_int_equal(p.n, 6);

	assert_string_equal(p.specs[0].name, "disk-root");
	assert_int_equal(p.specs[0].kind, CHECK_DISK);
	assert_string_equal(p.specs[0].path, "/");
	assert_int_equal(p.specs[0].min_free_bytes, 1LL << 30);
	assert_true(p.specs[0].min_free_percent == 0);
	assert_int_equal(p.specs[0].interval_ms, 10000);
	assert_int_equal(p.specs[0].timeout_ms, 3000);
	assert_int_equal(p.specs[0].rise, 3);
	assert_int_equal(p.specs[0].fall, 4);
	assert_true(p.specs[0].critical);

	assert_int_equal(p.specs[1].kind, CHECK_MEMORY);
	assert_int_equal(p.specs[1].min_free_bytes, 0);
	assert_true(p.specs[1].min_free_percent == 5.0);
	assert_null(p.specs[1].path);

	assert_int_equal(p.specs[2].kind, CHECK_FILE);
	assert_string_equal(p.specs[2].path, "/etc/asg-agent/maintenance");
	assert_false(p.specs[2].must_exist);

	assert_int_equal(p.specs[3].kind, CHECK_TCP);
	assert_string_equal(p.specs[3].host, "127.0.0.1");
	assert_int_equal(p.specs[3].port, 5432);

	assert_int_equal(p.specs[4].kind, CHECK_HTTP);
	assert_string_equal(p.specs[4].url, "http://127.0.0.1:9000/ping");
	assert_int_equal(p.specs[4].expect_status, 204);

	assert_int_equal(p.specs[5].kind, CHECK_EXEC);
	assert_string_equal(p.specs[5].argv[0], "/usr/local/bin/ready");
	assert_string_equal(p.specs[5].argv[1], "--quick");
	assert_null(p.specs[5].argv[2]);
	assert_int_equal(p.specs[5].interval_ms, 500);
	assert_int_equal(p.specs[5].timeout_ms, 250);
	parsed_free(&p);
}

static void test_defaults(void **state)
{
	struct parsed p;

	parse(&p, "{\"checks\": [\n"
	          " {\"name\":\"a\",\"type\":\"memory\",\"min_available\":\"100M\"},\n"
	          " {\"name\":\"b\",\"type\":\"file\",\"path\":\"/x\",\"must_exist\":true,"
	          "\"interval\":\"1s\"},\n"
	          " {\"name\":\"c\",\"type\":\"http\",\"url\":\"http://localhost/\"},\n"
	          " {\"name\":\"d\",\"type\":\"file\",\"path\":\"/x\",\"must_exist\":true,"
	          "\"interval\":\"100ms\"}\n"
	          "]}");
	assert_int_equal(p.r, 0);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.specs[0].interval_ms, 5000);
	assert_int_equal(p.specs[0].timeout_ms, 2000);
	assert_int_equal(p.specs[0].rise, 2);
	assert_int_equal(p.specs[0].fall, 2);
	assert_int_equal(p.specs[0].min_free_bytes, 100LL << 20);
	/* The default timeout shrinks to a shorter interval. */
	assert_int_equal(p.specs[1].interval_ms, 1000);
	assert_int_equal(p.specs[1].timeout_ms, 1000);
	assert_true(p.specs[1].must_exist);
	assert_int_equal(p.specs[2].expect_status, 200);
	assert_int_equal(p.specs[3].timeout_ms, 100);
	parsed_free(&p);
}

static void test_no_checks(void **state)
{
	struct parsed p;

	parse(&p, "{\"listen\": 80}");
	assert_int_equal(p.r, 0);
	assert_int_equal(p.n, 0);
	assert_null(p.specs);
	parsed_free(&p);

	parse(&p, "{\"checks\": []}");
	assert_int_equal(p.r, 0);
	assert_int_equal(p.n, 0);
	parsed_free(&p);
}

/* critical defaults to true for local checks and loopback targets, false
 * for shared dependencies; an explicit value always wins. */
static void test_critical_defaults(void **state)
{
	static const struct {
		const char *check;
		bool critical;
	} cases[] = {
	        {"\"type\":\"disk\",\"path\":\"/\",\"min_free\":1", true},
	        {"\"type\":\"memory\",\"min_available\":1", true},
	        {"\"type\":\"file\",\"path\":\"/f\",\"must_exist\":false", true},
	        {"\"type\":\"exec\",\"command\":[\"/bin/true\"]", true},
	        {"\"type\":\"tcp\",\"host\":\"127.0.0.1\",\"port\":1", true},
	        {"\"type\":\"tcp\",\"host\":\"127.0.1.1\",\"port\":1", true},
	        {"\"type\":\"tcp\",\"host\":\"localhost\",\"port\":1", true},
	        {"\"type\":\"tcp\",\"host\":\"LocalHost.\",\"port\":1", true},
	        {"\"type\":\"tcp\",\"host\":\"app.localhost\",\"port\":1", true},
	        {"\"type\":\"tcp\",\"host\":\"::1\",\"port\":1", true},
	        {"\"type\":\"tcp\",\"host\":\"::ffff:127.0.0.1\",\"port\":1", true},
	        {"\"type\":\"tcp\",\"host\":\"10.0.0.5\",\"port\":5432", false},
	        {"\"type\":\"tcp\",\"host\":\"db.internal\",\"port\":5432", false},
	        {"\"type\":\"tcp\",\"host\":\"notlocalhost\",\"port\":1", false},
	        {"\"type\":\"tcp\",\"host\":\"128.0.0.1\",\"port\":1", false},
	        {"\"type\":\"tcp\",\"host\":\"::2\",\"port\":1", false},
	        {"\"type\":\"http\",\"url\":\"http://127.0.0.1:9000/ping\"", true},
	        {"\"type\":\"http\",\"url\":\"http://localhost/\"", true},
	        {"\"type\":\"http\",\"url\":\"http://[::1]:8080/\"", true},
	        {"\"type\":\"http\",\"url\":\"https://api.example.com/health\"", false},
	        {"\"type\":\"http\",\"url\":\"http://10.1.2.3/\"", false},
	        {"\"type\":\"tcp\",\"host\":\"db.internal\",\"port\":5432,\"critical\":true", true},
	        {"\"type\":\"http\",\"url\":\"http://10.1.2.3/\",\"critical\":true", true},
	        {"\"type\":\"disk\",\"path\":\"/\",\"min_free\":1,\"critical\":false", false},
	        {"\"type\":\"tcp\",\"host\":\"127.0.0.1\",\"port\":1,\"critical\":false", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		struct parsed p;

		snprintf(text, sizeof(text), "{\"checks\":[{\"name\":\"c\",%s}]}", cases[i].check);
		parse(&p, text);
		if (p.r != 0)
			fail_msg("case %zu (%s): %s", i, cases[i].check, p.doc.error);
		assert_int_equal(p.n, 1);
		if (p.specs[0].critical != cases[i].critical)
			fail_msg("case %zu (%s): critical is %d", i, cases[i].check,
			         p.specs[0].critical);
		parsed_free(&p);
	}
}

static void test_structure_errors(void **state)
{
	expect_error("{\"checks\": {}}", "t.json:1:2: checks: expected an array of checks");
	expect_error1("42", "t.json:2:1: checks[0]: expected an object describing a check");
	expect_error("{\"checks\": [\n  {\"name\":\"a\",\"type\":\"memory\",\"min_available\":1},\n"
	             "  \"b\"\n]}",
	             "t.json:3:3: checks[1]: expected an object describing a check");

	char big[16384];
	size_t off = (size_t)snprintf(big, sizeof(big), "{\"checks\": [");
	for (int i = 0; i < 65; i++)
		off += (size_t)snprintf(
		        big + off, sizeof(big) - off,
		        "%s{\"name\":\"m%d\",\"type\":\"memory\",\"min_available\":1}",
		        i ? "," : "", i);
	snprintf(big + off, sizeof(big) - off, "]}");
	expect_error(big, "t.json:1:2: checks: 65 checks; at most 64 are supported");
}

static void test_name_errors(void **state)
{
	expect_error1("{\"type\":\"memory\",\"min_available\":1}",
	              "t.json:2:1: checks[0]: missing required key \"name\"");
	expect_error1("{\"name\":7,\"type\":\"memory\"}",
	              "t.json:2:2: checks[0].name: expected a string");
	expect_error1("{\"name\":\"\",\"type\":\"memory\"}",
	              "t.json:2:2: checks[0].name: a check name has 1 to 64 characters");
	expect_error1(
	        "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	        "\"type\":\"memory\"}",
	        "t.json:2:2: checks[0].name: a check name has 1 to 64 characters");
	expect_error1("{\"name\":\"disk root\",\"type\":\"memory\"}",
	              "t.json:2:2: checks[0].name: \"disk root\" has characters other than "
	              "A-Z a-z 0-9 _ . -");
	expect_error("{\"checks\": [\n"
	             "  {\"name\":\"mem\",\"type\":\"memory\",\"min_available\":1},\n"
	             "  {\"type\":\"memory\", \"name\":\"mem\",\"min_available\":1}\n"
	             "]}",
	             "t.json:3:21: checks[1].name: duplicate check name \"mem\"");
}

static void test_type_and_key_errors(void **state)
{
	expect_error1("{\"name\":\"a\"}", "t.json:2:1: checks[0]: missing required key \"type\"");
	expect_error1("{\"name\":\"a\",\"type\":\"ping\"}",
	              "t.json:2:13: checks[0].type: unknown check type \"ping\" (expected disk, "
	              "memory, file, tcp, http or exec)");
	/* A typo must not fall back to the default silently. */
	expect_error1(
	        "{\"name\":\"a\",\"type\":\"memory\",\"min_available\":1,\"intervall\":\"1s\"}",
	        "t.json:2:47: checks[0].intervall: unknown key");
	/* A key of another check type is unknown too. */
	expect_error1(
	        "{\"name\":\"a\",\"type\":\"tcp\",\"host\":\"h\",\"port\":1,\"url\":\"http://h/\"}",
	        "t.json:2:46: checks[0].url: unknown key");
	expect_error1("{\"name\":\"a\",\"type\":\"disk\",\"path\":\"/"
	              "\",\"min_free\":1,\"critical\":\"yes\"}",
	              "t.json:2:51: checks[0].critical: expected true or false");
}

static void test_timing_errors(void **state)
{
	expect_error1(
	        "{\"name\":\"a\",\"type\":\"memory\",\"min_available\":1,\"interval\":\"50ms\"}",
	        "t.json:2:47: checks[0].interval: duration 50ms is out of range "
	        "[100ms, 86400000ms]");
	expect_error1(
	        "{\"name\":\"a\",\"type\":\"memory\",\"min_available\":1,\"interval\":\"often\"}",
	        "t.json:2:47: checks[0].interval: expected a duration such as 5, \"5s\" or "
	        "\"500ms\"");
	expect_error1("{\"name\":\"a\",\"type\":\"memory\",\"min_available\":1,\"interval\":\"1s\","
	              "\"timeout\":\"2s\"}",
	              "t.json:2:63: checks[0].timeout: timeout 2000ms is longer than the interval "
	              "1000ms");
	expect_error1(
	        "{\"name\":\"a\",\"type\":\"memory\",\"min_available\":1,\"timeout\":\"5ms\"}",
	        "t.json:2:47: checks[0].timeout: duration 5ms is out of range "
	        "[10ms, 86400000ms]");
	expect_error1("{\"name\":\"a\",\"type\":\"memory\",\"min_available\":1,\"rise\":0}",
	              "t.json:2:47: checks[0].rise: 0 is out of range [1, 100]");
	expect_error1("{\"name\":\"a\",\"type\":\"memory\",\"min_available\":1,\"fall\":101}",
	              "t.json:2:47: checks[0].fall: 101 is out of range [1, 100]");
	expect_error1("{\"name\":\"a\",\"type\":\"memory\",\"min_available\":1,\"fall\":1.5}",
	              "t.json:2:47: checks[0].fall: expected an integer");
}

static void test_disk_memory_file_errors(void **state)
{
	expect_error1("{\"name\":\"a\",\"type\":\"disk\",\"min_free\":1}",
	              "t.json:2:1: checks[0]: missing required key \"path\"");
	expect_error1("{\"name\":\"a\",\"type\":\"disk\",\"path\":\"var\",\"min_free\":1}",
	              "t.json:2:27: checks[0].path: \"var\" is not an absolute path");
	expect_error1("{\"name\":\"a\",\"type\":\"disk\",\"path\":\"/\"}",
	              "t.json:2:1: checks[0]: set \"min_free\" or \"min_free_percent\" (or both)");
	expect_error1("{\"name\":\"a\",\"type\":\"disk\",\"path\":\"/\",\"min_free\":\"lots\"}",
	              "t.json:2:38: checks[0].min_free: expected a size such as 65536 or \"64k\"");
	expect_error1("{\"name\":\"a\",\"type\":\"disk\",\"path\":\"/\",\"min_free_percent\":150}",
	              "t.json:2:38: checks[0].min_free_percent: 150 is out of range [0.001, 100]");
	expect_error1("{\"name\":\"a\",\"type\":\"memory\"}",
	              "t.json:2:1: checks[0]: set \"min_available\" or \"min_available_percent\" "
	              "(or both)");
	expect_error1("{\"name\":\"a\",\"type\":\"memory\",\"min_available\":0}",
	              "t.json:2:29: checks[0].min_available: 0 is out of range "
	              "[1, 9223372036854775807]");
	expect_error1("{\"name\":\"a\",\"type\":\"file\",\"path\":\"/f\"}",
	              "t.json:2:1: checks[0]: missing required key \"must_exist\" (true: the file "
	              "must exist; false: it must not, as a maintenance flag)");
	expect_error1("{\"name\":\"a\",\"type\":\"file\",\"path\":\"/f\",\"must_exist\":1}",
	              "t.json:2:39: checks[0].must_exist: expected true or false");
}

static void test_tcp_http_exec_errors(void **state)
{
	expect_error1("{\"name\":\"a\",\"type\":\"tcp\",\"port\":1}",
	              "t.json:2:1: checks[0]: missing required key \"host\"");
	expect_error1("{\"name\":\"a\",\"type\":\"tcp\",\"host\":\"h\"}",
	              "t.json:2:1: checks[0]: missing required key \"port\"");
	expect_error1("{\"name\":\"a\",\"type\":\"tcp\",\"host\":\"h\",\"port\":70000}",
	              "t.json:2:37: checks[0].port: 70000 is out of range [1, 65535]");
	expect_error1("{\"name\":\"a\",\"type\":\"tcp\",\"host\":\"db host\",\"port\":1}",
	              "t.json:2:26: checks[0].host: \"db host\" is not a host name or address");
	expect_error1("{\"name\":\"a\",\"type\":\"http\"}",
	              "t.json:2:1: checks[0]: missing required key \"url\"");
	expect_error1("{\"name\":\"a\",\"type\":\"http\",\"url\":\"ftp://127.0.0.1/\"}",
	              "t.json:2:27: checks[0].url: \"ftp://127.0.0.1/\" is not an http:// or "
	              "https:// URL");
	expect_error1("{\"name\":\"a\",\"type\":\"http\",\"url\":\"127.0.0.1:80/ping\"}",
	              "t.json:2:27: checks[0].url: \"127.0.0.1:80/ping\" is not an http:// or "
	              "https:// URL");
	expect_error1(
	        "{\"name\":\"a\",\"type\":\"http\",\"url\":\"http://h/\",\"expect_status\":999}",
	        "t.json:2:45: checks[0].expect_status: 999 is out of range [100, 599]");
	expect_error1("{\"name\":\"a\",\"type\":\"exec\"}",
	              "t.json:2:1: checks[0]: missing required key \"command\"");
	expect_error1("{\"name\":\"a\",\"type\":\"exec\",\"command\":[]}",
	              "t.json:2:27: checks[0].command: expected an array of 1 to 64 strings, the "
	              "program first");
	expect_error1("{\"name\":\"a\",\"type\":\"exec\",\"command\":\"/bin/true\"}",
	              "t.json:2:27: checks[0].command: expected an array of 1 to 64 strings, the "
	              "program first");
	expect_error1("{\"name\":\"a\",\"type\":\"exec\",\"command\":[\"/bin/x\", 5]}",
	              "t.json:2:48: checks[0].command[1]: expected a string");
	expect_error1(
	        "{\"name\":\"a\",\"type\":\"exec\",\"command\":[\"ready\"]}",
	        "t.json:2:27: checks[0].command: the program \"ready\" must be an absolute path");
}

/* The first error is the one reported, at the failing element. */
static void test_error_in_later_element(void **state)
{
	expect_error("{\n"
	             "  \"listen\": 80,\n"
	             "  \"checks\": [\n"
	             "    {\"name\":\"a\",\"type\":\"memory\",\"min_available\":1},\n"
	             "    {\"name\":\"b\",\"type\":\"memory\",\"min_available\":1},\n"
	             "    {\"name\":\"c\",\n"
	             "     \"type\":\"tcp\",\n"
	             "     \"host\":\"127.0.0.1\",\n"
	             "     \"port\":0}\n"
	             "  ]\n"
	             "}\n",
	             "t.json:9:6: checks[2].port: 0 is out of range [1, 65535]");
}

static void test_spec_copy(void **state)
{
	struct parsed p;
	struct check_spec copy;

	parse(&p, "{\"checks\":[{\"name\":\"x\",\"type\":\"exec\",\"command\":[\"/bin/"
	          "echo\",\"a\",\"b\"]}]}");
	assert_int_equal(p.r, 0);
	assert_int_equal(check_spec_copy(&copy, &p.specs[0]), 0);
	assert_ptr_not_equal(copy.name, p.specs[0].name);
	assert_string_equal(copy.name, "x");
	assert_string_equal(copy.argv[2], "b");
	assert_null(copy.argv[3]);
	assert_int_equal(copy.timeout_ms, p.specs[0].timeout_ms);
	check_spec_clear(&copy);
	parsed_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_all_types),
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_no_checks),
	        cmocka_unit_test(test_critical_defaults),
	        cmocka_unit_test(test_structure_errors),
	        cmocka_unit_test(test_name_errors),
	        cmocka_unit_test(test_type_and_key_errors),
	        cmocka_unit_test(test_timing_errors),
	        cmocka_unit_test(test_disk_memory_file_errors),
	        cmocka_unit_test(test_tcp_http_exec_errors),
	        cmocka_unit_test(test_error_in_later_element),
	        cmocka_unit_test(test_spec_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
