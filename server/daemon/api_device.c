/*
 * api_device.c: /api/v1/devices: list (cursor, tenant / status / layout
 * filters), create (Location), read (ETag), update, delete, enable and
 * disable (If-Match), new HTTP credentials (shown once), on core/device.c's
 * rules, the ones `sipprov device` runs.  It decides HTTP shapes and scope
 * only; accounts under a device are api_account.c's.
 */
#include <stdlib.h>
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
	int64_t tid;
	if (api_limit(x, &lc.limit, &ret) < 0)
		return ret;
	if (lc.status && strcmp(lc.status, "active") && strcmp(lc.status, "disabled"))
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "status", 0,
				 "status filter '%.32s' is not one of active, disabled", lc.status);
	if (api_tenant_scope(x, &tid, &ret) < 0)
		return ret;
	lc.items = json_array();
	if (store_device_each(x->store, tid, list_one, &lc) < 0) {
		json_decref(lc.items);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot list devices");
	}
	json_t *last = json_array_get(lc.items, json_array_size(lc.items) - 1);
	json_t *next = lc.more && last ? json_incref(json_object_get(last, "mac")) : json_null();
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:o}", "items", lc.items, "next_cursor", next), NULL, NULL);
}

static const struct api_field device_fields[] = {
	{ "mac", JSON_STRING, false },
	{ "tenant", JSON_STRING, true },
	{ "layout", JSON_STRING, true },
	{ "template", JSON_STRING, false },
	{ "model", JSON_STRING, false },
	{ "label", JSON_STRING, false },
	{ "overrides", JSON_OBJECT, false },
	{ NULL, 0, false },
};

/* PATCH takes the same minus what names the device. */
static const struct api_field patch_fields[] = {
	{ "layout", JSON_STRING, false },
	{ "template", JSON_STRING, false },
	{ "model", JSON_STRING, false },
	{ "label", JSON_STRING, false },
	{ "overrides", JSON_OBJECT, false },
	{ NULL, 0, false },
};

/* The body's members as a device_change; overrides become the CLI's
 * key=value strings in *kv (caller frees each and the array).  0, or -1
 * after answering. */
static int change_of(struct api_ctx *x, json_t *o, struct device_change *ch, char ***kv, enum MHD_Result *ret)
{
	json_t *ov = json_object_get(o, "overrides");
	const char *k;
	json_t *v;
	ch->layout = json_string_value(json_object_get(o, "layout"));
	ch->model = json_string_value(json_object_get(o, "model"));
	ch->label = json_string_value(json_object_get(o, "label"));
	ch->template_name = json_string_value(json_object_get(o, "template"));
	*kv = xcalloc(json_object_size(ov) + 1, sizeof(char *));
	ch->kv = *kv;
	ch->nkv = 0;
	json_object_foreach(ov, k, v) {
		struct buf b;
		if (!json_is_string(v)) {
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "wrong_type", "overrides", 0,
					 "overrides.%.64s must be a string (\"\" removes it)", k);
			return -1;
		}
		buf_init(&b, SP_FIELD_MAX * 4);
		buf_printf(&b, "%s=%s", k, json_string_value(v));
		if (b.overflow || !b.data) {
			buf_release(&b);
			*ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "overrides", 0,
					 "override '%.64s' is too long", k);
			return -1;
		}
		(*kv)[ch->nkv++] = b.data;
	}
	return 0;
}

static void kv_free(char **kv)
{
	for (size_t i = 0; kv && kv[i]; i++)
		free(kv[i]);
	free(kv);
}

static enum MHD_Result device_create(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct device d, old;
	struct tenant t;
	struct device_change ch = { 0 };
	char err[SP_ERR_MAX], etag[68], loc[64], **kv = NULL;
	const char *field;
	if (!api_can_write(x, &ret))
		return ret;
	json_t *o = api_body(x, device_fields, &ret);
	if (!o)
		return ret;
	const char *mac = json_string_value(json_object_get(o, "mac"));
	if (api_tenant_visible(x, json_string_value(json_object_get(o, "tenant")), &t, &ret) != 1)
		goto out;
	if (device_init(&d, mac, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "mac", 0, "%s", err);
		goto out;
	}
	d.tenant_id = t.id;
	if (change_of(x, o, &ch, &kv, &ret) < 0)
		goto out;
	if (!ch.model)
		ch.model = "";
	if (!ch.label)
		ch.label = "";
	if (!ch.template_name)
		ch.template_name = "";
	if (device_change_apply(x->store, x->layouts, &t, &d, &ch, &field, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", field, 0, "%s", err);
		goto out;
	}
	/* MACs are unique across tenants: the one thing a tenant token learns
	 * here is that the MAC is taken, as it would by any phone's fetch. */
	if (store_device_get(x->store, d.mac, &old) == 1) {
		ret = api_error(x, MHD_HTTP_CONFLICT, "exists", "mac", 0, "device %s exists", d.mac);
		goto out;
	}
	if (device_save(x->store, x->tok.name, "device add", &d, true, "", "", err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
		goto out;
	}
	store_device_get(x->store, d.mac, &d);
	etag_of(&d, t.slug, etag);
	snprintf(loc, sizeof(loc), "/api/v1/devices/%s", d.mac);
	ret = api_reply(x, MHD_HTTP_CREATED, device_json(&d, t.slug), etag, loc);
out:
	kv_free(kv);
	json_decref(o);
	return ret;
}

static enum MHD_Result device_update(struct api_ctx *x, struct device *d, const struct tenant *t, const char *etag)
{
	enum MHD_Result ret;
	struct device_change ch = { 0 };
	char err[SP_ERR_MAX], before[65], after[65], tag[68], what[32], **kv = NULL;
	const char *field;
	if (!api_can_write(x, &ret))
		return ret;
	json_t *o = api_body(x, patch_fields, &ret);
	if (!o)
		return ret;
	snprintf(what, sizeof(what), "device %s", d->mac);
	if (!api_if_match(x, etag, what, &ret) || change_of(x, o, &ch, &kv, &ret) < 0)
		goto out;
	device_digest(d, before);
	if (device_change_apply(x->store, x->layouts, t, d, &ch, &field, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", field, 0, "%s", err);
		goto out;
	}
	device_digest(d, after);
	if (strcmp(before, after) &&
	    device_save(x->store, x->tok.name, "device set", d, false, before, "", err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
		goto out;
	}
	etag_of(d, t->slug, tag);
	ret = api_reply(x, MHD_HTTP_OK, device_json(d, t->slug), tag, NULL);
out:
	kv_free(kv);
	json_decref(o);
	return ret;
}

static enum MHD_Result device_delete(struct api_ctx *x, const struct device *d, const char *etag)
{
	enum MHD_Result ret;
	char err[SP_ERR_MAX], what[32];
	if (!api_can_write(x, &ret))
		return ret;
	if (x->body_len)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "this request takes no body");
	snprintf(what, sizeof(what), "device %s", d->mac);
	if (!api_if_match(x, etag, what, &ret))
		return ret;
	if (device_remove(x->store, x->tok.name, d, err, sizeof(err)) < 0)
		return api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
	return api_reply(x, MHD_HTTP_NO_CONTENT, NULL, NULL, NULL);
}

/* New HTTP digest credentials; the password is in this answer only. */
static enum MHD_Result device_credentials(struct api_ctx *x, struct device *d)
{
	enum MHD_Result ret;
	char err[SP_ERR_MAX], pass[33];
	if (!api_can_write(x, &ret))
		return ret;
	if (x->body_len)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "this request takes no body");
	if (device_credentials_set(x->store, x->tok.name, d, "", pass, err, sizeof(err)) < 0)
		return api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
	ret = api_reply(x, MHD_HTTP_OK, json_pack("{s:s, s:s, s:s, s:s}", "mac", d->mac, "realm", SP_REALM,
						  "username", d->http_user, "password", pass), NULL, NULL);
	secret_wipe(pass, sizeof(pass));
	return ret;
}

enum MHD_Result api_devices(struct api_ctx *x, const char *rest)
{
	char mac[SP_MAC_LEN + 1], etag[68];
	struct device d;
	struct tenant t;
	if (!*rest || !strcmp(rest, "/")) {
		if (x->is_get)
			return device_list(x);
		if (!strcmp(x->method, "POST"))
			return device_create(x);
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET or POST");
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
		if (x->is_get)
			return api_reply(x, MHD_HTTP_OK, device_json(&d, t.slug), etag, NULL);
		if (!strcmp(x->method, "PATCH"))
			return device_update(x, &d, &t, etag);
		if (!strcmp(x->method, "DELETE"))
			return device_delete(x, &d, etag);
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0,
				 "use GET, PATCH or DELETE");
	}
	if (!strcmp(sub, "/accounts") || !strncmp(sub, "/accounts/", 10))
		return api_accounts(x, &d, &t, sub + 9);
	if (!strcmp(sub, "/diagnose") || !strcmp(sub, "/ticket") || !strcmp(sub, "/render"))
		return api_device_ops(x, &d, sub);
	if (!strcmp(sub, "/pin") || !strcmp(sub, "/unpin"))
		return api_device_pin(x, &d, &t, !strcmp(sub, "/pin"));
	if (!strcmp(sub, "/credentials")) {
		if (strcmp(x->method, "POST"))
			return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use POST");
		return device_credentials(x, &d);
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
