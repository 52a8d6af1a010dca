/*
 * The fetch writer's store: each fetch's history row (fetch_log) and each
 * device's last fetch (device_fetch, and the device row's client fields),
 * written in batches by the daemon's one writer thread (http.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipprov.h"
#include "store_int.h"

/* fetch_log history and the devices' last-fetch columns, as batches: on
 * PostgreSQL one round trip each per store_fetch_batch (a row per round
 * trip managed ~600 records/s, issue 17), on SQLite the prepared-row loop. */
static void fetch_log_bind(struct dbst *st, const struct fetch_rec *r, int64_t device_id)
{
	char safe[SP_FIELD_MAX];
	sp_redact_path(r->path, safe, sizeof(safe));
	if (device_id)
		db_bind_int64(st, 1, device_id);
	else
		db_bind_null(st, 1);
	db_bind_int64(st, 2, r->at);
	store_bind_text(st, 3, r->ip);
	store_bind_text(st, 4, r->ua);
	store_bind_text(st, 5, safe);
	db_bind_int64(st, 6, r->status);
	db_bind_int64(st, 7, r->version);
	store_bind_text(st, 8, r->digest);
}

/* The last 200's address, User-Agent and digest, as device_fetch.fetched_sig
 * (schema 028): they are written to the device row only when it changes.
 * FNV-1a; never 0, which means "not known". */
static int64_t fetch_sig(const struct fetch_last *l)
{
	const char *part[3] = { l->ip, l->ua ? l->ua : "", l->digest };
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < 3; i++)
		for (const unsigned char *p = (const unsigned char *)part[i];; p++) {
			h = (h ^ *p) * 0x100000001b3ull;
			if (!*p)
				break;
		}
	return (int64_t)((h & INT64_MAX) | 1);
}

static void fetch_client_bind(struct dbst *st, const struct fetch_last *l)
{
	db_bind_int64(st, 1, l->device_id);
	store_bind_text(st, 2, l->ip);
	store_bind_text(st, 3, l->ua);
	store_bind_text(st, 4, l->digest);
}

#define FETCH_LOG_INSERT "INSERT INTO fetch_log (device_id, at, ip, user_agent, path, status, version, digest"
#define FETCH_CLIENT_UPDATE "UPDATE device SET fetched_ip = ?2, fetched_ua = ?3, fetched_digest = ?4 WHERE id = ?1"

/* The daemon's writer coalesces one entry per device (struct fetch_last):
 * no row is named twice in a batch, as db_prepare_batch requires.  The
 * device row is written only where the last fetch is newer than the one
 * kept and its signature differs (before device_fetch takes the new one). */
static int fetch_batch_pg(struct store *s, const struct fetch_rec *r, size_t n, const struct fetch_last *l,
			  size_t nl)
{
	int rc = 0;
	struct dbst *st = n ? store_batch(s, FETCH_LOG_INSERT ") VALUES (?,?,?,?,?,?,?,?)", "iitttiit") : NULL;
	if (n && !st)
		rc = -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		fetch_log_bind(st, &r[i], r[i].device_id);
		rc = store_batch_add(s, st);
	}
	st = nl && rc == 0 ? store_batch(s, FETCH_CLIENT_UPDATE " AND EXISTS (SELECT 1 FROM device_fetch f "
					 "WHERE f.device_id = ?1 AND f.fetched_sig <> ?5 AND f.fetched_at <= ?6)",
					 "Itttii") : NULL;
	if (nl && rc == 0 && !st)
		rc = -1;
	for (size_t i = 0; i < nl && rc == 0; i++) {
		fetch_client_bind(st, &l[i]);
		db_bind_int64(st, 5, fetch_sig(&l[i]));
		db_bind_int64(st, 6, l[i].at);
		rc = store_batch_add(s, st);
	}
	st = nl && rc == 0 ? store_batch(s, "UPDATE device_fetch SET fetched_at = ?2, fetched_version = ?3, "
					 "fetched_sig = ?4 WHERE device_id = ?1 AND fetched_at <= ?2", "Iiii") : NULL;
	if (nl && rc == 0 && !st)
		rc = -1;
	for (size_t i = 0; i < nl && rc == 0; i++) {
		db_bind_int64(st, 1, l[i].device_id);
		db_bind_int64(st, 2, l[i].at);
		db_bind_int64(st, 3, l[i].version);
		db_bind_int64(st, 4, fetch_sig(&l[i]));
		rc = store_batch_add(s, st);
	}
	return rc;
}

/* SQLite keeps a device's history as a chain (schema 027): each fetch_log
 * row names the device's previous row (prev) and device_fetch (schema 028)
 * its newest (fetched_log), instead of an index by device, which put every
 * fetch in a random page of an index as large as the history.  A batch is
 * written in two passes:
 * - the devices, in id order: each device_fetch row read once (its chain
 *   head, its last fetch) and written once (the new head, and the last
 *   fetch of a 200), so no page is read or dirtied twice in a transaction;
 *   the device row only when the 200's signature changed;
 * - the history, appended with the ids it will take (the writer is the
 *   only one inserting it, in this write transaction), each row linked to
 *   the device's previous one.
 * A device deleted while its fetch waited in the queue has no device_fetch
 * row, and its history rows name no device (its id may be given again). */
struct chain_dev {
	int64_t device_id;
	int64_t head;                   /* newest row: before the batch, then as rows are linked */
	int64_t newest;                 /* the batch's newest row of the device, 0 none */
	const struct fetch_last *last;  /* its 200, if any */
	bool gone;
};

static struct chain_dev *chain_find(struct chain_dev *t, size_t mask, int64_t device_id)
{
	size_t i = ((uint64_t)device_id * 0x9e3779b97f4a7c15ull) >> 32 & mask;
	while (t[i].device_id && t[i].device_id != device_id)
		i = (i + 1) & mask;
	t[i].device_id = device_id;
	return &t[i];
}

static int chain_by_id(const void *a, const void *b)
{
	int64_t x = ((const struct chain_dev *)a)->device_id, y = ((const struct chain_dev *)b)->device_id;
	return (x > y) - (x < y);
}

static int chain_device(struct store *s, struct chain_dev *d)
{
	struct dbst *st = store_stmt(s, "SELECT fetched_log, fetched_at, fetched_version, fetched_sig "
				      "FROM device_fetch WHERE device_id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, d->device_id);
	int rc = db_step(st);
	d->gone = rc == DB_DONE;
	d->head = rc == DB_ROW ? db_col_int64(st, 0) : 0;
	int64_t at = rc == DB_ROW ? db_col_int64(st, 1) : 0, version = rc == DB_ROW ? db_col_int64(st, 2) : 0;
	int64_t sig = rc == DB_ROW ? db_col_int64(st, 3) : 0;
	db_reset(st);
	if (rc != DB_ROW)
		return rc == DB_DONE ? 0 : -1;
	const struct fetch_last *l = d->last && d->last->at >= at ? d->last : NULL;
	if (!d->newest && !l)
		return 0;
	if (l) {
		int64_t lsig = fetch_sig(l);
		if (lsig != sig) {
			if (!(st = store_stmt(s, FETCH_CLIENT_UPDATE)))
				return -1;
			fetch_client_bind(st, l);
			if (store_exec_stmt(s, st, NULL, 0) < 0)
				return -1;
		}
		at = l->at, version = l->version, sig = lsig;
	}
	if (!(st = store_stmt(s, "UPDATE device_fetch SET fetched_log = ?2, fetched_at = ?3, fetched_version = ?4, "
			      "fetched_sig = ?5 WHERE device_id = ?1")))
		return -1;
	db_bind_int64(st, 1, d->device_id);
	db_bind_int64(st, 2, d->newest ? d->newest : d->head);
	db_bind_int64(st, 3, at);
	db_bind_int64(st, 4, version);
	db_bind_int64(st, 5, sig);
	return store_exec_stmt(s, st, NULL, 0) < 0 ? -1 : 0;
}

static int fetch_batch_sqlite(struct store *s, const struct fetch_rec *r, size_t n, const struct fetch_last *l,
			      size_t nl)
{
	size_t slots = 4;
	while (slots < 2 * (n + nl))
		slots *= 2;
	struct chain_dev *t = xcalloc(slots, sizeof(*t));
	int64_t base = 1;
	int rc = -1;
	struct dbst *st = store_stmt(s, "SELECT coalesce(max(id), 0) + 1 FROM fetch_log");
	if (!st || db_step(st) != DB_ROW)
		goto out;
	base = db_col_int64(st, 0);
	db_reset(st);
	for (size_t i = 0; i < n; i++)
		if (r[i].device_id)
			chain_find(t, slots - 1, r[i].device_id)->newest = base + (int64_t)i;
	for (size_t i = 0; i < nl; i++)
		chain_find(t, slots - 1, l[i].device_id)->last = &l[i];
	/* The devices sorted by id (their rows read in file order), then
	 * found by bisection while the history is linked. */
	size_t nd = 0;
	for (size_t i = 0; i < slots; i++)
		if (t[i].device_id)
			t[nd++] = t[i];
	qsort(t, nd, sizeof(*t), chain_by_id);
	for (size_t i = 0; i < nd; i++)
		if (chain_device(s, &t[i]) < 0)
			goto out;
	st = n ? store_stmt(s, FETCH_LOG_INSERT ", prev, id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)") : NULL;
	if (n && !st)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct chain_dev *d = NULL;
		if (r[i].device_id) {
			struct chain_dev key = { .device_id = r[i].device_id };
			d = bsearch(&key, t, nd, sizeof(*t), chain_by_id);
		}
		fetch_log_bind(st, &r[i], d && !d->gone ? d->device_id : 0);
		db_bind_int64(st, 9, d && !d->gone ? d->head : 0);
		db_bind_int64(st, 10, base + (int64_t)i);
		if (store_exec_stmt(s, st, NULL, 0) < 0)
			goto out;
		if (d && !d->gone)
			d->head = base + (int64_t)i;
	}
	rc = 0;
out:
	free(t);
	return rc;
}
#undef FETCH_LOG_INSERT
#undef FETCH_CLIENT_UPDATE

int store_fetch_batch(struct store *s, const struct fetch_rec *r, size_t n, const struct fetch_last *l,
		      size_t nl)
{
	if (store_begin(s) < 0)
		return -1;
	if ((store_url(s) ? fetch_batch_pg(s, r, n, l, nl) : fetch_batch_sqlite(s, r, n, l, nl)) == 0 &&
	    store_commit(s) == 0)
		return 0;
	store_rollback(s);
	return -1;
}

/* One fetch, in the caller's transaction or its own statements (on
 * PostgreSQL its batches sent at once, not left for a COMMIT). */
int store_fetch_record(struct store *s, int64_t device_id, const char *ip, const char *ua,
		       const char *path, int status, long version, const char *digest)
{
	struct fetch_rec r = { .device_id = device_id, .at = sp_now(), .status = status, .version = version,
			       .ua = ua, .path = path };
	struct fetch_last l = { .device_id = device_id, .at = r.at, .version = version, .ua = ua };
	sp_strlcpy(r.ip, ip, sizeof(r.ip));
	sp_strlcpy(r.digest, digest, sizeof(r.digest));
	sp_strlcpy(l.ip, ip, sizeof(l.ip));
	sp_strlcpy(l.digest, digest, sizeof(l.digest));
	size_t nl = status == 200 && device_id ? 1 : 0;
	if (store_url(s))
		return fetch_batch_pg(s, &r, 1, &l, nl) == 0 ? store_batch_flush(s) : -1;
	return fetch_batch_sqlite(s, &r, 1, &l, nl);
}
