/*
 * device.c: a device's JSON form, shared by `sipprov device show --json`
 * and the admin API so both print the same fields.  It holds no rule
 * about devices (validate.c) and never prints credentials, only whether
 * the device has them.
 */
#include "sipprov.h"

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
