/* JSON configuration files (jansson) with errors an operator can act on:
 * every error names the file, line, column and key.  jansson reports
 * positions only for syntax errors, so for a semantic error we find the
 * key's position by walking the (already validated) text again. */
#ifndef ASG_CONF_H
#define ASG_CONF_H

#include <stdbool.h>
#include <jansson.h>

struct conf_doc {
	char *path;       /* owned */
	char *text;       /* owned, NUL-terminated */
	json_t *root;     /* owned reference */
	char error[1024]; /* first error, "file:line:col: key: reason" */
};

/* Reads and parses path; on failure fills doc->error and returns -errno
 * or -EINVAL.  A missing file is -ENOENT with the error filled. */
int conf_doc_load(struct conf_doc *doc, const char *path);
/* Parses text as if read from path (for tests and built-in defaults). */
int conf_doc_parse(struct conf_doc *doc, const char *path, const char *text);
void conf_doc_free(struct conf_doc *doc);

/* Records an error about keypath (e.g. "checks[2].interval") in doc->error,
 * unless one is already recorded; returns -EINVAL for convenience. */
int conf_fail(struct conf_doc *doc, const char *keypath, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Finds the line and column (1-based) of keypath in text; 0 on success. */
int conf_locate(const char *text, const char *keypath, int *line, int *col);

/* Typed getters.  objpath is the path of obj ("" for the root).  They
 * return 0 when key is absent (out untouched), 1 when set, -EINVAL on a
 * wrong type or range (error recorded). */
int conf_get_string(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                    const char **out);
int conf_get_int(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                 long long min, long long max, long long *out);
int conf_get_double(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                    double min, double max, double *out);
int conf_get_bool(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                  bool *out);
/* Durations: a number of seconds, or a string "500ms", "5s", "2m", "1h". */
int conf_get_duration_ms(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                         long long min_ms, long long max_ms, long long *out);
/* Sizes: a number of bytes, or "64k", "10M", "1G". */
int conf_get_size(struct conf_doc *doc, json_t *obj, const char *objpath, const char *key,
                  long long min, long long max, long long *out);
/* Unknown keys are errors: a typo must not silently fall back to a default. */
int conf_check_keys(struct conf_doc *doc, json_t *obj, const char *objpath,
                    const char *const *allowed);
/* Builds "objpath.key" or "key" into buf. */
const char *conf_path_join(char *buf, size_t len, const char *objpath, const char *key);

int conf_parse_duration_ms(const char *s, long long *out);
int conf_parse_size(const char *s, long long *out);

#endif
