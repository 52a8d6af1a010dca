/*
 * api_jobs.c: POST /api/v1/tenants/{slug}/move (preview and apply, on ops
 * bulk_move exactly as `sipprov tenant move`) and the reprovision jobs
 * under /api/v1/jobs (create, list, one with its items, resume).  Jobs are
 * only queued here, on the admin thread's store handle; job_runner.c's one
 * worker thread sends the NOTIFYs on its own handle.
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "job_runner.h"
#include "ops/ops.h"

#define MOVE_LIST_DEFAULT 100           /* devices listed in a move answer unless ?limit= */
#define MOVE_ERRORS_MAX   100           /* device errors listed in a refusal */

/* ---- POST /tenants/{slug}/move ---- */

struct move_run {
	json_t *devices, *errors;
	long listed, limit;
};

static void move_device(const struct device *d, const struct bulk_change *ch, size_t n, void *arg)
{
	struct move_run *m = arg;
	if (m->listed >= m->limit)
		return;
	m->listed++;
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "field", ch[i].key, "before", ch[i].before,
						   "after", ch[i].after));
	json_array_append_new(m->devices, json_pack("{s:s, s:o}", "mac", d->mac, "changes", a));
}

static void move_error(const char *msg, void *arg)
{
	struct move_run *m = arg;
	if (json_array_size(m->errors) < MOVE_ERRORS_MAX)
		json_array_append_new(m->errors, json_pack("{s:s, s:s}", "code", "invalid", "message", msg));
}

enum MHD_Result api_tenant_move(struct api_ctx *x, const struct tenant *t)
{
	static const struct api_field fields[] = {
		{ "template", JSON_STRING, true }, { "dry_run", JSON_TRUE, false }, { "force", JSON_TRUE, false },
		{ NULL, 0, false },
	};
	enum MHD_Result ret;
	struct move_run m = { .limit = MOVE_LIST_DEFAULT };
	char name[SP_SLUG_MAX], err[SP_ERR_MAX];
	json_t *doc;

	if (strcmp(x->method, "POST"))
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use POST");
	/* Like a template change, a move is a write an operator may make. */
	if (!api_can_write(x, &ret) || api_limit(x, &m.limit, &ret) < 0)
		return ret;
	if (!api_query(x, "limit"))
		m.limit = MOVE_LIST_DEFAULT;
	if (!(doc = api_body(x, fields, &ret)))
		return ret;
	if (api_str(x, doc, "template", name, sizeof(name), &ret) < 0) {
		json_decref(doc);
		return ret;
	}
	bool dry = json_is_true(json_object_get(doc, "dry_run"));
	bool force = json_is_true(json_object_get(doc, "force"));
	json_decref(doc);
	struct tversion *v = xmalloc(sizeof(*v));
	int have = store_tversion_get(x->store, t->id, name, 0, v);
	free(v);
	if (have < 0)
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read templates");
	struct bulk_move_result *r = xcalloc(1, sizeof(*r));
	if (have == 0) {
		/* bulk_move refuses it before reading anything: its words. */
		struct bulk_move_opts none = { .dry_run = true };
		bulk_move(x->store, t, name, &none, r, err, sizeof(err));
		free(r);
		return api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "template", 0, "tenant move: %s", err);
	}
	m.devices = json_array();
	m.errors = json_array();
	struct bulk_move_opts o = {
		.dry_run = dry, .actor = x->tok.name, .key = x->key, .force = force,
		.on_device = move_device, .on_error = move_error, .arg = &m,
	};
	int rc = bulk_move(x->store, t, name, &o, r, err, sizeof(err));
	if (rc < 0) {
		ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "tenant move: %s", err);
	} else if (rc == 1) {
		/* The CLI's summary line, then every device's message (capped). */
		json_t *e = json_pack("{s:s, s:s, s:s}", "code", "invalid", "field", "template", "message", "");
		json_object_set_new(e, "message", json_sprintf("%ld device%s would get an invalid config: nothing was "
							       "changed", r->errors, r->errors == 1 ? "" : "s"));
		ret = api_reply(x, MHD_HTTP_UNPROCESSABLE_CONTENT, json_pack("{s:o, s:O}", "error", e, "errors",
									   m.errors), NULL, NULL);
	} else {
		json_t *fields_o = json_object();
		for (size_t i = 0; i < r->nfields; i++)
			json_object_set_new(fields_o, r->field[i], json_integer(r->count[i]));
		ret = api_reply(x, MHD_HTTP_OK,
				json_pack("{s:s, s:s, s:b, s:O, s:I, s:{s:I, s:I, s:I, s:o}}", "tenant", t->slug,
					  "template", name, "dry_run", dry, "devices", m.devices, "devices_listed",
					  (json_int_t)m.listed, "summary", "devices", (json_int_t)r->devices,
					  "changing", (json_int_t)r->changing, "errors", (json_int_t)r->errors,
					  "fields", fields_o), NULL, NULL);
	}
	free(r);
	json_decref(m.devices);
	json_decref(m.errors);
	return ret;
}

/* ---- /jobs ---- */

static const char *job_status(const struct job_info *j)
{
	if (j->finished)
		return "done";
	return j->queued && !j->started ? "queued" : "running";
}

static void count_one(const char *result, long n, void *arg)
{
	json_t *c = arg;
	json_object_set_new(c, result, json_integer(n));
	json_object_set_new(c, "total", json_integer(json_integer_value(json_object_get(c, "total")) + n));
}

/* A job as the API shows it; with its counts per result. */
static json_t *job_json(struct api_ctx *x, const struct job_info *j)
{
	struct tenant t;
	json_error_t je;
	json_t *p = json_loads(j->params, 0, &je);
	json_t *counts = json_pack("{s:i}", "total", 0);
	const char *slug = j->tenant_id && store_tenant_get_id(x->store, j->tenant_id, &t) == 1 ? t.slug : "";
	store_job_counts(x->store, j->id, count_one, counts);
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "id", (json_int_t)j->id, "kind",
			      j->kind, "status", job_status(j), "tenant", slug, "actor", j->actor, "created",
			      (json_int_t)j->created, "started", (json_int_t)j->started, "finished",
			      (json_int_t)j->finished, "counts", counts);
	json_t *target = json_object();
	const char *mac = p ? json_string_value(json_object_get(p, "device")) : NULL;
	if (mac && *mac)
		json_object_set_new(target, "device", json_string(mac));
	else if (p && json_string_length(json_object_get(p, "tenant")))
		json_object_set(target, "tenant", json_object_get(p, "tenant"));
	if (p && json_is_true(json_object_get(p, "drifted")))
		json_object_set_new(target, "drifted", json_true());
	json_object_set_new(o, "target", target);
	json_object_set_new(o, "rate", json_integer(p ? json_integer_value(json_object_get(p, "rate")) : 0));
	json_object_set_new(o, "timeout", json_integer(p ? json_integer_value(json_object_get(p, "timeout")) : 0));
	json_decref(p);
	return o;
}

/* The job by its id text, if the caller may see it: 1, or 0 after
 * answering 404 (another tenant's looks like none), -1 after 500. */
static int job_visible(struct api_ctx *x, const char *ids, struct job_info *j, enum MHD_Result *ret)
{
	long id;
	int rc = sp_parse_int(ids, 1, 1L << 40, &id) < 0 ? 0 : store_job_info(x->store, id, j);
	if (rc < 0) {
		*ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read jobs");
		return -1;
	}
	/* A tenant token sees only its tenant's jobs: never a global one. */
	if (rc == 0 || (x->tok.tenant_id && j->tenant_id != x->tok.tenant_id)) {
		*ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no job '%.32s'", ids);
		return 0;
	}
	return 1;
}

struct job_list {
	struct api_ctx *x;
	json_t *items;
	long limit;
	bool more;
};

static int list_one(const struct job_info *j, void *arg)
{
	struct job_list *l = arg;
	if ((long)json_array_size(l->items) == l->limit) {
		l->more = true;
		return 1;
	}
	json_array_append_new(l->items, job_json(l->x, j));
	return 0;
}

static enum MHD_Result job_list(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct job_list l = { .x = x };
	const char *cur = api_query(x, "cursor");
	long before = 0;
	int64_t tid;
	if (api_limit(x, &l.limit, &ret) < 0)
		return ret;
	if (cur && sp_parse_int(cur, 1, 1L << 40, &before) < 0)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "cursor", 0, "cursor must be a job id");
	if (api_tenant_scope(x, &tid, &ret) < 0)
		return ret;
	l.items = json_array();
	if (store_job_list(x->store, tid == 0, tid, before, list_one, &l) < 0) {
		json_decref(l.items);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot list jobs");
	}
	json_t *last = json_array_get(l.items, json_array_size(l.items) - 1);
	json_t *next = l.more && last ? json_sprintf("%lld", (long long)json_integer_value(json_object_get(last, "id")))
				      : json_null();
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:o}", "items", l.items, "next_cursor", next), NULL, NULL);
}

struct item_page {
	json_t *items;
	long n;
	char last[16];
};

static int item_one(const char *mac, const char *result, const char *detail, int64_t at, void *arg)
{
	struct item_page *p = arg;
	json_array_append_new(p->items, json_pack("{s:s, s:s, s:s, s:I}", "mac", mac, "result", result, "detail",
						  detail, "at", (json_int_t)at));
	sp_strlcpy(p->last, mac, sizeof(p->last));
	p->n++;
	return 0;
}

static enum MHD_Result job_show(struct api_ctx *x, const struct job_info *j)
{
	enum MHD_Result ret;
	struct item_page p = { 0 };
	long limit;
	const char *cur = api_query(x, "cursor");
	if (api_limit(x, &limit, &ret) < 0)
		return ret;
	if (cur && (strlen(cur) != 12 || !sp_text_ok(cur)))
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "cursor", 0, "cursor must be a MAC (12 hex digits)");
	p.items = json_array();
	/* One more than asked tells whether there is a next page. */
	if (store_job_items_page(x->store, j->id, cur, limit + 1, item_one, &p) < 0) {
		json_decref(p.items);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read the job's items");
	}
	json_t *next = json_null();
	if (p.n > limit) {
		json_array_remove(p.items, (size_t)limit);
		next = json_incref(json_object_get(json_array_get(p.items, (size_t)limit - 1), "mac"));
	}
	json_t *o = job_json(x, j);
	json_object_set_new(o, "items", p.items);
	json_object_set_new(o, "next_cursor", next);
	return api_reply(x, MHD_HTTP_OK, o, NULL, NULL);
}

static enum MHD_Result job_accepted(struct api_ctx *x, int64_t id)
{
	struct job_info *j = xmalloc(sizeof(*j));
	char loc[64];
	enum MHD_Result ret;
	snprintf(loc, sizeof(loc), "/api/v1/jobs/%lld", (long long)id);
	if (store_job_info(x->store, id, j) != 1)
		ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read job %lld",
				(long long)id);
	else
		ret = api_reply(x, MHD_HTTP_ACCEPTED, job_json(x, j), NULL, loc);
	free(j);
	return ret;
}

/* An earlier job for this Idempotency-Key: 1 after answering (the same
 * job, or 409 for another body, or 500), 0 none. */
static int idem_replay(struct api_ctx *x, const char *key, const char *sha, enum MHD_Result *ret)
{
	long status, id;
	char *text;
	int rc = api_idem_kept(x, key, sha, &text, &status, ret);
	if (rc <= 0)
		return -rc;
	rc = sp_parse_int(text, 1, 1L << 40, &id);
	free(text);
	*ret = rc < 0 ? api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "the kept answer does not decrypt")
		      : job_accepted(x, id);
	return 1;
}

static enum MHD_Result job_create(struct api_ctx *x)
{
	static const struct api_field fields[] = {
		{ "kind", JSON_STRING, true }, { "tenant", JSON_STRING, false }, { "device", JSON_STRING, false },
		{ "drifted", JSON_TRUE, false }, { "rate", JSON_INTEGER, false }, { "timeout", JSON_INTEGER, false },
		{ NULL, 0, false },
	};
	enum MHD_Result ret;
	const char *key;
	char slug[SP_SLUG_MAX] = "", mac[SP_FIELD_MAX] = "", sha[65];
	struct tenant t = { 0 };
	struct device d;
	json_t *doc;

	if (!api_can_write(x, &ret) || api_idem_key(x, &key, &ret) < 0)
		return ret;
	if (!(doc = api_body(x, fields, &ret)))
		return ret;
	if (api_str(x, doc, "tenant", slug, sizeof(slug), &ret) < 0 || api_str(x, doc, "device", mac, sizeof(mac), &ret) < 0)
		goto out_doc;
	bool drifted = json_is_true(json_object_get(doc, "drifted"));
	json_t *rv = json_object_get(doc, "rate");
	json_int_t rate = rv ? json_integer_value(rv) : 50;
	json_t *tv = json_object_get(doc, "timeout");
	json_int_t timeout = tv ? json_integer_value(tv) : NOTIFY_TIMER_F_MS / 1000;
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	if (strcmp(kind, "reprovision")) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "kind", 0,
				"unknown job kind '%.32s' (known: reprovision)", kind);
		goto out_doc;
	}
	if (rate < 1 || rate > 100000) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "rate", 0, "rate must be 1 to 100000");
		goto out_doc;
	}
	if (timeout < 1 || timeout > 3600) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "timeout", 0, "timeout must be 1 to 3600");
		goto out_doc;
	}
	/* The CLI's rule: one of tenant and device, or drifted (in a tenant or all). */
	if ((*slug && *mac) || (!*slug && !*mac && !drifted) || (*mac && drifted)) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", *mac ? "device" : "tenant", 0,
				"name one target: \"tenant\", \"device\", or \"drifted\": true (optionally with \"tenant\")");
		goto out_doc;
	}
	if (*slug && api_tenant_visible(x, slug, &t, &ret) != 1)
		goto out_doc;
	if (*mac) {
		int rc = strlen(mac) <= 17 ? store_device_get(x->store, mac, &d) : 0;
		if (rc < 0) {
			ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read devices");
			goto out_doc;
		}
		if (rc == 0 || !api_scope_ok(x, d.tenant_id)) {
			ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "unknown device '%.32s'", mac);
			goto out_doc;
		}
		if (strcmp(d.status, "active")) {
			ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "device", 0, "device %s is disabled",
					d.mac);
			goto out_doc;
		}
		t.id = d.tenant_id;
		sp_strlcpy(mac, d.mac, sizeof(mac));
	}
	/* A tenant token's "every drifted device" is its own tenant's. */
	if (!t.id && x->tok.tenant_id)
		t.id = x->tok.tenant_id;
	json_t *p = json_pack("{s:s, s:s, s:b, s:I, s:I, s:s}", "tenant", slug, "device", mac, "drifted", drifted,
			      "rate", rate, "timeout", timeout, "via", "");
	char *ps = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(p);
	/* What makes two requests the same: the job they describe. */
	char ids[32];
	snprintf(ids, sizeof(ids), "\n%lld", (long long)t.id);
	struct buf b;
	buf_init(&b, SP_JSON_MAX);
	buf_printf(&b, "%s%s", ps, ids);
	sha256_hex(b.data, b.len, sha);
	buf_release(&b);
	if (key && idem_replay(x, key, sha, &ret) != 0) {
		free(ps);
		goto out_doc;
	}
	int64_t id = -1;
	if (store_begin(x->store) == 0) {
		id = store_job_queue(x->store, "reprovision", ps, t.id, x->tok.name);
		char idt[32];
		snprintf(idt, sizeof(idt), "%lld", (long long)id);
		char *enc = id > 0 && key ? secret_encrypt(x->key, idt) : NULL;
		if (id < 0 || (key && (!enc || store_idem_put(x->store, x->tok.name, key, sha, MHD_HTTP_ACCEPTED, enc) < 0)) ||
		    store_audit(x->store, x->tok.name, "job.create", t.id ? (*slug ? slug : mac) : "*", NULL, NULL, ps) < 0 ||
		    store_commit(x->store) < 0) {
			store_rollback(x->store);
			id = -1;
		}
		free(enc);
	}
	free(ps);
	if (id < 0) {
		ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot queue the job: %s",
				store_errmsg(x->store));
		goto out_doc;
	}
	job_runner_wake(x->jobs);
	ret = job_accepted(x, id);
out_doc:
	json_decref(doc);
	return ret;
}

static enum MHD_Result job_resume(struct api_ctx *x, const struct job_info *j)
{
	enum MHD_Result ret;
	if (!api_can_write(x, &ret))
		return ret;
	if (strcmp(j->kind, "reprovision"))
		return api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "job %lld is not a reprovision job",
				 (long long)j->id);
	int rc = store_job_requeue(x->store, j->id);
	if (rc < 0)
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot queue job %lld",
				 (long long)j->id);
	if (rc == 0)
		return api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "job %lld is %s: resume it when it is done",
				 (long long)j->id, job_status(j));
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)j->id);
	store_audit(x->store, x->tok.name, "job.resume", id, NULL, NULL, NULL);
	job_runner_wake(x->jobs);
	return job_accepted(x, j->id);
}

enum MHD_Result api_jobs(struct api_ctx *x, const char *rest)
{
	enum MHD_Result ret;
	if (!*rest || !strcmp(rest, "/")) {
		if (x->is_get)
			return job_list(x);
		if (!strcmp(x->method, "POST"))
			return job_create(x);
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET or POST");
	}
	char ids[32];
	const char *sl = strchr(++rest, '/');
	size_t n = sl ? (size_t)(sl - rest) : strlen(rest);
	if (n >= sizeof(ids))
		n = sizeof(ids) - 1;
	memcpy(ids, rest, n);
	ids[n] = '\0';
	struct job_info *j = xmalloc(sizeof(*j));
	if (job_visible(x, ids, j, &ret) != 1)
		goto out;
	if (!sl) {
		ret = x->is_get ? job_show(x, j)
				: api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	} else if (!strcmp(sl, "/resume")) {
		ret = strcmp(x->method, "POST") ? api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0,
							    "use POST")
						: job_resume(x, j);
	} else {
		ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	}
out:
	free(j);
	return ret;
}
