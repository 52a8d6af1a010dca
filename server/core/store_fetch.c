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
 * fetch in a random page of an index as large as the history.
 *
 * Under load the writer keeps what it changed in device_fetch (chain
 * heads, last fetches) in memory and writes it there every FLUSH_MS, or
 * when KEPT_MAX devices wait, in device id order: each page once for all
 * its devices' fetches in that time.  Writing it with every batch (about
 * four a second) rewrote most of device_fetch each time on a
 * 1,000,000-device file: 20 MB of WAL per batch, a third of the big mix's
 * throughput.  A light batch (fewer than LIGHT records: an idle or
 * lightly used daemon) writes it at once, and so does the writer before
 * it waits for more (store_fetch_flush), so readers see a last fetch
 * within FLUSH_MS under load and at once otherwise.  The history rows of
 * a batch are written with it, as before: a crash loses what was kept
 * (at most FLUSH_MS of last fetches), and the next writer re-links the
 * heads from those rows (fetch_recover).
 *
 * A batch, in two passes:
 * - the devices, in id order: each one's device_fetch row taken from
 *   memory, else read (once); a changed 200 signature writes the device
 *   row's client fields at once (rare: a phone that moved or changed);
 * - the history, appended with the ids it will take (the writer is the
 *   only one inserting it, in this write transaction), each row linked to
 *   the device's previous one.
 * A device deleted while its fetch waited in the queue has no device_fetch
 * row, and its history rows name no device (its id may be given again). */
#define KEPT_SLOTS 131072       /* a power of two: at most KEPT_MAX used */
#define KEPT_MAX   65536        /* devices held; about 5 MB */
#define FLUSH_MS   2000
#define LIGHT      512

struct chain_dev {
	int64_t device_id;
	int64_t head;                   /* newest row: before the batch, then as rows are linked */
	int64_t at, version, sig;       /* the last 200 (device_fetch's row) */
	const struct fetch_last *last;  /* the batch's 200, if any */
	bool gone, changed;
};

struct fetch_kept {
	struct chain_dev *slot;         /* KEPT_SLOTS, device_id 0 = empty; all changed */
	size_t n;
	int64_t flushed_ms;             /* sp_mono_ms of the last write */
	long interval_ms;               /* FLUSH_MS, or store_fetch_interval's */
	bool recovered;                 /* fetch_recover ran (in a committed batch) */
};

static struct fetch_kept *fetch_kept_get(struct store *s)
{
	struct fetch_kept **kp = store_fetch_kept(s);
	if (!*kp) {
		*kp = xcalloc(1, sizeof(**kp));
		(*kp)->slot = xcalloc(KEPT_SLOTS, sizeof(*(*kp)->slot));
		(*kp)->flushed_ms = sp_mono_ms();
		(*kp)->interval_ms = FLUSH_MS;
	}
	return *kp;
}

static struct chain_dev *chain_find(struct chain_dev *t, size_t mask, int64_t device_id, bool add)
{
	size_t i = ((uint64_t)device_id * 0x9e3779b97f4a7c15ull) >> 32 & mask;
	while (t[i].device_id && t[i].device_id != device_id)
		i = (i + 1) & mask;
	if (!t[i].device_id && !add)
		return NULL;
	t[i].device_id = device_id;
	return &t[i];
}

static int chain_by_id(const void *a, const void *b)
{
	int64_t x = ((const struct chain_dev *)a)->device_id, y = ((const struct chain_dev *)b)->device_id;
	return (x > y) - (x < y);
}

void fetch_kept_free(struct fetch_kept *k)
{
	if (k)
		free(k->slot);
	free(k);
}

/* d's device_fetch row: what the writer keeps, else the file's. */
static int chain_load(struct store *s, struct fetch_kept *k, struct chain_dev *d)
{
	const struct chain_dev *m = k ? chain_find(k->slot, KEPT_SLOTS - 1, d->device_id, false) : NULL;
	if (m) {
		d->head = m->head, d->at = m->at, d->version = m->version, d->sig = m->sig;
		d->changed = true;      /* not written yet */
		return 0;
	}
	struct dbst *st = store_stmt(s, "SELECT fetched_log, fetched_at, fetched_version, fetched_sig "
				      "FROM device_fetch WHERE device_id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, d->device_id);
	int rc = db_step(st);
	d->gone = rc == DB_DONE;
	if (rc == DB_ROW) {
		d->head = db_col_int64(st, 0), d->at = db_col_int64(st, 1);
		d->version = db_col_int64(st, 2), d->sig = db_col_int64(st, 3);
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

/* The batch's 200 of d, if newer than the one kept: the device row's
 * client fields only when its signature changed. */
static int chain_last(struct store *s, struct chain_dev *d)
{
	const struct fetch_last *l = d->last;
	if (d->gone || !l || l->at < d->at)
		return 0;
	int64_t sig = fetch_sig(l);
	if (sig != d->sig) {
		struct dbst *st = store_stmt(s, FETCH_CLIENT_UPDATE);
		if (!st)
			return -1;
		fetch_client_bind(st, l);
		if (store_exec_stmt(s, st, NULL, 0) < 0)
			return -1;
	}
	d->at = l->at, d->version = l->version, d->sig = sig;
	d->changed = true;
	return 0;
}

static int chain_write(struct store *s, const struct chain_dev *d)
{
	struct dbst *st = store_stmt(s, "UPDATE device_fetch SET fetched_log = ?2, fetched_at = ?3, fetched_version = ?4, "
				      "fetched_sig = ?5 WHERE device_id = ?1");
	if (!st)
		return -1;
	db_bind_int64(st, 1, d->device_id);
	db_bind_int64(st, 2, d->head);
	db_bind_int64(st, 3, d->at);
	db_bind_int64(st, 4, d->version);
	db_bind_int64(st, 5, d->sig);
	return store_exec_stmt(s, st, NULL, 0) < 0 ? -1 : 0;
}

/* Every history row so far is named by a chain head in device_fetch
 * (schema 028's fetch_written). */
static int fetch_written(struct store *s)
{
	struct dbst *st = store_stmt(s, "UPDATE fetch_written SET log = (SELECT coalesce(max(id), 0) FROM fetch_log)");
	return st && store_exec_stmt(s, st, NULL, 0) >= 0 ? 0 : -1;
}

/* Write t's changed devices and every kept one t does not name, in id
 * order (t is sorted). */
static int chain_flush(struct store *s, struct fetch_kept *k, const struct chain_dev *t, size_t nd)
{
	size_t nk = 0;
	struct chain_dev *all = xmalloc((nd + (k ? k->n : 0) + 1) * sizeof(*all));
	for (size_t i = 0; i < nd; i++)
		if (t[i].changed)
			all[nk++] = t[i];
	for (size_t i = 0; k && k->n && i < KEPT_SLOTS; i++)
		if (k->slot[i].device_id && (!nd || !bsearch(&k->slot[i], t, nd, sizeof(*t), chain_by_id)))
			all[nk++] = k->slot[i];
	qsort(all, nk, sizeof(*all), chain_by_id);
	int rc = 0;
	for (size_t i = 0; i < nk && rc == 0; i++)
		rc = chain_write(s, &all[i]);
	free(all);
	return rc == 0 ? fetch_written(s) : -1;
}

/* The batch's devices, sorted by id, with their rows loaded; *nd of them. */
static struct chain_dev *chain_batch(struct store *s, struct fetch_kept *k, const struct fetch_rec *r, size_t n,
				     const struct fetch_last *l, size_t nl, size_t *nd)
{
	size_t slots = 4;
	while (slots < 2 * (n + nl))
		slots *= 2;
	struct chain_dev *t = xcalloc(slots, sizeof(*t));
	for (size_t i = 0; i < n; i++)
		if (r[i].device_id)
			chain_find(t, slots - 1, r[i].device_id, true);
	for (size_t i = 0; i < nl; i++)
		chain_find(t, slots - 1, l[i].device_id, true)->last = &l[i];
	/* Sorted by id (rows read in file order), then found by bisection. */
	*nd = 0;
	for (size_t i = 0; i < slots; i++)
		if (t[i].device_id)
			t[(*nd)++] = t[i];
	qsort(t, *nd, sizeof(*t), chain_by_id);
	for (size_t i = 0; i < *nd; i++)
		if (chain_load(s, k, &t[i]) < 0 || chain_last(s, &t[i]) < 0) {
			free(t);
			return NULL;
		}
	return t;
}

static struct chain_dev *chain_of(struct chain_dev *t, size_t nd, int64_t device_id)
{
	struct chain_dev key = { .device_id = device_id };
	struct chain_dev *d = device_id ? bsearch(&key, t, nd, sizeof(*t), chain_by_id) : NULL;
	return d && !d->gone ? d : NULL;
}

/* One batch in the caller's transaction.  k NULL: device_fetch written
 * now.  Else *flushed says whether it was (then k is emptied after the
 * commit), and *kept_t / *kept_n hand the batch's devices to
 * fetch_kept_take. */
static int fetch_batch_sqlite(struct store *s, struct fetch_kept *k, const struct fetch_rec *r, size_t n,
			      const struct fetch_last *l, size_t nl, bool *flushed, struct chain_dev **kept_t,
			      size_t *kept_n)
{
	size_t nd = 0;
	int rc = -1;
	struct dbst *st = store_stmt(s, "SELECT coalesce(max(id), 0) + 1 FROM fetch_log");
	if (!st || db_step(st) != DB_ROW)
		return -1;
	int64_t base = db_col_int64(st, 0);
	db_reset(st);
	struct chain_dev *t = chain_batch(s, k, r, n, l, nl, &nd);
	if (!t)
		return -1;
	st = n ? store_stmt(s, FETCH_LOG_INSERT ", prev, id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)") : NULL;
	if (n && !st)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct chain_dev *d = chain_of(t, nd, r[i].device_id);
		fetch_log_bind(st, &r[i], d ? d->device_id : 0);
		db_bind_int64(st, 9, d ? d->head : 0);
		db_bind_int64(st, 10, base + (int64_t)i);
		if (store_exec_stmt(s, st, NULL, 0) < 0)
			goto out;
		if (d) {
			d->head = base + (int64_t)i;
			d->changed = true;
		}
	}
	bool now = !k || n + nl < LIGHT || k->n + nd > KEPT_MAX || sp_mono_ms() - k->flushed_ms >= k->interval_ms;
	if (now && chain_flush(s, k, t, nd) < 0)
		goto out;
	if (flushed)
		*flushed = now;
	rc = 0;
out:
	if (rc == 0 && kept_t) {
		*kept_t = t;
		*kept_n = nd;
	} else {
		free(t);
	}
	return rc;
}

/* After the commit: a written k forgets; else it takes the batch's
 * changed devices. */
static void fetch_kept_take(struct fetch_kept *k, bool flushed, struct chain_dev *t, size_t nd)
{
	if (flushed) {
		if (k->n)
			memset(k->slot, 0, KEPT_SLOTS * sizeof(*k->slot));
		k->n = 0;
		k->flushed_ms = sp_mono_ms();
	} else {
		for (size_t i = 0; i < nd; i++) {
			if (!t[i].changed)
				continue;
			struct chain_dev *m = chain_find(k->slot, KEPT_SLOTS - 1, t[i].device_id, false);
			if (!m) {
				m = chain_find(k->slot, KEPT_SLOTS - 1, t[i].device_id, true);
				k->n++;
			}
			*m = t[i];
			m->last = NULL;
		}
	}
	free(t);
}

/* What a writer that stopped without writing what it kept (a crash) left:
 * history rows after the one fetch_written names, not linked from a chain
 * head.  Each device's head becomes its newest such row, its last 200 the
 * newest 200 among them (the device row's client fields rewritten on its
 * next fetch: its signature is cleared). */
static int fetch_recover(struct store *s)
{
	struct dbst *st = store_stmt(s, "SELECT log FROM fetch_written");
	if (!st || db_step(st) != DB_ROW)
		return -1;
	int64_t from = db_col_int64(st, 0);
	db_reset(st);
	if (!(st = store_stmt(s, "SELECT id, device_id, at, status, version FROM fetch_log "
			      "WHERE id > ?1 AND device_id IS NOT NULL ORDER BY id")))
		return -1;
	db_bind_int64(st, 1, from);
	size_t n = 0, slots = 0, fixed = 0;
	struct chain_dev *t = NULL;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		if (2 * (n + 1) > slots) {
			/* Regrown: rehash what is there. */
			struct chain_dev *old = t;
			size_t os = slots;
			slots = slots ? 2 * slots : 1024;
			t = xcalloc(slots, sizeof(*t));
			for (size_t i = 0; i < os; i++)
				if (old[i].device_id)
					*chain_find(t, slots - 1, old[i].device_id, true) = old[i];
			free(old);
		}
		struct chain_dev *d = chain_find(t, slots - 1, db_col_int64(st, 1), false);
		if (!d) {
			d = chain_find(t, slots - 1, db_col_int64(st, 1), true);
			n++;
		}
		d->head = db_col_int64(st, 0);
		if (db_col_int64(st, 3) == 200) {
			d->at = db_col_int64(st, 2);
			d->version = db_col_int64(st, 4);
			d->changed = true;      /* here: it has a 200 */
		}
	}
	db_reset(st);
	if (rc != DB_DONE) {
		free(t);
		return -1;
	}
	rc = 0;
	for (size_t i = 0; i < slots && rc == 0; i++) {
		struct chain_dev *d = &t[i], cur = { .device_id = d->device_id };
		if (!d->device_id)
			continue;
		if (chain_load(s, NULL, &cur) < 0) {
			rc = -1;
			break;
		}
		bool newer = d->head > cur.head, last = d->changed && d->at >= cur.at && d->at > 0;
		if (cur.gone || !(newer || last))
			continue;
		if (newer)
			cur.head = d->head;
		if (last)
			cur.at = d->at, cur.version = d->version, cur.sig = 0;
		rc = chain_write(s, &cur);
		fixed++;
	}
	if (rc == 0)
		rc = fetch_written(s);
	if (rc == 0 && fixed)
		log_warnx("fetch log: %zu devices' newest fetches were not linked (a writer stopped without writing "
			  "them); linked from history row %lld on", fixed, (long long)from);
	free(t);
	return rc;
}
#undef FETCH_LOG_INSERT
#undef FETCH_CLIENT_UPDATE

int store_fetch_batch(struct store *s, const struct fetch_rec *r, size_t n, const struct fetch_last *l,
		      size_t nl)
{
	if (store_url(s)) {
		if (store_begin(s) < 0)
			return -1;
		if (fetch_batch_pg(s, r, n, l, nl) == 0 && store_commit(s) == 0)
			return 0;
		store_rollback(s);
		return -1;
	}
	struct fetch_kept *k = fetch_kept_get(s);
	bool flushed = false;
	struct chain_dev *t = NULL;
	size_t nd = 0;
	if (store_begin(s) < 0)
		return -1;
	if ((k->recovered || fetch_recover(s) == 0) && fetch_batch_sqlite(s, k, r, n, l, nl, &flushed, &t, &nd) == 0 &&
	    store_commit(s) == 0) {
		k->recovered = true;
		fetch_kept_take(k, flushed, t, nd);
		return 0;
	}
	free(t);
	store_rollback(s);
	return -1;
}

void store_fetch_interval(struct store *s, long ms)
{
	if (!store_url(s))
		fetch_kept_get(s)->interval_ms = ms;
}

int store_fetch_flush(struct store *s)
{
	struct fetch_kept *k = store_url(s) ? NULL : *store_fetch_kept(s);
	if (!k || !k->n)
		return 0;
	if (store_begin(s) == 0 && chain_flush(s, k, NULL, 0) == 0 && store_commit(s) == 0) {
		fetch_kept_take(k, true, NULL, 0);
		return 0;
	}
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
	return fetch_batch_sqlite(s, NULL, &r, 1, &l, nl, NULL, NULL, NULL);
}
