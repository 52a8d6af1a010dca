/*
 * store_idem.c: the api_idempotency table (schema 018): the first answer
 * to an Idempotency-Key, stored sealed by the caller, kept SP_IDEM_TTL
 * seconds.  It does not decide what a replay means (api_import.c does).
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

int store_idem_get(struct store *s, const char *token_name, const char *key, char body_sha256[65], long *status,
		   char **answer_enc)
{
	struct dbst *st = store_stmt(s, "SELECT body_sha256, status, answer_enc FROM api_idempotency "
				      "WHERE token_name = ? AND idem_key = ? AND created >= ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, token_name);
	store_bind_text(st, 2, key);
	db_bind_int64(st, 3, sp_now() - SP_IDEM_TTL);
	int rc = db_step(st);
	if (rc == DB_ROW) {
		store_col_text(st, 0, body_sha256, 65);
		*status = (long)db_col_int64(st, 1);
		*answer_enc = xstrdup(db_col_text(st, 2));
	}
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_idem_put(struct store *s, const char *token_name, const char *key, const char *body_sha256, long status,
		   const char *answer_enc)
{
	struct dbst *st = store_stmt(s, "DELETE FROM api_idempotency WHERE created < ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, sp_now() - SP_IDEM_TTL);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	st = store_stmt(s, "INSERT INTO api_idempotency (token_name, idem_key, body_sha256, status, "
				      "answer_enc, created) VALUES (?, ?, ?, ?, ?, ?)");
	if (!st)
		return -1;
	store_bind_text(st, 1, token_name);
	store_bind_text(st, 2, key);
	store_bind_text(st, 3, body_sha256);
	db_bind_int64(st, 4, status);
	store_bind_text(st, 5, answer_enc);
	db_bind_int64(st, 6, sp_now());
	int rc = db_step(st);
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}
