/*
 * store_diag.c: the read-only queries `sipprov diagnose` and `ticket` need:
 * recent registrations, open drift events, a device's newest fetches of
 * any status (also the console's device timeline), and how many accounts
 * share a username.  It never writes; the tables are
 * filled by the drift engine and the HTTP server.
 */
#include <string.h>

#include "sipprov.h"
#include "store_int.h"

int store_diag_registrations(struct store *s, int64_t account_id, int64_t device_id, const char *username,
			     struct diag_reg *out, size_t max, size_t *n)
{
	struct dbst *st = store_stmt(s, "SELECT at, source, src_ip, src_port, transport, registrar, port, "
				      "username, auth_username, user_agent, code, reason, reason_detail, dst_ip, contact FROM registration "
				      "WHERE ((?1 <> 0 AND account_id = ?1) "
				      "OR (account_id IS NULL AND ?2 <> 0 AND device_id = ?2) "
				      "OR (account_id IS NULL AND device_id IS NULL AND ?3 <> '' AND username = ?3)) "
				      "AND source <> 'probe' ORDER BY at DESC, id DESC LIMIT ?4");
	int rc;
	*n = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, account_id);
	db_bind_int64(st, 2, device_id);
	store_bind_text(st, 3, username ? username : "");
	db_bind_int64(st, 4, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max) {
		struct diag_reg *r = &out[(*n)++];
		memset(r, 0, sizeof(*r));
		r->at = db_col_int64(st, 0);
		store_col_text(st, 1, r->source, sizeof(r->source));
		store_col_text(st, 2, r->src_ip, sizeof(r->src_ip));
		r->src_port = db_col_int64(st, 3);
		store_col_text(st, 4, r->transport, sizeof(r->transport));
		store_col_text(st, 5, r->registrar, sizeof(r->registrar));
		r->port = db_col_int64(st, 6);
		store_col_text(st, 7, r->username, sizeof(r->username));
		store_col_text(st, 8, r->auth_username, sizeof(r->auth_username));
		store_col_text(st, 9, r->user_agent, sizeof(r->user_agent));
		r->code = db_col_int64(st, 10);
		store_col_text(st, 11, r->reason, sizeof(r->reason));
		store_col_text(st, 12, r->reason_detail, sizeof(r->reason_detail));
		store_col_text(st, 13, r->dst_ip, sizeof(r->dst_ip));
		store_col_text(st, 14, r->contact, sizeof(r->contact));
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_diag_domain_served(struct store *s, const char *domain, int64_t since, struct diag_served *out,
			     size_t max, size_t *n)
{
	struct dbst *st = store_stmt(s, "SELECT dst_ip, port, count(*) FROM registration WHERE registrar = ? "
				      "AND at >= ? AND code BETWEEN 200 AND 299 AND source <> 'probe' AND dst_ip <> '' "
				      "GROUP BY dst_ip, port ORDER BY count(*) DESC, max(at) DESC LIMIT ?");
	int rc;
	*n = 0;
	if (!st)
		return -1;
	store_bind_text(st, 1, domain);
	db_bind_int64(st, 2, since);
	db_bind_int64(st, 3, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max) {
		struct diag_served *d = &out[(*n)++];
		store_col_text(st, 0, d->dst_ip, sizeof(d->dst_ip));
		d->port = db_col_int64(st, 1);
		d->count = db_col_int64(st, 2);
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_diag_drift_open(struct store *s, int64_t device_id, struct diag_drift *out, size_t max, size_t *n)
{
	struct dbst *st = store_stmt(s, "SELECT kind, expected, observed, first_seen, last_seen, count, "
				      "coalesce(account_id, 0) FROM drift_event WHERE device_id = ? "
				      "AND resolved = 0 ORDER BY last_seen DESC, id DESC LIMIT ?");
	int rc;
	*n = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	db_bind_int64(st, 2, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max) {
		struct diag_drift *d = &out[(*n)++];
		memset(d, 0, sizeof(*d));
		store_col_text(st, 0, d->kind, sizeof(d->kind));
		store_col_text(st, 1, d->expected, sizeof(d->expected));
		store_col_text(st, 2, d->observed, sizeof(d->observed));
		d->first_seen = db_col_int64(st, 3);
		d->last_seen = db_col_int64(st, 4);
		d->count = db_col_int64(st, 5);
		d->account_id = db_col_int64(st, 6);
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

/* A device's newest fetches, ?2 at most, newest first.  SQLite walks the
 * device's chain from its newest row (schema 027: no index by device);
 * PostgreSQL reads its index fetch_log_device. */
static const char FETCH_RECENT_SQLITE[] =
	"WITH RECURSIVE c(id, n) AS (SELECT fetched_log, 1 FROM device_fetch WHERE device_id = ?1 AND fetched_log > 0 "
	"UNION ALL SELECT f.prev, c.n + 1 FROM c JOIN fetch_log f ON f.id = c.id WHERE f.prev > 0 AND c.n < ?2) "
	"SELECT f.at, f.ip, f.user_agent, f.path, f.status, f.version FROM c JOIN fetch_log f ON f.id = c.id "
	"WHERE f.device_id = ?1 ORDER BY f.at DESC, f.id DESC LIMIT ?2";
static const char FETCH_RECENT_PG[] = "SELECT at, ip, user_agent, path, status, version FROM fetch_log "
				      "WHERE device_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2";

int store_fetch_recent(struct store *s, int64_t device_id, struct diag_fetch *out, size_t max, size_t *n)
{
	struct dbst *st = store_stmt(s, store_url(s) ? FETCH_RECENT_PG : FETCH_RECENT_SQLITE);
	int rc;
	*n = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	db_bind_int64(st, 2, (int64_t)max);
	while ((rc = db_step(st)) == DB_ROW && *n < max) {
		struct diag_fetch *f = &out[(*n)++];
		memset(f, 0, sizeof(*f));
		f->at = db_col_int64(st, 0);
		store_col_client(st, 1, f->ip, sizeof(f->ip));
		store_col_client(st, 2, f->user_agent, sizeof(f->user_agent));
		store_col_client(st, 3, f->path, sizeof(f->path));
		f->status = db_col_int64(st, 4);
		f->version = db_col_int64(st, 5);
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_diag_last_fetch(struct store *s, int64_t device_id, struct diag_fetch *f)
{
	size_t n;
	return store_fetch_recent(s, device_id, f, 1, &n) < 0 ? -1 : n > 0;
}

int store_diag_username_count(struct store *s, int64_t tenant_id, const char *username, long *n)
{
	struct dbst *st = store_stmt(s, "SELECT count(*) FROM account a JOIN device d ON d.id = a.device_id "
				      "WHERE d.tenant_id = ? AND a.username = ?");
	int rc;
	*n = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, tenant_id);
	store_bind_text(st, 2, username);
	rc = db_step(st);
	if (rc == DB_ROW)
		*n = db_col_int64(st, 0);
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}

int store_diag_account_changed(struct store *s, const char *object, int64_t *at, char *detail, size_t dlen)
{
	struct dbst *st = store_stmt(s, "SELECT at, detail FROM audit_log WHERE object = ? AND action IN "
				      "('account.add', 'account.set') ORDER BY at DESC, id DESC LIMIT 1");
	int rc;
	*at = 0;
	if (!st)
		return -1;
	store_bind_text(st, 1, object);
	rc = db_step(st);
	if (rc == DB_ROW) {
		*at = db_col_int64(st, 0);
		store_col_text(st, 1, detail, dlen);
	}
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_diag_intake_seen(struct store *s, int64_t since, long *n)
{
	struct dbst *st = store_stmt(s, "SELECT count(*) FROM registration WHERE at >= ? AND source <> 'probe'");
	int rc;
	*n = 0;
	if (!st)
		return -1;
	db_bind_int64(st, 1, since);
	rc = db_step(st);
	if (rc == DB_ROW)
		*n = (long)db_col_int64(st, 0);
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}
