/* Logging: journal with structured fields when systemd gave us a journal
 * stream on stderr, plain lines otherwise (tests, terminals, containers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <pthread.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

static const char *log_ident = "asg";
static int log_max = LOG_INFO;
static int log_journal;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected to
 * stderr; if our stderr is still that stream, the journal is listening. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* JOURNAL_STREAM from systemd: two decimal numbers, only compared with fstat()'s */
	/* NOLINTNEXTLINE(cert-err34-c) */
	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident)
{
	const char *lvl = getenv("ASG_LOG_LEVEL");

	log_ident = ident;
	log_journal = stderr_is_journal();
	if (lvl && !strcmp(lvl, "debug"))
		log_max = LOG_DEBUG;
}

void log_set_level(int max_priority)
{
	log_max = max_priority;
}
int log_get_level(void)
{
	return log_max;
}
int log_to_journal(void)
{
	return log_journal;
}

static const char *priority_name(int p)
{
	static const char *names[] = {"emerg",   "alert",  "crit", "error",
	                              "warning", "notice", "info", "debug"};
	return p >= 0 && p <= 7 ? names[p] : "info";
}

void log_vfields(int priority, const char *const *fields, const char *fmt, va_list ap)
{
	char msg[2048];
	size_t n = 0;

	if (priority > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (fields)
		while (fields[n])
			n++;

	if (log_journal) {
		struct iovec iov[n + 3];
		char m[sizeof(msg) + 8], p[16], id[64];

		snprintf(m, sizeof(m), "MESSAGE=%s", msg);
		snprintf(p, sizeof(p), "PRIORITY=%d", priority);
		snprintf(id, sizeof(id), "SYSLOG_IDENTIFIER=%s", log_ident);
		iov[0].iov_base = m;
		iov[0].iov_len = strlen(m);
		iov[1].iov_base = p;
		iov[1].iov_len = strlen(p);
		iov[2].iov_base = id;
		iov[2].iov_len = strlen(id);
		for (size_t i = 0; i < n; i++) {
			iov[i + 3].iov_base = (void *)fields[i];
			iov[i + 3].iov_len = strlen(fields[i]);
		}
		if (sd_journal_sendv(iov, (int)n + 3) >= 0)
			return;
	}

	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s: %s: %s", log_ident, priority_name(priority), msg);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(fields[i], '=');
		if (eq)
			fprintf(stderr, " %.*s=%s", (int)(eq - fields[i]), fields[i], eq + 1);
	}
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}

void log_fields(int priority, const char *const *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(priority, fields, fmt, ap);
	va_end(ap);
}
