/*
 * tz.c: IANA zone name -> the rule phones take (see tz.h).  Reads only the
 * POSIX TZ footer of a TZif v2+ file (RFC 8536 section 3.3), which states
 * the rule in force now and for the future; it never walks the transition
 * table and never consults the clock, so a render depends only on the
 * name and the installed tzdata.  Names are checked before any path is built.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tz.h"
#include "sipprov.h"

#define TZ_FILE_MAX (256 * 1024)
#define TZ_TAIL     4096        /* the footer is read from this many bytes at the end */

/* "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC":
 * [A-Za-z0-9_+-] components separated by single '/', none starting with '.'
 * or '-' (no "..", no absolute path, no option-like name). */
static bool tz_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 64)
		return false;
	for (const char *p = n; *p; p++) {
		bool start = p == n || p[-1] == '/';
		if (*p == '/') {
			if (start || p[1] == '\0')
				return false;
			continue;
		}
		if (start && (*p == '-' || *p == '+'))
			return false;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '+'))
			return false;
	}
	return true;
}

/* POSIX TZ grammar pieces; each advances *s or returns -1. */
static int tz_abbr(const char **s)
{
	const char *p = *s;
	if (*p == '<') {
		const char *q = strchr(p, '>');
		if (!q || q - p < 4)
			return -1;
		*s = q + 1;
		return 0;
	}
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		p++;
	if (p - *s < 3)
		return -1;
	*s = p;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h; seconds into *out. */
static int tz_hms(const char **s, int max_h, long *out)
{
	const char *p = *s;
	int sign = 1;
	long v[3] = { 0, 0, 0 };
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (*p != ':')
				break;
			p++;
		}
		if (*p < '0' || *p > '9')
			return -1;
		int nd = 0;
		while (*p >= '0' && *p <= '9' && nd < 3) {
			v[i] = v[i] * 10 + (*p++ - '0');
			nd++;
		}
		if ((i == 0 && v[0] > max_h) || (i > 0 && (nd != 2 || v[i] > 59)))
			return -1;
	}
	*out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
	*s = p;
	return 0;
}

/* ",Mm.w.d[/time]" (or a Julian form, which only sets *julian). */
static int tz_change(const char **s, struct tzchange *c, bool *julian)
{
	const char *p = *s;
	long m, w, d;
	char *end;
	c->time = 7200;                     /* POSIX default 02:00:00 */
	if (*p == 'M') {
		m = strtol(p + 1, &end, 10);
		if (*end != '.' || m < 1 || m > 12)
			return -1;
		w = strtol(end + 1, &end, 10);
		if (*end != '.' || w < 1 || w > 5)
			return -1;
		d = strtol(end + 1, &end, 10);
		if (d < 0 || d > 6 || end == p)
			return -1;
		c->month = (int)m;
		c->week = (int)w;
		c->wday = (int)d;
		p = end;
	} else {
		if (*p == 'J')
			p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
		*julian = true;
	}
	if (*p == '/') {
		p++;
		if (tz_hms(&p, 167, &c->time) < 0)
			return -1;
	}
	*s = p;
	return 0;
}

int tz_parse_posix(const char *s, struct tzrule *r)
{
	const char *p = s;
	long off, dst_off;
	bool julian = false;
	memset(r, 0, sizeof(*r));
	if (sp_strlcpy(r->posix, s, sizeof(r->posix)) >= sizeof(r->posix))
		return -1;
	if (tz_abbr(&p) < 0 || tz_hms(&p, 24, &off) < 0)
		return -1;
	r->std_off = -off;                  /* POSIX counts west of UTC */
	if (*p == '\0')
		return 0;
	if (tz_abbr(&p) < 0)
		return -1;
	dst_off = r->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if (tz_hms(&p, 24, &off) < 0)
			return -1;
		dst_off = -off;
	}
	/* A DST name with no rule: POSIX leaves it to the implementation;
	 * tzdata never writes one.  Refuse rather than guess. */
	if (*p != ',')
		return -1;
	p++;
	if (tz_change(&p, &r->start, &julian) < 0 || *p++ != ',' || tz_change(&p, &r->end, &julian) < 0 || *p)
		return -1;
	r->save = dst_off - r->std_off;
	/* "Negative DST" (Europe/Dublin: IST-1GMT0,M10.5.0,M3.5.0/1): phones
	 * take a summer offset added to a standard one, so turn it around.
	 * The times stay right: each was given in the offset in force before
	 * its change, which is what the swapped rule needs too. */
	if (r->save < 0) {
		struct tzchange t = r->start;
		r->std_off = dst_off;
		r->save = -r->save;
		r->start = r->end;
		r->end = t;
	}
	/* Phones take month/week/weekday/hour in the local day: Julian days,
	 * times outside the day (v3 footers: "M3.4.4/26") and all-year DST
	 * are not expressible. */
	bool in_day = r->start.time >= 0 && r->start.time < 86400 && r->end.time >= 0 && r->end.time < 86400;
	if (julian || !in_day || r->save == 0) {
		r->inexact = true;
		memset(&r->start, 0, sizeof(r->start));
		memset(&r->end, 0, sizeof(r->end));
		r->save = 0;
		return 0;
	}
	r->dst = true;
	return 0;
}

static const char *tz_dir(void)
{
	const char *d = getenv("TZDIR");
	return d && *d == '/' ? d : "/usr/share/zoneinfo";
}

/* Rules already read, keyed by the file's path and identity (device, inode,
 * size, mtime): a lookup costs no open, two reads and 256 KiB buffer (4.9%
 * of sipprovd's CPU in a boot storm, perf), and the identity is checked
 * again (a stat) at most every TZ_RECHECK_MS: one stat per render was
 * another 2.2% in a storm (perf, 10,000 phones), a path walk under
 * /usr/share/zoneinfo each time.  So a tzdata upgrade on disk is seen
 * within TZ_RECHECK_MS.  Zones in use are few; when the table is full the
 * oldest slot is reused. */
#define TZ_CACHE 32
#define TZ_RECHECK_MS 1000
static struct tz_cached {
	char path[512];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int64_t checked_ms;                 /* sp_mono_ms: when the identity last matched */
	struct tzrule r;
} tz_cache[TZ_CACHE];
static size_t tz_cache_next;
static pthread_mutex_t tz_cache_mu = PTHREAD_MUTEX_INITIALIZER;

static bool tz_same(const struct tz_cached *c, const char *path, const struct stat *st)
{
	return c->path[0] && c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
	       c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       !strcmp(c->path, path);
}

/* Read the footer of the TZif file at path (size bytes): "TZif" and a
 * version >= 2 at the start, "\n<POSIX TZ>\n" at the end.  1 or 0 (err). */
static int tz_read(const char *path, int fd, off_t size, struct tzrule *r, char *err, size_t errlen)
{
	char head[5], tail[TZ_TAIL + 1];
	size_t n = (size_t)size, t = n < TZ_TAIL ? n : TZ_TAIL;
	if (n < 44 || n > TZ_FILE_MAX || pread(fd, head, 5, 0) != 5 || memcmp(head, "TZif", 4) || head[4] < '2' ||
	    pread(fd, tail, t, (off_t)(n - t)) != (ssize_t)t || tail[t - 1] != '\n') {
		sp_err(err, errlen, "'%s' is not a TZif v2+ file with a POSIX rule", path);
		return 0;
	}
	/* The binary part holds NULs: search back from the end for the
	 * footer's opening newline, which lies past the 44-byte header. */
	tail[t - 1] = '\0';
	size_t i = t - 1;
	while (i > 0 && tail[i - 1] != '\n')
		i--;
	if (i == 0 || n - t + i <= 44 || tz_parse_posix(tail + i, r) < 0) {
		sp_err(err, errlen, "'%s': cannot read its POSIX TZ rule", path);
		return 0;
	}
	return 1;
}

/* The cached rule for path: without a stat when its identity matched less
 * than TZ_RECHECK_MS ago (st NULL), else when st names the same file. */
static bool tz_cached_rule(const char *path, const struct stat *st, int64_t now, struct tzrule *r)
{
	bool found = false;
	pthread_mutex_lock(&tz_cache_mu);
	for (size_t i = 0; i < TZ_CACHE && !found; i++) {
		struct tz_cached *c = &tz_cache[i];
		bool recent = c->path[0] && now - c->checked_ms < TZ_RECHECK_MS && !strcmp(c->path, path);
		if (st ? !tz_same(c, path, st) : !recent)
			continue;
		if (st)
			c->checked_ms = now;
		*r = c->r;
		found = true;
	}
	pthread_mutex_unlock(&tz_cache_mu);
	return found;
}

int tz_lookup(const char *name, struct tzrule *r, char *err, size_t errlen)
{
	char path[512];
	struct stat st;
	memset(r, 0, sizeof(*r));
	if (!tz_name_ok(name)) {
		sp_err(err, errlen, "'%s' is not an IANA time zone name", name);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", tz_dir(), name);
	int64_t now = sp_mono_ms();
	if (tz_cached_rule(path, NULL, now, r))
		return 1;
	if (stat(path, &st) < 0) {
		sp_err(err, errlen, "'%s' is not in the time zone database (%s)", name, tz_dir());
		return 0;
	}
	if (tz_cached_rule(path, &st, now, r))
		return 1;
	int fd = S_ISREG(st.st_mode) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		sp_err(err, errlen, "'%s' is not a TZif v2+ file with a POSIX rule", path);
		return 0;
	}
	/* The identity that keys the cache is the open file's own. */
	int found = fstat(fd, &st) == 0 && tz_read(path, fd, st.st_size, r, err, errlen);
	close(fd);
	if (found) {
		pthread_mutex_lock(&tz_cache_mu);
		struct tz_cached *c = &tz_cache[tz_cache_next++ % TZ_CACHE];
		sp_strlcpy(c->path, path, sizeof(c->path));
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->size = st.st_size;
		c->mtime = st.st_mtim;
		c->checked_ms = now;
		c->r = *r;
		pthread_mutex_unlock(&tz_cache_mu);
	}
	return found;
}
