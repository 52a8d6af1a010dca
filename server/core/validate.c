/*
 * validate.c: field and cross-field checks for settings, accounts and
 * tenant policy, run before anything is stored and again before anything is
 * served.  Pure: the only database access is through store_validate.c's
 * targeted lookups (swap and max-per-user rules).  It does not write, log,
 * or decide HTTP statuses; callers turn the one-line reason into those.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipprov.h"

/* ---- small helpers ---- */

void validate_mac_colons(const char *mac, char out[18])
{
	size_t o = 0;
	for (size_t i = 0; i < SP_MAC_LEN && mac[i]; i++) {
		if (i && i % 2 == 0)
			out[o++] = ':';
		out[o++] = mac[i];
	}
	out[o] = '\0';
}

bool validate_copy(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n < size) {
		memcpy(dst, src ? src : "", n + 1);
		return true;
	}
	/* Deliberately unterminated: validate_account reports it as too long. */
	memcpy(dst, src, size);
	return false;
}

/* Quote v (at most max bytes of it) for an error message: printable ASCII
 * and well-formed UTF-8 as is, '"' and '\' escaped, everything else \xNN;
 * long values end in "...". */
static const char *quote(const char *v, size_t max, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strnlen(v, max), o = 0, shown = 0;
	if (outlen < 8)
		return "";
	out[o++] = '"';
	for (size_t i = 0; i < n && o + 8 < outlen; ) {
		unsigned c = p[i];
		if (shown >= 64) {
			o += (size_t)snprintf(out + o, outlen - o, "...");
			break;
		}
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
			i++;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
			i++;
		} else {
			/* A well-formed multibyte sequence is copied whole. */
			size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
				     c >= 0xf0 && c <= 0xf4 ? 4 : 0;
			char tmp[5];
			bool good = len && i + len <= n && o + len + 2 < outlen;
			if (good) {
				memcpy(tmp, p + i, len);
				tmp[len] = '\0';
				good = sp_text_ok(tmp);
			}
			if (good) {
				memcpy(out + o, p + i, len);
				o += len;
				i += len;
			} else {
				o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
				i++;
			}
		}
		shown++;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

void validate_cleanup(void)
{
	policy_cleanup();
}

/* ---- hosts ---- */

static bool is_ipv4_literal(const char *h)
{
	struct in_addr a;
	return inet_pton(AF_INET, h, &a) == 1;
}

static bool hostname_ok(const char *h)
{
	size_t n = strlen(h), label = 0;
	bool all_numeric = true;
	if (n == 0 || n > 253)
		return false;
	if (h[n - 1] == '.')            /* one trailing dot: fully qualified */
		n--;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c == '-') {
			if (label == 0)
				return false;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
			return false;
		}
		if (!(c >= '0' && c <= '9'))
			all_numeric = false;
		if (++label > 63)
			return false;
	}
	if (label == 0 || h[n - 1] == '-')
		return false;
	/* "999.1.1.1" or "10.1" look like addresses and are not valid ones. */
	if (all_numeric) {
		char tmp[256];
		memcpy(tmp, h, n);
		tmp[n] = '\0';
		return is_ipv4_literal(tmp);
	}
	return true;
}

/* Split host[:port]; port is 0 when absent, -1 when invalid. */
static bool host_split(const char *h, long *port)
{
	char host[256];
	const char *colon;
	*port = 0;
	if (!h || !*h || strlen(h) >= sizeof(host))
		return false;
	if (h[0] == '[') {
		const char *end = strchr(h, ']');
		struct in6_addr a6;
		size_t n;
		if (!end)
			return false;
		n = (size_t)(end - h - 1);
		memcpy(host, h + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
		if (end[1] == '\0')
			return true;
		if (end[1] != ':' || sp_parse_int(end + 2, 1, 65535, port) < 0)
			return *port = -1, false;
		return true;
	}
	colon = strchr(h, ':');
	if (colon && strchr(colon + 1, ':')) {  /* bare IPv6, no port possible */
		struct in6_addr a6;
		return inet_pton(AF_INET6, h, &a6) == 1;
	}
	if (colon) {
		size_t n = (size_t)(colon - h);
		memcpy(host, h, n);
		host[n] = '\0';
		if (sp_parse_int(colon + 1, 1, 65535, port) < 0)
			return *port = -1, false;
	} else {
		sp_strlcpy(host, h, sizeof(host));
	}
	return hostname_ok(host);
}

bool validate_host(const char *h)
{
	long port;
	return host_split(h, &port);
}

/* ---- settings ---- */

static int enum_check(const struct setting_def *d, const char *key, const char *v, char *qv, size_t qvlen,
		      char *err, size_t errlen)
{
	size_t n = strlen(v);
	for (const char *p = d->choices; p && *p; ) {
		size_t len = strcspn(p, "|");
		if (len == n && strncmp(p, v, n) == 0)
			return 0;
		p += len + (p[len] == '|');
	}
	/* Not one of them: the list for the message, built only now. */
	char list[128] = "";
	size_t o = 0;
	for (const char *p = d->choices; p && *p; ) {
		size_t len = strcspn(p, "|");
		o += (size_t)snprintf(list + o, o < sizeof(list) ? sizeof(list) - o : 0, "%s%.*s",
				      o ? ", " : "", (int)len, p);
		p += len + (p[len] == '|');
	}
	return sp_err(err, errlen, "setting %s %s is not one of %s", key, quote(v, SP_FIELD_MAX, qv, qvlen), list);
}

/* d: key's definition, NULL for a key without one (line keys, firmware.*,
 * vendor extras).  Renders check every setting again (a template may be
 * older than a rule): the value is quoted for a message only on an error. */
static int setting_check(const struct setting_def *d, const char *key, json_t *val, char *err, size_t errlen)
{
	const char *v;
	char qv[300];
	long n;
#define QV quote(v, SP_FIELD_MAX, qv, sizeof(qv))

	if (!d && !setting_key_ok(key)) {
		char known[512] = "";
		size_t o = 0;
		for (size_t i = 0; i < setting_def_count; i++)
			o += (size_t)snprintf(known + o, o < sizeof(known) ? sizeof(known) - o : 0, "%s, ",
					      setting_defs[i].key);
		return sp_err(err, errlen, "unknown setting '%s' (known: %svendor.*, x.*)", key, known);
	}
	if (!json_is_string(val))
		return sp_err(err, errlen, "setting %s must be a string", key);
	v = json_string_value(val);
	if (strlen(v) >= SP_FIELD_MAX)
		return sp_err(err, errlen, "setting %s is longer than %d bytes", key, SP_FIELD_MAX - 1);
	if (!sp_text_ok(v) || strchr(v, '\t'))
		return sp_err(err, errlen, "setting %s %s contains a control character or invalid UTF-8",
			      key, QV);
	if (!d)                         /* vendor extras: any single-line text */
		return 0;
	switch (d->kind) {
	case SET_HOST:
		if (!validate_host(v))
			return sp_err(err, errlen, "setting %s %s is not a host name or IP address "
				      "(e.g. sip.example.com, 192.0.2.10, [2001:db8::1]:5061)", key, QV);
		return 0;
	case SET_PORT:
	case SET_INT:
		if (sp_parse_int(v, -999999999L, 999999999L, &n) < 0)
			return sp_err(err, errlen, "setting %s %s is not a number: use %ld to %ld", key, QV,
				      d->min, d->max);
		if (n < d->min || n > d->max)
			return sp_err(err, errlen, "setting %s %s is out of range: use %ld to %ld", key, QV,
				      d->min, d->max);
		return 0;
	case SET_ENUM:
		return enum_check(d, key, v, qv, sizeof(qv), err, errlen);
	case SET_TEXT:
		for (const char *p = v; *p; p++)
			if (*p == ' ')
				return sp_err(err, errlen, "setting %s %s contains a space", key, QV);
		return 0;
	}
	return 0;
#undef QV
}

static const char *sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

bool validate_settings_contradiction(json_t *settings, char *why, size_t whylen)
{
	const char *tr = sget(settings, "transport"), *ps = sget(settings, "port"), *srv;
	long port = 0;
	if (!tr)
		return false;
	if (!ps || sp_parse_int(ps, 1, 65535, &port) < 0) {
		/* No port key: the port written in server host:port counts. */
		port = 0;
		srv = sget(settings, "server");
		if (srv && !host_split(srv, &port))
			port = 0;
	}
	if (strcmp(tr, "tls") == 0 && port == 5060) {
		sp_err(why, whylen, "transport \"tls\" and port 5060 contradict each other: 5060 is plain "
		       "SIP (udp/tcp); use port=5061 for tls, or pass --force");
		return true;
	}
	if ((strcmp(tr, "udp") == 0 || strcmp(tr, "tcp") == 0) && port == 5061) {
		sp_err(why, whylen, "transport \"%s\" and port 5061 contradict each other: 5061 is SIP over "
		       "TLS; use transport=tls or port=5060, or pass --force", tr);
		return true;
	}
	return false;
}

int validate_settings(json_t *settings, bool force, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	if (!json_is_object(settings))
		return sp_err(err, errlen, "settings must be a JSON object");
	/* Known keys in canonical order first, so the first error is stable. */
	for (size_t i = 0; i < setting_def_count; i++) {
		v = json_object_get(settings, setting_defs[i].key);
		if (v && setting_check(&setting_defs[i], setting_defs[i].key, v, err, errlen) < 0)
			return -1;
	}
	json_object_foreach(settings, k, v)
		if (!setting_def_find(k) && setting_check(NULL, k, v, err, errlen) < 0)
			return -1;
	if (linekey_check(settings, err, errlen) < 0)
		return -1;
	if (!force && validate_settings_contradiction(settings, err, errlen))
		return -1;
	return 0;
}

/* ---- accounts ---- */

#define ACC_FMT "account %ld on %s: "

struct field { const char *name; const char *v; size_t size; };

/* Length, UTF-8, control characters, line breaks.  The password's value is
 * never echoed. */
static int text_field(const char *pre, const struct field *f, char *err, size_t errlen)
{
	char qv[300];
	bool secret = strcmp(f->name, "password") == 0;
	if (strnlen(f->v, f->size) >= f->size)
		return sp_err(err, errlen, "%s%s is longer than %zu bytes: shorten it", pre, f->name,
			      f->size - 1);
	if (sp_text_ok(f->v))
		return 0;
	quote(f->v, f->size, qv, sizeof(qv));
	if (strpbrk(f->v, "\r\n")) {
		if (secret)
			return sp_err(err, errlen, "%spassword contains a line break (CR/LF): it would "
				      "end the line in a config file; remove it", pre);
		return sp_err(err, errlen, "%s%s %s contains a line break (CR/LF): use a single line", pre,
			      f->name, qv);
	}
	for (const unsigned char *p = (const unsigned char *)f->v; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			if (secret)
				return sp_err(err, errlen, "%spassword contains a control character: remove it",
					      pre);
			return sp_err(err, errlen, "%s%s %s contains a control character: remove it", pre,
				      f->name, qv);
		}
	if (secret)
		return sp_err(err, errlen, "%spassword is not valid UTF-8: re-enter it", pre);
	return sp_err(err, errlen, "%s%s %s is not valid UTF-8: save the source as UTF-8", pre, f->name, qv);
}

/* The SIP user part rules shared by username and auth_username. */
static int user_part(const char *pre, const char *name, const char *v, char *err, size_t errlen)
{
	char qv[300], qs[300];
	const char *at;
	quote(v, SP_NAME_MAX, qv, sizeof(qv));
	if (strncasecmp(v, "sip:", 4) == 0 || strncasecmp(v, "sips:", 5) == 0)
		return sp_err(err, errlen, "%s%s %s is a SIP URI: give only the user part, without "
			      "\"sip:\" or \"@domain\"", pre, name, qv);
	if ((at = strchr(v, '@')) != NULL) {
		if (at[1] == '\0')
			return sp_err(err, errlen, "%s%s %s contains '@': remove it", pre, name, qv);
		quote(at, SP_NAME_MAX, qs, sizeof(qs));
		return sp_err(err, errlen, "%s%s %s has a domain part: give only the user part, without "
			      "%s; the domain comes from the template's registrar", pre, name, qv, qs);
	}
	if (strchr(v, ':'))
		return sp_err(err, errlen, "%s%s %s contains ':': give only the user part, no scheme or port",
			      pre, name, qv);
	if (strpbrk(v, " \t"))
		return sp_err(err, errlen, "%s%s %s contains whitespace: remove it", pre, name, qv);
	for (const char *p = v; *p; p++)
		if (strchr("\"<>\\", *p))
			return sp_err(err, errlen, "%s%s %s contains '%c': not allowed in a SIP user part", pre,
				      name, qv, *p);
	return 0;
}

static void acc_prefix(const char *mac, long line, char *pre, size_t n)
{
	char cm[18];
	validate_mac_colons(mac, cm);
	snprintf(pre, n, ACC_FMT, line, cm);
}

int validate_account_fields(const char *mac, const struct account *a, char *err, size_t errlen)
{
	char pre[64];
	const struct field fields[] = {
		{ "display_name", a->display_name, sizeof(a->display_name) },
		{ "extension", a->extension, sizeof(a->extension) },
		{ "username", a->username, sizeof(a->username) },
		{ "auth_username", a->auth_username, sizeof(a->auth_username) },
		{ "password", a->password, sizeof(a->password) },
	};
	acc_prefix(mac, a->line, pre, sizeof(pre));
	if (a->line < 1 || a->line > SP_MAX_LINES)
		return sp_err(err, errlen, "%sline %ld is out of range: use 1 to %d", pre, a->line,
			      SP_MAX_LINES);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (text_field(pre, &fields[i], err, errlen) < 0)
			return -1;
	if (!a->username[0])
		return sp_err(err, errlen, "%susername is empty: give the SIP user part (often the "
			      "extension number)", pre);
	if (!a->auth_username[0])
		return sp_err(err, errlen, "%sauth_username is empty: give the digest authentication id "
			      "(often the same as the username)", pre);
	if (!a->password[0] && !a->password_enc[0])
		return sp_err(err, errlen, "%spassword is empty: every line needs its SIP password", pre);
	if (user_part(pre, "username", a->username, err, errlen) < 0 ||
	    user_part(pre, "auth_username", a->auth_username, err, errlen) < 0)
		return -1;
	return 0;
}

/* The swap rule, on which patterns each name matches (1, 0, or -2 when
 * the tenant has no such pattern): the auth id looks like a username and
 * the username like an auth id, and not both names fit their own. */
static bool names_swapped(int u_up, int u_ap, int a_up, int a_ap)
{
	return a_up == 1 && u_ap == 1 && !(u_up == 1 && a_ap == 1);
}

bool validate_names_swapped(const struct tenant *t, const struct account *a)
{
	const char *up = t->username_pattern, *ap = t->auth_username_pattern;
	if (!up[0] || !ap[0])
		return false;
	return names_swapped(policy_pattern_match(up, a->username, NULL, 0),
			     policy_pattern_match(ap, a->username, NULL, 0),
			     policy_pattern_match(up, a->auth_username, NULL, 0),
			     policy_pattern_match(ap, a->auth_username, NULL, 0));
}

/* Tenant pattern rules: the swap, auth id equal to a name, mismatches. */
static int account_patterns(const struct tenant *t, const char *pre, const struct account *a,
			    char *err, size_t errlen)
{
	const char *up = t->username_pattern, *ap = t->auth_username_pattern;
	char qu[300], qa[300], qx[300], why[256];
	int u_up = -2, u_ap = -2, a_up = -2, a_ap = -2;

	quote(a->username, SP_NAME_MAX, qu, sizeof(qu));
	quote(a->auth_username, SP_NAME_MAX, qa, sizeof(qa));
	if (up[0]) {
		if ((u_up = policy_pattern_match(up, a->username, why, sizeof(why))) < 0 ||
		    (a_up = policy_pattern_match(up, a->auth_username, why, sizeof(why))) < 0)
			return sp_err(err, errlen, "%stenant %s's username pattern %s does not compile: %s", pre,
				      t->slug, up, why);
	}
	if (ap[0]) {
		if ((u_ap = policy_pattern_match(ap, a->username, why, sizeof(why))) < 0 ||
		    (a_ap = policy_pattern_match(ap, a->auth_username, why, sizeof(why))) < 0)
			return sp_err(err, errlen, "%stenant %s's auth-username pattern %s does not compile: %s",
				      pre, t->slug, ap, why);
	}
	if (names_swapped(u_up, u_ap, a_up, a_ap))
		return sp_err(err, errlen, "%sauth_username %s matches tenant %s's username pattern %s and "
			      "username %s matches its auth-username pattern: username and auth_username "
			      "look swapped", pre, qa, t->slug, up, qu);
	if (ap[0]) {
		/* The tenant says digest ids have their own form: an auth id equal
		 * to the name shown on the phone or to the extension is a mix-up. */
		if (a->display_name[0] && strcmp(a->auth_username, a->display_name) == 0)
			return sp_err(err, errlen, "%sauth_username %s equals the display_name: tenant %s's "
				      "auth-username pattern %s says the digest id differs from the name; use "
				      "the auth id from the SIP provider", pre, qa, t->slug, ap);
		if (a->extension[0] && strcmp(a->auth_username, a->extension) == 0) {
			quote(a->extension, sizeof(a->extension), qx, sizeof(qx));
			return sp_err(err, errlen, "%sauth_username %s equals the extension: tenant %s's "
				      "auth-username pattern %s says the digest id differs from the extension; "
				      "use the auth id from the SIP provider", pre, qa, t->slug, ap);
		}
	}
	if (up[0] && u_up == 0)
		return sp_err(err, errlen, "%susername %s does not match tenant %s's username pattern %s: "
			      "check the value or the tenant's policy", pre, qu, t->slug, up);
	if (ap[0] && a_ap == 0)
		return sp_err(err, errlen, "%sauth_username %s does not match tenant %s's auth-username "
			      "pattern %s: check the value or the tenant's policy", pre, qa, t->slug, ap);
	return 0;
}

int validate_account(struct store *s, const struct tenant *t, const char *mac,
		     const struct account *a, char *err, size_t errlen)
{
	char pre[64], q[300], cm[18];
	struct validate_other o[2];
	long n = 0;

	if (validate_account_fields(mac, a, err, errlen) < 0)
		return -1;
	acc_prefix(mac, a->line, pre, sizeof(pre));
	if (t && account_patterns(t, pre, a, err, errlen) < 0)
		return -1;
	if (!s || !t)
		return 0;
	if (store_validate_others(s, t->id, a, mac, o, t->max_per_user > 0 ? &n : NULL) < 0)
		return sp_err(err, errlen, "%scannot check other accounts: %s", pre, store_errmsg(s));
	if (o[0].found) {
		validate_mac_colons(o[0].mac, cm);
		quote(a->auth_username, SP_NAME_MAX, q, sizeof(q));
		return sp_err(err, errlen, "%sauth_username %s is the username of account %ld on %s: swap "
			      "suspected; give this line's own digest id", pre, q, o[0].line, cm);
	}
	if (o[1].found) {
		validate_mac_colons(o[1].mac, cm);
		quote(a->username, SP_NAME_MAX, q, sizeof(q));
		return sp_err(err, errlen, "%susername %s is the auth_username of account %ld on %s: swap "
			      "suspected; check which value is the SIP user and which the digest id", pre, q,
			      o[1].line, cm);
	}
	if (t->max_per_user > 0 && n >= t->max_per_user) {
		quote(a->username, SP_NAME_MAX, q, sizeof(q));
		return sp_err(err, errlen, "%susername %s is already on %ld device%s of tenant %s "
			      "(max_per_user %ld): remove it from another device or raise the limit",
			      pre, q, n, n == 1 ? "" : "s", t->slug, t->max_per_user);
	}
	return 0;
}

int validate_effective(const struct effective *e, char *err, size_t errlen)
{
	char cm[18], why[SP_ERR_MAX];
	validate_mac_colons(e->device.mac, cm);
	/* Kinds only: a contradiction that reached the database was forced
	 * by an admin (and audit-logged), so serving it is intended. */
	if (e->settings && validate_settings(e->settings, true, why, sizeof(why)) < 0)
		return sp_err(err, errlen, "device %s (%s): %s", cm, e->version_label, why);
	for (size_t i = 0; i < e->naccounts && i < SP_MAX_LINES; i++) {
		char pre[64];
		if (validate_account_fields(e->device.mac, &e->accounts[i], err, errlen) < 0)
			return -1;
		acc_prefix(e->device.mac, e->accounts[i].line, pre, sizeof(pre));
		if (account_patterns(&e->tenant, pre, &e->accounts[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* ---- tenant policy ---- */

static bool slug_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	if (n == 0 || n >= max || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

bool validate_slug(const char *s)
{
	return slug_ok(s, SP_SLUG_MAX);
}

int validate_tenant(const struct tenant *t, char *err, size_t errlen)
{
	char q[300], why[SP_ERR_MAX];
	struct policy_nets nets;
	unsigned modes;
	if (!slug_ok(t->slug, sizeof(t->slug)))
		return sp_err(err, errlen, "tenant slug %s is not valid: use 1 to 63 of a-z, 0-9 and '-'",
			      quote(t->slug, sizeof(t->slug), q, sizeof(q)));
	if (strnlen(t->name, sizeof(t->name)) >= sizeof(t->name) || !sp_text_ok(t->name))
		return sp_err(err, errlen, "tenant %s: name %s is too long or not clean UTF-8 text", t->slug,
			      quote(t->name, sizeof(t->name), q, sizeof(q)));
	if (t->status[0] && strcmp(t->status, "active") && strcmp(t->status, "suspended"))
		return sp_err(err, errlen, "tenant %s: status %s is not one of active, suspended", t->slug,
			      quote(t->status, sizeof(t->status), q, sizeof(q)));
	if (t->username_pattern[0] && policy_pattern_match(t->username_pattern, "", why, sizeof(why)) < 0)
		return sp_err(err, errlen, "tenant %s: username_pattern %s is not a POSIX extended regular "
			      "expression: %s", t->slug,
			      quote(t->username_pattern, sizeof(t->username_pattern), q, sizeof(q)), why);
	if (t->auth_username_pattern[0] && policy_pattern_match(t->auth_username_pattern, "", why, sizeof(why)) < 0)
		return sp_err(err, errlen, "tenant %s: auth_username_pattern %s is not a POSIX extended "
			      "regular expression: %s", t->slug,
			      quote(t->auth_username_pattern, sizeof(t->auth_username_pattern), q, sizeof(q)),
			      why);
	if (!t->device_auth[0])
		return sp_err(err, errlen, "tenant %s: device_auth is empty: use a comma list of none, "
			      "digest, mtls, token", t->slug);
	if (policy_auth_parse(t->device_auth, &modes, why, sizeof(why)) < 0 ||
	    policy_nets_parse(t->allow_cidrs, &nets, why, sizeof(why)) < 0)
		return sp_err(err, errlen, "tenant %s: %s", t->slug, why);
	if (t->max_per_user < 0)
		return sp_err(err, errlen, "tenant %s: max_per_user %ld must be 0 (unlimited) or more", t->slug,
			      t->max_per_user);
	if (t->default_template[0] && !slug_ok(t->default_template, sizeof(t->default_template)))
		return sp_err(err, errlen, "tenant %s: default_template %s is not a valid template name", t->slug,
			      quote(t->default_template, sizeof(t->default_template), q, sizeof(q)));
	if (t->defaults[0]) {
		json_error_t je;
		json_t *o = json_loads(t->defaults, 0, &je);
		int rc = o ? validate_settings(o, true, why, sizeof(why)) : sp_err(why, sizeof(why), "%s", je.text);
		json_decref(o);
		if (rc < 0)
			return sp_err(err, errlen, "tenant %s: defaults: %s", t->slug, why);
	}
	return 0;
}
