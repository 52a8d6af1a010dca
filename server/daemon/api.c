/*
 * api.c: the admin listener (admin_listen) on its own libmicrohttpd daemon:
 * bearer tokens (failures count toward auth.c's lockout), body size capped
 * before buffering, JSON bodies parsed with bounds, errors as data, the
 * route table, /metrics and the OpenAPI document.  Resources live in
 * api_tenant.c and api_device.c; no rule about them is decided here.
 * One MHD thread answers every request (internal polling, no pool), so the
 * one store connection is never shared between threads; queued jobs run on
 * job_runner.c's own thread and connection, started and joined here.
 * MHD ownership: every response is destroyed right after MHD_queue_response;
 * per-request state is freed in the NOTIFY_COMPLETED callback.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <microhttpd.h>

#include "api.h"
#include "api_int.h"
#include "auth.h"
#include "console.h"
#include "http.h"
#include "job_runner.h"
#include "tls_certs.h"

extern const char sp_openapi_json[];
extern const size_t sp_openapi_json_len;

struct api_server {
	const struct conf *conf;
	const unsigned char *key;
	struct MHD_Daemon *d;
	bool tls;                       /* its certificate is tls_certs.c's TLS_ADMIN */
	struct store *store;            /* used only by MHD's one thread */
	struct job_runner *jobs;        /* its own thread and store handle */
	struct layouts *layouts;        /* its own copy; SIGHUP swaps it */
	char phone_base[SP_FIELD_MAX];  /* where phones fetch: token URLs */
	pthread_rwlock_t layouts_lock;
};

struct api_req {                        /* per request, freed in on_completed */
	struct buf body;
	bool too_big;
	bool authed;
	struct api_token tok;
	bool ui;                        /* under /ui/: console.c answers */
	bool session, csrf_ok;          /* authed by console cookie; X-CSRF-Token matched */
	struct api_job *job;            /* a diagnose running or done (api_ops.c) */
	void *login;                    /* a console login being checked (console.c) */
};

/* ---- responses: the one place the API's status codes are written ---- */

/* metrics.c keeps the series pointer: literals only. */
#define SERIES(code) "sipprov_http_requests_total{route=\"admin\",code=\"" #code "\"}"
static const char *series_of(unsigned status)
{
	switch (status) {
	case 200: return SERIES(200);
	case 201: return SERIES(201);
	case 204: return SERIES(204);
	case 400: return SERIES(400);
	case 401: return SERIES(401);
	case 403: return SERIES(403);
	case 404: return SERIES(404);
	case 405: return SERIES(405);
	case 409: return SERIES(409);
	case 412: return SERIES(412);
	case 413: return SERIES(413);
	case 422: return SERIES(422);
	case 429: return SERIES(429);
	default: return status >= 500 ? SERIES(5xx) : SERIES(other);
	}
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
				 size_t len, const char *etag, const char *location)
{
	metrics_inc(series_of(status));
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (etag)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	if (location)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"sipprov-admin\"");
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)     /* busy: every 503 says when to come back */
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "5");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, json_t *doc, const char *etag,
			     const char *location)
{
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (doc && !s)
		return send_body(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
				 "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}", 57, NULL, NULL);
	enum MHD_Result ret = send_body(c, status, "application/json", s ? s : "", s ? strlen(s) : 0, etag, location);
	free(s);
	return ret;
}

__attribute__((format(printf, 6, 0)))
static enum MHD_Result verror(struct MHD_Connection *c, unsigned status, const char *code, const char *field,
			      long row, const char *fmt, va_list ap)
{
	char msg[SP_ERR_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (field)
		json_object_set_new(e, "field", json_string(field));
	if (row)
		json_object_set_new(e, "row", json_integer(row));
	char esc[4 * sizeof(msg)];
	log_debug("admin api %u %s: %s", status, code, sp_log_escape(msg, esc, sizeof(esc)));
	return reply(c, status, json_pack("{s:o}", "error", e), NULL, NULL);
}

static enum MHD_Result conn_error(struct MHD_Connection *c, unsigned status, const char *code, const char *fmt,
				  ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result conn_error(struct MHD_Connection *c, unsigned status, const char *code, const char *fmt,
				  ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum MHD_Result r = verror(c, status, code, NULL, 0, fmt, ap);
	va_end(ap);
	return r;
}

enum MHD_Result api_error(struct api_ctx *x, unsigned status, const char *code, const char *field, long row,
			  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum MHD_Result r = verror(x->c, status, code, field, row, fmt, ap);
	va_end(ap);
	return r;
}

enum MHD_Result api_reply(struct api_ctx *x, unsigned status, json_t *doc, const char *etag, const char *location)
{
	return reply(x->c, status, doc, etag, location);
}

enum MHD_Result api_reply_text(struct api_ctx *x, unsigned status, const char *ctype, const char *body, size_t len)
{
	return send_body(x->c, status, ctype, body ? body : "", len, NULL, NULL);
}

/* ---- bodies ---- */

/* Nesting depth of JSON text without parsing it, so a hostile body is
 * refused before Jansson recurses into it. */
static int json_depth(const char *p, size_t n)
{
	int depth = 0, max = 0;
	bool str = false;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				str = false;
		} else if (ch == '"') {
			str = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max)
				max = depth;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	}
	return max;
}

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	default: return "a boolean";
	}
}

static bool type_ok(json_t *v, json_type want)
{
	if (want == JSON_TRUE)
		return json_is_boolean(v);
	return json_typeof(v) == want;
}

json_t *api_body(struct api_ctx *x, const struct api_field *fields, enum MHD_Result *ret)
{
	json_error_t je;
	if (!x->body_len) {
		*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "the request needs a JSON object body");
		return NULL;
	}
	if (json_depth(x->body, x->body_len) > API_DEPTH_MAX) {
		*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "too_deep", NULL, 0, "JSON nested deeper than %d levels",
				 API_DEPTH_MAX);
		return NULL;
	}
	/* Jansson refuses invalid UTF-8 and \u0000 in strings (no JSON_ALLOW_NUL). */
	json_t *o = json_loadb(x->body, x->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "malformed JSON at line %d column %d: %s",
				 je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "the body must be a JSON object");
		return NULL;
	}
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		const struct api_field *f = fields;
		while (f->name && strcmp(f->name, k))
			f++;
		if (!f->name) {
			char known[512];
			size_t n = 0;
			known[0] = '\0';
			for (f = fields; f->name && n < sizeof(known); f++)
				n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", n ? ", " : "", f->name);
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "unknown_field", k, 0, "unknown field '%.64s' (known: %s)",
					 k, known);
			json_decref(o);
			return NULL;
		}
		if (!type_ok(v, f->type)) {
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "wrong_type", k, 0, "field '%s' must be %s", k,
					 type_name(f->type));
			json_decref(o);
			return NULL;
		}
	}
	for (const struct api_field *f = fields; f->name; f++)
		if (f->required && !json_object_get(o, f->name)) {
			*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "missing_field", f->name, 0, "field '%s' is required",
					 f->name);
			json_decref(o);
			return NULL;
		}
	return o;
}

int api_str(struct api_ctx *x, json_t *o, const char *name, char *dst, size_t size, enum MHD_Result *ret)
{
	json_t *v = json_object_get(o, name);
	if (!v)
		return 0;
	const char *s = json_string_value(v);
	if (json_string_length(v) >= size) {
		*ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", name, 0, "field '%s' is longer than %zu bytes",
				 name, size - 1);
		return -1;
	}
	sp_strlcpy(dst, s, size);
	return 0;
}

/* ---- scope and roles ---- */

bool api_scope_ok(const struct api_ctx *x, int64_t tenant_id)
{
	return !x->tok.tenant_id || x->tok.tenant_id == tenant_id;
}

int api_tenant_visible(struct api_ctx *x, const char *slug, struct tenant *t, enum MHD_Result *ret)
{
	int rc = strlen(slug) < SP_SLUG_MAX ? store_tenant_get(x->store, slug, t) : 0;
	if (rc < 0) {
		*ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read tenant");
		return -1;
	}
	if (rc == 0 || !api_scope_ok(x, t->id)) {
		*ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "unknown tenant '%.64s'", slug);
		return 0;
	}
	return 1;
}

int api_tenant_scope(struct api_ctx *x, int64_t *tenant_id, enum MHD_Result *ret)
{
	const char *slug = api_query(x, "tenant");
	struct tenant t;
	*tenant_id = x->tok.tenant_id;
	if (!slug)
		return 0;
	if (api_tenant_visible(x, slug, &t, ret) != 1)
		return -1;
	*tenant_id = t.id;
	return 0;
}

bool api_if_match(struct api_ctx *x, const char *etag, const char *what, enum MHD_Result *ret)
{
	const char *im = MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
	if (!im || !strcmp(im, "*") || !strcmp(im, etag))
		return true;
	*ret = api_error(x, MHD_HTTP_PRECONDITION_FAILED, "precondition_failed", NULL, 0,
			 "%s changed since that ETag was read; read it again", what);
	return false;
}

#define IDEM_KEY_MAX 255

int api_idem_key(struct api_ctx *x, const char **key, enum MHD_Result *ret)
{
	*key = MHD_lookup_connection_value(x->c, MHD_HEADER_KIND, "Idempotency-Key");
	if (!*key || (**key && strlen(*key) <= IDEM_KEY_MAX && sp_text_ok(*key)))
		return 0;
	*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "Idempotency-Key", 0,
			 "Idempotency-Key must be 1 to %d printable characters", IDEM_KEY_MAX);
	return -1;
}

int api_idem_kept(struct api_ctx *x, const char *key, const char *sha, char **text, long *status,
		  enum MHD_Result *ret)
{
	char was[65];
	char *enc = NULL;
	*text = NULL;
	int rc = store_idem_get(x->store, x->tok.name, key, was, status, &enc);
	if (rc <= 0) {
		if (rc < 0)
			*ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read idempotency keys");
		return rc;
	}
	if (strcmp(was, sha)) {
		free(enc);
		*ret = api_error(x, MHD_HTTP_CONFLICT, "conflict", "Idempotency-Key", 0,
				 "Idempotency-Key '%s' was used with another request body", key);
		return -1;
	}
	*text = secret_decrypt(x->key, enc);
	free(enc);
	if (!*text) {
		*ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "the kept answer does not decrypt");
		return -1;
	}
	return 1;
}

bool api_can_write(struct api_ctx *x, enum MHD_Result *ret)
{
	if (strcmp(x->tok.role, "read-only"))
		return true;
	*ret = api_error(x, MHD_HTTP_FORBIDDEN, "forbidden", NULL, 0, "token '%s' is read-only", x->tok.name);
	return false;
}

bool api_is_admin(struct api_ctx *x, enum MHD_Result *ret)
{
	if (!strcmp(x->tok.role, "admin"))
		return true;
	*ret = api_error(x, MHD_HTTP_FORBIDDEN, "forbidden", NULL, 0, "token '%s' (%s) may not change tenants",
			 x->tok.name, x->tok.role);
	return false;
}

const char *api_query(struct api_ctx *x, const char *name)
{
	return MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, name);
}

bool api_flag(struct api_ctx *x, const char *name, bool *v, enum MHD_Result *ret)
{
	const char *q = api_query(x, name);
	*v = false;
	if (!q)
		return true;
	if (!strcmp(q, "true") || !strcmp(q, "false")) {
		*v = !strcmp(q, "true");
		return true;
	}
	*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", name, 0, "%s must be true or false", name);
	return false;
}

int api_limit(struct api_ctx *x, long *limit, enum MHD_Result *ret)
{
	const char *v = api_query(x, "limit");
	*limit = 100;
	if (v && sp_parse_int(v, 1, API_LIMIT_MAX, limit) < 0) {
		*ret = api_error(x, MHD_HTTP_BAD_REQUEST, "invalid", "limit", 0, "limit must be 1 to %d", API_LIMIT_MAX);
		return -1;
	}
	return 0;
}

/* ---- tokens ---- */

/* The caller's token from "Authorization: Bearer T": 1, 0 (missing,
 * unknown or revoked), -1 (store error). */
static int token_of(struct api_server *a, struct MHD_Connection *c, struct api_token *tok)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	char hash[65];
	if (!h || strncasecmp(h, "Bearer ", 7))
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	if (strlen(h) != SP_API_TOKEN_LEN)
		return 0;
	api_token_hash(a->key, h, hash);
	int rc = store_api_token_by_hash(a->store, hash, tok);
	if (rc == 1 && tok->revoked)
		return 0;
	return rc;
}

/* ---- /metrics ---- */

void api_metrics_text(struct store *s, long devices_every_s, struct buf *out)
{
	metrics_scrape(s, devices_every_s, out);
	/* The listeners' certificates (tls_certs.c), reloaded by SIGHUP: the
	 * phones' unlabelled as before, the admin listener's labelled. */
	int64_t phone = tls_certs_not_after(TLS_PHONE), admin = tls_certs_not_after(TLS_ADMIN);
	if (phone || admin)
		buf_printf(out, "# HELP sipprov_tls_cert_not_after_seconds When the HTTPS certificate being served "
				"expires (unix seconds).\n# TYPE sipprov_tls_cert_not_after_seconds gauge\n");
	if (phone)
		buf_printf(out, "sipprov_tls_cert_not_after_seconds %lld\n", (long long)phone);
	if (admin)
		buf_printf(out, "sipprov_tls_cert_not_after_seconds{listener=\"admin\"} %lld\n", (long long)admin);
}

static bool addr_in(const struct policy_nets *nets, const struct sockaddr *sa)
{
	unsigned char a16[16];
	return policy_addr_sockaddr(sa, a16) && policy_nets_match(nets, a16);
}

/* ---- dispatch ---- */

static enum MHD_Result route(struct api_server *a, struct api_ctx *x)
{
	const char *p = x->path;
	if (x->job && *x->job)                 /* resumed: the worker's answer */
		return api_ops_answer(x);
	if (!strcmp(p, "/audit") || !strcmp(p, "/layouts"))
		return api_ops(x, p);
	if (!strncmp(p, "/tenants", 8) && (p[8] == '\0' || p[8] == '/'))
		return api_tenants(x, p + 8);
	if (!strncmp(p, "/devices", 8) && (p[8] == '\0' || p[8] == '/'))
		return api_devices(x, p + 8);
	if (!strncmp(p, "/import", 7) && (p[7] == '\0' || p[7] == '/'))
		return api_import(x, p + 7);
	if (!strncmp(p, "/export", 7) && (p[7] == '\0' || p[7] == '/'))
		return api_export(x, p + 7);
	if (!strncmp(p, "/jobs", 5) && (p[5] == '\0' || p[5] == '/'))
		return api_jobs(x, p + 5);
	if (!strncmp(p, "/drift", 6) && (p[6] == '\0' || p[6] == '/'))
		return api_drift(x, p + 6);
	if (!strncmp(p, "/status", 7) && (p[7] == '\0' || p[7] == '/'))
		return api_status(x, p + 7);
	if (!strncmp(p, "/fleet/", 7))          /* the web console's views (api_fleet.c) */
		return api_fleet(x, p + 6);
	if (!strncmp(p, "/pending", 8) && (p[8] == '\0' || p[8] == '/'))
		return api_pending(x, p + 8);
	(void)a;
	return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	struct api_server *a = cls;
	struct api_req *rq = *req_cls;
	bool is_get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	bool open_route = is_get && (!strcmp(url, "/metrics") || !strcmp(url, "/api/v1/openapi.json"));
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *addr = ci ? ci->client_addr : NULL;
	(void)version;
	if (!addr)
		return MHD_NO;

	if (!rq) {
		rq = xcalloc(1, sizeof(*rq));
		buf_init(&rq->body, API_BODY_MAX);
		*req_cls = rq;
		if (open_route)
			return MHD_YES;
		/* The web console: its pages and login need no token; console.c
		 * answers once the (capped) body is in. */
		if ((rq->ui = console_path(url)))
			return MHD_YES;
		/* Decided on the headers, before any body byte is read or kept
		 * (answering now also closes the connection, as it should). */
		if (auth_locked(addr))
			return conn_error(c, MHD_HTTP_TOO_MANY_REQUESTS, "locked_out",
					  "too many failed authentications from this address; retry later");
		int rc = token_of(a, c, &rq->tok);
		/* No bearer token: a console session does as well, with the same
		 * role and scope checks; its writes need the session's CSRF token. */
		if (rc == 0 && (rc = console_session(a->store, a->key, c, &rq->tok, &rq->csrf_ok)) == 1)
			rq->session = true;
		if (rc < 0)
			return conn_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "cannot read tokens");
		if (rc == 0) {
			char ip[64] = "?";
			if (auth_fail_note(addr)) {
				if (addr->sa_family == AF_INET)
					inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, ip, sizeof(ip));
				else if (addr->sa_family == AF_INET6)
					inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, ip, sizeof(ip));
				log_warnx("lockout %s: too many failed admin API tokens", ip);
				metrics_inc("sipprov_lockouts_total");
			}
			return conn_error(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
					  "missing, unknown or revoked bearer token");
		}
		if (rq->session && !is_get && !rq->csrf_ok)
			return conn_error(c, MHD_HTTP_FORBIDDEN, "csrf", "missing or wrong X-CSRF-Token for this session");
		rq->authed = true;
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		long n;
		if (cl && (sp_parse_int(cl, 0, API_BODY_MAX, &n) < 0))
			return conn_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "request body over %d bytes",
					  API_BODY_MAX);
		return MHD_YES;
	}
	if (*upload_size) {
		buf_add(&rq->body, upload, *upload_size);
		rq->too_big = rq->body.overflow;
		*upload_size = 0;
		return MHD_YES;
	}

	if (!strcmp(url, "/metrics") && is_get) {
		/* No token: metrics_allow is what guards it, here as before. */
		if (!addr_in(&a->conf->metrics_nets, addr))
			return conn_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such resource");
		struct buf out;
		buf_init(&out, 1 << 20);
		api_metrics_text(a->store, a->conf->metrics_devices_interval, &out);
		enum MHD_Result ret = send_body(c, MHD_HTTP_OK, "text/plain; version=0.0.4", out.data ? out.data : "",
						out.len, NULL, NULL);
		buf_release(&out);
		return ret;
	}
	if (open_route)
		return send_body(c, MHD_HTTP_OK, "application/json", sp_openapi_json, sp_openapi_json_len, NULL, NULL);
	if (rq->ui) {
		if (rq->too_big)
			return conn_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "request body over %d bytes",
					  API_BODY_MAX);
		struct console_call k = {
			.c = c, .store = a->store, .key = a->key, .addr = addr, .method = method, .url = url,
			.body = rq->body.data ? rq->body.data : "", .body_len = rq->body.len, .tls = a->tls,
			.session_seconds = a->conf->console_session_seconds, .login = &rq->login,
		};
		return console_handle(&k);
	}
	if (!rq->authed)
		return MHD_NO;
	if (rq->too_big)
		return conn_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "request body over %d bytes", API_BODY_MAX);
	if (strncmp(url, "/api/v1/", 8))
		return conn_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such resource");
	struct api_ctx x = {
		.c = c, .store = a->store, .method = method, .path = url + 7, .tok = rq->tok,
		.body = rq->body.data ? rq->body.data : "", .body_len = rq->body.len, .is_get = is_get,
		.is_write = !is_get, .conf = a->conf, .key = a->key, .phone_base = a->phone_base, .jobs = a->jobs,
		.job = &rq->job,
	};
	pthread_rwlock_rdlock(&a->layouts_lock);
	x.layouts = a->layouts;
	enum MHD_Result ret = route(a, &x);
	pthread_rwlock_unlock(&a->layouts_lock);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode t)
{
	struct api_req *rq = *req_cls;
	(void)cls;
	(void)c;
	(void)t;
	if (!rq)
		return;
	buf_release(&rq->body);
	api_job_free(rq->job);
	console_login_free(rq->login);
	free(rq);
	*req_cls = NULL;
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[SP_ERR_MAX], esc[4 * sizeof(msg)];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	/* libmicrohttpd quotes request bytes in some messages. */
	log_debug("admin listener: %s", sp_log_escape(msg, esc, sizeof(esc)));
}

/* Where phones fetch, for the token URLs answers carry.  Set before the
 * listener starts, so request threads only read it. */
static void set_phone_base(struct api_server *a, unsigned http_port, unsigned https_port)
{
	char host[SP_FIELD_MAX - 32];
	const char *listen = http_port ? a->conf->http_listen : a->conf->https_listen;
	if (a->conf->public_url[0]) {
		sp_strlcpy(a->phone_base, a->conf->public_url, sizeof(a->phone_base));
	} else {
		/* The listener's own address, with the port it bound (0 = any). */
		sp_strlcpy(host, listen, sizeof(host));
		char *colon = strrchr(host, ':');
		if (colon && (!strchr(host, ']') || colon > strchr(host, ']')))
			*colon = '\0';
		snprintf(a->phone_base, sizeof(a->phone_base), "%s://%s:%u", http_port ? "http" : "https",
			 host[0] ? host : "127.0.0.1", http_port ? http_port : https_port);
	}
	size_t n = strlen(a->phone_base);
	while (n && a->phone_base[n - 1] == '/')
		a->phone_base[--n] = '\0';
}

struct api_server *api_server_start(const struct conf *conf, const unsigned char key[SP_KEY_LEN],
				    unsigned http_port, unsigned https_port, char *err, size_t errlen)
{
	struct api_server *a = xcalloc(1, sizeof(*a));
	struct sockaddr_storage ss;
	bool tls = conf->admin_tls_cert[0] || conf->admin_tls_key[0];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME;  /* diagnoses run off this thread (api_ops.c) */
	a->conf = conf;
	a->key = key;
	set_phone_base(a, http_port, https_port);
	pthread_rwlock_init(&a->layouts_lock, NULL);
	if (!(a->layouts = layouts_load(conf->templates, err, errlen)))
		goto fail;
	if (http_listen_parse(conf->admin_listen, &ss, err, errlen) < 0)
		goto fail;
	if (!(a->store = store_open(conf->database, err, errlen)) || store_use_key(a->store, key, err, errlen) < 0)
		goto fail;
	if (!(a->jobs = job_runner_start(conf, key, err, errlen)))
		goto fail;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls) {
		/* Handed out per handshake, so SIGHUP can swap it (renewals). */
		if (tls_certs_load(TLS_ADMIN, conf->admin_tls_cert, conf->admin_tls_key, err, errlen) < 0)
			goto fail;
		a->tls = true;
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)tls_certs_retrieve_admin },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem no_opts[] = { { MHD_OPTION_END, 0, NULL } };
	a->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)conf->conn_timeout,
				MHD_OPTION_CONNECTION_LIMIT, 256u,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_ARRAY, tls ? tls_opts : no_opts,
				MHD_OPTION_END);
	if (!a->d) {
		sp_err(err, errlen, "cannot listen on admin_listen %s: address in use or not permitted",
		       conf->admin_listen);
		goto fail;
	}
	log_info("admin %s listening on %s port %u", tls ? "https" : "http", conf->admin_listen, api_server_port(a));
	return a;
fail:
	api_server_stop(a);
	return NULL;
}

void api_server_reload(struct api_server *a, const char *templates)
{
	char err[SP_ERR_MAX];
	if (!a)
		return;
	struct layouts *l = layouts_load(templates, err, sizeof(err));
	if (!l) {
		log_warnx("reload: admin API keeps its layouts: %s", err);
		return;
	}
	pthread_rwlock_wrlock(&a->layouts_lock);
	struct layouts *old = a->layouts;
	a->layouts = l;
	pthread_rwlock_unlock(&a->layouts_lock);
	layouts_free(old);
}

unsigned api_server_port(const struct api_server *a)
{
	const union MHD_DaemonInfo *i;
	if (!a || !a->d || !(i = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT)))
		return 0;
	return i->port;
}

void api_server_stop(struct api_server *a)
{
	if (!a)
		return;
	if (a->d) {
		api_ops_drain();        /* a worker resumes its connection on this daemon */
		console_drain();        /* so does a password check */
		MHD_stop_daemon(a->d);
	}
	job_runner_stop(a->jobs);       /* after the last request that could wake it */
	store_close(a->store);
	layouts_free(a->layouts);
	pthread_rwlock_destroy(&a->layouts_lock);
	if (a->tls)
		tls_certs_release(TLS_ADMIN);
	free(a);
}

int api_server_reload_tls(struct api_server *a, const char *cert, const char *key, char *err, size_t errlen)
{
	char serial[64];
	if (!a || !a->tls)
		return 0;
	if (tls_certs_load(TLS_ADMIN, cert, key, err, errlen) < 0)
		return -1;
	tls_certs_serial(TLS_ADMIN, serial, sizeof(serial));
	log_info("tls: admin listener serving certificate serial=%s file=%s", serial, cert);
	return 0;
}
