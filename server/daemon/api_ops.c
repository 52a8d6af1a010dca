/*
 * api_ops.c: the admin API's operations views: diagnose and ticket (the
 * CLI's diagnose.c engine, run on a worker thread with its own store handle
 * while the connection is suspended), a device's rendered config (secrets
 * masked unless an admin asks, audited), the audit log and the layouts.
 * It decides HTTP shapes, scope and roles only; no diagnosis or rendering
 * rule lives here.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_int.h"
#include "ops/ops.h"
#include "workers.h"

#define OPS_DIAG_MAX     4           /* diagnoses running at once; more: 503 */
#define OPS_DIAG_TIMEOUT 30          /* per-probe timeout cap (seconds) */
#define OPS_MASK         "********"

/* ---- diagnose / ticket on a worker thread ---- */

struct api_job {
	struct MHD_Connection *c;       /* suspended until the worker resumes it */
	char db[SP_FIELD_MAX];          /* copied: the worker touches no shared state */
	const unsigned char *key;       /* the server's, alive until api_ops_drain */
	char mac[SP_MAC_LEN + 1];
	struct diag_opts o;
	bool ticket;
	char error_given[16];
	unsigned status;                /* the answer, written by the worker before resuming */
	char *body;
};

static struct workers ops = WORKERS_INIT;

void api_job_free(struct api_job *j)
{
	if (!j)
		return;
	free(j->body);
	free(j);
}

void api_ops_drain(void)
{
	workers_drain(&ops);
}

static char *error_body(const char *code, const char *msg)
{
	json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
	char *s = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	return s;
}

/* The same document `sipprov diagnose --json` / `ticket --json` prints. */
static void job_run(struct api_job *j)
{
	char err[SP_ERR_MAX];
	struct store *s = store_open(j->db, err, sizeof(err));
	struct diag_report *rep = xcalloc(1, sizeof(*rep));
	if (!s || store_use_key(s, j->key, err, sizeof(err)) < 0) {
		log_warnx("diagnose %s: cannot open the database: %s", j->mac, err);
		j->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		j->body = error_body("internal", "cannot open the database");
	} else if (diagnose_run(s, j->mac, &j->o, rep, err, sizeof(err)) < 0) {
		/* The device was seen a moment ago: gone since, or the store failed. */
		j->status = strstr(err, "unknown device") ? MHD_HTTP_NOT_FOUND : MHD_HTTP_INTERNAL_SERVER_ERROR;
		j->body = error_body(j->status == MHD_HTTP_NOT_FOUND ? "not_found" : "internal", err);
	} else {
		int rc = diag_exit_code(rep, j->o.error_code) ? 1 : 0;
		json_t *doc = diag_report_json(rep, j->ticket);
		json_object_set_new(doc, "error_given", json_string(j->error_given));
		json_object_set_new(doc, "exit_code", json_integer(j->ticket ? 0 : rc));
		json_object_set_new(doc, "network_steps_run", json_boolean(j->o.network));
		j->body = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		j->status = j->body ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	free(rep);
	store_close(s);
}

static void *job_main(void *arg)
{
	struct api_job *j = arg;
	job_run(j);
	/* After this the request owns j again (freed when it completes). */
	MHD_resume_connection(j->c);
	workers_done(&ops);
	return NULL;
}

enum MHD_Result api_ops_answer(struct api_ctx *x)
{
	struct api_job *j = *x->job;
	if (!j->body)
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "out of memory");
	return api_reply_text(x, j->status, "application/json", j->body, strlen(j->body));
}

static enum MHD_Result busy(struct api_ctx *x)
{
	metrics_inc("sipprov_api_diagnose_busy_total");
	return api_error(x, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", NULL, 0, "too many diagnoses running; retry later");
}

static const struct api_field diag_fields[] = {
	{ "line", JSON_INTEGER, false },
	{ "probe", JSON_TRUE, false },
	{ "timeout", JSON_INTEGER, false },
	{ "error", JSON_STRING, false },
	{ NULL, 0, false },
};

/* Read-only callers may diagnose: it writes nothing and shows no secret
 * (the authenticated probe uses the stored password without revealing it). */
static enum MHD_Result diagnose(struct api_ctx *x, const struct device *d, bool ticket)
{
	enum MHD_Result ret;
	json_t *o = NULL, *v;
	if (strcmp(x->method, "POST"))
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use POST");
	/* An empty body means every default, as the CLI without options. */
	if (x->body_len && !(o = api_body(x, diag_fields + 0, &ret)))
		return ret;
	struct api_job *j = xcalloc(1, sizeof(*j));
	long line = 0, timeout = 3;
	const char *error = NULL;
	j->o.network = !ticket;
	if ((v = json_object_get(o, "line")) && (line = (long)json_integer_value(v), line < 1 || line > SP_MAX_LINES)) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "line", 0, "line must be 1 to %d",
				SP_MAX_LINES);
		goto refuse;
	}
	if ((v = json_object_get(o, "timeout")) &&
	    (timeout = (long)json_integer_value(v), timeout < 1 || timeout > OPS_DIAG_TIMEOUT)) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "timeout", 0,
				"timeout must be 1 to %d seconds", OPS_DIAG_TIMEOUT);
		goto refuse;
	}
	if ((v = json_object_get(o, "probe")))
		j->o.network = json_is_true(v);
	if ((error = json_string_value(json_object_get(o, "error")))) {
		if (ticket) {
			ret = api_error(x, MHD_HTTP_BAD_REQUEST, "unknown_field", "error", 0,
					"a ticket takes no 'error' (known: line, probe, timeout)");
			goto refuse;
		}
		if ((j->o.error_code = diag_parse_error(error)) < 0) {
			ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "error", 0,
					"error must be 403, 404, 408 or timeout, got '%.16s'", error);
			goto refuse;
		}
		j->o.error_timeout = !strcmp(error, "timeout");
		sp_strlcpy(j->error_given, error, sizeof(j->error_given));
	}
	j->o.line = line;
	j->o.timeout_ms = timeout * 1000;
	j->o.key = x->key;
	j->ticket = ticket;
	j->c = x->c;
	sp_strlcpy(j->db, x->conf->database, sizeof(j->db));
	j->key = x->key;
	sp_strlcpy(j->mac, d->mac, sizeof(j->mac));
	json_decref(o);

	if (!workers_take(&ops, OPS_DIAG_MAX)) {
		api_job_free(j);
		return busy(x);
	}
	/* Probes take seconds: not on the listener's thread nor its store. */
	*x->job = j;
	MHD_suspend_connection(x->c);
	if (workers_start(job_main, j) < 0) {
		j->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		j->body = error_body("busy", "cannot start a diagnose worker; retry later");
		MHD_resume_connection(x->c);
		workers_done(&ops);
		return MHD_YES;
	}
	return MHD_YES;
refuse:
	json_decref(o);
	api_job_free(j);
	return ret;
}

/* ---- render ---- */

static void mask_settings(json_t *o)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		if (json_is_object(v))
			mask_settings(v);
		else if (json_is_string(v) && json_string_length(v) &&
			 (strcasestr(k, "password") || strcasestr(k, "secret")))
			json_object_set_new(o, k, json_string(OPS_MASK));
	}
}

/* Every secret render could write, replaced by the mask (after validation,
 * which must see the real values). */
static void mask_effective(struct effective *e)
{
	for (size_t i = 0; i < e->naccounts; i++) {
		struct account *a = &e->accounts[i];
		if (a->password[0]) {
			secret_wipe(a->password, sizeof(a->password));
			sp_strlcpy(a->password, OPS_MASK, sizeof(a->password));
		}
		if (a->token[0]) {
			secret_wipe(a->token, sizeof(a->token));
			sp_strlcpy(a->token, OPS_MASK, sizeof(a->token));
		}
	}
	if (e->admin_password[0])
		sp_strlcpy(e->admin_password, OPS_MASK, sizeof(e->admin_password));
	if (e->user_password[0])
		sp_strlcpy(e->user_password, OPS_MASK, sizeof(e->user_password));
	mask_settings(e->settings);
}

/* Secrets are for admins only (operator and read-only get 403): an
 * operator runs the fleet without needing to read SIP passwords.  Each
 * reveal is audited with the caller's name before the answer leaves. */
static enum MHD_Result render_device(struct api_ctx *x, const struct device *d)
{
	enum MHD_Result ret;
	const char *ls = api_query(x, "line"), *file = api_query(x, "file"), *sec = api_query(x, "secrets");
	long line = 0;
	bool secrets = false;
	char err[SP_ERR_MAX];
	struct route_match m, *mp = NULL;
	char path[160];
	if (!x->is_get)
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	if (ls && sp_parse_int(ls, 1, SP_MAX_LINES, &line) < 0)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "line", 0, "line must be 1 to %d", SP_MAX_LINES);
	if (sec && strcmp(sec, "true") && strcmp(sec, "false"))
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "secrets", 0, "secrets must be true or false");
	secrets = sec && !strcmp(sec, "true");
	if (secrets && strcmp(x->tok.role, "admin"))
		return api_error(x, MHD_HTTP_FORBIDDEN, "forbidden", "secrets", 0,
				 "token '%s' (%s) may not see secrets", x->tok.name, x->tok.role);
	const struct layout *l = layouts_find(x->layouts, d->layout);
	if (!l)
		return api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "device %s: layout '%s' is not loaded", d->mac,
				 d->layout);
	if (file) {
		/* A file name this device fetches: its own MAC, its layout. */
		snprintf(path, sizeof(path), "%s%.128s", file[0] == '/' ? "" : "/", file);
		if (strlen(file) > 128 || route_match(x->layouts, path, &m) != 1 || m.kind != ROUTE_MAC ||
		    strcmp(m.mac, d->mac) || !layout_answers(l, &m))
			return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", "file", 0,
					 "device %s fetches no file named '%.128s'", d->mac, file);
		mp = &m;
	}
	struct effective *e = xcalloc(1, sizeof(*e));
	int rc = effective_load(x->store, x->key, d->mac, e, err, sizeof(err));
	if (rc != 1) {
		free(e);
		return rc == 0 ? api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "unknown device '%s'", d->mac)
			       : api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot load the device");
	}
	effective_set_public_url(e, x->conf->public_url);
	struct buf out;
	buf_init(&out, SP_BODY_MAX);
	if (validate_effective(e, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_CONFLICT, "invalid_config", NULL, 0,
				"device %s: the effective config is invalid and would not be served: %s", d->mac, err);
		goto done;
	}
	if (!secrets)
		mask_effective(e);
	if ((mp ? render_route(l, mp, e, line ? line : mp->line, &out, err, sizeof(err))
		: render(l, e, line, &out, err, sizeof(err))) < 0) {
		bool noline = strstr(err, "has no line") != NULL;
		ret = api_error(x, noline ? MHD_HTTP_NOT_FOUND : MHD_HTTP_CONFLICT, noline ? "not_found" : "conflict",
				noline ? "line" : NULL, 0, "device %s: %s", d->mac, err);
		goto done;
	}
	if (secrets) {
		char detail[SP_FIELD_MAX];
		snprintf(detail, sizeof(detail), "line=%ld file=%.128s", line, file ? file : "");
		if (store_audit(x->store, x->tok.name, "render.secrets", d->mac, "", "", detail) < 0) {
			ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0,
					"cannot write the audit log: secrets not shown");
			goto done;
		}
	}
	ret = api_reply_text(x, MHD_HTTP_OK, layout_content_type(l), out.data ? out.data : "", out.len);
done:
	if (out.data)
		secret_wipe(out.data, out.len);
	buf_release(&out);
	effective_release(e);
	free(e);
	return ret;
}

enum MHD_Result api_device_ops(struct api_ctx *x, struct device *d, const char *sub)
{
	if (!strcmp(sub, "/diagnose") || !strcmp(sub, "/ticket"))
		return diagnose(x, d, !strcmp(sub, "/ticket"));
	return render_device(x, d);
}

/* ---- audit ---- */

/* The tenant an audit row is about, by its object: a tenant slug,
 * "template slug/name@vN", a device MAC or "account N on MAC".  0 when the row is
 * about no tenant (tokens, users, firmware): only unscoped callers see it. */
static int64_t row_tenant(struct store *s, const char *object)
{
	char mac[SP_MAC_LEN + 1], slug[SP_SLUG_MAX];
	const char *on = strstr(object, " on ");
	struct device d;
	struct tenant t;
	if (!strncmp(object, "account ", 8) && on)
		object = on + 4;
	else if (!strncmp(object, "template ", 9))
		object += 9;
	if (strlen(object) <= 17 && mac_normalize(object, mac) == 0)
		return store_device_get(s, mac, &d) == 1 ? d.tenant_id : 0;
	size_t n = strcspn(object, "/ ");
	if (!n || n >= sizeof(slug))
		return 0;
	memcpy(slug, object, n);
	slug[n] = '\0';
	return store_tenant_get(s, slug, &t) == 1 ? t.id : 0;
}

struct audit_ctx {
	struct api_ctx *x;
	json_t *items;
	int64_t tenant;                 /* only rows about it; 0 = all */
	long limit;
	bool more;
};

static int audit_one(const struct audit_row *r, void *arg)
{
	struct audit_ctx *ac = arg;
	if (ac->tenant && row_tenant(ac->x->store, r->object) != ac->tenant)
		return 0;
	if ((long)json_array_size(ac->items) == ac->limit) {
		ac->more = true;
		return 1;
	}
	char when[32];
	struct tm tm;
	time_t tt = (time_t)r->at;
	if (!gmtime_r(&tt, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		sp_strlcpy(when, "-", sizeof(when));
	json_array_append_new(ac->items, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", (json_int_t)r->id,
						   "at", when, "actor", r->actor, "action", r->action, "object",
						   r->object, "before_digest", r->before, "after_digest", r->after,
						   "detail", r->detail));
	return 0;
}

/* GET /audit: newest first; a tenant token sees rows about its tenant. */
static enum MHD_Result audit_list(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct audit_ctx ac = { .x = x, .tenant = x->tok.tenant_id };
	struct audit_filter f = { .actor = api_query(x, "actor"), .action = api_query(x, "action") };
	const char *cursor = api_query(x, "cursor"), *since = api_query(x, "since"), *tenant = api_query(x, "tenant");
	long n;
	if (!x->is_get)
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	if (api_limit(x, &ac.limit, &ret) < 0)
		return ret;
	if (cursor) {
		if (sp_parse_int(cursor, 1, 0x7fffffffL, &n) < 0)
			return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "cursor", 0, "cursor must be a next_cursor value");
		f.before_id = n;
	}
	if (since && sp_parse_int(since, 0, 0x7fffffffL, &n) < 0)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "since", 0, "since must be unix seconds (0 or more)");
	f.since = since ? n : 0;
	if (tenant) {
		struct tenant t;
		if (api_tenant_visible(x, tenant, &t, &ret) != 1)
			return ret;
		ac.tenant = t.id;
	}
	ac.items = json_array();
	if (store_audit_each(x->store, &f, audit_one, &ac) < 0) {
		json_decref(ac.items);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read the audit log");
	}
	json_t *last = json_array_get(ac.items, json_array_size(ac.items) - 1);
	json_t *next = ac.more && last ? json_sprintf("%lld", (long long)json_integer_value(json_object_get(last, "id")))
				       : json_null();
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:o}", "items", ac.items, "next_cursor", next), NULL, NULL);
}

/* ---- layouts: what `sipprov layout list --json` prints ---- */

static enum MHD_Result layouts_list(struct api_ctx *x)
{
	if (!x->is_get)
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	json_t *arr = json_array();
	for (size_t i = 0; i < layouts_count(x->layouts); i++)
		json_array_append_new(arr, layout_json(layouts_at(x->layouts, i)));
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o}", "items", arr), NULL, NULL);
}

enum MHD_Result api_ops(struct api_ctx *x, const char *path)
{
	if (!strcmp(path, "/audit"))
		return audit_list(x);
	return layouts_list(x);
}
