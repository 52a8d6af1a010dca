/*
 * store_validate.c: the SQLite lookups validation needs (swap suspects,
 * devices per SIP user) as single indexed queries, never a scan of the
 * tenant's accounts, because CSV import validates 100,000 rows in one
 * transaction.  Also a whole-table digest for tests and account deletion.
 * It decides nothing: validate.c turns the answers into errors.
 */
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

int store_validate_find(struct store *s, int64_t tenant_id, enum validate_find which, const char *value,
			const struct account *self, const char *mac, long *line, char other_mac[13])
{
	/* Two literals, so each gets its own cached statement and its own index. */
	static const char by_user[] =
		"SELECT a.line, d.mac FROM account a JOIN device d ON d.id = a.device_id "
		"WHERE a.username = ?1 AND d.tenant_id = ?2 AND a.id != ?3 "
		"AND NOT (?3 = 0 AND d.mac = ?4 AND a.line = ?5) "
		"AND NOT (a.username = ?6 AND a.auth_username = ?7) ORDER BY d.mac, a.line LIMIT 1";
	static const char by_auth[] =
		"SELECT a.line, d.mac FROM account a JOIN device d ON d.id = a.device_id "
		"WHERE a.auth_username = ?1 AND d.tenant_id = ?2 AND a.id != ?3 "
		"AND NOT (?3 = 0 AND d.mac = ?4 AND a.line = ?5) "
		"AND NOT (a.username = ?6 AND a.auth_username = ?7) ORDER BY d.mac, a.line LIMIT 1";
	struct dbst *st = store_stmt(s, which == VALIDATE_FIND_USERNAME ? by_user : by_auth);
	int rc;
	if (!st)
		return -1;
	store_bind_text(st, 1, value);
	db_bind_int64(st, 2, tenant_id);
	db_bind_int64(st, 3, self->id);
	store_bind_text(st, 4, mac);
	db_bind_int64(st, 5, self->line);
	store_bind_text(st, 6, self->username);
	store_bind_text(st, 7, self->auth_username);
	rc = db_step(st);
	if (rc == DB_ROW) {
		*line = db_col_int64(st, 0);
		store_col_text(st, 1, other_mac, SP_MAC_LEN + 1);
		db_reset(st);
		return 1;
	}
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}

int store_validate_user_devices(struct store *s, int64_t tenant_id, const char *username, const char *mac,
				long *n)
{
	struct dbst *st = store_stmt(s, "SELECT count(DISTINCT a.device_id) FROM account a "
				      "JOIN device d ON d.id = a.device_id "
				      "WHERE a.username = ? AND d.tenant_id = ? AND d.mac != ?");
	int rc;
	*n = 0;
	if (!st)
		return -1;
	store_bind_text(st, 1, username);
	db_bind_int64(st, 2, tenant_id);
	store_bind_text(st, 3, mac);
	rc = db_step(st);
	if (rc == DB_ROW)
		*n = db_col_int64(st, 0);
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}
