/*
 * store_webpw.c: the web_password table, phone web interface passwords per
 * tenant or per device, stored as given: already encrypted by the caller
 * (secret_encrypt).  It neither encrypts nor decides which row wins:
 * settings.c takes the device's row over the tenant's.
 */
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

int store_webpw_set(struct store *s, int64_t tenant_id, int64_t device_id, const char *role, const char *enc,
		    char *err, size_t errlen)
{
	struct dbst *st = *enc
		? store_stmt(s, "INSERT INTO web_password (tenant_id, device_id, role, password_enc) VALUES (?,?,?,?) "
				"ON CONFLICT (tenant_id, device_id, role) DO UPDATE SET password_enc = excluded.password_enc")
		: store_stmt(s, "DELETE FROM web_password WHERE tenant_id = ? AND device_id = ? AND role = ?");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	db_bind_int64(st, 1, tenant_id);
	db_bind_int64(st, 2, device_id);
	store_bind_text(st, 3, role);
	if (*enc)
		store_bind_text(st, 4, enc);
	if (store_exec_stmt(s, st, err, errlen) < 0)
		return -1;
	return db_changes(store_db(s)) > 0 ? 1 : 0;
}

int store_webpw_effective(struct store *s, int64_t tenant_id, int64_t device_id, const char *const role[2],
			 char enc[2][SP_WEBPW_ENC_MAX])
{
	/* The same rows, read ahead by MAC for a render (store_begin_render). */
	struct dbst *st = store_pre_webpw(s, tenant_id, device_id);
	enc[0][0] = enc[1][0] = '\0';
	if (!st) {
		if (!(st = store_stmt(s, "SELECT role, device_id, password_enc FROM web_password "
					 "WHERE (tenant_id = 0 AND device_id = ?1) OR (tenant_id = ?2 AND device_id = 0)")))
			return -1;
		db_bind_int64(st, 1, device_id);
		db_bind_int64(st, 2, tenant_id);
	}
	bool own[2] = { false, false };
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *r = (const char *)db_col_text(st, 0);
		int i = r && !strcmp(r, role[0]) ? 0 : r && !strcmp(r, role[1]) ? 1 : -1;
		bool dev = db_col_int64(st, 1) != 0;
		if (i < 0 || (own[i] && !dev))
			continue;       /* another role, or the tenant's under the device's own */
		store_col_text(st, 2, enc[i], SP_WEBPW_ENC_MAX);
		own[i] = dev;
	}
	/* as in every read: no statement left on a row (its snapshot) */
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}

int store_webpw_get(struct store *s, int64_t tenant_id, int64_t device_id, const char *role, char *enc, size_t n)
{
	struct dbst *st = store_stmt(s, "SELECT password_enc FROM web_password WHERE tenant_id = ? AND device_id = ? "
				      "AND role = ?");
	enc[0] = '\0';
	if (!st)
		return -1;
	db_bind_int64(st, 1, tenant_id);
	db_bind_int64(st, 2, device_id);
	store_bind_text(st, 3, role);
	int rc = db_step(st);
	if (rc == DB_ROW)
		store_col_text(st, 0, enc, n);
	/* now: a statement left on a row keeps its read snapshot open, and
	 * the daemon's connection would go on rendering stale data */
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}
