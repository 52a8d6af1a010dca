/*
 * copy_sync.c (issue 18): the thread that keeps database_copy, a SQLite
 * file of the rows a render reads, in step with the PostgreSQL database
 * (store_copy.c does the reading and writing).  It catches up whenever
 * the node's generation (the watcher's, by LISTEN) is above the copy's
 * (the watcher wakes it: copy_sync_kick), and once a second in any case.
 * The change log is pruned by the node that keeps the history partitions
 * (http.c, fetchq_upkeep).
 * Workers read a render miss from the copy only when its generation has
 * reached the node's (http.c, render_copy): until the first load is done
 * and while it catches up they read the database.  While the database
 * cannot be reached the node learns of no newer generation, so the copy
 * keeps serving at the one it has.
 */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy_sync.h"
#include "core/sipprov.h"

#define COPY_CHECK_MS 1000      /* catch up at least this often */
#define COPY_AGAIN_MS 10        /* behind the node, and the last step found nothing newer */
#define COPY_RETRY_MS 5000      /* after a failed open */
#define COPY_LOG_MS 60000       /* at most one failure line this often */

struct copy_sync {
	const struct conf *conf;
	unsigned char key[SP_KEY_LEN];
	const atomic_long *node_gen;
	atomic_long gen;        /* the copy's, published once written */
	atomic_bool stopping;
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* on CLOCK_MONOTONIC */
	bool kicked;            /* under mu: the node's generation moved, or a stop */
};

void copy_sync_kick(struct copy_sync *cs)
{
	if (!cs)
		return;
	pthread_mutex_lock(&cs->mu);
	cs->kicked = true;
	pthread_cond_signal(&cs->cv);
	pthread_mutex_unlock(&cs->mu);
}

/* Wait until kicked, or for ms.  It polled the node's generation every
 * millisecond instead: a thousand wake-ups a second, idle or not, 3% of
 * sipprovd's CPU samples in a 10,000-phone storm (perf, 2026-12-06). */
static void copy_nap(struct copy_sync *cs, int64_t ms)
{
	struct timespec until = sp_clock_after(CLOCK_MONOTONIC, (long)ms);
	pthread_mutex_lock(&cs->mu);
	while (!cs->kicked && pthread_cond_timedwait(&cs->cv, &cs->mu, &until) != ETIMEDOUT)
		;
	cs->kicked = false;
	pthread_mutex_unlock(&cs->mu);
}

long copy_sync_gen(struct copy_sync *cs)
{
	return cs ? atomic_load(&cs->gen) : -1;
}

const char *copy_sync_path(struct copy_sync *cs)
{
	return cs->conf->database_copy;
}

static void say(int64_t *said_at, const char *path, const char *err)
{
	int64_t now = sp_mono_ms();
	if (*said_at && now - *said_at < COPY_LOG_MS)
		return;
	*said_at = now;
	log_warnx("database copy '%s': %s; retrying (render misses read there only at the node's generation)",
		  path, err);
}

static void *copy_main(void *arg)
{
	struct copy_sync *cs = arg;
	const char *path = cs->conf->database_copy;
	struct store_copy *c = NULL;
	char err[SP_ERR_MAX];
	int64_t retry_at = 0, check_at = 0, said_at = 0;
	bool failing = false;
	while (!atomic_load(&cs->stopping)) {
		int64_t now = sp_mono_ms();
		if (!c) {
			if (now < retry_at) {
				usleep(20000);
				continue;
			}
			if (!(c = store_copy_open(cs->conf->database, path, cs->key, err, sizeof(err)))) {
				say(&said_at, path, err);
				failing = true;
				retry_at = now + COPY_RETRY_MS;
				continue;
			}
		}
		long want = atomic_load(cs->node_gen);
		bool moved = false;
		if (store_copy_gen(c) < want || now >= check_at) {
			struct store_copy_stats st;
			check_at = now + COPY_CHECK_MS;
			int rc = store_copy_step(c, &st, err, sizeof(err));
			if (rc < 0) {
				say(&said_at, path, err);
				failing = true;
				bool lost = store_copy_lost(c);
				if (lost && store_copy_reconnect(c, err, sizeof(err)) < 0)
					say(&said_at, path, err);
				usleep(lost ? 1000000 : 100000);
				continue;
			}
			if (failing) {
				failing = false;
				said_at = 0;
				log_info("database copy '%s': in step with the database again", path);
			}
			if (rc > 0) {
				moved = true;
				atomic_store(&cs->gen, store_copy_gen(c));
				metrics_inc(st.full ? "sipprov_copy_updates_total{kind=\"full\"}"
						    : "sipprov_copy_updates_total{kind=\"log\"}");
				const char *why = st.from > st.to ? " (the database's generation went back: another "
								    "server's history)"
						  : st.from > 0   ? " (it was older than the change log)"
								  : "";
				if (st.full)
					log_info("database copy '%s': loaded %ld rows at generation %ld in %lld ms%s", path,
						 st.rows, st.to, (long long)(sp_mono_ms() - now), why);
				else
					log_debug("database copy '%s': generation %ld to %ld, %ld rows changed", path,
						  st.from, st.to, st.changed);
			}
		}
		/* Moved: catch up again at once if the node is further on;
		 * behind without moving (what the node knows was not there
		 * yet): again in a few ms; else until kicked or the next check. */
		bool behind = store_copy_gen(c) < atomic_load(cs->node_gen);
		if (moved && behind)
			continue;
		int64_t left = behind ? COPY_AGAIN_MS : check_at - sp_mono_ms();
		copy_nap(cs, left > 0 ? left : 1);
	}
	store_copy_close(c);
	return NULL;
}

struct copy_sync *copy_sync_start(const struct conf *conf, const unsigned char key[SP_KEY_LEN],
				  const atomic_long *node_gen)
{
	struct copy_sync *cs = xcalloc(1, sizeof(*cs));
	cs->conf = conf;
	memcpy(cs->key, key, SP_KEY_LEN);
	cs->node_gen = node_gen;
	atomic_store(&cs->gen, 0);
	pthread_mutex_init(&cs->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cs->cv, &ca);
	pthread_condattr_destroy(&ca);
	log_info("database copy '%s': render misses read there once it has the node's generation",
		 conf->database_copy);
	pthread_create(&cs->thr, NULL, copy_main, cs);
	pthread_setname_np(cs->thr, "sp-copy");
	return cs;
}

void copy_sync_stop(struct copy_sync *cs)
{
	if (!cs)
		return;
	atomic_store(&cs->stopping, true);
	copy_sync_kick(cs);
	pthread_join(cs->thr, NULL);
	pthread_mutex_destroy(&cs->mu);
	pthread_cond_destroy(&cs->cv);
	secret_wipe(cs->key, sizeof(cs->key));
	free(cs);
}
