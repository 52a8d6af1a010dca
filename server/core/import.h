/*
 * import.h: CSV import and export of a tenant (core/import.c), shared by
 * `sipprov import|export` and the admin API's /import and /export.
 */
#ifndef SP_IMPORT_H
#define SP_IMPORT_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct store;
struct tenant;
struct layouts;

/* ---- import ---- */

/*
 * Import semantics (documented for users in `sipprov import --help`):
 *  - columns: mac, layout, model, label, template, line, display_name,
 *    extension, username, auth_username, password (mac, layout, line,
 *    username, auth_username, password are required columns), token
 *    (optional: a softphone URL token to keep; empty = keep or generate),
 *    plus any setting key (registrar, port, vendor.x, ...) as an override.
 *  - one row per line; a device's rows must agree on every device column.
 *    A row whose account columns are all empty declares a device only.
 *  - a device new to the database is created; a device already in this
 *    tenant is updated: layout, model, label, template (a changed template
 *    drops a version pin) are set from the file, override columns set
 *    those keys (an empty cell removes the key, keys without a column are
 *    kept); lines in the file are added or replaced, other lines are kept.
 *    A device of another tenant is an error.
 *  - an empty password keeps an existing account's password (what an
 *    export without --show-secrets gives) and is an error for a new one.
 *  - every row is validated (the same rules as `device add` / `account
 *    add`, username/auth-username swaps against the database and the
 *    earlier rows of the file, then every touched device's effective
 *    config); any error and nothing is written.
 */
struct bulk_import_opts {
	bool dry_run;
	bool force;                         /* let transport/port contradictions through */
	const char *actor;
	const unsigned char *key;           /* AES key: passwords are encrypted */
	const struct layouts *layouts;
	size_t max_errors;                  /* stop reporting after this many (0 = 1000) */
	/* Called every few thousand rows with bytes read so far. */
	void (*progress)(long long done, void *arg);
	/* Called once per error, message "row R (line L), column 'c': ...". */
	void (*on_error)(const char *msg, void *arg);
	/* The same error as data: row (0 = the file as a whole), column
	 * (NULL = the row as a whole), the message without that prefix. */
	void (*on_row_error)(long row, const char *column, const char *msg, void *arg);
	/* Give every device of the file new HTTP digest credentials. */
	bool generate_credentials;
	/* Not on a dry run, inside the transaction after every row is written,
	 * in file order: each device of the file, with its new password when
	 * generate_credentials (else NULL; wiped after the call). */
	void (*on_device)(const char *mac, const char *password, void *arg);
	/* Not on a dry run: last, inside the transaction (reads see the
	 * import); nonzero rolls everything back (err from its message). */
	int (*before_commit)(struct store *s, void *arg, char *err, size_t errlen);
	void *arg;
};
struct bulk_import_result {
	long rows;                          /* data rows read */
	long devices_new, devices_updated;
	long accounts_new, accounts_updated;
	long errors;
};
/* Import CSV from f into tenant t.  Returns 0 (written, or valid on a dry
 * run), 1 (row errors reported through on_error: nothing written), or -1
 * (database or I/O failure, err says why: nothing written). */
int bulk_import(struct store *s, const struct tenant *t, FILE *f, const struct bulk_import_opts *o,
		struct bulk_import_result *r, char *err, size_t errlen);

/* ---- export ---- */

/* Write tenant t as import CSV to out (CRLF line ends, header first).
 * key non-NULL: passwords are decrypted into the password column and
 * unrevoked softphone tokens fill the token column; NULL: both are empty.  Returns the number of devices, or -1 with err. */
long bulk_export(struct store *s, const struct tenant *t, const unsigned char *key, FILE *out,
		 char *err, size_t errlen);

#endif
