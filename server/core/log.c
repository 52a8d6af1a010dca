/*
 * log.c: leveled logging.  One line per event, "level: message", to stderr
 * in the foreground or syslog when daemonized.  Never logs secrets: callers
 * pass none (see SECURITY in README).  The level and destination are
 * atomics: a SIGHUP re-runs log_init while request threads log.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "sipprov.h"

static atomic_int log_lvl = LOG_LVL_INFO;
static atomic_bool log_syslog;

void log_init(int level, bool to_syslog)
{
	/* openlog first: a thread that sees log_syslog set finds it open. */
	if (to_syslog)
		openlog("sipprovd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_lvl, level);
	atomic_store(&log_syslog, to_syslog);
}

int log_level_parse(const char *s)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

__attribute__((format(printf, 4, 0)))
static void vlog(int lvl, const char *prefix, int errnum, const char *fmt, va_list ap)
{
	char msg[2048];
	if (lvl > atomic_load_explicit(&log_lvl, memory_order_relaxed))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (atomic_load(&log_syslog)) {
		static const int pri[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
		if (errnum)
			syslog(pri[lvl], "%s: %s", msg, strerror(errnum));
		else
			syslog(pri[lvl], "%s", msg);
		return;
	}
	if (errnum)
		fprintf(stderr, "%s%s: %s\n", prefix, msg, strerror(errnum));
	else
		fprintf(stderr, "%s%s\n", prefix, msg);
}

void log_warn(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, "warning: ", e, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, "warning: ", 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LVL_INFO, "", 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LVL_DEBUG, "debug: ", 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, "fatal: ", e, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
