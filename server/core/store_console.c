/*
 * store_console.c: read-only queries only the web console needs: a
 * tenant's fetches and registrations per time bucket (the overview's
 * charts).  It writes nothing and decides nothing.
 */
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

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
