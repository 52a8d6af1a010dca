/*
 * store_test.c: store functions only tests use (linked into test binaries
 * through libsipprov-test.a, never into sipprovd or the CLI).
 */
#include <sqlite3.h>
#include "core/store_int.h"
#include "support/store_test.h"

int store_validate_digest(struct store *s, char out[65])
{
	static const char *const tables[] = {
		"SELECT * FROM tenant ORDER BY id", "SELECT * FROM template ORDER BY id",
		"SELECT * FROM template_version ORDER BY id", "SELECT * FROM device ORDER BY id",
		"SELECT * FROM account ORDER BY id", "SELECT * FROM audit_log ORDER BY id",
	};
	struct buf b;
	int rc = 0;
	buf_init(&b, 64u * 1024 * 1024);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]) && rc == 0; t++) {
		sqlite3_stmt *st = store_stmt(s, tables[t]);
		int step;
		if (!st)
			return buf_release(&b), -1;
		buf_printf(&b, "#%zu\n", t);
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			for (int i = 0; i < sqlite3_column_count(st); i++) {
				const unsigned char *v = sqlite3_column_text(st, i);
				buf_printf(&b, "%d:%s\x1f", sqlite3_column_type(st, i), v ? (const char *)v : "");
			}
			buf_adds(&b, "\n");
		}
		if (step != SQLITE_DONE)
			rc = -1;
		sqlite3_reset(st);
	}
	if (rc == 0 && !b.overflow)
		sha256_hex(b.data ? b.data : "", b.len, out);
	else
		rc = -1;
	buf_release(&b);
	return rc;
}

int store_tversion_tamper(struct store *s, int64_t version_id, const char *settings, char *err, size_t errlen)
{
	sqlite3_stmt *st = store_stmt(s, "UPDATE template_version SET settings = ? WHERE id = ?");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	store_bind_text(st, 1, settings);
	sqlite3_bind_int64(st, 2, version_id);
	return store_exec_stmt(s, st, err, errlen);
}
