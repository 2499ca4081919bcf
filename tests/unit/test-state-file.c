/* The lifecycle state file (issue 9 §1 items 11 and 12): every field of
 * the document is validated before one is used, and a save never writes
 * through a planted symlink. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "lifecycle-state.h"
#include "lifecycle.h"
#include "state-file.h"

static const char valid[] =
        "{\"boot_id\": \"0a1b2c3d-4e5f-6789-abcd-ef0123456789\","
        " \"instance_id\": \"i-0123456789abcdef0\", \"state\": \"draining\","
        " \"step\": \"drain.d\", \"since_ms\": 1700000000000, \"step_since_ms\": 1700000001000,"
        " \"causes\": 3, \"deadline_ms\": 1700000120000, \"deadline_source\": \"spot-action\","
        " \"gate_started_ms\": 0, \"drain_started_ms\": 1700000000000,"
        " \"in_flight_until_ms\": 1700000030000, \"drain_d_until_ms\": 1700000060000,"
        " \"launch_done\": true, \"terminate_done\": false, \"deregistered\": true,"
        " \"drain_d_next\": 2, \"last_heartbeat_ms\": 1700000002000}";

static json_t *valid_doc(void)
{
	json_t *doc = json_loads(valid, 0, NULL);

	assert_non_null(doc);
	return doc;
}

/* doc with field set to value (NULL: removed) must be refused, and the
 * reason must name the field. */
static void expect_bad(const char *field, json_t *value, const char *why_field)
{
	json_t *doc = valid_doc();
	struct lifecycle lc;
	struct lc_state_owner owner;
	char why[256];

	memset(&lc, 0x5a, sizeof(lc));
	if (value)
		json_object_set_new(doc, field, value);
	else
		json_object_del(doc, field);
	assert_int_equal(lifecycle_state_from_json(doc, &lc, &owner, why, sizeof(why)), -EBADMSG);
	if (strncmp(why, why_field, strlen(why_field))) {
		print_error("field %s: why is \"%s\"\n", field, why);
		fail();
	}
	/* Nothing was taken from a document that did not validate. */
	assert_int_equal(lc.drain_d_next, 0x5a5a5a5a);
	json_decref(doc);
}

static void test_valid_and_round_trip(void **state)
{
	json_t *doc = valid_doc(), *again;
	struct lifecycle lc = {0}, lc2 = {0};
	struct lc_state_owner owner, owner2;
	char why[256];

	(void)state;
	assert_int_equal(lifecycle_state_from_json(doc, &lc, &owner, why, sizeof(why)), 0);
	assert_string_equal(owner.boot_id, "0a1b2c3d-4e5f-6789-abcd-ef0123456789");
	assert_string_equal(owner.instance_id, "i-0123456789abcdef0");
	assert_int_equal(lc.state, LC_DRAINING);
	assert_int_equal(lc.step, LC_STEP_DRAIN_D);
	assert_int_equal(lc.causes, LC_CAUSE_TERMINATION | LC_CAUSE_SPOT);
	assert_int_equal(lc.drain_d_next, 2);
	assert_true(lc.launch_done && lc.deregistered && !lc.terminate_done);
	assert_string_equal(lc.deadline_source, "spot-action");
	assert_int_equal(lc.last_heartbeat_ms, 1700000002000LL);
	/* What the agent writes, it reads back unchanged. */
	again = lifecycle_state_to_json(&lc, &owner);
	assert_true(json_equal(again, doc));
	assert_int_equal(lifecycle_state_from_json(again, &lc2, &owner2, why, sizeof(why)), 0);
	/* The strings, not the structs' bytes: those after each NUL were never
	 * written (valgrind: "depends on uninitialised value"). */
	assert_string_equal(owner.boot_id, owner2.boot_id);
	assert_string_equal(owner.instance_id, owner2.instance_id);
	json_decref(again);
	json_decref(doc);
	/* A fresh agent's state (booting, all zero, no boot id readable). */
	memset(&lc, 0, sizeof(lc));
	memset(&owner, 0, sizeof(owner));
	strcpy(owner.instance_id, "i-1");
	again = lifecycle_state_to_json(&lc, &owner);
	assert_int_equal(lifecycle_state_from_json(again, &lc2, &owner2, why, sizeof(why)), 0);
	json_decref(again);
}

static void test_every_field(void **state)
{
	static const char *const ms[] = {
	        "since_ms",         "step_since_ms",      "deadline_ms",      "gate_started_ms",
	        "drain_started_ms", "in_flight_until_ms", "drain_d_until_ms", "last_heartbeat_ms",
	};
	static const char *const bools[] = {"launch_done", "terminate_done", "deregistered"};
	char big[80];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	expect_bad("boot_id", NULL, "boot_id: missing");
	expect_bad("boot_id", json_integer(1), "boot_id: not a string");
	expect_bad("boot_id", json_string(big), "boot_id: longer");
	expect_bad("boot_id", json_string("../../etc"), "boot_id: invalid character");
	expect_bad("boot_id", json_stringn("ab\0cd", 5), "boot_id: contains a NUL");

	expect_bad("instance_id", NULL, "instance_id: missing");
	expect_bad("instance_id", json_null(), "instance_id: not a string");
	expect_bad("instance_id", json_string(""), "instance_id: empty");
	expect_bad("instance_id", json_string(big), "instance_id: longer");
	expect_bad("instance_id", json_string("i-1\n"), "instance_id: invalid character");

	expect_bad("state", NULL, "state: missing");
	expect_bad("state", json_integer(4), "state: not a string");
	expect_bad("state", json_string("exploded"), "state: unknown value");
	expect_bad("state", json_string(""), "state: unknown value");
	expect_bad("step", NULL, "step: missing");
	expect_bad("step", json_true(), "step: not a string");
	expect_bad("step", json_string("drain.d "), "step: unknown value");

	expect_bad("causes", NULL, "causes: missing");
	expect_bad("causes", json_string("1"), "causes: not an integer");
	expect_bad("causes", json_real(1.0), "causes: not an integer");
	expect_bad("causes", json_integer(-1), "causes: -1 is out of range");
	expect_bad("causes", json_integer(0x40), "causes: 64 is out of range");
	expect_bad("causes", json_integer(0), "causes: a drain without a cause");

	expect_bad("deadline_source", NULL, "deadline_source: missing");
	expect_bad("deadline_source", json_integer(0), "deadline_source: not a string");
	expect_bad("deadline_source", json_string(big), "deadline_source: longer");
	expect_bad("deadline_source", json_string("tomorrow"), "deadline_source: unknown value");
	expect_bad("deadline_source", json_string(""), "deadline_source: \"\" does not go");

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "%s: missing", bools[i]);
		expect_bad(bools[i], NULL, want);
		snprintf(want, sizeof(want), "%s: not a boolean", bools[i]);
		expect_bad(bools[i], json_integer(1), want);
		expect_bad(bools[i], json_string("true"), want);
	}

	expect_bad("drain_d_next", NULL, "drain_d_next: missing");
	expect_bad("drain_d_next", json_integer(-100000), "drain_d_next: -100000 is out of range");
	expect_bad("drain_d_next", json_integer(-1), "drain_d_next: -1 is out of range");
	expect_bad("drain_d_next", json_integer(65), "drain_d_next: 65 is out of range");
	expect_bad("drain_d_next", json_integer(1LL << 40), "drain_d_next:");
	expect_bad("drain_d_next", json_real(1.5), "drain_d_next: not an integer");

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "%s: missing", ms[i]);
		expect_bad(ms[i], NULL, want);
		snprintf(want, sizeof(want), "%s: not an integer", ms[i]);
		expect_bad(ms[i], json_string("0"), want);
		snprintf(want, sizeof(want), "%s: -1 is out of range", ms[i]);
		expect_bad(ms[i], json_integer(-1), want);
		snprintf(want, sizeof(want), "%s:", ms[i]);
		expect_bad(ms[i], json_integer(LC_STATE_MAX_MS + 1), want);
	}
	/* Consistency between fields. */
	expect_bad("deadline_ms", json_integer(0), "deadline_source: \"spot-action\" does not go");
	expect_bad("drain_started_ms", json_integer(0), "drain_started_ms: 0 in a drain");
	expect_bad("drain_d_until_ms", json_integer(1700000000000LL),
	           "drain_d_until_ms: 1700000000000 is before");
	expect_bad("state", json_string("ready"), "step: \"drain.d\" outside a drain");
}

static void test_documents(void **state)
{
	struct lifecycle lc;
	struct lc_state_owner owner;
	char why[256];

	(void)state;
	assert_int_equal(lifecycle_state_parse(valid, strlen(valid), &lc, &owner, why, sizeof(why)),
	                 0);
	assert_int_equal(lifecycle_state_parse("[]", 2, &lc, &owner, why, sizeof(why)), -EBADMSG);
	assert_string_equal(why, "(document): not a JSON object");
	assert_int_equal(lifecycle_state_parse("{\"state\":", 9, &lc, &owner, why, sizeof(why)),
	                 -EBADMSG);
	assert_non_null(strstr(why, "not JSON"));
	assert_int_equal(
	        lifecycle_state_parse(valid, strlen(valid) / 2, &lc, &owner, why, sizeof(why)),
	        -EBADMSG);
	/* A duplicate key could hide a bad value behind a good one. */
	assert_int_equal(
	        lifecycle_state_parse("{\"a\":1,\"a\":2}", 13, &lc, &owner, why, sizeof(why)),
	        -EBADMSG);
}

static char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Item 12: a symlink planted at the temporary name the agent used to
 * write through (.lifecycle.json.tmp) must not get its target written. */
static void test_save_never_follows_a_planted_symlink(void **state)
{
	char dir[] = "/tmp/test-state-file-XXXXXX", victim[] = "/tmp/test-state-victim-XXXXXX";
	char link[128], path[128], cmd[160], name[128];
	json_t *doc = json_pack("{s:s}", "state", "ready"), *back = NULL;
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	fd = mkstemp(victim);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious\n", 9), 9);
	close(fd);
	snprintf(link, sizeof(link), "%s/.%s.tmp", dir, STATE_FILE_NAME);
	assert_int_equal(symlink(victim, link), 0);

	assert_int_equal(state_file_save(dir, doc), 0);
	assert_string_equal(read_text(victim), "precious\n");
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE_NAME);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(state_file_load(dir, &back), 0);
	assert_true(json_equal(back, doc));
	json_decref(back);

	/* A symlinked state file is not read (its target may be anything). */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(state_file_load(dir, &back), -EBADMSG);
	assert_null(back);
	/* Set aside: the link itself is renamed, its target untouched. */
	assert_int_equal(state_file_set_aside(dir, name, sizeof(name)), 0);
	assert_non_null(strstr(name, STATE_FILE_NAME ".invalid-"));
	assert_int_equal(state_file_load(dir, &back), -ENOENT);
	assert_string_equal(read_text(victim), "precious\n");
	/* A second one in the same second does not replace the first. */
	assert_int_equal(state_file_save(dir, doc), 0);
	char name2[128];
	assert_int_equal(state_file_set_aside(dir, name2, sizeof(name2)), 0);
	assert_string_not_equal(name, name2);

	/* Temporaries a crash left behind are removed on load. */
	char stale[160];
	snprintf(stale, sizeof(stale), "%s/.%s.AbC123", dir, STATE_FILE_NAME);
	fd = open(stale, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	state_file_load(dir, &back);
	json_decref(back);
	assert_int_equal(access(stale, F_OK), -1);
	assert_string_equal(read_text(victim), "precious\n");

	json_decref(doc);
	unlink(victim);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_and_round_trip),
	        cmocka_unit_test(test_every_field),
	        cmocka_unit_test(test_documents),
	        cmocka_unit_test(test_save_never_follows_a_planted_symlink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
