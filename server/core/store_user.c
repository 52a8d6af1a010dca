/*
 * store_user.c: the console_user and console_session tables (schema 021):
 * add, look up, list, remove, change password, and sessions by the keyed
 * hash of their id.  It never sees a password or a session id: user.c
 * makes the hashes; the daemon decides what a session may do.
 */
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

#define USER_COLS "u.id, u.name, coalesce(u.tenant_id, 0), coalesce(n.slug, ''), u.role, u.pw_hash, " \
	"u.created, u.updated FROM console_user u LEFT JOIN tenant n ON n.id = u.tenant_id"

static void user_row(struct dbst *st, struct console_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = db_col_int64(st, 0);
	store_col_text(st, 1, u->name, sizeof(u->name));
	u->tenant_id = db_col_int64(st, 2);
	store_col_text(st, 3, u->tenant, sizeof(u->tenant));
	store_col_text(st, 4, u->role, sizeof(u->role));
	store_col_text(st, 5, u->pw_hash, sizeof(u->pw_hash));
	u->created = db_col_int64(st, 6);
	u->updated = db_col_int64(st, 7);
}

static int user_one(struct dbst *st, struct console_user *u)
{
	int rc = db_step(st);
	if (rc == DB_ROW)
		user_row(st, u);
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_user_add(struct store *s, const struct console_user *u, char *err, size_t errlen)
{
	struct dbst *st = store_stmt(s, "INSERT INTO console_user (name, tenant_id, role, pw_hash, created, updated) "
				      "VALUES (?, nullif(?, 0), ?, ?, ?, ?)");
	int64_t now = sp_now();
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	store_bind_text(st, 1, u->name);
	db_bind_int64(st, 2, u->tenant_id);
	store_bind_text(st, 3, u->role);
	store_bind_text(st, 4, u->pw_hash);
	db_bind_int64(st, 5, now);
	db_bind_int64(st, 6, now);
	if (db_step(st) != DB_DONE) {
		int ext = db_errcode(store_db(s));
		db_reset(st);
		if (ext == DB_UNIQUE)
			return sp_err(err, errlen, "user '%s' exists", u->name);
		return sp_err(err, errlen, "%s", store_errmsg(s));
	}
	db_reset(st);
	return 0;
}

int store_user_get(struct store *s, const char *name, struct console_user *u)
{
	struct dbst *st = store_stmt(s, "SELECT " USER_COLS " WHERE u.name = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, name);
	return user_one(st, u);
}

int store_user_each(struct store *s, int (*fn)(const struct console_user *, void *), void *arg)
{
	struct dbst *st = store_stmt(s, "SELECT " USER_COLS " ORDER BY u.name");
	struct console_user u;
	int rc;
	if (!st)
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		user_row(st, &u);
		if (fn(&u, arg))
			break;
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

/* Run a one-row write; 1 when a row changed, 0 none, -1 error. */
static int changed(struct store *s, struct dbst *st)
{
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	return db_changes(store_db(s)) > 0;
}

int store_user_rm(struct store *s, const char *name)
{
	struct dbst *st = store_stmt(s, "DELETE FROM console_user WHERE name = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, name);
	return changed(s, st);
}

int store_user_set_password(struct store *s, const char *name, const char *pw_hash, int64_t now)
{
	struct dbst *st = store_stmt(s, "UPDATE console_user SET pw_hash = ?, updated = ? WHERE name = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, pw_hash);
	db_bind_int64(st, 2, now);
	store_bind_text(st, 3, name);
	int rc = changed(s, st);
	if (rc != 1)
		return rc;
	/* A new password ends every session opened with the old one. */
	if (!(st = store_stmt(s, "DELETE FROM console_session WHERE user_id = "
				 "(SELECT id FROM console_user WHERE name = ?)")))
		return -1;
	store_bind_text(st, 1, name);
	return store_exec_stmt(s, st, NULL, 0) < 0 ? -1 : 1;
}

int store_session_add(struct store *s, int64_t user_id, const char *sid_hash, int64_t now, int64_t expires)
{
	struct dbst *st = store_stmt(s, "INSERT INTO console_session (sid_hash, user_id, created, expires) "
				      "VALUES (?, ?, ?, ?)");
	if (!st)
		return -1;
	store_bind_text(st, 1, sid_hash);
	db_bind_int64(st, 2, user_id);
	db_bind_int64(st, 3, now);
	db_bind_int64(st, 4, expires);
	return store_exec_stmt(s, st, NULL, 0);
}

int store_session_user(struct store *s, const char *sid_hash, int64_t now, struct console_user *u)
{
	struct dbst *st = store_stmt(s, "SELECT " USER_COLS " JOIN console_session x ON x.user_id = u.id "
				      "WHERE x.sid_hash = ? AND x.expires > ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, sid_hash);
	db_bind_int64(st, 2, now);
	return user_one(st, u);
}

int store_session_rm(struct store *s, const char *sid_hash)
{
	struct dbst *st = store_stmt(s, "DELETE FROM console_session WHERE sid_hash = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, sid_hash);
	return store_exec_stmt(s, st, NULL, 0);
}

int store_session_purge(struct store *s, int64_t now)
{
	struct dbst *st = store_stmt(s, "DELETE FROM console_session WHERE expires <= ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, now);
	return store_exec_stmt(s, st, NULL, 0);
}
