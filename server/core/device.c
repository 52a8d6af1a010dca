/*
 * device.c: what `sipprov device` and the admin API share about a device:
 * its JSON form (never credentials, only whether it has them), its digest
 * for the audit log, and the audited write.  Field rules stay in
 * validate.c and the store.
 */
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
