/*
 * api_fleet.c: /api/v1/fleet/: what the web console shows, as JSON any
 * client may read: per-tenant totals (devices by state, registrations by
 * final code, open drift by kind), a searchable paged device list with
 * each device's lines, and one device with its registrations, drift and
 * settings (secret-looking values masked).  Read-only: changes go through
 * the resource routes (api_device.c), whose checks stay the only ones.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"

static const char *const state_names[STORE_DEVICE_STATES] = {
	[STORE_DEV_FETCHED] = "current", [STORE_DEV_STALE] = "stale",
	[STORE_DEV_NEVER] = "never_fetched", [STORE_DEV_DISABLED] = "disabled",
};

struct id_state {
	int64_t id;                     /* first: by_id compares it */
	int state;
};
struct states {                         /* device id -> state, sorted by id */
	struct id_state *v;
	size_t n, cap;
};

static void state_add(int64_t id, int state, void *arg)
{
	struct states *s = arg;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].id = id;
	s->v[s->n++].state = state;
}

static int by_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static const char *state_of(const struct states *s, int64_t id)
{
	const struct id_state *hit = bsearch(&id, s->v, s->n, sizeof(*s->v), by_id);
	int st = hit ? hit->state : STORE_DEV_NEVER;
	return state_names[st >= 0 && st < STORE_DEVICE_STATES ? st : STORE_DEV_NEVER];
}

/* Settings values whose key looks secret are shown as "********". */
static bool secret_key(const char *k)
{
	static const char *const words[] = { "pass", "secret", "token", "key", "pin", "ha1", NULL };
	for (const char *const *w = words; *w; w++)
		if (strcasestr(k, *w))
			return true;
	return false;
}

static json_t *masked(json_t *o)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		if (json_is_object(v))
			masked(v);
		else if (secret_key(k))
			json_object_set_new(o, k, json_string("********"));
	}
	return o;
}

/* The device as the console lists it: device_json plus state, lines (no
 * password), last registration and open drift count. */
static json_t *fleet_device(struct store *s, const struct device *d, const char *tenant, const char *state,
			    int *code)
{
	struct account acc[SP_MAX_LINES];
	struct observation o;
	size_t n = 0;
	long drift = 0;
	json_t *j = device_json(d, tenant), *lines = json_array();
	json_object_set_new(j, "state", json_string(state));
	masked(json_object_get(j, "overrides"));
	if (store_account_list(s, d->id, acc, SP_MAX_LINES, &n) == 0)
		for (size_t i = 0; i < n; i++)
			json_array_append_new(lines, json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}", "line",
							       (json_int_t)acc[i].line, "username", acc[i].username,
							       "display_name", acc[i].display_name, "extension",
							       acc[i].extension, "auth_username", acc[i].auth_username,
							       "has_password", acc[i].password_enc[0] != '\0'));
	json_object_set_new(j, "lines", lines);
	*code = 0;
	if (store_registration_last(s, d->id, &o) == 1) {
		*code = o.code;
		json_object_set_new(j, "registration", json_pack("{s:I, s:i, s:s, s:s, s:s, s:s}", "at",
								 (json_int_t)o.at, "code", o.code, "reason", o.reason,
								 "user_agent", o.user_agent, "src_ip", o.src_ip,
								 "registrar", o.registrar));
	} else {
		json_object_set_new(j, "registration", json_null());
	}
	store_drift_open_count_device(s, d->id, &drift);
	json_object_set_new(j, "drift_open", json_integer(drift));
	return j;
}

/* Case-insensitive substring of any field a person would search by. */
static bool matches(json_t *dev, const char *q)
{
	static const char *const fields[] = { "mac", "label", "model", "layout", NULL };
	static const char *const line_fields[] = { "username", "display_name", "extension", "auth_username", NULL };
	char mac[SP_MAC_LEN + 1];
	if (mac_normalize(q, mac) == 0 && !strcmp(mac, json_string_value(json_object_get(dev, "mac"))))
		return true;
	for (const char *const *f = fields; *f; f++)
		if (strcasestr(json_string_value(json_object_get(dev, *f)), q))
			return true;
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(dev, "lines"), i, l)
		for (const char *const *f = line_fields; *f; f++)
			if (strcasestr(json_string_value(json_object_get(l, *f)), q))
				return true;
	return false;
}

struct list_ctx {
	struct api_ctx *x;
	const struct states *st;
	const char *q, *state, *model, *code;
	long offset, limit, total;
	json_t *items;
	json_t *by_code;                /* summary: registrations by final code */
	struct tenant t;
};

static int list_one(const struct device *d, void *arg)
{
	struct list_ctx *lc = arg;
	int code;
	char cs[16];
	if (!api_scope_ok(lc->x, d->tenant_id))
		return 0;
	if (lc->t.id != d->tenant_id && store_tenant_get_id(lc->x->store, d->tenant_id, &lc->t) != 1)
		return -1;
	const char *state = state_of(lc->st, d->id);
	json_t *j = fleet_device(lc->x->store, d, lc->t.slug, state, &code);
	snprintf(cs, sizeof(cs), "%d", code);
	if (lc->by_code) {
		json_t *n = json_object_get(lc->by_code, code ? cs : "none");
		json_object_set_new(lc->by_code, code ? cs : "none", json_integer(json_integer_value(n) + 1));
	}
	if ((lc->state && strcmp(lc->state, state)) || (lc->model && strcasecmp(lc->model, d->model)) ||
	    (lc->code && strcmp(lc->code, code ? cs : "none")) || (lc->q && *lc->q && !matches(j, lc->q))) {
		json_decref(j);
		return 0;
	}
	if (lc->items && lc->total >= lc->offset && lc->total < lc->offset + lc->limit)
		json_array_append_new(lc->items, j);
	else
		json_decref(j);
	lc->total++;
	return 0;
}

/* api_tenant_scope, where the console's empty ?tenant= means all it sees. */
static int tenant_arg(struct api_ctx *x, int64_t *tid, enum MHD_Result *ret)
{
	const char *slug = api_query(x, "tenant");
	*tid = x->tok.tenant_id;
	return slug && !*slug ? 0 : api_tenant_scope(x, tid, ret);
}

struct drift_ctx {
	struct api_ctx *x;
	json_t *kinds;
};

static int drift_one(const struct drift_event *ev, void *arg)
{
	struct drift_ctx *dc = arg;
	json_t *n = json_object_get(dc->kinds, ev->kind);
	json_object_set_new(dc->kinds, ev->kind, json_integer(json_integer_value(n) + 1));
	return 0;
}

struct bucket_keys {
	json_t *arr;
	const char *ok;                 /* "served" or "registered" */
};

static void bucket_one(int64_t start, long ok, long failed, void *arg)
{
	struct bucket_keys *k = arg;
	json_array_append_new(k->arr, json_pack("{s:I, s:I, s:I}", "start", (json_int_t)start, k->ok, (json_int_t)ok,
						"failed", (json_int_t)failed));
}

typedef int (*bucket_fn)(struct store *, int64_t, int64_t, long, void (*)(int64_t, long, long, void *), void *);

/* Per hour over the last 24 h and per day over the last 7 days, buckets
 * aligned to the hour / day (UTC); empty buckets left out: fetches
 * (store_fetch_buckets, "served") or registrations ("registered"). */
static json_t *history(struct store *s, int64_t tid, bucket_fn fn, const char *ok)
{
	int64_t now = sp_now();
	int64_t h0 = now - now % 3600 - 23 * 3600, d0 = now - now % 86400 - 6 * 86400;
	struct bucket_keys hours = { json_array(), ok }, days = { json_array(), ok };
	if (fn(s, tid, h0, 3600, bucket_one, &hours) < 0 || fn(s, tid, d0, 86400, bucket_one, &days) < 0) {
		json_decref(hours.arr);
		json_decref(days.arr);
		return NULL;
	}
	return json_pack("{s:I, s:o, s:I, s:o}", "hours_from", (json_int_t)h0, "hours", hours.arr, "days_from",
			 (json_int_t)d0, "days", days.arr);
}

static enum MHD_Result fleet_list(struct api_ctx *x, bool summary)
{
	enum MHD_Result ret;
	struct states st = { 0 };
	struct list_ctx lc = { .x = x, .st = &st, .q = api_query(x, "q"), .state = api_query(x, "state"),
			       .model = api_query(x, "model"), .code = api_query(x, "code") };
	int64_t tid;
	const char *off = api_query(x, "offset");
	long counts[STORE_DEVICE_STATES];
	if (tenant_arg(x, &tid, &ret) < 0 || api_limit(x, &lc.limit, &ret) < 0)
		return ret;
	if (off && sp_parse_int(off, 0, 1000000000, &lc.offset) < 0)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "offset", 0, "offset must be 0 or more");
	if (lc.state) {
		int i = 0;
		while (i < STORE_DEVICE_STATES && strcmp(lc.state, state_names[i]))
			i++;
		if (i == STORE_DEVICE_STATES)
			return api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "state", 0,
					 "state '%.32s' is not one of current, stale, never_fetched, disabled", lc.state);
	}
	if (store_device_state_each(x->store, tid, state_add, &st) < 0)
		goto fail;
	qsort(st.v, st.n, sizeof(*st.v), by_id);
	if (summary)
		lc.by_code = json_object();
	else
		lc.items = json_array();
	if (store_device_each(x->store, tid, list_one, &lc) < 0)
		goto fail;
	free(st.v);
	if (!summary)
		return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:I, s:I, s:I}", "items", lc.items, "total",
							   (json_int_t)lc.total, "offset", (json_int_t)lc.offset,
							   "limit", (json_int_t)lc.limit), NULL, NULL);
	if (store_device_states(x->store, tid, counts) < 0) {
		json_decref(lc.by_code);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot count devices");
	}
	json_t *states = json_object(), *drift = json_object();
	struct drift_ctx dc = { x, drift };
	/* tid 0 only for a caller who sees every tenant: no scope to apply. */
	if (store_drift_each(x->store, tid, 1, drift_one, &dc) < 0) {
		json_decref(states);
		json_decref(drift);
		json_decref(lc.by_code);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot count drift");
	}
	for (int i = 0; i < STORE_DEVICE_STATES; i++)
		json_object_set_new(states, state_names[i], json_integer(counts[i]));
	json_t *fetches = history(x->store, tid, store_fetch_buckets, "served");
	json_t *regs = history(x->store, tid, store_registration_buckets, "registered");
	if (!fetches || !regs) {
		json_decref(fetches);
		json_decref(regs);
		json_decref(states);
		json_decref(drift);
		json_decref(lc.by_code);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot count fetches");
	}
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "devices", (json_int_t)lc.total,
						   "states", states, "registrations", lc.by_code, "drift_open", drift,
						   "fetches", fetches, "registration_history", regs), NULL, NULL);
fail:
	free(st.v);
	json_decref(lc.items);
	json_decref(lc.by_code);
	return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot list devices");
}

static enum MHD_Result fleet_device_get(struct api_ctx *x, const char *macs)
{
	char mac[SP_MAC_LEN + 1];
	struct device d;
	struct tenant t;
	struct states st = { 0 };
	struct diag_drift dr[32];
	struct diag_fetch fe[20];
	size_t n = 0;
	int code;
	if (strlen(macs) > 17 || mac_normalize(macs, mac) < 0 || store_device_get(x->store, mac, &d) != 1 ||
	    !api_scope_ok(x, d.tenant_id) || store_tenant_get_id(x->store, d.tenant_id, &t) != 1)
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "unknown device '%.17s'", macs);
	if (store_device_state_each(x->store, d.tenant_id, state_add, &st) < 0) {
		free(st.v);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read device");
	}
	qsort(st.v, st.n, sizeof(*st.v), by_id);
	json_t *j = fleet_device(x->store, &d, t.slug, state_of(&st, d.id), &code), *arr = json_array();
	free(st.v);
	if (store_diag_drift_open(x->store, d.id, dr, 32, &n) == 0)
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "kind", dr[i].kind,
							     "expected", dr[i].expected, "observed", dr[i].observed,
							     "first_seen", (json_int_t)dr[i].first_seen, "last_seen",
							     (json_int_t)dr[i].last_seen, "count", (json_int_t)dr[i].count));
	json_object_set_new(j, "drift", arr);
	arr = json_array();
	if (store_fetch_recent(x->store, d.id, fe, 20, &n) == 0)
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:I, s:I}", "at", (json_int_t)fe[i].at,
							     "ip", fe[i].ip, "user_agent", fe[i].user_agent, "path",
							     fe[i].path, "status", (json_int_t)fe[i].status, "version",
							     (json_int_t)fe[i].version));
	json_object_set_new(j, "fetches", arr);
	return api_reply(x, MHD_HTTP_OK, j, NULL, NULL);
}

enum MHD_Result api_fleet(struct api_ctx *x, const char *rest)
{
	if (!x->is_get)
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET");
	if (!strcmp(rest, "/summary"))
		return fleet_list(x, true);
	if (!strcmp(rest, "/devices"))
		return fleet_list(x, false);
	if (!strncmp(rest, "/devices/", 9) && !strchr(rest + 9, '/'))
		return fleet_device_get(x, rest + 9);
	return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
}
