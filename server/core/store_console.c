/*
 * store_console.c: read-only queries only the web console needs: a
 * device's recent fetches (its timeline) and a tenant's fetches per time
 * bucket (the overview's chart).  It writes nothing and decides nothing.
 */
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

/* A device's newest fetches, ?2 at most, newest first.  SQLite walks the
 * device's chain from its newest row (schema 027: no index by device);
 * PostgreSQL reads its index fetch_log_device. */
const char FETCH_RECENT_SQLITE[] =
	"WITH RECURSIVE c(id, n) AS (SELECT fetched_log, 1 FROM device WHERE id = ?1 AND fetched_log > 0 "
	"UNION ALL SELECT f.prev, c.n + 1 FROM c JOIN fetch_log f ON f.id = c.id WHERE f.prev > 0 AND c.n < ?2) "
	"SELECT f.at, f.ip, f.user_agent, f.path, f.status, f.version FROM c JOIN fetch_log f ON f.id = c.id "
	"WHERE f.device_id = ?1 ORDER BY f.at DESC, f.id DESC LIMIT ?2";
const char FETCH_RECENT_PG[] = "SELECT at, ip, user_agent, path, status, version FROM fetch_log "
			       "WHERE device_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2";

int store_fetch_recent(struct store *s, int64_t device_id, struct diag_fetch *out, size_t max, size_t *n)
{
	struct dbst *st = store_stmt(s, store_url(s) ? FETCH_RECENT_PG : FETCH_RECENT_SQLITE);
	int rc;
	*n = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	db_bind_int64(st, 2, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max) {
		struct diag_fetch *f = &out[(*n)++];
		memset(f, 0, sizeof(*f));
		f->at = db_col_int64(st, 0);
		store_col_client(st, 1, f->ip, sizeof(f->ip));
		store_col_client(st, 2, f->user_agent, sizeof(f->user_agent));
		store_col_client(st, 3, f->path, sizeof(f->path));
		f->status = db_col_int64(st, 4);
		f->version = db_col_int64(st, 5);
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

static int buckets(struct dbst *st, int64_t tenant_id, int64_t since, long bucket_s,
		   void (*fn)(int64_t start, long a, long b, void *), void *arg)
{
	int rc;
	if (!st || bucket_s <= 0)
		return -1;
	db_bind_int64(st, 1, tenant_id);
	db_bind_int64(st, 2, since);
	db_bind_int64(st, 3, bucket_s);
	while ((rc = db_step(st)) == DB_ROW)
		fn(since + db_col_int64(st, 0) * bucket_s, (long)db_col_int64(st, 1),
		   (long)db_col_int64(st, 2), arg);
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}

int store_fetch_buckets(struct store *s, int64_t tenant_id, int64_t since, long bucket_s,
			void (*fn)(int64_t start, long served, long failed, void *), void *arg)
{
	return buckets(store_stmt(s, "SELECT (f.at - ?2) / ?3, sum(f.status BETWEEN 200 AND 399), "
				     "sum(f.status NOT BETWEEN 200 AND 399) FROM fetch_log f "
				     "JOIN device d ON d.id = f.device_id AND f.at >= d.created "
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
