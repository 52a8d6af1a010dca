/*
 * settings.c: the template setting keys, canonical settings JSON, and the
 * effective config of a device: template version (pinned or current) <-
 * tenant defaults <- device overrides, plus its accounts.  One function,
 * effective_load, serves the daemon, `sipprov render` and bulk previews.
 * It does not validate: validate.c judges what this assembles.
 * Jansson ownership: json_object_set_new steals the value; json_loads and
 * json_object return new references that we json_decref.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipprov.h"

const struct setting_def setting_defs[] = {
	{ "backup_server",  SET_HOST, NULL, 0, 0, "fallback registrar host[:port]" },
	{ "dns_mode",       SET_ENUM, "a|srv", 0, 0, "A records or SRV lookup" },
	{ "expires",        SET_INT,  NULL, 30, 86400, "registration expiry, seconds" },
	{ "keepalive",      SET_INT,  NULL, 0, 3600, "NAT keepalive interval, seconds (0 off)" },
	{ "ntp_server",     SET_HOST, NULL, 0, 0, "NTP server host" },
	{ "outbound_proxy", SET_HOST, NULL, 0, 0, "outbound proxy host[:port]" },
	{ "port",           SET_PORT, NULL, 1, 65535, "registrar port" },
	{ "registrar",      SET_HOST, NULL, 0, 0, "SIP domain / registrar" },
	{ "server",         SET_HOST, NULL, 0, 0, "SIP server host (proxy to send REGISTER to)" },
	{ "srtp",           SET_ENUM, "off|optional|required", 0, 0, "SRTP media encryption" },
	{ "timezone",       SET_TEXT, NULL, 0, 0, "IANA time zone, e.g. Europe/Berlin" },
	{ "tls_verify",     SET_ENUM, "off|on", 0, 0, "verify the server certificate on TLS" },
	{ "transport",      SET_ENUM, "udp|tcp|tls", 0, 0, "SIP transport" },
};
const size_t setting_def_count = sizeof(setting_defs) / sizeof(setting_defs[0]);

const struct setting_def *setting_def_find(const char *key)
{
	for (size_t i = 0; i < setting_def_count; i++)
		if (strcmp(setting_defs[i].key, key) == 0)
			return &setting_defs[i];
	return NULL;
}

bool setting_key_ok(const char *key)
{
	if (setting_def_find(key) || linekey_parse(key, NULL, NULL, NULL))
		return true;
	/* firmware.<model>: the model as `firmware add --model` takes it
	 * (letters in either case, digits, '.', '_', '-'). */
	bool fw = strncmp(key, "firmware.", 9) == 0;
	/* Free vendor extras: "vendor.<name>" or "x.<name>", [a-z0-9._-]. */
	if (!fw && strncmp(key, "vendor.", 7) && strncmp(key, "x.", 2))
		return false;
	if (strlen(key) > 64 || (fw && !key[9]))
		return false;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		      *p == '-' || (fw && *p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

char *settings_canonical(json_t *obj, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	if (!json_is_object(obj)) {
		sp_err(err, errlen, "settings must be a JSON object");
		return NULL;
	}
	json_object_foreach(obj, k, v) {
		if (!setting_key_ok(k)) {
			sp_err(err, errlen, "unknown setting '%s'", k);
			return NULL;
		}
		if (!json_is_string(v)) {
			sp_err(err, errlen, "setting '%s' must be a string", k);
			return NULL;
		}
	}
	char *s = json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT);
	if (!s) {
		sp_err(err, errlen, "cannot encode settings");
		return NULL;
	}
	if (strlen(s) >= SP_JSON_MAX) {
		free(s);
		sp_err(err, errlen, "settings exceed %d bytes", SP_JSON_MAX - 1);
		return NULL;
	}
	return s;
}

int settings_apply_kv(json_t *obj, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	char key[80];
	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
		return sp_err(err, errlen, "expected key=value, got '%s'", kv);
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	if (!setting_key_ok(key)) {
		char known[512] = "";
		size_t n = 0;
		for (size_t i = 0; i < setting_def_count; i++)
			n += (size_t)snprintf(known + n, n < sizeof(known) ? sizeof(known) - n : 0, "%s%s",
					      i ? ", " : "", setting_defs[i].key);
		return sp_err(err, errlen, "unknown setting '%s' (known: %s, firmware.MODEL, vendor.*)", key, known);
	}
	if (strlen(eq + 1) >= SP_FIELD_MAX)
		return sp_err(err, errlen, "setting '%s' is longer than %d bytes", key, SP_FIELD_MAX - 1);
	if (eq[1] == '\0')
		json_object_del(obj, key);
	else
		json_object_set_new(obj, key, json_string(eq + 1));
	return 0;
}

/* Merge the string members of JSON text src over dst. */
static int merge_json(json_t *dst, const char *src, const char *what, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_loads(src[0] ? src : "{}", 0, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		return sp_err(err, errlen, "%s is not a JSON object", what);
	}
	json_object_update(dst, o);
	json_decref(o);
	return 0;
}

const char *const linekey_types[] = { "line", "blf", "speed_dial", "park", "intercom", "dtmf", "url", "none",
				       NULL };

/* A number 1-max at *p, followed by '.': advances *p past the '.'. */
static bool linekey_num(const char **p, long max, long *out)
{
	long v = 0;
	if (**p < '1' || **p > '9')
		return false;
	for (; **p >= '0' && **p <= '9' && v <= max; (*p)++)
		v = v * 10 + (**p - '0');
	if (v > max || **p != '.')
		return false;
	(*p)++;
	*out = v;
	return true;
}

bool linekey_parse(const char *key, long *module, long *n, const char **field)
{
	static const char *const fields[] = { "type", "value", "label", "line" };
	long m = 0, v = 0;
	const char *p;
	if (strncmp(key, "key.", 4) == 0) {
		p = key + 4;
		if (!linekey_num(&p, SP_KEYS_MAX, &v))
			return false;
	} else if (strncmp(key, "ext.", 4) == 0) {
		p = key + 4;
		if (!linekey_num(&p, SP_EXT_MODULES, &m) || !linekey_num(&p, SP_EXT_KEYS, &v))
			return false;
	} else {
		return false;
	}
	for (size_t i = 0; i < 4; i++)
		if (strcmp(p, fields[i]) == 0) {
			if (module)
				*module = m;
			if (n)
				*n = v;
			if (field)
				*field = fields[i];
			return true;
		}
	return false;
}

bool linekey_setting(const char *key, long *n, const char **field)
{
	long m;
	return linekey_parse(key, &m, n, field) && m == 0;
}

void linekey_name(char *out, size_t outlen, long module, long n, const char *field)
{
	if (module > 0)
		snprintf(out, outlen, "ext.%ld.%ld.%s", module, n, field);
	else
		snprintf(out, outlen, "key.%ld.%s", n, field);
}

int linekey_check(json_t *settings, char *err, size_t errlen)
{
	const char *k, *field;
	json_t *v;
	long m, n;
	char tk[32];
	json_object_foreach(settings, k, v) {
		if (!linekey_parse(k, &m, &n, &field) || !json_string_value(v) || !*json_string_value(v))
			continue;                   /* "": unset here (an override may blank a default) */
		const char *s = json_string_value(v);
		linekey_name(tk, sizeof(tk), m, n, "type");
		const char *type = json_string_value(json_object_get(settings, tk));
		if (!type)
			return sp_err(err, errlen, "setting '%s': key %ld has no type (set %s)", k, n, tk);
		if (!strcmp(field, "type")) {
			size_t i = 0;
			while (linekey_types[i] && strcmp(linekey_types[i], s))
				i++;
			if (!linekey_types[i])
				return sp_err(err, errlen, "setting '%s': unknown key type '%s' (known: line, blf, speed_dial, "
					      "park, intercom, dtmf, url, none)", k, s);
			linekey_name(tk, sizeof(tk), m, n, "value");
			const char *val = json_string_value(json_object_get(settings, tk));
			if (strcmp(s, "line") && strcmp(s, "none") && (!val || !*val))
				return sp_err(err, errlen, "setting '%s': a %s key needs a value (set %s)", k, s, tk);
		} else if (!strcmp(field, "line")) {
			long line;
			if (sp_parse_int(s, 1, SP_MAX_LINES, &line) < 0)
				return sp_err(err, errlen, "setting '%s': account line '%s' is not 1-%d", k, s, SP_MAX_LINES);
		}
	}
	return 0;
}

const char *effective_firmware_version(const struct effective *e, const char **key)
{
	const char *k;
	json_t *v;
	if (!e->settings || !e->device.model[0])
		return NULL;
	json_object_foreach(e->settings, k, v) {
		if (strncmp(k, "firmware.", 9) == 0 && strcasecmp(k + 9, e->device.model) == 0 &&
		    json_string_value(v)) {
			if (key)
				*key = k;
			return json_string_value(v);
		}
	}
	return NULL;
}

json_t *effective_device_settings(const struct effective *e)
{
	json_t *o = e->settings ? json_copy(e->settings) : json_object();
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(o, tmp, k, v)
		if (strncmp(k, "firmware.", 9) == 0 && strcasecmp(k + 9, e->device.model) != 0)
			json_object_del(o, k);
	/* Web passwords are no settings, but a layout may be unable to write
	 * them: named by a stand-in, never by their text. */
	if (e->admin_password_set)
		json_object_set_new(o, "admin_password", json_string("(set)"));
	if (e->user_password_set)
		json_object_set_new(o, "user_password", json_string("(set)"));
	return o;
}

/* One web password (enc: the device's row, else the tenant's, else ""),
 * decrypted into out when key is given. */
static int webpw_load(const unsigned char *key, struct effective *e, const char *role, const char *enc, char *out,
		      size_t n, bool *set, char *err, size_t errlen)
{
	*set = enc[0] != '\0';
	out[0] = '\0';
	if (*set && key) {
		char *p = secret_decrypt(key, enc);
		if (!p)
			return sp_err(err, errlen, "device %s: the %s web password does not decrypt (wrong key file?)",
				      e->device.mac, role);
		sp_strlcpy(out, p, n);
		secret_wipe(p, strlen(p));
		free(p);
	}
	return 0;
}

/* e->fw_path from firmware.<model>: the image of this layout (vendor),
 * model and version.  None stored for this vendor: "" (the layout then
 * writes no firmware key; template set checked the version exists). */
static int firmware_resolve(struct store *s, struct effective *e, char *err, size_t errlen)
{
	struct firmware *all = NULL;
	size_t n = 0;
	const char *ver = effective_firmware_version(e, NULL);
	e->fw_path[0] = '\0';
	if (!ver)
		return 0;
	if (store_firmware_list(s, e->device.layout, &all, &n) < 0)
		return sp_err(err, errlen, "device %s: cannot read the firmware table: %s", e->device.mac,
			      store_errmsg(s));
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(all[i].model, e->device.model) == 0 && strcmp(all[i].version, ver) == 0) {
			snprintf(e->fw_path, sizeof(e->fw_path), "/fw/%s/%s", all[i].sha256, all[i].filename);
			break;
		}
	free(all);
	return 0;
}

int firmware_settings_check(struct store *s, json_t *settings, const char **field, char *err, size_t errlen)
{
	struct firmware *all = NULL;
	size_t n = 0;
	const char *k;
	json_t *v;
	int rc = 0;
	*field = NULL;
	json_object_foreach(settings, k, v) {
		if (strncmp(k, "firmware.", 9) || !json_string_value(v))
			continue;
		if (!all && store_firmware_list(s, "", &all, &n) < 0)
			return sp_err(err, errlen, "cannot read the firmware table: %s", store_errmsg(s));
		bool model = false, found = false;
		for (size_t i = 0; i < n && !found; i++) {
			model |= strcasecmp(all[i].model, k + 9) == 0;
			found = strcasecmp(all[i].model, k + 9) == 0 && strcmp(all[i].version, json_string_value(v)) == 0;
		}
		if (!found) {
			*field = k;
			rc = model ? sp_err(err, errlen, "setting '%s': no firmware version '%s' of model '%s' is stored "
					    "(see 'sipprov firmware list')", k, json_string_value(v), k + 9)
				   : sp_err(err, errlen, "setting '%s': no firmware of model '%s' is stored (add it "
					    "with 'sipprov firmware add')", k, k + 9);
			break;
		}
	}
	free(all);
	return rc;
}

/* base + suffix into out, or "" when base is "" or it does not fit. */
static void url_join(char *out, size_t n, const char *base, const char *a, const char *b, const char *c)
{
	int len = *base ? snprintf(out, n, "%s%s%s%s", base, a, b, c) : 0;
	if (len <= 0 || (size_t)len >= n)
		out[0] = '\0';
}

void effective_set_public_url(struct effective *e, const char *public_url)
{
	char sha[65] = "";
	size_t len = sp_strlcpy(e->url.base, public_url ? public_url : "", sizeof(e->url.base));
	if (len >= sizeof(e->url.base))
		e->url.base[0] = '\0', len = 0;
	while (len && e->url.base[len - 1] == '/')
		e->url.base[--len] = '\0';
	url_join(e->url.phonebook, sizeof(e->url.phonebook), e->url.base, "/pb/", e->device.mac, ".xml");
	url_join(e->url.phonebook_dir, sizeof(e->url.phonebook_dir), e->url.base, "/pb/", e->device.mac, "");
	e->url.firmware[0] = e->url.firmware_dir[0] = '\0';
	if (e->fw_path[0]) {
		sp_strlcpy(sha, e->fw_path + 4, sizeof(sha));   /* "/fw/" + 64 hex */
		url_join(e->url.firmware, sizeof(e->url.firmware), e->url.base, e->fw_path, "", "");
		url_join(e->url.firmware_dir, sizeof(e->url.firmware_dir), e->url.base, "/fw/", sha, "");
	}
}

/* effective_merge, with the version's settings already parsed when vobj. */
static json_t *merge_parsed(json_t *vobj, const char *version, const struct tenant *t, const struct device *d,
			    char *err, size_t errlen)
{
	json_t *o = json_object();
	if (vobj)
		json_object_update(o, vobj);
	if ((!vobj && merge_json(o, version, "template version", err, errlen) < 0) ||
	    merge_json(o, t->defaults, "tenant defaults", err, errlen) < 0 ||
	    merge_json(o, d->overrides, "device overrides", err, errlen) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *effective_merge(const char *version, const struct tenant *t, const struct device *d, char *err,
			size_t errlen)
{
	return merge_parsed(NULL, version, t, d, err, errlen);
}

/* Zero what effective_fill writes only in part.  Not the tenant and device
 * rows (struct copies, 9 KiB each) nor the accounts (21 KiB), of which
 * nothing reads past naccounts (effective_release only wipes): zeroing the
 * whole 42 KiB was the largest memset of a render miss.  The asserts keep
 * a field added to struct effective inside the zeroed spans. */
static void effective_clear(struct effective *e)
{
	_Static_assert(offsetof(struct effective, tenant) == 0 &&
		       offsetof(struct effective, device) == sizeof(struct tenant) &&
		       offsetof(struct effective, template_name) ==
			       offsetof(struct effective, device) + sizeof(struct device),
		       "struct effective: only tenant and device come before template_name");
	_Static_assert(offsetof(struct effective, naccounts) ==
			       offsetof(struct effective, accounts) + sizeof(((struct effective *)0)->accounts),
		       "struct effective: naccounts follows accounts");
	size_t a = offsetof(struct effective, template_name), b = offsetof(struct effective, accounts);
	size_t c = offsetof(struct effective, naccounts);
	memset((char *)e + a, 0, b - a);
	memset((char *)e + c, 0, sizeof(*e) - c);
}

/* effective_load_device for e->device, already read. */
static int effective_fill(struct store *s, const unsigned char *key, struct effective *e, char *err, size_t errlen)
{
	const struct device *d = &e->device;
	struct tversion vbuf, *v = NULL;    /* 9 KiB: on the stack, not malloc'd per render */
	int rc = -1;

	effective_clear(e);
	if (store_tenant_get_id(s, d->tenant_id, &e->tenant) != 1) {
		sp_err(err, errlen, "device %s: tenant %lld missing", d->mac, (long long)d->tenant_id);
		goto out;
	}
	sp_strlcpy(e->template_name, d->template_name[0] ? d->template_name : e->tenant.default_template,
		   sizeof(e->template_name));
	e->settings = json_object();
	if (e->template_name[0]) {
		/* The current version straight into v (not copied again),
		 * replaced by the pinned one when that differs.  Not on the
		 * heap: a 9 KiB malloc and free per render miss were 2.3% of
		 * sipprovd's CPU in a boot storm (perf, dwarf stacks). */
		v = &vbuf;
		if (store_tversion_get(s, e->tenant.id, e->template_name, 0, v) != 1) {
			sp_err(err, errlen, "device %s: template '%s' of tenant '%s' has no version", d->mac,
			       e->template_name, e->tenant.slug);
			goto out;
		}
		e->current_version = v->number;
		if (d->pinned_version && d->pinned_version != e->current_version &&
		    store_tversion_get(s, e->tenant.id, e->template_name, d->pinned_version, v) != 1) {
			sp_err(err, errlen, "device %s: pinned version %ld of '%s' does not exist",
			       d->mac, d->pinned_version, e->template_name);
			goto out;
		}
		e->version = v->number;
		char num[24];
		sp_cat(e->version_label, sizeof(e->version_label), e->tenant.slug, "-", e->template_name, "@v",
		       sp_ltoa(e->version, num, sizeof(num)), (char *)NULL);
	} else {
		snprintf(e->version_label, sizeof(e->version_label), "%s@none", e->tenant.slug);
	}
	json_decref(e->settings);
	if (!(e->settings = merge_parsed(v ? store_memo_settings(s, v) : NULL, v ? v->settings : "", &e->tenant, d,
					 err, errlen)))
		goto out;
	if (store_account_list(s, d->id, e->accounts, SP_MAX_LINES, &e->naccounts) < 0) {
		sp_err(err, errlen, "device %s: cannot read accounts: %s", d->mac, store_errmsg(s));
		goto out;
	}
	if (key) {
		for (size_t i = 0; i < e->naccounts; i++) {
			char *p = secret_decrypt(key, e->accounts[i].password_enc);
			if (!p) {
				sp_err(err, errlen, "device %s line %ld: password does not decrypt (wrong key file?)",
				       d->mac, e->accounts[i].line);
				goto out;
			}
			sp_strlcpy(e->accounts[i].password, p, sizeof(e->accounts[i].password));
			secret_wipe(p, strlen(p));
			free(p);
		}
	}
	static const char *const roles[2] = { "admin", "user" };
	char enc[2][SP_WEBPW_ENC_MAX];
	if (firmware_resolve(s, e, err, errlen) < 0)
		goto out;
	if (store_webpw_effective(s, e->tenant.id, e->device.id, roles, enc) < 0) {
		sp_err(err, errlen, "device %s: cannot read the web passwords: %s", e->device.mac, store_errmsg(s));
		goto out;
	}
	if (webpw_load(key, e, roles[0], enc[0], e->admin_password, sizeof(e->admin_password),
		       &e->admin_password_set, err, errlen) < 0 ||
	    webpw_load(key, e, roles[1], enc[1], e->user_password, sizeof(e->user_password), &e->user_password_set,
		       err, errlen) < 0)
		goto out;
	rc = 1;
out:
	if (rc < 0)
		effective_release(e);
	return rc;
}

int effective_load_device(struct store *s, const unsigned char *key, const struct device *d,
			  struct effective *e, char *err, size_t errlen)
{
	e->device = *d;
	return effective_fill(s, key, e, err, errlen);
}

int effective_load(struct store *s, const unsigned char *key, const char *mac,
		   struct effective *e, char *err, size_t errlen)
{
	/* Read into e itself: a render miss copies no device row. */
	int rc = store_device_get(s, mac, &e->device);
	if (rc <= 0) {
		memset(e, 0, sizeof(*e));
		if (rc < 0)
			sp_err(err, errlen, "cannot read device %s: %s", mac, store_errmsg(s));
		return rc;
	}
	return effective_fill(s, key, e, err, errlen);
}

void effective_release(struct effective *e)
{
	for (size_t i = 0; i < SP_MAX_LINES; i++)
		secret_wipe(e->accounts[i].password, sizeof(e->accounts[i].password));
	secret_wipe(e->admin_password, sizeof(e->admin_password));
	secret_wipe(e->user_password, sizeof(e->user_password));
	json_decref(e->settings);
	e->settings = NULL;
}

const char *effective_get(const struct effective *e, const char *key)
{
	const char *v = e->settings ? json_string_value(json_object_get(e->settings, key)) : NULL;
	return v ? v : "";
}
