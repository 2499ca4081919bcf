/* The lifecycle state file (agent/state-file.h): whatever is on disk in
 * the state directory is read back without crashing, and a document that
 * loads saves and loads again unchanged. */
#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>

#include "fuzz.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	json_t *doc = NULL, *again = NULL;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
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
