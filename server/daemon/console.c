/*
 * console.c: the web console's side of the admin listener: the pages and
 * scripts under /ui/ (the files in web/, compiled in), with headers that forbid inline
 * script, framing and sniffing; login (failures count toward auth.c's
 * lockout), logout, and the session cookie turned into an api_token so
 * api.c's role and tenant checks apply unchanged.  The data a page shows
 * comes from /api/v1/ like any client's: no rule about devices lives here.
 * A login's scrypt check runs on a worker while its connection is
 * suspended, at most LOGIN_MAX at once, so a login flood cannot hold the
 * one thread that answers every admin request.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "console.h"
#include "workers.h"

#define COOKIE "sp_session"
#define LOGIN_MAX 2     /* password checks at once (scrypt: 32 MiB each); more: 503 */

struct sp_web_asset { const char *name; const char *data; const size_t *len; };
extern const struct sp_web_asset sp_web_assets[];

/* One policy for every /ui/ response: scripts and styles only from files
 * served here (no inline, no eval), no framing, no outside network. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
			  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

bool console_path(const char *url)
{
	return !strncmp(url, "/ui", 3) && (url[3] == '\0' || url[3] == '/');
}

static bool same(const char *a, const char *b)
{
	size_t n = strlen(a);
	unsigned char d = n != strlen(b);
	for (size_t i = 0; i < n && !d; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d;
}

static bool is_hex(const char *s, size_t n)
{
	size_t i = 0;
	for (; s[i] && i <= n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == n;
}

int console_session(struct store *s, const unsigned char key[SP_KEY_LEN], struct MHD_Connection *c,
		    struct api_token *tok, bool *csrf_ok)
{
	const char *sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
	char hash[65], csrf[65];
	struct console_user u;
	*csrf_ok = false;
	if (!sid || !is_hex(sid, SP_SESSION_LEN))
		return 0;
	user_session_hash(key, sid, hash);
	int rc = store_session_user(s, hash, sp_now(), &u);
	if (rc != 1)
		return rc;
	memset(tok, 0, sizeof(*tok));
	tok->id = u.id;
	sp_strlcpy(tok->name, u.name, sizeof(tok->name));
	tok->tenant_id = u.tenant_id;
	sp_strlcpy(tok->tenant, u.tenant, sizeof(tok->tenant));
	sp_strlcpy(tok->role, u.role, sizeof(tok->role));
	user_csrf_token(key, sid, csrf);
	*csrf_ok = h && same(h, csrf);
	return 1;
}

/* ---- responses ---- */

static enum MHD_Result ui_send(const struct console_call *k, unsigned status, const char *ctype, const char *body,
			    size_t len, const char *cookie, const char *location)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (cookie)
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	if (location)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	enum MHD_Result ret = MHD_queue_response(k->c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Steals doc. */
static enum MHD_Result send_json(const struct console_call *k, unsigned status, json_t *doc, const char *cookie)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	enum MHD_Result ret = ui_send(k, status, "application/json", s ? s : "{}", s ? strlen(s) : 2, cookie, NULL);
	free(s);
	return ret;
}

static enum MHD_Result fail(const struct console_call *k, unsigned status, const char *code, const char *msg)
{
	return send_json(k, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg), NULL);
}

static const char *ctype_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && !strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (dot && !strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (dot && !strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (dot && !strcmp(dot, ".svg"))
		return "image/svg+xml";
	return "application/octet-stream";
}

static enum MHD_Result asset(const struct console_call *k, const char *name)
{
	if (!*name)
		name = "index.html";
	for (const struct sp_web_asset *w = sp_web_assets; w->name; w++)
		if (!strcmp(w->name, name))
			return ui_send(k, MHD_HTTP_OK, ctype_of(name), w->data, *w->len, NULL, NULL);
	return fail(k, MHD_HTTP_NOT_FOUND, "not_found", "no such page");
}

/* ---- login ---- */

/* One field of an application/x-www-form-urlencoded body, decoded into
 * out[n]: 1, 0 absent, -1 too long or malformed. */
static int form_field(const char *body, size_t len, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if ((size_t)(e - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
			size_t o = 0;
			for (const char *q = p + nl + 1; q < e; q++) {
				unsigned v;
				char ch = *q;
				if (ch == '+')
					ch = ' ';
				else if (ch == '%') {
					if (e - q < 3 || !isxdigit((unsigned char)q[1]) || !isxdigit((unsigned char)q[2]) ||
					    sscanf(q + 1, "%2x", &v) != 1)
						return -1;
					ch = (char)v;
					q += 2;
				}
				if (o + 1 >= n || ch == '\0')
					return -1;
				out[o++] = ch;
			}
			out[o] = '\0';
			return 1;
		}
		p = e + 1;
	}
	return 0;
}

/* A cross-site page may not post here: when the browser says where the
 * request comes from, it must be this listener. */
static bool origin_ok(const struct console_call *k)
{
	const char *o = MHD_lookup_connection_value(k->c, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(k->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	char want[300];
	if (!o)
		return true;
	if (!host)
		return false;
	snprintf(want, sizeof(want), "%s://%s", k->tls ? "https" : "http", host);
	return !strcmp(o, want);
}

static void note_failure(const struct console_call *k, const char *name)
{
	char ip[64] = "?", esc[4 * SP_SLUG_MAX];
	if (k->addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)k->addr)->sin_addr, ip, sizeof(ip));
	else if (k->addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)k->addr)->sin6_addr, ip, sizeof(ip));
	log_info("console login failed for '%s' from %s", sp_log_escape(name, esc, sizeof(esc)), ip);
	if (auth_fail_note(k->addr)) {
		log_warnx("lockout %s: too many failed console logins", ip);
		metrics_inc("sipprov_lockouts_total");
	}
}

/* One login's check: filled on the listener's thread, checked by a worker
 * while the connection is suspended, finished on the listener's thread. */
struct login_check {
	struct MHD_Connection *c;
	char name[SP_SLUG_MAX];
	char pw[SP_PASSWORD_MAX];       /* wiped by the worker */
	bool form, known, ok, done;
	struct console_user u;
};

static struct workers checks = WORKERS_INIT;

void console_login_free(void *login)
{
	struct login_check *l = login;
	if (l)
		secret_wipe(l, sizeof(*l));
	free(l);
}

void console_drain(void)
{
	workers_drain(&checks);
}

static void *check_main(void *arg)
{
	struct login_check *l = arg;
	/* An unknown name costs the same scrypt as a known one. */
	l->ok = user_password_ok(l->pw, l->known ? l->u.pw_hash : "scrypt$32768$8$1$00000000000000000000000000000000$"
				 "0000000000000000000000000000000000000000000000000000000000000000") && l->known;
	secret_wipe(l->pw, sizeof(l->pw));
	l->done = true;
	/* After this the request owns l again (freed when it completes). */
	MHD_resume_connection(l->c);
	workers_done(&checks);
	return NULL;
}

/* The checked login: a session and its cookie, or 401. */
static enum MHD_Result login_finish(const struct console_call *k, struct login_check *l)
{
	char sid[SP_SESSION_LEN + 1], hash[65], csrf[65], cookie[256];
	const struct console_user *u = &l->u;
	int64_t now = sp_now();
	enum MHD_Result ret;
	if (!l->ok) {
		note_failure(k, l->name);
		return fail(k, MHD_HTTP_UNAUTHORIZED, "unauthorized", "unknown user or wrong password");
	}
	if (user_session_new(sid) < 0)
		return fail(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "random number generator failed");
	user_session_hash(k->key, sid, hash);
	user_csrf_token(k->key, sid, csrf);
	if (store_session_purge(k->store, now) < 0 ||
	    store_session_add(k->store, u->id, hash, now, now + k->session_seconds) < 0 ||
	    store_audit(k->store, u->name, "console login", u->name, "", "", "") < 0) {
		secret_wipe(sid, sizeof(sid));
		return fail(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "cannot store the session");
	}
	snprintf(cookie, sizeof(cookie), COOKIE "=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s", sid,
		 k->session_seconds, k->tls ? "; Secure" : "");
	secret_wipe(sid, sizeof(sid));
	log_info("console login '%s' (%s%s%s)", u->name, u->role, u->tenant_id ? ", tenant " : "", u->tenant);
	if (l->form)
		ret = ui_send(k, MHD_HTTP_SEE_OTHER, "text/plain", "", 0, cookie, "/ui/");
	else
		ret = send_json(k, MHD_HTTP_OK, json_pack("{s:s, s:s, s:s?, s:s}", "user", u->name, "role", u->role,
							  "tenant", u->tenant_id ? u->tenant : NULL, "csrf", csrf),
				cookie);
	secret_wipe(cookie, sizeof(cookie));
	return ret;
}

static enum MHD_Result login(const struct console_call *k)
{
	const char *ct = MHD_lookup_connection_value(k->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	struct login_check *l = *k->login;
	if (l && l->done)                       /* resumed: the worker has checked it */
		return login_finish(k, l);
	if (auth_locked(k->addr))
		return fail(k, MHD_HTTP_TOO_MANY_REQUESTS, "locked_out",
			    "too many failed authentications from this address; retry later");
	l = xcalloc(1, sizeof(*l));
	l->form = ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33);
	if (l->form) {
		if (form_field(k->body, k->body_len, "name", l->name, sizeof(l->name)) != 1 ||
		    form_field(k->body, k->body_len, "password", l->pw, sizeof(l->pw)) != 1) {
			console_login_free(l);
			return fail(k, MHD_HTTP_BAD_REQUEST, "invalid", "the form needs 'name' and 'password'");
		}
	} else {
		json_error_t je;
		json_t *o = json_loadb(k->body, k->body_len, 0, &je);
		const char *n = json_string_value(json_object_get(o, "name"));
		const char *p = json_string_value(json_object_get(o, "password"));
		if (!n || !p || strlen(n) >= sizeof(l->name) || strlen(p) >= sizeof(l->pw)) {
			json_decref(o);
			console_login_free(l);
			return fail(k, MHD_HTTP_BAD_REQUEST, "invalid",
				    "the body needs 'name' and 'password' (JSON strings, or a form)");
		}
		sp_strlcpy(l->name, n, sizeof(l->name));
		sp_strlcpy(l->pw, p, sizeof(l->pw));
		json_decref(o);
	}
	int rc = store_user_get(k->store, l->name, &l->u);
	if (rc < 0) {
		console_login_free(l);
		return fail(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "cannot read users");
	}
	l->known = rc == 1;
	if (!workers_take(&checks, LOGIN_MAX)) {
		console_login_free(l);
		metrics_inc("sipprov_console_login_busy_total");
		return fail(k, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "too many logins are being checked; retry in a second");
	}
	l->c = k->c;
	*k->login = l;
	MHD_suspend_connection(k->c);
	if (workers_start(check_main, l) < 0) {
		*k->login = NULL;
		console_login_free(l);
		MHD_resume_connection(k->c);
		workers_done(&checks);
		return fail(k, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "cannot start a password check; retry in a second");
	}
	return MHD_YES;
}

enum MHD_Result console_handle(const struct console_call *k)
{
	bool get = !strcmp(k->method, MHD_HTTP_METHOD_GET) || !strcmp(k->method, MHD_HTTP_METHOD_HEAD);
	bool post = !strcmp(k->method, MHD_HTTP_METHOD_POST);
	const char *rest = k->url + 3;
	if (!*rest)
		return ui_send(k, MHD_HTTP_FOUND, "text/plain", "", 0, NULL, "/ui/");
	rest++;
	if (post && !origin_ok(k))
		return fail(k, MHD_HTTP_FORBIDDEN, "forbidden", "cross-origin request refused");
	if (!strcmp(rest, "login")) {
		if (!post)
			return fail(k, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use POST");
		return login(k);
	}
	if (!strcmp(rest, "session") || !strcmp(rest, "logout")) {
		struct api_token tok;
		bool csrf_ok;
		const char *sid = MHD_lookup_connection_value(k->c, MHD_COOKIE_KIND, COOKIE);
		char hash[65], csrf[65];
		int rc = console_session(k->store, k->key, k->c, &tok, &csrf_ok);
		if (rc < 0)
			return fail(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "cannot read sessions");
		if (rc == 0)
			return fail(k, MHD_HTTP_UNAUTHORIZED, "unauthorized", "no session: log in");
		if (!strcmp(rest, "session")) {
			if (!get)
				return fail(k, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
			user_csrf_token(k->key, sid, csrf);
			return send_json(k, MHD_HTTP_OK, json_pack("{s:s, s:s, s:s?, s:s}", "user", tok.name, "role",
								   tok.role, "tenant", tok.tenant_id ? tok.tenant : NULL,
								   "csrf", csrf), NULL);
		}
		if (!post)
			return fail(k, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use POST");
		if (!csrf_ok)
			return fail(k, MHD_HTTP_FORBIDDEN, "csrf", "missing or wrong X-CSRF-Token");
		user_session_hash(k->key, sid, hash);
		if (store_session_rm(k->store, hash) < 0 ||
		    store_audit(k->store, tok.name, "console logout", tok.name, "", "", "") < 0)
			return fail(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "cannot end the session");
		return send_json(k, MHD_HTTP_OK, json_pack("{s:b}", "logged_out", 1),
				 k->tls ? COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure"
					: COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
	}
	if (!get)
		return fail(k, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
	return asset(k, rest);
}
