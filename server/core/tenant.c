/*
 * tenant.c: the tenant rules the CLI (`sipprov tenant`) and the admin API
 * share: check and canonicalise a tenant before it is written, its JSON
 * form, its digest for the audit log, and the audited write.  It parses
 * no command line and no HTTP body: callers fill struct tenant.
 */
#include <stdlib.h>
#include <string.h>

#include "sipprov.h"

json_t *tenant_json(const struct tenant *t, long devices)
{
	json_error_t je;
	json_t *defaults = json_loads(t->defaults, 0, &je);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:I}",
			 "slug", t->slug, "name", t->name, "status", t->status,
			 "device_auth", t->device_auth, "allow", t->allow_cidrs,
			 "username_pattern", t->username_pattern,
			 "auth_username_pattern", t->auth_username_pattern,
			 "max_per_user", (json_int_t)t->max_per_user,
			 "default_template", t->default_template,
			 "defaults", defaults ? defaults : json_object(),
			 "devices", (json_int_t)devices);
}

void tenant_digest(const struct tenant *t, char out[65])
{
	json_t *o = tenant_json(t, 0);
	char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	sha256_hex(s ? s : "", s ? strlen(s) : 0, out);
	free(s);
	json_decref(o);
}

/* Which field a validate_tenant message is about (longest names first). */
static const char *field_of(const char *err)
{
	static const char *const f[] = { "auth_username_pattern", "username_pattern", "device_auth",
					 "max_per_user", "status", "slug", "name" };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strstr(err, f[i]))
			return f[i];
	return NULL;
}

int tenant_prepare(struct store *s, struct tenant *t, json_t *defaults, bool force, const char **field,
		   char *err, size_t errlen)
{
	char why[SP_ERR_MAX];
	*field = NULL;
	if (defaults) {
		*field = "defaults";
		if (validate_settings(defaults, force, why, sizeof(why)) < 0)
			return sp_err(err, errlen, "tenant %s defaults: %s", t->slug, why);
		const char *fw;
		if (firmware_settings_check(s, defaults, &fw, why, sizeof(why)) < 0)
			return sp_err(err, errlen, "tenant %s defaults: %s", t->slug, why);
		char *canon = settings_canonical(defaults, why, sizeof(why));
		if (!canon)
			return sp_err(err, errlen, "tenant %s defaults: %s", t->slug, why);
		if (strlen(canon) >= sizeof(t->defaults)) {
			free(canon);
			return sp_err(err, errlen, "tenant %s defaults: longer than %zu bytes", t->slug,
				      sizeof(t->defaults) - 1);
		}
		sp_strlcpy(t->defaults, canon, sizeof(t->defaults));
		free(canon);
	}
	/* Canonical before the digest and the audit, so "unchanged" means the
	 * same policy and the audit shows what is stored. */
	*field = NULL;
	if (policy_tenant_canon(t, why, sizeof(why)) < 0 || validate_tenant(t, why, sizeof(why)) < 0) {
		*field = field_of(why);
		if (!*field && strstr(why, "CIDR"))
			*field = "allow";
		return sp_err(err, errlen, "tenant %s: %s", t->slug, why);
	}
	if (t->default_template[0]) {
		struct tversion *v = xmalloc(sizeof(*v));
		int found = t->id ? store_tversion_get(s, t->id, t->default_template, 0, v) : 0;
		free(v);
		if (found != 1) {
			*field = "default_template";
			return sp_err(err, errlen, "tenant %s: default template '%s' does not exist (create it with "
				      "'sipprov template set %s %s key=value...')", t->slug, t->default_template,
				      t->slug, t->default_template);
		}
	}
	return 0;
}

int tenant_save(struct store *s, const char *actor, const char *action, struct tenant *t, const char *before,
		const char *detail, char *err, size_t errlen)
{
	char after[65];
	tenant_digest(t, after);
	if (store_begin(s) < 0)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	int rc = t->id ? store_tenant_update(s, t, err, errlen) : store_tenant_add(s, t, err, errlen);
	if (rc == 0 && store_audit(s, actor, action, t->slug, before ? before : "", after, detail) < 0)
		rc = sp_err(err, errlen, "%s", store_errmsg(s));
	if (rc < 0) {
		store_rollback(s);
		return -1;
	}
	if (store_commit(s) < 0) {
		store_rollback(s);
		return sp_err(err, errlen, "%s", store_errmsg(s));
	}
	return 0;
}
