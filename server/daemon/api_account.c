/*
 * api_account.c: /api/v1/devices/{mac}/accounts[/{line}[/token]]: the SIP
 * lines of a device: list, create, read, update (If-Match), delete, token
 * rotate (POST, the URL in that answer only) and revoke (DELETE), on
 * core/account.c's rules, the ones `sipprov account` runs.  Passwords are
 * never in an answer; scope was decided on the device by api_device.c.
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

static const char *token_state(const struct account *a)
{
	return !a->token_hash[0] ? "none" : a->token_revoked ? "revoked" : "active";
}

static json_t *account_json(const struct account *a)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I}", "line", (json_int_t)a->line, "display_name",
			 a->display_name, "extension", a->extension, "username", a->username, "auth_username",
			 a->auth_username, "token", token_state(a), "last_code", (json_int_t)a->last_code);
}

static void etag_of(const struct account *a, char out[68])
{
	char h[65];
	account_digest(a, h);
	snprintf(out, 68, "\"%s\"", h);
}

/* The phone-side URL of a's token, when d's layout fetches by token. */
static void token_url(struct api_ctx *x, const struct device *d, const struct account *a, json_t *o)
{
	char url[SP_FIELD_MAX + 64];
	if (!a->token[0] || a->token_revoked || !x->layouts ||
	    !layout_uses_token(layouts_find(x->layouts, d->layout)))
		return;
	snprintf(url, sizeof(url), "%s/s/%s", x->phone_base, a->token);
	json_object_set_new(o, "token_url", json_string(url));
	secret_wipe(url, sizeof(url));
}

/* The field a validate_account message is about: the first field name
 * after its "account N on MAC: " prefix. */
const char *api_account_field(const char *msg)
{
	static const char *const names[] = { "auth_username", "username", "password", "display_name", "extension" };
	const char *best = NULL, *at = NULL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *p = strstr(msg, names[i]);
		if (p && (!at || p < at)) {
			at = p;
			best = names[i];
		}
	}
	return best;
}

static const struct api_field account_fields[] = {
	{ "line", JSON_INTEGER, false },
	{ "username", JSON_STRING, false },
	{ "auth_username", JSON_STRING, false },
	{ "password", JSON_STRING, false },
	{ "display_name", JSON_STRING, false },
	{ "extension", JSON_STRING, false },
	{ NULL, 0, false },
};

static void change_of(json_t *o, struct account_change *ch)
{
	ch->username = json_string_value(json_object_get(o, "username"));
	ch->auth_username = json_string_value(json_object_get(o, "auth_username"));
	ch->password = json_string_value(json_object_get(o, "password"));
	ch->display_name = json_string_value(json_object_get(o, "display_name"));
	ch->extension = json_string_value(json_object_get(o, "extension"));
}

static enum MHD_Result account_list(struct api_ctx *x, const struct device *d)
{
	struct account *all = xcalloc(SP_MAX_LINES, sizeof(*all));
	size_t n = 0;
	if (store_account_list(x->store, d->id, all, SP_MAX_LINES, &n) < 0) {
		free(all);
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read accounts");
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, account_json(&all[i]));
	secret_wipe(all, SP_MAX_LINES * sizeof(*all));
	free(all);
	return api_reply(x, MHD_HTTP_OK, json_pack("{s:o, s:n}", "items", items, "next_cursor"), NULL, NULL);
}

static enum MHD_Result account_create(struct api_ctx *x, const struct device *d)
{
	enum MHD_Result ret;
	struct account a, old;
	struct account_change ch;
	char err[SP_ERR_MAX], etag[68], loc[64];
	if (!api_can_write(x, &ret))
		return ret;
	json_t *o = api_body(x, account_fields, &ret);
	if (!o)
		return ret;
	json_t *ln = json_object_get(o, "line");
	memset(&a, 0, sizeof(a));
	a.device_id = d->id;
	a.line = ln ? (long)json_integer_value(ln) : 1;
	if (a.line < 1 || a.line > SP_MAX_LINES) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", "line", 0, "line must be 1 to %d",
				SP_MAX_LINES);
		goto out;
	}
	for (const char *const *f = (const char *const[]){ "username", "auth_username", "password", NULL }; *f; f++)
		if (!json_object_get(o, *f)) {
			ret = api_error(x, MHD_HTTP_BAD_REQUEST, "missing_field", *f, 0, "field '%s' is required", *f);
			goto out;
		}
	int rc = store_account_get_line(x->store, d->id, a.line, &old);
	secret_wipe(&old, sizeof(old));
	if (rc != 0) {
		ret = rc < 0 ? api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read accounts")
			     : api_error(x, MHD_HTTP_CONFLICT, "exists", "line", 0, "device %s already has line %ld",
					 d->mac, a.line);
		goto out;
	}
	change_of(o, &ch);
	account_merge(&a, &ch);
	if (random_hex(a.token, 16) < 0) {
		ret = api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0,
				"cannot generate a token: random number generator failed");
		goto out;
	}
	if (account_write(x->store, x->key, x->tok.name, d, &a, true, "", err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", api_account_field(err), 0, "%s", err);
		goto out;
	}
	json_t *doc = account_json(&a);
	token_url(x, d, &a, doc);
	etag_of(&a, etag);
	snprintf(loc, sizeof(loc), "/api/v1/devices/%s/accounts/%ld", d->mac, a.line);
	ret = api_reply(x, MHD_HTTP_CREATED, doc, etag, loc);
out:
	secret_wipe(&a, sizeof(a));
	json_decref(o);
	return ret;
}

static enum MHD_Result account_update(struct api_ctx *x, const struct device *d, struct account *a,
				      const char *etag)
{
	enum MHD_Result ret;
	struct account_change ch;
	char err[SP_ERR_MAX], before[65], what[64], tag[68];
	if (!api_can_write(x, &ret))
		return ret;
	json_t *o = api_body(x, account_fields, &ret);
	if (!o)
		return ret;
	snprintf(what, sizeof(what), "account %ld on %s", a->line, d->mac);
	if (json_object_get(o, "line")) {
		ret = api_error(x, MHD_HTTP_BAD_REQUEST, "unknown_field", "line", 0, "an account's line cannot change");
		goto out;
	}
	if (!api_if_match(x, etag, what, &ret))
		goto out;
	account_digest(a, before);
	change_of(o, &ch);
	account_merge(a, &ch);
	if (account_write(x->store, x->key, x->tok.name, d, a, false, before, err, sizeof(err)) < 0) {
		ret = api_error(x, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid", api_account_field(err), 0, "%s", err);
		goto out;
	}
	etag_of(a, tag);
	ret = api_reply(x, MHD_HTTP_OK, account_json(a), tag, NULL);
out:
	json_decref(o);
	return ret;
}

/* POST: a new token, its URL in this answer only; DELETE: revoke it. */
static enum MHD_Result account_token(struct api_ctx *x, const struct device *d, struct account *a,
				     const char *etag)
{
	enum MHD_Result ret;
	char err[SP_ERR_MAX], what[64], tag[68];
	bool rotate = !strcmp(x->method, "POST");
	if (!rotate && strcmp(x->method, "DELETE"))
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use POST or DELETE");
	if (!api_can_write(x, &ret))
		return ret;
	if (x->body_len)
		return api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "this request takes no body");
	snprintf(what, sizeof(what), "account %ld on %s", a->line, d->mac);
	if (!api_if_match(x, etag, what, &ret))
		return ret;
	if (account_token_set(x->store, x->tok.name, d, a, rotate, err, sizeof(err)) < 0)
		return api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
	struct account now;
	if (store_account_get_line(x->store, d->id, a->line, &now) != 1)
		return api_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0, "cannot read accounts");
	json_t *doc = account_json(&now);
	if (rotate)
		token_url(x, d, a, doc);
	etag_of(&now, tag);
	secret_wipe(&now, sizeof(now));
	return api_reply(x, MHD_HTTP_OK, doc, tag, NULL);
}

enum MHD_Result api_accounts(struct api_ctx *x, struct device *d, const struct tenant *t, const char *rest)
{
	enum MHD_Result ret;
	struct account a;
	char err[SP_ERR_MAX], etag[68];
	long line;
	(void)t;
	if (!*rest || !strcmp(rest, "/")) {
		if (x->is_get)
			return account_list(x, d);
		if (!strcmp(x->method, "POST"))
			return account_create(x, d);
		return api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0, "use GET or POST");
	}
	rest++;
	const char *sub = strchr(rest, '/');
	char num[8];
	size_t n = sub ? (size_t)(sub - rest) : strlen(rest);
	if (n >= sizeof(num))
		n = 0;
	memcpy(num, rest, n);
	num[n] = '\0';
	if (sp_parse_int(num, 1, SP_MAX_LINES, &line) < 0 || store_account_get_line(x->store, d->id, line, &a) != 1)
		return api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "device %s has no line '%.7s'", d->mac, num);
	etag_of(&a, etag);
	if (sub && !strcmp(sub, "/token"))
		ret = account_token(x, d, &a, etag);
	else if (sub)
		ret = api_error(x, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0, "no such resource");
	else if (x->is_get)
		ret = api_reply(x, MHD_HTTP_OK, account_json(&a), etag, NULL);
	else if (!strcmp(x->method, "PATCH"))
		ret = account_update(x, d, &a, etag);
	else if (!strcmp(x->method, "DELETE")) {
		if (!api_can_write(x, &ret))
			;
		else if (x->body_len)
			ret = api_error(x, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, 0, "this request takes no body");
		else if (!api_if_match(x, etag, "account", &ret))
			;
		else if (account_remove(x->store, x->tok.name, d, &a, err, sizeof(err)) < 0)
			ret = api_error(x, MHD_HTTP_CONFLICT, "conflict", NULL, 0, "%s", err);
		else
			ret = api_reply(x, MHD_HTTP_NO_CONTENT, NULL, NULL, NULL);
	} else
		ret = api_error(x, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL, 0,
				"use GET, PATCH or DELETE");
	secret_wipe(&a, sizeof(a));
	return ret;
}
