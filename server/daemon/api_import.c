/*
 * api_import.c: POST /api/v1/import (a CSV or JSON body, ?dry_run=,
 * generate_credentials, errors by row, Idempotency-Key) and GET
 * /api/v1/export (CSV or JSON), on core/import.c: the importer and
 * exporter `sipprov import|export` run.  A JSON body is turned into that
 * CSV, so there is one set of rules; this file keeps the map back from a
 * CSV row to the JSON device it came from.  Secrets are in the answer
 * once; a kept answer (Idempotency-Key) is sealed with the key file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"

#define IMPORT_ERRORS_MAX 100           /* errors listed in one answer */

struct imp_run {
	struct api_ctx *x;
	const struct tenant *t;
	json_t *errors;                 /* [{code,message,field,row}] */
	json_t *devices;                /* the answer's devices, in file order */
	long *rowmap;                   /* JSON bodies: CSV row -> device index (1-based) */
	size_t nrowmap;
	const char *idem_key;
	char body_sha[65];
	json_t *answer;                 /* built before commit */
	const struct bulk_import_result *r;
	bool json_body;
};

/* ---- JSON body -> the importer's CSV ---- */

static const char *const dev_keys[] = { "mac", "layout", "model", "label", "template", "overrides", "accounts" };
static const char *const acc_keys[] = { "line", "display_name", "extension", "username", "auth_username",
					"password", "token" };
static const char *const csv_cols[] = { "mac", "layout", "model", "label", "template", "line", "display_name",
					"extension", "username", "auth_username", "password", "token" };

static bool known(const char *k, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k, keys[i]))
			return true;
	return false;
}

/* Shape errors of one device (row = its 1-based index): 400 naming the
 * field; 0 when fine.  Values are judged by the importer. */
static int shape_check(struct api_ctx *x, json_t *dev, long row, enum MHD_Result *ret)
{
	const char *k;
	json_t *v;
	if (!json_is_object(dev)) {
		*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "wrong_type", "devices", row, "devices[%ld] must be an object",
				 row - 1);
		return -1;
	}
	json_object_foreach(dev, k, v) {
		if (!known(k, dev_keys, sizeof(dev_keys) / sizeof(dev_keys[0]))) {
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "unknown_field", k, row,
					 "device %ld: unknown field '%.64s' (known: mac, layout, model, label, template, "
					 "overrides, accounts)", row, k);
			return -1;
		}
		bool ok = !strcmp(k, "overrides") ? json_is_object(v) : !strcmp(k, "accounts") ? json_is_array(v)
											   : json_is_string(v);
		if (!ok) {
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "wrong_type", k, row, "device %ld: field '%s' must be %s",
					 row, k, !strcmp(k, "overrides") ? "an object" : !strcmp(k, "accounts") ? "an array"
					 : "a string");
			return -1;
		}
	}
	for (const char *const *req = (const char *const[]){ "mac", "layout", NULL }; *req; req++)
		if (!json_object_get(dev, *req)) {
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "missing_field", *req, row,
					 "device %ld: field '%s' is required", row, *req);
			return -1;
		}
	json_object_foreach(json_object_get(dev, "overrides"), k, v)
		if (!json_is_string(v)) {
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "wrong_type", "overrides", row,
					 "device %ld: overrides.%.64s must be a string", row, k);
			return -1;
		}
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(dev, "accounts"), i, a) {
		if (!json_is_object(a)) {
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "wrong_type", "accounts", row,
					 "device %ld: accounts[%zu] must be an object", row, i);
			return -1;
		}
		json_object_foreach(a, k, v) {
			if (!known(k, acc_keys, sizeof(acc_keys) / sizeof(acc_keys[0]))) {
				*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "unknown_field", k, row,
						 "device %ld: accounts[%zu]: unknown field '%.64s' (known: line, display_name, "
						 "extension, username, auth_username, password, token)", row, i, k);
				return -1;
			}
			if (!strcmp(k, "line") ? !json_is_integer(v) : !json_is_string(v)) {
				*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "wrong_type", k, row,
						 "device %ld: accounts[%zu].%s must be %s", row, i, k,
						 !strcmp(k, "line") ? "an integer" : "a string");
				return -1;
			}
		}
	}
	return 0;
}

static const char *str_of(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* The devices array as import CSV into out; rowmap filled.  0, or -1
 * after answering. */
static int json_to_csv(struct imp_run *ir, json_t *devs, struct buf *out, enum MHD_Result *ret)
{
	json_t *keys = json_object(), *dev, *v;
	const char *k;
	size_t i, rows = 0;
	json_array_foreach(devs, i, dev) {
		if (shape_check(ir->x, dev, (long)i + 1, ret) < 0) {
			json_decref(keys);
			return -1;
		}
		json_object_foreach(json_object_get(dev, "overrides"), k, v)
			json_object_set_new(keys, k, json_true());
		size_t na = json_array_size(json_object_get(dev, "accounts"));
		rows += na ? na : 1;
	}
	/* Override keys in a stable (sorted) order, after the fixed columns. */
	size_t nk = json_object_size(keys), j = 0;
	const char **kv = xcalloc(nk ? nk : 1, sizeof(*kv));
	json_object_foreach(keys, k, v)
		kv[j++] = k;
	for (size_t a = 1; a < nk; a++)
		for (size_t b = a; b > 0 && strcmp(kv[b - 1], kv[b]) > 0; b--) {
			const char *tmp = kv[b];
			kv[b] = kv[b - 1];
			kv[b - 1] = tmp;
		}
	for (size_t c = 0; c < sizeof(csv_cols) / sizeof(csv_cols[0]); c++)
		csv_put(out, csv_cols[c], c == 0);
	for (j = 0; j < nk; j++)
		csv_put(out, kv[j], 0);
	buf_adds(out, "\r\n");
	ir->rowmap = xcalloc(rows + 1, sizeof(long));
	json_array_foreach(devs, i, dev) {
		json_t *accs = json_object_get(dev, "accounts"), *ov = json_object_get(dev, "overrides");
		size_t na = json_array_size(accs);
		for (size_t r = 0; r < (na ? na : 1); r++) {
			json_t *a = na ? json_array_get(accs, r) : NULL;
			char line[24] = "";
			if (a && json_object_get(a, "line"))
				snprintf(line, sizeof(line), "%lld", (long long)json_integer_value(json_object_get(a, "line")));
			else if (a)
				snprintf(line, sizeof(line), "%zu", r + 1);
			const char *cells[] = { str_of(dev, "mac"), str_of(dev, "layout"), str_of(dev, "model"),
						str_of(dev, "label"), str_of(dev, "template"), line,
						str_of(a, "display_name"), str_of(a, "extension"), str_of(a, "username"),
						str_of(a, "auth_username"), str_of(a, "password"), str_of(a, "token") };
			for (size_t c = 0; c < sizeof(cells) / sizeof(cells[0]); c++)
				csv_put(out, cells[c], c == 0);
			for (j = 0; j < nk; j++)
				csv_put(out, str_of(ov, kv[j]), 0);
			buf_adds(out, "\r\n");
			ir->rowmap[++ir->nrowmap] = (long)i + 1;
		}
	}
	free(kv);
	json_decref(keys);
	if (out->overflow) {
		*ret = api_error(ir->x, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", NULL, 0, "the import is too large");
		return -1;
	}
	return 0;
}

/* The answer's counts onto ir->answer. */
static void counts(struct imp_run *ir, bool dry)
{
	const struct bulk_import_result *r = ir->r;
	json_t *c = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I}", "tenant", ir->t->slug, "dry_run", dry, "rows",
			      (json_int_t)r->rows, "devices_new", (json_int_t)r->devices_new, "devices_updated",
			      (json_int_t)r->devices_updated, "accounts_new", (json_int_t)r->accounts_new,
			      "accounts_updated", (json_int_t)r->accounts_updated);
	json_object_update(ir->answer, c);
	json_decref(c);
}

/* ---- the importer's callbacks ---- */

static void on_row_error(long row, const char *column, const char *msg, void *arg)
{
	struct imp_run *ir = arg;
	if (json_array_size(ir->errors) >= IMPORT_ERRORS_MAX)
		return;
	long r = row;
	if (ir->json_body)              /* the device of the JSON body */
		r = row > 0 && (size_t)row <= ir->nrowmap ? ir->rowmap[row] : 0;
	json_t *e = json_pack("{s:s, s:s}", "code", "invalid", "message", msg);
	if (!column)
		column = api_account_field(msg);
	if (column)
		json_object_set_new(e, "field", json_string(column));
	if (r > 0)
		json_object_set_new(e, "row", json_integer(r));
	json_array_append_new(ir->errors, e);
}

static void on_device(const char *mac, const char *password, void *arg)
{
	struct imp_run *ir = arg;
	json_t *d = json_pack("{s:s}", "mac", mac);
	if (password)
		json_object_set_new(d, "http_credentials", json_pack("{s:s, s:s, s:s}", "realm", SP_REALM, "username",
								     mac, "password", password));
	json_array_append_new(ir->devices, d);
}

/* Inside the import's transaction: each device's token URLs, then the
 * answer (kept sealed under the Idempotency-Key). */
static int before_commit(struct store *s, void *arg, char *err, size_t errlen)
{
	struct imp_run *ir = arg;
	struct api_ctx *x = ir->x;
	char url[SP_FIELD_MAX + 64];
	size_t i, n;
	json_t *d;
	struct account *all = xcalloc(SP_MAX_LINES, sizeof(*all));
	json_array_foreach(ir->devices, i, d) {
		struct device dev;
		json_t *accs = json_array();
		json_object_set_new(d, "accounts", accs);
		if (store_device_get(s, json_string_value(json_object_get(d, "mac")), &dev) != 1 ||
		    store_account_list(s, dev.id, all, SP_MAX_LINES, &n) < 0) {
			free(all);
			return sp_err(err, errlen, "cannot read the imported accounts");
		}
		bool tok = x->layouts && layout_uses_token(layouts_find(x->layouts, dev.layout));
		for (size_t k = 0; k < n; k++) {
			json_t *a = json_pack("{s:I, s:s}", "line", (json_int_t)all[k].line, "username", all[k].username);
			if (tok && all[k].token[0] && !all[k].token_revoked) {
				snprintf(url, sizeof(url), "%s/s/%s", x->phone_base, all[k].token);
				json_object_set_new(a, "token_url", json_string(url));
			}
			json_array_append_new(accs, a);
		}
		secret_wipe(all, SP_MAX_LINES * sizeof(*all));
	}
	free(all);
	secret_wipe(url, sizeof(url));
	json_object_set(ir->answer, "devices", ir->devices);
	counts(ir, false);
	if (!ir->idem_key)
		return 0;
	char *text = json_dumps(ir->answer, JSON_COMPACT);
	char *enc = text ? secret_encrypt(x->key, text) : NULL;
	int rc = enc && store_idem_put(s, x->tok.name, ir->idem_key, ir->body_sha, MHD_HTTP_OK, enc) == 0 ? 0 : -1;
	if (text)
		secret_wipe(text, strlen(text));
	free(text);
	free(enc);
	return rc < 0 ? sp_err(err, errlen, "cannot keep the answer for the Idempotency-Key") : 0;
}

/* ---- POST /import ---- */

/* An earlier answer to this Idempotency-Key: 1 after replaying it (or
 * answering 409 for another body, or 500), 0 none. */
static int idem_replay(struct imp_run *ir, enum MHD_Result *ret)
{
	struct api_ctx *x = ir->x;
	long status;
	char *text;
	int rc = api_idem_kept(x, ir->idem_key, ir->body_sha, &text, &status, ret);
	if (rc <= 0)
		return -rc;
	json_error_t je;
	json_t *doc = json_loads(text, 0, &je);
	secret_wipe(text, strlen(text));
	free(text);
	if (!doc) {
		*ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "the kept answer does not decrypt");
		return 1;
	}
	json_object_set_new(doc, "replayed", json_true());
	*ret = api_reply(x, (unsigned)status, doc, NULL, NULL);
	return 1;
}

static enum MHD_Result import_post(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct imp_run ir = { .x = x, .errors = json_array(), .devices = json_array() };
	struct tenant t;
	struct buf csv;
	json_t *doc = NULL;
	const char *slug = api_query(x, "tenant");
	const char *ctype = MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	bool dry = false, gen = false;
	char err[SP_ERR_MAX];
	FILE *f = NULL;

	buf_init(&csv, API_BODY_MAX * 2);
	if (!api_can_write(x, &ret) || api_idem_key(x, &ir.idem_key, &ret) < 0)
		goto out;
	if (!api_flag(x, "dry_run", &dry, &ret) || !api_flag(x, "generate_credentials", &gen, &ret))
		goto out;
	ir.json_body = ctype && !strncasecmp(ctype, "application/json", 16);
	if (!ir.json_body && !(ctype && !strncasecmp(ctype, "text/csv", 8))) {
		ret = api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "Content-Type", 0,
				"send the import as text/csv or application/json");
		goto out;
	}
	if (ir.json_body) {
		static const struct api_field fields[] = {
			{ "tenant", JSON_STRING, false }, { "generate_credentials", JSON_TRUE, false },
			{ "devices", JSON_ARRAY, true }, { NULL, 0, false },
		};
		if (!(doc = api_body(x, fields, &ret)))
			goto out;
		if (json_object_get(doc, "tenant"))
			slug = json_string_value(json_object_get(doc, "tenant"));
		if (json_is_true(json_object_get(doc, "generate_credentials")))
			gen = true;
	} else if (!x->body_len) {
		ret = api_error(x, MHD_HTTP_BAD_REQUEST, "bad_csv", NULL, 0, "the request needs a CSV body");
		goto out;
	}
	if (!slug) {
		ret = api_error(x, MHD_HTTP_BAD_REQUEST, "missing_field", "tenant", 0,
				"name the tenant (?tenant= or, in a JSON body, \"tenant\")");
		goto out;
	}
	if (api_tenant_visible(x, slug, &t, &ret) != 1)
		goto out;
	ir.t = &t;
	/* What makes two requests the same: body, tenant and flags. */
	struct buf id;
	buf_init(&id, API_BODY_MAX + 512);
	buf_printf(&id, "%s\n%s\n%d%d\n", ir.json_body ? "json" : "csv", t.slug, dry, gen);
	buf_add(&id, x->body, x->body_len);
	sha256_hex(id.data, id.len, ir.body_sha);
	buf_release(&id);
	if (ir.idem_key && !dry) {
		int rc = idem_replay(&ir, &ret);
		if (rc != 0)
			goto out;
	}
	if (ir.json_body) {
		if (json_to_csv(&ir, json_object_get(doc, "devices"), &csv, &ret) < 0)
			goto out;
		f = fmemopen(csv.data ? csv.data : (char *)"", csv.len, "r");
	} else {
		f = fmemopen((void *)x->body, x->body_len, "r");
	}
	if (!f) {
		ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read the body");
		goto out;
	}
	struct bulk_import_opts o = {
		.dry_run = dry, .actor = x->tok.name, .key = x->key, .layouts = x->layouts,
		.max_errors = IMPORT_ERRORS_MAX, .on_row_error = on_row_error, .generate_credentials = gen,
		.on_device = on_device, .before_commit = before_commit, .arg = &ir,
	};
	struct bulk_import_result r;
	ir.answer = json_object();
	ir.r = &r;
	int rc = bulk_import(x->store, &t, f, &o, &r, err, sizeof(err));
	if (rc < 0) {
		ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "%s", err);
		goto out;
	}
	if (rc == 1) {
		json_t *first = json_array_get(ir.errors, 0);
		json_t *e = first ? json_deep_copy(first)
				  : json_pack("{s:s, s:s}", "code", "invalid", "message", "the import was refused");
		json_object_set_new(e, "message", json_sprintf("%ld error%s, nothing written; first: %s", r.errors,
							       r.errors == 1 ? "" : "s",
							       json_string_value(json_object_get(e, "message"))));
		ret = api_reply(x, MHD_HTTP_UNPROCESSABLE_CONTENT, json_pack("{s:o, s:O}", "error", e, "errors",
									      ir.errors), NULL, NULL);
		goto out;
	}
	counts(&ir, dry);
	if (!json_object_get(ir.answer, "devices"))
		json_object_set(ir.answer, "devices", ir.devices);
	ret = api_reply(x, MHD_HTTP_OK, json_incref(ir.answer), NULL, NULL);
out:
	if (f)
		fclose(f);
	buf_release(&csv);
	free(ir.rowmap);
	json_decref(doc);
	json_decref(ir.errors);
	json_decref(ir.devices);
	json_decref(ir.answer);
	return ret;
}

/* ---- GET /export ---- */

struct exp_ctx {
	struct api_ctx *x;
	json_t *devices;
};

static int exp_one(const struct device *d, void *arg)
{
	struct exp_ctx *ec = arg;
	struct account *all = xcalloc(SP_MAX_LINES, sizeof(*all));
	size_t n = 0;
	json_error_t je;
	json_t *ov = json_loads(d->overrides, 0, &je), *accs = json_array();
	if (store_account_list(ec->x->store, d->id, all, SP_MAX_LINES, &n) < 0) {
		free(all);
		json_decref(ov);
		json_decref(accs);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(accs, json_pack("{s:I, s:s, s:s, s:s, s:s}", "line", (json_int_t)all[i].line,
						      "display_name", all[i].display_name, "extension", all[i].extension,
						      "username", all[i].username, "auth_username", all[i].auth_username));
	secret_wipe(all, SP_MAX_LINES * sizeof(*all));
	free(all);
	json_array_append_new(ec->devices, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "mac", d->mac, "layout",
						     d->layout, "model", d->model, "label", d->label, "template",
						     d->template_name, "overrides", ov ? ov : json_object(),
						     "accounts", accs));
	return 0;
}

/* The tenant as import input, without secrets (an import of it keeps
 * every password): JSON (default) or CSV (?format=csv). */
static enum MHD_Result export_get(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct tenant t;
	const char *slug = api_query(x, "tenant"), *format = api_query(x, "format");
	char err[SP_ERR_MAX];
	if (!slug)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "missing_field", "tenant", 0, "name the tenant: ?tenant=");
	if (format && strcmp(format, "json") && strcmp(format, "csv"))
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "format", 0, "format must be json or csv");
	if (api_tenant_visible(x, slug, &t, &ret) != 1)
		return ret;
	if (format && !strcmp(format, "csv")) {
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);
		long n = out ? bulk_export(x->store, &t, NULL, out, err, sizeof(err)) : -1;
		if (out)
			fclose(out);
		if (n < 0)
			ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot export: %s",
					out ? err : "out of memory");
		else
			ret = api_reply_text(x, MHD_HTTP_OK, "text/csv; charset=utf-8", text, len);
		free(text);
		return ret;
	}
	struct exp_ctx ec = { .x = x, .devices = json_array() };
	if (store_device_each(x->store, t.id, exp_one, &ec) < 0) {
		json_decref(ec.devices);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot export");
	}
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:s, s:o}", "tenant", t.slug, "devices", ec.devices), NULL, NULL);
}

enum MHD_Result api_import(struct api_ctx *x, const char *rest)
{
	if (*rest)
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	if (strcmp(x->method, "POST"))
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use POST");
	return import_post(x);
}

enum MHD_Result api_export(struct api_ctx *x, const char *rest)
{
	if (*rest)
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	if (!x->is_get)
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	return export_get(x);
}
