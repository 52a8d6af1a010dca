/*
 * store_contact.c: the contact table, a tenant's phonebook.  Rows are
 * checked by phonebook.c before they get here (text, number characters,
 * lengths); this file only reads and writes them.  It renders nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

#define CT_COLS "id, tenant_id, name, office, mobile, other, grp, added"

static void ct_row(struct dbst *st, void *elem)
{
	struct contact *c = elem;
	c->id = db_col_int64(st, 0);
	c->tenant_id = db_col_int64(st, 1);
	store_col_text(st, 2, c->name, sizeof(c->name));
	store_col_text(st, 3, c->office, sizeof(c->office));
	store_col_text(st, 4, c->mobile, sizeof(c->mobile));
	store_col_text(st, 5, c->other, sizeof(c->other));
	store_col_text(st, 6, c->group, sizeof(c->group));
	c->added = db_col_int64(st, 7);
}

int store_contact_add(struct store *s, struct contact *c, char *err, size_t errlen)
{
	struct dbst *st = store_stmt(s, "INSERT INTO contact (tenant_id, name, office, mobile, other, grp, added) "
				      "VALUES (?,?,?,?,?,?,?) ON CONFLICT (tenant_id, name, office) DO NOTHING");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	c->added = sp_now();
	db_bind_int64(st, 1, c->tenant_id);
	store_bind_text(st, 2, c->name);
	store_bind_text(st, 3, c->office);
	store_bind_text(st, 4, c->mobile);
	store_bind_text(st, 5, c->other);
	store_bind_text(st, 6, c->group);
	db_bind_int64(st, 7, c->added);
	if (store_exec_stmt(s, st, err, errlen) < 0)
		return -1;
	if (db_changes(store_db(s)) == 0) {
		sp_err(err, errlen, "contact '%s' with number '%s' already exists", c->name, c->office);
		return 0;
	}
	c->id = db_last_id(store_db(s));
	return 1;
}

int store_contact_list(struct store *s, int64_t tenant_id, struct contact **out, size_t *n)
{
	struct dbst *st = store_stmt(s, "SELECT " CT_COLS " FROM contact WHERE tenant_id = ? ORDER BY name, office");
	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, tenant_id);
	void *rows;
	int rc = store_rows(st, sizeof(**out), ct_row, &rows, n);
	*out = rows;
	return rc;
}

int store_contact_count(struct store *s, int64_t tenant_id, long *n)
{
	struct dbst *st = store_stmt(s, "SELECT count(*) FROM contact WHERE tenant_id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, tenant_id);
	int rc = db_step(st);
	*n = rc == DB_ROW ? (long)db_col_int64(st, 0) : -1;
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}

int store_contact_rm(struct store *s, int64_t tenant_id, const char *name, long *n)
{
	struct dbst *st = store_stmt(s, "DELETE FROM contact WHERE tenant_id = ? AND name = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, tenant_id);
	store_bind_text(st, 2, name);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	*n = (long)db_changes(store_db(s));
	return 0;
}
