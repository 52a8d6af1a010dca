/*
 * api_template.c: /api/v1/tenants/{slug}/templates[/{name}[/versions[/{n}]
 * | /diff | /rollback]] and a device's pin / unpin, on core/template.c:
 * the rules `sipprov template` runs.  PUT replaces the settings with a new
 * version (never edits one); rollback writes the old settings as a new
 * version, or with ?dry_run=true previews which devices would change.
 * Scope was decided on the tenant or device by the caller.
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

#define ROLLBACK_MACS_MAX 20            /* MACs a rollback preview lists */

static void etag_of(const struct tversion *v, char out[68])
{
	snprintf(out, 68, "\"%s\"", v->sha256);
}

/* ?name= or {n} as a version number: 0 after answering 400 otherwise. */
static long version_of(struct api_ctx *x, const char *s, const char *field, enum MHD_Result *ret)
{
	long n;
	if (s && (s[0] == 'v' || s[0] == 'V'))
		s++;
	if (!s || sp_parse_int(s, 1, 1000000000L, &n) < 0) {
		*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", field, 0,
				 "%s must be a version number (1, 2, ... or v1, v2, ...)", field);
		return 0;
	}
	return n;
}

/* The version (0 = current): 1, or 0 after answering 404, -1 after 500. */
static int load(struct api_ctx *x, const struct tenant *t, const char *name, long n, struct tversion *v,
		enum MHD_Result *ret)
{
	int rc = store_tversion_get(x->store, t->id, name, n, v);
	if (rc < 0)
		*ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read template '%s'", name);
	else if (rc == 0 && n == 0)
		*ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "tenant %s has no template '%s'", t->slug,
				 name);
	else if (rc == 0)
		*ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "template %s/%s has no version %ld",
				 t->slug, name, n);
	return rc;
}

static int list_row(const struct tversion *v, void *arg)
{
	json_t *arr = arg;
	size_t n = json_array_size(arr);
	json_t *last = n ? json_array_get(arr, n - 1) : NULL;
	/* Rows come ordered by name, number: keep the last of each name. */
	if (last && !strcmp(json_string_value(json_object_get(last, "name")), v->name))
		json_array_remove(arr, n - 1);
	json_array_append_new(arr, template_version_json(v, false));
	return 0;
}

static int hist_row(const struct tversion *v, void *arg)
{
	json_array_append_new(arg, template_version_json(v, false));
	return 0;
}

static enum MHD_Result list(struct api_ctx *x, const struct tenant *t, const char *name, long current)
{
	json_t *arr = json_array(), *e;
	size_t i;
	if (store_tversion_each(x->store, t->id, name, name ? hist_row : list_row, arr) < 0) {
		json_decref(arr);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read templates");
	}
	json_array_foreach(arr, i, e) {
		if (name)
			json_object_set_new(e, "current", json_boolean(json_integer_value(json_object_get(e, "version")) ==
								     current));
		else
			json_object_set_new(e, "default", json_boolean(!strcmp(t->default_template,
					    json_string_value(json_object_get(e, "name")))));
	}
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:n}", "items", arr, "next_cursor"), NULL, NULL);
}

/* Write obj as a new version; answers 200/201 (or 422). */
static enum MHD_Result write_version(struct api_ctx *x, struct tenant *t, const char *name, json_t *obj,
				     const char *comment, const char *action, bool created)
{
	char err[SP_ERR_MAX], etag[68], loc[SP_SLUG_MAX * 2 + 48];
	struct tversion *nv = xcalloc(1, sizeof(*nv));
	struct template_write_info info;
	enum MHD_Result ret;
	if (template_write(x->store, x->tok.name, t, name, obj, comment, action, false, nv, &info, err,
			   sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "settings", 0, "%s", err);
	} else {
		json_t *doc = template_version_json(nv, true);
		json_object_set_new(doc, "changed", json_boolean(!info.unchanged));
		etag_of(nv, etag);
		snprintf(loc, sizeof(loc), "/api/v1/tenants/%s/templates/%s", t->slug, name);
		ret = api_reply(x, created ? MHD_HTTP_CREATED : MHD_HTTP_OK, doc, etag, created ? loc : NULL);
	}
	buf_release(&info.detail);
	free(nv);
	return ret;
}

static enum MHD_Result put(struct api_ctx *x, struct tenant *t, const char *name)
{
	static const struct api_field fields[] = {
		{ "settings", JSON_OBJECT, true }, { "comment", JSON_STRING, false }, { NULL, 0, false },
	};
	enum MHD_Result ret;
	struct tversion *cur = xcalloc(1, sizeof(*cur));
	json_t *obj = json_object(), *o = NULL, *v;
	const char *k, *comment;
	char err[SP_ERR_MAX], etag[68], what[SP_SLUG_MAX * 2 + 16];
	if (!api_can_write(x, &ret) || !(o = api_body(x, fields, &ret)))
		goto out;
	if (!template_name_ok(name)) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "name", 0,
				"template name '%.64s' is not valid: use 1 to 63 of a-z, 0-9, '-' and '_'", name);
		goto out;
	}
	comment = json_string_value(json_object_get(o, "comment"));
	if (comment && (strlen(comment) >= SP_FIELD_MAX || !sp_text_ok(comment))) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "comment", 0,
				"comment must be one line of UTF-8 text under %d bytes", SP_FIELD_MAX);
		goto out;
	}
	int have = store_tversion_get(x->store, t->id, name, 0, cur);
	if (have < 0) {
		ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read template '%s'", name);
		goto out;
	}
	snprintf(what, sizeof(what), "template %s/%s", t->slug, name);
	if (have == 1) {
		etag_of(cur, etag);
		if (!api_if_match(x, etag, what, &ret))
			goto out;
	}
	/* PUT replaces: each key=value through the CLI's per-key rule. */
	json_object_foreach(json_object_get(o, "settings"), k, v) {
		char kv[SP_FIELD_MAX * 2];
		if (!json_is_string(v)) {
			ret = api_error(x, MHD_HTTP_BAD_REQUEST, "wrong_type", "settings", 0,
					"settings.%.64s must be a string", k);
			goto out;
		}
		if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", k, json_string_value(v)) >= sizeof(kv) ||
		    settings_apply_kv(obj, kv, err, sizeof(err)) < 0) {
			ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "settings", 0, "template %s/%s: %s",
					t->slug, name, strlen(kv) >= sizeof(kv) - 1 ? "a setting is too long" : err);
			goto out;
		}
	}
	ret = write_version(x, t, name, obj, comment, "template.set", have == 0);
out:
	json_decref(o);
	json_decref(obj);
	free(cur);
	return ret;
}

static enum MHD_Result diff(struct api_ctx *x, const struct tenant *t, const char *name)
{
	enum MHD_Result ret;
	long from, to;
	struct tversion *a = xcalloc(1, sizeof(*a)), *b = xcalloc(1, sizeof(*b));
	if (!(from = version_of(x, api_query(x, "from"), "from", &ret)) ||
	    !(to = version_of(x, api_query(x, "to"), "to", &ret)) || load(x, t, name, from, a, &ret) != 1 ||
	    load(x, t, name, to, b, &ret) != 1)
		goto out;
	json_t *ja = json_loads(a->settings, 0, NULL), *jb = json_loads(b->settings, 0, NULL);
	json_t *ch = template_changes(ja, jb);
	json_decref(ja);
	json_decref(jb);
	ret = api_reply(x, MHD_HTTP_OK, json_pack("{s:s, s:s, s:I, s:I, s:o}", "tenant", t->slug, "name", name, "from",
						  (json_int_t)from, "to", (json_int_t)to, "changes", ch), NULL, NULL);
out:
	free(a);
	free(b);
	return ret;
}

/* ?dry_run=true: what the rollback would change (settings, and which
 * devices' merged settings), nothing written; the ETag is the current
 * version's, for the If-Match of the real one. */
static enum MHD_Result rollback_preview(struct api_ctx *x, const struct tenant *t, const char *name,
					const struct tversion *cur, const struct tversion *to)
{
	char err[SP_ERR_MAX], etag[68];
	struct template_impact imp;
	if (template_impact(x->store, t, name, to->settings, ROLLBACK_MACS_MAX, &imp, err, sizeof(err)) < 0) {
		json_decref(imp.macs);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "%s", err);
	}
	json_t *ja = json_loads(cur->settings, 0, NULL), *jb = json_loads(to->settings, 0, NULL);
	json_t *ch = template_changes(ja, jb);
	json_decref(ja);
	json_decref(jb);
	etag_of(cur, etag);
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:b, s:s, s:s, s:I, s:I, s:b, s:o, s:I, s:o, s:I}", "dry_run", 1,
						   "tenant", t->slug, "name", name, "current", (json_int_t)cur->number,
						   "version", (json_int_t)to->number, "changed",
						   strcmp(cur->settings, to->settings) != 0, "changes", ch, "devices",
						   (json_int_t)imp.devices, "macs", imp.macs, "pinned",
						   (json_int_t)imp.pinned), etag, NULL);
}

static enum MHD_Result rollback(struct api_ctx *x, struct tenant *t, const char *name)
{
	static const struct api_field fields[] = { { "version", JSON_INTEGER, true }, { NULL, 0, false } };
	enum MHD_Result ret;
	struct tversion *v = xcalloc(1, sizeof(*v)), *cur = xcalloc(1, sizeof(*cur));
	json_t *o = NULL, *obj = NULL;
	char comment[64], etag[68], what[SP_SLUG_MAX * 2 + 16];
	bool dry;
	if (!api_can_write(x, &ret) || !api_flag(x, "dry_run", &dry, &ret) || !(o = api_body(x, fields, &ret)))
		goto out;
	long n = (long)json_integer_value(json_object_get(o, "version"));
	if (n < 1) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "version", 0, "version must be 1 or more");
		goto out;
	}
	if (load(x, t, name, 0, cur, &ret) != 1)
		goto out;
	etag_of(cur, etag);
	snprintf(what, sizeof(what), "template %s/%s", t->slug, name);
	if (!api_if_match(x, etag, what, &ret) || load(x, t, name, n, v, &ret) != 1)
		goto out;
	if (dry) {
		ret = rollback_preview(x, t, name, cur, v);
		goto out;
	}
	obj = json_loads(v->settings, 0, NULL);
	snprintf(comment, sizeof(comment), "rollback to v%ld", n);
	ret = write_version(x, t, name, obj ? obj : json_object(), comment, "template.rollback", false);
out:
	json_decref(obj);
	json_decref(o);
	free(v);
	free(cur);
	return ret;
}

enum MHD_Result api_templates(struct api_ctx *x, struct tenant *t, const char *rest)
{
	enum MHD_Result ret;
	char name[SP_SLUG_MAX + 1];
	if (!*rest || !strcmp(rest, "/")) {
		if (x->is_get)
			return list(x, t, NULL, 0);
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	}
	rest++;
	const char *sub = strchr(rest, '/');
	size_t n = sub ? (size_t)(sub - rest) : strlen(rest);
	if (n > SP_SLUG_MAX)
		n = SP_SLUG_MAX;        /* too long for a name: 404 or 422 below */
	memcpy(name, rest, n);
	name[n] = '\0';
	if (!sub && !strcmp(x->method, "PUT"))
		return put(x, t, name);
	struct tversion *cur = xcalloc(1, sizeof(*cur));
	if (!template_name_ok(name))
		ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "tenant %s has no template '%.64s'", t->slug,
				name);
	else if (load(x, t, name, 0, cur, &ret) != 1)
		;
	else if (!sub) {
		char etag[68];
		etag_of(cur, etag);
		ret = x->is_get ? api_reply(x, MHD_HTTP_OK, template_version_json(cur, true), etag, NULL)
				: api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET or PUT");
	} else if (!strcmp(sub, "/versions")) {
		ret = x->is_get ? list(x, t, name, cur->number)
				: api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	} else if (!strncmp(sub, "/versions/", 10)) {
		long v;
		struct tversion *one = xcalloc(1, sizeof(*one));
		if (!x->is_get)
			ret = api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
		else if (sp_parse_int(sub[10] == 'v' ? sub + 11 : sub + 10, 1, 1000000000L, &v) < 0)
			ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such version");
		else if (load(x, t, name, v, one, &ret) == 1)
			ret = api_reply(x, MHD_HTTP_OK, template_version_json(one, true), NULL, NULL);
		free(one);
	} else if (!strcmp(sub, "/diff")) {
		ret = x->is_get ? diff(x, t, name)
				: api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	} else if (!strcmp(sub, "/rollback")) {
		ret = !strcmp(x->method, "POST") ? rollback(x, t, name)
			: api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use POST");
	} else {
		ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	}
	free(cur);
	return ret;
}

/* POST /devices/{mac}/pin {"version": N} and POST /devices/{mac}/unpin. */
enum MHD_Result api_device_pin(struct api_ctx *x, struct device *d, const struct tenant *t, bool pin)
{
	static const struct api_field fields[] = { { "version", JSON_INTEGER, true }, { NULL, 0, false } };
	enum MHD_Result ret;
	char err[SP_ERR_MAX];
	long n = 0;
	bool unchanged;
	json_t *o = NULL;
	const char *name = d->template_name[0] ? d->template_name : t->default_template;
	if (strcmp(x->method, "POST"))
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use POST");
	if (!api_can_write(x, &ret))
		return ret;
	if (pin) {
		struct tversion *v = xcalloc(1, sizeof(*v));
		if (!(o = api_body(x, fields, &ret)))
			goto out;
		n = (long)json_integer_value(json_object_get(o, "version"));
		bool bad = true;
		if (!name[0])
			ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "version", 0,
					"device %s has no template and tenant %s has no default template: nothing to pin",
					d->mac, t->slug);
		else if (n < 1 || store_tversion_get(x->store, t->id, name, n, v) != 1)
			ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "version", 0,
					"template %s/%s has no version %ld", t->slug, name, n);
		else
			bad = false;
		free(v);
		if (bad)
			goto out;
	} else if (x->body_len) {
		return api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "this request takes no body");
	}
	if (template_pin(x->store, x->tok.name, d, t, n, name, &unchanged, err, sizeof(err)) < 0)
		ret = api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
	else
		ret = api_reply(x, MHD_HTTP_OK, device_json(d, t->slug), NULL, NULL);
out:
	json_decref(o);
	return ret;
}
