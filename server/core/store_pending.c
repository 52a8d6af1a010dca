/*
 * store_pending.c: the pending_device table: phones refused because no
 * one has entered them, kept so an admin can see and claim them.  Caps
 * and rates are the daemon's (daemon/pending.c); this file only reads and
 * writes rows.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

#define PD_COLS "mac, layout, path, user_agent, vendor, model, firmware, source_ip, first_seen, last_seen, count"

static void pd_row(struct dbst *st, void *elem)
{
	struct pending_dev *p = elem;
	store_col_text(st, 0, p->mac, sizeof(p->mac));
	store_col_text(st, 1, p->layout, sizeof(p->layout));
	store_col_client(st, 2, p->path, sizeof(p->path));
	store_col_client(st, 3, p->user_agent, sizeof(p->user_agent));
	store_col_client(st, 4, p->vendor, sizeof(p->vendor));
	store_col_client(st, 5, p->model, sizeof(p->model));
	store_col_client(st, 6, p->firmware, sizeof(p->firmware));
	store_col_text(st, 7, p->source_ip, sizeof(p->source_ip));
	p->first_seen = db_col_int64(st, 8);
	p->last_seen = db_col_int64(st, 9);
	p->count = (long)db_col_int64(st, 10);
}

/* ?1..?11 in PD_COLS order. */
static void pd_bind(struct dbst *st, const struct pending_dev *p)
{
	store_bind_text(st, 1, p->mac);
	store_bind_text(st, 2, p->layout);
	store_bind_text(st, 3, p->path);
	store_bind_text(st, 4, p->user_agent);
	store_bind_text(st, 5, p->vendor);
	store_bind_text(st, 6, p->model);
	store_bind_text(st, 7, p->firmware);
	store_bind_text(st, 8, p->source_ip);
	db_bind_int64(st, 9, p->first_seen);
	db_bind_int64(st, 10, p->last_seen);
	db_bind_int64(st, 11, p->count);
}

int store_pending_touch(struct store *s, const struct pending_dev *p)
{
	/* A User-Agent that names no vendor (curl, a proxy's) does not wipe
	 * what an earlier one told us. */
	struct dbst *st = store_stmt(s, "UPDATE pending_device SET layout = ?2, path = ?3, "
				      "user_agent = CASE WHEN ?5 <> '' OR vendor = '' THEN ?4 ELSE user_agent END, "
				      "model = CASE WHEN ?5 <> '' THEN ?6 ELSE model END, "
				      "firmware = CASE WHEN ?5 <> '' THEN ?7 ELSE firmware END, "
				      "vendor = CASE WHEN ?5 <> '' THEN ?5 ELSE vendor END, source_ip = ?8, "
				      "last_seen = max(last_seen, ?10), count = count + ?11 WHERE mac = ?1");
	if (!st)
		return -1;
	pd_bind(st, p);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	return db_changes(store_db(s)) > 0;
}

int store_pending_insert(struct store *s, const struct pending_dev *p)
{
	struct dbst *st = store_stmt(s, "INSERT INTO pending_device (" PD_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, "
				      "?7, ?8, ?9, ?10, ?11 WHERE NOT EXISTS (SELECT 1 FROM device WHERE mac = ?1) "
				      "ON CONFLICT (mac) DO NOTHING");
	if (!st)
		return -1;
	pd_bind(st, p);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	return db_changes(store_db(s)) > 0;
}

int store_pending_count(struct store *s, long *n)
{
	struct dbst *st = store_stmt(s, "SELECT count(*) FROM pending_device");
	if (!st)
		return -1;
	int rc = db_step(st);
	*n = rc == DB_ROW ? (long)db_col_int64(st, 0) : 0;
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}

int store_pending_get(struct store *s, const char *mac, struct pending_dev *p)
{
	struct dbst *st = store_stmt(s, "SELECT " PD_COLS " FROM pending_device WHERE mac = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, mac);
	int rc = db_step(st);
	if (rc == DB_ROW)
		pd_row(st, p);
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_pending_list(struct store *s, struct pending_dev **out, size_t *n)
{
	struct dbst *st = store_stmt(s, "SELECT " PD_COLS " FROM pending_device ORDER BY last_seen DESC, mac");
	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	void *rows;
	int rc = store_rows(st, sizeof(**out), pd_row, &rows, n);
	*out = rows;
	return rc;
}

int store_pending_page(struct store *s, long offset, long limit, struct pending_dev **out, size_t *n)
{
	struct dbst *st = store_stmt(s, "SELECT " PD_COLS " FROM pending_device ORDER BY last_seen DESC, mac "
				      "LIMIT ?1 OFFSET ?2");
	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, limit);
	db_bind_int64(st, 2, offset);
	void *rows;
	int rc = store_rows(st, sizeof(**out), pd_row, &rows, n);
	*out = rows;
	return rc;
}

int store_pending_rm(struct store *s, const char *mac)
{
	struct dbst *st = store_stmt(s, "DELETE FROM pending_device WHERE mac = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, mac);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	return db_changes(store_db(s)) > 0;
}
