/*
 * store_bulk.c: the SQL behind bulk operations: account by line, the tenant
 * move update, the last registered Contact of a device, drifted devices,
 * and reprovision jobs (job, job_item).  Prepared statements only.  It
 * makes no decisions: bulk.c and the CLI decide what to write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

int store_bulk_cache(struct store *s)
{
	/* A 100,000-row transaction dirties far more pages than the default
	 * 2 MiB cache holds; spilling rewrites the same pages into the WAL
	 * again and again.  256 MiB (allocated only as used) keeps them in
	 * memory until the commit. */
	if (db_kind(store_db(s)) == DB_PG)
		return 0;   /* PostgreSQL's cache is the server's shared_buffers */
	struct dbst *st = store_stmt(s, "PRAGMA cache_size = -262144");
	return st ? store_exec_stmt(s, st, NULL, 0) : -1;
}

int store_bulk_move(struct store *s, int64_t tenant_id, const char *template_name, long *n,
		    char *err, size_t errlen)
{
	struct dbst *st = store_stmt(s, "UPDATE device SET template = ?, pinned_version = 0 WHERE tenant_id = ?");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	store_bind_text(st, 1, template_name);
	db_bind_int64(st, 2, tenant_id);
	if (store_exec_stmt(s, st, err, errlen) < 0)
		return -1;
	*n = db_changes(store_db(s));
	return 0;
}

int store_registration_contact(struct store *s, int64_t device_id, char *contact, size_t size, int64_t *at)
{
	struct dbst *st = store_stmt(s, "SELECT contact, at FROM registration WHERE device_id = ? AND "
				      "code = 200 AND contact <> '' ORDER BY at DESC, id DESC LIMIT 1");
	int rc;
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	rc = db_step(st);
	if (rc == DB_ROW) {
		store_col_text(st, 0, contact, size);
		if (at)
			*at = db_col_int64(st, 1);
	}
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_drifted_each(struct store *s, int64_t tenant_id, int (*fn)(const struct device *, void *), void *arg)
{
	/* Not cached: fn may call back into the store. */
	struct dbst *st;
	struct device *d = xmalloc(sizeof(*d));
	int rc;
	if (!(st = db_prepare(store_db(s), "SELECT DISTINCT d.id FROM device d JOIN drift_event e ON "
			      "e.device_id = d.id WHERE e.resolved = 0 AND (?1 = 0 OR d.tenant_id = ?1) "
			      "ORDER BY d.mac", false))) {
		free(d);
		return -1;
	}
	db_bind_int64(st, 1, tenant_id);
	while ((rc = db_step(st)) == DB_ROW) {
		if (store_device_get_id(s, db_col_int64(st, 0), d) == 1 && fn(d, arg))
			break;
	}
	db_finalize(st);
	free(d);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int64_t store_job_new(struct store *s, const char *kind, const char *params)
{
	struct dbst *st = store_stmt(s, "INSERT INTO job (kind, created, params) VALUES (?,?,?)");
	if (!st)
		return -1;
	store_bind_text(st, 1, kind);
	db_bind_int64(st, 2, sp_now());
	store_bind_text(st, 3, params ? params : "{}");
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	return db_last_id(store_db(s));
}

int store_job_get(struct store *s, int64_t id, char *kind, size_t kindlen, char *params, size_t plen)
{
	struct dbst *st = store_stmt(s, "SELECT kind, params FROM job WHERE id = ?");
	int rc;
	if (!st)
		return -1;
	db_bind_int64(st, 1, id);
	rc = db_step(st);
	if (rc == DB_ROW) {
		store_col_text(st, 0, kind, kindlen);
		store_col_text(st, 1, params, plen);
	}
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_job_item_set(struct store *s, int64_t job, int64_t device_id, const char *result, const char *detail)
{
	struct dbst *st = store_stmt(s, "INSERT INTO job_item (job_id, device_id, result, detail, at) "
				      "VALUES (?,?,?,?,?) ON CONFLICT (job_id, device_id) DO UPDATE SET "
				      "result = excluded.result, detail = excluded.detail, at = excluded.at");
	if (!st)
		return -1;
	db_bind_int64(st, 1, job);
	db_bind_int64(st, 2, device_id);
	store_bind_text(st, 3, result);
	store_bind_text(st, 4, detail ? detail : "");
	db_bind_int64(st, 5, sp_now());
	return store_exec_stmt(s, st, NULL, 0);
}

int store_job_item_each(struct store *s, int64_t job, bool only_failed,
			int (*fn)(int64_t device_id, const char *result, const char *detail, void *), void *arg)
{
	struct dbst *st;
	int rc;
	char result[32], detail[SP_FIELD_MAX];
	if (!(st = db_prepare(store_db(s), "SELECT i.device_id, i.result, i.detail FROM job_item i JOIN device d "
			      "ON d.id = i.device_id WHERE i.job_id = ?1 AND (?2 = 0 OR i.result <> '200') "
			      "ORDER BY d.mac", false)))
		return -1;
	db_bind_int64(st, 1, job);
	db_bind_int64(st, 2, only_failed);
	while ((rc = db_step(st)) == DB_ROW) {
		store_col_text(st, 1, result, sizeof(result));
		store_col_text(st, 2, detail, sizeof(detail));
		if (fn(db_col_int64(st, 0), result, detail, arg))
			break;
	}
	db_finalize(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_job_finish(struct store *s, int64_t job)
{
	struct dbst *st = store_stmt(s, "UPDATE job SET finished = ? WHERE id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, sp_now());
	db_bind_int64(st, 2, job);
	return store_exec_stmt(s, st, NULL, 0);
}
