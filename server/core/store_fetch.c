/*
 * The fetch writer's store: each fetch's history row (fetch_log) and each
 * device's last fetch (device_fetch, and the device row's client fields),
 * written in batches by the daemon's one writer thread (http.c).
 */
#include <pthread.h>
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
 * Eight bytes a step, each string with its NUL (so "a","bc" and "ab","c"
 * differ); never 0, which means "not known".  The writer hashed them
 * itself, seconds after the request, and 4.8% of its CPU in the
 * 1,000,000-device mix went there, nearly all waiting for the text (the
 * User-Agent behind a pointer) to come back into the cache: hashing a word
 * at a time instead of a byte left that share unchanged (perf,
 * 2026-12-06).  So the request hashes them before it queues them (fetchq_push),
 * and the writer reads the text only when the signature changed.  A file
 * written with the older, bytewise hash (FNV-1a) rewrites each device's
 * client fields once, with the same values. */
static uint64_t sig_mix(uint64_t h, const char *p)
{
	size_t n = strlen(p) + 1;
	uint64_t w;
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, p, n);
	h = (h ^ w ^ n) * 0x9e3779b97f4a7c15ull;
	return h ^ h >> 29;
}

int64_t store_fetch_sig(const char *ip, const char *ua, const char *digest)
{
	uint64_t h = sig_mix(sig_mix(sig_mix(0xcbf29ce484222325ull, ip), ua ? ua : ""), digest);
	return (int64_t)((h & INT64_MAX) | 1);
}

static int64_t fetch_sig(const struct fetch_last *l)
{
	return l->sig ? l->sig : store_fetch_sig(l->ip, l->ua, l->digest);
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
 * no row is named twice in a batch, as db_prepare_batch requires.
 *
 * A device's last fetch usually comes from where it came before: same
 * address, User-Agent and file, so the same signature.  Those rows are
 * one statement, device_fetch's time and version where the signature is
 * unchanged.  Only when it did not reach every device of the batch (a
 * phone that moved or changed, a new file, a first fetch, a newer fetch
 * already recorded) are the two statements below run for all of them:
 * the device row's client fields where the signature differs, and
 * device_fetch.  Rows the first statement wrote they find unchanged.  In
 * the 1,000,000-device mix the check of the device row took as much of
 * the server as device_fetch's update (pg_stat_statements over 20 s:
 * 5.7 and 4.6 s for 601,772 devices, beside 7.2 s of history). */
/* Every last fetch as a row of st (NULL: -1), which names ?1 the device,
 * ?2 the time, ?3 the version and ?4 the signature. */
static int device_fetch_rows(struct store *s, struct dbst *st, const struct fetch_last *l, size_t nl)
{
	int rc = st ? 0 : -1;
	for (size_t i = 0; i < nl && rc == 0; i++) {
		db_bind_int64(st, 1, l[i].device_id);
		db_bind_int64(st, 2, l[i].at);
		db_bind_int64(st, 3, l[i].version);
		db_bind_int64(st, 4, fetch_sig(&l[i]));
		rc = store_batch_add(s, st);
	}
	return rc;
}

static int fetch_last_pg(struct store *s, const struct fetch_last *l, size_t nl)
{
	struct dbst *st = store_batch(s, "UPDATE device_fetch SET fetched_at = ?2, fetched_version = ?3 "
				      "WHERE device_id = ?1 AND fetched_at <= ?2 AND fetched_sig = ?4", "Iiii");
	if (device_fetch_rows(s, st, l, nl) < 0 || store_batch_flush(s) < 0)
		return -1;
	if (db_changes(store_db(s)) == (int64_t)nl)
		return 0;
	st = store_batch(s, FETCH_CLIENT_UPDATE " AND EXISTS (SELECT 1 FROM device_fetch f "
			 "WHERE f.device_id = ?1 AND f.fetched_sig <> ?5 AND f.fetched_at <= ?6)", "Itttii");
	int rc = st ? 0 : -1;
	for (size_t i = 0; i < nl && rc == 0; i++) {
		fetch_client_bind(st, &l[i]);
		db_bind_int64(st, 5, fetch_sig(&l[i]));
		db_bind_int64(st, 6, l[i].at);
		rc = store_batch_add(s, st);
	}
	st = rc == 0 ? store_batch(s, "UPDATE device_fetch SET fetched_at = ?2, fetched_version = ?3, "
				   "fetched_sig = ?4 WHERE device_id = ?1 AND fetched_at <= ?2", "Iiii") : NULL;
	return device_fetch_rows(s, st, l, nl);
}

/* A batch: the history (COPY), flushed before the last fetches, whose
 * first statement's count decides the rest. */
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
	if (rc == 0 && nl && store_batch_flush(s) < 0)
		rc = -1;
	return rc == 0 && nl ? fetch_last_pg(s, l, nl) : rc;
}

/* SQLite keeps a device's history as a chain (schema 027): each fetch_log
 * row names the device's previous row (prev) and device_fetch (schema 028)
 * its newest (fetched_log), instead of an index by device, which put every
 * fetch in a random page of an index as large as the history.
 *
 * Under load the writer keeps what it changes in device_fetch (chain
 * heads, last fetches) in memory and writes it in device id order, each
 * page once for all its devices' fetches of that time.  Writing it with
 * every batch (about four a second) rewrote most of its pages each time
 * on a 1,000,000-device file: 20 MB of WAL per batch, a third of the big
 * mix's throughput.  Every FLUSH_MS, or once it keeps KEPT_MAX / 2
 * devices, the writer takes what it kept and writes it over the next
 * batches, OUT_CHUNK devices each: written at once, 65,536 devices held a
 * batch 200-340 ms and the queue overflowed.  A light batch (fewer than
 * LIGHT records: an idle or lightly used daemon) writes all of it at
 * once, and so does the writer before it waits for more and before it
 * stops (store_fetch_flush): readers see a last fetch at once unless the
 * writer is busy, and within a few seconds then.  Drift, which must not
 * call a device that just fetched never_fetched or stale, asks the
 * writer's memory too (store_fetch_pending): what it keeps stays there
 * until the transaction that writes it commits.
 * fetch_written (schema 028) names the newest history row the file's
 * chain heads cover.  A writer that stops without writing what it kept (a
 * crash), or whose transaction fails, loses it; the next batch links the
 * rows after fetch_written's from the history again (fetch_recover).
 *
 * A batch, in two passes:
 * - the devices, in id order: each one's row taken from memory, else read
 *   (once); a changed 200 signature writes the device row's client fields
 *   at once (rare: a phone that moved or changed);
 * - the history, appended with the ids it will take (the writer is the
 *   only one inserting it, in this write transaction), each row linked to
 *   the device's previous one.
 * A device deleted while its fetch waited in the queue has no device_fetch
 * row, and its history rows name no device (its id may be given again).
 *
 * In the 1,000,000-device mix nearly every fetch is a device not kept, and
 * a take of KEPT_MAX / 2 random devices rewrites nearly every page of
 * device_fetch: the WAL frames, checkpoints and cache spills of those
 * pages were a third of the writer's CPU.  At 32,768 devices a take comes
 * about every 0.8 s at 40,000 fetches/s; at 65,536, about every 1.6 s,
 * and the writer's CPU per 1,000 fetches went from 0.895 to 0.692 and
 * from 0.739 to 0.603 ticks in two runs of four alternating pairs
 * (2026-12-06, the daemons in both orders; throughput +12.6% and +1.7%,
 * peak RSS +1.2 and +6.1 MB).  At 2 s (FLUSH_MS) a larger one would be
 * taken no less often in that mix. */
#define KEPT_SLOTS 262144       /* a power of two: at most KEPT_MAX used, half */
#define KEPT_MAX   131072
#define OUT_CHUNK  8192
#define FLUSH_MS   2000
#define LIGHT      512

/* A device's device_fetch row, as the writer has it. */
struct kept_dev {
	int64_t device_id, head, at, version, sig;
};

/* A device of a batch. */
struct chain_dev {
	struct kept_dev row;            /* head: before the batch, then as rows are linked */
	const struct fetch_last *last;  /* the batch's 200, if any */
	bool gone, changed;
};

/* What changed and is not taken: the rows in arrival order, found by id
 * through an index of their positions.  An index of the rows themselves
 * (5 MB) had a boot storm's writer touch, and fault in, nearly every page
 * of it for 10,000 devices; this one is 512 KB, and the rows take pages
 * as they come. */
struct fetch_kept {
	uint32_t *idx;                  /* KEPT_SLOTS, by id hash: 1 + a row's place in dev, 0 = empty */
	struct kept_dev *dev;           /* KEPT_MAX */
	size_t n;
	struct kept_dev *out;           /* KEPT_MAX: taken, sorted by id, written up to out_done */
	size_t out_n, out_done;
	int64_t out_upto;               /* newest history row when taken: fetch_written's once written */
	int64_t taken_ms;               /* sp_mono_ms of the last take or write in full */
	long interval_ms;               /* FLUSH_MS, or store_fetch_interval's */
	bool recovered;                 /* fetch_recover ran in a committed transaction */
	/* Written in the open transaction, forgotten once it commits: */
	size_t done_at_commit;          /* out_done then */
	bool clear_at_commit;           /* everything kept */
	/* The writer changes idx, dev, n, out, out_n and out_done under mu, which
	 * store_fetch_pending takes from other threads. */
	pthread_mutex_t mu;
};

static struct fetch_kept *fetch_kept_get(struct store *s)
{
	struct fetch_kept **kp = store_fetch_kept(s);
	if (!*kp) {
		*kp = xcalloc(1, sizeof(**kp));
		(*kp)->idx = xcalloc(KEPT_SLOTS, sizeof(*(*kp)->idx));
		(*kp)->dev = xmalloc(KEPT_MAX * sizeof(*(*kp)->dev));
		(*kp)->out = xmalloc(KEPT_MAX * sizeof(*(*kp)->out));
		(*kp)->taken_ms = sp_mono_ms();
		(*kp)->interval_ms = FLUSH_MS;
		pthread_mutex_init(&(*kp)->mu, NULL);
	}
	return *kp;
}

void fetch_kept_free(struct fetch_kept *k)
{
	if (k) {
		free(k->idx);
		free(k->dev);
		free(k->out);
		pthread_mutex_destroy(&k->mu);
	}
	free(k);
}

/* Everything kept is written (or lost: then fetch_recover links it). */
static void kept_clear(struct fetch_kept *k, bool lost)
{
	pthread_mutex_lock(&k->mu);
	if (k->n)
		memset(k->idx, 0, KEPT_SLOTS * sizeof(*k->idx));
	k->n = k->out_n = k->out_done = 0;
	pthread_mutex_unlock(&k->mu);
	k->taken_ms = sp_mono_ms();
	k->done_at_commit = 0;
	k->clear_at_commit = false;
	if (lost)
		k->recovered = false;
}

/* The transaction that wrote what kept_step and kept_write_all wrote
 * committed: forget it. */
static void kept_committed(struct fetch_kept *k)
{
	if (k->clear_at_commit) {
		kept_clear(k, false);
		return;
	}
	if (!k->done_at_commit)
		return;
	pthread_mutex_lock(&k->mu);
	k->out_done = k->done_at_commit;
	if (k->out_done == k->out_n)
		k->out_n = k->out_done = 0;
	pthread_mutex_unlock(&k->mu);
	k->done_at_commit = 0;
}

/* device_id's kept row; add: a new one (the caller has room: n < KEPT_MAX)
 * if there is none, else NULL. */
static struct kept_dev *kept_find(struct fetch_kept *k, int64_t device_id, bool add)
{
	size_t i = ((uint64_t)device_id * 0x9e3779b97f4a7c15ull) >> 32 & (KEPT_SLOTS - 1);
	while (k->idx[i] && k->dev[k->idx[i] - 1].device_id != device_id)
		i = (i + 1) & (KEPT_SLOTS - 1);
	if (k->idx[i])
		return &k->dev[k->idx[i] - 1];
	if (!add)
		return NULL;
	k->dev[k->n] = (struct kept_dev){ .device_id = device_id };
	k->idx[i] = (uint32_t)++k->n;
	return &k->dev[k->n - 1];
}

static int by_id(const void *a, const void *b)
{
	int64_t x = ((const struct kept_dev *)a)->device_id, y = ((const struct kept_dev *)b)->device_id;
	return (x > y) - (x < y);
}

/* The kept rows copied to to (room for k->n), sorted by id. */
static size_t kept_sorted(const struct fetch_kept *k, struct kept_dev *to)
{
	memcpy(to, k->dev, k->n * sizeof(*to));
	qsort(to, k->n, sizeof(*to), by_id);
	return k->n;
}

static int chain_write(struct store *s, const struct kept_dev *d)
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

static int rows_write(struct store *s, const struct kept_dev *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (chain_write(s, &v[i]) < 0)
			return -1;
	return 0;
}

/* fetch_written names upto (-1: the newest history row). */
static int fetch_written(struct store *s, int64_t upto)
{
	struct dbst *st = store_stmt(s, upto < 0 ? "UPDATE fetch_written SET log = (SELECT coalesce(max(id), 0) FROM fetch_log)"
				     : "UPDATE fetch_written SET log = ?1");
	if (!st)
		return -1;
	if (upto >= 0)
		db_bind_int64(st, 1, upto);
	return store_exec_stmt(s, st, NULL, 0) < 0 ? -1 : 0;
}

/* Everything kept, and t's changed devices (sorted; after the kept rows
 * they override), to the file; kept is cleared when it commits. */
static int kept_write_all(struct store *s, struct fetch_kept *k, const struct chain_dev *t, size_t nd)
{
	if (rows_write(s, k->out + k->out_done, k->out_n - k->out_done) < 0)
		return -1;
	struct kept_dev *v = k->n ? xmalloc(k->n * sizeof(*v)) : NULL;
	size_t m = v ? kept_sorted(k, v) : 0;
	int rc = 0;
	for (size_t i = 0; i < m && rc == 0; i++) {
		struct chain_dev key = { .row.device_id = v[i].device_id };
		if (!nd || !bsearch(&key, t, nd, sizeof(*t), by_id))
			rc = chain_write(s, &v[i]);
	}
	free(v);
	for (size_t i = 0; i < nd && rc == 0; i++)
		if (t[i].changed && !t[i].gone)
			rc = chain_write(s, &t[i].row);
	k->clear_at_commit = true;
	return rc < 0 ? -1 : fetch_written(s, -1);
}

/* The device_fetch row the writer keeps for device_id, NULL if none:
 * changed since the take, else taken and not yet written (a row changed
 * since was loaded from the taken one, so it is the newer). */
static const struct kept_dev *kept_row(struct fetch_kept *k, int64_t device_id)
{
	const struct kept_dev *m = kept_find(k, device_id, false);
	if (!m && k->out_done < k->out_n) {
		struct kept_dev key = { .device_id = device_id };
		m = bsearch(&key, k->out + k->out_done, k->out_n - k->out_done, sizeof(*k->out), by_id);
	}
	return m;
}

/* d's device_fetch row: what the writer keeps, else the file's. */
static int chain_load(struct store *s, struct fetch_kept *k, struct chain_dev *d)
{
	const struct kept_dev *m = k ? kept_row(k, d->row.device_id) : NULL;
	if (m) {
		d->row = *m;
		d->changed = true;      /* not in the file yet */
		return 0;
	}
	struct dbst *st = store_stmt(s, "SELECT fetched_log, fetched_at, fetched_version, fetched_sig "
				      "FROM device_fetch WHERE device_id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, d->row.device_id);
	int rc = db_step(st);
	d->gone = rc == DB_DONE;
	if (rc == DB_ROW) {
		d->row.head = db_col_int64(st, 0), d->row.at = db_col_int64(st, 1);
		d->row.version = db_col_int64(st, 2), d->row.sig = db_col_int64(st, 3);
	}
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

/* The batch's 200 of d, if not older than the one it has: the device
 * row's client fields written only when their signature changed. */
static int chain_last(struct store *s, struct chain_dev *d)
{
	const struct fetch_last *l = d->last;
	if (d->gone || !l || l->at < d->row.at)
		return 0;
	int64_t sig = fetch_sig(l);
	if (sig != d->row.sig) {
		struct dbst *st = store_stmt(s, FETCH_CLIENT_UPDATE);
		if (!st)
			return -1;
		fetch_client_bind(st, l);
		if (store_exec_stmt(s, st, NULL, 0) < 0)
			return -1;
	}
	d->row.at = l->at, d->row.version = l->version, d->row.sig = sig;
	d->changed = true;
	return 0;
}

/* A batch's device id, and which of its records (r[0..n), then l[0..nl)) names it. */
struct rec_id {
	int64_t id;
	size_t rec;
};

static int by_rec_id(const void *a, const void *b)
{
	int64_t x = ((const struct rec_id *)a)->id, y = ((const struct rec_id *)b)->id;
	return (x > y) - (x < y);
}

/* The batch's devices, sorted by id (their rows read in file order), their
 * rows loaded and their 200s applied; *nd of them.  at[i] is 1 + the place
 * in it of record i's device (0: none), so no record looks its device up:
 * a bisection each was 4.1% of the writer's CPU in the 1,000,000-device
 * mix, and sorting the records with their ids costs no more than sorting
 * the ids did (1.7% against 2.1%, perf, 2026-12-06).  Sized by the
 * distinct ids: a table hashed by id took 2 x (n + nl) entries, 7 MB for a
 * full batch. */
static struct chain_dev *chain_batch(struct store *s, struct fetch_kept *k, const struct fetch_rec *r, size_t n,
				     const struct fetch_last *l, size_t nl, size_t *nd, uint32_t *at)
{
	struct rec_id *id = xmalloc((n + nl + 1) * sizeof(*id));
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (r[i].device_id)
			id[m++] = (struct rec_id){ r[i].device_id, i };
	for (size_t i = 0; i < nl; i++)
		id[m++] = (struct rec_id){ l[i].device_id, n + i };
	qsort(id, m, sizeof(*id), by_rec_id);
	memset(at, 0, (n + nl) * sizeof(*at));
	*nd = 0;
	for (size_t i = 0; i < m; i++)
		*nd += !i || id[i].id != id[i - 1].id;
	struct chain_dev *t = xcalloc(*nd + 1, sizeof(*t));
	*nd = 0;
	for (size_t i = 0; i < m; i++) {
		if (!*nd || id[i].id != t[*nd - 1].row.device_id)
			t[(*nd)++].row.device_id = id[i].id;
		at[id[i].rec] = (uint32_t)*nd;
		if (id[i].rec >= n)
			t[*nd - 1].last = &l[id[i].rec - n];
	}
	free(id);
	for (size_t i = 0; i < *nd; i++)
		if (chain_load(s, k, &t[i]) < 0 || chain_last(s, &t[i]) < 0) {
			free(t);
			return NULL;
		}
	return t;
}

/* After a heavy batch's history: its devices kept; the next chunk of what
 * was taken written (fetch_written moved when the last is); what is kept
 * taken when FLUSH_MS have passed and nothing taken is left. */
static int kept_step(struct store *s, struct fetch_kept *k, const struct chain_dev *t, size_t nd, int64_t newest)
{
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < nd; i++) {
		if (!t[i].changed || t[i].gone)
			continue;
		*kept_find(k, t[i].row.device_id, true) = t[i].row;
	}
	if (k->out_done == k->out_n && k->n &&
	    (k->n >= KEPT_MAX / 2 || sp_mono_ms() - k->taken_ms >= k->interval_ms)) {
		k->out_n = kept_sorted(k, k->out);
		memset(k->idx, 0, KEPT_SLOTS * sizeof(*k->idx));
		k->n = k->out_done = 0;
		k->out_upto = newest;
		k->taken_ms = sp_mono_ms();
	}
	pthread_mutex_unlock(&k->mu);
	if (k->out_done == k->out_n)
		return 0;
	size_t w = k->out_n - k->out_done < OUT_CHUNK ? k->out_n - k->out_done : OUT_CHUNK;
	if (rows_write(s, k->out + k->out_done, w) < 0)
		return -1;
	k->done_at_commit = k->out_done + w;
	return k->done_at_commit < k->out_n ? 0 : fetch_written(s, k->out_upto);
}

/* One batch in the caller's transaction.  k NULL: device_fetch written
 * now; else kept as above (k changes before the commit: the caller clears
 * it, lost, when the transaction does not commit). */
static int fetch_batch_sqlite(struct store *s, struct fetch_kept *k, const struct fetch_rec *r, size_t n,
			      const struct fetch_last *l, size_t nl)
{
	size_t nd = 0;
	int rc = -1;
	struct dbst *st = store_stmt(s, "SELECT coalesce(max(id), 0) + 1 FROM fetch_log");
	if (!st || db_step(st) != DB_ROW)
		return -1;
	int64_t base = db_col_int64(st, 0);
	db_reset(st);
	uint32_t *at = xmalloc((n + nl + 1) * sizeof(*at));
	struct chain_dev *t = chain_batch(s, k, r, n, l, nl, &nd, at);
	if (!t) {
		free(at);
		return -1;
	}
	st = n ? store_stmt(s, FETCH_LOG_INSERT ", prev, id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)") : NULL;
	if (n && !st)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct chain_dev *d = at[i] && !t[at[i] - 1].gone ? &t[at[i] - 1] : NULL;
		fetch_log_bind(st, &r[i], d ? d->row.device_id : 0);
		db_bind_int64(st, 9, d ? d->row.head : 0);
		db_bind_int64(st, 10, base + (int64_t)i);
		if (store_exec_stmt(s, st, NULL, 0) < 0)
			goto out;
		if (d) {
			d->row.head = base + (int64_t)i;
			d->changed = true;
		}
	}
	if (!k) {
		for (size_t i = 0; i < nd; i++)
			if (t[i].changed && !t[i].gone && chain_write(s, &t[i].row) < 0)
				goto out;
		/* Every head in the file, unless this connection keeps some. */
		rc = *store_fetch_kept(s) ? 0 : fetch_written(s, -1);
	} else if (n + nl < LIGHT || k->n + nd > KEPT_MAX) {
		rc = kept_write_all(s, k, t, nd);
	} else {
		rc = kept_step(s, k, t, nd, base + (int64_t)n - 1);
	}
out:
	free(at);
	free(t);
	return rc;
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
	/* Each device's newest row after it, and its newest 200 there. */
	if (!(st = store_stmt(s, "SELECT h.device_id, h.head, l.at, l.version FROM "
			      "(SELECT device_id, max(id) AS head FROM fetch_log WHERE id > ?1 AND device_id IS NOT NULL "
			      "GROUP BY device_id) h "
			      "LEFT JOIN (SELECT device_id, max(id) AS last FROM fetch_log WHERE id > ?1 AND status = 200 "
			      "AND device_id IS NOT NULL GROUP BY device_id) m ON m.device_id = h.device_id "
			      "LEFT JOIN fetch_log l ON l.id = m.last ORDER BY h.device_id")))
		return -1;
	db_bind_int64(st, 1, from);
	size_t fixed = 0;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct chain_dev cur = { .row.device_id = db_col_int64(st, 0) };
		int64_t head = db_col_int64(st, 1), at = db_col_int64(st, 2);
		bool has_last = !db_col_null(st, 2);
		if (chain_load(s, NULL, &cur) < 0)
			break;
		bool newer = head > cur.row.head, last = has_last && at >= cur.row.at;
		if (cur.gone || !(newer || last))
			continue;
		if (newer)
			cur.row.head = head;
		if (last)
			cur.row.at = at, cur.row.version = db_col_int64(st, 3), cur.row.sig = 0;
		if (chain_write(s, &cur.row) < 0)
			break;
		fixed++;
	}
	db_reset(st);
	if (rc != DB_DONE || fetch_written(s, -1) < 0)
		return -1;
	if (fixed)
		log_warnx("fetch log: %zu devices' newest fetches were not linked (a writer stopped without writing "
			  "them); linked from history row %lld on", fixed, (long long)from);
	return 0;
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
	if (store_begin(s) < 0)
		return -1;
	if ((k->recovered || fetch_recover(s) == 0) && fetch_batch_sqlite(s, k, r, n, l, nl) == 0 &&
	    store_commit(s) == 0) {
		k->recovered = true;
		kept_committed(k);
		return 0;
	}
	store_rollback(s);
	kept_clear(k, true);
	return -1;
}

int store_fetch_flush(struct store *s)
{
	if (store_url(s))
		return 0;
	/* The writer's first call (it flushes before its first wait) links
	 * what a writer before it left (fetch_recover). */
	struct fetch_kept *k = fetch_kept_get(s);
	if (k->recovered && !k->n && k->out_done == k->out_n)
		return 0;
	if (store_begin(s) == 0 && (k->recovered || fetch_recover(s) == 0) && kept_write_all(s, k, NULL, 0) == 0 &&
	    store_commit(s) == 0) {
		k->recovered = true;
		kept_committed(k);
		return 0;
	}
	store_rollback(s);
	kept_clear(k, true);
	return -1;
}

/* The writer appends about 10 MB of history a second in the 1M mix, and
 * rewrites device_fetch's pages in chunks.  At SQLite's default
 * auto-checkpoint (1,000 pages) every third or fourth commit also ran a
 * checkpoint, copying pages dirtied again a moment later and syncing
 * twice; at 4,096 pages (16 MiB of WAL, reused after each checkpoint) the
 * big mix served 65,399 fetches/s against 61,131 (means of eight and
 * seven interleaved runs, docs/performance.md).  16,384 (the drift
 * intake's) gained a little more but its longer checkpoints overflowed
 * the fetch queue: 2-5% of history rows sampled out, against 0.4-2%. */
int store_fetch_keep(struct store *s)
{
	if (store_url(s))
		return 0;
	fetch_kept_get(s);
	return store_pragma(s, "PRAGMA wal_autocheckpoint = 4096");
}

int store_fetch_pending(struct store *s, int64_t device_id, int64_t *at, long *version)
{
	struct fetch_kept *k = *store_fetch_kept(s);
	if (!k || !device_id)
		return 0;
	pthread_mutex_lock(&k->mu);
	const struct kept_dev *m = kept_row(k, device_id);
	struct kept_dev found = m ? *m : (struct kept_dev){ 0 };
	pthread_mutex_unlock(&k->mu);
	if (!found.at)
		return 0;
	*at = found.at;
	*version = (long)found.version;
	return 1;
}

void store_fetch_interval(struct store *s, long ms)
{
	if (!store_url(s))
		fetch_kept_get(s)->interval_ms = ms;
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
	return fetch_batch_sqlite(s, NULL, &r, 1, &l, nl);
}
