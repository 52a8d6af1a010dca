/*
 * api_device.c: /api/v1/devices: list (cursor, tenant / status / layout
 * filters), read (ETag), enable and disable (If-Match), on core/device.c
 * as `sipprov device` does.  Create, update and delete are the next slice:
 * their rules still live in tools/cmd_device.c and move to core first.
 */
#include <string.h>

#include "api_int.h"

static void etag_of(const struct device *d, const char *tenant, char out[68])
{
	char h[65];
	json_t *j = device_json(d, tenant);
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	sha256_hex(s ? s : "", s ? strlen(s) : 0, h);
	free(s);
	json_decref(j);
	snprintf(out, 68, "\"%s\"", h);
}

struct list_ctx {
	struct api_ctx *x;
	json_t *items;
	const char *cursor, *status, *layout;
	long limit;
	bool more;
	struct tenant t;                /* the last device's tenant, cached */
};

static int list_one(const struct device *d, void *arg)
{
	struct list_ctx *lc = arg;
	if (!api_scope_ok(lc->x, d->tenant_id) || (lc->cursor && strcmp(d->mac, lc->cursor) <= 0) ||
	    (lc->status && strcmp(d->status, lc->status)) || (lc->layout && strcmp(d->layout, lc->layout)))
		return 0;
	if ((long)json_array_size(lc->items) == lc->limit) {
		lc->more = true;
		return 1;
	}
	if (lc->t.id != d->tenant_id && store_tenant_get_id(lc->x->store, d->tenant_id, &lc->t) != 1)
		return -1;
	json_array_append_new(lc->items, device_json(d, lc->t.slug));
	return 0;
}

static enum MHD_Result device_list(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct list_ctx lc = { .x = x, .cursor = api_query(x, "cursor"), .status = api_query(x, "status"),
			       .layout = api_query(x, "layout") };
	const char *tenant = api_query(x, "tenant");
	int64_t tid = x->tok.tenant_id;
	if (api_limit(x, &lc.limit, &ret) < 0)
		return ret;
	if (lc.status && strcmp(lc.status, "active") && strcmp(lc.status, "disabled"))
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "status", 0,
				 "status filter '%.32s' is not one of active, disabled", lc.status);
	if (tenant) {
		struct tenant t;
		if (api_tenant_visible(x, tenant, &t, &ret) != 1)
			return ret;
		tid = t.id;
	}
	lc.items = json_array();
	if (store_device_each(x->store, tid, list_one, &lc) < 0) {
		json_decref(lc.items);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot list devices");
	}
	json_t *last = json_array_get(lc.items, json_array_size(lc.items) - 1);
	json_t *next = lc.more && last ? json_incref(json_object_get(last, "mac")) : json_null();
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:o}", "items", lc.items, "next_cursor", next), NULL, NULL);
}

enum MHD_Result api_devices(struct api_ctx *x, const char *rest)
{
	char mac[SP_MAC_LEN + 1], etag[68];
	struct device d;
	struct tenant t;
	if (!*rest || !strcmp(rest, "/")) {
		if (x->is_get)
			return device_list(x);
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	}
	rest++;
	const char *sub = strchr(rest, '/');
	char macs[18];
	size_t n = sub ? (size_t)(sub - rest) : strlen(rest);
	if (n >= sizeof(macs))
		n = 0;                  /* too long for any MAC spelling: 404 below */
	memcpy(macs, rest, n);
	macs[n] = '\0';
	rest = macs;
	/* Unknown, out of scope and not a MAC at all: the same 404. */
	if (strlen(rest) > 17 || mac_normalize(rest, mac) < 0 ||
	    store_device_get(x->store, mac, &d) != 1 || !api_scope_ok(x, d.tenant_id) ||
	    store_tenant_get_id(x->store, d.tenant_id, &t) != 1)
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "unknown device '%.17s'", rest);
	etag_of(&d, t.slug, etag);
	if (!sub) {
		if (!x->is_get)
			return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
		return api_reply(x, MHD_HTTP_OK, device_json(&d, t.slug), etag, NULL);
	}
	bool enable = !strcmp(sub, "/enable");
	if (!enable && strcmp(sub, "/disable"))
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	if (strcmp(x->method, "POST"))
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use POST");
	enum MHD_Result ret;
	if (!api_can_write(x, &ret))
		return ret;
	if (x->body_len)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "this request takes no body");
	const char *im = MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
	if (im && strcmp(im, "*") && strcmp(im, etag))
		return api_error(x, MHD_HTTP_PRECONDITION_FAILED, "precondition_failed", NULL, 0,
				 "device %s changed since that ETag was read; read it again", d.mac);
	const char *status = enable ? "active" : "disabled";
	if (strcmp(d.status, status)) {
		char before[65], err[SP_ERR_MAX];
		device_digest(&d, before);
		sp_strlcpy(d.status, status, sizeof(d.status));
		if (device_save(x->store, x->tok.name, enable ? "device enable" : "device disable", &d, false, before, "",
				err, sizeof(err)) < 0)
			return api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
		etag_of(&d, t.slug, etag);
	}
	return api_reply(x, MHD_HTTP_OK, device_json(&d, t.slug), etag, NULL);
}
