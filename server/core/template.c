/*
 * template.c: the template rules `sipprov template` and the admin API
 * share: names, a version's JSON form, the field-by-field diff, writing a
 * new version (set and rollback; audited, a tenant's first template
 * becomes its default) and pinning a device to a version.  It prints
 * nothing: messages come back in err.  Versions are never edited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sipprov.h"

bool template_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len >= SP_SLUG_MAX)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

json_t *template_version_json(const struct tversion *v, bool with_settings)
{
	char when[32];
	struct tm tm;
	time_t tt = (time_t)v->created;
	if (!gmtime_r(&tt, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		sp_strlcpy(when, "-", sizeof(when));
	json_t *o = json_object();
	json_object_set_new(o, "tenant", json_string(v->tenant));
	json_object_set_new(o, "name", json_string(v->name));
	json_object_set_new(o, "version", json_integer(v->number));
	json_object_set_new(o, "sha256", json_string(v->sha256));
	json_object_set_new(o, "author", json_string(v->author));
	json_object_set_new(o, "comment", json_string(v->comment));
	json_object_set_new(o, "created", json_string(when));
	if (with_settings) {
		json_t *s = json_loads(v->settings, 0, NULL);
		json_object_set_new(o, "settings", s ? s : json_object());
	}
	return o;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

json_t *template_changes(json_t *a, json_t *b)
{
	json_t *keys = json_object(), *out = json_array(), *v;
	const char *k, **names;
	size_t nk, i = 0;
	json_object_foreach(a, k, v)
		json_object_set(keys, k, json_null());
	json_object_foreach(b, k, v)
		json_object_set(keys, k, json_null());
	nk = json_object_size(keys);
	names = xcalloc(nk ? nk : 1, sizeof(*names));
	json_object_foreach(keys, k, v)
		names[i++] = k;
	qsort(names, nk, sizeof(*names), cmp_str);
	for (i = 0; i < nk; i++) {
		const char *o = json_string_value(json_object_get(a, names[i]));
		const char *n = json_string_value(json_object_get(b, names[i]));
		if (o && n && !strcmp(o, n))
			continue;
		json_t *row = json_object();
		json_object_set_new(row, "key", json_string(names[i]));
		json_object_set_new(row, "old", o ? json_string(o) : json_null());
		json_object_set_new(row, "new", n ? json_string(n) : json_null());
		json_array_append_new(out, row);
	}
	free(names);
	json_decref(keys);
	return out;
}

/* "port: 5060 -> 5061; transport: (unset) -> tls" into b. */
static void describe_changes(json_t *before, json_t *after, struct buf *b)
{
	json_t *ch = template_changes(before, after), *row;
	size_t i;
	json_array_foreach(ch, i, row) {
		const char *o = json_string_value(json_object_get(row, "old"));
		const char *n = json_string_value(json_object_get(row, "new"));
		buf_printf(b, "%s%s: %s -> %s", b->len ? "; " : "", json_string_value(json_object_get(row, "key")),
			   o ? o : "(unset)", n ? n : "(unset)");
	}
	json_decref(ch);
}

int template_write(struct store *s, const char *actor, struct tenant *t, const char *name, json_t *obj,
		   const char *comment, const char *action, bool force, struct tversion *out,
		   struct template_write_info *info, char *err, size_t errlen)
{
	char why[SP_ERR_MAX], object[SP_SLUG_MAX * 2 + 16];
	struct tversion *cur = xcalloc(1, sizeof(*cur));
	json_t *before = NULL;
	char *canon = NULL;
	int have, rc = -1;

	memset(info, 0, sizeof(*info));
	buf_init(&info->detail, 4096);
	const char *fw_field;
	if (validate_settings(obj, force, why, sizeof(why)) < 0 ||
	    firmware_settings_check(s, obj, &fw_field, why, sizeof(why)) < 0) {
		sp_err(err, errlen, "template %s/%s: %s", t->slug, name, why);
		goto out;
	}
	info->forced = validate_settings_contradiction(obj, info->why, sizeof(info->why));
	if (!(canon = settings_canonical(obj, why, sizeof(why)))) {
		sp_err(err, errlen, "template %s/%s: %s", t->slug, name, why);
		goto out;
	}
	if (store_begin(s) < 0) {
		sp_err(err, errlen, "cannot start a transaction: %s", store_errmsg(s));
		goto out;
	}
	have = store_tversion_get(s, t->id, name, 0, cur);
	if (have < 0) {
		store_rollback(s);
		sp_err(err, errlen, "cannot read template '%s': %s", name, store_errmsg(s));
		goto out;
	}
	if (have == 1 && strcmp(cur->settings, canon) == 0) {
		store_rollback(s);
		*out = *cur;
		info->unchanged = true;
		info->forced = false;
		rc = 0;
		goto out;
	}
	before = json_loads(have == 1 ? cur->settings : "{}", 0, NULL);
	describe_changes(before ? before : obj, obj, &info->detail);
	if (info->forced)
		buf_printf(&info->detail, "%sforced: %s", info->detail.len ? "; " : "", info->why);
	if (store_tversion_add(s, t->id, name, canon, actor, comment ? comment : "", out, why, sizeof(why)) < 0) {
		store_rollback(s);
		sp_err(err, errlen, "template %s/%s: %s", t->slug, name, why);
		goto out;
	}
	snprintf(object, sizeof(object), "template %s/%s@v%ld", t->slug, name, out->number);
	if (store_audit(s, actor, action, object, have == 1 ? cur->sha256 : "", out->sha256,
			info->detail.data ? info->detail.data : "") < 0) {
		store_rollback(s);
		sp_err(err, errlen, "cannot write the audit log: %s", store_errmsg(s));
		goto out;
	}
	/* A tenant's first template becomes its default, so devices without
	 * an explicit template get it. */
	if (!t->default_template[0]) {
		sp_strlcpy(t->default_template, name, sizeof(t->default_template));
		if (store_tenant_update(s, t, why, sizeof(why)) < 0 ||
		    store_audit(s, actor, "tenant.default_template", t->slug, "", "", name) < 0) {
			store_rollback(s);
			sp_err(err, errlen, "tenant %s: cannot set the default template: %s", t->slug, why);
			goto out;
		}
		info->made_default = true;
	}
	if (store_commit(s) < 0) {
		store_rollback(s);
		sp_err(err, errlen, "cannot commit: %s", store_errmsg(s));
		goto out;
	}
	rc = 0;
out:
	json_decref(before);
	free(canon);
	free(cur);
	return rc;
}

int template_pin(struct store *s, const char *actor, struct device *d, const struct tenant *t, long number,
		 const char *name, bool *unchanged, char *err, size_t errlen)
{
	char before[32], after[32], object[64], why[SP_ERR_MAX];
	snprintf(before, sizeof(before), "pinned=%ld", d->pinned_version);
	snprintf(after, sizeof(after), "pinned=%ld", number);
	*unchanged = d->pinned_version == number;
	if (*unchanged)
		return 0;
	d->pinned_version = number;
	snprintf(object, sizeof(object), "device %s", d->mac);
	if (store_begin(s) < 0)
		return sp_err(err, errlen, "cannot start a transaction: %s", store_errmsg(s));
	if (store_device_update(s, d, why, sizeof(why)) < 0 ||
	    store_audit(s, actor, number ? "template.pin" : "template.unpin", object, before, after, name) < 0 ||
	    store_commit(s) < 0) {
		store_rollback(s);
		return sp_err(err, errlen, "device %s: cannot update: %s", d->mac, store_errmsg(s));
	}
	(void)t;
	return 0;
}

struct impact_walk {
	const struct tenant *t;
	const char *name, *cur, *next;
	size_t max;
	struct template_impact *out;
	char *err;
	size_t errlen;
	bool failed;                    /* a device's settings did not parse (err) */
};

static int impact_one(const struct device *d, void *arg)
{
	struct impact_walk *w = arg;
	if (strcmp(d->template_name[0] ? d->template_name : w->t->default_template, w->name))
		return 0;
	if (d->pinned_version) {
		w->out->pinned++;
		return 0;
	}
	json_t *before = effective_merge(w->cur, w->t, d, w->err, w->errlen);
	json_t *after = before ? effective_merge(w->next, w->t, d, w->err, w->errlen) : NULL;
	w->failed = !after;
	if (after && !json_equal(before, after)) {
		if (json_array_size(w->out->macs) < w->max)
			json_array_append_new(w->out->macs, json_string(d->mac));
		w->out->devices++;
	}
	json_decref(before);
	json_decref(after);
	return w->failed;
}

int template_impact(struct store *s, const struct tenant *t, const char *name, const char *settings, size_t max,
		    struct template_impact *out, char *err, size_t errlen)
{
	struct tversion *cur = xcalloc(1, sizeof(*cur));
	int have = store_tversion_get(s, t->id, name, 0, cur), rc = -1;
	memset(out, 0, sizeof(*out));
	out->macs = json_array();
	if (have < 0) {
		sp_err(err, errlen, "cannot read template '%s': %s", name, store_errmsg(s));
		goto out;
	}
	struct impact_walk w = { t, name, have ? cur->settings : "", settings, max, out, err, errlen, false };
	if (store_device_each(s, t->id, impact_one, &w) < 0) {
		sp_err(err, errlen, "cannot read devices: %s", store_errmsg(s));
		goto out;
	}
	if (w.failed)
		goto out;
	rc = 0;
out:
	free(cur);
	return rc;
}
