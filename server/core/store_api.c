/*
 * store_api.c: the api_token table (schema 011): add, look up by keyed
 * hash, list, revoke.  It never sees a token, only its hash (apitoken.c
 * makes both); roles and scopes are decided by the daemon's api.c.
 */
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

#define TOKEN_COLS "t.id, t.name, coalesce(t.tenant_id, 0), coalesce(n.slug, ''), t.role, t.token_hash, " \
	"t.created, t.revoked FROM api_token t LEFT JOIN tenant n ON n.id = t.tenant_id"

static void token_row(struct dbst *st, struct api_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = db_col_int64(st, 0);
	store_col_text(st, 1, t->name, sizeof(t->name));
	t->tenant_id = db_col_int64(st, 2);
	store_col_text(st, 3, t->tenant, sizeof(t->tenant));
	store_col_text(st, 4, t->role, sizeof(t->role));
	store_col_text(st, 5, t->token_hash, sizeof(t->token_hash));
	t->created = db_col_int64(st, 6);
	t->revoked = db_col_int64(st, 7);
}

int store_api_token_add(struct store *s, const struct api_token *t, char *err, size_t errlen)
{
	struct dbst *st = store_stmt(s, "INSERT INTO api_token (name, tenant_id, role, token_hash, created) "
				      "VALUES (?, nullif(?, 0), ?, ?, ?)");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	store_bind_text(st, 1, t->name);
	db_bind_int64(st, 2, t->tenant_id);
	store_bind_text(st, 3, t->role);
	store_bind_text(st, 4, t->token_hash);
	db_bind_int64(st, 5, t->created ? t->created : sp_now());
	if (db_step(st) != DB_DONE) {
		int ext = db_errcode(store_db(s));
		db_reset(st);
		if (ext == DB_UNIQUE)
			return sp_err(err, errlen, "api token '%s' exists (names are never reused, even revoked)",
				      t->name);
		return sp_err(err, errlen, "%s", store_errmsg(s));
	}
	db_reset(st);
	return 0;
}

static int token_get(struct dbst *st, struct api_token *t)
{
	int rc = db_step(st);
	if (rc == DB_ROW)
		token_row(st, t);
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_api_token_by_hash(struct store *s, const char *hash, struct api_token *t)
{
	struct dbst *st = store_stmt(s, "SELECT " TOKEN_COLS " WHERE t.token_hash = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, hash);
	return token_get(st, t);
}

int store_api_token_get(struct store *s, const char *name, struct api_token *t)
{
	struct dbst *st = store_stmt(s, "SELECT " TOKEN_COLS " WHERE t.name = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, name);
	return token_get(st, t);
}

int store_api_token_each(struct store *s, int (*fn)(const struct api_token *, void *), void *arg)
{
	struct dbst *st = store_stmt(s, "SELECT " TOKEN_COLS " ORDER BY t.name");
	struct api_token t;
	int rc;
	if (!st)
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		token_row(st, &t);
		if (fn(&t, arg))
			break;
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_api_token_revoke(struct store *s, const char *name, int64_t at)
{
	struct dbst *st = store_stmt(s, "UPDATE api_token SET revoked = ? WHERE name = ? AND revoked = 0");
	if (!st)
		return -1;
	db_bind_int64(st, 1, at);
	store_bind_text(st, 2, name);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	return db_changes(store_db(s)) > 0;
}
