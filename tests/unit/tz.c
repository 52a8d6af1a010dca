/*
 * tz.c: the timezone setting from IANA name to each vendor's encoding: the
 * POSIX footer parser, zone lookup (names refused before any path is built,
 * unknown and malformed files), the tz.* variables and time filters through
 * the shipped layouts for zones east, west, half-hour, southern and
 * without DST, and layout_warnings ("unsupported" header lines, zones no
 * phone can express).  Expected values are tzdata facts, not our output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "core/sipprov.h"
#include "core/tz.h"

static void make_effective(struct effective *e, const char *zone)
{
	memset(e, 0, sizeof(*e));
	sp_strlcpy(e->tenant.slug, "acme", sizeof(e->tenant.slug));
	sp_strlcpy(e->device.mac, "001565aabbcc", sizeof(e->device.mac));
	sp_strlcpy(e->version_label, "acme-main@v1", sizeof(e->version_label));
	e->settings = json_object();
	json_object_set_new(e->settings, "registrar", json_string("example.test"));
	if (zone)
		json_object_set_new(e->settings, "timezone", json_string(zone));
	struct account *a = &e->accounts[0];
	a->line = 1;
	sp_strlcpy(a->username, "alice", sizeof(a->username));
	sp_strlcpy(a->auth_username, "alice", sizeof(a->auth_username));
	sp_strlcpy(a->password, "pw", sizeof(a->password));
	e->naccounts = 1;
}

/* Render LAYOUT for zone; returns a static copy of the output. */
static const char *render_zone(const struct layouts *ls, const char *layout, const char *zone)
{
	static char text[SP_BODY_MAX];
	struct effective e;
	struct buf out;
	char err[SP_ERR_MAX] = "";
	make_effective(&e, zone);
	buf_init(&out, SP_BODY_MAX);
	int rc = render(layouts_find(ls, layout), &e, 0, &out, err, sizeof(err));
	sp_strlcpy(text, rc == 0 && out.data ? out.data : err, sizeof(text));
	buf_release(&out);
	json_decref(e.settings);
	return text;
}

static void has(const char *text, const char *needle, const char *what)
{
	ok(strstr(text, needle) != NULL, "%s: has '%.*s'", what, (int)strcspn(needle, "\n"), needle);
	if (!strstr(text, needle))
		printf("# got:\n%s\n", text);
}

static void hasnt(const char *text, const char *needle, const char *what)
{
	ok(strstr(text, needle) == NULL, "%s: no '%s'", what, needle);
}

static void parser(void)
{
	struct tzrule r;
	ok(tz_parse_posix("CET-1CEST,M3.5.0,M10.5.0/3", &r) == 0 && r.dst && !r.inexact, "CET parses");
	is_int(r.std_off, 3600, "CET: +1 h east");
	is_int(r.save, 3600, "CET: saves 1 h");
	ok(r.start.month == 3 && r.start.week == 5 && r.start.wday == 0 && r.start.time == 7200,
	   "CET: starts last Sunday of March 02:00 (default time)");
	ok(r.end.month == 10 && r.end.week == 5 && r.end.wday == 0 && r.end.time == 10800,
	   "CET: ends last Sunday of October 03:00");
	ok(tz_parse_posix("<+0530>-5:30", &r) == 0 && r.std_off == 19800 && !r.dst, "<+0530>-5:30: +5:30, no DST");
	ok(tz_parse_posix("NST3:30NDT,M3.2.0,M11.1.0", &r) == 0 && r.std_off == -12600 && r.save == 3600,
	   "NST3:30NDT: -3:30");
	ok(tz_parse_posix("IST-2IDT,M3.4.4/26,M10.5.0", &r) == 0 && r.inexact && !r.dst,
	   "a change at 26:00 is inexact: no DST rule offered");
	ok(tz_parse_posix("XXX3YYY,J60,J300", &r) == 0 && r.inexact, "Julian days are inexact");
	/* Dublin: IST (+1) is standard, GMT in winter is "negative DST"; phones
	 * take positive DST, so it becomes GMT with +1 h from the last Sunday of
	 * March 01:00 GMT to the last Sunday of October 02:00 IST. */
	ok(tz_parse_posix("IST-1GMT0,M10.5.0,M3.5.0/1", &r) == 0 && r.dst && !r.inexact, "negative DST parses");
	ok(r.std_off == 0 && r.save == 3600 && r.start.month == 3 && r.start.time == 3600 && r.end.month == 10 &&
	   r.end.time == 7200, "negative DST turned into GMT + 1 h summer time");
	const char *bad[] = { "", "C-1", "CET", "CET-1CEST", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
			      "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0,M10.5.0x", "CET-25",
			      "CET-1:60" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(tz_parse_posix(bad[i], &r) < 0, "refused: '%s'", bad[i]);
}

static void lookup(void)
{
	struct tzrule r;
	char err[SP_ERR_MAX];
	is_int(tz_lookup("Europe/Berlin", &r, err, sizeof(err)), 1, "Europe/Berlin found");
	is_str(r.posix, "CET-1CEST,M3.5.0,M10.5.0/3", "Europe/Berlin: footer");
	is_int(tz_lookup("America/New_York", &r, err, sizeof(err)), 1, "America/New_York found");
	ok(r.std_off == -18000 && r.start.month == 3 && r.start.week == 2 && r.end.month == 11 && r.end.week == 1,
	   "New York: -5 h, second Sunday of March to first Sunday of November");
	is_int(tz_lookup("UTC", &r, err, sizeof(err)), 1, "UTC found");
	ok(r.std_off == 0 && !r.dst, "UTC: 0, no DST");
	const char *names[] = { "../../etc/passwd", "/etc/passwd", "Europe/../Europe/Berlin", "Europe//Berlin",
				"-rf", "Europe/Berlin/", "Mars/Olympus_Mons", "Europe/Berlin City", "" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		err[0] = '\0';
		ok(tz_lookup(names[i], &r, err, sizeof(err)) == 0 && err[0], "not a zone: '%s' (%s)", names[i], err);
	}
	/* TZDIR: a v1 file, a file without footer, a garbage footer, a directory */
	char dir[] = "/tmp/sp-tz-XXXXXX", path[512];
	ok(mkdtemp(dir) != NULL, "temp TZDIR");
	static const char v1[] = "TZif\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
	struct { const char *name, *data; size_t len; } f[] = {
		{ "V1", v1, sizeof(v1) - 1 },
		{ "Junk", "TZif2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\nrm -rf /\n", 55 },
		{ "Good", "TZif2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\nEST5EDT,M3.2.0,M11.1.0\n", 68 },
	};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, f[i].name);
		FILE *fp = fopen(path, "wb");
		fwrite(f[i].data, 1, f[i].len, fp);
		fclose(fp);
	}
	snprintf(path, sizeof(path), "%s/Dir", dir);
	mkdir(path, 0700);
	setenv("TZDIR", dir, 1);
	is_int(tz_lookup("V1", &r, err, sizeof(err)), 0, "a v1 file (no footer) is not a zone");
	is_int(tz_lookup("Junk", &r, err, sizeof(err)), 0, "a garbage footer is not a zone");
	is_int(tz_lookup("Dir", &r, err, sizeof(err)), 0, "a directory is not a zone");
	ok(tz_lookup("Good", &r, err, sizeof(err)) == 1 && r.std_off == -18000, "TZDIR is honoured");
	/* Rules are kept per file: a tzdata upgrade (the file replaced) is
	 * read again, not served from what was read before, once the file's
	 * identity is checked again (at most a second later: TZ_RECHECK_MS). */
	snprintf(path, sizeof(path), "%s/Good", dir);
	FILE *up = fopen(path, "wb");
	fwrite(f[2].data, 1, 45, up);
	fputs("CST6CDT,M3.2.0,M11.1.0\n", up);
	fclose(up);
	usleep(1100 * 1000);
	ok(tz_lookup("Good", &r, err, sizeof(err)) == 1 && r.std_off == -21600, "a changed zone file is read again");
	ok(tz_lookup("Good", &r, err, sizeof(err)) == 1 && r.std_off == -21600 && r.dst, "and kept");
	/* The footer is looked for in the file's last 4 KiB only. */
	snprintf(path, sizeof(path), "%s/Long", dir);
	up = fopen(path, "wb");
	fwrite(f[2].data, 1, 45, up);
	for (int k = 0; k < 5000; k++)
		fputc('A', up);
	fputc('\n', up);
	fclose(up);
	ok(tz_lookup("Long", &r, err, sizeof(err)) == 0 && strstr(err, "cannot read its POSIX TZ rule"),
	   "a footer longer than 4 KiB is refused (%s)", err);
	unlink(path);
	unsetenv("TZDIR");
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, f[i].name);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/Dir", dir);
	rmdir(path);
	rmdir(dir);
}

static void vendors(const struct layouts *ls)
{
	const char *t;
	/* New York: second Sunday of March 02:00 to first Sunday of November 02:00 */
	t = render_zone(ls, "yealink", "America/New_York");
	has(t, "local_time.time_zone = -5\n", "yealink NY");
	has(t, "local_time.summer_time = 1\n", "yealink NY");
	has(t, "local_time.dst_time_type = 1\n", "yealink NY");
	has(t, "local_time.start_time = 3/2/7/2\n", "yealink NY");
	has(t, "local_time.end_time = 11/1/7/2\n", "yealink NY");
	has(t, "local_time.offset_time = 60\n", "yealink NY");
	t = render_zone(ls, "cisco", "America/New_York");
	has(t, "<Time_Zone ua=\"na\">GMT-05:00</Time_Zone>", "cisco NY");
	has(t, ">Yes</Daylight_Saving_Time_Enable>", "cisco NY");
	has(t, ">start=3/8/7/2:0:0;end=11/1/7/2:0:0;save=1:0:0</Daylight_Saving_Time_Rule>", "cisco NY");
	t = render_zone(ls, "polycom", "America/New_York");
	has(t, "tcpIpApp.sntp.gmtOffset=\"-18000\"", "polycom NY");
	has(t, "tcpIpApp.sntp.daylightSavings.enable=\"1\"", "polycom NY");
	has(t, "tcpIpApp.sntp.daylightSavings.start.month=\"3\"", "polycom NY");
	has(t, "tcpIpApp.sntp.daylightSavings.start.date=\"8\"", "polycom NY");
	has(t, "tcpIpApp.sntp.daylightSavings.start.dayOfWeek=\"1\"", "polycom NY (1 = Sunday)");
	has(t, "tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth=\"0\"", "polycom NY");
	has(t, "tcpIpApp.sntp.daylightSavings.stop.date=\"1\"", "polycom NY");
	has(t, "tcpIpApp.sntp.daylightSavings.stop.time=\"2\"", "polycom NY");
	t = render_zone(ls, "grandstream", "America/New_York");
	has(t, "<P64>customize</P64>", "grandstream NY");
	has(t, "<P246>EST5EDT,M3.2.0,M11.1.0</P246>", "grandstream NY");

	/* Kolkata: +5:30, no DST */
	t = render_zone(ls, "yealink", "Asia/Kolkata");
	has(t, "local_time.time_zone = +5:30\n", "yealink Kolkata");
	has(t, "local_time.summer_time = 0\n", "yealink Kolkata");
	hasnt(t, "local_time.start_time", "yealink Kolkata");
	t = render_zone(ls, "cisco", "Asia/Kolkata");
	has(t, ">GMT+05:30</Time_Zone>", "cisco Kolkata");
	has(t, ">No</Daylight_Saving_Time_Enable>", "cisco Kolkata");
	hasnt(t, "Daylight_Saving_Time_Rule", "cisco Kolkata");
	t = render_zone(ls, "polycom", "Asia/Kolkata");
	has(t, "tcpIpApp.sntp.gmtOffset=\"19800\"", "polycom Kolkata");
	has(t, "tcpIpApp.sntp.daylightSavings.enable=\"0\"", "polycom Kolkata");
	hasnt(t, "fixedDayEnable", "polycom Kolkata");

	/* St. John's: -3:30 */
	t = render_zone(ls, "yealink", "America/St_Johns");
	has(t, "local_time.time_zone = -3:30\n", "yealink St. John's");
	t = render_zone(ls, "cisco", "America/St_Johns");
	has(t, ">GMT-03:30</Time_Zone>", "cisco St. John's");

	/* Sydney: southern hemisphere, DST starts in October */
	t = render_zone(ls, "yealink", "Australia/Sydney");
	has(t, "local_time.time_zone = +10\n", "yealink Sydney");
	has(t, "local_time.start_time = 10/1/7/2\n", "yealink Sydney");
	has(t, "local_time.end_time = 4/1/7/3\n", "yealink Sydney");

	/* Jerusalem (26:00 rule): standard time only where a rule is needed,
	 * the POSIX string as is where the vendor takes one */
	t = render_zone(ls, "yealink", "Asia/Jerusalem");
	has(t, "local_time.time_zone = +2\n", "yealink Jerusalem");
	has(t, "local_time.summer_time = 0\n", "yealink Jerusalem");
	t = render_zone(ls, "grandstream", "Asia/Jerusalem");
	has(t, "<P246>IST-2IDT,M3.4.4/26,M10.5.0</P246>", "grandstream Jerusalem");

	/* unset and unknown: nothing about time */
	const char *none[] = { NULL, "Mars/Olympus_Mons" };
	for (int i = 0; i < 2; i++) {
		const char *z = none[i] ? none[i] : "unset";
		hasnt(render_zone(ls, "yealink", none[i]), "local_time.time_zone", z);
		hasnt(render_zone(ls, "cisco", none[i]), "Time_Zone", z);
		hasnt(render_zone(ls, "polycom", none[i]), "gmtOffset", z);
		hasnt(render_zone(ls, "grandstream", none[i]), "P246", z);
	}
	/* Vendors without a mapping write nothing about the zone */
	hasnt(render_zone(ls, "fanvil", "Europe/Berlin"), "Time Zone", "fanvil");
	/* Snom: utc_offset and dst, but never the zone-code setting 'timezone' */
	hasnt(render_zone(ls, "snom", "Europe/Berlin"), "<timezone", "snom");

	/* Snom's dst: the snom wiki (Settings/dst) example for Germany, byte for byte */
	t = render_zone(ls, "snom", "Europe/Berlin");
	has(t, "<utc_offset perm=\"\">3600</utc_offset>", "snom Berlin");
	has(t, "<dst perm=\"\">3600 03.05.07 02:00:00 10.05.07 03:00:00</dst>", "snom Berlin (wiki example)");
	t = render_zone(ls, "snom", "America/New_York");
	has(t, "<utc_offset perm=\"\">-18000</utc_offset>", "snom NY");
	has(t, "<dst perm=\"\">3600 03.02.07 02:00:00 11.01.07 02:00:00</dst>", "snom NY");
	t = render_zone(ls, "snom", "Asia/Kolkata");
	has(t, "<utc_offset perm=\"\">19800</utc_offset>", "snom Kolkata");
	has(t, "<dst perm=\"\"/>", "snom Kolkata: dst emptied");
	t = render_zone(ls, "snom", "Asia/Jerusalem");
	has(t, "<utc_offset perm=\"\">7200</utc_offset>", "snom Jerusalem: standard time");
	has(t, "<dst perm=\"\"/>", "snom Jerusalem: no expressible DST");
	hasnt(render_zone(ls, "snom", NULL), "utc_offset", "snom unset");
	hasnt(render_zone(ls, "snom", "Mars/Olympus_Mons"), "utc_offset", "snom unknown zone");
}

static const char *warn(const struct layouts *ls, const char *layout, const char *kv)
{
	static char text[8192];
	json_t *s = json_object();
	char buf[512];
	sp_strlcpy(buf, kv, sizeof(buf));
	char *save = NULL;
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		*eq = '\0';
		json_object_set_new(s, tok, json_string(eq + 1));
	}
	struct buf b;
	buf_init(&b, sizeof(text));
	layout_warnings(layouts_find(ls, layout), s, &b);
	sp_strlcpy(text, b.data ? b.data : "", sizeof(text));
	buf_release(&b);
	json_decref(s);
	return text;
}

static void warnings(const struct layouts *ls)
{
	is_str(warn(ls, "cisco", "srtp=optional"),
	       "layout 'cisco' cannot express srtp=optional: no per-line \"offer SRTP but accept RTP\" setting in "
	       "the references (only Secure_Call_Setting yes/no)\n", "cisco srtp=optional: named, with why");
	is_str(warn(ls, "cisco", "srtp=required"), "", "cisco srtp=required: no warning");
	has(warn(ls, "cisco", "server=a.test outbound_proxy=b.test"),
	    "layout 'cisco' cannot express server=a.test with outbound_proxy set: one next-hop slot", "cisco server");
	is_str(warn(ls, "cisco", "server=a.test"), "", "cisco server alone: no warning");
	is_str(warn(ls, "polycom", "server=a.test outbound_proxy=b.test"), "", "polycom keeps both");
	has(warn(ls, "fanvil", "srtp=off"), "layout 'fanvil' cannot express srtp=off:", "fanvil srtp (any value)");
	has(warn(ls, "fanvil", "timezone=Europe/Berlin"), "layout 'fanvil' cannot express timezone=Europe/Berlin:",
	    "fanvil timezone");
	has(warn(ls, "snom", "dns_mode=srv"), "layout 'snom' cannot express dns_mode=srv:", "snom dns_mode=srv");
	is_str(warn(ls, "snom", "dns_mode=a"), "", "snom dns_mode=a: no warning");
	const char *lp = warn(ls, "linphone", "timezone=UTC ntp_server=n.test backup_server=b.test dns_mode=srv "
				  "keepalive=30 srtp=required");
	const char *keys[] = { "timezone", "ntp_server", "backup_server", "dns_mode", "keepalive", "srtp" };
	for (int i = 0; i < 6; i++) {
		char want[64];
		snprintf(want, sizeof(want), "layout 'linphone' cannot express %s=", keys[i]);
		has(lp, want, "linphone device settings");
	}
	is_str(warn(ls, "json", "timezone=Mars/Base srtp=optional server=a outbound_proxy=b"), "",
	       "json writes every setting as stored");
	has(warn(ls, "yealink", "timezone=Mars/Olympus_Mons"), "layout 'yealink' renders no time zone: timezone "
	    "'Mars/Olympus_Mons' is not in the time zone database", "unknown zone");
	has(warn(ls, "yealink", "timezone=Asia/Jerusalem"), "layout 'yealink' renders timezone=Asia/Jerusalem as "
	    "standard time (UTC+02:00) without DST", "inexact zone, rule vendor");
	is_str(warn(ls, "grandstream", "timezone=Asia/Jerusalem"), "", "inexact zone, POSIX vendor: no warning");
	is_str(warn(ls, "fanvil", "timezone=Mars/Olympus_Mons") + strlen("layout 'fanvil' cannot express "),
	       "timezone=Mars/Olympus_Mons: Time Zone is a per-series code (W: quarter-hours east on X/V/i/W/H, a "
	       "table index on C58/C62) and no reference read gives its key in this text format\n",
	       "unsupported layout: one warning, not two");
}

static void header(void)
{
	const char *head = "name: x\nformat: kv\ncontent-type: text/plain\nnotify-event: check-sync\nroute: {mac}.cfg\n";
	struct { const char *line, *msg; } bad[] = {
		{ "unsupported bogus: why", "not a setting key" },
		{ "unsupported srtp=: why", "not a setting key" },
		{ "unsupported srtp:", "needs a reason" },
		{ "unsupported srtp if: why", "KEY[=VALUE] [if OTHER[=VALUE]]" },
		{ "unsupported srtp unless server: why", "KEY[=VALUE] [if OTHER[=VALUE]]" },
		{ "unsupported srtp if nope: why", "not a setting key" },
	};
	char text[1024], err[SP_ERR_MAX];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s\n---\n{{version}}\n", head, bad[i].line);
		err[0] = '\0';
		struct layout *l = layout_parse_mem("x.cfg", text, strlen(text), err, sizeof(err));
		ok(!l && strstr(err, bad[i].msg) && strstr(err, "x.cfg:6:"), "refused '%s': %s", bad[i].line, err);
		layout_free(l);
	}
	snprintf(text, sizeof(text), "%sunsupported srtp=optional if transport=udp: because\n---\n{{version}}\n", head);
	struct layout *l = layout_parse_mem("x.cfg", text, strlen(text), err, sizeof(err));
	ok(l != NULL, "KEY=VALUE if OTHER=VALUE parses");
	json_t *s = json_pack("{ssss}", "srtp", "optional", "transport", "udp");
	struct buf b;
	buf_init(&b, 4096);
	layout_warnings(l, s, &b);
	is_str(b.data ? b.data : "", "layout 'x' cannot express srtp=optional with transport set: because\n",
	       "condition met: warned");
	json_object_set_new(s, "transport", json_string("tls"));
	b.len = 0;
	if (b.data)
		b.data[0] = '\0';
	layout_warnings(l, s, &b);
	is_str(b.data ? b.data : "", "", "condition not met: silent");
	buf_release(&b);
	json_decref(s);
	layout_free(l);
}

int main(void)
{
	char err[SP_ERR_MAX];
	const char *d = getenv("SIPPROV_TEMPLATES");
	struct layouts *ls = layouts_load(d && *d ? d : "templates", err, sizeof(err));
	ok(ls != NULL, "layouts load (%s)", ls ? "ok" : err);
	if (!ls)
		return tap_done();
	parser();
	lookup();
	vendors(ls);
	warnings(ls);
	header();
	layouts_free(ls);
	return tap_done();
}
