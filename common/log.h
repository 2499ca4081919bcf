/* Logging for both daemons: structured journal entries under systemd,
 * "ident: level: message" lines on stderr otherwise.  Only main() and the
 * top of each subsystem log; lower layers return errors. */
#ifndef ASG_LOG_H
#define ASG_LOG_H

#include <stdarg.h>
#include <syslog.h>

void log_init(const char *ident);
void log_set_level(int max_priority);
int log_get_level(void);
/* True when stderr is connected to the journal (JOURNAL_STREAM matches). */
int log_to_journal(void);

/* fields: NULL-terminated "KEY=value" strings added to the journal entry,
 * and appended as key=value on stderr.  May be NULL. */
void log_fields(int priority, const char *const *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vfields(int priority, const char *const *fields, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define log_error(...) log_fields(LOG_ERR, NULL, __VA_ARGS__)
#define log_warning(...) log_fields(LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(...) log_fields(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) log_fields(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_fields(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
