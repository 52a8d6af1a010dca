/*
 * store_audit.c: reading the audit log back (newest first, by id cursor,
 * filtered by actor, action and time).  Writing stays store_audit() in
 * store.c; deciding which tenant a row belongs to is the caller's.
 */
#include <string.h>

#include "sipprov.h"
#include "store_int.h"

int store_audit_each(struct store *s, const struct audit_filter *f, int (*fn)(const struct audit_row *, void *),
		     void *arg)
{
	struct dbst *st = store_stmt(s, "SELECT id, at, actor, action, object, before_digest, after_digest, detail "
				      "FROM audit_log WHERE (?1 = 0 OR id < ?1) AND (?2 = '' OR actor = ?2) "
				      "AND (?3 = '' OR action = ?3) AND at >= ?4 ORDER BY id DESC");
	struct audit_row r;
	int rc, stop = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, f->before_id);
	store_bind_text(st, 2, f->actor ? f->actor : "");
	store_bind_text(st, 3, f->action ? f->action : "");
	db_bind_int64(st, 4, f->since);
	while (!stop && (rc = db_step(st)) == DB_ROW) {
		memset(&r, 0, sizeof(r));
		r.id = db_col_int64(st, 0);
		r.at = db_col_int64(st, 1);
		store_col_text(st, 2, r.actor, sizeof(r.actor));
		store_col_text(st, 3, r.action, sizeof(r.action));
		store_col_text(st, 4, r.object, sizeof(r.object));
		store_col_text(st, 5, r.before, sizeof(r.before));
		store_col_text(st, 6, r.after, sizeof(r.after));
		store_col_text(st, 7, r.detail, sizeof(r.detail));
		stop = fn(&r, arg);
	}
	db_reset(st);
	if (stop < 0)
		return -1;
	return stop || rc == DB_DONE ? 0 : -1;
}
