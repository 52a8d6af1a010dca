/*
 * store_job.c: the job rows the admin API queues and sipprovd's worker
 * runs (schema 022): queue, pick the next, start, requeue for a resume,
 * read one, list by tenant, count and page items.  The items themselves
 * are written by store_bulk.c's store_job_item_set; no policy here.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

int64_t store_job_queue(struct store *s, const char *kind, const char *params, int64_t tenant_id, const char *actor)
{
	struct dbst *st = store_stmt(s, "INSERT INTO job (kind, created, params, tenant_id, actor, queued) "
				      "VALUES (?,?,?,?,?,1)");
	if (!st)
		return -1;
	store_bind_text(st, 1, kind);
	db_bind_int64(st, 2, sp_now());
	store_bind_text(st, 3, params ? params : "{}");
	db_bind_int64(st, 4, tenant_id);
	store_bind_text(st, 5, actor ? actor : "");
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	return db_last_id(store_db(s));
}

#define JOB_COLS "id, kind, params, tenant_id, actor, queued, created, started, finished"

static void job_row(struct dbst *st, struct job_info *j)
{
	memset(j, 0, sizeof(*j));
	j->id = db_col_int64(st, 0);
	store_col_text(st, 1, j->kind, sizeof(j->kind));
	store_col_text(st, 2, j->params, sizeof(j->params));
	j->tenant_id = db_col_int64(st, 3);
	store_col_text(st, 4, j->actor, sizeof(j->actor));
	j->queued = db_col_int64(st, 5) != 0;
	j->created = db_col_int64(st, 6);
	j->started = db_col_int64(st, 7);
	j->finished = db_col_int64(st, 8);
}

int store_job_info(struct store *s, int64_t id, struct job_info *j)
{
	struct dbst *st = store_stmt(s, "SELECT " JOB_COLS " FROM job WHERE id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, id);
	int rc = db_step(st);
	if (rc == DB_ROW)
		job_row(st, j);
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_job_list(struct store *s, bool all, int64_t tenant_id, int64_t before_id,
		   int (*fn)(const struct job_info *, void *), void *arg)
{
	struct dbst *st;
	struct job_info *j = xmalloc(sizeof(*j));
	int rc;
	if (!(st = db_prepare(store_db(s), "SELECT " JOB_COLS " FROM job WHERE (?1 OR tenant_id = ?2) "
			      "AND (?3 = 0 OR id < ?3) ORDER BY id DESC", false))) {
		free(j);
		return -1;
	}
	db_bind_int64(st, 1, all);
	db_bind_int64(st, 2, tenant_id);
	db_bind_int64(st, 3, before_id);
	while ((rc = db_step(st)) == DB_ROW) {
		job_row(st, j);
		if (fn(j, arg))
			break;
	}
	db_finalize(st);
	free(j);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_job_next(struct store *s, int64_t *id)
{
	struct dbst *st = store_stmt(s, "SELECT id FROM job WHERE queued = 1 AND finished = 0 ORDER BY id LIMIT 1");
	if (!st)
		return -1;
	int rc = db_step(st);
	if (rc == DB_ROW)
		*id = db_col_int64(st, 0);
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_job_start(struct store *s, int64_t id)
{
	struct dbst *st = store_stmt(s, "UPDATE job SET started = ? WHERE id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, sp_now());
	db_bind_int64(st, 2, id);
	return store_exec_stmt(s, st, NULL, 0);
}

int store_job_requeue(struct store *s, int64_t id)
{
	struct dbst *st = store_stmt(s, "UPDATE job SET queued = 1, started = 0, finished = 0 "
				      "WHERE id = ? AND finished > 0");
	if (!st)
		return -1;
	db_bind_int64(st, 1, id);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	return db_changes(store_db(s)) == 1 ? 1 : 0;
}

int store_job_counts(struct store *s, int64_t id, void (*fn)(const char *result, long n, void *), void *arg)
{
	struct dbst *st = store_stmt(s, "SELECT result, count(*) FROM job_item WHERE job_id = ? GROUP BY result "
				      "ORDER BY result");
	char result[32];
	int rc;
	if (!st)
		return -1;
	db_bind_int64(st, 1, id);
	while ((rc = db_step(st)) == DB_ROW) {
		store_col_text(st, 0, result, sizeof(result));
		fn(result, (long)db_col_int64(st, 1), arg);
	}
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}

int store_job_items_page(struct store *s, int64_t id, const char *after_mac, long limit,
			 int (*fn)(const char *mac, const char *result, const char *detail, int64_t at, void *),
			 void *arg)
{
	struct dbst *st;
	char mac[16], result[32], detail[SP_FIELD_MAX];
	int rc;
	if (!(st = db_prepare(store_db(s), "SELECT d.mac, i.result, i.detail, i.at FROM job_item i JOIN device d "
			      "ON d.id = i.device_id WHERE i.job_id = ?1 AND d.mac > ?2 ORDER BY d.mac LIMIT ?3",
			      false)))
		return -1;
	db_bind_int64(st, 1, id);
	store_bind_text(st, 2, after_mac ? after_mac : "");
	db_bind_int64(st, 3, limit);
	while ((rc = db_step(st)) == DB_ROW) {
		store_col_text(st, 0, mac, sizeof(mac));
		store_col_text(st, 1, result, sizeof(result));
		store_col_text(st, 2, detail, sizeof(detail));
		if (fn(mac, result, detail, db_col_int64(st, 3), arg))
			break;
	}
	db_finalize(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}
