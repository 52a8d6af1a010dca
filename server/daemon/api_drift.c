/*
 * api_drift.c: GET /api/v1/drift (events, filters tenant, kind, state;
 * cursor paging) and GET /api/v1/status (per device what `sipprov status`
 * prints, with totals) on the store functions and core/status.c records
 * the CLI uses.  Read-only: every role may call them, within its scope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

/* ---- GET /drift ---- */

struct drift_page {
	json_t *items;
	const char *kind;
	int state;                      /* 0 any, 1 open, 2 closed */
	bool cursor;
	long long c_seen, c_id;         /* the cursor: after (last_seen, id) in list order */
	long limit;
	bool more;
};

static int drift_row(const struct drift_event *ev, void *arg)
{
	struct drift_page *p = arg;
	if (p->cursor && (ev->last_seen > p->c_seen || (ev->last_seen == p->c_seen && ev->id >= p->c_id)))
		return 0;
	if ((p->kind && strcmp(ev->kind, p->kind)) || (p->state == 2 && !ev->resolved))
		return 0;
	if ((long)json_array_size(p->items) == p->limit) {
		p->more = true;
		return 1;
	}
	json_array_append_new(p->items, status_drift_json(ev));
	return 0;
}

static enum MHD_Result drift_list(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct drift_page p = { .kind = api_query(x, "kind") };
	const char *state = api_query(x, "state"), *cur = api_query(x, "cursor");
	int64_t tid;
	if (api_limit(x, &p.limit, &ret) < 0 || api_tenant_scope(x, &tid, &ret) < 0)
		return ret;
	if (state && strcmp(state, "open") && strcmp(state, "closed") && strcmp(state, "all"))
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "state", 0,
				 "state filter '%.32s' is not one of open, closed, all", state);
	if (p.kind && !drift_kind_known(p.kind))
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "kind", 0,
				 "kind filter '%.32s' is not one of auth_username, never_fetched, port, registrar, "
				 "stale, transport, unknown_user, username", p.kind);
	p.state = !state || !strcmp(state, "all") ? 0 : !strcmp(state, "open") ? 1 : 2;
	if (cur) {
		int n = 0;
		if (sscanf(cur, "%lld.%lld%n", &p.c_seen, &p.c_id, &n) != 2 || cur[n] || p.c_seen < 0 || p.c_id < 0)
			return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "cursor", 0,
					 "cursor must be a next_cursor from an earlier page");
		p.cursor = true;
	}
	p.items = json_array();
	if (store_drift_each(x->store, tid, p.state == 1, drift_row, &p) < 0) {
		json_decref(p.items);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read drift events");
	}
	json_t *last = json_array_get(p.items, json_array_size(p.items) - 1);
	json_t *next = p.more && last ? json_sprintf("%lld.%lld",
						   (long long)json_integer_value(json_object_get(last, "last_seen")),
						   (long long)json_integer_value(json_object_get(last, "id")))
				      : json_null();
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:o}", "items", p.items, "next_cursor", next), NULL, NULL);
}

/* ---- GET /status ---- */

struct status_page {
	struct api_ctx *x;
	json_t *items;
	const char *cursor;
	long limit, devices, current, stale, never, drifting;
	bool more;
};

static int status_row(const struct device *d, void *arg)
{
	struct status_page *p = arg;
	char err[SP_ERR_MAX];
	json_t *o = status_device_json(p->x->store, d, err, sizeof(err));
	const char *fs = json_string_value(json_object_get(o, "fetch_state"));
	/* Totals over every device in scope; items only for this page. */
	p->devices++;
	p->current += !strcmp(fs, "current");
	p->stale += !strcmp(fs, "stale");
	p->never += !strcmp(fs, "never");
	p->drifting += json_integer_value(json_object_get(o, "open_drift")) > 0;
	if ((p->cursor && strcmp(d->mac, p->cursor) <= 0) || p->more) {
		json_decref(o);
		return 0;
	}
	if ((long)json_array_size(p->items) == p->limit) {
		p->more = true;
		json_decref(o);
		return 0;
	}
	json_array_append_new(p->items, o);
	return 0;
}

static enum MHD_Result status_list(struct api_ctx *x)
{
	enum MHD_Result ret;
	struct status_page p = { .x = x, .cursor = api_query(x, "cursor") };
	int64_t tid;
	if (api_limit(x, &p.limit, &ret) < 0 || api_tenant_scope(x, &tid, &ret) < 0)
		return ret;
	p.items = json_array();
	if (store_device_each(x->store, tid, status_row, &p) < 0) {
		json_decref(p.items);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read devices");
	}
	json_t *last = json_array_get(p.items, json_array_size(p.items) - 1);
	json_t *next = p.more && last ? json_incref(json_object_get(last, "mac")) : json_null();
	return api_reply(x, MHD_HTTP_OK,
			 json_pack("{s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:o}", "summary", "devices", (json_int_t)p.devices,
				   "current", (json_int_t)p.current, "stale", (json_int_t)p.stale, "never",
				   (json_int_t)p.never, "with_open_drift", (json_int_t)p.drifting, "items", p.items,
				   "next_cursor", next), NULL, NULL);
}

enum MHD_Result api_drift(struct api_ctx *x, const char *rest)
{
	if (*rest && strcmp(rest, "/"))
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	if (!x->is_get)
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	return drift_list(x);
}

enum MHD_Result api_status(struct api_ctx *x, const char *rest)
{
	if (*rest && strcmp(rest, "/"))
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	if (!x->is_get)
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	return status_list(x);
}
