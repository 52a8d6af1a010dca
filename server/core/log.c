/*
 * log.c: leveled logging.  One line per event, "level: message", to stderr
 * in the foreground or syslog when daemonized.  When stderr is the systemd
 * journal (or log_priority_prefix says so) each stderr line starts with its
 * syslog priority, "<4>", as sd-daemon(3) describes, so journald files it
 * at the right level.  Never logs secrets: callers pass none (see SECURITY
 * in README).  Level, destination and prefix are atomics: a SIGHUP re-runs
 * log_init while request threads log.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>

#include "sipprov.h"

static atomic_int log_lvl = LOG_LVL_INFO;
static atomic_bool log_syslog;
static atomic_bool log_prefix;

void log_init(int level, bool to_syslog)
{
	/* openlog first: a thread that sees log_syslog set finds it open. */
	if (to_syslog)
		openlog("sipprovd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_lvl, level);
	atomic_store(&log_syslog, to_syslog);
}

void log_prefix_set(bool on)
{
	atomic_store(&log_prefix, on);
}

bool log_stderr_is_journal(void)
{
	/* systemd sets JOURNAL_STREAM=DEV:INODE for a unit whose stderr is the
	 * journal; a redirected stderr (2>file) no longer matches it. */
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;
	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int log_prefix_parse(const char *s)
{
	if (!strcmp(s, "auto"))
		return log_stderr_is_journal();
	if (!strcmp(s, "yes"))
		return 1;
	if (!strcmp(s, "no"))
		return 0;
	return -1;
}

int log_level_parse(const char *s)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* The one formatter: "message[: strerror]" once, then to syslog (which
 * carries the level itself) or to stderr as "[<N>]prefix message". */
__attribute__((format(printf, 4, 0)))
static void vlog(int lvl, const char *prefix, int errnum, const char *fmt, va_list ap)
{
	static const int pri[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[2048];
	if (lvl > atomic_load_explicit(&log_lvl, memory_order_relaxed))
		return;
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(errnum));
	if (atomic_load(&log_syslog)) {
		syslog(pri[lvl], "%s", msg);
		return;
	}
	if (atomic_load_explicit(&log_prefix, memory_order_relaxed))
		fprintf(stderr, "<%d>%s%s\n", pri[lvl], prefix, msg);
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

bool log_every_due(struct log_every *w, long *n)
{
	int64_t now = sp_now();
	w->n++;
	if (now - w->at < 10)
		return false;
	*n = w->n;
	w->n = 0;
	w->at = now;
	return true;
}
