/*
 * http.c: sipprovd's device-facing HTTP(S) on libmicrohttpd: the route
 * dispatch, one place that decides status codes, a render cache shared by
 * all threads, keyed by path and checked against the config generation
 * (published by a watcher thread, so a hit reads no database), and a fetch
 * log written in batches by one writer thread so no request waits on a
 * database write.  It does not parse file names (layout.c's route table)
 * nor decide authentication (auth.c).
 * MHD ownership: every response is destroyed right after MHD_queue_response;
 * per-request state is freed in the NOTIFY_COMPLETED callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include <openssl/rand.h>

#include "auth.h"
#include "connguard.h"
#include "copy_sync.h"
#include "firmware_http.h"
#include "pending.h"
#include "phonebook_http.h"
#include "core/sipprov.h"
#include "dcache.h"
#include "http.h"
#include "nonce.h"
#include "phone_listen.h"
#include "phone_req.h"
#include "tls_certs.h"
#include "tls_ossl.h"

/* Render cache: 8-way sets with twice as many slots as render_cache
 * entries (the entries themselves are capped at render_cache).  Devices
 * are fetched in cycles, which LRU inside a full set turns into a miss on
 * every fetch: with 2 ways and as many slots as entries, 10,000 devices
 * in the default 16384 left a third of them uncacheable.  Here a fleet
 * up to render_cache stays cached short of a rare 9th device in one set. */
#define CACHE_WAYS    8
#define CACHE_SLACK   2             /* slots per entry of render_cache */
#define SEEN_PER_ENT  4             /* memory misses remembered: slots per entry of render_cache */
#define GEN_FRESH_US  2000          /* a published config generation older than this is re-read */
#define GEN_BUSY_US   100000        /* requests this recent keep the watcher at 1 ms */
#define GEN_READ_US   1000000       /* SQLite: config_gen read this often even with no commit seen */
#define GEN_SAFETY_MS 1000          /* PostgreSQL: config_gen read this often even without a NOTIFY */
#define GEN_WAIT_MS   100           /* PostgreSQL: the watcher checks for a stop this often */
#define REPLICA_RETRY_MIN_MS 1000   /* database_replica unreachable: a worker's next try, doubling... */
#define REPLICA_RETRY_MAX_MS 30000  /* ... up to this */
#define REPLICA_LOG_MS 60000        /* at most one "replica unreachable" line this often */
#define FETCHQ_MAX    16384         /* history: ~50 ms of fetches at 300k/s; beyond: sampled out, counted */
#define FETCHQ_MIN    1024          /* ... and what a batch takes at least while the last fetches lag (fetchq_pace) */
#define HOLD_STEP_MS  50            /* the writer's nap between writes; under a burst, ... */
#define HOLD_BURST    64            /* ... while a nap sees this many new records, it naps again ... */
#define HOLD_MAX_MS   2000          /* ... up to this long (fetchq_hold), ... */
#define HOLD_AHEAD    512           /* ... if its last write was quick (fetchq_hold) */
/* Devices whose last fetch waits for one write; beyond: the request waits.
 * Two maps of it (one filling, one being written): 2 x 4.25 MB when a
 * writer far behind fills them, within the 100 MiB a 1,000,000-device
 * node is held to (issue 18); at 65,536 they took 22 MB of it. */
#define LAST_MAX      32768
#define BODY_MAX_POST (64 * 1024)
#define PATH_MAX_LEN  256
#define UPLOAD_MAX    (64 * 1024)   /* one Polycom log upload */
#define UPLOAD_KEEP   20            /* newest uploads kept per device */
#define CTYPE_MAX     128           /* a layout's Content-Type, copied out of the layout */

/* An entry holds the path and body in their own allocations and points at
 * its content type and allowlist (kept for the daemon's life): 16,384 of
 * them at about 1.3 KB each with the path, type and allowlist copied in
 * were half of the daemon's memory in a 1,000,000-device mix. */
struct cache_ent {
	char *path;
	long gen;                       /* config generation it was built at */
	long lgen;                      /* layouts generation */
	struct auth_subject subj;
	char *body;
	size_t len;
	char etag[40];
	/* Not the layout's own string: a SIGHUP frees the layouts while
	 * responses built from this entry are still being queued. */
	const char *ctype;              /* ctype_keep's */
	long version;
	bool on_disk;                   /* the render cache's file holds it (it came from there, or went) */
};

struct worker {                         /* per MHD thread, created on first request */
	struct store *store;            /* NULL until a request needs it (worker_db) */
	struct http_server *h;
	long long revive_at;            /* last connect attempt (monotonic us): worker_connect_due */
	/* database_replica (issue 17): this thread's connection to it, NULL
	 * until the first render miss and while it is unreachable; then not
	 * tried again before retry_at (monotonic us), the wait doubling. */
	struct store *replica;
	long long replica_retry_at;
	long replica_backoff_ms;
	struct store *copy;             /* database_copy, opened at the first miss it can serve */
};

/* One render cache shared by all workers, so each device is cached once.
 * A bucket's lock covers its ways; requests copy out what they need (an
 * entry may be evicted and freed as soon as the lock is dropped). */
struct cache_bucket {
	pthread_mutex_t mu;
	struct cache_ent *way[CACHE_WAYS];
	/* Each way's path hash and last use, kept here: a lookup and an
	 * eviction touch no entry but the one they find.  Read through the
	 * entries, a miss touched all eight (and their paths) in a
	 * 1,000,000-device mix that misses memory on nearly every fetch. */
	uint64_t tag[CACHE_WAYS], used[CACHE_WAYS];
	/* The last unknown MAC or token that hashed here, apart from the ways:
	 * a repeated unknown request then costs what a repeated known one
	 * costs (no timing oracle), and an enumeration cannot evict a device. */
	struct cache_ent *neg;
};

/* Each device's newest fetch since the last write, one entry per device:
 * entries in arrival order, idx an open-addressing table of entry+1. */
struct lastmap {
	struct fetch_last *ent;
	uint32_t *idx;                  /* 2 * LAST_MAX slots, 0 = empty */
	size_t n;
};

struct fetchq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t room;            /* the writer took the full last map */
	/* Per-request history, may be sampled: requests fill one array from
	 * its start, the writer takes it whole and gives back the other,
	 * which it has written.  Constant work under mu, and only the slots
	 * a batch needs are ever touched: a rotating ring copied out under
	 * mu touched all 2.5 MB of itself and of a batch buffer (peak RSS
	 * about 3.8 MB higher in the 1,000,000-device mix). */
	struct fetch_rec *rings[2];
	struct fetch_rec *ring;         /* the one requests fill, under mu */
	size_t len;
	size_t cap;                     /* history a batch takes now: FETCHQ_MIN..FETCHQ_MAX, under mu */
	struct lastmap maps[2];
	struct lastmap *last;           /* the one requests fill, under mu */
	struct lastmap *writing;        /* the one the writer writes (read-only), under mu */
	bool stop;                      /* under mu */
	int64_t warned;                 /* last overload warning */
	struct log_every refused;       /* the writer's: rows the database refused */
	struct log_every paced;         /* the writer's: cap lowered (fetchq_pace) */
	long retention_days;
	long copy_keep;                 /* database_copy_keep: the change log's rows live this long */
	int64_t next_prune;
	int pruner;                     /* PostgreSQL: 1 this node holds SP_PG_LOCK_PRUNE, 0 not, -1 unknown */
	pthread_t thr;
	struct store *store;
};

struct listener {
	struct http_server *h;
	struct MHD_Daemon *d;
	bool tls;
	char *ca;                       /* PEM text, kept for MHD's lifetime */
};

struct http_server {
	const struct conf *conf;
	const unsigned char *key;
	struct layouts *layouts;
	/* Bumped by a layouts reload and a PostgreSQL reconnect: every cache
	 * entry misses. */
	atomic_long lgen;
	pthread_rwlock_t layouts_lock;
	pthread_key_t worker_key;
	pthread_mutex_t workers_mu;
	struct worker **workers;
	size_t nworkers;
	struct listener http, https;
	struct phone_listen *own;           /* phone_server = own: http_listen's listener */
	struct phone_listen *own_tls;       /* ... and https_listen's (OpenSSL) */
	struct fetchq fq;
	struct pending *pending;        /* unknown MACs, for `device pending` */
	struct cache_bucket *cache;
	size_t nbuckets;
	size_t cache_max;               /* render_cache: entries in the ways, at most */
	struct dcache *dc;              /* render_cache_disk: the second tier, NULL without */
	atomic_size_t cache_n;          /* entries in the ways now */
	atomic_ulong cache_clock;
	/* Memory's recent misses, for the file's hits (seen_again): a path's
	 * slot by its hash holds the hash's high half and the miss count
	 * (seen_clock) when it last missed. */
	_Atomic uint64_t *seen;
	size_t nseen;                   /* a power of two */
	atomic_uint seen_clock;
	/* The config generation, published by one watcher thread so the hit
	 * path does no database read (and takes no SQLite file lock): every
	 * 1 ms while requests arrive, every 50 ms when idle.  A request that
	 * finds it older than GEN_FRESH_US reads it itself, so admin changes
	 * reach devices within ~1 ms under load and at once after idle.  On
	 * SQLite a look is one pread of the WAL index while no commit came
	 * (store_gen_poll), a read of config_gen after one. */
	atomic_long gen;
	atomic_llong gen_at;            /* when gen was last known current (monotonic us) */
	atomic_llong last_req;          /* last device request (monotonic us) */
	pthread_t gen_thr;
	struct store *gen_store;
	/* On PostgreSQL (issue 17) the watcher LISTENs instead (store_gen.c):
	 * a commit on any node reaches it as a NOTIFY, config_gen is read
	 * once a second anyway, and requests trust the published value (a
	 * read per request would be a round trip).  While its connection is
	 * lost it keeps the last value, so cached configs are still served. */
	struct store_genwatch *genwatch;
	bool gen_pushed;
	/* database_replica (issue 17): render misses read there when its
	 * config_gen has reached gen above, else from the primary.  An outage
	 * is logged at most every REPLICA_LOG_MS (replica_log_at, monotonic
	 * us), and its end only when its start was (replica_said). */
	char replica_shown[SP_FIELD_MAX];   /* its URL without the password, for logs */
	atomic_llong replica_log_at;
	atomic_bool replica_said;
	/* database_copy (issue 18): render misses read there first, when its
	 * generation has reached gen; copy_said: an open failure was logged. */
	struct copy_sync *copy;
	atomic_bool copy_said;
	atomic_bool dc_said;            /* a failed write to the disk tier was logged */
	atomic_bool stopping;
	FILE *access;                   /* under access_mu */
	atomic_bool access_on;          /* lets the off case skip the lock */
	atomic_int access_fmt;          /* ACCESS_SIPPROV, ACCESS_COMBINED, ACCESS_COMBINED_DURATION */
	atomic_bool not_ready;          /* last /readyz answer, to log changes only */
	pthread_mutex_t access_mu;
	struct connguard *guard;        /* connection budget, header deadline */
	atomic_long held;               /* request body bytes buffered, all connections */
};

struct req {                            /* per connection-request state */
	struct buf body;                    /* only for a request authenticated on its headers */
	bool too_big;
	bool over_hold;                     /* body_hold_limit reached: 503 */
	bool upload;                        /* an authenticated PUT of a device log */
	bool webhook;                       /* a POST with the right bearer token */
	size_t held;                        /* bytes of body counted in h->held */
	int64_t device_id;
	char name[64];                      /* "0004f2aabbcc-boot.log" */
	long long start_us;                 /* headers seen (monotonic), for durations */
	char proto[16];                     /* "HTTP/1.1", for the access log */
	int route;                          /* METRICS_ROUTE_*, for the duration histogram */
	struct phone_req *q;                /* the request being answered, for its headers */
};

/* The request this thread is answering: set around every on_request call
 * (a connection is served by one pool thread), read by access_log for the
 * protocol, Referer and duration without threading them through every
 * route. */
static _Thread_local struct req *cur_req;

enum { ACCESS_SIPPROV, ACCESS_COMBINED, ACCESS_COMBINED_DURATION };

/* ---- fetch log writer ---- */

/* A partition the PostgreSQL pruner created or dropped, or DEFAULT rows it
 * deleted, logged as done. */
static void fetchq_upkept(void *arg, const char *action, const char *part, long rows)
{
	long *deleted = arg;
	if (!strcmp(action, "dropped"))
		log_info("retention: dropped partition %s (%ld records)", part, rows);
	else if (!strcmp(action, "created") && rows)
		log_info("retention: created partition %s (%ld records moved from the default partition)", part, rows);
	else if (!strcmp(action, "created"))
		log_debug("retention: created partition %s", part);
	else
		*deleted += rows;
}

/* PostgreSQL (schema/pg 025): the node whose writer holds SP_PG_LOCK_PRUNE
 * keeps the day partitions, whatever retention_days (0 keeps every day, but
 * the days ahead still need their partitions); the others do nothing.
 * Which of them this node is, is logged when it changes. */
static void fetchq_upkeep(struct fetchq *q, int64_t now)
{
	long deleted = 0;
	int64_t before = q->retention_days > 0 ? now - q->retention_days * 86400 : 0;
	int rc = store_pg_upkeep(q->store, now, before, fetchq_upkept, &deleted);
	if (rc < 0) {
		log_warnx("retention: partition upkeep failed, retried in an hour: %s", store_errmsg(q->store));
		return;
	}
	if (rc != q->pruner)
		log_info(rc ? "retention: this node keeps the fetch_log and registration partitions (lock %#llx)"
			    : "retention: another node keeps the fetch_log and registration partitions (lock %#llx)",
			 (unsigned long long)SP_PG_LOCK_PRUNE);
	q->pruner = rc;
	if (deleted)
		log_info("retention: removed %ld fetch and registration records older than %ld days", deleted,
			 q->retention_days);
	/* The change log database_copy catches up from (schema/pg 029),
	 * written by every change whether or not a node keeps a copy. */
	long n;
	if (rc == 1 && store_change_prune(q->store, now - q->copy_keep, &n) < 0)
		log_warnx("retention: change log not pruned, retried in an hour: %s", store_errmsg(q->store));
	else if (rc == 1 && n)
		log_info("retention: removed %ld change-log rows older than %ld s (database_copy_keep)", n,
			 q->copy_keep);
}

/* Hourly: fetch records and registration observations older than
 * retention_days go (0 keeps everything): on SQLite deleted by age, on
 * PostgreSQL whole days dropped by one node. */
static void fetchq_prune(struct fetchq *q)
{
	int64_t now = sp_now();
	long n;
	if (now < q->next_prune)
		return;
	if (store_history_partitioned(q->store)) {
		q->next_prune = now + 3600;
		fetchq_upkeep(q, now);
		return;
	}
	if (q->retention_days <= 0)
		return;
	q->next_prune = now + 3600;
	if (store_prune(q->store, now - q->retention_days * 86400, 5000, &n) < 0)
		log_warnx("retention: %s", store_errmsg(q->store));
	else if (n)
		log_info("retention: removed %ld fetch and registration records older than %ld days", n,
			 q->retention_days);
}

/* A record's User-Agent and path, each cut to what a column keeps
 * (SP_FIELD_MAX - 1 bytes), in one allocation at r->ua that the queue
 * owns (fetch_text_free).  Text for both backends: PostgreSQL refused a
 * batch holding one User-Agent of invalid UTF-8, and the writer retried
 * it for ever. */
static void fetch_text(struct fetch_rec *r, const char *ua, const char *path)
{
	size_t ul = strnlen(ua, SP_FIELD_MAX - 1), pl = strnlen(path, SP_FIELD_MAX - 1);
	char *t = xmalloc(ul + pl + 2);
	memcpy(t, ua, ul);
	t[ul] = '\0';
	memcpy(t + ul + 1, path, pl);
	t[ul + 1 + pl] = '\0';
	r->ua = sp_text_scrub(t);
	r->path = sp_text_scrub(t + ul + 1);
}

static void fetch_text_free(const char *ua)
{
	free((char *)ua);
}

static void lastmap_init(struct lastmap *m)
{
	m->ent = xcalloc(LAST_MAX, sizeof(*m->ent));
	m->idx = xcalloc(2 * LAST_MAX, sizeof(*m->idx));
	m->n = 0;
}

static void lastmap_release(struct lastmap *m)
{
	for (size_t j = 0; j < m->n; j++)
		fetch_text_free(m->ent[j].ua);
	free(m->ent);
	free(m->idx);
}

static size_t lastmap_home(int64_t id)
{
	return ((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 40 & (2 * LAST_MAX - 1);
}

/* Empty the map.  A batch holds a few hundred devices: zero their slots
 * (each found from its home slot; no lookup runs meanwhile) rather than
 * the whole 512 KiB index, which was 6.5% of sipprovd's instructions in a
 * boot storm (callgrind). */
static void lastmap_clear(struct lastmap *m)
{
	for (size_t j = 0; j < m->n; j++) {
		fetch_text_free(m->ent[j].ua);
		m->ent[j].ua = NULL;
	}
	if (m->n > LAST_MAX / 16) {
		memset(m->idx, 0, 2 * LAST_MAX * sizeof(*m->idx));
	} else {
		for (size_t j = 0; j < m->n; j++) {
			size_t i = lastmap_home(m->ent[j].device_id);
			while (m->idx[i] != j + 1)
				i = (i + 1) & (2 * LAST_MAX - 1);
			m->idx[i] = 0;
		}
	}
	m->n = 0;
}

/* The index slot of id's entry, or the empty one where it would go. */
static size_t lastmap_probe(const struct lastmap *m, int64_t id)
{
	size_t i = lastmap_home(id);
	for (uint32_t k; (k = m->idx[i]) && m->ent[k - 1].device_id != id;)
		i = (i + 1) & (2 * LAST_MAX - 1);
	return i;
}

/* The entry for id, or NULL. */
static const struct fetch_last *lastmap_find(const struct lastmap *m, int64_t id)
{
	uint32_t k = m->idx[lastmap_probe(m, id)];
	return k ? &m->ent[k - 1] : NULL;
}

/* The entry for id: found, or a new one; NULL when the map is full. */
static struct fetch_last *lastmap_slot(struct lastmap *m, int64_t id)
{
	size_t i = lastmap_probe(m, id);
	if (m->idx[i])
		return &m->ent[m->idx[i] - 1];
	if (m->n == LAST_MAX)
		return NULL;
	m->idx[i] = (uint32_t)++m->n;
	m->ent[m->n - 1].device_id = id;
	m->ent[m->n - 1].at = 0;
	m->ent[m->n - 1].ua = NULL;
	m->ent[m->n - 1].sig = 0;
	return &m->ent[m->n - 1];
}

/* A row the database refused, dropped: counted, and logged at most every
 * 10 s (each batch may bring some). */
static void fetchq_refused(struct fetchq *q, const char *why)
{
	long n;
	if (!log_every_due(&q->refused, &n))
		return;
	char e[SP_ERR_MAX];
	log_warnx("fetch log: %ld rows refused by the database and dropped, the others written: %s", n,
		  sp_log_escape(why, e, sizeof(e)));
}

/* Write one batch; a failure of the database (a lock held past the
 * store's wait, a full disk, a lost connection) is retried with backoff,
 * so neither the history taken nor any device's last fetch is lost to it;
 * given up only when told to stop.  A batch whose data is refused (a
 * constraint, a value the column cannot hold) is written row by row, and
 * only the refused rows are dropped: retried whole, one bad row stopped
 * every write for good, and once LAST_MAX devices waited, every request. */
static void fetchq_write(struct fetchq *q, const struct fetch_rec *batch, size_t n, const struct fetch_last *last,
			 size_t nl)
{
	useconds_t backoff = 100000;
	for (int tries = 1;; tries++) {
		if (store_fetch_batch(q->store, batch, n, last, nl) == 0)
			return;
		/* PostgreSQL restarted: the retry needs a new connection. */
		char err[SP_ERR_MAX];
		if (store_lost(q->store) && store_reconnect(q->store, err, sizeof(err)) == 0 &&
		    store_fetch_batch(q->store, batch, n, last, nl) == 0)
			return;
		if (store_refused(q->store)) {
			if (n + nl > 1) {
				for (size_t i = 0; i < n; i++)
					fetchq_write(q, &batch[i], 1, NULL, 0);
				for (size_t i = 0; i < nl; i++)
					fetchq_write(q, NULL, 0, &last[i], 1);
				return;
			}
			if (n)
				metrics_inc("sipprov_fetch_log_dropped_total");
			fetchq_refused(q, store_errmsg(q->store));
			return;
		}
		pthread_mutex_lock(&q->mu);
		bool stop = q->stop;
		pthread_mutex_unlock(&q->mu);
		if (stop && tries >= 5) {
			log_warnx("fetch log: %zu records and %zu last fetches not written at stop: %s", n, nl,
				  store_errmsg(q->store));
			metrics_add("sipprov_fetch_log_dropped_total", (long)n);
			return;
		}
		if (tries == 1)
			log_warnx("fetch log: write failed, retrying: %s", store_errmsg(q->store));
		usleep(backoff);
		if (backoff < 2000000)
			backoff *= 2;
	}
}

/* How much history the next batch takes, from how many devices fetched
 * while the last write ran (under mu).  Their last fetches are never
 * dropped: once LAST_MAX devices wait for one write, requests wait for
 * it.  A writer that lets more than a quarter of that gather during one
 * write is falling behind, and the history it writes with them (on
 * PostgreSQL the COPY into fetch_log, 40% of the writer's server time in
 * the 1,000,000-device mix) is what it can shed: the next batch takes a
 * quarter as much, the rest sampled out and counted; otherwise twice as
 * much again, and all of FETCHQ_MAX once it finds nothing to write.
 * With a fixed FETCHQ_MAX that mix's writer fell behind and requests
 * waited for it for up to hundreds of ms: in four alternating pairs p99
 * 137-387 ms against 9-40 ms with a fixed 4,096 (2026-12-06).  Halved
 * only above half of LAST_MAX, it reacted too late: 17-345 ms.  Counted
 * while the write ran, not in what the next write takes: a writer holding
 * a burst (fetchq_hold) takes more by choice.  Returns the new cap when it
 * was lowered, else 0. */
static size_t fetchq_pace(struct fetchq *q, size_t during)
{
	size_t was = q->cap;
	if (during > LAST_MAX / 4)
		q->cap = q->cap / 4 > FETCHQ_MIN ? q->cap / 4 : FETCHQ_MIN;
	else if (q->cap < FETCHQ_MAX)
		q->cap *= 2;
	return q->cap < was ? q->cap : 0;
}

/* Enough gathered for one write (under mu): three quarters of the
 * history a batch takes (the rest is room for the write's arrivals;
 * while the writer sheds, history beyond its cap is sampled out on
 * purpose), or half of LAST_MAX devices. */
#define HOLD_FULL (FETCHQ_MAX - FETCHQ_MAX / 4)
static bool fetchq_full(const struct fetchq *q)
{
	return q->len >= HOLD_FULL || q->last->n >= LAST_MAX / 2;
}

/* The writer's nap between writes, HOLD_STEP_MS: records gather, one
 * transaction per nap.  Under a burst (a boot storm: a nap saw at least
 * HOLD_BURST new records) a writer well ahead of it naps again, up to
 * HOLD_MAX_MS in all, until the burst ends or the batch is full
 * (fetchq_full: fetchq_push wakes it).  The write then comes after the
 * burst, or as one write during it: in a storm every CPU serves phones,
 * and the writer's work (on PostgreSQL on the same host, its server's
 * too) took 10-12% of the fleet's time in 50 ms batches
 * (tools/bench-bootstorm.sh --pg: sipprovd / nginx 0.86 and 0.79
 * writing, 1.00 and 0.94 with the writer's work skipped, 2026-12-07).
 * A last fetch is then in the database within about HOLD_MAX_MS under
 * load, as SQLite's device_fetch (store_fetch.c, FLUSH_MS), and drift
 * finds it in the maps meanwhile (fetchq_pending).
 * Well ahead: fewer records (history rows and devices) came while its
 * last write ran (during) than half of what it wrote (wrote), plus
 * HOLD_AHEAD.  A writer that is not ahead does not hold: in the
 * 1,000,000-device mix on PostgreSQL (~39,000 distinct devices a second,
 * each write 0.2-0.7 s) holding made every write large enough to shed
 * history, and 42% of it was sampled out against 22% (make bench-pg,
 * 2026-12-06 and 07). */
static void fetchq_hold(struct fetchq *q, size_t wrote, size_t during)
{
	int64_t start = sp_mono_ms();
	pthread_mutex_lock(&q->mu);
	for (;;) {
		size_t seen = q->len + q->last->n;
		struct timespec until = sp_clock_after(CLOCK_REALTIME, HOLD_STEP_MS);
		/* The first record into an empty queue signals too: nap on. */
		while (!q->stop && !fetchq_full(q) && pthread_cond_timedwait(&q->cv, &q->mu, &until) != ETIMEDOUT)
			;
		if (q->stop || fetchq_full(q) || during >= wrote / 2 + HOLD_AHEAD || q->cap < FETCHQ_MAX ||
		    q->len + q->last->n - seen < HOLD_BURST || sp_mono_ms() - start >= HOLD_MAX_MS)
			break;
	}
	pthread_mutex_unlock(&q->mu);
}

static void *fetchq_main(void *arg)
{
	struct fetchq *q = arg;
	fetchq_prune(q);
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->len == 0 && q->last->n == 0 && !q->stop) {
			/* Nothing queued: what the store keeps goes to the file
			 * before the wait (store_fetch_flush), and the writer
			 * keeps up (fetchq_pace). */
			q->cap = FETCHQ_MAX;
			pthread_mutex_unlock(&q->mu);
			if (store_fetch_flush(q->store) < 0)
				log_warnx("fetch log: device_fetch not written, retried with the next write: %s",
					  store_errmsg(q->store));
			pthread_mutex_lock(&q->mu);
			if (q->len || q->last->n || q->stop)
				break;
			/* Idle: wake at least every minute for retention. */
			struct timespec until = { .tv_sec = time(NULL) + 60 };
			pthread_cond_timedwait(&q->cv, &q->mu, &until);
			if (q->len == 0 && q->last->n == 0 && !q->stop) {
				pthread_mutex_unlock(&q->mu);
				fetchq_prune(q);
				pthread_mutex_lock(&q->mu);
			}
		}
		if (q->len == 0 && q->last->n == 0 && q->stop)
			break;
		/* Take everything queued; requests fill the other array. */
		struct fetch_rec *batch = q->ring;
		size_t n = q->len, cap = q->cap;
		bool stopping = q->stop;    /* read under the lock that guards it */
		q->ring = batch == q->rings[0] ? q->rings[1] : q->rings[0];
		q->len = 0;
		/* Take every device's last fetch so far; requests fill the other map. */
		struct lastmap *lm = q->last;
		q->last = lm == &q->maps[0] ? &q->maps[1] : &q->maps[0];
		q->writing = lm;
		pthread_cond_broadcast(&q->room);
		pthread_mutex_unlock(&q->mu);
		fetchq_write(q, batch, n, lm->ent, lm->n);
		metrics_inc("sipprov_fetch_log_writes_total");
		for (size_t i = 0; i < n; i++)
			fetch_text_free(batch[i].ua);
		pthread_mutex_lock(&q->mu);
		q->writing = NULL;      /* committed, or kept by the store */
		size_t during = q->last->n, shed = fetchq_pace(q, during), came = q->len + during, wrote = n + lm->n;
		pthread_mutex_unlock(&q->mu);
		long times;
		if (shed && log_every_due(&q->paced, &times))
			log_warnx("fetch log behind: %zu devices fetched during one write (requests wait at %d); "
				  "history now at most %zu rows a write, the rest sampled out (%ld times in 10 s)",
				  during, LAST_MAX, shed, times);
		lastmap_clear(lm);
		/* Drained: let records gather (fetchq_hold).  A full batch means
		 * we are behind: write the next one at once. */
		if (n < cap && !stopping) {
			fetchq_prune(q);
			fetchq_hold(q, wrote, came);
		}
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	if (store_fetch_flush(q->store) < 0)
		log_warnx("fetch log: last fetches not written at stop: %s", store_errmsg(q->store));
	return NULL;
}

/* drift's view of a device's last 200 that may not be in the database
 * yet (drift_fetch_source): in the map requests fill, the one being
 * written, or what the writer's store keeps.  Under mu, so a device taken
 * for writing is found in the map until the store has it. */
static int fetchq_pending(void *arg, int64_t device_id, int64_t *at, long *version)
{
	struct fetchq *q = arg;
	const struct fetch_last *l, *best = NULL;
	pthread_mutex_lock(&q->mu);
	if ((l = lastmap_find(q->last, device_id)) && l->at)
		best = l;
	if (q->writing && (l = lastmap_find(q->writing, device_id)) && l->at && (!best || l->at > best->at))
		best = l;
	int64_t kat = 0;
	long kver = 0;
	int kept = store_fetch_pending(q->store, device_id, &kat, &kver);
	if (best) {
		*at = best->at;
		*version = best->version;
	}
	if (kept && (!best || kat > best->at)) {
		*at = kat;
		*version = kver;
	}
	pthread_mutex_unlock(&q->mu);
	return best || kept;
}

/* Queue r, whose text (fetch_text) the queue owns from here. */
static void fetchq_push(struct fetchq *q, const struct fetch_rec *r)
{
	/* A device's 200 is its last fetch, signed before the lock every
	 * loop's requests take (store_fetch_sig). */
	bool last = r->status == 200 && r->device_id;
	int64_t sig = last ? store_fetch_sig(r->ip, r->ua, r->digest) : 0;
	pthread_mutex_lock(&q->mu);
	if (last) {
		/* The device's last fetch is never dropped: when LAST_MAX other
		 * devices wait for the same write, this request waits for it. */
		struct fetch_last *l;
		bool waited = false;
		while (!(l = lastmap_slot(q->last, r->device_id)) && !q->stop) {
			waited = true;
			pthread_cond_wait(&q->room, &q->mu);
		}
		if (waited)
			metrics_inc("sipprov_fetch_log_waits_total");
		if (l && r->at >= l->at) {
			l->at = r->at;
			l->version = r->version;
			sp_strlcpy(l->ip, r->ip, sizeof(l->ip));
			if (!l->ua || strcmp(l->ua, r->ua)) {
				fetch_text_free(l->ua);
				l->ua = xstrdup(r->ua);
			}
			sp_strlcpy(l->digest, r->digest, sizeof(l->digest));
			l->sig = sig;
		}
		if ((q->len == 0 && q->last->n == 1) || q->last->n == LAST_MAX / 2)
			pthread_cond_signal(&q->cv);
	}
	if (q->len >= q->cap) {
		/* Serving never waits on history: under overload fetch_log rows
		 * are sampled out, counted, and reported every 10 s. */
		int64_t now = sp_now();
		bool warn = now - q->warned >= 10;
		if (warn)
			q->warned = now;
		pthread_mutex_unlock(&q->mu);
		fetch_text_free(r->ua);
		metrics_inc("sipprov_fetch_log_dropped_total");
		if (warn)
			log_warnx("fetch log behind: fetch_log history sampled, every device's last fetch kept "
				  "(see sipprov_fetch_log_dropped_total)");
		return;
	}
	q->ring[q->len] = *r;
	/* The writer drains everything queued, then naps (fetchq_hold): it
	 * needs waking when it found the queue empty, or when a nap has
	 * gathered a full batch. */
	if (q->len++ == 0 || q->len == HOLD_FULL)
		pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* ---- workers ---- */

static long long mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* May w try to connect now?  At most once a second per worker, so while
 * the server is down a request costs no more than a refused connect. */
static bool worker_connect_due(struct worker *w)
{
	long long now = mono_us();
	if (w->revive_at && now - w->revive_at < 1000000)
		return false;
	w->revive_at = now;
	return true;
}

/* The worker's PostgreSQL connection broke (the server restarted): a new
 * one, when worker_connect_due.  Nothing is logged: the generation watcher
 * reports the outage once.  true when replaced. */
static bool worker_revive(struct worker *w)
{
	if (!store_lost(w->store) || !worker_connect_due(w))
		return false;
	char err[SP_ERR_MAX];
	return store_reconnect(w->store, err, sizeof(err)) == 0;
}

/* This thread's worker.  It opens no database connection: worker_db does,
 * for the first request that needs one. */
static struct worker *worker_get(struct http_server *h)
{
	struct worker *w = pthread_getspecific(h->worker_key);
	if (w)
		return w;
	w = xcalloc(1, sizeof(*w));
	w->h = h;
	pthread_setspecific(h->worker_key, w);
	pthread_mutex_lock(&h->workers_mu);
	h->workers = xrealloc(h->workers, sizeof(*h->workers) * (h->nworkers + 1));
	h->workers[h->nworkers++] = w;
	pthread_mutex_unlock(&h->workers_mu);
	return w;
}

/* w's connection to the database, opened when a request first needs one
 * and replaced after a PostgreSQL restart (worker_revive); NULL while it
 * cannot be had, tried again at most once a second.  Opened with the
 * worker, every loop's first request paid a connection (on PostgreSQL a
 * backend started and authenticated: about 26 ms of the server's CPU on
 * the bench's VM, two of them while the schema had its own) even when it
 * needed none: a common file, a render cache hit, a miss that
 * database_copy serves.  A 10,000-phone storm on a fresh node with four
 * loops spent about as much of the server's CPU on them as on writing
 * its fetch history (perf, 2026-12-06). */
static struct store *worker_db(struct http_server *h, struct worker *w)
{
	if (w->store) {
		worker_revive(w);
		return w->store;
	}
	if (!worker_connect_due(w))
		return NULL;
	char err[SP_ERR_MAX];
	struct store *s = store_open(h->conf->database, err, sizeof(err));
	if (!s || store_use_key(s, h->key, err, sizeof(err)) < 0) {
		log_warnx("worker: %s", err);
		store_close(s);
		return NULL;
	}
	return w->store = s;
}

static void worker_free(struct worker *w)
{
	store_close(w->copy);
	store_close(w->replica);
	store_close(w->store);
	free(w);
}

static void *gen_main(void *arg)
{
	struct http_server *h = arg;
	while (h->gen_pushed && !atomic_load(&h->stopping)) {
		/* 100 ms at most, so a stop is not kept waiting. */
		long g;
		int rc = store_gen_wait(h->genwatch, atomic_load(&h->gen), GEN_WAIT_MS, &g);
		if (rc == 2) {
			/* Connected again, maybe to a promoted replica whose
			 * generation went back and counts up over other
			 * contents: nothing cached may be trusted, and a new
			 * lgen misses every entry (as a layouts reload does). */
			atomic_fetch_add(&h->lgen, 1);
		}
		if (rc > 0) {
			atomic_store(&h->gen, g);
			atomic_store(&h->gen_at, mono_us());
			copy_sync_kick(h->copy);
		}
	}
	long long read_at = 0;
	while (!atomic_load(&h->stopping)) {
		/* No commit since the last read (one pread of the WAL index):
		 * the generation stands, as of now.  Read anyway once a second. */
		long long now = mono_us();
		long g;
		int rc = store_gen_poll(h->genwatch, now - read_at >= GEN_READ_US, &g);
		if (rc == 1) {
			atomic_store(&h->gen, g);
			read_at = now;
		}
		if (rc >= 0)
			atomic_store(&h->gen_at, now);
		bool busy = mono_us() - atomic_load(&h->last_req) < GEN_BUSY_US;
		usleep(busy ? 1000 : 50000);
	}
	return NULL;
}

static void cache_ent_free(struct cache_ent *ce)
{
	if (ce) {
		free(ce->body);
		free(ce->path);
	}
	free(ce);
}

/* Content types by text, kept for the daemon's life (entries, in memory
 * and in the render cache's file, point at them): one per distinct type a
 * layout ever named, a handful. */
struct ctype_kept {
	struct ctype_kept *next;
	char text[];
};

static const char *ctype_keep(const char *text)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct ctype_kept *kept;
	pthread_mutex_lock(&mu);
	struct ctype_kept *k = kept;
	while (k && strcmp(k->text, text))
		k = k->next;
	if (!k) {
		size_t n = strlen(text) + 1;
		k = xmalloc(sizeof(*k) + n);
		memcpy(k->text, text, n);
		k->next = kept;
		kept = k;
	}
	pthread_mutex_unlock(&mu);
	return k->text;
}

/* ---- the request, whichever listener parsed it ---- */

const char *phone_header(const struct phone_req *q, const char *name)
{
	if (q->conn)
		return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
	for (size_t i = 0; i < q->nhdr; i++)
		if (!strcasecmp(q->hdr[i].name, name))
			return q->hdr[i].value;
	return NULL;
}

void phone_resp_reset(struct phone_resp *r)
{
	free(r->owned);
	if (r->file)
		close(r->fd);
	memset(r, 0, sizeof(*r));
}

typedef enum MHD_Result (*phone_iter)(void *cls, enum MHD_ValueKind kind, const char *key, const char *value);

/* Every header line in order, as MHD_get_connection_values gives them. */
static void phone_headers_each(struct phone_req *q, phone_iter it, void *cls)
{
	if (q->conn) {
		MHD_get_connection_values(q->conn, MHD_HEADER_KIND, it, cls);
		return;
	}
	for (size_t i = 0; i < q->nhdr; i++)
		if (it(cls, MHD_HEADER_KIND, q->hdr[i].name, q->hdr[i].value) != MHD_YES)
			return;
}

/* ---- responses: the one place status codes are decided ---- */

/* Decide the answer; the listener sends it (mhd_queue or phone_listen.c).
 * body is copied unless it is static text (owned NULL then). */
static enum MHD_Result respond(struct phone_req *c, unsigned status, const char *ctype,
			       const char *body, size_t len, const char *etag)
{
	struct phone_resp *r = &c->resp;
	phone_resp_reset(r);
	r->status = status;
	sp_strlcpy(r->ctype_buf, ctype, sizeof(r->ctype_buf));
	r->ctype = r->ctype_buf;
	r->cache = "no-store";
	if (etag)
		sp_strlcpy(r->etag, etag, sizeof(r->etag));
	if (len) {
		r->owned = xmalloc(len);
		memcpy(r->owned, body, len);
	}
	r->body = r->owned ? r->owned : "";
	r->len = len;
	return MHD_YES;
}

/* The same with a body the caller allocated, taken over (no copy). */
static enum MHD_Result respond_take(struct phone_req *c, unsigned status, const char *ctype, char *body,
				    size_t len, const char *etag)
{
	respond(c, status, ctype, "", 0, etag);
	c->resp.owned = body;
	c->resp.body = body ? body : "";
	c->resp.len = len;
	return MHD_YES;
}

/* Static text: no copy. */
static enum MHD_Result respond_static(struct phone_req *c, unsigned status, const char *text, size_t len)
{
	respond(c, status, "text/plain; charset=utf-8", "", 0, NULL);
	c->resp.body = text;
	c->resp.len = len;
	return MHD_YES;
}

static enum MHD_Result respond_text(struct phone_req *c, unsigned status, const char *text)
{
	return respond(c, status, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

/* Every refusal of a device route: same status, same body and the same
 * digest challenges, whatever the reason (unknown MAC, disabled, suspended,
 * bad credentials, wrong vendor, no certificate).  stale is set when the
 * client's nonce had expired, for known and unknown MACs alike. */
static const char deny_body[] = "unauthorized\n";

static enum MHD_Result respond_deny(struct phone_req *c, bool stale)
{
	respond_static(c, MHD_HTTP_UNAUTHORIZED, deny_body, sizeof(deny_body) - 1);
	c->resp.challenge = true;
	c->resp.stale = stale;
	return MHD_YES;
}

/* The MHD listener's send: the decided answer as one MHD_Response (a
 * file body by sendfile, libmicrohttpd closing the file). */
static enum MHD_Result mhd_queue(struct MHD_Connection *conn, struct phone_resp *pr)
{
	struct MHD_Response *r;
	if (pr->file)
		r = MHD_create_response_from_fd_at_offset64(pr->len, pr->fd, pr->off);
	else
		r = MHD_create_response_from_buffer(pr->len, (void *)pr->body,
						    pr->owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		phone_resp_reset(pr);
		return MHD_NO;
	}
	pr->owned = NULL;                   /* MHD frees it with the response */
	pr->file = false;                   /* and closes the file */
	if (pr->ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, pr->ctype);
	if (pr->cache)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, pr->cache);
	if (pr->etag[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, pr->etag);
	if (pr->ranges)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (pr->range[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, pr->range);
	if (pr->retry_after)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, pr->retry_after);
	if (pr->close)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (pr->challenge)
		auth_challenge(r, pr->stale);
	enum MHD_Result ret = MHD_queue_response(conn, pr->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- request framing ---- */

/* What the headers say about where the body ends.  RFC 9112 6.3: a
 * Content-Length beside Transfer-Encoding, several Content-Lengths (equal
 * or not, in one header or many) and a transfer coding other than chunked
 * are request smuggling material or a body we cannot find the end of. */
struct framing {
	int ncl;                            /* Content-Length headers */
	bool cl_list;                       /* one of them a list ("5, 5") */
	bool te;                            /* Transfer-Encoding present */
	bool te_other;                      /* ... and not exactly "chunked" */
};

static enum MHD_Result framing_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct framing *f = cls;
	(void)kind;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		f->ncl++;
		f->cl_list |= value && strchr(value, ',') != NULL;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		/* A second TE header counts as a list, so as "other". */
		f->te_other |= f->te || !value || strcasecmp(value, "chunked") != 0;
		f->te = true;
	}
	return MHD_YES;
}

/* NULL when the framing is unambiguous, else the reason (for the log). */
static const char *framing_bad(struct phone_req *c)
{
	struct framing f = { 0 };
	phone_headers_each(c, framing_iter, &f);
	if (f.ncl > 1 || f.cl_list)
		return "repeated Content-Length";
	if (f.ncl && f.te)
		return "Content-Length with Transfer-Encoding";
	if (f.te_other)
		return "unsupported Transfer-Encoding";
	return NULL;
}

/* The request announces a body (a Content-Length above 0, or chunked). */
static bool has_body(struct phone_req *c)
{
	const char *cl = phone_header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (phone_header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return true;
	return cl && strspn(cl, " 0") != strlen(cl);
}

/* 400 and close: after ambiguous framing nothing on this connection can be
 * trusted to start where we think it starts. */
static enum MHD_Result respond_bad_framing(struct phone_req *c)
{
	static const char body[] = "bad request\n";
	respond_static(c, MHD_HTTP_BAD_REQUEST, body, sizeof(body) - 1);
	c->resp.cache = NULL;
	c->resp.close = true;
	return MHD_YES;
}

/* ---- access log ---- */

/* A request path as every log line shows it: token runs redacted, then
 * escaped (client bytes).  Returns out. */
static const char *log_path(const char *path, char *out, size_t size)
{
	char red[PATH_MAX_LEN + 1];
	sp_redact_path(path, red, sizeof(red));
	return sp_log_escape(red, out, size);
}

int http_access_format_parse(const char *s)
{
	static const char *const names[] = { "sipprov", "combined", "combined_duration" };
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* note is server text (a MAC, a reason whose client fields auth.c has
 * escaped already); method, path, UA and Referer are client bytes, escaped
 * here.  Formats: sipprov (ours, with the note), combined (Apache/nginx,
 * which log analysers read) and combined_duration (plus microseconds from
 * the request's headers to its response being queued, like Apache's %D).
 * A HEAD sends no body: 0 bytes. */
static void access_log(struct http_server *h, const char *ip, const char *method, const char *path,
		       unsigned status, size_t bytes, const char *ua, const char *note)
{
	char t[40], m[40], p[4 * PATH_MAX_LEN + 1], u[4 * 128 + 1], r[4 * 128 + 1], pr[4 * 16 + 1], n[24];
	struct tm tm;
	time_t now = time(NULL);
	const struct req *rq = cur_req;
	if (!atomic_load(&h->access_on))
		return;
	int fmt = atomic_load(&h->access_fmt);
	gmtime_r(&now, &tm);
	log_path(path, p, sizeof(p));
	sp_log_escape(method, m, sizeof(m));
	if (!strcmp(method, MHD_HTTP_METHOD_HEAD))
		bytes = 0;
	if (fmt == ACCESS_SIPPROV) {
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
		sp_log_escape(ua, u, sizeof(u));
	} else {
		const char *ref = rq && rq->q ? phone_header(rq->q, MHD_HTTP_HEADER_REFERER) : NULL;
		strftime(t, sizeof(t), "%d/%b/%Y:%H:%M:%S +0000", &tm);
		sp_log_escape(ua && ua[0] ? ua : "-", u, sizeof(u));
		sp_log_escape(ref && ref[0] ? ref : "-", r, sizeof(r));
		sp_log_escape(rq && rq->proto[0] ? rq->proto : "-", pr, sizeof(pr));
		if (bytes)
			snprintf(n, sizeof(n), "%zu", bytes);
		else
			sp_strlcpy(n, "-", sizeof(n));
	}
	long long us = rq && rq->start_us ? mono_us() - rq->start_us : 0;
	/* The lock keeps a SIGHUP reopen from closing the FILE under us. */
	pthread_mutex_lock(&h->access_mu);
	if (h->access && fmt == ACCESS_SIPPROV)
		fprintf(h->access, "%s %s \"%s %s\" %u %zu \"%s\"%s%s\n", t, ip, m, p, status, bytes, u,
			note ? " " : "", note ? note : "");
	else if (h->access && fmt == ACCESS_COMBINED)
		fprintf(h->access, "%s - - [%s] \"%s %s %s\" %u %s \"%s\" \"%s\"\n", ip, t, m, p, pr, status, n, r, u);
	else if (h->access)
		fprintf(h->access, "%s - - [%s] \"%s %s %s\" %u %s \"%s\" \"%s\" %lld\n", ip, t, m, p, pr, status, n,
			r, u, us);
	pthread_mutex_unlock(&h->access_mu);
}

/* ---- device routes ---- */

static size_t path_hash(const char *s)
{
	size_t x = 1469598103934665603ull;
	while (*s)
		x = (x ^ (unsigned char)*s++) * 1099511628211ull;
	return x;
}

/* A miss in memory of the path hashing to hv: whether it missed within the
 * last render_cache misses, which is when keeping it in memory can pay.
 * A hit in the render cache's file that is not seen again is served
 * without evicting anything (serve_device): in a fleet many times
 * render_cache fetched at random (the 1,000,000-device mix) nearly every
 * fetch is such a hit, and each one evicted an entry no later fetch would
 * find (the evictions alone 4% of sipprovd's CPU there, perf) and copied
 * its body out for the response.  A slot taken by another path forgets a
 * miss (a later admission), never invents one: the hash's high half must
 * match. */
static bool seen_again(struct http_server *h, uint64_t hv)
{
	_Atomic uint64_t *slot = &h->seen[hv & (h->nseen - 1)];
	uint32_t now = atomic_fetch_add_explicit(&h->seen_clock, 1, memory_order_relaxed);
	uint64_t was = atomic_exchange_explicit(slot, (hv & 0xffffffff00000000ull) | now, memory_order_relaxed);
	return was >> 32 == hv >> 32 && (uint32_t)(now - (uint32_t)was) < h->cache_max;
}

/* Build the cache entry for path: look the device up, render, hash
 * (subject_only: stop after filling ce->subj, for uploads).
 * Returns 0, or -1 on a server-side failure (logged; the client gets 500). */
static int build_entry(struct http_server *h, struct store *s, const struct layouts *ls,
		       const struct route_match *m, struct cache_ent *ce, bool subject_only)
{
	struct effective e;
	struct account tok;
	char err[SP_ERR_MAX], mac[SP_MAC_LEN + 1];
	long line = m->line;
	int rc;

	memset(ce, 0, sizeof(*ce));
	ce->subj.token_route = m->kind == ROUTE_TOKEN;
	if (m->kind == ROUTE_TOKEN) {
		rc = store_account_get_token(s, m->token, &tok);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return 0;
		struct device d;
		if (store_device_get_id(s, tok.device_id, &d) != 1)
			return 0;
		sp_strlcpy(mac, d.mac, sizeof(mac));
		line = tok.line;
		ce->subj.token_ok = !tok.token_revoked;
	} else {
		sp_strlcpy(mac, m->mac, sizeof(mac));
	}
	rc = effective_load(s, h->key, mac, &e, err, sizeof(err));
	if (rc < 0) {
		log_warnx("render %s: %s", mac, err);
		return -1;
	}
	if (rc == 0)
		return 0;
	effective_set_public_url(&e, h->conf->public_url);
	struct auth_subject *sj = &ce->subj;
	sj->found = true;
	sj->device_id = e.device.id;
	sp_strlcpy(sj->mac, e.device.mac, sizeof(sj->mac));
	sp_strlcpy(sj->tenant, e.tenant.slug, sizeof(sj->tenant));
	sj->tenant_active = strcmp(e.tenant.status, "active") == 0;
	sj->device_active = strcmp(e.device.status, "active") == 0;
	auth_subject_policy(sj, e.tenant.device_auth, e.tenant.allow_cidrs);
	sp_strlcpy(sj->http_user, e.device.http_user, sizeof(sj->http_user));
	sp_strlcpy(sj->ha1_md5, e.device.ha1_md5, sizeof(sj->ha1_md5));
	sp_strlcpy(sj->ha1_sha256, e.device.ha1_sha256, sizeof(sj->ha1_sha256));
	sj->has_secrets = e.naccounts > 0;
	const struct layout *l = layouts_find(ls, e.device.layout);
	sj->vendor_ok = l && (m->kind == ROUTE_TOKEN ? layout_uses_token(l) : layout_answers(l, m));
	if (!l || !sj->vendor_ok || subject_only) {
		effective_release(&e);
		return 0;            /* vendor_ok false: refused by auth_check */
	}
	if (validate_effective(&e, err, sizeof(err)) < 0) {
		log_warnx("refusing to serve invalid config for %s: %s", mac, err);
		effective_release(&e);
		return -1;
	}
	struct buf out;
	buf_init(&out, SP_BODY_MAX);
	if (render_route(l, m, &e, line, &out, err, sizeof(err)) < 0) {
		log_warnx("render %s (%s): %s", mac, layout_name(l), err);
		buf_release(&out);
		effective_release(&e);
		return -1;
	}
	metrics_inc("sipprov_renders_total");
	/* Keyed: fetch_log keeps this digest, and an unkeyed hash of a body
	 * with a password in it would let a database reader test guesses. */
	char sha[65];
	secret_hmac_hex(h->key, "sipprov etag v1", out.data ? out.data : "", out.len, sha);
	snprintf(ce->etag, sizeof(ce->etag), "\"%.32s\"", sha);
	ce->body = buf_detach(&out, &ce->len);
	ce->version = e.version;
	if (strlen(layout_content_type(l)) >= CTYPE_MAX) {
		log_warnx("render %s (%s): content type longer than %d bytes", mac, layout_name(l), CTYPE_MAX - 1);
		effective_release(&e);
		return -1;
	}
	ce->ctype = ctype_keep(layout_content_type(l));
	effective_release(&e);
	return 0;
}

/* One snapshot of s (one WAL read lock on SQLite) for the generation and
 * the entry built from what it tags, into fresh: that generation, or -1.
 * A snapshot older than min (a replica behind the node) builds nothing:
 * -1 with *behind set. */
static long render_snapshot(struct http_server *h, struct store *s, const struct route_match *m,
			    struct cache_ent *fresh, long min, bool *behind)
{
	/* A MAC route's device rows come with the snapshot, which ends in
	 * the same round trip on PostgreSQL; a token route finds its device
	 * first.  What the render reads after that snapshot (a memo miss) is
	 * checked against the generation, and when that moved the render
	 * runs again inside one snapshot. */
	for (int pass = 0;; pass++) {
		long g = store_begin_render(s, m->kind == ROUTE_MAC ? m->mac : NULL, pass == 0);
		*behind = g >= 0 && g < min;
		int built = -1;
		if (g >= 0 && !*behind) {
			/* Phones of a tenant share its row and their template
			 * version: read them once per generation (store_memo_begin). */
			store_memo_begin(s, g);
			built = build_entry(h, s, h->layouts, m, fresh, false);
			store_memo_end(s);
		}
		int ended = store_end_render(s);
		if (built >= 0 && ended != 1)
			return g;
		free(fresh->body);
		fresh->body = NULL;
		if (ended != 1 || pass > 0)
			return -1;
	}
}

/* The replica cannot be used (why names it): close this worker's
 * connection, try again after the backoff, and say so, at most every
 * REPLICA_LOG_MS for all workers together. */
static void replica_down(struct http_server *h, struct worker *w, const char *why)
{
	long long now = mono_us();
	store_close(w->replica);
	w->replica = NULL;
	if (w->replica_backoff_ms < REPLICA_RETRY_MIN_MS)
		w->replica_backoff_ms = REPLICA_RETRY_MIN_MS;
	w->replica_retry_at = now + w->replica_backoff_ms * 1000LL;
	w->replica_backoff_ms =
		w->replica_backoff_ms * 2 > REPLICA_RETRY_MAX_MS ? REPLICA_RETRY_MAX_MS : w->replica_backoff_ms * 2;
	long long last = atomic_load(&h->replica_log_at);
	if (!atomic_load(&h->replica_said) && now - last >= REPLICA_LOG_MS * 1000LL &&
	    atomic_compare_exchange_strong(&h->replica_log_at, &last, now)) {
		atomic_store(&h->replica_said, true);
		log_warnx("database replica '%s': %s; render misses read from the primary, retrying", h->replica_shown,
			  why);
	}
}

/* This worker's replica connection, opened when none is and the backoff
 * allows; NULL when there is none to use. */
static struct store *replica_get(struct http_server *h, struct worker *w)
{
	if (w->replica)
		return w->replica;
	if (w->replica_retry_at && mono_us() < w->replica_retry_at)
		return NULL;
	char err[SP_ERR_MAX];
	if (!(w->replica = store_open_replica(h->conf->database_replica, h->key, err, sizeof(err)))) {
		replica_down(h, w, err);
		return NULL;
	}
	w->replica_retry_at = 0;
	w->replica_backoff_ms = 0;
	if (atomic_exchange(&h->replica_said, false))
		log_info("database replica '%s': connected again; render misses read there once it has the node's "
			 "generation", h->replica_shown);
	return w->replica;
}

/* A miss rendered from database_replica (issue 17), only from a snapshot
 * whose config_gen has reached the generation this node knows (the
 * watcher's, from the primary): a replica that lags, its replay paused or
 * slow, would serve a config the node already knows is old, and cache it
 * under that older generation.  Its generation, or -1: then the primary
 * reads (counted in sipprov_replica_fallbacks_total by reason). */
static long render_replica(struct http_server *h, struct worker *w, const struct route_match *m,
			   struct cache_ent *fresh)
{
	struct store *r = replica_get(h, w);
	if (!r) {
		metrics_inc("sipprov_replica_fallbacks_total{reason=\"down\"}");
		return -1;
	}
	bool behind;
	long g = render_snapshot(h, r, m, fresh, atomic_load(&h->gen), &behind);
	if (g >= 0) {
		metrics_inc("sipprov_render_reads_total{server=\"replica\"}");
		return g;
	}
	if (behind) {
		metrics_inc("sipprov_replica_fallbacks_total{reason=\"behind\"}");
		return -1;
	}
	if (store_lost(r)) {
		metrics_inc("sipprov_replica_fallbacks_total{reason=\"down\"}");
		replica_down(h, w, "the connection was lost");
	} else {
		/* A statement failed (a query cancelled by a replay conflict,
		 * or what would fail on the primary too): the connection
		 * stays, this read goes to the primary. */
		metrics_inc("sipprov_replica_fallbacks_total{reason=\"error\"}");
	}
	return -1;
}

/* A miss rendered from database_copy (issue 18), only once the copy has
 * the node's generation (the copy thread publishes its own, and the
 * snapshot checks it again): its generation, or -1, and then the replica
 * or the primary reads (sipprov_copy_fallbacks_total says why). */
static long render_copy(struct http_server *h, struct worker *w, const struct route_match *m,
			struct cache_ent *fresh)
{
	long want = atomic_load(&h->gen);
	if (copy_sync_gen(h->copy) < want) {
		metrics_inc("sipprov_copy_fallbacks_total{reason=\"behind\"}");
		return -1;
	}
	char err[SP_ERR_MAX];
	if (!w->copy && (!(w->copy = store_open(copy_sync_path(h->copy), err, sizeof(err))) ||
			 store_use_key(w->copy, h->key, err, sizeof(err)) < 0)) {
		if (!atomic_exchange(&h->copy_said, true))
			log_warnx("database copy '%s': %s; render misses read from the database",
				  copy_sync_path(h->copy), err);
		store_close(w->copy);
		w->copy = NULL;
		metrics_inc("sipprov_copy_fallbacks_total{reason=\"error\"}");
		return -1;
	}
	bool behind;
	long g = render_snapshot(h, w->copy, m, fresh, want, &behind);
	if (g >= 0) {
		metrics_inc("sipprov_render_reads_total{server=\"copy\"}");
		return g;
	}
	metrics_inc(behind ? "sipprov_copy_fallbacks_total{reason=\"behind\"}"
			   : "sipprov_copy_fallbacks_total{reason=\"error\"}");
	return -1;
}

/* Render a miss into fresh: its generation, or -1.  From the copy, then the replica when
 * one is configured and has caught up, else from the primary.  A
 * PostgreSQL connection to the primary found broken (a server restart) is
 * replaced and the render tried once more, so the restart costs no failed
 * request. */
static long render_fresh(struct http_server *h, struct worker *w, const struct route_match *m,
			 struct cache_ent *fresh)
{
	if (h->copy) {
		long g = render_copy(h, w, m, fresh);
		if (g >= 0)
			return g;
	}
	if (h->conf->database_replica[0]) {
		long g = render_replica(h, w, m, fresh);
		if (g >= 0)
			return g;
	}
	struct store *db = worker_db(h, w);
	for (int attempt = 0; db; attempt++) {
		bool behind;
		long g = render_snapshot(h, db, m, fresh, -1, &behind);
		if (g >= 0) {
			metrics_inc("sipprov_render_reads_total{server=\"primary\"}");
			return g;
		}
		if (attempt || !worker_revive(w))
			break;
	}
	return -1;
}

/* The disk tier's key for path at a config and a layouts generation. */
struct dkey {
	int64_t gen, lgen;
	char path[PATH_MAX_LEN + 1];
};

static size_t dkey_make(struct dkey *k, const char *path, long gen, long lgen)
{
	memset(k, 0, sizeof(*k));
	k->gen = gen;
	k->lgen = lgen;
	return offsetof(struct dkey, path) + sp_strlcpy(k->path, path, sizeof(k->path));
}

/* A miss in memory from the disk tier into fresh (the entry, then its
 * body): true when it held path at these generations. */
static bool dcache_load(struct http_server *h, const char *path, long gen, long lgen, struct cache_ent *fresh)
{
	if (!h->dc)
		return false;
	struct dkey k;
	size_t vlen, klen = dkey_make(&k, path, gen, lgen);
	char *v = dcache_get(h->dc, &k, klen, &vlen);
	struct cache_ent ce;
	if (v && vlen >= sizeof(ce)) {
		memcpy(&ce, v, sizeof(ce));
		if (vlen == sizeof(ce) + ce.len) {
			/* The body moved to the front of dcache_get's buffer,
			 * which the entry keeps: no second allocation and copy. */
			*fresh = ce;
			fresh->path = NULL;     /* the caller's; the pointer written was another entry's */
			fresh->on_disk = true;
			memmove(v, v + sizeof(ce), ce.len);
			fresh->body = v;
			metrics_inc("sipprov_render_cache_disk_total{result=\"hit\"}");
			return true;
		}
	}
	bool busy = !v && errno == EAGAIN;
	if (v)
		secret_wipe(v, vlen);
	free(v);
	if (busy)
		metrics_inc("sipprov_render_cache_disk_total{result=\"busy\"}");
	else
		metrics_inc("sipprov_render_cache_disk_total{result=\"miss\"}");
	return false;
}

/* An entry memory lets go of (evicted, or never kept) into the disk tier:
 * a device's, with a body, not older than the generation the request
 * knew, and not there already.  Written when memory drops it rather than
 * at its render, so a fleet that fits in render_cache (a 10,000-phone
 * storm) writes nothing: writing every render cost that storm 5-8%. */
static void dcache_store(struct http_server *h, const struct cache_ent *ce, long gen, long lgen)
{
	if (!h->dc || ce->on_disk || !ce->subj.found || !ce->body || ce->gen < gen || ce->lgen != lgen)
		return;
	struct dkey k;
	size_t klen = dkey_make(&k, ce->path, ce->gen, ce->lgen), vlen = sizeof(*ce) + ce->len;
	char *v = xmalloc(vlen);
	memcpy(v, ce, sizeof(*ce));
	((struct cache_ent *)(void *)v)->body = NULL;
	((struct cache_ent *)(void *)v)->path = NULL;
	memcpy(v + sizeof(*ce), ce->body, ce->len);
	int rc = dcache_put(h->dc, &k, klen, v, vlen);
	int e = errno;
	secret_wipe(v, vlen);
	free(v);
	if (rc == 0) {
		metrics_inc("sipprov_render_cache_disk_total{result=\"stored\"}");
		return;
	}
	metrics_inc("sipprov_render_cache_disk_total{result=\"failed\"}");
	if (!atomic_exchange(&h->dc_said, true))
		log_warnx("render cache file in '%s': %s; renders are served without it (said once)",
			  h->conf->render_cache_dir, strerror(e));
}

/* An entry memory no longer holds: to the disk tier if it belongs there,
 * then freed.  Accepts NULL. */
static void cache_let_go(struct http_server *h, struct cache_ent *ce, long gen, long lgen)
{
	if (!ce)
		return;
	dcache_store(h, ce, gen, lgen);
	cache_ent_free(ce);
}

/* A refused device request: logged with its reason, counted against the
 * source, answered like every other refusal. */
static enum MHD_Result deny_device(struct http_server *h, struct phone_req *c, const struct sockaddr *addr,
				   const char *ip, const char *method, const char *url, const char *ua,
				   const char *why, bool stale)
{
	char me[40], pe[4 * PATH_MAX_LEN + 1];
	/* Readable first, then key=value fields a log shipper can index.
	 * why's client parts are escaped by auth.c; the rest are ours. */
	log_info("deny: %s ip=%s method=%s path=%s", why, ip, sp_log_escape(method, me, sizeof(me)),
		 log_path(url, pe, sizeof(pe)));
	metrics_inc("sipprov_auth_failures_total");
	if (auth_fail_note(addr)) {
		log_warnx("lockout: too many failed fetches ip=%s", ip);
		metrics_inc("sipprov_lockouts_total");
	}
	metrics_inc("sipprov_http_requests_total{route=\"device\",code=\"401\"}");
	access_log(h, ip, method, url, 401, sizeof(deny_body) - 1, ua, why);
	return respond_deny(c, stale);
}

static enum MHD_Result serve_device(struct http_server *h, struct phone_req *c, const char *url,
				    const char *method, const struct sockaddr *addr, const char *ip, bool tls,
				    const char *ua)
{
	struct route_match m;
	struct worker *w = worker_get(h);
	enum MHD_Result ret;
	char why[SP_ERR_MAX];

	pthread_rwlock_rdlock(&h->layouts_lock);
	if (!route_match(h->layouts, url, &m) || m.kind == ROUTE_UPLOAD) {
		pthread_rwlock_unlock(&h->layouts_lock);
		metrics_inc("sipprov_http_requests_total{route=\"none\",code=\"404\"}");
		access_log(h, ip, method, url, 404, 10, ua, NULL);
		return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	char lname[32];                 /* m.layout lives only under the lock */
	sp_strlcpy(lname, layout_name(m.layout), sizeof(lname));
	if (m.kind == ROUTE_COMMON) {
		struct buf out;
		char ct[CTYPE_MAX];
		buf_init(&out, SP_BODY_MAX);
		int rc = render_common_route(m.layout, &m, h->conf->public_url, &out, why, sizeof(why));
		/* Copied while the lock keeps the layout alive (a reload frees it). */
		if (sp_strlcpy(ct, layout_content_type(m.layout), sizeof(ct)) >= sizeof(ct))
			rc = -1;
		pthread_rwlock_unlock(&h->layouts_lock);
		if (rc > 0) {
			/* The file names the phone's own file by an absolute URL
			 * and public_url is unset: the Host header is not used
			 * instead (client-chosen, and it does not carry the scheme
			 * a TLS-terminating proxy removed). */
			buf_release(&out);
			metrics_inc("sipprov_http_requests_total{route=\"none\",code=\"404\"}");
			access_log(h, ip, "GET", url, 404, 10, ua, "common file needs public_url");
			return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
		}
		if (rc < 0) {
			buf_release(&out);
			return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
		}
		ret = respond(c, MHD_HTTP_OK, ct, out.data ? out.data : "", out.len, NULL);
		access_log(h, ip, method, url, 200, out.len, ua, "common");
		buf_release(&out);
		return ret;
	}
	long lgen = atomic_load(&h->lgen);
	long long now_us = mono_us();
	long gen = atomic_load(&h->gen);
	atomic_store(&h->last_req, now_us);
	if (!h->gen_pushed && now_us - atomic_load(&h->gen_at) > GEN_FRESH_US) {
		/* The watcher is napping (idle server): read it ourselves. */
		struct store *db = worker_db(h, w);
		long g = db ? store_config_gen(db) : -1;
		if (g >= 0)
			gen = g;
	}
	uint64_t hv = path_hash(url);
	struct cache_bucket *b = &h->cache[hv % h->nbuckets];
	struct cache_ent *ce = NULL, *uncached = NULL, *evicted = NULL;
	int at = -1;                    /* ce's way */
	char *ok_body = NULL;
	struct auth_subject subj;
	char etag[40];
	const char *ctype;
	size_t len = 0;
	long version = 0;

	pthread_mutex_lock(&b->mu);
	for (int i = 0; i < CACHE_WAYS; i++)
		if (b->way[i] && b->tag[i] == hv && b->way[i]->gen == gen && b->way[i]->lgen == lgen &&
		    !strcmp(b->way[i]->path, url))
			ce = b->way[at = i];
	if (!ce && b->neg && b->neg->gen == gen && b->neg->lgen == lgen && !strcmp(b->neg->path, url))
		ce = b->neg;
	if (!ce) {
		/* Miss: render outside the lock, tagged with a fresh generation. */
		pthread_mutex_unlock(&b->mu);
		struct cache_ent *fresh = xcalloc(1, sizeof(*fresh));
		bool again = h->seen && seen_again(h, hv);
		bool from_disk = dcache_load(h, url, gen, lgen, fresh);
		long g = from_disk ? gen : render_fresh(h, w, &m, fresh);
		if (g < 0) {
			pthread_rwlock_unlock(&h->layouts_lock);
			cache_ent_free(fresh);
			metrics_inc("sipprov_http_requests_total{route=\"device\",code=\"500\"}");
			access_log(h, ip, method, url, 500, 0, ua, NULL);
			return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
		}
		fresh->path = xstrdup(url);
		fresh->gen = g;
		fresh->lgen = lgen;
		pthread_mutex_lock(&b->mu);
		if (!fresh->subj.found) {
			cache_ent_free(b->neg);
			b->neg = ce = fresh;
		} else {
			/* The same path's stale entry, else a free way while
			 * entries are under render_cache, else this set's least
			 * recently used entry unless this is the file's and not
			 * seen_again; a full cache and an empty set: served
			 * without being kept. */
			int victim = -1, empty = -1;
			for (int i = 0; i < CACHE_WAYS && victim < 0; i++) {
				if (!b->way[i]) {
					if (empty < 0)
						empty = i;
				} else if (b->tag[i] == hv && !strcmp(b->way[i]->path, url)) {
					victim = i;
				}
			}
			if (victim < 0 && empty >= 0 && atomic_fetch_add(&h->cache_n, 1) < h->cache_max) {
				victim = empty;
			} else if (victim < 0) {
				if (empty >= 0)
					atomic_fetch_sub(&h->cache_n, 1);
				for (int i = 0; i < CACHE_WAYS && (again || !from_disk); i++)
					if (b->way[i] && (victim < 0 || b->used[i] < b->used[victim]))
						victim = i;
			}
			if (victim >= 0) {
				evicted = b->way[victim];
				b->way[victim] = ce = fresh;
				b->tag[victim] = hv;
				at = victim;
			} else {
				ce = uncached = fresh;
			}
		}
	}
	if (at >= 0)
		b->used[at] = atomic_fetch_add(&h->cache_clock, 1);
	subj = ce->subj;
	sp_strlcpy(etag, ce->etag, sizeof(etag));
	ctype = ce->ctype ? ce->ctype : "";     /* ctype_keep's: outlives the entry */
	len = ce->len;
	version = ce->version;
	if (subj.found && ce->body) {
		if (ce == uncached && ce->on_disk) {
			ok_body = ce->body;     /* nobody else has it, and the file keeps it */
			ce->body = NULL;
		} else {
			/* Copied: the entry may be evicted once the lock is dropped. */
			ok_body = xmalloc(len ? len : 1);
			memcpy(ok_body, ce->body, len);
		}
	}
	pthread_mutex_unlock(&b->mu);
	pthread_rwlock_unlock(&h->layouts_lock);
	cache_let_go(h, evicted, gen, lgen);
	cache_let_go(h, uncached, gen, lgen);

	struct auth_req ar = {
		.conn = c->conn, .ssl = c->ssl, .headers = true, .authz = phone_header(c, MHD_HTTP_HEADER_AUTHORIZATION),
		.addr = addr, .ip = ip, .loopback = auth_is_loopback(addr), .tls = tls,
		.insecure_loopback = h->conf->insecure_loopback, .subj = &subj, .method = method, .url = url,
	};
	struct auth_result res;
	if (auth_check(&ar, &res, why, sizeof(why)) != AUTH_OK || !ok_body) {
		free(ok_body);
		if (!subj.found && m.kind == ROUTE_MAC)
			pending_note(h->pending, m.mac, lname, url, ua, ip);
		return deny_device(h, c, addr, ip, method, url, ua, why, res.stale);
	}
	if (res.refund)
		auth_success_note(addr);
	const char *inm = phone_header(c, MHD_HTTP_HEADER_IF_NONE_MATCH);
	unsigned status = inm && strcmp(inm, etag) == 0 ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
	if (status == MHD_HTTP_NOT_MODIFIED) {
		free(ok_body);
		ret = respond(c, status, ctype, "", 0, etag);
	} else {
		ret = respond_take(c, MHD_HTTP_OK, ctype, ok_body, len, etag);
	}
	struct fetch_rec fr = { .device_id = subj.device_id, .at = sp_now(), .status = (int)status,
				.version = version };
	sp_strlcpy(fr.ip, ip, sizeof(fr.ip));
	fetch_text(&fr, ua ? ua : "", url);
	sp_strlcpy(fr.digest, etag + 1, sizeof(fr.digest));       /* the quotes off */
	fetchq_push(&h->fq, &fr);
	metrics_inc(status == 200 ? "sipprov_http_requests_total{route=\"device\",code=\"200\"}"
				  : "sipprov_http_requests_total{route=\"device\",code=\"304\"}");
	access_log(h, ip, method, url, status, status == 200 ? len : 0, ua, subj.mac);
	return ret;
}

/* ---- /api/v1/registrations ---- */

static bool bearer_ok(const struct http_server *h, struct phone_req *c)
{
	const char *a = phone_header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *tok = h->conf->api_token;
	if (!tok[0] || !a || strncmp(a, "Bearer ", 7))
		return false;
	a += 7;
	size_t n = strlen(tok);
	if (strlen(a) != n)
		return false;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ tok[i]);
	return d == 0;
}

/* First call of a POST to the webhook (headers only): a locked-out source
 * or a wrong token is answered before any body byte is read (queueing on
 * the first call closes the connection, so the body is never read at all).
 * Returns MHD_YES with rq->webhook set when the body may be buffered. */
static enum MHD_Result webhook_begin(struct http_server *h, struct phone_req *c, struct req *rq,
				     const struct sockaddr *addr, const char *ip)
{
	if (auth_locked(addr)) {
		metrics_inc("sipprov_http_requests_total{route=\"any\",code=\"429\"}");
		access_log(h, ip, "POST", "/api/v1/registrations", 429, 0, NULL, "locked out");
		return respond_text(c, MHD_HTTP_TOO_MANY_REQUESTS, "too many requests\n");
	}
	if (!bearer_ok(h, c)) {
		/* A token guesser is locked out like a MAC guesser. */
		if (auth_fail_note(addr)) {
			log_warnx("lockout: too many failed webhook tokens ip=%s", ip);
			metrics_inc("sipprov_lockouts_total");
		}
		metrics_inc("sipprov_http_requests_total{route=\"api\",code=\"401\"}");
		access_log(h, ip, "POST", "/api/v1/registrations", 401, 0, NULL, "bad bearer token");
		return respond_text(c, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
	}
	rq->webhook = true;
	buf_init(&rq->body, BODY_MAX_POST);
	return MHD_YES;
}

/* 503 with Retry-After: a failure on our side the sender should retry. */
static enum MHD_Result respond_busy(struct phone_req *c, const char *retry_after)
{
	static const char busy_body[] = "temporarily unavailable, retry later\n";
	respond_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, busy_body, sizeof(busy_body) - 1);
	c->resp.cache = NULL;
	c->resp.retry_after = retry_after;
	return MHD_YES;
}

/* Last call of an authenticated webhook POST (webhook_begin let it in). */
static enum MHD_Result serve_webhook(struct http_server *h, struct phone_req *c, struct req *rq,
				     const struct sockaddr *addr, const char *ip)
{
	char err[SP_ERR_MAX], msg[SP_ERR_MAX + 16];
	(void)addr;
	if (rq->over_hold) {
		metrics_inc("sipprov_http_requests_total{route=\"api\",code=\"503\"}");
		access_log(h, ip, "POST", "/api/v1/registrations", 503, 0, NULL, "body_hold_limit");
		return respond_busy(c, "1");
	}
	if (rq->too_big) {
		metrics_inc("sipprov_http_requests_total{route=\"api\",code=\"413\"}");
		access_log(h, ip, "POST", "/api/v1/registrations", 413, 0, NULL, "body over 64 KiB");
		return respond_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
	}
	struct store *db = worker_db(h, worker_get(h));
	if (!db) {
		metrics_inc("sipprov_http_requests_total{route=\"api\",code=\"500\"}");
		access_log(h, ip, "POST", "/api/v1/registrations", 500, 0, NULL, "no database connection");
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	int rc = drift_webhook(db, rq->body.data ? rq->body.data : "", rq->body.len, err, sizeof(err));
	if (rc == DRIFT_ERR_INPUT) {
		snprintf(msg, sizeof(msg), "error: %s\n", err);
		metrics_inc("sipprov_http_requests_total{route=\"api\",code=\"400\"}");
		access_log(h, ip, "POST", "/api/v1/registrations", 400, 0, NULL, NULL);
		return respond_text(c, MHD_HTTP_BAD_REQUEST, msg);
	}
	if (rc < 0) {
		/* Our failure (lock, I/O, disk full): 503 tells the sender to retry. */
		log_warnx("webhook not recorded: %s ip=%s", err, ip);
		metrics_inc("sipprov_http_requests_total{route=\"api\",code=\"503\"}");
		access_log(h, ip, "POST", "/api/v1/registrations", 503, 0, NULL, rc == DRIFT_ERR_BUSY ? "locked" : "store");
		return respond_busy(c, rc == DRIFT_ERR_BUSY ? "5" : "30");
	}
	metrics_inc("sipprov_http_requests_total{route=\"api\",code=\"202\"}");
	access_log(h, ip, "POST", "/api/v1/registrations", 202, 0, NULL, NULL);
	return respond_text(c, MHD_HTTP_ACCEPTED, "accepted\n");
}

/* ---- libmicrohttpd callbacks ---- */

/* The client's address as text; out holds any (an IPv6 one is the longest). */
static void addr_str(const struct sockaddr *a, char out[static INET6_ADDRSTRLEN])
{
	if (a->sa_family == AF_INET)
		sp_ipv4_str((const unsigned char *)&((const struct sockaddr_in *)a)->sin_addr, out);
	else if (a->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, out, INET6_ADDRSTRLEN);
	else
		sp_strlcpy(out, "?", INET6_ADDRSTRLEN);
}

static bool addr_in(const struct policy_nets *nets, const struct sockaddr *a)
{
	unsigned char a16[16];
	return policy_addr_sockaddr(a, a16) && policy_nets_match(nets, a16);
}

/* ---- the client behind a trusted proxy ---- */

#define FWD_HEADERS 8                   /* X-Forwarded-For / Forwarded header lines read */

struct fwd_scan {
	const char *fwd[FWD_HEADERS], *xff[FWD_HEADERS];
	int nfwd, nxff;
};

static enum MHD_Result fwd_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct fwd_scan *f = cls;
	(void)kind;
	/* Past FWD_HEADERS lines the oldest are forgotten: the rightmost
	 * entries, the ones our proxies wrote, are the ones that matter. */
	if (!strcasecmp(key, "Forwarded") && value) {
		if (f->nfwd == FWD_HEADERS)
			memmove(f->fwd, f->fwd + 1, sizeof(f->fwd[0]) * --f->nfwd);
		f->fwd[f->nfwd++] = value;
	} else if (!strcasecmp(key, "X-Forwarded-For") && value) {
		if (f->nxff == FWD_HEADERS)
			memmove(f->xff, f->xff + 1, sizeof(f->xff[0]) * --f->nxff);
		f->xff[f->nxff++] = value;
	}
	return MHD_YES;
}

/* One list element -> address: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
 * "[2001:db8::1]:4711"; Forwarded: only its for= parameter, maybe quoted.
 * false for anything else ("unknown", obfuscated identifiers, garbage). */
static bool fwd_elem_addr(const char *b, const char *e, bool forwarded, struct sockaddr_storage *ss)
{
	char t[INET6_ADDRSTRLEN + 16];
	if (forwarded) {
		const char *p = b, *q;
		for (;; p = q + 1) {
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			q = memchr(p, ';', (size_t)(e - p));
			if (!q)
				q = e;
			if (q - p > 4 && !strncasecmp(p, "for=", 4))
				break;
			if (q == e)
				return false;
		}
		b = p + 4;
		e = q;
	}
	while (b < e && (*b == ' ' || *b == '\t' || *b == '"'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '"'))
		e--;
	if (e - b <= 0 || (size_t)(e - b) >= sizeof(t))
		return false;
	memcpy(t, b, (size_t)(e - b));
	t[e - b] = '\0';
	char *host = t;
	if (host[0] == '[') {
		char *rb = strchr(host, ']');
		if (!rb)
			return false;
		*rb = '\0';
		host++;
	} else if (strchr(host, '.') && strchr(host, ':')) {
		*strchr(host, ':') = '\0';     /* IPv4 with a port */
	}
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

/* The address lockout, allowlists, metrics_allow and the logs use.  The
 * TCP peer, unless it is a trusted proxy: then the rightmost address of
 * Forwarded (or, without it, X-Forwarded-For) that is not itself a
 * trusted proxy; if every hop is a proxy, the leftmost; an element that
 * does not parse stops the walk at the last trusted hop (whoever wrote it
 * is not one of ours).  Returns peer or ss. */
static const struct sockaddr *client_addr(const struct http_server *h, struct phone_req *c,
					  const struct sockaddr *peer, struct sockaddr_storage *ss)
{
	const struct policy_nets *px = &h->conf->proxy_nets;
	if (!px->n || !addr_in(px, peer))
		return peer;
	struct fwd_scan f = { .nfwd = 0 };
	phone_headers_each(c, fwd_iter, &f);
	bool forwarded = f.nfwd > 0;
	const char **v = forwarded ? f.fwd : f.xff;
	int nv = forwarded ? f.nfwd : f.nxff;
	const struct sockaddr *found = peer;
	struct sockaddr_storage cand;
	for (int i = nv - 1; i >= 0; i--) {
		const char *b = v[i], *e = b + strlen(b);
		while (e > b) {
			const char *comma = e;
			while (comma > b && comma[-1] != ',')
				comma--;
			if (!fwd_elem_addr(comma, e, forwarded, &cand))
				return found;
			*ss = cand;
			found = (const struct sockaddr *)ss;
			if (!addr_in(px, found))
				return found;
			e = comma > b ? comma - 1 : b;
		}
	}
	return found;
}

/* ---- firmware downloads (firmware_http.c) ---- */

static enum MHD_Result serve_firmware(struct http_server *h, struct phone_req *c, const char *url,
				      const char *method, const char *ip, const char *ua)
{
	struct store *db = worker_db(h, worker_get(h));
	char dir[SP_FIELD_MAX + 16];
	unsigned status = 0;
	uint64_t bytes = 0;
	if (!db) {
		metrics_inc("sipprov_http_requests_total{route=\"firmware\",code=\"500\"}");
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	/* No folder (PostgreSQL without firmware_dir): firmware_serve answers
	 * 404 and logs it once per image, as for a file this node lacks. */
	if (firmware_dir(h->conf->database, h->conf->firmware_dir, dir, sizeof(dir)) < 0)
		dir[0] = '\0';
	status = firmware_serve(c, db, dir, url, &bytes);
	/* Series names must be literals: the metrics table keeps the pointer. */
	metrics_inc(status == 200   ? "sipprov_http_requests_total{route=\"firmware\",code=\"200\"}"
		    : status == 206 ? "sipprov_http_requests_total{route=\"firmware\",code=\"206\"}"
		    : status == 304 ? "sipprov_http_requests_total{route=\"firmware\",code=\"304\"}"
		    : status == 404 ? "sipprov_http_requests_total{route=\"firmware\",code=\"404\"}"
		    : status == 416 ? "sipprov_http_requests_total{route=\"firmware\",code=\"416\"}"
				    : "sipprov_http_requests_total{route=\"firmware\",code=\"500\"}");
	access_log(h, ip, method, url, status, (size_t)bytes, ua, NULL);
	return MHD_YES;
}

/* ---- tenant phonebooks (phonebook_http.c) ---- */

/* The device's subject and auth_check, as for its config: every refusal
 * is deny_device's.  The file is vendor-neutral, so the vendor check asks
 * whether the device's layout has a phonebook format instead. */
static enum MHD_Result serve_phonebook(struct http_server *h, struct phone_req *c, const char *url,
				       const struct sockaddr *addr, const char *ip, bool tls, const char *ua)
{
	struct route_match m = { .kind = ROUTE_MAC };
	struct store *db = worker_db(h, worker_get(h));
	struct pb_target t = { 0 };
	struct auth_result res;
	const char *only;
	char why[SP_ERR_MAX];

	phonebook_path(url, m.mac, &only);
	struct cache_ent *ce = xcalloc(1, sizeof(*ce));
	pthread_rwlock_rdlock(&h->layouts_lock);
	int rc = db ? build_entry(h, db, h->layouts, &m, ce, true) : -1;
	pthread_rwlock_unlock(&h->layouts_lock);
	struct auth_subject subj = ce->subj;
	cache_ent_free(ce);
	if (rc == 0 && subj.found)
		rc = phonebook_target(db, subj.device_id, only, &t);
	subj.vendor_ok = t.answers;
	struct auth_req ar = {
		.conn = c->conn, .ssl = c->ssl, .headers = true, .authz = phone_header(c, MHD_HTTP_HEADER_AUTHORIZATION),
		.addr = addr, .ip = ip, .loopback = auth_is_loopback(addr), .tls = tls,
		.insecure_loopback = h->conf->insecure_loopback, .subj = &subj, .url = url,
	};
	if (rc == 0 && auth_check(&ar, &res, why, sizeof(why)) != AUTH_OK)
		return deny_device(h, c, addr, ip, "GET", url, ua, why, res.stale);
	struct buf out;
	buf_init(&out, SP_PHONEBOOK_MAX);
	if (rc < 0 || phonebook_body(db, &t, &out, why, sizeof(why)) < 0) {
		log_warnx("phonebook %s: %s", subj.mac, rc < 0 ? "cannot read the device" : why);
		buf_release(&out);
		metrics_inc("sipprov_http_requests_total{route=\"phonebook\",code=\"500\"}");
		access_log(h, ip, "GET", url, 500, 0, ua, NULL);
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	if (res.refund)
		auth_success_note(addr);
	enum MHD_Result ret = respond(c, MHD_HTTP_OK, SP_PHONEBOOK_CTYPE, out.data ? out.data : "", out.len, NULL);
	metrics_inc("sipprov_http_requests_total{route=\"phonebook\",code=\"200\"}");
	access_log(h, ip, "GET", url, 200, out.len, ua, subj.mac);
	buf_release(&out);
	return ret;
}

/* ---- Polycom log uploads: PUT {mac}-boot.log / {mac}-app.log ---- */

/* First call of a PUT (headers only): refuse before any body is read
 * unless the route is an upload route and the device authenticates. */
static enum MHD_Result upload_begin(struct http_server *h, struct phone_req *c, const char *url, bool tls,
				    const struct sockaddr *addr, const char *ip, const char *ua, struct req *rq)
{
	struct route_match m;
	struct auth_result res;
	char why[SP_ERR_MAX];
	struct store *db = NULL;

	if (auth_locked(addr)) {
		metrics_inc("sipprov_http_requests_total{route=\"any\",code=\"429\"}");
		access_log(h, ip, "PUT", url, 429, 0, ua, "locked out");
		return respond_text(c, MHD_HTTP_TOO_MANY_REQUESTS, "too many requests\n");
	}
	if (!(db = worker_db(h, worker_get(h))))
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	pthread_rwlock_rdlock(&h->layouts_lock);
	if (strlen(url) > PATH_MAX_LEN || !route_match(h->layouts, url, &m) || m.kind != ROUTE_UPLOAD) {
		pthread_rwlock_unlock(&h->layouts_lock);
		metrics_inc("sipprov_http_requests_total{route=\"device\",code=\"405\"}");
		access_log(h, ip, "PUT", url, 405, 0, ua, NULL);
		return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	}
	struct cache_ent *ce = xcalloc(1, sizeof(*ce));
	int rc = build_entry(h, db, h->layouts, &m, ce, true);
	pthread_rwlock_unlock(&h->layouts_lock);
	if (rc < 0) {
		cache_ent_free(ce);
		metrics_inc("sipprov_http_requests_total{route=\"upload\",code=\"500\"}");
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	struct auth_req ar = {
		.conn = c->conn, .ssl = c->ssl, .headers = true, .authz = phone_header(c, MHD_HTTP_HEADER_AUTHORIZATION),
		.addr = addr, .ip = ip, .loopback = auth_is_loopback(addr), .tls = tls,
		.insecure_loopback = h->conf->insecure_loopback, .subj = &ce->subj, .method = "PUT", .url = url,
	};
	if (auth_check(&ar, &res, why, sizeof(why)) != AUTH_OK) {
		cache_ent_free(ce);
		return deny_device(h, c, addr, ip, "PUT", url, ua, why, res.stale);
	}
	if (res.refund)
		auth_success_note(addr);
	rq->upload = true;
	rq->device_id = ce->subj.device_id;
	sp_strlcpy(rq->name, url + 1, sizeof(rq->name));
	sp_text_scrub(rq->name);
	cache_ent_free(ce);
	buf_init(&rq->body, UPLOAD_MAX);
	return MHD_YES;
}

/* Last call of an authenticated PUT: store the log, bounded. */
static enum MHD_Result upload_finish(struct http_server *h, struct phone_req *c, struct req *rq,
				     const char *url, const char *ip, const char *ua)
{
	if (rq->over_hold) {
		metrics_inc("sipprov_http_requests_total{route=\"upload\",code=\"503\"}");
		access_log(h, ip, "PUT", url, 503, 0, ua, "body_hold_limit");
		return respond_busy(c, "1");
	}
	if (rq->too_big) {
		metrics_inc("sipprov_http_requests_total{route=\"upload\",code=\"413\"}");
		access_log(h, ip, "PUT", url, 413, 0, ua, "upload over 64 KiB");
		return respond_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "upload larger than 64 KiB\n");
	}
	struct store *db = worker_db(h, worker_get(h));
	if (!db || store_device_log_add(db, rq->device_id, rq->name, rq->body.data ? rq->body.data : "",
				       rq->body.len, UPLOAD_KEEP) < 0) {
		char pe[4 * PATH_MAX_LEN + 1];
		if (db)
			log_warnx("upload %s: %s", log_path(url, pe, sizeof(pe)), store_errmsg(db));
		metrics_inc("sipprov_http_requests_total{route=\"upload\",code=\"500\"}");
		access_log(h, ip, "PUT", url, 500, 0, ua, NULL);
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	metrics_inc("sipprov_http_requests_total{route=\"upload\",code=\"204\"}");
	access_log(h, ip, "PUT", url, 204, 0, ua, NULL);
	return respond(c, MHD_HTTP_NO_CONTENT, "text/plain; charset=utf-8", "", 0, NULL);
}

static int url_route(const char *url)
{
	if (!strncmp(url, "/fw/", 4))
		return METRICS_ROUTE_FIRMWARE;
	if (!strncmp(url, "/api/", 5))
		return METRICS_ROUTE_API;
	if (!strcmp(url, "/metrics") || !strcmp(url, "/healthz") || !strcmp(url, "/readyz"))
		return METRICS_ROUTE_OTHER;
	return METRICS_ROUTE_DEVICE;
}

/* /readyz: 200 when a fresh connection reads the database and layouts are
 * loaded, else 503.  The reason goes to the log (paths are not for the
 * phone network), once per change of state, not once per probe. */
static enum MHD_Result serve_ready(struct http_server *h, struct phone_req *c)
{
	char err[SP_ERR_MAX];
	pthread_rwlock_rdlock(&h->layouts_lock);
	size_t nl = h->layouts ? layouts_count(h->layouts) : 0;
	pthread_rwlock_unlock(&h->layouts_lock);
	if (!nl)
		sp_strlcpy(err, "no layouts loaded", sizeof(err));
	bool ready = nl && store_ping(h->conf->database, err, sizeof(err)) == 0;
	if (atomic_exchange(&h->not_ready, !ready) != !ready) {
		if (ready)
			log_info("readyz: ready again");
		else
			log_warnx("readyz: not ready reason=\"%s\"", err);
	}
	if (!ready)
		return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
	return respond_text(c, MHD_HTTP_OK, "ready\n");
}

static enum MHD_Result on_request_in(struct listener *li, struct phone_req *c, const char *url,
				     const char *method, const char *upload, size_t *upload_size, struct req *rq,
				     bool first);

static struct req *req_new(struct phone_req *q)
{
	struct req *rq = xcalloc(1, sizeof(*rq));
	buf_init(&rq->body, BODY_MAX_POST);
	rq->start_us = mono_us();
	rq->q = q;
	rq->route = url_route(q->url);
	sp_strlcpy(rq->proto, q->proto ? q->proto : "", sizeof(rq->proto));
	return rq;
}

static void req_done(struct http_server *h, struct req *rq)
{
	atomic_fetch_sub(&h->held, (long)rq->held);
	metrics_observe_request(rq->route, mono_us() - rq->start_us);
	buf_release(&rq->body);
	free(rq);
}

/* Per MHD connection: the request as http.c's routes read it; freed with
 * the connection's request (on_completed). */
struct mhd_req {
	struct req rq;
	struct phone_req q;
	struct sockaddr_storage peer;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	struct listener *li = cls;
	struct mhd_req *mr = *req_cls;
	bool first = !mr;
	if (first) {
		const union MHD_ConnectionInfo *si = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		if (si)
			connguard_headers_done(li->h->guard, si->socket_context);
		const union MHD_ConnectionInfo *pi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (!pi || !pi->client_addr)
			return MHD_NO;
		mr = xcalloc(1, sizeof(*mr));
		memcpy(&mr->peer, pi->client_addr, pi->client_addr->sa_family == AF_INET6
							   ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		mr->q = (struct phone_req){ .method = method, .url = url, .proto = version,
					    .peer = (struct sockaddr *)&mr->peer, .tls = li->tls, .conn = c };
		struct req *rq = req_new(&mr->q);
		mr->rq = *rq;
		free(rq);
		mr->rq.q = &mr->q;
		*req_cls = mr;
	}
	cur_req = &mr->rq;
	enum MHD_Result ret = on_request_in(li, &mr->q, url, method, upload, upload_size, &mr->rq, first);
	cur_req = NULL;
	if (mr->q.resp.status) {
		ret = mhd_queue(c, &mr->q.resp);
		mr->q.resp.status = 0;
	}
	return ret;
}

/* phone_listen.c's calls, the ones libmicrohttpd makes: headers (an
 * answer may be decided on them alone, before any body byte is read), then
 * the body if any, then the end. */
struct req *http_phone_begin(struct http_server *h, struct phone_req *q)
{
	struct req *rq = req_new(q);
	size_t n = 0;
	cur_req = rq;
	on_request_in(&h->http, q, q->url, q->method, NULL, &n, rq, true);
	cur_req = NULL;
	return rq;
}

void http_phone_body(struct http_server *h, struct phone_req *q, struct req *rq, const char *data, size_t len)
{
	size_t n = len;
	cur_req = rq;
	if (!q->resp.status && len)
		on_request_in(&h->http, q, q->url, q->method, data, &n, rq, false);
	cur_req = NULL;
}

void http_phone_finish(struct http_server *h, struct phone_req *q, struct req *rq)
{
	size_t n = 0;
	cur_req = rq;
	if (!q->resp.status)
		on_request_in(&h->http, q, q->url, q->method, NULL, &n, rq, false);
	if (!q->resp.status)
		respond_text(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	cur_req = NULL;
	req_done(h, rq);
}

void http_phone_abort(struct http_server *h, struct req *rq)
{
	req_done(h, rq);
}

struct connguard *http_server_guard(struct http_server *h)
{
	return h->guard;
}

/* first: the first call of a request (headers only). */
static enum MHD_Result on_request_in(struct listener *li, struct phone_req *c, const char *url,
				     const char *method, const char *upload, size_t *upload_size, struct req *rq,
				     bool first)
{
	struct http_server *h = li->h;
	bool is_get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);

	if (first) {
		/* Framing is decided on the headers, before any body byte. */
		struct sockaddr_storage pss;
		char pip[64];
		const struct sockaddr *pa = client_addr(h, c, c->peer, &pss);
		const char *pua = phone_header(c, MHD_HTTP_HEADER_USER_AGENT);
		addr_str(pa, pip);
		/* Framing, route and authentication are decided on the headers,
		 * before any body byte: only a request that authenticated here
		 * gets a body buffer (an answer queued now closes the connection,
		 * so a refused body is never read). */
		const char *bad = framing_bad(c);
		if (bad) {
			metrics_inc("sipprov_http_requests_total{route=\"none\",code=\"400\"}");
			access_log(h, pip, method, url, 400, 0, pua, bad);
			return respond_bad_framing(c);
		}
		if (!strcmp(method, MHD_HTTP_METHOD_PUT))
			return upload_begin(h, c, url, c->tls, pa, pip, pua, rq);
		if (!strcmp(method, MHD_HTTP_METHOD_POST) && !strcmp(url, "/api/v1/registrations"))
			return webhook_begin(h, c, rq, pa, pip);
		if (has_body(c)) {
			/* Nothing else takes a body: refuse it unread. */
			unsigned st = is_get ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_METHOD_NOT_ALLOWED;
			metrics_inc(is_get ? "sipprov_http_requests_total{route=\"none\",code=\"400\"}"
					   : "sipprov_http_requests_total{route=\"none\",code=\"405\"}");
			access_log(h, pip, method, url, st, 0, pua, "unexpected body");
			return respond_text(c, st, is_get ? "bad request\n" : "method not allowed\n");
		}
		/* Answer on the second call: libmicrohttpd 0.9.75 closes the
		 * connection (no keep-alive) when a response is queued on the first. */
		return MHD_YES;
	} else if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		if ((!rq->upload && !rq->webhook) || rq->over_hold || rq->too_big)
			return MHD_YES;             /* not kept (see above: not reached) */
		/* One cap on body bytes held by all connections together. */
		if (atomic_fetch_add(&h->held, (long)n) + (long)n > h->conf->body_hold_limit) {
			atomic_fetch_sub(&h->held, (long)n);
			rq->over_hold = true;
			metrics_inc("sipprov_body_hold_refused_total");
			buf_release(&rq->body);
			atomic_fetch_sub(&h->held, (long)rq->held);
			rq->held = 0;
			return MHD_YES;
		}
		rq->held += n;
		buf_add(&rq->body, upload, n);
		rq->too_big = rq->body.overflow;
		return MHD_YES;
	}

	struct sockaddr_storage fss;
	char ip[64];
	const struct sockaddr *addr = client_addr(h, c, c->peer, &fss);
	addr_str(addr, ip);
	const char *ua = phone_header(c, MHD_HTTP_HEADER_USER_AGENT);

	if (rq->upload)
		return upload_finish(h, c, rq, url, ip, ua);
	if (auth_locked(addr)) {
		metrics_inc("sipprov_http_requests_total{route=\"any\",code=\"429\"}");
		access_log(h, ip, method, url, 429, 0, ua, "locked out");
		return respond_text(c, MHD_HTTP_TOO_MANY_REQUESTS, "too many requests\n");
	}
	if (strlen(url) > PATH_MAX_LEN || url[0] != '/') {
		metrics_inc("sipprov_http_requests_total{route=\"none\",code=\"400\"}");
		access_log(h, ip, method, url, 400, 0, ua, "bad path");
		return respond_text(c, MHD_HTTP_BAD_REQUEST, "bad request\n");
	}
	/* /healthz: the process answers (no database: a liveness probe must
	 * not restart a daemon for a full disk).  /readyz: it can serve. */
	if (!strcmp(url, "/healthz") && is_get)
		return respond_text(c, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/readyz") && is_get)
		return serve_ready(h, c);
	/* /metrics lives on the admin listener (api.c); here it is an unknown
	 * path like any other (serve_device's 404). */
	if (!strcmp(url, "/api/v1/registrations")) {
		if (strcmp(method, MHD_HTTP_METHOD_POST))
			return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
		return serve_webhook(h, c, rq, addr, ip);
	}
	if (!is_get) {
		metrics_inc("sipprov_http_requests_total{route=\"device\",code=\"405\"}");
		access_log(h, ip, method, url, 405, 0, ua, NULL);
		return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	}
	if (!strncmp(url, "/fw/", 4))
		return serve_firmware(h, c, url, method, ip, ua);
	if (phonebook_path(url, (char[SP_MAC_LEN + 1]){ 0 }, &(const char *){ NULL }))
		return serve_phonebook(h, c, url, addr, ip, c->tls, ua);
	return serve_device(h, c, url, method, addr, ip, c->tls, ua);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode t)
{
	struct http_server *h = ((struct listener *)cls)->h;
	struct mhd_req *mr = *req_cls;
	const union MHD_ConnectionInfo *si = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (si)
		connguard_request_done(h->guard, si->socket_context);
	if (mr) {
		phone_resp_reset(&mr->q.resp);
		atomic_fetch_sub(&h->held, (long)mr->rq.held);
		metrics_observe_request(mr->rq.route, mono_us() - mr->rq.start_us);
		buf_release(&mr->rq.body);
		free(mr);
		*req_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *h = ((struct listener *)cls)->h;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (fi)
			connguard_started(h->guard, fi->connect_fd, socket_ctx);
	} else {
		connguard_closed(h->guard, socket_ctx);
	}
}

/* Keep the raw path: a '%' then never matches a route, so "%00" or "%2e%2e"
 * cannot smuggle a NUL or a dot-dot past the route table. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *uri)
{
	return strlen(uri);
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512], esc[4 * sizeof(msg)];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	/* libmicrohttpd quotes request bytes in some messages. */
	log_debug("libmicrohttpd: %s", sp_log_escape(msg, esc, sizeof(esc)));
}

static void worker_key_dtor(void *p)
{
	(void)p;  /* workers are freed by http_server_stop, which owns the list */
}

int http_listen_parse(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[SP_NAME_MAX];
	const char *colon = strrchr(s, ':');
	long port;
	memset(ss, 0, sizeof(*ss));
	if (!colon || sp_parse_int(colon + 1, 0, 65535, &port) < 0)
		return sp_err(err, errlen, "listen address '%s' must be HOST:PORT", s);
	size_t hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return sp_err(err, errlen, "listen address '%s' too long", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
	} else {
		return sp_err(err, errlen, "listen address '%s': '%s' is not an IP address", s, host);
	}
	return 0;
}

char *http_read_file(const char *path, bool nonempty, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[4096];
	size_t n;
	if (!f) {
		sp_err(err, errlen, "cannot read '%s'", path);
		return NULL;
	}
	buf_init(&b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	if (b.overflow || (nonempty && !b.len)) {
		buf_release(&b);
		sp_err(err, errlen, nonempty ? "'%s' is empty or larger than 1 MiB" : "'%s' is larger than 1 MiB", path);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* threads = 0: one loop per CPU sipprovd may run on, not per CPU of the
 * machine (a cpuset of 2 on a 64-core host is 4 loops, not 66), and two
 * more: a loop that waits (a render miss's page reads and faults on
 * SQLite, its round trip to PostgreSQL, a lock) leaves its CPU to a spare
 * one.  On one CPU, with PostgreSQL's server on another, a boot storm ran
 * 0.85-0.88 of nginx with two loops against 0.72-0.75 with one.  On this
 * two-CPU VM with SQLite, four loops took 3.4-4.2% off the 10,000-phone
 * HTTP storm's fleet time against two in four runs of four alternating
 * pairs, three loops 3.3%, eight added 6%; nginx with four workers
 * instead of two did not gain (docs/performance.md, 2026-12-06). */
static unsigned loops_default(void)
{
	return sp_cpus_usable() + 2;
}

static int listener_start(struct http_server *h, struct listener *li, const char *listen, bool tls,
			  char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	const struct conf *cf = h->conf;
	unsigned threads = cf->threads ? (unsigned)cf->threads : loops_default();
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (http_listen_parse(listen, &ss, err, errlen) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* "[::]:PORT" means every address, IPv4 too: IPv4 clients then arrive
	 * as v4-mapped IPv6 (auth.c's CIDR and failure counting handle both). */
	if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		flags |= MHD_USE_DUAL_STACK;
	li->h = h;
	li->tls = tls;
	if (threads < 1)
		threads = 1;
	if (tls && (!cf->tls_cert[0] || !cf->tls_key[0]))
		return sp_err(err, errlen, "https_listen needs tls_cert and tls_key");
	/* tls_certs.c checks the files and keeps the serial and expiry
	 * (metrics, health) on either listener.  libmicrohttpd takes the
	 * certificate from it at each handshake, so a SIGHUP can swap it
	 * (renewals) without a restart; the own listener's is tls_ossl.c's. */
	if (tls && tls_certs_load(TLS_PHONE, cf->tls_cert, cf->tls_key, err, errlen) < 0)
		return -1;
	if (!strcmp(cf->phone_server, "own")) {
		if (tls && tls_ossl_load(cf->tls_cert, cf->tls_key, cf->tls_client_ca, cf->tls_resumption, err,
					 errlen) < 0)
			return -1;
		struct phone_listen **own = tls ? &h->own_tls : &h->own;
		if (!(*own = phone_listen_start(h, cf, &ss, tls, threads, err, errlen)))
			return -1;
		log_info("%s: phone_server=own, %u listener threads%s", tls ? "https" : "http", threads,
			 tls ? ", TLS by OpenSSL" : "");
		log_info("%s listening on %s port %u", tls ? "https" : "http", listen, http_server_port(h, tls));
		return 0;
	}
	if (tls) {
		if (cf->tls_client_ca[0] && !(li->ca = http_read_file(cf->tls_client_ca, false, err, errlen)))
			return -1;
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)tls_certs_retrieve },
		/* TLS 1.2 and 1.3 only; GnuTLS priority string. */
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" },
		{ li->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, li->ca },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem no_opts[] = { { MHD_OPTION_END, 0, NULL } };
	li->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, li,
				 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				 MHD_OPTION_THREAD_POOL_SIZE, threads,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cf->conn_timeout,
				 /* Above the budget connguard keeps (conn_limit over both
				  * listeners), so that a full server still accepts and
				  * sheds the oldest incomplete connection instead. */
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned)(cf->conn_limit + cf->conn_limit / 4 + 64),
				 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cf->per_ip_conn_limit,
				 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cf->conn_memory_limit,
				 MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
				 MHD_OPTION_NOTIFY_COMPLETED, on_completed, li,
				 MHD_OPTION_NOTIFY_CONNECTION, on_connection, li,
				 MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
				 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				 MHD_OPTION_ARRAY, tls ? tls_opts : no_opts,
				 MHD_OPTION_END);
	if (!li->d)
		return sp_err(err, errlen, "cannot listen on %s (%s): address in use or not permitted", listen,
			      tls ? "https" : "http");
	log_info("%s listening on %s port %u", tls ? "https" : "http", listen, http_server_port(h, tls));
	return 0;
}

unsigned http_server_port(const struct http_server *h, bool tls)
{
	const struct listener *li = tls ? &h->https : &h->http;
	const union MHD_DaemonInfo *i;
	if (!tls && h->own)
		return phone_listen_port(h->own);
	if (tls && h->own_tls)
		return phone_listen_port(h->own_tls);
	if (!li->d || !(i = MHD_get_daemon_info(li->d, MHD_DAEMON_INFO_BIND_PORT)))
		return 0;
	return i->port;
}

/* Caller holds access_mu (or no worker runs yet). */
static void open_access_log(struct http_server *h, const char *p)
{
	h->access = NULL;
	if (!p[0])
		;
	else if (!strcmp(p, "-"))
		h->access = stderr;
	else if (!(h->access = private_append_open(p)))
		log_warn("cannot open access log '%s'", p);
	else
		setvbuf(h->access, NULL, _IOLBF, 0);
	atomic_store(&h->access_on, h->access != NULL);
}

void http_server_reopen_log(struct http_server *h, const char *path, const char *format)
{
	int fmt = http_access_format_parse(format);
	pthread_mutex_lock(&h->access_mu);
	if (fmt >= 0)
		atomic_store(&h->access_fmt, fmt);
	if (h->access && h->access != stderr)
		fclose(h->access);
	open_access_log(h, path);
	pthread_mutex_unlock(&h->access_mu);
}

struct http_server *http_server_start(const struct conf *conf, const unsigned char key[SP_KEY_LEN],
				      struct layouts *layouts, char *err, size_t errlen)
{
	struct http_server *h = xcalloc(1, sizeof(*h));
	h->conf = conf;
	h->key = key;
	h->layouts = layouts;
	atomic_store(&h->lgen, 1);
	pthread_rwlock_init(&h->layouts_lock, NULL);
	pthread_mutex_init(&h->workers_mu, NULL);
	pthread_mutex_init(&h->access_mu, NULL);
	pthread_key_create(&h->worker_key, worker_key_dtor);
	auth_limits_init(conf->fail_threshold, conf->fail_window, conf->lockout_seconds);
	/* Digest nonces keyed from the database key: valid across a restart
	 * and on every node of one database (nonce.c). */
	nonce_init(key, key ? SP_KEY_LEN : 0);
	open_access_log(h, conf->access_log);
	/* libmicrohttpd takes each connection's conn_memory_limit pool (32 KiB
	 * by default) from malloc, reused from its arenas; connguard hands the
	 * pages back after a crowd of connections has gone (malloc_trim). */
	h->guard = connguard_new(conf->conn_limit, conf->header_timeout);
	int fmt = http_access_format_parse(conf->access_log_format);
	atomic_store(&h->access_fmt, fmt >= 0 ? fmt : ACCESS_SIPPROV);
	metrics_start();

	pthread_mutex_init(&h->fq.mu, NULL);
	pthread_cond_init(&h->fq.cv, NULL);
	pthread_cond_init(&h->fq.room, NULL);
	h->fq.rings[0] = xcalloc(FETCHQ_MAX, sizeof(*h->fq.rings[0]));
	h->fq.rings[1] = xcalloc(FETCHQ_MAX, sizeof(*h->fq.rings[1]));
	h->fq.ring = h->fq.rings[0];
	h->fq.cap = FETCHQ_MAX;
	lastmap_init(&h->fq.maps[0]);
	lastmap_init(&h->fq.maps[1]);
	h->fq.last = &h->fq.maps[0];
	h->fq.retention_days = conf->retention_days;
	h->fq.copy_keep = conf->database_copy_keep;
	h->fq.pruner = -1;
	h->fq.store = store_open(conf->database, err, errlen);
	if (!h->fq.store)
		goto fail;
	if (store_fetch_keep(h->fq.store) < 0)
		log_warnx("fetch log: cannot set the writer's checkpoint interval: %s", store_errmsg(h->fq.store));
	drift_fetch_source(fetchq_pending, &h->fq);
	pthread_create(&h->fq.thr, NULL, fetchq_main, &h->fq);
	pthread_setname_np(h->fq.thr, "sp-fetchlog");
	if (conf->pending_max > 0 &&
	    !(h->pending = pending_start(conf->database, conf->pending_max, conf->pending_per_source, err, errlen)))
		goto fail;
	h->cache_max = (size_t)conf->render_cache;
	h->nbuckets = (size_t)conf->render_cache * CACHE_SLACK / CACHE_WAYS;
	if (h->nbuckets < 16)
		h->nbuckets = 16;
	h->cache = xcalloc(h->nbuckets, sizeof(*h->cache));
	for (size_t i = 0; i < h->nbuckets; i++)
		pthread_mutex_init(&h->cache[i].mu, NULL);
	if (conf->render_cache > 0 && conf->render_cache_disk > 0) {
		char derr[SP_ERR_MAX];
		h->dc = dcache_open(conf->render_cache_dir, conf->render_cache_disk * 1024 * 1024, derr, sizeof(derr));
		if (!h->dc)
			log_warnx("%s; rendered configs are kept in memory only (render_cache_disk)", derr);
	}
	if (h->dc) {                    /* only the file's hits ask seen_again */
		for (h->nseen = 1024; h->nseen < (size_t)conf->render_cache * SEEN_PER_ENT; h->nseen <<= 1)
			;
		h->seen = xcalloc(h->nseen, sizeof(*h->seen));
	}
	h->gen_store = store_open(conf->database, err, errlen);
	if (!h->gen_store)
		goto fail;
	long gen0;
	h->gen_pushed = store_gen_pushed(h->gen_store);
	if (!(h->genwatch = store_genwatch_new(h->gen_store, GEN_SAFETY_MS, &gen0, err, errlen))) {
		store_close(h->gen_store);
		h->gen_store = NULL;
		goto fail;
	}
	atomic_store(&h->gen, gen0);
	atomic_store(&h->gen_at, mono_us());
	if (conf->database_copy[0])
		h->copy = copy_sync_start(conf, h->key, &h->gen);      /* before the watcher, which kicks it */
	pthread_create(&h->gen_thr, NULL, gen_main, h);
	pthread_setname_np(h->gen_thr, "sp-genwatch");
	if (conf->database_replica[0]) {
		/* Each worker connects at its first render miss; an outage
		 * then is logged as it is met. */
		store_pg_url_redact(conf->database_replica, h->replica_shown, sizeof(h->replica_shown));
		atomic_store(&h->replica_log_at, mono_us() - REPLICA_LOG_MS * 1000LL);
		log_info("database replica '%s': render misses read there once it has the node's generation",
			 h->replica_shown);
	}

	if (conf->http_listen[0] && listener_start(h, &h->http, conf->http_listen, false, err, errlen) < 0)
		goto fail;
	if (conf->https_listen[0] && listener_start(h, &h->https, conf->https_listen, true, err, errlen) < 0)
		goto fail;
	if (!h->http.d && !h->https.d && !h->own && !h->own_tls) {
		sp_err(err, errlen, "neither http_listen nor https_listen is set");
		goto fail;
	}
	return h;
fail:
	http_server_stop(h);
	return NULL;
}

int http_server_reload_tls(struct http_server *h, const char *cert, const char *key, char *err, size_t errlen)
{
	char serial[64];
	if (!h->https.d && !h->own_tls)
		return 0;
	/* OpenSSL's context first, after the checks: on any failure both
	 * libraries keep serving (and reporting) the previous certificate. */
	if (h->own_tls && (tls_certs_check(TLS_PHONE, cert, key, err, errlen) < 0 ||
			   tls_ossl_load(cert, key, h->conf->tls_client_ca, h->conf->tls_resumption, err, errlen) < 0))
		return -1;
	if (tls_certs_load(TLS_PHONE, cert, key, err, errlen) < 0)
		return -1;
	tls_certs_serial(TLS_PHONE, serial, sizeof(serial));
	log_info("tls: serving certificate serial=%s file=%s", serial, cert);
	return 0;
}

struct layouts *http_server_set_layouts(struct http_server *h, struct layouts *l)
{
	pthread_rwlock_wrlock(&h->layouts_lock);
	struct layouts *old = h->layouts;
	h->layouts = l;
	atomic_fetch_add(&h->lgen, 1);
	pthread_rwlock_unlock(&h->layouts_lock);
	return old;
}

static void listener_stop(struct listener *li)
{
	if (li->d)
		MHD_stop_daemon(li->d);
	li->d = NULL;
	free(li->ca);
}

void http_server_stop(struct http_server *h)
{
	if (!h)
		return;
	phone_listen_stop(h->own);
	phone_listen_stop(h->own_tls);
	tls_ossl_release();
	listener_stop(&h->http);
	listener_stop(&h->https);
	connguard_free(h->guard);
	tls_certs_release(TLS_PHONE);
	drift_fetch_source(NULL, NULL);     /* the listeners and HEP have stopped */
	if (h->fq.store) {
		pthread_mutex_lock(&h->fq.mu);
		h->fq.stop = true;
		pthread_cond_signal(&h->fq.cv);
		pthread_mutex_unlock(&h->fq.mu);
		pthread_join(h->fq.thr, NULL);
	}
	store_close(h->fq.store);
	for (size_t i = 0; h->fq.ring && i < h->fq.len; i++)   /* queued after the writer's end */
		fetch_text_free(h->fq.ring[i].ua);
	free(h->fq.rings[0]);
	free(h->fq.rings[1]);
	lastmap_release(&h->fq.maps[0]);
	lastmap_release(&h->fq.maps[1]);
	pending_stop(h->pending);
	atomic_store(&h->stopping, true);
	if (h->gen_store)
		pthread_join(h->gen_thr, NULL);
	copy_sync_stop(h->copy);        /* no request reads it, and the watcher no longer kicks it */
	store_genwatch_free(h->genwatch);
	store_close(h->gen_store);
	for (size_t i = 0; h->cache && i < h->nbuckets; i++) {
		for (int k = 0; k < CACHE_WAYS; k++)
			cache_ent_free(h->cache[i].way[k]);
		cache_ent_free(h->cache[i].neg);
		pthread_mutex_destroy(&h->cache[i].mu);
	}
	free(h->cache);
	free((void *)h->seen);
	dcache_close(h->dc);
	for (size_t i = 0; i < h->nworkers; i++)
		worker_free(h->workers[i]);
	free(h->workers);
	pthread_key_delete(h->worker_key);
	if (h->access && h->access != stderr)
		fclose(h->access);
	auth_limits_release();
	pthread_rwlock_destroy(&h->layouts_lock);
	nonce_release();
	free(h);
}
