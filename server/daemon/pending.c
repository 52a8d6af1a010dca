/*
 * pending.c: phones nobody entered yet.  Their refused config requests
 * (answered exactly like any other refusal: this only takes notes) are
 * coalesced per MAC in a fixed map and written once a second by one
 * thread.  Bounded for anyone unauthenticated: the map holds PENDING_MAP
 * MACs between writes, the table pending_max rows, and one source address
 * adds at most pending_per_source new rows a minute; anything beyond is
 * counted in sipprov_pending_dropped_total, never stored.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pending.h"

#define PENDING_MAP 1024                /* distinct MACs held between writes */
#define SOURCES     256                 /* addresses tracked for the per-minute rate */

struct sighting {
	char mac[SP_MAC_LEN + 1];           /* "" = free slot */
	char layout[32], path[256], ua[256], ip[64];
	int64_t first, last;
	long count;
};

struct source { char ip[64]; int64_t minute; long added; };

struct pending {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sighting *map;               /* under mu */
	size_t used;
	bool stopping;
	atomic_long max_rows, per_source;
	struct store *store;                /* the writer's alone */
	struct source src[SOURCES];         /* the writer's alone */
	struct log_every refused;           /* the writer's: rows the database refused */
	pthread_t thr;
};

static size_t mac_hash(const char *mac)
{
	size_t h = 5381;
	while (*mac)
		h = h * 33 + (unsigned char)*mac++;
	return h;
}

void pending_note(struct pending *p, const char *mac, const char *layout, const char *path, const char *ua,
		  const char *ip)
{
	if (!p)
		return;
	int64_t now = sp_now();
	pthread_mutex_lock(&p->mu);
	size_t h = mac_hash(mac);
	struct sighting *e = NULL;
	for (size_t i = 0; i < PENDING_MAP; i++) {
		struct sighting *s = &p->map[(h + i) % PENDING_MAP];
		if (!s->mac[0] || !strcmp(s->mac, mac)) {
			e = s;
			break;
		}
	}
	if (!e || (!e->mac[0] && p->used >= PENDING_MAP / 2)) {   /* half full: probing stays short */
		pthread_mutex_unlock(&p->mu);
		metrics_inc("sipprov_pending_dropped_total{reason=\"busy\"}");
		return;
	}
	if (!e->mac[0]) {
		sp_strlcpy(e->mac, mac, sizeof(e->mac));
		e->first = now;
		e->count = 0;
		p->used++;
	}
	e->last = now;
	e->count++;
	sp_strlcpy(e->layout, layout ? layout : "", sizeof(e->layout));
	sp_redact_path(path, e->path, sizeof(e->path));
	sp_strlcpy(e->ua, ua ? ua : "", sizeof(e->ua));
	sp_text_scrub(e->path);     /* as a fetch record's (http.c) */
	sp_text_scrub(e->ua);
	sp_strlcpy(e->ip, ip, sizeof(e->ip));
	pthread_mutex_unlock(&p->mu);
}

/* May this address add a row now?  Counts it if so. */
static bool source_ok(struct pending *p, const char *ip, int64_t now)
{
	int64_t minute = now / 60;
	struct source *free_slot = NULL, *oldest = &p->src[0];
	for (size_t i = 0; i < SOURCES; i++) {
		struct source *s = &p->src[i];
		if (!strcmp(s->ip, ip)) {
			if (s->minute != minute)
				s->minute = minute, s->added = 0;
			if (s->added >= atomic_load(&p->per_source))
				return false;
			s->added++;
			return true;
		}
		if (!free_slot && (!s->ip[0] || s->minute != minute))
			free_slot = s;
		if (s->minute < oldest->minute)
			oldest = s;
	}
	struct source *s = free_slot ? free_slot : oldest;
	sp_strlcpy(s->ip, ip, sizeof(s->ip));
	s->minute = minute;
	s->added = 1;
	return atomic_load(&p->per_source) >= 1;
}

/* Write one batch in one transaction: 0, -1 when the database failed
 * (logged; the sightings are dropped: a phone that asked once asks again),
 * 1 when it refused a row's data (a constraint, a value the column cannot
 * hold), the transaction rolled back. */
static int write_rows(struct pending *p, struct sighting *b, size_t n)
{
	long rows = 0;
	if (store_begin(p->store) < 0 || store_pending_count(p->store, &rows) < 0) {
		log_warnx("pending devices: cannot write %zu: %s", n, store_errmsg(p->store));
		store_rollback(p->store);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct pending_dev d = { .first_seen = b[i].first, .last_seen = b[i].last, .count = b[i].count };
		struct ua_info u;
		sp_strlcpy(d.mac, b[i].mac, sizeof(d.mac));
		sp_strlcpy(d.layout, b[i].layout, sizeof(d.layout));
		sp_strlcpy(d.path, b[i].path, sizeof(d.path));
		sp_strlcpy(d.user_agent, b[i].ua, sizeof(d.user_agent));
		sp_strlcpy(d.source_ip, b[i].ip, sizeof(d.source_ip));
		ua_parse(b[i].ua, &u);
		sp_strlcpy(d.vendor, u.vendor, sizeof(d.vendor));
		sp_strlcpy(d.model, u.model, sizeof(d.model));
		sp_strlcpy(d.firmware, u.firmware, sizeof(d.firmware));
		int rc = store_pending_touch(p->store, &d);
		if (rc == 0) {
			if (rows >= atomic_load(&p->max_rows)) {
				metrics_inc("sipprov_pending_dropped_total{reason=\"full\"}");
				continue;
			}
			if (!source_ok(p, d.source_ip, b[i].last)) {
				metrics_inc("sipprov_pending_dropped_total{reason=\"per_source\"}");
				continue;
			}
			rc = store_pending_insert(p->store, &d);
			rows += rc > 0;
		}
		if (rc < 0) {
			bool refused = store_refused(p->store);
			if (!refused)
				log_warnx("pending devices: %s", store_errmsg(p->store));
			store_rollback(p->store);
			return refused ? 1 : -1;
		}
	}
	if (store_commit(p->store) < 0) {
		log_warnx("pending devices: cannot commit: %s", store_errmsg(p->store));
		store_rollback(p->store);
		return -1;
	}
	return 0;
}

/* A batch with a refused row is written again row by row, and only that
 * row is dropped: before, the whole second's sightings went with it.
 * (A row's per-source count taken in the rolled-back try stays taken.) */
static void write_batch(struct pending *p, struct sighting *b, size_t n)
{
	if (write_rows(p, b, n) <= 0)
		return;
	if (n > 1) {
		for (size_t i = 0; i < n; i++)
			write_batch(p, &b[i], 1);
		return;
	}
	/* Counted; logged at most every 10 s: anyone can send sightings. */
	metrics_inc("sipprov_pending_dropped_total{reason=\"refused\"}");
	long nr;
	if (!log_every_due(&p->refused, &nr))
		return;
	char e[SP_ERR_MAX];
	log_warnx("pending devices: %ld rows refused by the database and dropped (the last %s), the others written: %s",
		  nr, b->mac, sp_log_escape(store_errmsg(p->store), e, sizeof(e)));
}

static void *pending_main(void *arg)
{
	struct pending *p = arg;
	struct sighting *batch = xcalloc(PENDING_MAP, sizeof(*batch));
	pthread_mutex_lock(&p->mu);
	for (;;) {
		bool stop = p->stopping;
		if (!stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
			stop = p->stopping;
		}
		size_t n = 0;
		for (size_t i = 0; i < PENDING_MAP && p->used; i++)
			if (p->map[i].mac[0]) {
				batch[n++] = p->map[i];
				p->map[i].mac[0] = '\0';
				p->used--;
			}
		pthread_mutex_unlock(&p->mu);
		if (n)
			write_batch(p, batch, n);
		pthread_mutex_lock(&p->mu);
		if (stop)
			break;
	}
	pthread_mutex_unlock(&p->mu);
	free(batch);
	return NULL;
}

struct pending *pending_start(const char *db, long max_rows, long per_source, char *err, size_t errlen)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	p->store = store_open(db, err, errlen);
	if (!p->store) {
		free(p);
		return NULL;
	}
	p->map = xcalloc(PENDING_MAP, sizeof(*p->map));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pending_limits(p, max_rows, per_source);
	metrics_add("sipprov_pending_dropped_total{reason=\"busy\"}", 0);
	metrics_add("sipprov_pending_dropped_total{reason=\"full\"}", 0);
	metrics_add("sipprov_pending_dropped_total{reason=\"per_source\"}", 0);
	metrics_add("sipprov_pending_dropped_total{reason=\"refused\"}", 0);
	pthread_create(&p->thr, NULL, pending_main, p);
	pthread_setname_np(p->thr, "sp-pending");
	return p;
}

void pending_limits(struct pending *p, long max_rows, long per_source)
{
	if (!p)
		return;
	atomic_store(&p->max_rows, max_rows);
	atomic_store(&p->per_source, per_source);
}

void pending_stop(struct pending *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thr, NULL);
	store_close(p->store);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->map);
	free(p);
}
