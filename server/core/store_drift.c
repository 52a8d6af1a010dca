/*
 * store_drift.c: SQLite rows for registration intake: observations
 * (`registration`), drift events (open, bump, resolve, list, count) and the
 * account's last response code.  Matching and rules live in drift.c; this
 * file only reads and writes rows, with prepared statements.
 */
#include <string.h>

#include "store_int.h"

int store_registration_add(struct store *s, const struct observation *o, int64_t device_id,
			   int64_t account_id)
{
	/* A batch: on PostgreSQL the rows go at the transaction's commit, one
	 * round trip for the lot (nothing in intake reads them back before);
	 * on SQLite each is inserted now. */
	struct dbst *st = store_batch(s, "INSERT INTO registration (at, source, src_ip, src_port, transport, "
				      "registrar, port, username, auth_username, user_agent, contact, expires, "
				      "code, device_id, account_id, reason, reason_detail, dst_ip) "
				      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", "ittittittttiiiittt");
	if (!st)
		return -1;
	db_bind_int64(st, 1, o->at);
	store_bind_text(st, 2, o->source);
	store_bind_text(st, 3, o->src_ip);
	db_bind_int64(st, 4, o->src_port);
	store_bind_text(st, 5, o->transport);
	store_bind_text(st, 6, o->registrar);
	db_bind_int64(st, 7, o->port);
	store_bind_text(st, 8, o->username);
	store_bind_text(st, 9, o->auth_username);
	store_bind_text(st, 10, o->user_agent);
	store_bind_text(st, 11, o->contact);
	db_bind_int64(st, 12, o->expires);
	db_bind_int64(st, 13, o->code);
	if (device_id)
		db_bind_int64(st, 14, device_id);
	else
		db_bind_null(st, 14);
	if (account_id)
		db_bind_int64(st, 15, account_id);
	else
		db_bind_null(st, 15);
	store_bind_text(st, 16, o->reason);
	store_bind_text(st, 17, o->reason_detail);
	store_bind_text(st, 18, o->dst_ip);
	return store_batch_add(s, st);
}

static bool is_unknown(int64_t device_id, int64_t account_id, const char *kind)
{
	return !device_id && !account_id && !strcmp(kind, "unknown_user");
}

static void bind_id(struct dbst *st, int i, int64_t id)
{
	if (id)
		db_bind_int64(st, i, id);
	else
		db_bind_null(st, i);
}

int store_drift_open(struct store *s, int64_t device_id, int64_t account_id, const char *kind,
		     const char *expected, const char *observed, int64_t now, int *is_new)
{
	/* "IS" so that NULL device/account (unknown_user) compare equal.  The
	 * unknown_user case spells its conditions out so that the partial
	 * index drift_unknown_open (schema 003) applies; the other parameters
	 * stay bound (and true) so both statements take the same bindings. */
	struct dbst *st = is_unknown(device_id, account_id, kind)
		? store_stmt(s, "UPDATE drift_event SET last_seen = ?1, count = count + 1, expected = ?2, "
			     "observed = ?3 WHERE device_id IS NULL AND account_id IS NULL AND kind = 'unknown_user' "
			     "AND resolved = 0 AND observed = ?3 AND ?4 IS NULL AND ?5 IS NULL AND ?6 = kind")
		: store_stmt(s, "UPDATE drift_event SET last_seen = ?1, count = count + 1, "
			     "expected = ?2, observed = ?3 WHERE device_id IS ?4 AND account_id IS ?5 "
			     "AND kind = ?6 AND resolved = 0 AND (?6 <> 'unknown_user' OR observed = ?3)");
	if (!st)
		return -1;
	db_bind_int64(st, 1, now);
	store_bind_text(st, 2, expected);
	store_bind_text(st, 3, observed);
	bind_id(st, 4, device_id);
	bind_id(st, 5, account_id);
	store_bind_text(st, 6, kind);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	if (db_changes(store_db(s)) > 0) {
		*is_new = 0;
		return 0;
	}
	*is_new = 1;
	return store_drift_insert(s, device_id, account_id, kind, expected, observed, now);
}

static int count_one(struct store *s, struct dbst *st, long *n)
{
	int rc = db_step(st);
	*n = rc == DB_ROW ? (long)db_col_int64(st, 0) : 0;
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}

int store_drift_unknown_open(struct store *s, const char *observed, const char *src_ip, int64_t now,
			     long per_source, long max, enum store_unknown_outcome *outcome)
{
	long n;
	/* The bump half of store_drift_open: an open event only grows its count. */
	struct dbst *st = store_stmt(s, "UPDATE drift_event SET last_seen = ?1, count = count + 1 "
				      "WHERE device_id IS NULL AND account_id IS NULL AND kind = 'unknown_user' "
				      "AND resolved = 0 AND observed = ?2");
	if (!st)
		return -1;
	db_bind_int64(st, 1, now);
	store_bind_text(st, 2, observed);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	if (db_changes(store_db(s)) > 0) {
		*outcome = STORE_UNKNOWN_BUMPED;
		return 0;
	}
	/* Both counts walk a partial index of open unknown_user rows only
	 * (schema 003 and 007), at most max entries. */
	st = store_stmt(s, "SELECT count(*) FROM drift_event WHERE device_id IS NULL AND kind = 'unknown_user' "
			"AND resolved = 0 AND src_ip = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, src_ip);
	if (count_one(s, st, &n) < 0)
		return -1;
	if (n >= per_source) {
		*outcome = STORE_UNKNOWN_CAP_SOURCE;
		return 0;
	}
	st = store_stmt(s, "SELECT count(*) FROM drift_event INDEXED BY drift_unknown_open WHERE device_id IS NULL "
			"AND kind = 'unknown_user' AND resolved = 0");
	if (!st || count_one(s, st, &n) < 0)
		return -1;
	if (n >= max) {
		*outcome = STORE_UNKNOWN_CAP_TOTAL;
		return 0;
	}
	st = store_stmt(s, "INSERT INTO drift_event (device_id, account_id, kind, expected, observed, src_ip, "
			"first_seen, last_seen) VALUES (NULL, NULL, 'unknown_user', '', ?1, ?2, ?3, ?3)");
	if (!st)
		return -1;
	store_bind_text(st, 1, observed);
	store_bind_text(st, 2, src_ip);
	db_bind_int64(st, 3, now);
	*outcome = STORE_UNKNOWN_OPENED;
	return store_exec_stmt(s, st, NULL, 0);
}

int store_drift_unknown_any(struct store *s)
{
	/* The partial index of open unknown_user rows (schema 003). */
	struct dbst *st = store_stmt(s, "SELECT 1 FROM drift_event WHERE device_id IS NULL AND kind = 'unknown_user' "
				      "AND resolved = 0 LIMIT 1");
	if (!st)
		return -1;
	int rc = db_step(st);
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_drift_insert(struct store *s, int64_t device_id, int64_t account_id, const char *kind,
		       const char *expected, const char *observed, int64_t now)
{
	struct dbst *st = store_stmt(s, "INSERT INTO drift_event (device_id, account_id, kind, expected, "
				      "observed, first_seen, last_seen) VALUES (?,?,?,?,?,?,?)");
	if (!st)
		return -1;
	bind_id(st, 1, device_id);
	bind_id(st, 2, account_id);
	store_bind_text(st, 3, kind);
	store_bind_text(st, 4, expected);
	store_bind_text(st, 5, observed);
	db_bind_int64(st, 6, now);
	db_bind_int64(st, 7, now);
	return store_exec_stmt(s, st, NULL, 0);
}

int store_drift_open_list(struct store *s, int64_t device_id, int64_t account_id, struct drift_event *ev,
			  size_t max, size_t *n)
{
	/* drift_open (device_id, kind, resolved) narrows to the device; the
	 * account is checked on the few open rows.  No ORDER BY: it cost a
	 * temporary b-tree per observation; the caller orders by id. */
	struct dbst *st = store_stmt(s, "SELECT id, kind, expected, observed, count, first_seen FROM drift_event "
				      "WHERE device_id = ?1 AND resolved = 0 AND account_id IS ?2");
	int rc;
	*n = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	bind_id(st, 2, account_id);
	while ((rc = db_step(st)) == DB_ROW) {
		if (*n == max) {
			rc = DB_ROW;
			break;
		}
		struct drift_event *e = &ev[(*n)++];
		memset(e, 0, sizeof(*e));
		e->id = db_col_int64(st, 0);
		e->device_id = device_id;
		e->account_id = account_id;
		store_col_text(st, 1, e->kind, sizeof(e->kind));
		store_col_text(st, 2, e->expected, sizeof(e->expected));
		store_col_text(st, 3, e->observed, sizeof(e->observed));
		e->count = (long)db_col_int64(st, 4);
		e->first_seen = db_col_int64(st, 5);
	}
	db_reset(st);
	if (rc == DB_ROW)
		return 1;
	return rc == DB_DONE ? 0 : -1;
}

int store_drift_bump(struct store *s, int64_t id, const char *expected, const char *observed, int64_t now)
{
	struct dbst *st = store_stmt(s, "UPDATE drift_event SET last_seen = ?, count = count + 1, expected = ?, "
				      "observed = ? WHERE id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, now);
	store_bind_text(st, 2, expected);
	store_bind_text(st, 3, observed);
	db_bind_int64(st, 4, id);
	return store_exec_stmt(s, st, NULL, 0);
}

int store_drift_resolve_id(struct store *s, int64_t id, int64_t now)
{
	struct dbst *st = store_stmt(s, "UPDATE drift_event SET resolved = ? WHERE id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, now);
	db_bind_int64(st, 2, id);
	return store_exec_stmt(s, st, NULL, 0);
}

int store_drift_resolve(struct store *s, int64_t device_id, int64_t account_id, const char *kind,
			const char *observed, int64_t now, struct drift_event *ev)
{
	/* SELECT then UPDATE by id: usually nothing is open, and UPDATE ...
	 * RETURNING would build a temporary table on every call. */
	struct dbst *st = is_unknown(device_id, account_id, kind) && observed
		? store_stmt(s, "SELECT id, expected, observed, count, first_seen FROM drift_event "
			     "WHERE device_id IS NULL AND account_id IS NULL AND kind = 'unknown_user' AND resolved = 0 "
			     "AND observed = ?4 AND ?1 IS NULL AND ?2 IS NULL AND ?3 = kind")
		: store_stmt(s, "SELECT id, expected, observed, count, first_seen FROM drift_event "
			     "WHERE device_id IS ?1 AND account_id IS ?2 AND kind = ?3 AND resolved = 0 "
			     "AND (?4 IS NULL OR observed = ?4)");
	int64_t ids[8];
	int rc, n = 0;
	if (!st)
		return -1;
	bind_id(st, 1, device_id);
	bind_id(st, 2, account_id);
	store_bind_text(st, 3, kind);
	if (observed)
		store_bind_text(st, 4, observed);
	while ((rc = db_step(st)) == DB_ROW && n < 8) {
		if (ev && n == 0) {
			memset(ev, 0, sizeof(*ev));
			ev->id = db_col_int64(st, 0);
			store_col_text(st, 1, ev->expected, sizeof(ev->expected));
			store_col_text(st, 2, ev->observed, sizeof(ev->observed));
			ev->count = db_col_int64(st, 3);
			ev->first_seen = db_col_int64(st, 4);
			ev->resolved = now;
			sp_strlcpy(ev->kind, kind, sizeof(ev->kind));
		}
		ids[n++] = db_col_int64(st, 0);
	}
	db_reset(st);
	if (rc != DB_DONE && rc != DB_ROW)
		return -1;
	for (int i = 0; i < n; i++)
		if (store_drift_resolve_id(s, ids[i], now) < 0)
			return -1;
	return n > 0;
}

int store_account_set_code(struct store *s, int64_t account_id, long code, int64_t at)
{
	/* A batch keyed by the account (one observation after another may
	 * name it; the last one's code stays, as row by row): on PostgreSQL
	 * one round trip at the commit for the intake batch's accounts.
	 * Intake reads no account's last code back before. */
	struct dbst *st = store_batch(s, "UPDATE account SET last_code = ?, last_code_at = ? WHERE id = ?", "iiI");
	if (!st)
		return -1;
	db_bind_int64(st, 1, code);
	db_bind_int64(st, 2, at);
	db_bind_int64(st, 3, account_id);
	return store_batch_add(s, st);
}

int store_account_find(struct store *s, const char *v, int by_auth,
		       int (*fn)(int64_t account_id, int64_t device_id, void *), void *arg)
{
	struct dbst *st = store_stmt(s, by_auth ? "SELECT id, device_id FROM account WHERE auth_username = ? "
						   "ORDER BY id LIMIT 64"
						 : "SELECT id, device_id FROM account WHERE username = ? "
						   "ORDER BY id LIMIT 64");
	int rc;
	if (!st)
		return -1;
	store_bind_text(st, 1, v);
	/* Collect first: fn may use the store (and this cached statement). */
	int64_t ids[64][2];
	size_t n = 0;
	while ((rc = db_step(st)) == DB_ROW && n < 64) {
		ids[n][0] = db_col_int64(st, 0);
		ids[n][1] = db_col_int64(st, 1);
		n++;
	}
	db_reset(st);
	if (rc != DB_DONE && rc != DB_ROW)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (fn(ids[i][0], ids[i][1], arg))
			break;
	return 0;
}

int store_drift_each(struct store *s, int64_t tenant_id, int open_only,
		     int (*fn)(const struct drift_event *, void *), void *arg)
{
	struct dbst *st;
	struct drift_event ev;
	int rc;
	/* Not cached: fn may call back into the store. */
	if (!(st = db_prepare(store_db(s),
			      "SELECT e.id, coalesce(e.device_id,0), coalesce(e.account_id,0), coalesce(d.mac,''), "
			      "coalesce(a.line,0), coalesce(t.slug,''), e.kind, e.expected, e.observed, "
			      "e.first_seen, e.last_seen, e.resolved, e.count FROM drift_event e "
			      "LEFT JOIN device d ON d.id = e.device_id LEFT JOIN account a ON a.id = e.account_id "
			      "LEFT JOIN tenant t ON t.id = d.tenant_id "
			      "WHERE (?1 = 0 OR d.tenant_id = ?1) AND (?2 = 0 OR e.resolved = 0) "
			      "ORDER BY e.last_seen DESC, e.id DESC", false)))
		return -1;
	db_bind_int64(st, 1, tenant_id);
	db_bind_int64(st, 2, open_only);
	while ((rc = db_step(st)) == DB_ROW) {
		memset(&ev, 0, sizeof(ev));
		ev.id = db_col_int64(st, 0);
		ev.device_id = db_col_int64(st, 1);
		ev.account_id = db_col_int64(st, 2);
		store_col_text(st, 3, ev.mac, sizeof(ev.mac));
		ev.line = db_col_int64(st, 4);
		store_col_text(st, 5, ev.tenant, sizeof(ev.tenant));
		store_col_text(st, 6, ev.kind, sizeof(ev.kind));
		store_col_text(st, 7, ev.expected, sizeof(ev.expected));
		store_col_text(st, 8, ev.observed, sizeof(ev.observed));
		ev.first_seen = db_col_int64(st, 9);
		ev.last_seen = db_col_int64(st, 10);
		ev.resolved = db_col_int64(st, 11);
		ev.count = db_col_int64(st, 12);
		if (fn(&ev, arg))
			break;
	}
	db_finalize(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_drift_open_counts(struct store *s, void (*fn)(const char *kind, long n, void *), void *arg)
{
	struct dbst *st = store_stmt(s, "SELECT kind, count(*) FROM drift_event WHERE resolved = 0 "
				      "GROUP BY kind ORDER BY kind");
	char kind[32];
	int rc;
	if (!st)
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		store_col_text(st, 0, kind, sizeof(kind));
		fn(kind, (long)db_col_int64(st, 1), arg);
	}
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}

int store_drift_open_count_device(struct store *s, int64_t device_id, long *n)
{
	struct dbst *st = store_stmt(s, "SELECT count(*) FROM drift_event WHERE device_id = ? AND resolved = 0");
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	int rc = db_step(st);
	*n = rc == DB_ROW ? (long)db_col_int64(st, 0) : 0;
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}

int store_registration_last(struct store *s, int64_t device_id, struct observation *o)
{
	struct dbst *st = store_stmt(s, "SELECT at, source, src_ip, src_port, transport, registrar, port, "
				      "username, auth_username, user_agent, contact, expires, code, reason, reason_detail "
				      "FROM registration WHERE device_id = ? ORDER BY at DESC, id DESC LIMIT 1");
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	int rc = db_step(st);
	if (rc == DB_ROW) {
		memset(o, 0, sizeof(*o));
		o->at = db_col_int64(st, 0);
		store_col_text(st, 1, o->source, sizeof(o->source));
		store_col_text(st, 2, o->src_ip, sizeof(o->src_ip));
		o->src_port = (long)db_col_int64(st, 3);
		store_col_text(st, 4, o->transport, sizeof(o->transport));
		store_col_text(st, 5, o->registrar, sizeof(o->registrar));
		o->port = (long)db_col_int64(st, 6);
		store_col_text(st, 7, o->username, sizeof(o->username));
		store_col_text(st, 8, o->auth_username, sizeof(o->auth_username));
		store_col_text(st, 9, o->user_agent, sizeof(o->user_agent));
		store_col_text(st, 10, o->contact, sizeof(o->contact));
		o->expires = (long)db_col_int64(st, 11);
		o->code = (int)db_col_int64(st, 12);
		store_col_text(st, 13, o->reason, sizeof(o->reason));
		store_col_text(st, 14, o->reason_detail, sizeof(o->reason_detail));
	}
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

/*
 * One savepoint per observation, so a failed one costs only itself.  On
 * PostgreSQL each statement is a round trip: a successful observation's
 * RELEASE waits and goes with the next observation's SAVEPOINT as one
 * simple query (two commands, one round trip); COMMIT releases a savepoint
 * still held, ROLLBACK drops it.  On SQLite they stay two cheap statements
 * (sqlite3_prepare compiles only a text's first command).
 */
int store_drift_sp_begin(struct store *s)
{
	bool *held = store_sp_held(s);
	struct dbst *st;
	store_batch_mark(s);
	if (*held && db_in_tx(store_db(s))) {
		*held = false;
		st = store_stmt(s, "RELEASE drift_obs; SAVEPOINT drift_obs");
	} else {
		*held = false;
		st = store_stmt(s, "SAVEPOINT drift_obs");
	}
	return st ? store_exec_stmt(s, st, NULL, 0) : -1;
}

int store_drift_sp_end(struct store *s, int ok)
{
	struct dbst *st;
	if (ok && db_kind(store_db(s)) == DB_PG) {
		*store_sp_held(s) = true;
		return 0;
	}
	if (!ok) {
		store_batch_back(s);
		st = store_stmt(s, "ROLLBACK TO drift_obs");
		if (st)
			store_exec_stmt(s, st, NULL, 0);
	}
	st = store_stmt(s, "RELEASE drift_obs");
	return st ? store_exec_stmt(s, st, NULL, 0) : -1;
}

int store_drift_intake_tune(struct store *s)
{
	/* Intake dirties a few random pages per observation (account row,
	 * both registration indexes, drift rows).  With SQLite's 2 MiB
	 * default cache a 512-observation batch spilled mid-transaction and
	 * re-read pages with pread; and every batch's WAL passed the default
	 * 1000-page auto-checkpoint, so each commit also ran a checkpoint
	 * (two fdatasyncs, every page copied once per batch).  A 32 MiB cache
	 * and a checkpoint every 16384 pages (64 MiB of WAL; the file is
	 * reused, not grown, after each checkpoint) let pages dirtied by many
	 * batches be written back once.  This connection only. */
	if (db_kind(store_db(s)) == DB_PG)
		return 0;   /* the server's cache and checkpoints: nothing per connection */
	return store_pragma(s, "PRAGMA cache_size = -32768") < 0 || store_pragma(s, "PRAGMA wal_autocheckpoint = 16384") < 0
		       ? -1 : 0;
}

int store_device_fetched(struct store *s, int64_t device_id, int64_t *fetched_at, long *fetched_version)
{
	struct dbst *st = store_stmt(s, "SELECT fetched_at, fetched_version FROM device_fetch WHERE device_id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	int rc = db_step(st);
	if (rc == DB_ROW) {
		*fetched_at = db_col_int64(st, 0);
		*fetched_version = (long)db_col_int64(st, 1);
	}
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_drift_autocommit(struct store *s)
{
	return !db_in_tx(store_db(s));
}

/* ---- intake per batch (drift_record_many) ---- */

int store_account_find_many(struct store *s, const char *users, const char *auths,
			    int (*fn)(int64_t account_id, int64_t device_id, const char *username,
				      const char *auth_username, void *), void *arg)
{
	/* Both indexes (account_username, account_auth_username), one pass. */
	struct dbst *st = store_stmt(s, "SELECT id, device_id, username, auth_username FROM account "
				      "WHERE username IN (SELECT value FROM json_each(?1)) "
				      "OR auth_username IN (SELECT value FROM json_each(?2)) ORDER BY id");
	int rc;
	if (!st)
		return -1;
	store_bind_text(st, 1, users ? users : "[]");
	store_bind_text(st, 2, auths ? auths : "[]");
	while ((rc = db_step(st)) == DB_ROW) {
		const char *u = db_col_text(st, 2), *a = db_col_text(st, 3);
		if (fn(db_col_int64(st, 0), db_col_int64(st, 1), u ? u : "", a ? a : "", arg))
			break;
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_device_fetched_many(struct store *s, const char *ids,
			      int (*fn)(int64_t device_id, int64_t fetched_at, long fetched_version, void *),
			      void *arg)
{
	struct dbst *st = store_stmt(s, "SELECT device_id, fetched_at, fetched_version FROM device_fetch "
				      "WHERE device_id IN (SELECT value FROM json_each(?1)) ORDER BY device_id");
	int rc;
	if (!st)
		return -1;
	store_bind_text(st, 1, ids);
	while ((rc = db_step(st)) == DB_ROW)
		if (fn(db_col_int64(st, 0), db_col_int64(st, 1), (long)db_col_int64(st, 2), arg))
			break;
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_drift_open_many(struct store *s, const char *ids, int (*fn)(const struct drift_event *, void *),
			  void *arg)
{
	/* drift_open (device_id, kind, resolved), one probe per device. */
	struct dbst *st = store_stmt(s, "SELECT id, device_id, account_id, kind, expected, observed, count, "
				      "first_seen, last_seen FROM drift_event "
				      "WHERE device_id IN (SELECT value FROM json_each(?1)) AND resolved = 0 ORDER BY id");
	struct drift_event e;
	int rc;
	if (!st)
		return -1;
	store_bind_text(st, 1, ids);
	while ((rc = db_step(st)) == DB_ROW) {
		memset(&e, 0, sizeof(e));
		e.id = db_col_int64(st, 0);
		e.device_id = db_col_int64(st, 1);
		e.account_id = db_col_int64(st, 2);
		store_col_text(st, 3, e.kind, sizeof(e.kind));
		store_col_text(st, 4, e.expected, sizeof(e.expected));
		store_col_text(st, 5, e.observed, sizeof(e.observed));
		e.count = (long)db_col_int64(st, 6);
		e.first_seen = db_col_int64(st, 7);
		e.last_seen = db_col_int64(st, 8);
		if (fn(&e, arg))
			break;
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_drift_unknown_many(struct store *s, const char *labels,
			     int (*fn)(const struct drift_event *, const char *src_ip, void *), void *arg)
{
	/* The rows store_drift_unknown_open bumps and store_drift_resolve
	 * resolves for these labels (the partial index drift_unknown_open). */
	struct dbst *st = store_stmt(s, "SELECT id, expected, observed, count, first_seen, last_seen, src_ip "
				      "FROM drift_event WHERE device_id IS NULL AND account_id IS NULL "
				      "AND kind = 'unknown_user' AND resolved = 0 "
				      "AND observed IN (SELECT value FROM json_each(?1)) ORDER BY id");
	struct drift_event e;
	char src[64];
	int rc;
	if (!st)
		return -1;
	store_bind_text(st, 1, labels);
	while ((rc = db_step(st)) == DB_ROW) {
		memset(&e, 0, sizeof(e));
		e.id = db_col_int64(st, 0);
		sp_strlcpy(e.kind, "unknown_user", sizeof(e.kind));
		store_col_text(st, 1, e.expected, sizeof(e.expected));
		store_col_text(st, 2, e.observed, sizeof(e.observed));
		e.count = (long)db_col_int64(st, 3);
		e.first_seen = db_col_int64(st, 4);
		e.last_seen = db_col_int64(st, 5);
		store_col_text(st, 6, src, sizeof(src));
		if (fn(&e, src, arg))
			break;
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_drift_unknown_counts(struct store *s, const char *srcs, void (*fn)(const char *src_ip, long n, void *),
			       void *arg, long *total)
{
	/* The counts of store_drift_unknown_open, for many sources at once. */
	struct dbst *st = store_stmt(s, "SELECT src_ip, count(*) FROM drift_event WHERE device_id IS NULL "
				      "AND kind = 'unknown_user' AND resolved = 0 "
				      "AND src_ip IN (SELECT value FROM json_each(?1)) GROUP BY src_ip");
	char src[64];
	int rc;
	if (!st)
		return -1;
	store_bind_text(st, 1, srcs);
	while ((rc = db_step(st)) == DB_ROW) {
		store_col_text(st, 0, src, sizeof(src));
		fn(src, (long)db_col_int64(st, 1), arg);
	}
	db_reset(st);
	if (rc != DB_DONE)
		return -1;
	st = store_stmt(s, "SELECT count(*) FROM drift_event INDEXED BY drift_unknown_open WHERE device_id IS NULL "
			"AND kind = 'unknown_user' AND resolved = 0");
	return st ? count_one(s, st, total) : -1;
}

int store_drift_put_new(struct store *s, const struct drift_event *ev, const char *src_ip)
{
	struct dbst *st = store_batch(s, "INSERT INTO drift_event (device_id, account_id, kind, expected, observed, "
				      "src_ip, first_seen, last_seen, count, resolved) VALUES (?,?,?,?,?,?,?,?,?,?)",
				      "iittttiiii");
	if (!st)
		return -1;
	bind_id(st, 1, ev->device_id);
	bind_id(st, 2, ev->account_id);
	store_bind_text(st, 3, ev->kind);
	store_bind_text(st, 4, ev->expected);
	store_bind_text(st, 5, ev->observed);
	store_bind_text(st, 6, src_ip ? src_ip : "");
	db_bind_int64(st, 7, ev->first_seen);
	db_bind_int64(st, 8, ev->last_seen);
	db_bind_int64(st, 9, ev->count);
	db_bind_int64(st, 10, ev->resolved);
	return store_batch_add(s, st);
}

int store_drift_put_bump(struct store *s, const struct drift_event *ev)
{
	/* Absolute values, decided in memory: a keyed batch applies the last
	 * row added for an id, so count = count + 1 could be lost. */
	struct dbst *st = store_batch(s, "UPDATE drift_event SET last_seen = ?, count = ?, expected = ?, observed = ? "
				      "WHERE id = ?", "iittI");
	if (!st)
		return -1;
	db_bind_int64(st, 1, ev->last_seen);
	db_bind_int64(st, 2, ev->count);
	store_bind_text(st, 3, ev->expected);
	store_bind_text(st, 4, ev->observed);
	db_bind_int64(st, 5, ev->id);
	return store_batch_add(s, st);
}

int store_drift_put_resolved(struct store *s, int64_t id, int64_t resolved)
{
	struct dbst *st = store_batch(s, "UPDATE drift_event SET resolved = ? WHERE id = ?", "iI");
	if (!st)
		return -1;
	db_bind_int64(st, 1, resolved);
	db_bind_int64(st, 2, id);
	return store_batch_add(s, st);
}

int store_drift_batch_sp(struct store *s, int op)
{
	struct dbst *st;
	if (op == 0) {
		/* Rows of earlier observations go first: a rollback to this
		 * savepoint then forgets only the batch's own. */
		if (store_batch_flush(s) < 0)
			return -1;
		store_batch_mark(s);
		st = store_stmt(s, "SAVEPOINT drift_batch");
	} else if (op > 0) {
		st = store_stmt(s, "RELEASE drift_batch");
	} else {
		store_batch_back(s);
		st = store_stmt(s, "ROLLBACK TO drift_batch");
	}
	return st ? store_exec_stmt(s, st, NULL, 0) : -1;
}

int store_drift_flush(struct store *s)
{
	return store_batch_flush(s);
}

bool store_drift_batched(struct store *s)
{
	return db_kind(store_db(s)) == DB_PG;
}

int store_account_lines_many(struct store *s, const char *ids,
			     int (*fn)(int64_t account_id, int64_t device_id, long line, const char *username,
				       const char *auth_username, void *), void *arg)
{
	struct dbst *st = store_stmt(s, "SELECT id, device_id, line, username, auth_username FROM account "
				      "WHERE device_id IN (SELECT value FROM json_each(?1)) ORDER BY device_id, line");
	int rc;
	if (!st)
		return -1;
	store_bind_text(st, 1, ids);
	while ((rc = db_step(st)) == DB_ROW) {
		const char *u = db_col_text(st, 3), *a = db_col_text(st, 4);
		if (fn(db_col_int64(st, 0), db_col_int64(st, 1), (long)db_col_int64(st, 2), u ? u : "", a ? a : "", arg))
			break;
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}
