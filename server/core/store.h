/*
 * store.h: every store_* function, whatever file defines it (store.c and
 * store_*.c, which reach the database through db.h), and the row structs
 * they fill.  Part of the core layer's API; include "core/sipprov.h".
 */
#ifndef SP_STORE_H
#define SP_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRIFT_STR 256

/* ---- store.c (+ store_*.c): the database through db.h's drivers ---- */

struct schema_migration { int number; const char *name; const char *sql; };
extern const struct schema_migration schema_migrations[];
extern const size_t schema_migration_count;

struct store;   /* one SQLite connection, WAL, lock wait, statement cache */

struct tenant {
	int64_t id;
	char slug[SP_SLUG_MAX];
	char name[SP_NAME_MAX];
	char status[16];                    /* active | suspended */
	char device_auth[64];               /* comma list: none,digest,mtls,token */
	char allow_cidrs[512];
	char username_pattern[SP_NAME_MAX];
	char auth_username_pattern[SP_NAME_MAX];
	long max_per_user;
	char default_template[SP_SLUG_MAX];
	char defaults[SP_JSON_MAX];         /* settings JSON */
};

struct tversion {                       /* one immutable template version */
	int64_t id;
	int64_t template_id;
	char tenant[SP_SLUG_MAX];
	char name[SP_SLUG_MAX];
	long number;
	char settings[SP_JSON_MAX];         /* canonical JSON */
	char sha256[65];
	char author[SP_NAME_MAX];
	char comment[SP_FIELD_MAX];
	int64_t created;
};

struct device {
	int64_t id;
	char mac[SP_MAC_LEN + 1];
	int64_t tenant_id;
	char layout[32];
	char model[SP_NAME_MAX];
	char label[SP_NAME_MAX];
	char template_name[SP_SLUG_MAX];    /* "" = tenant default */
	long pinned_version;                /* 0 = current */
	char status[16];                    /* active | disabled */
	char http_user[SP_SLUG_MAX];
	/* HA1 hex, in memory only: filled on read when the store has the key,
	 * sealed into ha1_enc on write (""/"" keeps the stored ha1_enc). */
	char ha1_md5[33];
	char ha1_sha256[65];
	char ha1_enc[192];                  /* as stored: AES-256-GCM; "" = no credentials */
	char overrides[SP_JSON_MAX];
	int64_t fetched_at;
	char fetched_ip[64];
	char fetched_ua[SP_FIELD_MAX];
	long fetched_version;
	char fetched_digest[65];
};

struct account {
	int64_t id;
	int64_t device_id;
	long line;
	char display_name[SP_NAME_MAX];
	char extension[64];
	char username[SP_NAME_MAX];
	char auth_username[SP_NAME_MAX];
	char password[SP_NAME_MAX];         /* plaintext in memory only; "" if not loaded */
	char password_enc[512];
	/* The softphone token in memory only: filled on read when the store has
	 * the key; a token set here is sealed on write (hash + ciphertext). */
	char token[SP_TOKEN_HEX + 1];       /* "" = none (or no key) */
	char token_hash[65];                /* as stored: HMAC-SHA256 hex; "" = no token */
	char token_enc[96];                 /* as stored: AES-256-GCM */
	bool token_revoked;
	long last_code;
	int64_t last_code_at;
};

/* Open path read-write.  A missing or empty file becomes a new database
 * at this binary's schema (":memory:" works); an existing one is used only
 * at exactly this binary's schema: behind it, err says "run 'sipprov
 * migrate'"; newer, err names both versions.  NULL with err filled. */
struct store *store_open(const char *path, char *err, size_t errlen);
/* Open an existing database without creating it, migrating it or looking
 * at its schema (store_schema does).  readonly creates nothing at all, not
 * even -wal/-shm (sipprovd -n); else read-write in WAL mode.  NULL with err
 * ("no database at ..."). */
struct store *store_open_raw(const char *path, bool readonly, char *err, size_t errlen);
/* A PostgreSQL standby of the store's database, for reads only (issue 17,
 * sipprovd's database_replica): refused when its schema is not exactly
 * this binary's (it is never migrated from here), when it is empty, and
 * when key is not the database's key (checked read-only, store_key_verify);
 * opened with default_transaction_read_only and the key, so device and
 * account reads open their secrets as on the primary.  Whether it has
 * reached a generation is the caller's to check (store_config_gen inside
 * store_begin_read).  A lost connection is not store_reconnect'ed: close
 * it and open another.  NULL with err naming the URL without its password. */
struct store *store_open_replica(const char *url, const unsigned char key[SP_KEY_LEN], char *err, size_t errlen);
/* Is key the database's key?  Read-only: against the key check value, or
 * without one by opening a stored password; a database holding neither
 * cannot tell and passes.  0, or -1 with err ("does not match ..."). */
int store_key_verify(struct store *s, const unsigned char key[SP_KEY_LEN], char *err, size_t errlen);
void store_close(struct store *s);      /* accepts NULL */
/* Waiting for another writer's lock.  Every statement that needs a lock
 * held elsewhere retries (sleeping 1 ms growing to 100 ms) for up to
 * limit_ms, then fails with SQLITE_BUSY.  fn (may be NULL) hears
 * STORE_WAIT_SLOW once per connection when a wait passes 300 ms, and
 * STORE_WAIT_GAVE_UP each time the limit runs out.  store_open applies the
 * process default: 5000 ms and no fn unless store_lock_wait_default
 * changed it (call that before the first store_open).  On PostgreSQL the
 * server waits (lock_timeout) and fn hears of the writers' lock taken by
 * store_begin, the same two events. */
enum store_wait_event { STORE_WAIT_SLOW, STORE_WAIT_GAVE_UP };
typedef void (*store_wait_fn)(enum store_wait_event ev, int64_t waited_ms, void *arg);
void store_lock_wait(struct store *s, long limit_ms, store_wait_fn fn, void *arg);
void store_lock_wait_default(long limit_ms, store_wait_fn fn, void *arg);
/* Did the last failure come from a lock held by another connection
 * (SQLITE_BUSY or SQLITE_LOCKED), as opposed to I/O, a full disk or bad
 * SQL?  Ask right after the failing call. */
bool store_is_busy(struct store *s);
/* Was it the data that was refused (a UNIQUE, CHECK or foreign key, a
 * trigger's RAISE, a value the column cannot hold), not the database
 * (locked, lost, full, I/O)?  Asked after the failing call, or after the
 * store_rollback that followed it. */
bool store_refused(struct store *s);
/* Give the connection the key (copied; wiped at close).  First checks it:
 * against the key check value stored at the first keyed open (schema 005),
 * or, on a database from before it, by decrypting a stored password; a
 * wrong key is refused (-1, err says so; the caller names the key file).
 * Once per database it then converts legacy plaintext secrets (tokens,
 * HA1, token URLs in fetch_log) in one transaction.  With the key, HA1
 * and tokens are sealed on write and opened on read (struct device,
 * struct account), and store_account_get_token works.  0 or -1. */
int store_use_key(struct store *s, const unsigned char key[SP_KEY_LEN], char *err, size_t errlen);
/* The connection (db.h), for store_*.c files only. */
struct db;
struct db *store_db(struct store *s);
/* Transactions: begin IMMEDIATE / commit / rollback.  0 or -1; a failed
 * store_begin leaves no transaction open, on either backend. */
int store_begin(struct store *s);
/* A read transaction: one snapshot (and one WAL read lock) for several
 * reads; end it with store_commit. */
int store_begin_read(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);
/* Changes with every transaction store_begin opens: a reader may keep what
 * it read inside one write transaction until that transaction ends (the
 * writers' lock keeps other store_begin writers out meanwhile). */
unsigned long store_tx_serial(struct store *s);
/* Last SQLite error message of this connection. */
const char *store_errmsg(struct store *s);
/* Generation of everything that can change a served config (schema 002);
 * fetch bookkeeping does not bump it.  -1 on error. */
long store_config_gen(struct store *s);
/* A render miss's read snapshot: store_begin_read and store_config_gen
 * (the generation, or -1; end the transaction either way).  On PostgreSQL
 * with a MAC, the device, its lines and the web passwords it may use are
 * read in the same round trip (db_pipeline: 1 instead of 5), for the next
 * store_device_get of that MAC, store_account_list and
 * store_webpw_effective of that device in this transaction; one_trip ends
 * the snapshot in that round trip too (its COMMIT sent with it), and what
 * the render reads after it runs on its own.  SQLite reads each at its
 * call, as before. */
long store_begin_render(struct store *s, const char *mac, bool one_trip);
/* The same rows of one device in one round trip inside the caller's own
 * transaction (an import checking each device it wrote): for the next
 * store_device_get of mac and what follows it, as above.  Nothing on
 * SQLite.  0, or -1 (the transaction is then aborted on PostgreSQL). */
int store_read_ahead(struct store *s, const char *mac);
/* Its end: store_commit on SQLite; on PostgreSQL the COMMIT of the
 * read-only snapshot is sent and not waited for (db_send).  After
 * one_trip, nothing to send; if the render read more after the snapshot,
 * the generation is read again: 1 when it moved (or cannot be read), the
 * render not known to be of one snapshot (render again without
 * one_trip).  0, 1, or -1 (the COMMIT not sent). */
int store_end_render(struct store *s);
/* The render memo: between store_memo_begin(s, gen) - called inside a read
 * snapshot, with the generation that snapshot read - and store_memo_end,
 * store_tenant_get_id and store_tversion_get answer from rows read earlier
 * at the same generation (every change to a tenant or a template bumps it;
 * versions never change).  In a boot storm every phone of a tenant shares
 * both rows.  A negative gen (unread) memoizes nothing and forgets what the
 * memo held.  A write transaction that changes no tenant or template (an
 * import) may use it too, forgetting it at its end: a rollback gives its
 * generation number to the next writer. */
void store_memo_begin(struct store *s, long gen);
void store_memo_end(struct store *s);
/* The settings of a version the memo holds (v as store_tversion_get gave
 * it), parsed once per generation and worker instead of once per render:
 * borrowed, valid until the memo's next generation (json_object_update
 * takes its own references).  NULL when the memo does not hold v or its
 * settings are not a JSON object: then parse v->settings. */
json_t *store_memo_settings(struct store *s, const struct tversion *v);
/* Has the store's PostgreSQL connection broken (the server restarted or
 * went away; known once a command failed on it)?  Never on SQLite. */
bool store_lost(struct store *s);
/* A new PostgreSQL connection in place of a lost one (key and lock wait
 * kept; not for a store_open_raw read-only store, whose session setting
 * is not redone).  SQLite: nothing to do.  0, or -1 with err (the old
 * connection kept). */
int store_reconnect(struct store *s, char *err, size_t errlen);
/* ---- store_copy.c: database_copy, a node-local copy (issue 18) ----
 * A SQLite file at path holding the rows a render reads from the
 * PostgreSQL database at db_url, as they are at the generation in its
 * config_gen (0 until the first store_copy_step).  An earlier copy at
 * path is replaced; any other file there is refused, never removed.
 * One thread uses it; readers open path with store_open
 * and store_use_key, and read it only at or above the generation they
 * need (render_snapshot's min). */
struct store_copy;
struct store_copy_stats {
	bool full;              /* every row reloaded (new copy, older than the log's floor, or above the database) */
	long from, to;          /* generations */
	long changed, rows;     /* ids the log named (0 when full); rows written */
};
struct store_copy *store_copy_open(const char *db_url, const char *path, const unsigned char key[SP_KEY_LEN],
				   char *err, size_t errlen);
/* Could a copy be made at path (sipprovd -n): its folder writable, and
 * nothing there but an earlier copy?  0, or -1 with err. */
int store_copy_usable(const char *path, char *err, size_t errlen);
/* Catch up with the database: 1 (moved, *stats says how), 0 (it was
 * current), -1 with err (the copy unchanged). */
int store_copy_step(struct store_copy *c, struct store_copy_stats *stats, char *err, size_t errlen);
long store_copy_gen(const struct store_copy *c);
/* The change log's rows written before `before` (unix seconds) removed,
 * the floor raised past them (PostgreSQL; SQLite logs nothing): 0 with
 * *removed, or -1 (store_errmsg).  A copy older than the floor reloads. */
int store_change_prune(struct store *s, int64_t before, long *removed);
/* The PostgreSQL connection broke / a new one (0, or -1 with err). */
bool store_copy_lost(struct store_copy *c);
int store_copy_reconnect(struct store_copy *c, char *err, size_t errlen);
void store_copy_close(struct store_copy *c);   /* accepts NULL; the file stays */

/* ---- store_gen.c: the config generation as it changes (issue 17) ---- */
struct store_genwatch;
/* Does s's database push generation changes (PostgreSQL: NOTIFY, schema/pg
 * 024)?  Then a reader may trust a watcher's value instead of reading
 * config_gen itself; on SQLite it reads. */
bool store_gen_pushed(struct store *s);
/* A watcher of s's config generation, the current one into *gen.  On
 * PostgreSQL a connection of its own LISTENs (s only lends its URL); on
 * SQLite it reads through s, which must outlive it.  NULL with err. */
struct store_genwatch *store_genwatch_new(struct store *s, int safety_ms, long *gen, char *err, size_t errlen);
void store_genwatch_free(struct store_genwatch *w);
/* Wait up to timeout_ms for news of the generation; 1 with *gen read (it
 * may equal known), 2 likewise but read on a new connection after a lost
 * one (PostgreSQL: maybe another server, e.g. a promoted replica, where
 * the generation may have gone back: drop what was cached by it), 0 when
 * nothing new came (PostgreSQL only), -1 when it cannot be read now
 * (*gen untouched).  SQLite: sleeps timeout_ms, then
 * reads.  PostgreSQL: returns at once when a NOTIFY names a generation
 * newer than known, reads config_gen when safety_ms passed since the last
 * read; a lost connection is logged once and retried with backoff (each
 * call -1 meanwhile), LISTEN before the read when it is back. */
int store_gen_wait(struct store_genwatch *w, long known, int timeout_ms, long *gen);
/* SQLite: 0 when no commit of any process has become visible since the
 * last read (WAL mode: the WAL-index header is as it was then), so that
 * generation holds; else (a commit, force, the first call, a rollback
 * journal) 1 with config_gen read into *gen, or -1 when it cannot be read
 * now (then the next call reads again). */
int store_gen_poll(struct store_genwatch *w, bool force, long *gen);
/* Write a batch of fetch records in one transaction (the daemon's writer).
 * ua and path are NUL-terminated text the caller keeps alive for the call
 * (the daemon's queue: one allocation per record, not 512 bytes of arrays
 * in each of its 16,384 + 2 x 65,536 entries). */
struct fetch_rec {
	int64_t device_id;
	int64_t at;
	int status;
	long version;
	char ip[64];
	const char *ua;
	const char *path;
	char digest[33];        /* the ETag's 32 hex digits */
};
/* A device's newest successful (200) fetch, coalesced by the daemon's writer. */
struct fetch_last {
	int64_t device_id;
	int64_t at;
	long version;
	int64_t sig;            /* store_fetch_sig of ip, ua and digest; 0: not computed yet */
	char ip[64];
	const char *ua;
	char digest[33];        /* the ETag's 32 hex digits */
};
/* One transaction: n fetch_log history rows (each at its own time) and nl
 * device last-fetch updates (a row is only moved forward in time).
 * 0, or -1 with nothing written. */
int store_fetch_batch(struct store *s, const struct fetch_rec *r, size_t n, const struct fetch_last *l,
		      size_t nl);
/* The signature of a last fetch's ip, ua (NULL: none) and digest, never 0:
 * whoever fills a struct fetch_last while that text is in the CPU's cache
 * sets its sig, so the writer, which reads it much later, does not fetch
 * the text again unless the signature changed. */
int64_t store_fetch_sig(const char *ip, const char *ua, const char *digest);
/* What store_fetch_batch keeps in memory under load (SQLite: chain heads
 * and last fetches, store_fetch.c), written now, and on a store's first
 * call what a writer before it left unlinked: the writer calls it when it
 * starts, before it waits for more, and before it stops.  0, or -1 (what
 * was kept is then linked from the history by the next call). */
int store_fetch_flush(struct store *s);
/* How long store_fetch_batch may keep them under load: 2,000 ms unless
 * set (the tests hold them). */
void store_fetch_interval(struct store *s, long ms);
/* Ready the writer's store (the writer thread's, before that thread
 * starts): for store_fetch_pending from other threads, and its WAL
 * checkpoint interval (SQLite).  0, or -1 with store_errmsg. */
int store_fetch_keep(struct store *s);
/* The last 200 that s's writer keeps in memory for device_id, not yet in
 * the file: 1 with *at and *version, or 0.  Safe from any thread. */
int store_fetch_pending(struct store *s, int64_t device_id, int64_t *at, long *version);
/* Retention: delete fetch_log and registration rows older than 'before',
 * 'chunk' rows per transaction so writers are never blocked for long;
 * *n = rows deleted.  The device's own last-fetch columns are kept. */
int store_prune(struct store *s, int64_t before, long chunk, long *n);

/* Lookups return 1 found, 0 not found, -1 error. */
int store_tenant_get(struct store *s, const char *slug, struct tenant *t);
int store_tenant_get_id(struct store *s, int64_t id, struct tenant *t);
/* add and update write device_auth, allow_cidrs and the patterns in
 * canonical form (policy_tenant_canon); a policy that does not parse is
 * refused with err naming the tenant, field and item, nothing written. */
int store_tenant_add(struct store *s, const struct tenant *t, char *err, size_t errlen);
int store_tenant_update(struct store *s, const struct tenant *t, char *err, size_t errlen);
/* Call fn for each tenant in slug order; fn returns nonzero to stop. */
int store_tenant_each(struct store *s, int (*fn)(const struct tenant *, void *), void *arg);

/* Current (number 0) or given version of TENANT/NAME.  1, 0, -1. */
int store_tversion_get(struct store *s, int64_t tenant_id, const char *name, long number, struct tversion *v);
/* Append a version; settings must be canonical JSON (settings_canonical). */
int store_tversion_add(struct store *s, int64_t tenant_id, const char *name, const char *settings,
		       const char *author, const char *comment, struct tversion *out, char *err, size_t errlen);
int store_tversion_each(struct store *s, int64_t tenant_id, const char *name,
			int (*fn)(const struct tversion *, void *), void *arg);

int store_device_get(struct store *s, const char *mac, struct device *d);
int store_device_get_id(struct store *s, int64_t id, struct device *d);
int store_device_add(struct store *s, struct device *d, char *err, size_t errlen);
int store_device_update(struct store *s, const struct device *d, char *err, size_t errlen);
int store_device_delete(struct store *s, int64_t id);
/* Devices of a tenant (tenant_id 0 = all), MAC order. */
int store_device_each(struct store *s, int64_t tenant_id, int (*fn)(const struct device *, void *), void *arg);
int store_device_count(struct store *s, int64_t tenant_id, long *n);
/* Record a served fetch on the device row and in fetch_log (the path
 * through sp_redact_path: no token URL is stored). */
int store_fetch_record(struct store *s, int64_t device_id, const char *ip, const char *ua,
		       const char *path, int status, long version, const char *digest);

/* Accounts of a device in line order, up to SP_MAX_LINES; password left "". */
int store_account_list(struct store *s, int64_t device_id, struct account *a, size_t max, size_t *n);
/* The account whose token is token (looked up by its keyed hash: needs
 * the key, else -1).  1 found, 0 none, -1 error. */
int store_account_get_token(struct store *s, const char *token, struct account *a);
/* The account on a device's line; 1 found, 0 none, -1 error. */
int store_account_get_line(struct store *s, int64_t device_id, long line, struct account *a);
int store_account_add(struct store *s, struct account *a, char *err, size_t errlen);
int store_account_update(struct store *s, const struct account *a, char *err, size_t errlen);
/* Other accounts in the tenant with username or auth username equal to v
 * (for swap checks): fn(account, device mac, arg). */
int store_account_each_in_tenant(struct store *s, int64_t tenant_id,
				 int (*fn)(const struct account *, const char *mac, void *), void *arg);

/* Polycom uploads: append one, keeping only the newest 'keep' per device. */
int store_device_log_add(struct store *s, int64_t device_id, const char *name, const void *body, size_t len,
			 long keep);
/* Newest first: fn(at, name, body, len, arg); nonzero stops. */
int store_device_log_each(struct store *s, int64_t device_id,
			  int (*fn)(int64_t at, const char *name, const void *body, size_t len, void *), void *arg);

int store_audit(struct store *s, const char *actor, const char *action, const char *object,
		const char *before, const char *after, const char *detail);

/* ---- store_audit.c: the audit log read back ---- */

struct audit_row {
	int64_t id, at;
	char actor[SP_NAME_MAX], action[64], object[SP_FIELD_MAX];
	char before[72], after[72], detail[1024];
};
struct audit_filter {
	int64_t before_id;                  /* only ids below it (cursor); 0 = from the newest */
	const char *actor, *action;         /* exact; NULL or "" = any */
	int64_t since;                      /* at >= since (unix seconds); 0 = all */
};
/* Rows newest first: fn returns 0 to go on, 1 to stop, -1 to fail.
 * Returns 0, or -1 (database error or fn failed). */
int store_audit_each(struct store *s, const struct audit_filter *f, int (*fn)(const struct audit_row *, void *),
		     void *arg);

/* ---- store_admin.c: schema versions, migrations, backup, restore ---- */

struct store_schema {
	int have;                           /* highest migration recorded (0: none) */
	int want;                           /* highest this binary has */
	int pending;                        /* this binary's migrations not recorded (gaps too) */
	int missing;                        /* the first of them */
	int unknown;                        /* a recorded migration this binary lacks: newer; else 0 */
	bool fresh;                         /* an empty file: no tables at all */
};
/* The schema of an open store (also a raw one).  0, or -1 with err (also
 * for a file that is not a sipprov database). */
int store_schema(struct store *s, struct store_schema *sc, char *err, size_t errlen);
/* -1 with err naming path and both versions when sc is newer than this
 * binary, or (not fresh and) behind it ("run 'sipprov migrate'"); else 0. */
int store_schema_refuse(const char *path, const struct store_schema *sc, char *err, size_t errlen);
/* Bring the database at path to this binary's schema: every missing
 * migration in number order, gaps included.  When there is something to
 * apply to a database that has data, first an online backup beside it,
 * mode 0600, named for the schema it was at: PATH.pre-009.bak (PATH.pre-009.2.bak
 * ... if that exists).  Refuses a database newer than the binary and a
 * missing file.  from/to/backup (backup "" when none) describe what was
 * done; 0 or -1 with err (nothing applied when the backup failed). */
struct store_migrated { int from, to, applied; char backup[4200]; };
int store_migrate(const char *path, struct store_migrated *m, char *err, size_t errlen);
/* Online backup of the database at path into dest with SQLite's backup
 * API: one consistent snapshot (writers go on), written to a temporary file
 * mode 0600 beside dest, checked (integrity_check), then renamed into place.
 * An existing dest is refused unless force.  Refuses a database newer than
 * the binary.  0 or -1 with err. */
int store_backup(const char *path, const char *dest, bool force, char *err, size_t errlen);
/* Read-only checks of a database file (a backup): integrity_check passes,
 * it is a sipprov database, not newer than the binary; with key non-NULL
 * the key must be its key (store_key_verify).  sc (may be NULL) gets its
 * schema.  0 or -1 with err naming the file. */
int store_file_check(const char *path, const unsigned char *key, struct store_schema *sc, char *err,
		     size_t errlen);
/* Replace the database at dest with the backup src (store_file_check'd
 * first, with key when non-NULL).  A new dest is written to a temporary file
 * mode 0600 and renamed into place; an existing one is overwritten in one
 * transaction with the backup API, and only when no other connection has
 * it open (a running sipprovd, an import): that is refused, nothing
 * written.  sc (may be NULL) gets the restored schema.  0 or -1 with err. */
int store_restore(const char *src, const char *dest, const unsigned char *key, struct store_schema *sc,
		  char *err, size_t errlen);
/* ---- store_pg.c: PostgreSQL (issue 17): the URL, its redaction, the
 * schema under the migration lock (rows go through db_pg.c). ---- */
/* No key file is looked for beside a PostgreSQL URL: every node shares one
 * key, named. */
#define SP_PG_KEY_NAMED "a PostgreSQL database needs its key file named (key_file in the configuration, or " \
	"SIPPROV_KEY_FILE): every node uses the same one"
/* Firmware images sit in a folder beside a SQLite file; nodes on one
 * PostgreSQL database need one every node reads, named (issue 17). */
#define SP_PG_NO_FIRMWARE "firmware images on PostgreSQL need firmware_dir (a folder every node reads, e.g. " \
	"shared storage) in sipprovd.conf"
/* What a SQLite-file operation says on a PostgreSQL database. */
#define SP_PG_FILE_ONLY "works on a SQLite file only: on PostgreSQL use pg_dump / pg_restore (and amcheck)"
/* schema/pg/NNN_name.sql, compiled in (tools/embed-schema.sh -n schema_pg):
 * the same numbers and names as schema_migrations, PostgreSQL dialect. */
extern const struct schema_migration schema_pg_migrations[];
extern const size_t schema_pg_migration_count;
/* Is db a PostgreSQL URL (postgresql:// or postgres://)?  Anything else
 * names a SQLite file. */
bool store_is_pg_url(const char *db);
/* Does libpq parse url (PQconninfoParse, no connection)?  0, or -1 with
 * err quoting libpq without the password. */
int store_pg_url_check(const char *url, char *err, size_t errlen);
/* url with its password left out (user:secret@ becomes user@, a
 * password=... query parameter is dropped), for messages; into out[n]. */
void store_pg_url_redact(const char *url, char *out, size_t n);
/* Bring the PostgreSQL database at url to this binary's schema/pg: every
 * migration not recorded in its schema_migration table, in number order,
 * each in its own transaction under pg_advisory_xact_lock(SP_PG_LOCK_MIGRATE),
 * so concurrent runs (two nodes starting) apply each exactly once.  No
 * backup is taken (pg_dump is the admin's tool).  Refuses a database with
 * a number this binary does not know.  from/to/applied as store_migrate,
 * backup "".  0 or -1 with err naming url without its password. */
#define SP_PG_LOCK_MIGRATE 0x73697070726f7601LL   /* "sipprov" 01 */
int store_pg_migrate(const char *url, struct store_migrated *m, char *err, size_t errlen);
/* The schema of the PostgreSQL database at url against schema/pg, as
 * store_schema has it for a file (fresh: no table at all).  0 or -1. */
int store_pg_schema(const char *url, struct store_schema *sc, char *err, size_t errlen);
/* store_schema_refuse's words for a PostgreSQL database (named without its
 * password; no backup is promised: pg_dump is the admin's). */
int store_pg_refuse(const char *url, const struct store_schema *sc, char *err, size_t errlen);
/* The admin writers' lock: what BEGIN IMMEDIATE takes on PostgreSQL
 * (pg_sql.c: BEGIN + pg_advisory_xact_lock(SP_PG_LOCK_WRITE)), one key
 * every node shares, so writers queue as they do on one SQLite file. */
#define SP_PG_LOCK_WRITE 0x73697070726f7602LL     /* "sipprov" 02 */
/* The pruner's lock (schema/pg 025): a session lock that sipprovd's fetch
 * writer takes with pg_try_advisory_lock and keeps while its connection
 * lives, so one node of those sharing a database keeps the fetch_log and
 * registration partitions; the others find it taken and do nothing.  When
 * that node stops (or its connection breaks) the lock goes with it and the
 * next node to try takes over. */
#define SP_PG_LOCK_PRUNE 0x73697070726f7603LL     /* "sipprov" 03 */
/* Are fetch_log and registration partitioned by day (PostgreSQL, schema/pg
 * 025), so retention is store_pg_upkeep's, not store_prune's? */
bool store_history_partitioned(struct store *s);
/* Days ahead of today (UTC) that always have a partition. */
#define SP_PG_PART_AHEAD 3
/* One pass of partition upkeep, on the node holding SP_PG_LOCK_PRUNE (taken
 * here if free): for fetch_log and registration, a partition for today and
 * SP_PG_PART_AHEAD days after (rows the DEFAULT partition caught for those
 * days move in); when before > 0, every day partition wholly older than
 * before dropped and the DEFAULT partition's rows older than before
 * deleted.  fn (may be NULL) hears of each: action "created" (rows moved
 * from DEFAULT), "dropped" (rows it held) or "deleted" (rows of DEFAULT),
 * the partition's name.  1 this node did the pass, 0 another node holds
 * the lock (nothing done), -1 error (store_errmsg; the next pass retries). */
int store_pg_upkeep(struct store *s, int64_t now, int64_t before,
		    void (*fn)(void *arg, const char *action, const char *part, long rows), void *arg);

/* ---- store_api.c: admin API bearer tokens (schema 011) ---- */

struct api_token {
	int64_t id;
	char name[SP_SLUG_MAX];
	int64_t tenant_id;                  /* 0 = every tenant */
	char tenant[SP_SLUG_MAX];           /* its slug, "" for every tenant */
	char role[16];                      /* admin | operator | read-only */
	char token_hash[65];                /* api_token_hash of the token */
	int64_t created, revoked;           /* revoked 0 = in force */
};
/* Insert; a taken name is refused with err naming it.  0 or -1. */
int store_api_token_add(struct store *s, const struct api_token *t, char *err, size_t errlen);
/* 1 found, 0 none, -1 error (revoked tokens are found: check ->revoked). */
int store_api_token_by_hash(struct store *s, const char *hash, struct api_token *t);
int store_api_token_get(struct store *s, const char *name, struct api_token *t);
/* Every token in name order; fn returns nonzero to stop.  0 or -1. */
int store_api_token_each(struct store *s, int (*fn)(const struct api_token *, void *), void *arg);
/* Mark revoked at 'at': 1 revoked, 0 no such token in force, -1 error. */
int store_api_token_revoke(struct store *s, const char *name, int64_t at);

/* ---- store_idem.c: Idempotency-Key answers (schema 018) ---- */
#define SP_IDEM_TTL (24 * 3600)   /* seconds a key's first answer is kept */
/* The first answer to (token_name, key) if younger than SP_IDEM_TTL: 1
 * with body_sha256, status and *answer_enc (caller frees; sealed by the
 * caller), 0 none, -1 error. */
int store_idem_get(struct store *s, const char *token_name, const char *key, char body_sha256[65], long *status,
		   char **answer_enc);
/* Record it (inside the caller's transaction), dropping every expired
 * answer first, so the table holds at most a day of keys.  0 or -1. */
int store_idem_put(struct store *s, const char *token_name, const char *key, const char *body_sha256, long status,
		   const char *answer_enc);

/* ---- store_user.c: web console users and sessions (schema 021) ---- */

struct console_user {
	int64_t id;
	char name[SP_SLUG_MAX];
	int64_t tenant_id;                  /* 0 = every tenant */
	char tenant[SP_SLUG_MAX];           /* its slug, "" for every tenant */
	char role[16];                      /* admin | operator | read-only */
	char pw_hash[192];                  /* user_password_hash's form */
	int64_t created, updated;
};
/* Insert; a taken name is refused with err naming it.  0 or -1. */
int store_user_add(struct store *s, const struct console_user *u, char *err, size_t errlen);
/* 1 found, 0 none, -1 error. */
int store_user_get(struct store *s, const char *name, struct console_user *u);
/* Every user in name order; fn returns nonzero to stop.  0 or -1. */
int store_user_each(struct store *s, int (*fn)(const struct console_user *, void *), void *arg);
/* Delete the user and its sessions: 1, 0 no such user, -1 error. */
int store_user_rm(struct store *s, const char *name);
/* New password hash; the user's sessions end.  1, 0 no such user, -1. */
int store_user_set_password(struct store *s, const char *name, const char *pw_hash, int64_t now);
/* A session (only the keyed hash of its id) until expires.  0 or -1. */
int store_session_add(struct store *s, int64_t user_id, const char *sid_hash, int64_t now, int64_t expires);
/* The session's user when it has not expired at now: 1, 0 none, -1. */
int store_session_user(struct store *s, const char *sid_hash, int64_t now, struct console_user *u);
/* End one session (logout), or every expired one (purge).  0 or -1. */
int store_session_rm(struct store *s, const char *sid_hash);
int store_session_purge(struct store *s, int64_t now);

/* ---- store_drift.c: registrations and drift events ---- */

/* One REGISTER transaction as seen on the wire (or reported). */
struct observation {
	int64_t at;                         /* unix seconds */
	char source[16];                    /* hep | webhook | probe (diagnose's own, kept apart) */
	char src_ip[64];
	long src_port;
	char transport[16];                 /* udp tcp tls ws wss sctp */
	char registrar[DRIFT_STR];          /* To (or request-URI) host */
	long port;                          /* destination port */
	char username[DRIFT_STR];           /* To user */
	char auth_username[DRIFT_STR];      /* digest username= */
	char user_agent[DRIFT_STR];
	char contact[DRIFT_STR];
	char instance[DRIFT_STR];           /* +sip.instance */
	long expires;
	int code;                           /* final response; 408 no response; 0 unknown */
	char reason[128];                   /* that response's reason phrase */
	char reason_detail[DRIFT_STR];      /* Reason / P-Registrar-Error header, as sent */
	char dst_ip[64];                    /* where the REGISTER went (HEP); "" = unknown */
};


struct drift_event {
	int64_t id;
	int64_t device_id, account_id;      /* 0 = none */
	char mac[16];
	long line;
	char tenant[64];
	char kind[24];
	char expected[DRIFT_STR];
	char observed[DRIFT_STR];
	int64_t first_seen, last_seen, resolved;
	long count;
};
/* Store one observation row. */
int store_registration_add(struct store *s, const struct observation *o, int64_t device_id,
			   int64_t account_id);
/* Open or bump the open event (device, account, kind; for kind
 * unknown_user also the observed value).  *is_new tells which. 0 / -1. */
int store_drift_open(struct store *s, int64_t device_id, int64_t account_id, const char *kind,
		     const char *expected, const char *observed, int64_t now, int *is_new);
/* An unknown_user event for observed (user@host) from src_ip, under caps:
 * bump the open one if there is one; else open one unless src_ip already
 * has per_source open ones or max are open in all.  *outcome tells which.
 * 0 / -1. */
enum store_unknown_outcome { STORE_UNKNOWN_BUMPED, STORE_UNKNOWN_OPENED, STORE_UNKNOWN_CAP_SOURCE,
			     STORE_UNKNOWN_CAP_TOTAL };
int store_drift_unknown_open(struct store *s, const char *observed, const char *src_ip, int64_t now,
			     long per_source, long max, enum store_unknown_outcome *outcome);
/* Resolve the open event(s) of (device, account, kind); observed non-NULL
 * also requires that observed value (unknown_user).  ev (may be NULL) gets
 * the first one resolved.  Returns 1 resolved, 0 none open, -1 error. */
int store_drift_resolve(struct store *s, int64_t device_id, int64_t account_id, const char *kind,
			const char *observed, int64_t now, struct drift_event *ev);
/* The per-observation path: the open events of (device, account), in no
 * particular order, into ev[max] (*n of them); 1 when more than max are open (the
 * list is then incomplete), 0, or -1.  Then bump, insert or resolve rows
 * by id; each 0 / -1. */
int store_drift_open_list(struct store *s, int64_t device_id, int64_t account_id, struct drift_event *ev,
			  size_t max, size_t *n);
int store_drift_bump(struct store *s, int64_t id, const char *expected, const char *observed, int64_t now);
int store_drift_insert(struct store *s, int64_t device_id, int64_t account_id, const char *kind,
		       const char *expected, const char *observed, int64_t now);
int store_drift_resolve_id(struct store *s, int64_t id, int64_t now);
/* Savepoint around one observation, so a failure inside a caller's batch
 * transaction undoes only that observation.  end(s, ok): release or undo. */
int store_drift_sp_begin(struct store *s);
int store_drift_sp_end(struct store *s, int ok);
/* Size this connection for bulk intake: a larger page cache and a rarer
 * WAL auto-checkpoint (hep_server's own connection).  0 / -1. */
int store_drift_intake_tune(struct store *s);
/* A device's fetch state: 1 found, 0 no such device, -1 error. */
int store_device_fetched(struct store *s, int64_t device_id, int64_t *fetched_at, long *fetched_version);
/* True when no transaction is open on this connection. */
int store_drift_autocommit(struct store *s);
/* Is any unknown_user drift event open?  1 yes, 0 no, -1 error. */
int store_drift_unknown_any(struct store *s);
int store_account_set_code(struct store *s, int64_t account_id, long code, int64_t at);
/* Accounts whose username (by_auth 0) or auth username (1) equals v:
 * fn(account id, device id, arg) returns nonzero to stop. */
int store_account_find(struct store *s, const char *v, int by_auth,
		       int (*fn)(int64_t account_id, int64_t device_id, void *), void *arg);
/*
 * Intake per batch (drift_record_many): each reads, in one statement, what
 * a whole batch of observations needs.  The keys come as one JSON array
 * text (strings, or integers for ids): SQLite reads it with json_each,
 * PostgreSQL with json_array_elements_text into = ANY (pg_sql.c), so one
 * binding serves both.  Rows come in id order; fn returns nonzero to
 * stop.  Each 0 or -1.
 * - accounts whose username is in users or auth username in auths (NULL:
 *   none of that kind);
 * - devices whose MAC is in macs (secrets opened, as store_device_get);
 * - the fetch state of the devices in ids;
 * - the open events of the devices in ids (device_id, account_id, kind,
 *   expected, observed, count, first_seen, last_seen);
 * - the open unknown_user events whose observed value is in labels
 *   (src_ip into src_ip[64]);
 * - open unknown_user events per source address in srcs, and in all
 *   (*total), as store_drift_unknown_open counts them.
 */
int store_account_find_many(struct store *s, const char *users, const char *auths,
			    int (*fn)(int64_t account_id, int64_t device_id, const char *username,
				      const char *auth_username, void *), void *arg);
int store_device_get_many(struct store *s, const char *macs, int (*fn)(const struct device *, void *), void *arg);
/* The same by id; and the lines (id, line, username, auth username) of the
 * devices in ids, by device then line. */
int store_device_get_ids(struct store *s, const char *ids, int (*fn)(const struct device *, void *), void *arg);
int store_account_lines_many(struct store *s, const char *ids,
			     int (*fn)(int64_t account_id, int64_t device_id, long line, const char *username,
				       const char *auth_username, void *), void *arg);
int store_device_fetched_many(struct store *s, const char *ids,
			      int (*fn)(int64_t device_id, int64_t fetched_at, long fetched_version, void *),
			      void *arg);
int store_drift_open_many(struct store *s, const char *ids, int (*fn)(const struct drift_event *, void *),
			  void *arg);
int store_drift_unknown_many(struct store *s, const char *labels,
			     int (*fn)(const struct drift_event *, const char *src_ip, void *), void *arg);
int store_drift_unknown_counts(struct store *s, const char *srcs, void (*fn)(const char *src_ip, long n, void *),
			       void *arg, long *total);
/* Batch writes of the events intake decided in memory (drift_record_many):
 * a new row with its final state (src_ip "" for a device's event); an
 * existing row's new last_seen, count, expected and observed; a row
 * resolved.  Batches (store_batch): on PostgreSQL written at the next
 * store_batch_flush or commit.  Each 0 or -1. */
int store_drift_put_new(struct store *s, const struct drift_event *ev, const char *src_ip);
int store_drift_put_bump(struct store *s, const struct drift_event *ev);
int store_drift_put_resolved(struct store *s, int64_t id, int64_t resolved);
/* A savepoint around a batch of observations (op 0 set, 1 release, -1
 * roll back to it and forget the batch rows added since).  0 or -1. */
int store_drift_batch_sp(struct store *s, int op);
/* Write every pending batch row now, so a failure surfaces here.  0 / -1. */
int store_drift_flush(struct store *s);
/* Does intake gain from deciding a batch in memory (a round trip per
 * statement: PostgreSQL)? */
bool store_drift_batched(struct store *s);
/* Drift events (tenant_id 0 = all; open_only), newest first. */
int store_drift_each(struct store *s, int64_t tenant_id, int open_only,
		     int (*fn)(const struct drift_event *, void *), void *arg);
/* Open events per kind: fn(kind, count, arg). */
int store_drift_open_counts(struct store *s, void (*fn)(const char *kind, long n, void *), void *arg);
int store_drift_open_count_device(struct store *s, int64_t device_id, long *n);
/* Last observation of a device (1 found, 0 none, -1). */
int store_registration_last(struct store *s, int64_t device_id, struct observation *o);
/* ---- store_validate.c: the targeted lookups validation needs ---- */

/* Another account of tenant tenant_id, other than self (self->id, or when
 * self->id is 0 the line self->line on device mac, which the write
 * replaces), and not a shared line appearance with the same username and
 * auth_username as self: o[0] one whose username is self's auth_username,
 * o[1] one whose auth_username is self's username (found, then its line
 * and mac).  With devices, also the number of the tenant's devices other
 * than mac with an account whose username is self's.  Indexed
 * (account_username / account_auth_username); one round trip.  0 or -1. */
struct validate_other { bool found; long line; char mac[SP_MAC_LEN + 1]; };
int store_validate_others(struct store *s, int64_t tenant_id, const struct account *self, const char *mac,
			  struct validate_other o[2], long *devices);
/* Delete one account row.  1 deleted, 0 none, -1 error. */
int store_account_delete(struct store *s, int64_t device_id, long line);
/* ---- store_bulk.c: the SQL behind the above and reprovision jobs ---- */

/* Raise this connection's page cache for one big transaction. */
int store_bulk_cache(struct store *s);
/* Set template and clear pins for every device of a tenant; *n = rows. */
int store_bulk_move(struct store *s, int64_t tenant_id, const char *template_name, long *n,
		    char *err, size_t errlen);
/* Contact of the most recent 200 registration of a device with a Contact:
 * 1 found, 0 none, -1 error. */
int store_registration_contact(struct store *s, int64_t device_id, char *contact, size_t size, int64_t *at);
/* Devices (of tenant_id, 0 = all) with an open drift event, MAC order. */
int store_drifted_each(struct store *s, int64_t tenant_id, int (*fn)(const struct device *, void *), void *arg);
/* A new job row; returns its id or -1. */
int64_t store_job_new(struct store *s, const char *kind, const char *params);
/* 1 found (params copied), 0 none, -1 error. */
int store_job_get(struct store *s, int64_t id, char *kind, size_t kindlen, char *params, size_t plen);
int store_job_item_set(struct store *s, int64_t job, int64_t device_id, const char *result, const char *detail);
/* Items of a job in device MAC order; only_failed skips results "200".
 * fn(device_id, result, detail, arg), nonzero stops. */
int store_job_item_each(struct store *s, int64_t job, bool only_failed,
			int (*fn)(int64_t device_id, const char *result, const char *detail, void *), void *arg);
int store_job_finish(struct store *s, int64_t job);
/* ---- store_job.c: jobs the admin API queues for sipprovd's worker (022) ---- */
struct job_info {
	int64_t id, tenant_id;              /* tenant_id 0 = every tenant (and CLI runs) */
	char kind[32];
	char params[SP_JSON_MAX];
	char actor[SP_SLUG_MAX];
	bool queued;                        /* the worker runs it */
	int64_t created, started, finished; /* unix seconds, 0 = not yet */
};
/* A queued job row; returns its id or -1. */
int64_t store_job_queue(struct store *s, const char *kind, const char *params, int64_t tenant_id, const char *actor);
/* 1 found, 0 none, -1 error. */
int store_job_info(struct store *s, int64_t id, struct job_info *j);
/* Jobs newest first, of every tenant (all) or only of tenant_id, with id
 * below before_id (0 = from the newest); fn nonzero stops.  0 or -1. */
int store_job_list(struct store *s, bool all, int64_t tenant_id, int64_t before_id,
		   int (*fn)(const struct job_info *, void *), void *arg);
/* The oldest queued job not finished (a started one was interrupted):
 * 1 with *id, 0 none, -1 error. */
int store_job_next(struct store *s, int64_t *id);
int store_job_start(struct store *s, int64_t id);
/* Queue a finished job again (resume): 1, 0 when it is not finished, -1. */
int store_job_requeue(struct store *s, int64_t id);
/* Items per result: fn(result, n, arg) in result order.  0 or -1. */
int store_job_counts(struct store *s, int64_t id, void (*fn)(const char *result, long n, void *), void *arg);
/* Up to limit items with MAC after after_mac ("" = first), MAC order:
 * fn(mac, result, detail, at, arg), nonzero stops.  0 or -1. */
int store_job_items_page(struct store *s, int64_t id, const char *after_mac, long limit,
			 int (*fn)(const char *mac, const char *result, const char *detail, int64_t at, void *),
			 void *arg);
/* ---- store_diag.c: read-only queries for the checklist ---- */

struct diag_reg {
	int64_t at;
	char source[16];
	char src_ip[64];
	long src_port;
	char transport[8];
	char registrar[256];
	long port;
	char username[128];
	char auth_username[128];
	char user_agent[256];
	long code;
	char reason[128];
	char reason_detail[256];
	char dst_ip[64];                    /* "" = unknown (webhook, rows before schema 014) */
	char contact[256];
};
/* Latest registrations of the account (or, unmatched, of the device or
 * the username), newest first; diagnose's own probes (source 'probe')
 * never.  0 or -1. */
int store_diag_registrations(struct store *s, int64_t account_id, int64_t device_id, const char *username,
			     struct diag_reg *out, size_t max, size_t *n);

/* Where registrations for SIP domain `domain` were accepted (2xx) since
 * `since`, by destination address and port, most first: the registrars that
 * serve the domain as the registrars themselves report it (HEP).  Probes
 * and rows without a destination address are not counted.  0 or -1. */
struct diag_served {
	char dst_ip[64];
	long port;
	long count;
};
int store_diag_domain_served(struct store *s, const char *domain, int64_t since, struct diag_served *out,
			     size_t max, size_t *n);

struct diag_drift {
	char kind[32];
	char expected[256];
	char observed[256];
	int64_t first_seen, last_seen;
	long count;
	int64_t account_id;
};
/* Open drift events of the device, newest first.  0 or -1. */
int store_diag_drift_open(struct store *s, int64_t device_id, struct diag_drift *out, size_t max, size_t *n);

struct diag_fetch {
	int64_t at;
	char ip[64];
	char user_agent[256];
	char path[256];
	long status;
	long version;
};
/* The device's most recent fetch_log row, any status.  1, 0 none, -1. */
int store_diag_last_fetch(struct store *s, int64_t device_id, struct diag_fetch *f);
/* The device's newest fetch_log rows, newest first, into out[max].  0 / -1. */
int store_fetch_recent(struct store *s, int64_t device_id, struct diag_fetch *out, size_t max, size_t *n);

/* ---- store_console.c: what only the web console reads ---- */

/* Fetches of a tenant's devices (0 = all) since 'since', per bucket_s
 * seconds: fn(bucket start, served 2xx/3xx, failed) for each non-empty
 * bucket, oldest first.  0 / -1. */
int store_fetch_buckets(struct store *s, int64_t tenant_id, int64_t since, long bucket_s,
			void (*fn)(int64_t start, long served, long failed, void *), void *arg);
/* Registration observations of a tenant's devices, bucketed the same way:
 * fn(bucket start, registered 2xx, failed) where failed is a final code
 * of 300 or more other than the 401/407 challenges, or none seen (0). */
int store_registration_buckets(struct store *s, int64_t tenant_id, int64_t since, long bucket_s,
			       void (*fn)(int64_t start, long registered, long failed, void *), void *arg);
/* The last 'account.add' / 'account.set' audit row of object ("account N
 * on 00:15:65:..", as cmd_account writes it): *at and its detail.  1 found,
 * 0 none, -1 error. */
int store_diag_account_changed(struct store *s, const char *object, int64_t *at, char *detail, size_t dlen);
/* Observations (diagnose's probes excepted) recorded since: is intake
 * running at all?  0 or -1. */
int store_diag_intake_seen(struct store *s, int64_t since, long *n);
/* Accounts in the tenant (every device) with this username.  0 or -1. */
int store_diag_username_count(struct store *s, int64_t tenant_id, const char *username, long *n);
/* ---- store_firmware.c: firmware images (files kept by firmware.c) ---- */

struct firmware {
	int64_t id;
	char vendor[32];                    /* a layout name: yealink, polycom, ... */
	char model[SP_SLUG_MAX];
	char version[SP_SLUG_MAX];
	char sha256[65];
	int64_t size;
	char filename[SP_NAME_MAX];         /* the name it was added under */
	int64_t added;
};
/* Insert f (id and added are set).  0, or -1 with err naming the clash. */
int store_firmware_add(struct store *s, struct firmware *f, char *err, size_t errlen);
/* By vendor, model and version: 1 found, 0 not, -1 error. */
int store_firmware_get(struct store *s, const char *vendor, const char *model, const char *version,
		       struct firmware *f);
/* Any row holding this file (what the daemon serves): 1, 0, -1. */
int store_firmware_by_sha(struct store *s, const char *sha256, struct firmware *f);
/* Every row, or one vendor's ("" = all), ordered by vendor, model,
 * version; *out is malloc'd (free it).  0 or -1. */
int store_firmware_list(struct store *s, const char *vendor, struct firmware **out, size_t *n);
/* Delete a row; *refs gets how many rows still hold its file.  0 or -1. */
int store_firmware_rm(struct store *s, int64_t id, const char *sha256, long *refs);
/* Who picks model + version (a firmware.<model> setting, model without
 * case): "template T/NAME vN (KEY)" for a template's current version or one
 * a device is pinned to, "tenant T (KEY)", "device MAC (KEY)", joined with
 * ", " into out (as many as fit); *n gets how many there are.  0 or -1. */
int store_firmware_refs(struct store *s, const char *model, const char *version, char *out, size_t outlen,
			size_t *n);

/* ---- store_health.c: read-only answers for operations ---- */

/* Open path read-only on a fresh connection and run a real query (no
 * migration, nothing written).  0, or -1 with err. */
int store_ping(const char *path, char *err, size_t errlen);
/* Devices by state: fetched (runs what it should), stale (fetched another
 * version), never_fetched (active, never fetched), disabled.  0 or -1. */
enum { STORE_DEV_FETCHED, STORE_DEV_STALE, STORE_DEV_NEVER, STORE_DEV_DISABLED, STORE_DEVICE_STATES };
/* tenant_id 0 = every tenant. */
int store_device_states(struct store *s, int64_t tenant_id, long counts[STORE_DEVICE_STATES]);
/* Each device's state (STORE_DEV_*) in no particular order.  0 or -1. */
int store_device_state_each(struct store *s, int64_t tenant_id, void (*fn)(int64_t device_id, int state, void *),
			    void *arg);

/* ---- store_pending.c: unknown phones that asked for a config ---- */

struct pending_dev {
	char mac[SP_MAC_LEN + 1];
	char layout[32];
	char path[256];
	char user_agent[256];
	char vendor[16], model[64], firmware[64];
	char source_ip[64];
	int64_t first_seen, last_seen;
	long count;
};
/* Add p's sighting to an existing row (count, last seen, latest UA, file
 * and address).  1 updated, 0 no such row, -1 error. */
int store_pending_touch(struct store *s, const struct pending_dev *p);
/* Insert p unless a device with that MAC exists by now.  1, 0, -1. */
int store_pending_insert(struct store *s, const struct pending_dev *p);
int store_pending_count(struct store *s, long *n);
/* 1 found, 0 not, -1 error. */
int store_pending_get(struct store *s, const char *mac, struct pending_dev *p);
/* Newest first; *out malloc'd.  0 or -1. */
int store_pending_list(struct store *s, struct pending_dev **out, size_t *n);
/* One page of that order: at most limit rows from offset; *out malloc'd.  0 or -1. */
int store_pending_page(struct store *s, long offset, long limit, struct pending_dev **out, size_t *n);
/* 1 removed, 0 not there, -1 error. */
int store_pending_rm(struct store *s, const char *mac);

/* ---- store_webpw.c: phone web interface passwords (encrypted by the caller) ---- */

/* Set the admin or user password of a tenant (device_id 0) or a device
 * (tenant_id 0) to enc (secret_encrypt's text); enc "" deletes it.  1 row
 * changed, 0 none, -1 error with err. */
int store_webpw_set(struct store *s, int64_t tenant_id, int64_t device_id, const char *role, const char *enc,
		    char *err, size_t errlen);
/* Its encrypted text into enc: 1 found, 0 not (enc ""), -1 error. */
int store_webpw_get(struct store *s, int64_t tenant_id, int64_t device_id, const char *role, char *enc, size_t n);
/* The encrypted password of role[0] and role[1] for a device: its own row,
 * else its tenant's, else "", in one read (a render miss on PostgreSQL
 * pays one round trip for them, not four).  0, or -1 on error. */
#define SP_WEBPW_ENC_MAX 1024
int store_webpw_effective(struct store *s, int64_t tenant_id, int64_t device_id, const char *const role[2],
			 char enc[2][SP_WEBPW_ENC_MAX]);

/* ---- store_contact.c: the tenant phonebook (phonebook.c renders it) ---- */

#define SP_CONTACT_NAME_CHARS   64      /* name and group, in characters */
#define SP_CONTACT_NUMBER_MAX   32      /* a number, in bytes: [0-9+*#] */
#define SP_CONTACT_MAX          5000    /* contacts per tenant: one phonebook body stays small */

struct contact {
	int64_t id;
	int64_t tenant_id;
	char name[4 * SP_CONTACT_NAME_CHARS + 1];   /* UTF-8 */
	char office[SP_CONTACT_NUMBER_MAX + 1];     /* required */
	char mobile[SP_CONTACT_NUMBER_MAX + 1];     /* "" = none */
	char other[SP_CONTACT_NUMBER_MAX + 1];
	char group[4 * SP_CONTACT_NAME_CHARS + 1];
	int64_t added;
};
/* Insert c (id and added are set).  1 added, 0 the tenant already has
 * this name with this office number (err says so), -1 error (err). */
int store_contact_add(struct store *s, struct contact *c, char *err, size_t errlen);
/* A tenant's contacts ordered by name, office number; *out malloc'd
 * (free it, NULL when n is 0).  0 or -1. */
int store_contact_list(struct store *s, int64_t tenant_id, struct contact **out, size_t *n);
int store_contact_count(struct store *s, int64_t tenant_id, long *n);
/* Delete the tenant's contacts named name; *n gets how many.  0 or -1. */
int store_contact_rm(struct store *s, int64_t tenant_id, const char *name, long *n);

#endif
