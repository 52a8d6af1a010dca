/* store_test.h: test-only store helpers (tests/support/store_test.c). */
#ifndef SP_STORE_TEST_H
#define SP_STORE_TEST_H
#include <stdint.h>
#include <stddef.h>
struct store;
/* SHA-256 over every row of tenant, template, template_version, device,
 * account and audit_log ("the database is unchanged").  0 or -1. */
int store_validate_digest(struct store *s, char out[65]);
/* Try to rewrite a stored version in place; the schema's trigger must
 * refuse it (tests prove immutability with this).  0 or -1 with err. */
int store_tversion_tamper(struct store *s, int64_t version_id, const char *settings, char *err, size_t errlen);
/* Run SQL on the store's connection behind every check (legacy rows a
 * past version could have written).  0 or -1 with err. */
int store_test_exec(struct store *s, const char *sql, char *err, size_t errlen);
/* Create a database file at path with the schema migrations up to number
 * 'upto' applied and recorded, as an older sipprov left it, then the SQL
 * 'then' (may be NULL: rows that version wrote); store_open runs the
 * rest.  0 or -1 with err. */
int store_test_create_at(const char *path, int upto, const char *then, char *err, size_t errlen);
/* The first column of the first row of sql as text into out ("" for NULL):
 * 1 a row, 0 none, -1 error.  For looking at raw stored values. */
int store_test_text(struct store *s, const char *sql, char *out, size_t outlen);
#endif
