/*
 * placeholder.c: the layout language shared by every output format: the
 * variables and filters of "{{var|filter:arg}}" (two tables: add an entry to
 * add one), conditions, line-block directives and N-in-names.  It compiles
 * strings and expands them against an effective config; it does not parse
 * layout files, match routes or know any output format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placeholder.h"
#include "sipprov.h"
#include "tz.h"

/* ---- variables ---- */

struct lvar_def {
	const char *name;
	bool line;                          /* only inside a line block; "" outside one */
	const char *(*get)(const struct rctx *c, char *tmp, size_t tmplen);
};

static const char *lv_mac(const struct rctx *c, char *tmp, size_t tmplen)
{
	return c->e->device.mac;
}

static const char *lv_mac_upper(const struct rctx *c, char *tmp, size_t tmplen)
{
	size_t i = 0;
	for (const char *m = c->e->device.mac; *m && i + 1 < tmplen; m++)
		tmp[i++] = *m >= 'a' && *m <= 'f' ? (char)(*m - 32) : *m;
	tmp[i] = '\0';
	return tmp;
}

static const char *lv_model(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->device.model; }
static const char *lv_label(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->device.label; }
static const char *lv_tenant(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->tenant.slug; }
static const char *lv_version(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->version_label; }
static const char *lv_template(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->template_name; }

/* URLs on public_url (effective_set_public_url); "" while it is unset. */
static const char *lv_public_url(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->url.base; }
static const char *lv_pb_url(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->url.phonebook; }
static const char *lv_pb_dir(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->url.phonebook_dir; }
static const char *lv_fw_url(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->url.firmware; }
static const char *lv_fw_dir(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->url.firmware_dir; }

/* Web interface passwords (effective_load: the device's, else the tenant's). */
static const char *lv_admin_pw(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->admin_password; }
static const char *lv_user_pw(const struct rctx *c, char *tmp, size_t tmplen) { return c->e->user_password; }

/* key.*: line key N's fields inside an "each key" block; "" outside one. */
static const char *lv_key_field(const struct rctx *c, char *tmp, size_t tmplen, const char *field)
{
	char k[32];
	if (c->key <= 0)
		return "";
	linekey_name(k, sizeof(k), c->module, c->key, field);
	return effective_get(c->e, k);
}
static const char *lv_key_n(const struct rctx *c, char *tmp, size_t tmplen)
{
	if (c->key <= 0)
		return "";
	return sp_ltoa(c->key, tmp, tmplen);
}
/* key.module: M inside an "each ext" block ("" elsewhere). */
static const char *lv_key_module(const struct rctx *c, char *tmp, size_t tmplen)
{
	if (c->module <= 0)
		return "";
	return sp_ltoa(c->module, tmp, tmplen);
}
/* key.i: N - 1, for vendors that count their keys from 0 (Snom's fkey idx). */
static const char *lv_key_i(const struct rctx *c, char *tmp, size_t tmplen)
{
	if (c->key <= 0)
		return "";
	return sp_ltoa(c->key - 1, tmp, tmplen);
}
static const char *lv_key_type(const struct rctx *c, char *tmp, size_t tmplen) { return lv_key_field(c, tmp, tmplen, "type"); }
static const char *lv_key_value(const struct rctx *c, char *tmp, size_t tmplen) { return lv_key_field(c, tmp, tmplen, "value"); }
static const char *lv_key_label(const struct rctx *c, char *tmp, size_t tmplen) { return lv_key_field(c, tmp, tmplen, "label"); }
static const char *lv_key_line(const struct rctx *c, char *tmp, size_t tmplen) { return lv_key_field(c, tmp, tmplen, "line"); }

static const char *lv_line_n(const struct rctx *c, char *tmp, size_t tmplen)
{
	return sp_ltoa(c->a->line, tmp, tmplen);
}

static const char *lv_line_i(const struct rctx *c, char *tmp, size_t tmplen)
{
	return sp_ltoa(c->i, tmp, tmplen);
}

static const char *lv_display(const struct rctx *c, char *tmp, size_t tmplen) { return c->a->display_name; }
static const char *lv_ext(const struct rctx *c, char *tmp, size_t tmplen) { return c->a->extension; }
static const char *lv_user(const struct rctx *c, char *tmp, size_t tmplen) { return c->a->username; }
static const char *lv_auth(const struct rctx *c, char *tmp, size_t tmplen) { return c->a->auth_username; }
static const char *lv_pass(const struct rctx *c, char *tmp, size_t tmplen) { return c->a->password; }
static const char *lv_token(const struct rctx *c, char *tmp, size_t tmplen) { return c->a->token; }

/* tz.*: the timezone setting resolved once per render (tz.c); "" when
 * unset, unknown, or (for the change fields) when the zone has no DST a
 * phone can express. */
static const struct tzrule *lv_tz(const struct rctx *c)
{
	if (!c->tz)
		return NULL;
	if (c->tz->state == 0) {
		const char *name = effective_get(c->e, "timezone");
		c->tz->state = *name && tz_lookup(name, c->tz->r, NULL, 0) == 1 ? 1 : -1;
	}
	return c->tz->state == 1 ? c->tz->r : NULL;
}

static const char *lv_tz_num(char *tmp, size_t tmplen, bool ok, long v)
{
	if (!ok)
		return "";
	return sp_ltoa(v, tmp, tmplen);
}

static const char *lv_tz_posix(const struct rctx *c, char *tmp, size_t tmplen)
{
	const struct tzrule *r = lv_tz(c);
	return r ? r->posix : "";
}

static const char *lv_tz_offset(const struct rctx *c, char *tmp, size_t tmplen)
{
	const struct tzrule *r = lv_tz(c);
	return lv_tz_num(tmp, tmplen, r, r ? r->std_off : 0);
}

static const char *lv_tz_dst(const struct rctx *c, char *tmp, size_t tmplen)
{
	const struct tzrule *r = lv_tz(c);
	return !r ? "" : r->dst ? "1" : "0";
}

static const char *lv_tz_save(const struct rctx *c, char *tmp, size_t tmplen)
{
	const struct tzrule *r = lv_tz(c);
	return lv_tz_num(tmp, tmplen, r && r->dst, r ? r->save : 0);
}

/* One field of the start (end = false) or end change. */
enum tzf { TZF_MONTH, TZF_WEEK, TZF_WDAY, TZF_TIME, TZF_MDAY, TZF_LAST };

static const char *lv_tz_change(const struct rctx *c, char *tmp, size_t tmplen, bool end, enum tzf f)
{
	const struct tzrule *r = lv_tz(c);
	if (!r || !r->dst)
		return "";
	const struct tzchange *ch = end ? &r->end : &r->start;
	long v = 0;
	switch (f) {
	case TZF_MONTH: v = ch->month; break;
	case TZF_WEEK: v = ch->week; break;
	case TZF_WDAY: v = ch->wday; break;
	case TZF_TIME: v = ch->time; break;
	/* The first day the change can fall on ("weekday on or after"),
	 * -1 for the last one in the month (Cisco's and Polycom's form). */
	case TZF_MDAY: v = ch->week == 5 ? -1 : (ch->week - 1) * 7 + 1; break;
	case TZF_LAST: v = ch->week == 5; break;
	}
	return lv_tz_num(tmp, tmplen, true, v);
}

#define LV_TZ_CHANGE(fn, end, f) \
	static const char *fn(const struct rctx *c, char *tmp, size_t tmplen) \
	{ return lv_tz_change(c, tmp, tmplen, end, f); }
LV_TZ_CHANGE(lv_tzs_month, false, TZF_MONTH)
LV_TZ_CHANGE(lv_tzs_week, false, TZF_WEEK)
LV_TZ_CHANGE(lv_tzs_wday, false, TZF_WDAY)
LV_TZ_CHANGE(lv_tzs_time, false, TZF_TIME)
LV_TZ_CHANGE(lv_tzs_mday, false, TZF_MDAY)
LV_TZ_CHANGE(lv_tzs_last, false, TZF_LAST)
LV_TZ_CHANGE(lv_tze_month, true, TZF_MONTH)
LV_TZ_CHANGE(lv_tze_week, true, TZF_WEEK)
LV_TZ_CHANGE(lv_tze_wday, true, TZF_WDAY)
LV_TZ_CHANGE(lv_tze_time, true, TZF_TIME)
LV_TZ_CHANGE(lv_tze_mday, true, TZF_MDAY)
LV_TZ_CHANGE(lv_tze_last, true, TZF_LAST)

/* Device variables first, then line.*: the "unknown variable" message lists
 * them in this order.  Any other valid name is a setting key. */
static const struct lvar_def lvars[] = {
	{ "mac", false, lv_mac }, { "MAC", false, lv_mac_upper }, { "model", false, lv_model },
	{ "label", false, lv_label }, { "tenant", false, lv_tenant }, { "version", false, lv_version },
	{ "template", false, lv_template },
	{ "public_url", false, lv_public_url }, { "phonebook_url", false, lv_pb_url },
	{ "phonebook_dir", false, lv_pb_dir }, { "firmware_url", false, lv_fw_url },
	{ "firmware_dir", false, lv_fw_dir },
	{ "admin_password", false, lv_admin_pw }, { "user_password", false, lv_user_pw },
	{ "key.n", false, lv_key_n }, { "key.i", false, lv_key_i }, { "key.module", false, lv_key_module }, { "key.type", false, lv_key_type }, { "key.value", false, lv_key_value },
	{ "key.label", false, lv_key_label }, { "key.line", false, lv_key_line },
	{ "tz.posix", false, lv_tz_posix }, { "tz.offset", false, lv_tz_offset }, { "tz.dst", false, lv_tz_dst },
	{ "tz.save", false, lv_tz_save },
	{ "tz.start.month", false, lv_tzs_month }, { "tz.start.week", false, lv_tzs_week },
	{ "tz.start.wday", false, lv_tzs_wday }, { "tz.start.time", false, lv_tzs_time },
	{ "tz.start.mday", false, lv_tzs_mday }, { "tz.start.last", false, lv_tzs_last },
	{ "tz.end.month", false, lv_tze_month }, { "tz.end.week", false, lv_tze_week },
	{ "tz.end.wday", false, lv_tze_wday }, { "tz.end.time", false, lv_tze_time },
	{ "tz.end.mday", false, lv_tze_mday }, { "tz.end.last", false, lv_tze_last },
	{ "line.n", true, lv_line_n }, { "line.i", true, lv_line_i },
	{ "line.display_name", true, lv_display }, { "line.extension", true, lv_ext },
	{ "line.username", true, lv_user }, { "line.auth_username", true, lv_auth },
	{ "line.password", true, lv_pass }, { "line.token", true, lv_token },
};
#define NLVARS (sizeof(lvars) / sizeof(lvars[0]))

static int lvar_resolve(struct lscope *sc, const char *name, bool in_line, const struct lvar_def **var,
			char **key, int line, char *err, size_t errlen)
{
	for (size_t i = 0; i < NLVARS; i++) {
		if (strcmp(lvars[i].name, name))
			continue;
		if (lvars[i].line && !in_line)
			return sp_err(err, errlen, "%s:%d: '%s' used outside a line block (sp-each/sp-line)",
				      sc->file, line, name);
		*var = &lvars[i];
		if (lvars[i].get == lv_version)
			sc->names_version = true;
		if (strncmp(name, "tz.", 3) == 0)
			sc->uses_tz = true;
		if (strncmp(name, "tz.", 3) == 0 && strcmp(name, "tz.posix") && strcmp(name, "tz.offset"))
			sc->uses_tz_rule = true;
		*key = xstrdup(name);
		return 0;
	}
	if (!setting_key_ok(name)) {
		char dev[512] = "", ln[256] = "";
		for (size_t i = 0; i < NLVARS; i++) {
			char *to = lvars[i].line ? ln : dev;
			const char *n = lvars[i].line ? lvars[i].name + strlen("line.") : lvars[i].name;
			size_t o = strlen(to);
			size_t cap = lvars[i].line ? sizeof(ln) : sizeof(dev);
			snprintf(to + o, cap - o, "%s%s", o ? " " : "", n);
		}
		return sp_err(err, errlen, "%s:%d: unknown variable '%s' (device: %s; line.*: %s; or a setting key)",
			      sc->file, line, name, dev, ln);
	}
	*var = NULL;
	*key = xstrdup(name);
	return 0;
}

/* The value of a variable (NULL: the setting key); tmp holds computed ones. */
static const char *lvar_value(const struct rctx *c, const struct lvar_def *var, const char *key, char *tmp,
			      size_t tmplen)
{
	if (!var)
		return effective_get(c->e, key);
	if (var->line && !c->a)
		return "";
	return var->get(c, tmp, tmplen);
}

/* ---- filters ---- */

enum lfarg { LFA_NONE, LFA_VAR, LFA_TEXT };

/* apply: in -> out (outlen bytes, never aliasing in); 0 or -1 with c->err. */
struct lfilter_def {
	const char *name;
	enum lfarg arg;
	int (*apply)(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in,
		     char *out, size_t outlen);
};

static int lf_put(struct rctx *c, const struct lseg *g, const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);
	if (n >= outlen)
		return sp_err(c->err, c->errlen, "value of '%s' too long", g->key);
	memmove(out, s, n + 1);
	return 0;
}

static int lf_or(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		 size_t outlen)
{
	char tmp[32];
	return lf_put(c, g, *in ? in : lvar_value(c, f->var, f->key, tmp, sizeof(tmp)), out, outlen);
}

static int lf_default(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		      size_t outlen)
{
	return lf_put(c, g, *in ? in : f->text, out, outlen);
}

/* Escape '"' and '\' for a SIP quoted string. */
static int lf_sipq(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		   size_t outlen)
{
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		if (n + 3 >= outlen)
			return sp_err(c->err, c->errlen, "value of '%s' too long", g->key);
		if (*p == '"' || *p == '\\')
			out[n++] = '\\';
		out[n++] = *p;
	}
	out[n] = '\0';
	return 0;
}

static int lf_upper(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		    size_t outlen)
{
	size_t n = 0;
	for (; in[n] && n + 1 < outlen; n++)
		out[n] = in[n] >= 'a' && in[n] <= 'z' ? (char)(in[n] - 32) : in[n];
	out[n] = '\0';
	return 0;
}

static int lf_lower(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		    size_t outlen)
{
	size_t n = 0;
	for (; in[n] && n + 1 < outlen; n++)
		out[n] = in[n] >= 'A' && in[n] <= 'Z' ? (char)(in[n] + 32) : in[n];
	out[n] = '\0';
	return 0;
}

/* Seconds to minutes, rounded up; "" stays "". */
static int lf_minutes(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		      size_t outlen)
{
	long s;
	if (!*in)
		return lf_put(c, g, in, out, outlen);
	if (sp_parse_int(in, 0, 100000000, &s) < 0)
		return sp_err(c->err, c->errlen, "value '%s' of '%s' is not a number of seconds", in, g->key);
	sp_ltoa((s + 59) / 60, out, outlen);
	return 0;
}

/* Seconds (tz.*) in the shapes phones take; "" stays "".  hours: whole
 * hours ("7200" -> "2"); hm: signed hours and minutes when not whole
 * ("3600" -> "+1", "19800" -> "+5:30", "-12600" -> "-3:30"); hhmm:
 * "+01:00"; hms: "2:0:0" (Cisco's rule syntax, no padding); hhmmss:
 * "02:00:00" (Snom's dst syntax). */
enum lf_time { LFT_HOURS, LFT_HM, LFT_HHMM, LFT_HMS, LFT_HHMMSS };

/* v (>= 0) in decimal, at least two digits when pad ("%02ld"): without
 * snprintf, as each render of a phone with a time zone formats four. */
static void lf_num(long v, bool pad, char out[24])
{
	out[0] = '0';
	sp_ltoa(v, out + (pad && v < 10), 23);
}

static int lf_time(struct rctx *c, const struct lseg *g, const char *in, char *out, size_t outlen, enum lf_time k)
{
	long v;
	if (!*in)
		return lf_put(c, g, in, out, outlen);
	if (sp_parse_int(in, -604800, 604800, &v) < 0)
		return sp_err(c->err, c->errlen, "value '%s' of '%s' is not a number of seconds", in, g->key);
	const char *sign = v < 0 ? "-" : "+", *neg = v < 0 ? "-" : "";
	long a = v < 0 ? -v : v, mins = a / 60 % 60;
	bool pad = k == LFT_HHMM || k == LFT_HHMMSS;    /* "%02ld" */
	char h[24], m[24], sec[24];
	lf_num(a / 3600, pad, h);
	lf_num(mins, pad || k == LFT_HM, m);
	lf_num(a % 60, pad, sec);
	if (k == LFT_HOURS)
		sp_cat(out, outlen, neg, h, (char *)NULL);
	else if (k == LFT_HM && mins == 0)
		sp_cat(out, outlen, sign, h, (char *)NULL);
	else if (k == LFT_HM || k == LFT_HHMM)
		sp_cat(out, outlen, sign, h, ":", m, (char *)NULL);
	else
		sp_cat(out, outlen, neg, h, ":", m, ":", sec, (char *)NULL);
	return 0;
}

#define LF_TIME(fn, k) \
	static int fn(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, \
		      char *out, size_t outlen) \
	{ return lf_time(c, g, in, out, outlen, k); }
LF_TIME(lf_hours, LFT_HOURS)
LF_TIME(lf_hm, LFT_HM)
LF_TIME(lf_hhmm, LFT_HHMM)
LF_TIME(lf_hms, LFT_HMS)
LF_TIME(lf_hhmmss, LFT_HHMMSS)

/* "host", "host:port", "[v6]" or "[v6]:port": the host part, or the port
 * part ("" when none; a bare IPv6 address has no port). */
static const char *lf_port_colon(const char *in)
{
	const char *colon = in[0] == '[' ? strstr(in, "]:") : strchr(in, ':');
	if (colon && in[0] == '[')
		return colon + 1;
	if (colon && strchr(colon + 1, ':'))
		return NULL;
	return colon;
}

static int lf_host(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		   size_t outlen)
{
	const char *colon = lf_port_colon(in);
	size_t n = colon ? (size_t)(colon - in) : strlen(in);
	if (n >= outlen)
		return sp_err(c->err, c->errlen, "value of '%s' too long", g->key);
	memcpy(out, in, n);
	out[n] = '\0';
	return 0;
}

static int lf_port(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		   size_t outlen)
{
	const char *colon = lf_port_colon(in);
	return lf_put(c, g, colon ? colon + 1 : "", out, outlen);
}

/* URLs: "https://h/p" -> scheme "https", noscheme "h/p" (Grandstream's
 * host/path fields); a value without "scheme://" is returned unchanged by
 * noscheme and gives "" for scheme. */
static int lf_scheme(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		     size_t outlen)
{
	const char *sep = strstr(in, "://");
	size_t n = sep ? (size_t)(sep - in) : 0;
	if (n >= outlen)
		return sp_err(c->err, c->errlen, "value of '%s' too long", g->key);
	memcpy(out, in, n);
	out[n] = '\0';
	return 0;
}

static int lf_noscheme(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		       size_t outlen)
{
	const char *sep = strstr(in, "://");
	return lf_put(c, g, sep ? sep + 3 : in, out, outlen);
}

static int lf_map(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in, char *out,
		  size_t outlen)
{
	const struct lmap *m = f->map;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->keys[i], in) == 0)
			return lf_put(c, g, m->vals[i], out, outlen);
	if (m->dflt)
		return lf_put(c, g, m->dflt, out, outlen);
	return sp_err(c->err, c->errlen, "value '%s' of '%s' has no entry in map '%s' of layout '%s'",
		      in, g->key, m->name, c->layout);
}

/* The "unknown filter" message lists them in this order.  A name that is
 * none of these may name a map of the layout. */
static const struct lfilter_def lfilters[] = {
	{ "or", LFA_VAR, lf_or },
	{ "default", LFA_TEXT, lf_default },
	{ "sipq", LFA_NONE, lf_sipq },
	{ "upper", LFA_NONE, lf_upper },
	{ "lower", LFA_NONE, lf_lower },
	{ "minutes", LFA_NONE, lf_minutes },
	{ "host", LFA_NONE, lf_host },
	{ "port", LFA_NONE, lf_port },
	{ "scheme", LFA_NONE, lf_scheme },
	{ "noscheme", LFA_NONE, lf_noscheme },
	{ "hours", LFA_NONE, lf_hours },
	{ "hm", LFA_NONE, lf_hm },
	{ "hhmm", LFA_NONE, lf_hhmm },
	{ "hms", LFA_NONE, lf_hms },
	{ "hhmmss", LFA_NONE, lf_hhmmss },
};
static const struct lfilter_def lfilter_map = { "map", LFA_NONE, lf_map };
#define NLFILTERS (sizeof(lfilters) / sizeof(lfilters[0]))

static const struct lfilter_def *lfilter_find(const char *name, bool with_arg)
{
	for (size_t i = 0; i < NLFILTERS; i++)
		if (strcmp(lfilters[i].name, name) == 0 && (lfilters[i].arg != LFA_NONE) == with_arg)
			return &lfilters[i];
	return NULL;
}

static int lfilter_compile(struct lscope *sc, char *spec, bool in_line, struct lfilter *f, int line,
			   char *err, size_t errlen)
{
	char *arg = strchr(spec, ':');
	if (arg)
		*arg++ = '\0';
	spec = ltrim(spec);
	memset(f, 0, sizeof(*f));
	f->def = lfilter_find(spec, arg != NULL);
	if (arg) {
		if (!f->def)
			return sp_err(err, errlen, "%s:%d: filter '%s' takes no argument", sc->file, line, spec);
		if (f->def->arg == LFA_VAR)
			return lvar_resolve(sc, ltrim(arg), in_line, &f->var, &f->key, line, err, errlen);
		f->text = xstrdup(arg);
		return 0;
	}
	if (f->def)
		return 0;
	if ((f->map = lmap_find(sc, spec))) {
		f->def = &lfilter_map;
		return 0;
	}
	char known[256] = "";
	for (size_t i = 0; i < NLFILTERS; i++) {
		size_t o = strlen(known);
		snprintf(known + o, sizeof(known) - o, "%s%s%s", o ? " " : "", lfilters[i].name,
			 lfilters[i].arg == LFA_VAR ? ":VAR" : lfilters[i].arg == LFA_TEXT ? ":TEXT" : "");
	}
	return sp_err(err, errlen, "%s:%d: unknown filter '%s' (%s, or a map declared in the header)",
		      sc->file, line, spec, known);
}

/* ---- templates: "text {{ var | filter:arg | filter }} text" ---- */

bool lname_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-';
}

char *ltrim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

const struct lmap *lmap_find(const struct lscope *sc, const char *name)
{
	for (size_t i = 0; i < sc->nmaps; i++)
		if (strcmp(sc->maps[i].name, name) == 0)
			return &sc->maps[i];
	return NULL;
}

static int lseg_compile(struct lscope *sc, const char *s, size_t n, bool in_line, struct lseg *g,
			int line, char *err, size_t errlen)
{
	char spec[512];
	if (n >= sizeof(spec))
		return sp_err(err, errlen, "%s:%d: placeholder too long", sc->file, line);
	memcpy(spec, s, n);
	spec[n] = '\0';
	char *save = NULL;
	char *name = strtok_r(spec, "|", &save);
	name = name ? ltrim(name) : NULL;
	if (!name || !*name)
		return sp_err(err, errlen, "%s:%d: empty placeholder", sc->file, line);
	for (const char *p = name; *p; p++)
		if (!lname_char(*p))
			return sp_err(err, errlen, "%s:%d: bad variable name '%s'", sc->file, line, name);
	if (lvar_resolve(sc, name, in_line, &g->var, &g->key, line, err, errlen) < 0)
		return -1;
	char *f;
	while ((f = strtok_r(NULL, "|", &save))) {
		if (g->nf == LAYOUT_FILTERS_MAX)
			return sp_err(err, errlen, "%s:%d: more than %d filters", sc->file, line, LAYOUT_FILTERS_MAX);
		/* counted before the check: what it allocated is released with the segment */
		if (lfilter_compile(sc, f, in_line, &g->f[g->nf++], line, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int ltmpl_compile(struct lscope *sc, const char *s, bool in_line, struct ltmpl *t, int line,
		  char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	size_t cap = 0;
	while (*s) {
		const char *open = strstr(s, "{{");
		if (t->n + 2 > cap) {
			cap = cap ? cap * 2 : 4;
			t->s = xrealloc(t->s, cap * sizeof(*t->s));
		}
		if (open != s) {
			size_t n = open ? (size_t)(open - s) : strlen(s);
			struct lseg *g = &t->s[t->n++];
			memset(g, 0, sizeof(*g));
			g->lit = xmalloc(n + 1);
			memcpy(g->lit, s, n);
			g->lit[n] = '\0';
			s += n;
			continue;
		}
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			ltmpl_release(t);
			return sp_err(err, errlen, "%s:%d: '{{' without '}}'", sc->file, line);
		}
		struct lseg *g = &t->s[t->n++];
		memset(g, 0, sizeof(*g));
		if (lseg_compile(sc, open + 2, (size_t)(close - open - 2), in_line, g, line, err, errlen) < 0) {
			ltmpl_release(t);
			return -1;
		}
		if (g->var && g->var->line)
			t->uses_line = true;
		s = close + 2;
	}
	return 0;
}

void ltmpl_release(struct ltmpl *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct lseg *g = &t->s[i];
		free(g->lit);
		free(g->key);
		for (int j = 0; j < g->nf; j++) {
			free(g->f[j].key);
			free(g->f[j].text);
		}
	}
	free(t->s);
	memset(t, 0, sizeof(*t));
}

/* Values come from admins and phones' owners: refuse what would break the
 * file or the phone, with a message naming the value. */
static int value_check(struct rctx *c, const struct lseg *g, const char *v)
{
	if (strpbrk(v, "\r\n"))
		return sp_err(c->err, c->errlen, "value of '%s'%s contains a line break; layout '%s' cannot carry it",
			      g->key, c->a ? " on this line" : "", c->layout);
	if (!sp_text_ok(v))
		return sp_err(c->err, c->errlen, "value of '%s' has a control character or invalid UTF-8; "
			      "layout '%s' refuses it", g->key, c->layout);
	return 0;
}

const char *ltmpl_expand(struct rctx *c, const struct ltmpl *t)
{
	static const char empty[] = "";
	struct buf *b = c->scratch;
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	for (size_t i = 0; i < t->n; i++) {
		const struct lseg *g = &t->s[i];
		if (g->lit) {
			buf_adds(b, g->lit);
			continue;
		}
		char tmp[32], v1[LAYOUT_VALUE_MAX], v2[LAYOUT_VALUE_MAX];
		const char *v = lvar_value(c, g->var, g->key, tmp, sizeof(tmp));
		if (g->nf) {
			char *in = v1, *out = v2;
			if (strlen(v) >= sizeof(v1)) {
				sp_err(c->err, c->errlen, "value of '%s' too long", g->key);
				return NULL;
			}
			memcpy(v1, v, strlen(v) + 1);
			for (int j = 0; j < g->nf; j++) {
				if (g->f[j].def->apply(c, g, &g->f[j], in, out, sizeof(v1)) < 0)
					return NULL;
				char *sw = in;
				in = out;
				out = sw;
			}
			v = in;
		}
		if (value_check(c, g, v) < 0)
			return NULL;
		buf_adds(b, v);
	}
	if (b->overflow) {
		sp_err(c->err, c->errlen, "config too large");
		return NULL;
	}
	return b->data ? b->data : empty;
}

/* ---- conditions and directives ---- */

int lcond_compile(struct lscope *sc, const char *s, bool negate, bool in_line, struct lcond *c,
		  int line, char *err, size_t errlen)
{
	char tmp[256];
	memset(c, 0, sizeof(*c));
	if (strlen(s) >= sizeof(tmp))
		return sp_err(err, errlen, "%s:%d: condition too long", sc->file, line);
	sp_strlcpy(tmp, s, sizeof(tmp));
	char *eq = strchr(tmp, '=');
	c->op = LC_NONEMPTY;
	if (eq) {
		c->op = LC_EQ;
		if (eq > tmp && eq[-1] == '!') {
			c->op = LC_NE;
			eq[-1] = '\0';
		}
		*eq = '\0';
		c->value = xstrdup(ltrim(eq + 1));
	}
	char *name = ltrim(tmp);
	for (const char *p = name; *p; p++)
		if (!lname_char(*p))
			return sp_err(err, errlen, "%s:%d: bad condition '%s' (VAR, VAR=VALUE or VAR!=VALUE)",
				      sc->file, line, s);
	if (!*name)
		return sp_err(err, errlen, "%s:%d: empty condition", sc->file, line);
	c->negate = negate;
	c->set = true;
	return lvar_resolve(sc, name, in_line, &c->var, &c->key, line, err, errlen);
}

void lcond_release(struct lcond *c)
{
	free(c->key);
	free(c->value);
	memset(c, 0, sizeof(*c));
}

int lcond_eval(struct rctx *c, const struct lcond *cond)
{
	char tmp[32];
	if (!cond->set)
		return 1;
	const char *v = lvar_value(c, cond->var, cond->key, tmp, sizeof(tmp));
	bool r;
	if (cond->op == LC_NONEMPTY)
		r = *v != '\0';
	else if (cond->op == LC_EQ)
		r = strcmp(v, cond->value) == 0;
	else
		r = strcmp(v, cond->value) != 0;
	return r != cond->negate;
}

/* Is a key of this type one the layout declares it cannot express
 * ("unsupported key" or "unsupported key=TYPE")?  Such keys are warned
 * about and never written. */
static bool lkey_skipped(const struct rctx *c, const char *type)
{
	const char *const *skip = c->module > 0 ? c->ext_skip : c->key_skip;
	if (!skip)
		return false;
	for (const char *const *s = skip; *s; s++)
		if (!**s || !strcmp(*s, type))
			return true;
	return false;
}

/* Which keys the settings give a type, found by one pass over them: probing
 * every possible name (48 phone keys, 240 module keys, a snprintf and a
 * lookup each) was 30% of sipprovd's instructions in a boot storm
 * (callgrind), for phones that mostly have a handful of keys. */
_Static_assert(SP_KEYS_MAX < 64 && SP_EXT_KEYS < 64, "a module's keys are bits of a uint64_t");
static void lkeys_find(struct rctx *c)
{
	const char *k, *field;
	json_t *v;
	long m, n;
	memset(c->keys, 0, sizeof(c->keys));
	if (c->e->settings)
		json_object_foreach(c->e->settings, k, v)
			if (linekey_parse(k, &m, &n, &field) && !strcmp(field, "type"))
				c->keys[m] |= (uint64_t)1 << n;
	c->keys_found = true;
}

int ldirect_run(struct rctx *c, const struct ldirect *d, int (*fn)(struct rctx *, void *), void *arg)
{
	const struct account *save_a = c->a;
	long save_i = c->i;
	int rc = 0;
	if (d->each_key || d->each_ext) {
		/* key.N: module 0 only; ext.M.N: modules 1-SP_EXT_MODULES. */
		long m0 = d->each_ext ? 1 : 0, m1 = d->each_ext ? SP_EXT_MODULES : 0;
		if (!c->keys_found)
			lkeys_find(c);
		for (long m = m0; m <= m1 && rc == 0; m++) {
			long nmax = m ? SP_EXT_KEYS : SP_KEYS_MAX;
			c->module = m;
			for (long n = 1; n <= nmax && rc == 0; n++) {
				char k[32];
				if (!(c->keys[m] >> n & 1))
					continue;
				linekey_name(k, sizeof(k), m, n, "type");
				const char *t = effective_get(c->e, k);
				if (!*t || !strcmp(t, "none") || lkey_skipped(c, t))
					continue;
				c->key = n;
				int ok = lcond_eval(c, &d->cond);
				if (ok > 0)
					rc = fn(c, arg);
			}
		}
		c->key = 0;
		c->module = 0;
	} else if (d->each || d->fixed_line > 0) {
		for (size_t i = 0; i < c->nsel && rc == 0; i++) {
			if (d->fixed_line > 0 && c->sel[i]->line != d->fixed_line)
				continue;
			c->a = c->sel[i];
			c->i = (long)i;
			int ok = lcond_eval(c, &d->cond);
			if (ok > 0)
				rc = fn(c, arg);
		}
	} else if (lcond_eval(c, &d->cond) > 0) {
		rc = fn(c, arg);
	}
	c->a = save_a;
	c->i = save_i;
	return rc;
}

/* Names carry the line number as a token "N" between '.' or '_' (or at an
 * end): "reg.N.address" -> "reg.2.address", "Proxy_N_" -> "Proxy_2_". */
static bool lname_sep(char ch)
{
	return ch == '.' || ch == '_' || ch == '\0';
}

bool lname_has_n(const char *name)
{
	for (const char *p = name; *p; p++)
		if (*p == 'N' && (p == name || lname_sep(p[-1])) && lname_sep(p[1]))
			return true;
	return false;
}

bool lname_leading_n(const char *name)
{
	return name[0] == 'N' && lname_sep(name[1]);
}

void lname_subst(const char *name, long n, char *out, size_t outlen)
{
	size_t o = 0;
	for (const char *p = name; *p && o + 1 < outlen; p++) {
		if (*p == 'N' && (p == name || lname_sep(p[-1])) && lname_sep(p[1])) {
			char num[24];
			size_t w = strlen(sp_ltoa(n, num, sizeof(num)));
			if (w >= outlen - o)
				break;
			memcpy(out + o, num, w);
			o += w;
			continue;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

int lbody_line(const char *body, const char *needle)
{
	const char *p = needle && *needle ? strstr(body, needle) : NULL;
	if (!p)
		return 0;
	int line = 1;
	for (const char *q = body; q < p; q++)
		if (*q == '\n')
			line++;
	return line;
}
