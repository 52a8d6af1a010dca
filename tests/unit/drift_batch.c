/*
 * tests/unit/drift_batch.c: intake per batch (drift_record_many deciding a
 * batch in memory, issue 17) writes exactly what recording the same
 * observations one at a time writes.  Two stores get the same seed (a
 * template, devices sharing and not sharing users, a device with
 * overrides, a fetched and a never-fetched one, an unknown_user event open
 * before its user exists) and the same pseudo-random observations: store A
 * row by row, store B per batch (batches of 1 to 97 within transactions,
 * so events open, bump, resolve and reopen inside one batch and across
 * batches).  Then every registration, drift event and account last code,
 * and the drift and observation counters, must be equal, and B must have
 * been decided in memory (not fallen back to rows).
 * Stores: two :memory: SQLite databases; with SP_PGURL_A and SP_PGURL_B
 * (tests/t/a6-pg-drift-batch.sh), two empty PostgreSQL databases.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core/db.h"
#include "core/sipprov.h"

static unsigned char key[SP_KEY_LEN];
static unsigned long rnd_state = 12345;

static unsigned long rnd(unsigned long n)
{
	rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
	return (rnd_state >> 33) % n;
}

static int64_t add_device(struct store *s, int64_t tenant_id, const char *mac, const char *overrides)
{
	char err[SP_ERR_MAX] = "";
	struct device *d = xcalloc(1, sizeof(*d));
	sp_strlcpy(d->mac, mac, sizeof(d->mac));
	d->tenant_id = tenant_id;
	sp_strlcpy(d->layout, "yealink", sizeof(d->layout));
	sp_strlcpy(d->overrides, overrides, sizeof(d->overrides));
	if (store_device_add(s, d, err, sizeof(err)) < 0)
		printf("# device add: %s\n", err);
	int64_t id = d->id;
	free(d);
	return id;
}

static void add_account(struct store *s, int64_t device_id, long line, const char *user, const char *auth)
{
	char err[SP_ERR_MAX] = "";
	struct account *a = xcalloc(1, sizeof(*a));
	a->device_id = device_id;
	a->line = line;
	sp_strlcpy(a->username, user, sizeof(a->username));
	sp_strlcpy(a->auth_username, auth, sizeof(a->auth_username));
	char *enc = secret_encrypt(key, "pw-1234");
	sp_strlcpy(a->password_enc, enc, sizeof(a->password_enc));
	free(enc);
	if (store_account_add(s, a, err, sizeof(err)) < 0)
		printf("# account add: %s\n", err);
	free(a);
}

static void obs(struct observation *o, long at, const char *user, const char *auth, const char *transport,
		long port, const char *registrar, const char *ua, const char *src, int code)
{
	memset(o, 0, sizeof(*o));
	o->at = at;
	sp_strlcpy(o->source, "hep", sizeof(o->source));
	sp_strlcpy(o->src_ip, src, sizeof(o->src_ip));
	o->src_port = 5070;
	sp_strlcpy(o->transport, transport, sizeof(o->transport));
	sp_strlcpy(o->registrar, registrar, sizeof(o->registrar));
	o->port = port;
	sp_strlcpy(o->username, user, sizeof(o->username));
	sp_strlcpy(o->auth_username, auth, sizeof(o->auth_username));
	sp_strlcpy(o->user_agent, ua, sizeof(o->user_agent));
	o->expires = 300;
	o->code = code;
}

/* The same seed in each store: 0 or -1. */
static int seed(struct store *s)
{
	char err[SP_ERR_MAX] = "";
	struct tenant t;
	struct tversion v;
	struct observation o;
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.slug, "acme", sizeof(t.slug));
	sp_strlcpy(t.default_template, "main", sizeof(t.default_template));
	if (store_begin(s) < 0 || store_tenant_add(s, &t, err, sizeof(err)) < 0 || store_tenant_get(s, "acme", &t) != 1)
		return -1;
	if (store_tversion_add(s, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"example.test\",\"transport\":\"udp\"}",
			       "test", "v1", &v, err, sizeof(err)) < 0 ||
	    store_tversion_add(s, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"example.test\",\"transport\":\"udp\"}",
			       "test", "v2", &v, err, sizeof(err)) < 0)
		return -1;
	/* An unknown user that becomes known: its event stays open until the
	 * user's first observation resolves it. */
	obs(&o, 999, "u1", "", "udp", 5060, "example.test", "Yealink SIP-T46G 28.72.0.1", "192.0.2.1", 404);
	if (drift_record(s, &o, err, sizeof(err)) < 0)
		return -1;
	for (int i = 0; i < 12; i++) {
		char mac[16], user[32], auth[32];
		snprintf(mac, sizeof(mac), "001565aabb%02x", i);
		/* Overrides: the expect is built from the effective config; 7
		 * registers elsewhere, so "shared" picks by registrar. */
		int64_t id = add_device(s, t.id, mac, i == 5 ? "{\"transport\":\"tcp\"}"
						     : i == 7 ? "{\"registrar\":\"other.test\"}" : "{}");
		snprintf(user, sizeof(user), "u%d", i);
		snprintf(auth, sizeof(auth), "a%d", i);
		add_account(s, id, 1, user, auth);
		if (i == 3) {
			add_account(s, id, 2, "u3b", "a3b");
			add_account(s, id, 3, "shared", "ashared3");
		}
		if (i == 7)
			add_account(s, id, 1 + 1, "shared", "ashared7");
		if (i % 3 == 1 && store_fetch_record(s, id, "192.0.2.10", "Yealink", "/x.cfg", 200, 2, "d") < 0)
			return -1;
		if (i % 3 == 2 && store_fetch_record(s, id, "192.0.2.10", "Yealink", "/x.cfg", 200, 1, "d") < 0)
			return -1;
	}
	return store_commit(s);
}

/* One pseudo-random observation: known users (by username, auth username,
 * or the MAC in the agent) right or wrong on each rule, unknown users from
 * a few sources (over the caps), probes. */
static void make_obs(struct observation *o, long i)
{
	static const char *const transports[] = { "udp", "udp", "udp", "tcp", "tls" };
	static const char *const registrars[] = { "example.test", "example.test", "EXAMPLE.test", "other.test" };
	static const long ports[] = { 5060, 5060, 5060, 5062, 0 };
	static const int codes[] = { 200, 200, 200, 403, 408, 401 };
	char user[32] = "", auth[32] = "", ua[96] = "Yealink SIP-T46G 28.72.0.1", src[32];
	unsigned long k = rnd(100), d = rnd(12);

	/* One busy source, four quiet ones. */
	snprintf(src, sizeof(src), "192.0.2.%lu", rnd(2) ? 1 : 2 + rnd(4));
	if (k < 55) {
		snprintf(user, sizeof(user), "u%lu", d);
		snprintf(auth, sizeof(auth), rnd(8) ? "a%lu" : "wrong%lu", d);
	} else if (k < 62) {
		snprintf(auth, sizeof(auth), "a%lu", d);
	} else if (k < 70) {
		/* The MAC in the agent: the device is named, the user may differ. */
		snprintf(ua, sizeof(ua), "Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:%02lx", d);
		snprintf(user, sizeof(user), rnd(2) ? "u%lu" : "x%lu", d);
	} else if (k < 76) {
		sp_strlcpy(user, "shared", sizeof(user));
		snprintf(auth, sizeof(auth), "ashared%d", rnd(2) ? 3 : 7);
	} else if (k < 80) {
		sp_strlcpy(user, "u3b", sizeof(user));
		sp_strlcpy(auth, "a3b", sizeof(auth));
	} else if (k < 95) {
		/* Unknown; or known by its auth username, which resolves the
		 * unknown_user event its user@host may have opened. */
		snprintf(user, sizeof(user), "ghost%lu", rnd(60));
		if (!rnd(4))
			snprintf(auth, sizeof(auth), "a%lu", d);
	} else if (k < 97) {
		sp_strlcpy(user, "u1", sizeof(user));
	} else {
		snprintf(user, sizeof(user), "u%lu", d);
		sp_strlcpy(ua, SP_PROBE_UA_PREFIX "test", sizeof(ua));
	}
	obs(o, 1000 + i, user, auth, transports[rnd(5)], ports[rnd(5)], registrars[rnd(4)], ua, src, codes[rnd(6)]);
	if (k >= 97)
		sp_strlcpy(o->source, "probe", sizeof(o->source));
}

static void dump_rows(struct store *s, const char *sql, int ncols, struct buf *out)
{
	struct dbst *st = db_prepare(store_db(s), sql, false);
	int rc;
	if (!st) {
		buf_printf(out, "prepare failed: %s\n", store_errmsg(s));
		return;
	}
	while ((rc = db_step(st)) == DB_ROW) {
		for (int i = 0; i < ncols; i++) {
			const char *v = db_col_text(st, i);
			buf_printf(out, "%s%s", i ? "|" : "", db_col_null(st, i) ? "NULL" : v ? v : "");
		}
		buf_adds(out, "\n");
	}
	if (rc != DB_DONE)
		buf_printf(out, "step failed: %s\n", store_errmsg(s));
	db_finalize(st);
}

static char *dump(struct store *s)
{
	struct buf b;
	buf_init(&b, 64u << 20);
	dump_rows(s, "SELECT id, at, source, src_ip, src_port, transport, registrar, port, username, auth_username, "
		  "user_agent, contact, expires, code, device_id, account_id, reason, reason_detail, dst_ip "
		  "FROM registration ORDER BY id", 19, &b);
	dump_rows(s, "SELECT id, device_id, account_id, kind, expected, observed, src_ip, first_seen, last_seen, "
		  "count, resolved FROM drift_event ORDER BY id", 11, &b);
	dump_rows(s, "SELECT id, last_code, last_code_at FROM account ORDER BY id", 3, &b);
	return buf_detach(&b, NULL);
}

/* The drift and observation counters, as /metrics shows them. */
static char *counters(void)
{
	struct buf m, out;
	buf_init(&m, 1u << 20);
	buf_init(&out, 1u << 20);
	metrics_render(&m);
	char *text = buf_detach(&m, NULL), *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "sipprov_drift_", 14) || !strncmp(l, "sipprov_observations_", 21))
			buf_printf(&out, "%s\n", l);
	free(text);
	return buf_detach(&out, NULL);
}

/* Counter lines of after minus before (same series in the same order). */
static char *delta(const char *before, const char *after)
{
	struct buf out;
	buf_init(&out, 1u << 20);
	char *b = xstrdup(before), *a = xstrdup(after), *sb = NULL, *sa = NULL;
	char *lb = strtok_r(b, "\n", &sb), *la = strtok_r(a, "\n", &sa);
	for (; lb && la; lb = strtok_r(NULL, "\n", &sb), la = strtok_r(NULL, "\n", &sa)) {
		char *vb = strrchr(lb, ' '), *va = strrchr(la, ' ');
		if (!vb || !va)
			continue;
		*va = '\0';
		buf_printf(&out, "%s %ld\n", la, strtol(va + 1, NULL, 10) - strtol(vb + 1, NULL, 10));
	}
	free(a);
	free(b);
	return buf_detach(&out, NULL);
}

#define NOBS 3000

/* Record all observations in s: per batch (mode 1) or row by row (0). */
static int run(struct store *s, struct drift_cache *c, int mode, const struct observation *o)
{
	int failed = 0;
	drift_cache_batch(c, mode);
	for (long i = 0; i < NOBS;) {
		/* Batches of 1 to 97, in transactions of one or two batches. */
		size_t n = 1 + (size_t)((i * 37) % 97), n2 = (size_t)((i * 11) % 3 == 0 ? (i * 7) % 50 : 0);
		if ((long)(n + n2) > NOBS - i)
			n = (size_t)(NOBS - i), n2 = 0;
		if (store_begin(s) < 0)
			return -1;
		failed += drift_record_many(s, c, o + i, n, NULL, NULL);
		if (n2)
			failed += drift_record_many(s, c, o + i + n, n2, NULL, NULL);
		if (store_commit(s) < 0)
			return -1;
		i += (long)(n + n2);
	}
	return failed;
}

int main(void)
{
	char err[SP_ERR_MAX] = "";
	const char *url_a = getenv("SP_PGURL_A"), *url_b = getenv("SP_PGURL_B");
	bool pg = url_a && *url_a && url_b && *url_b;
	struct observation *o = xcalloc(NOBS, sizeof(*o));

	log_init(LOG_LVL_ERR, false);
	memset(key, 7, sizeof(key));
	metrics_start();
	/* Caps low enough for the random unknown users to reach both: the
	 * busy source its own, the others the total. */
	drift_unknown_caps_set(8, 20);
	struct store *a = store_open(pg ? url_a : ":memory:", err, sizeof(err));
	ok(a != NULL, "store A opens (%s)", err);
	struct store *b = store_open(pg ? url_b : ":memory:", err, sizeof(err));
	ok(b != NULL, "store B opens (%s)", err);
	if (!a || !b)
		return 1;
	is_int(seed(a), 0, "store A seeded");
	is_int(seed(b), 0, "store B seeded");
	for (long i = 0; i < NOBS; i++)
		make_obs(&o[i], i);

	struct drift_cache *ca = drift_cache_new(0), *cb = drift_cache_new(0);
	char *m0 = counters();
	is_int(run(a, ca, 0, o), 0, "%d observations recorded row by row in A", NOBS);
	char *m1 = counters();
	is_int(run(b, cb, 1, o), 0, "the same observations recorded per batch in B");
	char *m2 = counters();
	long batched = 0, unbatched = 0;
	drift_cache_batches(ca, &batched, &unbatched);
	ok(batched == 0 && unbatched > 0, "A went row by row (%ld batches in memory, %ld by rows)", batched, unbatched);
	drift_cache_batches(cb, &batched, &unbatched);
	/* Batches of one observation go row by row. */
	ok(batched > 50 && unbatched <= 1, "B was decided in memory (%ld batches in memory, %ld by rows)", batched,
	   unbatched);

	char *da = dump(a), *db = dump(b);
	ok(strlen(da) > 10000, "A holds rows (%zu bytes of them)", strlen(da));
	ok(strstr(da, "|unknown_user|") && strstr(da, "|transport|") && strstr(da, "|never_fetched|") &&
	   strstr(da, "|stale|") && strstr(da, "|registrar|") && strstr(da, "|auth_username|"),
	   "the observations open events of every kind");
	if (!ok(!strcmp(da, db), "per batch writes the same registrations, events and last codes as row by row")) {
		/* The first line that differs. */
		const char *pa = da, *pb = db;
		while (*pa && *pa == *pb)
			pa++, pb++;
		while (pa > da && pa[-1] != '\n')
			pa--, pb--;
		printf("# A: %.200s\n# B: %.200s\n", pa, pb);
	}
	char *d1 = delta(m0, m1), *d2 = delta(m1, m2);
	ok(strstr(d1, "sipprov_drift_resolved_total") && strstr(d1, "sipprov_drift_unknown_dropped_total") != NULL,
	   "counters moved");
	is_str(d2, d1, "and counts the same events, drops and observations");

	free(da);
	free(db);
	free(d1);
	free(d2);
	free(m0);
	free(m1);
	free(m2);
	drift_cache_free(ca);
	drift_cache_free(cb);
	store_close(a);
	store_close(b);
	free(o);
	return tap_done();
}
