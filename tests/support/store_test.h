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
/* A database as a version before schema 005 left it: the migrations up
 * to and including 'upto' applied from schema/, recorded as store_open
 * records them, then sql run (legacy rows, written as the old code wrote
 * them).  0 or -1 with err. */
int store_test_legacy(const char *path, int upto, const char *sql, char *err, size_t errlen);
/* The first column of the first row of sql as text into out ("" for NULL):
 * 1 a row, 0 none, -1 error.  For looking at raw stored values. */
int store_test_text(struct store *s, const char *sql, char *out, size_t outlen);
#endif
