/* What every harness shares.  Each tests/fuzz/fuzz-<name>.c defines
 * LLVMFuzzerTestOneInput() and is linked twice: with libFuzzer
 * (-fsanitize=fuzzer, `make fuzz` in a clang build) and with replay.c,
 * a plain main() that runs the committed corpus, so every build (gcc,
 * ASan) replays every seed and every past crash as a test. */
#ifndef ASG_FUZZ_H
#define ASG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, run once before the first input (libFuzzer's weak hook). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant the code under test promises was broken: report and abort,
 * so libFuzzer saves the input as a crash. */
#define FUZZ_ASSERT(cond)                                                                    \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
			        #cond);                                                      \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* A NUL-terminated copy of the input (embedded NULs end the string there,
 * as they would in a C string from a header or a file). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Splits a NUL-terminated copy of the input at '\n' into at most max
 * fields; missing fields are NULL.  Text seeds stay readable: one field a
 * line.  Returns the buffer to free. */
static inline char *fuzz_fields(const uint8_t *data, size_t size, char **field, int max)
{
	char *s = fuzz_cstr(data, size), *p = s;

	for (int i = 0; i < max; i++) {
		field[i] = p;
		if (p) {
			char *nl = strchr(p, '\n');
			if (nl && i < max - 1) {
				*nl = '\0';
				p = nl + 1;
			} else {
				p = NULL;
			}
		}
	}
	return s;
}

#endif
