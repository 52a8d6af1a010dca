/*
 * tz.h: an IANA time zone name resolved to its current rule (standard
 * offset, DST offset and the month/week/weekday/time of the two changes),
 * read from the footer of the zone's TZif file.  Private to server/core:
 * the placeholder language exposes it as the tz.* variables.  It keeps only
 * the rules it has read, per file (a changed file is read again, seen
 * within a second), and never computes past transitions: phones take
 * rules, not dates.
 */
#ifndef SP_TZ_H
#define SP_TZ_H

#include <stdbool.h>
#include <stddef.h>

/* One DST change as POSIX TZ "Mm.w.d/time": month 1-12, week 1-5 (5 =
 * the last one in the month), wday 0-6 (0 = Sunday), time in seconds
 * after local midnight (the start in standard time, the end in DST). */
struct tzchange {
	int month, week, wday;
	long time;
};

struct tzrule {
	char posix[128];                    /* the footer, e.g. "CET-1CEST,M3.5.0,M10.5.0/3" */
	long std_off;                       /* standard time, seconds east of UTC */
	bool dst;                           /* has a DST rule phones can express */
	bool inexact;                       /* a DST rule exists but is not Mm.w.d with a time in
					     * [0, 24h): phones get std_off without DST */
	long save;                          /* DST minus standard, seconds */
	struct tzchange start, end;
};

/* Resolve name ("Europe/Berlin") under $TZDIR or /usr/share/zoneinfo.
 * 1 found (r filled), 0 not a zone (err says why), never -1: an unreadable
 * or malformed file is "not a zone". */
int tz_lookup(const char *name, struct tzrule *r, char *err, size_t errlen);
/* Parse a POSIX TZ string (the TZif footer); 0 or -1.  For tests. */
int tz_parse_posix(const char *s, struct tzrule *r);

#endif
