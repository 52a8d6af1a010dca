/*
 * device.c: what `sipprov device` and the admin API share about a device:
 * its JSON form (never credentials, only whether it has them), its digest
 * for the audit log, the add / set rules (text, layout, template,
 * overrides), removal and new HTTP credentials, each audited.  It prints
 * nothing: messages come back in err for the CLI or the API to show.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipprov.h"

void device_digest(const struct device *d, char out[65])
{
	struct buf b;
	buf_init(&b, 1 << 16);
	buf_printf(&b, "%s|%lld|%s|%s|%s|%s|%ld|%s|%s|%s", d->mac, (long long)d->tenant_id, d->layout, d->model,
		   d->label, d->template_name, d->pinned_version, d->status, d->http_user, d->overrides);
	sha256_hex(b.data, b.len, out);
	buf_release(&b);
}

int device_save(struct store *s, const char *actor, const char *action, struct device *d, bool add,
		const char *before, const char *detail, char *err, size_t errlen)
{
	char after[65], why[SP_ERR_MAX];
	device_digest(d, after);
	if (store_begin(s) < 0)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	int rc = add ? store_device_add(s, d, why, sizeof(why)) : store_device_update(s, d, why, sizeof(why));
	if (rc < 0 || store_audit(s, actor, action, d->mac, before, after, detail) < 0) {
		sp_err(err, errlen, "device %s: %s", d->mac, rc < 0 ? why : store_errmsg(s));
		store_rollback(s);
		return -1;
	}
	if (store_commit(s) < 0) {
		sp_err(err, errlen, "%s", store_errmsg(s));
		store_rollback(s);
		return -1;
	}
	return 0;
}

json_t *device_json(const struct device *d, const char *tenant)
{
	json_error_t je;
	json_t *ov = json_loads(d->overrides, 0, &je);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:o, s:{s:I, s:s, s:s, s:I, s:s}}",
			 "mac", d->mac, "tenant", tenant, "layout", d->layout, "model", d->model,
			 "label", d->label, "template", d->template_name, "pinned_version",
			 (json_int_t)d->pinned_version, "status", d->status, "http_credentials",
			 d->ha1_enc[0] != '\0', "overrides", ov ? ov : json_object(), "last_fetch",
			 "at", (json_int_t)d->fetched_at, "ip", d->fetched_ip, "user_agent", d->fetched_ua,
			 "version", (json_int_t)d->fetched_version, "digest", d->fetched_digest);
}

int device_init(struct device *d, const char *mac, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (mac) {
		if (mac_normalize(mac, d->mac) < 0)
			return sp_err(err, errlen, "'%s' is not a MAC address (12 hex digits, ':' or '-' allowed)", mac);
	} else {
		/* A softphone has no MAC: a locally administered id (02 + 40 random bits). */
		char hex[11];
		if (random_hex(hex, 5) < 0)
			return sp_err(err, errlen, "random number generator failed");
		snprintf(d->mac, sizeof(d->mac), "02%s", hex);
	}
	sp_strlcpy(d->status, "active", sizeof(d->status));
	sp_strlcpy(d->overrides, "{}", sizeof(d->overrides));
	return 0;
}

static int check_text(const char *mac, const char *field, const char *v, size_t max, char *err, size_t errlen)
{
	if (!v)
		return 0;
	if (strlen(v) >= max)
		return sp_err(err, errlen, "device %s: %s is longer than %zu bytes", mac, field, max - 1);
	if (!sp_text_ok(v))
		return sp_err(err, errlen, "device %s: %s contains control characters or invalid UTF-8", mac, field);
	return 0;
}

static int check_layout(const struct layouts *ls, const char *mac, const char *layout, char *err, size_t errlen)
{
	if (!ls)
		return sp_err(err, errlen, "device %s: no layouts are loaded", mac);
	if (layouts_find(ls, layout))
		return 0;
	char known[512] = "";
	size_t n = 0;
	for (size_t i = 0; i < layouts_count(ls); i++)
		n += (size_t)snprintf(known + n, n < sizeof(known) ? sizeof(known) - n : 0, "%s%s", i ? ", " : "",
				      layout_name(layouts_at(ls, i)));
	return sp_err(err, errlen, "device %s: unknown layout '%s' (known: %s)", mac, layout, known);
}

static int check_template(struct store *s, const struct device *d, const char *tenant, char *err, size_t errlen)
{
	if (!d->template_name[0])
		return 0;
	struct tversion *v = xmalloc(sizeof(*v));
	int found = store_tversion_get(s, d->tenant_id, d->template_name, 0, v);
	free(v);
	if (found != 1)
		return sp_err(err, errlen, "device %s: template '%s' does not exist in tenant '%s' (see 'sipprov "
			      "template list %s')", d->mac, d->template_name, tenant, tenant);
	return 0;
}

/* key=value overrides onto d->overrides, validated and canonical. */
static int apply_overrides(struct store *s, struct device *d, const struct device_change *ch, char *err,
			   size_t errlen)
{
	char why[SP_ERR_MAX];
	json_error_t je;
	int rc = 0;
	if (!ch->nkv)
		return 0;
	json_t *o = json_loads(d->overrides[0] ? d->overrides : "{}", 0, &je);
	if (!o)
		o = json_object();
	for (size_t i = 0; i < ch->nkv && rc == 0; i++)
		if (settings_apply_kv(o, ch->kv[i], why, sizeof(why)) < 0)
			rc = sp_err(err, errlen, "device %s: %s", d->mac, why);
	const char *fw;
	if (rc == 0 && (validate_settings(o, ch->force, why, sizeof(why)) < 0 ||
			firmware_settings_check(s, o, &fw, why, sizeof(why)) < 0))
		rc = sp_err(err, errlen, "device %s overrides: %s", d->mac, why);
	if (rc == 0) {
		char *canon = settings_canonical(o, why, sizeof(why));
		if (!canon)
			rc = sp_err(err, errlen, "device %s overrides: %s", d->mac, why);
		else
			sp_strlcpy(d->overrides, canon, sizeof(d->overrides));
		free(canon);
	}
	json_decref(o);
	return rc;
}

int device_change_apply(struct store *s, const struct layouts *ls, const struct tenant *t, struct device *d,
			const struct device_change *ch, const char **field, char *err, size_t errlen)
{
	*field = NULL;
	if ((*field = "layout", check_text(d->mac, "layout", ch->layout, sizeof(d->layout), err, errlen) < 0) ||
	    (*field = "model", check_text(d->mac, "model", ch->model, sizeof(d->model), err, errlen) < 0) ||
	    (*field = "label", check_text(d->mac, "label", ch->label, sizeof(d->label), err, errlen) < 0) ||
	    (*field = "template",
	     check_text(d->mac, "template", ch->template_name, sizeof(d->template_name), err, errlen) < 0) ||
	    (*field = "layout", ch->layout && check_layout(ls, d->mac, ch->layout, err, errlen) < 0))
		return -1;
	if (ch->layout)
		sp_strlcpy(d->layout, ch->layout, sizeof(d->layout));
	if (ch->model)
		sp_strlcpy(d->model, ch->model, sizeof(d->model));
	if (ch->label)
		sp_strlcpy(d->label, ch->label, sizeof(d->label));
	if (ch->template_name) {
		sp_strlcpy(d->template_name, ch->template_name, sizeof(d->template_name));
		d->pinned_version = 0;
	}
	if ((*field = "template", check_template(s, d, t->slug, err, errlen) < 0) ||
	    (*field = "overrides", apply_overrides(s, d, ch, err, errlen) < 0))
		return -1;
	*field = NULL;
	return 0;
}

int device_remove(struct store *s, const char *actor, const struct device *d, char *err, size_t errlen)
{
	char before[65];
	device_digest(d, before);
	if (store_begin(s) < 0)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	if (store_device_delete(s, d->id) < 0 || store_audit(s, actor, "device rm", d->mac, before, "", "") < 0) {
		sp_err(err, errlen, "device %s: %s", d->mac, store_errmsg(s));
		store_rollback(s);
		return -1;
	}
	if (store_commit(s) < 0) {
		sp_err(err, errlen, "%s", store_errmsg(s));
		store_rollback(s);
		return -1;
	}
	return 0;
}

int device_credentials_make(struct device *d, char pass[33], char *err, size_t errlen)
{
	char a1[SP_SLUG_MAX + 64];
	if (random_hex(pass, 16) < 0)
		return sp_err(err, errlen, "random number generator failed");
	sp_strlcpy(d->http_user, d->mac, sizeof(d->http_user));
	snprintf(a1, sizeof(a1), "%s:%s:%s", d->http_user, SP_REALM, pass);
	md5_hex(a1, strlen(a1), d->ha1_md5);
	sha256_hex(a1, strlen(a1), d->ha1_sha256);
	secret_wipe(a1, sizeof(a1));
	return 0;
}

int device_credentials_set(struct store *s, const char *actor, struct device *d, const char *detail,
			   char pass[33], char *err, size_t errlen)
{
	char before[65];
	device_digest(d, before);
	if (device_credentials_make(d, pass, err, errlen) < 0)
		return -1;
	int rc = device_save(s, actor, "device credentials", d, false, before, detail, err, errlen);
	secret_wipe(d->ha1_md5, sizeof(d->ha1_md5));
	secret_wipe(d->ha1_sha256, sizeof(d->ha1_sha256));
	if (rc < 0)
		secret_wipe(pass, 33);
	return rc;
}
