/* The lifecycle's saved fields <-> the state file's JSON document.  Pure
 * functions (no I/O, no clock): the agent trusts nothing it reads back
 * (a state file may be truncated, hand-edited, written by another
 * version or planted), so every field is checked for type, range, enum
 * value, length and consistency with the others before one is used. */
#ifndef ASG_AGENT_LIFECYCLE_STATE_H
#define ASG_AGENT_LIFECYCLE_STATE_H

#include <stddef.h>
#include <stdint.h>

struct json_t;
struct lifecycle;

/* Timestamps are wall-clock milliseconds from 0 to the end of 9999. */
#define LC_STATE_MAX_MS          INT64_C(253402300799999)
#define LC_STATE_BOOT_ID_MAX     63
#define LC_STATE_INSTANCE_ID_MAX 31

/* Whose state it is: it is resumed only by the same boot and instance. */
struct lc_state_owner {
	char boot_id[LC_STATE_BOOT_ID_MAX + 1];
	char instance_id[LC_STATE_INSTANCE_ID_MAX + 1];
};

/* The document save() writes (a new reference, NULL on ENOMEM). */
struct json_t *lifecycle_state_to_json(const struct lifecycle *lc,
                                       const struct lc_state_owner *owner);
/* Validates doc and, only when all of it is valid, sets the saved fields
 * of *lc (the run-time ones are left alone) and *owner.  0, or -EBADMSG
 * with why = "<field>: <reason>". */
int lifecycle_state_from_json(const struct json_t *doc, struct lifecycle *lc,
                              struct lc_state_owner *owner, char *why, size_t why_len);
/* The same from the file's bytes (the fuzzers' entry point). */
int lifecycle_state_parse(const char *buf, size_t len, struct lifecycle *lc,
                          struct lc_state_owner *owner, char *why, size_t why_len);

#endif
