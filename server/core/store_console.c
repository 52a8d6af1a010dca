/*
 * store_console.c: read-only queries only the web console needs: a
 * device's recent fetches (its timeline) and a tenant's fetches per time
 * bucket (the overview's chart).  It writes nothing and decides nothing.
 */
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

int store_fetch_recent(struct store *s, int64_t device_id, struct diag_fetch *out, size_t max, size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT at, ip, user_agent, path, status, version FROM fetch_log "
				      "WHERE device_id = ? ORDER BY at DESC, id DESC LIMIT ?");
	int rc;
	*n = 0;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct diag_fetch *f = &out[(*n)++];
		memset(f, 0, sizeof(*f));
		f->at = sqlite3_column_int64(st, 0);
		store_col_text(st, 1, f->ip, sizeof(f->ip));
		store_col_text(st, 2, f->user_agent, sizeof(f->user_agent));
		store_col_text(st, 3, f->path, sizeof(f->path));
		f->status = sqlite3_column_int64(st, 4);
		f->version = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int buckets(sqlite3_stmt *st, int64_t tenant_id, int64_t since, long bucket_s,
		   void (*fn)(int64_t start, long a, long b, void *), void *arg)
{
	int rc;
	if (!st || bucket_s <= 0)
		return -1;
	sqlite3_bind_int64(st, 1, tenant_id);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int64(st, 3, bucket_s);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(since + sqlite3_column_int64(st, 0) * bucket_s, (long)sqlite3_column_int64(st, 1),
		   (long)sqlite3_column_int64(st, 2), arg);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_fetch_buckets(struct store *s, int64_t tenant_id, int64_t since, long bucket_s,
			void (*fn)(int64_t start, long served, long failed, void *), void *arg)
{
	return buckets(store_stmt(s, "SELECT (f.at - ?2) / ?3, sum(f.status BETWEEN 200 AND 399), "
				     "sum(f.status NOT BETWEEN 200 AND 399) FROM fetch_log f "
				     "JOIN device d ON d.id = f.device_id "
				     "WHERE f.at >= ?2 AND (?1 = 0 OR d.tenant_id = ?1) GROUP BY 1 ORDER BY 1"),
		       tenant_id, since, bucket_s, fn, arg);
}

int store_registration_buckets(struct store *s, int64_t tenant_id, int64_t since, long bucket_s,
			       void (*fn)(int64_t start, long registered, long failed, void *), void *arg)
{
	return buckets(store_stmt(s, "SELECT (r.at - ?2) / ?3, sum(r.code BETWEEN 200 AND 299), "
				     "sum(r.code = 0 OR (r.code >= 300 AND r.code NOT IN (401, 407))) "
				     "FROM registration r JOIN device d ON d.id = r.device_id "
				     "WHERE r.at >= ?2 AND (?1 = 0 OR d.tenant_id = ?1) GROUP BY 1 ORDER BY 1"),
		       tenant_id, since, bucket_s, fn, arg);
}
