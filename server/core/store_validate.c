/*
 * store_validate.c: the lookups validation needs (swap suspects,
 * devices per SIP user) as indexed queries, never a scan of the tenant's
 * accounts, and all in one round trip, because CSV import validates
 * 100,000 rows in one transaction.  It decides nothing: validate.c turns
 * the answers into errors.
 */
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

/* Two literals, so each gets its own cached statement and its own index. */
static const char BY_USER[] =
	"SELECT a.line, d.mac FROM account a JOIN device d ON d.id = a.device_id "
	"WHERE a.username = ?1 AND d.tenant_id = ?2 AND a.id != ?3 "
	"AND NOT (?3 = 0 AND d.mac = ?4 AND a.line = ?5) "
	"AND NOT (a.username = ?6 AND a.auth_username = ?7) ORDER BY d.mac, a.line LIMIT 1";
static const char BY_AUTH[] =
	"SELECT a.line, d.mac FROM account a JOIN device d ON d.id = a.device_id "
	"WHERE a.auth_username = ?1 AND d.tenant_id = ?2 AND a.id != ?3 "
	"AND NOT (?3 = 0 AND d.mac = ?4 AND a.line = ?5) "
	"AND NOT (a.username = ?6 AND a.auth_username = ?7) ORDER BY d.mac, a.line LIMIT 1";
static const char USER_DEVICES[] =
	"SELECT count(DISTINCT a.device_id) FROM account a JOIN device d ON d.id = a.device_id "
	"WHERE a.username = ? AND d.tenant_id = ? AND d.mac != ?";

static void find_bind(struct dbst *st, const char *value, int64_t tenant_id, const struct account *self,
		      const char *mac)
{
	store_bind_text(st, 1, value);
	db_bind_int64(st, 2, tenant_id);
	db_bind_int64(st, 3, self->id);
	store_bind_text(st, 4, mac);
	db_bind_int64(st, 5, self->line);
	store_bind_text(st, 6, self->username);
	store_bind_text(st, 7, self->auth_username);
}

/* A find's row, if any, into o: 0 or -1. */
static int find_read(struct dbst *st, struct validate_other *o)
{
	int rc = db_step(st);
	o->found = rc == DB_ROW;
	if (o->found) {
		o->line = db_col_int64(st, 0);
		store_col_text(st, 1, o->mac, sizeof(o->mac));
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_validate_others(struct store *s, int64_t tenant_id, const struct account *self, const char *mac,
			  struct validate_other o[2], long *devices)
{
	/* Each statement binds the row alone, none another's answer: one
	 * round trip on PostgreSQL (an import asks this for every line). */
	struct dbst *st[3] = { store_stmt(s, BY_USER), store_stmt(s, BY_AUTH),
			       devices ? store_stmt(s, USER_DEVICES) : NULL };
	int n = devices ? 3 : 2, rc = 0;
	for (int i = 0; i < n; i++)
		if (!st[i])
			return -1;
	find_bind(st[0], self->auth_username, tenant_id, self, mac);
	find_bind(st[1], self->username, tenant_id, self, mac);
	if (devices) {
		*devices = 0;
		store_bind_text(st[2], 1, self->username);
		db_bind_int64(st[2], 2, tenant_id);
		store_bind_text(st[2], 3, mac);
	}
	if (db_pipeline(store_db(s), st, n) != DB_DONE)
		return -1;      /* none keeps a result (db.h) */
	rc |= find_read(st[0], &o[0]);
	rc |= find_read(st[1], &o[1]);
	if (devices) {
		if (db_step(st[2]) == DB_ROW)
			*devices = db_col_int64(st[2], 0);
		else
			rc = -1;
		db_reset(st[2]);
	}
	return rc;
}
