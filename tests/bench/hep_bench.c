/*
 * tests/bench/hep_bench.c: HEP REGISTER intake throughput on one core, a
 * benchmark, not a test.  Seeds a database file with N devices (one account
 * each), then pushes REGISTER + 200 OK HEP datagrams for random accounts
 * through the daemon's pipeline (hep_decode, sipmsg_parse, hep_corr_feed,
 * drift_record in batched transactions) and prints observations/s.
 * Optionally seeds UNKNOWN open unknown_user events first.
 * Build and run with tools/bench-hep.sh DEVICES OBSERVATIONS [UNKNOWN].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sipprov.h"
#include "daemon/daemon.h"
#include "sip/sip.h"
#include "fresh.h"

static struct store *s;
static struct drift_cache *cache;
static long recorded, in_batch;

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct observation batch[512];

static void failed(const struct observation *o, const char *err, void *arg)
{
	(void)o;
	(void)arg;
	fprintf(stderr, "record: %s\n", err);
}

/* As hep_server's flush: one transaction per 512 observations, recorded
 * by drift_record_many. */
static void flush_batch(void)
{
	store_begin(s);
	drift_record_many(s, cache, batch, (size_t)in_batch, failed, NULL);
	store_commit(s);
	recorded += in_batch;
	in_batch = 0;
}

static void emit(const struct observation *o, void *arg)
{
	(void)arg;
	batch[in_batch++] = *o;
	if (in_batch == 512)
		flush_batch();
}

static size_t build(uint8_t *out, const char *sip)
{
	size_t n = 0, plen = strlen(sip);
	static const uint8_t ip[4] = { 127, 0, 0, 1 };
#define CH(type, ptr, len) do { out[n++] = 0; out[n++] = 0; out[n++] = 0; out[n++] = (type); \
	out[n++] = (uint8_t)(((len) + 6) >> 8); out[n++] = (uint8_t)((len) + 6); memcpy(out + n, (ptr), (len)); n += (len); } while (0)
	memcpy(out, "HEP3", 4);
	n = 6;
	uint8_t fam = 2, proto = 17, sp[2] = { 0x13, 0xc4 }, dp[2] = { 0x13, 0xc4 };
	CH(1, &fam, 1);
	CH(2, &proto, 1);
	CH(3, ip, 4);
	CH(4, ip, 4);
	CH(7, sp, 2);
	CH(8, dp, 2);
	CH(15, sip, plen);
	out[4] = (uint8_t)(n >> 8);
	out[5] = (uint8_t)n;
	return n;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/tmp/hep_bench.db";
	long ndev = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
	long nobs = argc > 3 ? strtol(argv[3], NULL, 10) : 100000;
	long nunknown = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
	char err[SP_ERR_MAX];
	unsigned char key[SP_KEY_LEN];

	if (ndev < 1 || ndev > 0xffffffffL || nobs < 0 || nunknown < 0) {
		fprintf(stderr, "usage: hep_bench [DB] [DEVICES 1-4294967295] [OBSERVATIONS] [UNKNOWN]\n");
		return 2;
	}
	log_init(LOG_LVL_WARN, false);
	memset(key, 1, sizeof(key));
	if (bench_fresh("hep_bench", path) < 0)
		return 2;
	if (!(s = store_open(path, err, sizeof(err)))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct tenant t;
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.slug, "bench", sizeof(t.slug));
	sp_strlcpy(t.default_template, "main", sizeof(t.default_template));
	store_begin(s);
	store_tenant_add(s, &t, err, sizeof(err));
	store_tenant_get(s, "bench", &t);
	store_tversion_add(s, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"example.test\",\"transport\":\"udp\"}",
			   "bench", "", NULL, err, sizeof(err));
	char *enc = secret_encrypt(key, "pw");
	struct device *d = xcalloc(1, sizeof(*d));
	struct account *a = xcalloc(1, sizeof(*a));
	for (long i = 0; i < ndev; i++) {
		memset(d, 0, sizeof(*d));
		snprintf(d->mac, sizeof(d->mac), "0015%08x", (unsigned)i);
		d->tenant_id = t.id;
		sp_strlcpy(d->layout, "yealink", sizeof(d->layout));
		if (store_device_add(s, d, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		/* Half fetched the current version, half never did. */
		if (i % 2)
			store_fetch_record(s, d->id, "127.0.0.1", "bench", "/x", 200, 1, "d");
		memset(a, 0, sizeof(*a));
		a->device_id = d->id;
		a->line = 1;
		snprintf(a->username, sizeof(a->username), "u%ld", i);
		snprintf(a->auth_username, sizeof(a->auth_username), "a%ld", i);
		sp_strlcpy(a->password_enc, enc, sizeof(a->password_enc));
		store_account_add(s, a, err, sizeof(err));
	}
	store_commit(s);
	free(enc);
	free(d);
	free(a);

	/* Pre-build the datagrams so the benchmark measures intake, not printf. */
	long npk = nobs * 2;
	uint8_t (*pk)[1024] = xmalloc((size_t)npk * sizeof(*pk));
	size_t *pl = xmalloc((size_t)npk * sizeof(*pl));
	char sip[900];
	srand(1);
	for (long i = 0; i < nobs; i++) {
		long u = rand() % ndev;
		const char *tr = i % 10 == 0 ? "TCP" : "UDP";      /* 10% transport drift */
		snprintf(sip, sizeof(sip),
			 "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/%s 127.0.0.1:5060;branch=z9hG4bK%ld\r\n"
			 "From: <sip:u%ld@example.test>;tag=1\r\nTo: <sip:u%ld@example.test>\r\nCall-ID: b%ld\r\n"
			 "CSeq: 2 REGISTER\r\nAuthorization: Digest username=\"a%ld\", realm=\"example.test\"\r\n"
			 "Contact: <sip:u%ld@127.0.0.1:5060>\r\nUser-Agent: Yealink SIP-T46G 28.72.0.1\r\n"
			 "Expires: 300\r\nContent-Length: 0\r\n\r\n", tr, i, u, u, i, u, u);
		pl[2 * i] = build(pk[2 * i], sip);
		snprintf(sip, sizeof(sip), "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK%ld\r\n"
			 "To: <sip:u%ld@example.test>;tag=2\r\nCall-ID: b%ld\r\nCSeq: 2 REGISTER\r\n"
			 "Contact: <sip:u%ld@127.0.0.1:5060>;expires=300\r\nContent-Length: 0\r\n\r\n", i, u, i, u);
		pl[2 * i + 1] = build(pk[2 * i + 1], sip);
	}

	/* As hep_server sizes its own connection. */
	if (store_drift_intake_tune(s) < 0)
		fprintf(stderr, "tune: %s\n", store_errmsg(s));
	/* Optionally, open unknown_user events first (a scanner trying random
	 * users): every matched observation looks up its own. */
	struct observation uo;
	memset(&uo, 0, sizeof(uo));
	sp_strlcpy(uo.source, "hep", sizeof(uo.source));
	sp_strlcpy(uo.registrar, "example.test", sizeof(uo.registrar));
	sp_strlcpy(uo.transport, "udp", sizeof(uo.transport));
	uo.code = 404;
	uo.at = sp_now();
	store_begin(s);
	for (long i = 0; i < nunknown; i++) {
		snprintf(uo.username, sizeof(uo.username), "ghost%ld", i);
		if (drift_record(s, &uo, err, sizeof(err)) < 0)
			fprintf(stderr, "unknown: %s\n", err);
	}
	store_commit(s);

	/* As hep_server: one cache for the intake thread. */
	cache = drift_cache_new(0);
	if (getenv("HEP_BENCH_BATCH"))
		drift_cache_batch(cache, (int)strtol(getenv("HEP_BENCH_BATCH"), NULL, 10));
	struct hep_corr *c = hep_corr_new(16384, 32000, emit, NULL);
	double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (long i = 0; i < npk; i++) {
		struct hep_packet p;
		struct sipmsg m;
		const char *why;
		if (hep_decode(pk[i], pl[i], NULL, &p, &why) < 0 ||
		    sipmsg_parse(p.payload, p.payload_len, &m, err, sizeof(err)) < 0) {
			fprintf(stderr, "packet %ld refused\n", i);
			return 1;
		}
		hep_corr_feed(c, &p, &m, 0);
	}
	if (in_batch)
		flush_batch();
	double dt = clock_s(CLOCK_MONOTONIC) - t0, dc = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	long open = 0;
	store_drift_open_count_device(s, 2, &open);
	/* CPU time too: on a shared machine wall time also counts other
	 * processes' turns on this core. */
	printf("hep intake: %ld devices, %ld REGISTER observations in %.2f s: %.0f observations/s (one core); "
	       "%.2f s CPU: %.0f observations/CPU-s\n", ndev, recorded, dt, (double)recorded / dt, dc,
	       (double)recorded / dc);
	long hits = 0, misses = 0;
	drift_cache_stats(cache, &hits, &misses);
	if (nunknown)
		printf("with %ld open unknown_user events\n", nunknown);
	printf("expected-config cache: %ld hits, %ld misses\n", hits, misses);
	long batched = 0, unbatched = 0;
	drift_cache_batches(cache, &batched, &unbatched);
	printf("batches: %ld decided in memory, %ld row by row\n", batched, unbatched);
	hep_corr_free(c);
	drift_cache_free(cache);
	free(pk);
	free(pl);
	store_close(s);
	return 0;
}
