/*
 * tests/bench/fetch_bench.c: the fetch-record writer's throughput, a
 * benchmark, not a test.  Seeds DEVICES devices in DB (a file, or a
 * postgresql:// URL whose database is emptied first: a throwaway one), then
 * writes RECORDS fetch records the way sipprovd's writer does
 * (store_fetch_batch: 512 fetch_log rows and each device's last fetch per
 * transaction, or $BATCH) and prints records/s and the CPU time per record
 * spent in store_fetch_batch.  ORDER
 * "random" draws each record's device at random (a big fleet's boot storm:
 * each device row and history page elsewhere), the default takes them in
 * turn.  Run it twice on the same file (KEEP=1 skips the seeding) to see
 * the cost with the history the first run left.  The 1,000,000-device
 * mix's writer, on a file `sipprov demo --devices 1000000` seeded:
 *   SAME_UA=1 KEEP=1 DEMO=1 BATCH=16384 fetch_bench FILE 1000000 1000000 random
 * Build and run with tools/bench-fetch.sh DB [DEVICES] [RECORDS] [ORDER].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/sipprov.h"
#include "fresh.h"

#define BATCH 512                     /* records per transaction, unless $BATCH */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	const char *db = argc > 1 ? argv[1] : "/tmp/fetch_bench.db";
	long ndev = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
	long nrec = argc > 3 ? strtol(argv[3], NULL, 10) : 100000;
	char err[SP_ERR_MAX];
	struct store *s;

	bool random_order = argc > 4 && !strcmp(argv[4], "random"), keep = getenv("KEEP") != NULL;
	/* $BATCH: records per transaction (sipprovd's writer takes up to
	 * 16,384 under load); DEMO=1 with KEEP=1: the devices are
	 * `sipprov demo`'s (the MACs tests/bench/rand.lua asks for). */
	size_t batch = getenv("BATCH") ? strtoul(getenv("BATCH"), NULL, 10) : BATCH;
	bool demo = getenv("DEMO") != NULL, same_ua = getenv("SAME_UA") != NULL;

	log_init(LOG_LVL_WARN, false);
	if (!keep && bench_fresh("fetch_bench", db) < 0)
		return 2;
	if (!(s = store_open(db, err, sizeof(err)))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct tenant t;
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.slug, "bench", sizeof(t.slug));
	store_begin(s);
	if (!keep)
		store_tenant_add(s, &t, err, sizeof(err));
	store_tenant_get(s, "bench", &t);
	int64_t *ids = xcalloc((size_t)ndev, sizeof(*ids));
	struct device *d = xcalloc(1, sizeof(*d));
	for (long i = 0; i < ndev; i++) {
		memset(d, 0, sizeof(*d));
		if (demo)
			snprintf(d->mac, sizeof(d->mac), "0015%08x", (unsigned)(0x10000000 + i));
		else
			snprintf(d->mac, sizeof(d->mac), "0016%08x", (unsigned)i);
		d->tenant_id = t.id;
		sp_strlcpy(d->layout, "yealink", sizeof(d->layout));
		if (keep ? store_device_get(s, d->mac, d) != 1 : store_device_add(s, d, err, sizeof(err)) < 0) {
			fprintf(stderr, "device %s: %s\n", d->mac, keep ? "not in the database" : err);
			return 1;
		}
		ids[i] = d->id;
	}
	store_commit(s);
	free(d);
	store_fetch_keep(s);            /* the daemon's writer settings */

	struct fetch_rec *r = xcalloc(batch, sizeof(*r));
	struct fetch_last *l = xcalloc(batch, sizeof(*l));
	char (*ua)[64] = xcalloc(batch, sizeof(*ua)), (*path)[32] = xcalloc(batch, sizeof(*path));
	long done = 0, batches = 0;
	size_t nslot = 1;
	while (nslot < 2 * batch)
		nslot <<= 1;
	uint32_t *slot = xcalloc(nslot, sizeof(*slot));
	double t0 = now_s(), cpu = 0;   /* CPU in store_fetch_batch only */
	srand(1);
	while (done < nrec) {
		size_t n = (size_t)(nrec - done) < batch ? (size_t)(nrec - done) : batch, nl = 0;
		memset(slot, 0, nslot * sizeof(*slot));
		for (size_t i = 0; i < n; i++) {
			/* In turn: one last fetch per device per batch, as the
			 * daemon's coalescing map gives; at random, the same. */
			long dv = random_order ? (long)((unsigned long)rand() % (unsigned long)ndev)
					       : (done + (long)i) % ndev;
			r[i].device_id = ids[dv];
			r[i].at = sp_now();
			r[i].status = 200;
			r[i].version = 1;
			sp_strlcpy(r[i].ip, "127.0.0.1", sizeof(r[i].ip));
			/* SAME_UA=1: one User-Agent for all, as from wrk (the device
			 * rows' client fields written once); else each differs. */
			if (same_ua)
				sp_strlcpy(ua[i], "wrk", sizeof(ua[i]));
			else
				snprintf(ua[i], sizeof(ua[i]), "bench \"agent\" \\ %ld", done + (long)i);
			snprintf(path[i], sizeof(path[i]), "/0016%08lx.cfg", dv);
			r[i].ua = ua[i];
			r[i].path = path[i];
			sp_strlcpy(r[i].digest, "00112233445566778899aabbccddeeff", sizeof(r[i].digest));
			/* One last fetch per device: an open-addressing map of
			 * l's entries + 1, as the daemon's coalescing map. */
			size_t h = ((uint64_t)r[i].device_id * 0x9e3779b97f4a7c15ull >> 20) & (nslot - 1);
			while (slot[h] && l[slot[h] - 1].device_id != r[i].device_id)
				h = (h + 1) & (nslot - 1);
			if (!slot[h])
				slot[h] = (uint32_t)++nl;
			size_t j = slot[h] - 1;
			l[j].device_id = r[i].device_id;
			l[j].at = r[i].at;
			l[j].version = 1;
			sp_strlcpy(l[j].ip, r[i].ip, sizeof(l[j].ip));
			l[j].ua = r[i].ua;
			sp_strlcpy(l[j].digest, r[i].digest, sizeof(l[j].digest));
		}
		double cb = cpu_s();
		int rc = store_fetch_batch(s, r, n, l, nl);
		cpu += cpu_s() - cb;
		if (rc < 0) {
			fprintf(stderr, "batch: %s\n", store_errmsg(s));
			return 1;
		}
		done += (long)n;
		batches++;
	}
	double dt = now_s() - t0;
	printf("fetch writer: %ld records (%s devices) in %ld batches, %.2f s: %.0f records/s, %.1f us CPU each\n",
	       done, random_order ? "random" : "consecutive", batches, dt, (double)done / dt, cpu * 1e6 / (double)done);
	free(r);
	free(l);
	free(ua);
	free(path);
	free(slot);
	free(ids);
	store_close(s);
	return 0;
}
