/*
 * api_pending.c: /api/v1/pending: phones refused because nobody entered
 * them (list, paged by offset), claim one into a tenant, forget one, on
 * core/claim.c's rules, the ones `sipprov device pending|claim` runs.
 * A pending phone belongs to no tenant yet and the list shows every
 * source, so only tenant-less tokens and console users reach it; a tenant
 * one is refused (403) whatever its role.  Entering the device is the
 * same device add POST /devices does.
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

static bool tenantless(struct api_ctx *x, enum MHD_Result *ret)
{
	if (!x->tok.tenant_id)
		return true;
	*ret = api_error(x, MHD_HTTP_FORBIDDEN, "forbidden", NULL, 0,
			 "token '%s' is limited to one tenant; pending phones belong to none yet", x->tok.name);
	return false;
}

static enum MHD_Result list(struct api_ctx *x)
{
	enum MHD_Result ret;
	long limit, offset = 0, total;
	struct pending_dev *rows = NULL;
	size_t n;
	const char *o = api_query(x, "offset");
	if (api_limit(x, &limit, &ret) < 0)
		return ret;
	if (o && sp_parse_int(o, 0, 1000000000L, &offset) < 0)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "offset", 0, "offset must be 0 or more");
	if (store_pending_count(x->store, &total) < 0 || store_pending_page(x->store, offset, limit, &rows, &n) < 0)
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read the pending list");
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *e = pending_json(x->layouts, &rows[i]);
		json_object_set_new(e, "candidates", claim_candidates(x->layouts, &rows[i]));
		json_array_append_new(items, e);
	}
	free(rows);
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total", (json_int_t)total,
						   "offset", (json_int_t)offset, "limit", (json_int_t)limit), NULL, NULL);
}

/* POST /pending/{mac}/claim {"tenant", "layout"?, "template"?}: the
 * device `sipprov device claim` would add; 201 with it. */
static enum MHD_Result claim(struct api_ctx *x, const struct pending_dev *p)
{
	static const struct api_field fields[] = {
		{ "tenant", JSON_STRING, true }, { "layout", JSON_STRING, false }, { "template", JSON_STRING, false },
		{ NULL, 0, false },
	};
	enum MHD_Result ret;
	struct device d;
	struct tenant t;
	char err[SP_ERR_MAX], loc[64];
	const char *field, *layout;
	json_t *o = api_body(x, fields, &ret);
	if (!o)
		return ret;
	const char *tpl = json_string_value(json_object_get(o, "template"));
	if (api_tenant_visible(x, json_string_value(json_object_get(o, "tenant")), &t, &ret) != 1)
		goto out;
	if (claim_layout(x->layouts, p, json_string_value(json_object_get(o, "layout")), "\"layout\"", &layout, err,
			 sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "layout", 0, "%s", err);
		goto out;
	}
	if (device_init(&d, p->mac, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "mac", 0, "%s", err);
		goto out;
	}
	d.tenant_id = t.id;
	struct device_change ch = { .layout = layout, .model = p->model, .label = "", .template_name = tpl ? tpl : "" };
	if (device_change_apply(x->store, x->layouts, &t, &d, &ch, &field, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", field, 0, "%s", err);
		goto out;
	}
	/* Adding the device drops its pending row (016's trigger). */
	if (device_save(x->store, x->tok.name, "device add", &d, true, "", "", err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
		goto out;
	}
	store_device_get(x->store, d.mac, &d);
	snprintf(loc, sizeof(loc), "/api/v1/devices/%s", d.mac);
	ret = api_reply(x, MHD_HTTP_CREATED, device_json(&d, t.slug), NULL, loc);
out:
	json_decref(o);
	return ret;
}

enum MHD_Result api_pending(struct api_ctx *x, const char *rest)
{
	enum MHD_Result ret;
	char macs[18], mac[SP_MAC_LEN + 1], err[SP_ERR_MAX];
	struct pending_dev p;
	if (!tenantless(x, &ret))
		return ret;
	if (!*rest || !strcmp(rest, "/")) {
		if (x->is_get)
			return list(x);
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	}
	rest++;
	const char *sub = strchr(rest, '/');
	size_t n = sub ? (size_t)(sub - rest) : strlen(rest);
	if (n >= sizeof(macs))
		n = 0;                  /* too long for any MAC spelling: 404 below */
	memcpy(macs, rest, n);
	macs[n] = '\0';
	if (sub && strcmp(sub, "/claim"))
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	const char *want = sub ? "POST" : "DELETE";
	if (strcmp(x->method, want))
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use %s", want);
	if (!api_can_write(x, &ret))
		return ret;
	if (mac_normalize(macs, mac) < 0)
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "'%.17s' is not a MAC address", macs);
	if (!sub) {
		if (x->body_len)
			return api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "this request takes no body");
		int rc = claim_forget(x->store, x->tok.name, mac, err, sizeof(err));
		if (rc <= 0)
			return api_error(x, rc < 0 ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_NOT_FOUND,
					 rc < 0 ? "internal" : "not_found", NULL, 0, "%s", err);
		return api_reply(x, MHD_HTTP_NO_CONTENT, NULL, NULL, NULL);
	}
	int rc = claim_lookup(x->store, mac, &p, err, sizeof(err));
	if (rc <= 0)
		return api_error(x, rc < 0 ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_NOT_FOUND,
				 rc < 0 ? "internal" : "not_found", NULL, 0, "%s", err);
	return claim(x, &p);
}
