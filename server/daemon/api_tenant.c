/*
 * api_tenant.c: /api/v1/tenants: list (cursor, status filter), read,
 * create, update (If-Match), suspend, resume, on core/tenant.c's rules,
 * the same the CLI runs.  It decides HTTP shapes and scope only: a tenant
 * token sees its own tenant and gets 404 for any other.
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

static void etag_of(const struct tenant *t, char out[68])
{
	char d[65];
	tenant_digest(t, d);
	snprintf(out, 68, "\"%s\"", d);
}

static enum MHD_Result reply_tenant(struct api_ctx *x, unsigned status, const struct tenant *t, bool location)
{
	char etag[68], loc[SP_SLUG_MAX + 32];
	long n = 0;
	store_device_count(x->store, t->id, &n);
	etag_of(t, etag);
	snprintf(loc, sizeof(loc), "/api/v1/tenants/%s", t->slug);
	return api_reply(x, status, tenant_json(t, n), etag, location ? loc : NULL);
}

struct list_ctx {
	struct api_ctx *x;
	json_t *items;
	const char *cursor, *status;
	long limit;
	bool more;
};

static int list_one(const struct tenant *t, void *arg)
{
	struct list_ctx *lc = arg;
	long n = 0;
	if (!api_scope_ok(lc->x, t->id) || (lc->cursor && strcmp(t->slug, lc->cursor) <= 0) ||
	    (lc->status && strcmp(t->status, lc->status)))
		return 0;
	if ((long)json_array_size(lc->items) == lc->limit) {
		lc->more = true;
		return 1;
	}
	store_device_count(lc->x->store, t->id, &n);
	json_array_append_new(lc->items, tenant_json(t, n));
	return 0;
}

static enum MHD_Result tenant_list(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct list_ctx lc = { .x = x, .cursor = api_query(x, "cursor"), .status = api_query(x, "status") };
	if (api_limit(x, &lc.limit, &ret) < 0)
		return ret;
	if (lc.status && strcmp(lc.status, "active") && strcmp(lc.status, "suspended"))
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "status", 0,
				 "status filter '%.32s' is not one of active, suspended", lc.status);
	lc.items = json_array();
	if (store_tenant_each(x->store, list_one, &lc) < 0) {
		json_decref(lc.items);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot list tenants");
	}
	json_t *last = json_array_get(lc.items, json_array_size(lc.items) - 1);
	json_t *next = lc.more && last ? json_incref(json_object_get(last, "slug")) : json_null();
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:o}", "items", lc.items, "next_cursor", next), NULL, NULL);
}

static const struct api_field tenant_fields[] = {
	{ "slug", JSON_STRING, false },
	{ "name", JSON_STRING, false },
	{ "device_auth", JSON_STRING, false },
	{ "allow", JSON_STRING, false },
	{ "username_pattern", JSON_STRING, false },
	{ "auth_username_pattern", JSON_STRING, false },
	{ "max_per_user", JSON_INTEGER, false },
	{ "default_template", JSON_STRING, false },
	{ "defaults", JSON_OBJECT, false },
	{ NULL, 0, false },
};

/* The body's members onto t; defaults merged into *defaults (created
 * from t->defaults) with the CLI's key=value rule ("" removes a key).
 * 0, or -1 after answering. */
static int tenant_apply(struct api_ctx *x, json_t *o, struct tenant *t, json_t **defaults, enum MHD_Result *ret)
{
	char err[SP_ERR_MAX];
	struct { const char *name; char *dst; size_t n; } strs[] = {
		{ "name", t->name, sizeof(t->name) },
		{ "device_auth", t->device_auth, sizeof(t->device_auth) },
		{ "allow", t->allow_cidrs, sizeof(t->allow_cidrs) },
		{ "username_pattern", t->username_pattern, sizeof(t->username_pattern) },
		{ "auth_username_pattern", t->auth_username_pattern, sizeof(t->auth_username_pattern) },
		{ "default_template", t->default_template, sizeof(t->default_template) },
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (api_str(x, o, strs[i].name, strs[i].dst, strs[i].n, ret) < 0)
			return -1;
	json_t *m = json_object_get(o, "max_per_user");
	if (m) {
		if (json_integer_value(m) < 0 || json_integer_value(m) > 1000) {
			*ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "max_per_user", 0,
					 "tenant %s: max_per_user must be 0 (unlimited) to 1000", t->slug);
			return -1;
		}
		t->max_per_user = (long)json_integer_value(m);
	}
	json_t *d = json_object_get(o, "defaults");
	if (!d)
		return 0;
	json_error_t je;
	*defaults = json_loads(t->defaults[0] ? t->defaults : "{}", 0, &je);
	if (!*defaults)
		*defaults = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(d, k, v) {
		char kv[SP_FIELD_MAX * 2 + 2];
		if (!json_is_string(v)) {
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "wrong_type", "defaults", 0,
					 "defaults.%.64s must be a string (\"\" removes it)", k);
			return -1;
		}
		if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", k, json_string_value(v)) >= sizeof(kv) ||
		    settings_apply_kv(*defaults, kv, err, sizeof(err)) < 0) {
			*ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "defaults", 0, "tenant %s: %s",
					 t->slug, strlen(kv) >= sizeof(kv) - 1 ? "a default is too long" : err);
			return -1;
		}
	}
	return 0;
}

static enum MHD_Result tenant_create(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct tenant t, old;
	json_t *defaults = NULL;
	char err[SP_ERR_MAX];
	const char *field;
	if (!api_is_admin(x, &ret))
		return ret;
	if (x->tok.tenant_id)
		return api_error(x, MHD_HTTP_FORBIDDEN, "forbidden", NULL, 0,
				 "token '%s' is limited to one tenant and cannot create tenants", x->tok.name);
	json_t *o = api_body(x, tenant_fields, &ret);
	if (!o)
		return ret;
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.status, "active", sizeof(t.status));
	sp_strlcpy(t.device_auth, "digest", sizeof(t.device_auth));
	sp_strlcpy(t.defaults, "{}", sizeof(t.defaults));
	if (!json_object_get(o, "slug")) {
		ret = api_error(x, MHD_HTTP_BAD_REQUEST, "missing_field", "slug", 0, "field 'slug' is required");
		goto out;
	}
	if (json_object_get(o, "default_template")) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "default_template", 0,
				"default_template needs the template to exist: create the tenant, then its template, "
				"then PATCH the tenant");
		goto out;
	}
	if (api_str(x, o, "slug", t.slug, sizeof(t.slug), &ret) < 0 || tenant_apply(x, o, &t, &defaults, &ret) < 0)
		goto out;
	if (!t.name[0])
		sp_strlcpy(t.name, t.slug, sizeof(t.name));
	if (tenant_prepare(x->store, &t, defaults, false, &field, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", field, 0, "%s", err);
		goto out;
	}
	if (store_tenant_get(x->store, t.slug, &old) == 1) {
		ret = api_error(x, MHD_HTTP_CONFLICT, "exists", "slug", 0, "tenant '%s' exists", t.slug);
		goto out;
	}
	if (tenant_save(x->store, x->tok.name, "tenant add", &t, NULL, t.device_auth, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
		goto out;
	}
	store_tenant_get(x->store, t.slug, &t);
	ret = reply_tenant(x, MHD_HTTP_CREATED, &t, true);
out:
	json_decref(defaults);
	json_decref(o);
	return ret;
}

/* If-Match against the tenant's current ETag: true, or false after 412. */
static bool if_match(struct api_ctx *x, const struct tenant *t, enum MHD_Result *ret)
{
	const char *im = MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
	char etag[68];
	if (!im || !strcmp(im, "*"))
		return true;
	etag_of(t, etag);
	if (!strcmp(im, etag))
		return true;
	*ret = api_error(x, MHD_HTTP_PRECONDITION_FAILED, "precondition_failed", NULL, 0,
			 "tenant %s changed since that ETag was read; read it again", t->slug);
	return false;
}

static enum MHD_Result tenant_update(struct api_ctx *x, struct tenant *t)
{
	enum MHD_Result ret;
	json_t *defaults = NULL;
	char err[SP_ERR_MAX], before[65], after[65];
	const char *field;
	if (!api_is_admin(x, &ret))
		return ret;
	json_t *o = api_body(x, tenant_fields, &ret);
	if (!o)
		return ret;
	if (json_object_get(o, "slug")) {
		ret = api_error(x, MHD_HTTP_BAD_REQUEST, "unknown_field", "slug", 0, "a tenant's slug cannot change");
		goto out;
	}
	if (!if_match(x, t, &ret))
		goto out;
	tenant_digest(t, before);
	if (tenant_apply(x, o, t, &defaults, &ret) < 0)
		goto out;
	if (tenant_prepare(x->store, t, defaults, false, &field, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", field, 0, "%s", err);
		goto out;
	}
	tenant_digest(t, after);
	if (strcmp(before, after) &&
	    tenant_save(x->store, x->tok.name, "tenant set", t, before, "", err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
		goto out;
	}
	ret = reply_tenant(x, MHD_HTTP_OK, t, false);
out:
	json_decref(defaults);
	json_decref(o);
	return ret;
}

static enum MHD_Result tenant_status(struct api_ctx *x, struct tenant *t, const char *status)
{
	enum MHD_Result ret;
	char err[SP_ERR_MAX], before[65];
	if (!api_is_admin(x, &ret))
		return ret;
	if (x->body_len)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "this request takes no body");
	if (strcmp(t->status, status)) {
		tenant_digest(t, before);
		sp_strlcpy(t->status, status, sizeof(t->status));
		if (tenant_save(x->store, x->tok.name, !strcmp(status, "active") ? "tenant resume" : "tenant suspend", t,
				before, "", err, sizeof(err)) < 0)
			return api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
	}
	return reply_tenant(x, MHD_HTTP_OK, t, false);
}

enum MHD_Result api_tenants(struct api_ctx *x, const char *rest)
{
	enum MHD_Result ret;
	struct tenant t;
	char slug[SP_SLUG_MAX + 1];
	if (!*rest || !strcmp(rest, "/")) {
		if (x->is_get)
			return tenant_list(x);
		if (!strcmp(x->method, "POST"))
			return tenant_create(x);
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET or POST");
	}
	rest++;
	const char *sl = strchr(rest, '/');
	size_t n = sl ? (size_t)(sl - rest) : strlen(rest);
	if (n > SP_SLUG_MAX)
		n = SP_SLUG_MAX;
	memcpy(slug, rest, n);
	slug[n] = '\0';
	if (api_tenant_visible(x, slug, &t, &ret) != 1)
		return ret;
	if (!sl) {
		if (x->is_get)
			return reply_tenant(x, MHD_HTTP_OK, &t, false);
		if (!strcmp(x->method, "PATCH"))
			return tenant_update(x, &t);
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET or PATCH");
	}
	if (!strcmp(sl, "/templates") || !strncmp(sl, "/templates/", 11))
		return api_templates(x, &t, sl + 10);
	if (!strcmp(sl, "/move"))
		return api_tenant_move(x, &t);
	bool susp = !strcmp(sl, "/suspend"), res = !strcmp(sl, "/resume");
	if (!susp && !res)
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	if (strcmp(x->method, "POST"))
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use POST");
	return tenant_status(x, &t, susp ? "suspended" : "active");
}
