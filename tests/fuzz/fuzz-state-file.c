/* The lifecycle state file (agent/state-file.h, agent/lifecycle-state.h):
 * whatever is on disk in the state directory is read back without
 * crashing, a document that loads saves and loads again unchanged, and
 * one that validates as lifecycle state gives the same state once written
 * out and validated again (issue 9: "drain_d_next": -100000 crashed). */
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "lifecycle-state.h"
#include "lifecycle.h"
#include "state-file.h"

static char dir[] = "/tmp/asg-fuzz-state-XXXXXX";
static char path[sizeof(dir) + sizeof(STATE_FILE_NAME) + 1];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE_NAME);
	atexit(remove_dir);
	return 0;
}

static void validate(const char *buf, size_t len)
{
	struct lifecycle lc = {0}, again = {0};
	struct lc_state_owner owner = {0}, owner2 = {0};
	char why[256] = "";
	json_t *doc;

	if (lifecycle_state_parse(buf, len, &lc, &owner, why, sizeof(why)) != 0) {
		FUZZ_ASSERT(why[0] != '\0'); /* a refusal always says why */
		return;
	}
	FUZZ_ASSERT(lc.drain_d_next >= 0);
	doc = lifecycle_state_to_json(&lc, &owner);
	FUZZ_ASSERT(doc);
	FUZZ_ASSERT(lifecycle_state_from_json(doc, &again, &owner2, why, sizeof(why)) == 0);
	FUZZ_ASSERT(again.state == lc.state && again.step == lc.step && again.causes == lc.causes);
	FUZZ_ASSERT(again.deadline_ms == lc.deadline_ms && again.drain_d_next == lc.drain_d_next);
	FUZZ_ASSERT(again.launch_done == lc.launch_done &&
	            again.terminate_done == lc.terminate_done);
	FUZZ_ASSERT(!strcmp(owner.boot_id, owner2.boot_id));
	FUZZ_ASSERT(!strcmp(owner.instance_id, owner2.instance_id));
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	json_t *doc = NULL, *again = NULL;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	validate((const char *)data, size);
	if (state_file_load(dir, &doc) == 0) {
		FUZZ_ASSERT(json_is_object(doc));
		FUZZ_ASSERT(state_file_save(dir, doc) == 0);
		FUZZ_ASSERT(state_file_load(dir, &again) == 0);
		FUZZ_ASSERT(json_equal(doc, again));
	} else {
		FUZZ_ASSERT(!doc);
	}
	json_decref(doc);
	json_decref(again);
	return 0;
}
