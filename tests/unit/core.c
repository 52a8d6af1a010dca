/*
 * core.c: unit tests for the core library on a real schema: util (MAC
 * normalization, UTF-8 checks, capped buffers), secret (AES-256-GCM round
 * trip and tamper detection, key file mode), conf (file and -o, errors name
 * file:line), store (migrations tracked, append-only versions, config
 * generation) and the effective config merge order.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"
#include "core/sipprov.h"
#include "core/db.h"
#include "core/store_int.h"
#include "support/store_test.h"

/* sp_cpus_usable counts the CPUs the thread may run on: all it may use
 * here, one in a thread pinned to the first of them (sysconf counted the
 * machine's whatever the affinity). */
static void *cpus_pinned(void *arg)
{
	*(unsigned *)arg = sp_cpus_usable();
	return NULL;
}

static void test_cpus_usable(void)
{
	cpu_set_t all, one;
	ok(sched_getaffinity(0, sizeof(all), &all) == 0, "sched_getaffinity");
	is_int(sp_cpus_usable(), CPU_COUNT(&all), "cpus usable: this process's %d", CPU_COUNT(&all));
	int first = 0;
	while (!CPU_ISSET(first, &all))
		first++;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	pthread_attr_t a;
	pthread_t t;
	unsigned got = 0;
	pthread_attr_init(&a);
	pthread_attr_setaffinity_np(&a, sizeof(one), &one);
	ok(pthread_create(&t, &a, cpus_pinned, &got) == 0 && pthread_join(t, NULL) == 0, "a thread pinned to CPU %d", first);
	pthread_attr_destroy(&a);
	is_int(got, 1, "cpus usable: 1 in a thread pinned to CPU %d", first);
}

/* sp_clock_after: a deadline ms ahead, its nanoseconds always under a
 * second (pthread_cond_timedwait refuses others with EINVAL). */
static void test_clock_after(void)
{
	long spans[] = { 0, 1, 999, 1000, 1999, 2500, 86400000 };
	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
		struct timespec at = sp_clock_after(CLOCK_MONOTONIC, spans[i]), now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long d = ((long long)at.tv_sec - now.tv_sec) * 1000 + (at.tv_nsec - now.tv_nsec) / 1000000;
		ok(at.tv_nsec >= 0 && at.tv_nsec < 1000000000L, "clock_after %ld ms: nanoseconds in range", spans[i]);
		ok(d <= spans[i] && d >= spans[i] - 50, "clock_after %ld ms: %lld ms ahead", spans[i], d);
	}
}

/* sp_ipv4_str writes what inet_ntop writes, for the edges and a sweep. */
static void test_ipv4_str(void)
{
	static const unsigned char edges[][4] = {
		{ 0, 0, 0, 0 }, { 255, 255, 255, 255 }, { 127, 0, 0, 1 }, { 10, 9, 99, 100 }, { 1, 10, 199, 200 },
	};
	char got[16], want[16];
	int bad = 0;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		inet_ntop(AF_INET, edges[i], want, sizeof(want));
		is_str(sp_ipv4_str(edges[i], got), want, "ipv4 %s", want);
	}
	for (unsigned v = 0; v < 256; v++) {
		unsigned char a[4] = { (unsigned char)v, (unsigned char)(255 - v), (unsigned char)(v * 7),
				       (unsigned char)(v ^ 0x5a) };
		inet_ntop(AF_INET, a, want, sizeof(want));
		bad += strcmp(sp_ipv4_str(a, got), want) != 0;
	}
	is_int(bad, 0, "ipv4: 256 addresses as inet_ntop writes them");
}

static void test_mac(void)
{
	static const struct { const char *in, *out; } good[] = {
		{ "00:15:65:4A:A9:37", "0015654aa937" }, { "00-15-65-4a-a9-37", "0015654aa937" },
		{ "0015654AA937", "0015654aa937" }, { "0015.654a.a937", "0015654aa937" },
	};
	static const char *bad[] = { "", "0015654aa93", "0015654aa9377", "0015654aa93g", "00:15:65:4a:a9:3",
				     "0015654aa937 ", "../0015654a", "0x15654aa937" };
	char out[SP_MAC_LEN + 1];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(out, 0, sizeof(out));
		ok(mac_normalize(good[i].in, out) == 0, "mac '%s' accepted", good[i].in);
		is_str(out, good[i].out, "mac '%s' normalizes", good[i].in);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(mac_normalize(bad[i], out) < 0, "not a mac: '%s'", bad[i]);
}

static void test_text(void)
{
	ok(sp_text_ok("Ann <\"O'Brien\"> & Co \xe2\x98\x8e"), "UTF-8 display name with markup is text");
	ok(sp_text_ok("tab\tok"), "tab allowed");
	ok(!sp_text_ok("a\nb"), "newline refused");
	ok(!sp_text_ok("a\rb"), "CR refused");
	ok(!sp_text_ok("\x7f"), "DEL refused");
	ok(!sp_text_ok("\xc3"), "truncated UTF-8 refused");
	ok(!sp_text_ok("\xc0\xaf"), "overlong UTF-8 refused");
	ok(!sp_text_ok("\xed\xa0\x80"), "UTF-16 surrogate refused");
	ok(!sp_text_ok("\xf4\x90\x80\x80"), "code point above U+10FFFF refused");
	const struct { const char *in, *want; } scrub[] = {
		{ "Yealink SIP-T46U 108.86.0.20", "Yealink SIP-T46U 108.86.0.20" },
		{ "caf\xc3\xa9 \xe2\x98\x8e\ttab", "caf\xc3\xa9 \xe2\x98\x8e\ttab" },
		{ "bad\xff\xfe end", "bad?? end" },
		{ "cut \xe2\x98", "cut ??" },
		{ "\xc0\xaf overlong, \xed\xa0\x80 surrogate", "?? overlong, ??? surrogate" },
		{ "ctl\x01\x7f\x1b[0m", "ctl???[0m" },
	};
	for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++) {
		char b[64];
		sp_strlcpy(b, scrub[i].in, sizeof(b));
		is_str(sp_text_scrub(b), scrub[i].want, "scrubbed %zu", i);
		ok(sp_text_ok(b), "scrubbed %zu is text", i);
	}
	/* sp_ltoa is snprintf's "%ld", truncation included. */
	const long nums[] = { 0, 7, -7, 5060, -604800, 1234567890123L, LONG_MAX, LONG_MIN };
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		char want[32], got[32];
		snprintf(want, sizeof(want), "%ld", nums[i]);
		is_str(sp_ltoa(nums[i], got, sizeof(got)), want, "sp_ltoa(%ld)", nums[i]);
	}
	char small[4];
	is_str(sp_ltoa(-12345, small, sizeof(small)), "-12", "sp_ltoa truncates to fit, as snprintf");
	ok(sp_ltoa(5, small, 0) == small, "sp_ltoa into nothing writes nothing");
	/* sp_cat is snprintf's "%s%s...", truncation included. */
	char cat[16];
	ok(sp_cat(cat, sizeof(cat), "md5", ":", "", "sipprov", (char *)NULL) == 11 && !strcmp(cat, "md5:sipprov"),
	   "sp_cat joins its strings");
	ok(sp_cat(cat, 8, "Digest ", "realm", (char *)NULL) == 7 && !strcmp(cat, "Digest "),
	   "sp_cat truncates to fit, as snprintf");
	ok(sp_cat(cat, sizeof(cat), (char *)NULL) == 0 && !cat[0], "sp_cat of nothing is empty");
	ok(sp_cat(small, 0, "x", (char *)NULL) == 0, "sp_cat into nothing writes nothing");
	long v;
	ok(sp_parse_int("5060", 1, 65535, &v) == 0 && v == 5060, "int parses");
	ok(sp_parse_int("70000", 1, 65535, &v) < 0, "int out of range refused");
	ok(sp_parse_int("12x", 0, 100, &v) < 0, "trailing junk refused");
	ok(sp_parse_int("", 0, 100, &v) < 0, "empty refused");
}

static void test_log_escape(void)
{
	char o[64];
	static const struct { const char *in, *want, *what; } cases[] = {
		{ "alice", "alice", "plain name unchanged" },
		{ "Ann O Co \xe2\x98\x8e", "Ann O Co \xe2\x98\x8e", "UTF-8 and spaces kept" },
		{ "a\x1b[31mb", "a\\x1b[31mb", "ESC escaped" },
		{ "a\r\nb\tc", "a\\x0d\\x0ab\\x09c", "CR, LF, tab escaped" },
		{ "x\x7f\"'\\", "x\\x7f\\x22\\x27\\x5c", "DEL, quotes, backslash escaped" },
		{ "\xc3(", "\\xc3(", "invalid UTF-8 byte escaped, next kept" },
		{ "\xc0\xaf", "\\xc0\\xaf", "overlong escaped" },
		{ "\xc2\x9b" "2J", "\\xc2\\x9b" "2J", "C1 CSI escaped" },
		{ "a\xe2\x80\xae" "b", "a\\xe2\\x80\\xaeb", "bidi override escaped" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_str(sp_log_escape(cases[i].in, o, sizeof(o)), cases[i].want, "%s", cases[i].what);
	}
	char small[6];
	sp_log_escape("ab\x1b", small, sizeof(small));
	ok(!strcmp(small, "ab"), "truncation drops a whole escape, never half");
	sp_log_escape(NULL, o, sizeof(o));
	ok(!strcmp(o, ""), "NULL is empty");
}

static void test_buf(void)
{
	struct buf b;
	buf_init(&b, 8);
	buf_adds(&b, "12345");
	buf_printf(&b, "%d", 678);
	ok(!b.overflow && b.len == 8 && !strcmp(b.data, "12345678"), "buf fills to its cap");
	buf_adds(&b, "9");
	ok(b.overflow && b.len == 8, "buf refuses past its cap and says so");
	buf_release(&b);
	buf_init(&b, 100000);
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "%s", big);
	is_int(b.len, sizeof(big) - 1, "buf_printf handles output larger than its stack buffer");
	buf_release(&b);
}

/* secret_hmac_hex's answer computed the long way: HMAC-SHA256 of data
 * under HMAC-SHA256(key, label). */
static void hmac_expected(const unsigned char *key, const char *label, const char *data, char out[65])
{
	unsigned char sub[32], mac[32];
	unsigned int n = sizeof(sub);
	HMAC(EVP_sha256(), key, SP_KEY_LEN, (const unsigned char *)label, strlen(label), sub, &n);
	HMAC(EVP_sha256(), sub, sizeof(sub), (const unsigned char *)data, strlen(data), mac, &n);
	sp_hex(mac, sizeof(mac), out);
}

static void *hmac_thread(void *arg)
{
	char *out = arg;
	unsigned char key[SP_KEY_LEN];
	memset(key, 7, sizeof(key));
	secret_hmac_hex(key, "thread", "x", 1, out);
	return NULL;
}

static void test_hmac(void)
{
	unsigned char k1[SP_KEY_LEN], k2[SP_KEY_LEN];
	char got[65], want[65];
	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	const char *labels[] = { "a", "b", "c", "d", "e", "a" };   /* more than the 4 kept per thread */
	int same = 0;
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
			for (int k = 0; k < 2; k++) {
				const unsigned char *key = k ? k2 : k1;
				secret_hmac_hex(key, labels[i], "payload", 7, got);
				hmac_expected(key, labels[i], "payload", want);
				same += !strcmp(got, want);
			}
	is_int(same, 24, "secret_hmac_hex = HMAC(HMAC(key, label), data), kept keys reused and replaced");
	secret_hmac_hex(k1, "a", "", 0, got);
	hmac_expected(k1, "a", "", want);
	is_str(got, want, "secret_hmac_hex of nothing");
	pthread_t th;
	ok(pthread_create(&th, NULL, hmac_thread, got) == 0 && pthread_join(th, NULL) == 0, "a thread's HMAC");
	memset(k1, 7, sizeof(k1));
	hmac_expected(k1, "thread", "x", want);
	is_str(got, want, "in another thread (its contexts freed at its exit)");
}

static void test_secret(const char *dir)
{
	char path[512], err[SP_ERR_MAX];
	unsigned char key[SP_KEY_LEN], other[SP_KEY_LEN];
	struct stat st;
	snprintf(path, sizeof(path), "%s/k", dir);
	ok(secret_keyfile_create(path, err, sizeof(err)) == 0, "key file created");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "key file is mode 0600");
	ok(secret_keyfile_create(path, err, sizeof(err)) < 0, "an existing key file is never replaced");
	ok(secret_key_load(path, key, err, sizeof(err)) == 0, "key loads");
	chmod(path, 0644);
	ok(secret_key_load(path, key, err, sizeof(err)) < 0 && strstr(err, "0600"), "a readable key file is refused: %s", err);
	chmod(path, 0600);
	const char *pw = "p<>&\"'w \xe2\x98\x8e";
	char *enc = secret_encrypt(key, pw);
	ok(enc && !strstr(enc, "p<>"), "ciphertext does not contain the password");
	char *enc2 = secret_encrypt(key, pw);
	ok(enc && enc2 && strcmp(enc, enc2), "a fresh nonce each time: equal passwords encrypt differently");
	char *dec = secret_decrypt(key, enc);
	is_str(dec, pw, "decrypt round trip");
	free(dec);
	memset(other, 7, sizeof(other));
	ok(secret_decrypt(other, enc) == NULL, "wrong key fails authentication");
	enc[10] = enc[10] == 'A' ? 'B' : 'A';
	ok(secret_decrypt(key, enc) == NULL, "tampered ciphertext fails authentication");
	ok(secret_decrypt(key, "!!!") == NULL && secret_decrypt(key, "") == NULL, "garbage fails");
	/* A thread keeps its decryption context keyed: a failure, another
	 * key and several in a row must each give what a fresh context does. */
	dec = secret_decrypt(key, enc2);
	is_str(dec, pw, "decrypt right after a failed one");
	free(dec);
	char *enc3 = secret_encrypt(other, "other's");
	dec = secret_decrypt(other, enc3);
	is_str(dec, "other's", "another key, then");
	free(dec);
	ok(secret_decrypt(key, enc3) == NULL, "... whose secret the first key does not open");
	int good = 0;
	for (int i = 0; i < 20; i++) {
		dec = secret_decrypt(i % 3 ? key : other, i % 3 ? enc2 : enc3);
		good += dec && !strcmp(dec, i % 3 ? pw : "other's");
		free(dec);
	}
	is_int(good, 20, "20 decrypts alternating keys");
	free(enc3);
	free(enc);
	free(enc2);
	char hex[65];
	sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 of abc");
	md5_hex("abc", 3, hex);
	is_str(hex, "900150983cd24fb0d6963f7d28e17f72", "md5 of abc");
	/* One digest context per thread, switched between the two. */
	int right = 0;
	for (int i = 0; i < 6; i++) {
		char h2[65];
		md5_hex("", 0, h2);
		right += !strcmp(h2, "d41d8cd98f00b204e9800998ecf8427e");
		sha256_hex("", 0, h2);
		right += !strcmp(h2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
		md5_hex("abc", 3, h2);
		right += !strcmp(h2, "900150983cd24fb0d6963f7d28e17f72");
	}
	is_int(right, 18, "md5 and sha256 alternating, empty and not: the known digests");
	char t1[33], t2[33];
	ok(random_hex(t1, 16) == 0 && random_hex(t2, 16) == 0 && strlen(t1) == 32 && strcmp(t1, t2),
	   "random tokens are 128-bit and differ");
}

static void test_conf(const char *dir)
{
	struct conf c;
	char path[512], err[SP_ERR_MAX];
	conf_init(&c);
	is_str(c.http_listen, "127.0.0.1:8080", "default http_listen");
	is_str(c.hep_listen, "127.0.0.1:9060", "default hep_listen");
	ok(!c.insecure_loopback, "insecure_loopback defaults to no");
	ok(c.conn_timeout > 0 && c.per_ip_conn_limit > 0, "connection timeout and per-IP limit are set by default");
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "# comment\n\ndatabase = /var/lib/x.db\ninsecure_loopback = yes\nthreads = 3\n");
	fclose(f);
	ok(conf_load(&c, path, err, sizeof(err)) == 0, "conf loads");
	is_str(c.database, "/var/lib/x.db", "database read");
	ok(c.insecure_loopback && c.threads == 3, "bool and number read");
	ok(conf_set(&c, "http_listen=[::1]:9999", err, sizeof(err)) == 0 && !strcmp(c.http_listen, "[::1]:9999"),
	   "-o overrides a key");
	f = fopen(path, "w");
	fprintf(f, "database = a\nthreads = lots\n");
	fclose(f);
	ok(conf_load(&c, path, err, sizeof(err)) < 0 && strstr(err, "c.conf:2:") && strstr(err, "threads"),
	   "bad value names file:line and key: %s", err);
	f = fopen(path, "w");
	fprintf(f, "databse = a\n");
	fclose(f);
	ok(conf_load(&c, path, err, sizeof(err)) < 0 && strstr(err, "unknown key 'databse'"), "unknown key named: %s", err);
	ok(conf_set(&c, "insecure_loopback=maybe", err, sizeof(err)) < 0, "bool must be yes/no");

	/* database_replica (issue 17): a PostgreSQL URL beside a PostgreSQL
	 * database, which libpq parses. */
	conf_init(&c);
	is_str(c.database_replica, "", "database_replica: none by default");
	ok(conf_finish(&c, err, sizeof(err)) == 0, "  none passes");
	conf_set(&c, "database_replica=postgresql://sp:s3cret@db2/sipprov", err, sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "'database_replica' needs a PostgreSQL 'database'"),
	   "  refused beside a SQLite file: %s", err);
	conf_set(&c, "database=postgresql://sp:s3cret@db1/sipprov", err, sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) == 0, "  a URL beside a PostgreSQL database passes");
	conf_set(&c, "database_replica=sipprov.db", err, sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "must be a postgresql:// or postgres:// URL"),
	   "  a file is refused: %s", err);
	conf_set(&c, "database_replica=postgresql://sp:s3cret@db2/sipprov?bogus=1", err, sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "not a valid PostgreSQL URL") && !strstr(err, "s3cret"),
	   "  a URL libpq does not parse is refused, without its password: %s", err);
	conf_set(&c, "database_replica=postgresql://sp:s3cret@db2:5432,db3/sipprov?target_session_attrs=standby", err,
		 sizeof(err));
	ok(conf_finish(&c, err, sizeof(err)) == 0, "  a multi-host URL passes");
	/* conf_dump (sipprovd -n -v) shows both URLs as logs do. */
	char *dump = NULL;
	size_t dlen = 0;
	FILE *df = open_memstream(&dump, &dlen);
	conf_dump(&c, df);
	fclose(df);
	ok(dump && !strstr(dump, "s3cret") && strstr(dump, "database = postgresql://sp@db1/sipprov\n") &&
	   strstr(dump, "database_replica = postgresql://sp@db2:5432,db3/sipprov?target_session_attrs=standby\n"),
	   "conf_dump shows PostgreSQL URLs without their password");
	free(dump);
}

/* SQLite's plan for sql (the detail of its first step) into out. */
static void query_plan(struct store *s, const char *sql, char *out, size_t outlen)
{
	char q[512];
	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	struct dbst *st = db_prepare(store_db(s), q, false);
	out[0] = '\0';
	if (st && db_step(st) == DB_ROW)
		store_col_text(st, 3, out, outlen);
	db_finalize(st);
}

static int64_t q1(struct store *s, const char *sql)
{
	struct dbst *st = db_prepare(store_db(s), sql, false);
	int64_t v = st && db_step(st) == DB_ROW ? db_col_int64(st, 0) : -1;
	db_finalize(st);
	return v;
}

static void fetch_rec_set(struct fetch_rec *r, struct fetch_last *l, int64_t device_id, const char *ua, int64_t at)
{
	memset(r, 0, sizeof(*r));
	r->device_id = device_id;
	r->at = at;
	r->status = 200;
	r->version = 1;
	sp_strlcpy(r->ip, "192.0.2.7", sizeof(r->ip));
	r->ua = ua;                     /* string literals: alive for the test */
	r->path = "/x.cfg";
	if (l) {
		memset(l, 0, sizeof(*l));
		l->device_id = device_id;
		l->at = at;
		l->version = 1;
		sp_strlcpy(l->ip, r->ip, sizeof(l->ip));
		l->ua = ua;
	}
}

/* The user agents of a device's newest fetches, newest first, joined by ' '. */
static void recent_uas(struct store *s, int64_t device_id, size_t max, char *out, size_t outlen)
{
	struct diag_fetch f[8];
	size_t n = 0;
	out[0] = '\0';
	if (store_fetch_recent(s, device_id, f, max < 8 ? max : 8, &n) < 0) {
		snprintf(out, outlen, "error");
		return;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? " " : "", f[i].user_agent);
}

/* A device's fetch history on SQLite is a chain (schema 027): each row names
 * the device's previous one, the device row its newest, and no index by
 * device is written per fetch.  Several fetches of one device in one batch,
 * interleaved with another's, a device deleted while its fetch waited, a
 * pruned tail. */
static void test_fetch_chain(struct store *s, int64_t tenant_id)
{
	struct device a, b, c;
	char err[SP_ERR_MAX], got[512], q[256];
	memset(&a, 0, sizeof(a));
	a.tenant_id = tenant_id;
	sp_strlcpy(a.layout, "yealink", sizeof(a.layout));
	b = c = a;
	sp_strlcpy(a.mac, "0015650c0a01", sizeof(a.mac));
	sp_strlcpy(b.mac, "0015650c0a02", sizeof(b.mac));
	sp_strlcpy(c.mac, "0015650c0a03", sizeof(c.mac));
	ok(store_device_add(s, &a, err, sizeof(err)) == 0 && store_device_add(s, &b, err, sizeof(err)) == 0 &&
	   store_device_add(s, &c, err, sizeof(err)) == 0, "chain: three devices (%s)", err);
	ok(store_device_delete(s, c.id) == 0, "chain: the third deleted, its fetch still queued");
	int64_t t0 = sp_now();
	struct fetch_rec r[6];
	struct fetch_last l[2];
	fetch_rec_set(&r[0], NULL, a.id, "a1", t0);
	fetch_rec_set(&r[1], NULL, b.id, "b1", t0);
	fetch_rec_set(&r[2], NULL, a.id, "a2", t0);
	fetch_rec_set(&r[3], NULL, c.id, "c1", t0);
	fetch_rec_set(&r[4], &l[0], a.id, "a3", t0 + 1);
	fetch_rec_set(&r[5], &l[1], b.id, "b2", t0 + 1);
	ok(store_fetch_batch(s, r, 6, l, 2) == 0, "chain: one batch, a device three times among others");
	recent_uas(s, a.id, 8, got, sizeof(got));
	is_str(got, "a3 a2 a1", "chain: the device's timeline, newest first, its rows only");
	recent_uas(s, b.id, 8, got, sizeof(got));
	is_str(got, "b2 b1", "chain: the other device's");
	fetch_rec_set(&r[0], &l[0], a.id, "a4", t0 + 2);
	fetch_rec_set(&r[1], NULL, b.id, "b3", t0 + 2);
	ok(store_fetch_batch(s, r, 2, l, 1) == 0, "chain: a second batch");
	recent_uas(s, a.id, 8, got, sizeof(got));
	is_str(got, "a4 a3 a2 a1", "chain: linked across batches");
	recent_uas(s, a.id, 2, got, sizeof(got));
	is_str(got, "a4 a3", "chain: at most as many as asked");
	struct diag_fetch f;
	ok(store_diag_last_fetch(s, a.id, &f) == 1 && !strcmp(f.user_agent, "a4"), "chain: diagnose reads the newest");
	struct device d;
	ok(store_device_get(s, a.mac, &d) == 1 && d.fetched_at == t0 + 2 && !strcmp(d.fetched_ua, "a4"),
	   "chain: the device keeps its last fetch");
	is_int(q1(s, "SELECT count(*) FROM fetch_log WHERE user_agent = 'c1' AND device_id IS NULL"), 1,
	       "chain: the deleted device's fetch is kept, naming no device");
	snprintf(q, sizeof(q), "SELECT fetched_log = (SELECT max(id) FROM fetch_log WHERE device_id = %lld) "
		 "FROM device_fetch WHERE device_id = %lld", (long long)a.id, (long long)a.id);
	is_int(q1(s, q), 1, "chain: device_fetch names its newest row");
	snprintf(q, sizeof(q), "SELECT count(*) FROM fetch_log f JOIN fetch_log p ON p.id = f.prev "
		 "WHERE f.device_id = %lld AND p.device_id = %lld", (long long)a.id, (long long)a.id);
	is_int(q1(s, q), 3, "chain: each of its rows but the first names the one before");
	/* Retention deletes the oldest rows: the chain ends there. */
	snprintf(q, sizeof(q), "DELETE FROM fetch_log WHERE user_agent IN ('a1', 'a2')");
	struct dbst *st = db_prepare(store_db(s), q, false);
	ok(st && db_step(st) == DB_DONE, "chain: the two oldest rows pruned");
	db_finalize(st);
	recent_uas(s, a.id, 8, got, sizeof(got));
	is_str(got, "a4 a3", "chain: the timeline ends at the pruned rows");
	/* What made each fetch cost a random page: gone from the history. */
	is_int(q1(s, "SELECT count(*) FROM pragma_index_list('fetch_log') il, pragma_index_info(il.name) ii "
		     "WHERE ii.name = 'device_id'"),
	       0, "chain: no index of fetch_log by device");
	is_int(q1(s, "SELECT count(*) FROM pragma_foreign_key_list('fetch_log')"), 0,
	       "chain: no foreign key from fetch_log (a device delete would scan the history)");
}

/* The last fetch lives in device_fetch (schema 028): every device has its
 * row from its insert; the address, User-Agent and digest go to the device
 * row only when their signature changes; a late record never moves the
 * last fetch back; a deleted device's row goes with it. */
static void test_device_fetch(struct store *s, int64_t tenant_id)
{
	struct device a, d;
	char err[SP_ERR_MAX], q[256];
	memset(&a, 0, sizeof(a));
	a.tenant_id = tenant_id;
	sp_strlcpy(a.layout, "yealink", sizeof(a.layout));
	sp_strlcpy(a.mac, "0015650c0b01", sizeof(a.mac));
	ok(store_device_add(s, &a, err, sizeof(err)) == 0, "last fetch: a device (%s)", err);
	snprintf(q, sizeof(q), "SELECT count(*) FROM device_fetch WHERE device_id = %lld AND fetched_at = 0 "
		 "AND fetched_sig = 0", (long long)a.id);
	is_int(q1(s, q), 1, "last fetch: the new device has its row, never fetched");
	int64_t t0 = sp_now();
	struct fetch_rec r;
	struct fetch_last l;
	fetch_rec_set(&r, &l, a.id, "ua-1", t0);
	l.version = 3;
	ok(store_fetch_batch(s, &r, 1, &l, 1) == 0, "last fetch: a 200");
	ok(store_device_get(s, a.mac, &d) == 1 && d.fetched_at == t0 && d.fetched_version == 3 &&
	   !strcmp(d.fetched_ua, "ua-1") && !strcmp(d.fetched_ip, "192.0.2.7"), "last fetch: read back with the device");
	/* Mark the device row: a fetch from the same client must not write it. */
	snprintf(q, sizeof(q), "UPDATE device SET fetched_ua = 'marked' WHERE id = %lld", (long long)a.id);
	struct dbst *st = db_prepare(store_db(s), q, false);
	ok(st && db_step(st) == DB_DONE, "last fetch: the device row marked");
	db_finalize(st);
	fetch_rec_set(&r, &l, a.id, "ua-1", t0 + 5);
	l.version = 4;
	ok(store_fetch_batch(s, &r, 1, &l, 1) == 0, "last fetch: the same client again");
	ok(store_device_get(s, a.mac, &d) == 1 && d.fetched_at == t0 + 5 && d.fetched_version == 4 &&
	   !strcmp(d.fetched_ua, "marked"), "last fetch: time and version move, the device row is not written");
	fetch_rec_set(&r, &l, a.id, "ua-2", t0 + 6);
	ok(store_fetch_batch(s, &r, 1, &l, 1) == 0, "last fetch: a new User-Agent");
	ok(store_device_get(s, a.mac, &d) == 1 && d.fetched_at == t0 + 6 && !strcmp(d.fetched_ua, "ua-2"),
	   "last fetch: a changed client is written to the device row");
	/* The writer goes by a signature its request computed (fetchq_push):
	 * the stored client's signature beside other text writes nothing. */
	struct fetch_last same = l;
	fetch_rec_set(&r, &l, a.id, "ua-3", t0 + 6);
	l.sig = store_fetch_sig(same.ip, same.ua, same.digest);
	ok(store_fetch_batch(s, &r, 1, &l, 1) == 0 && store_device_get(s, a.mac, &d) == 1 &&
	   !strcmp(d.fetched_ua, "ua-2"), "last fetch: a precomputed signature is what decides");
	l.sig = store_fetch_sig(l.ip, l.ua, l.digest);
	ok(store_fetch_batch(s, &r, 1, &l, 1) == 0 && store_device_get(s, a.mac, &d) == 1 &&
	   !strcmp(d.fetched_ua, "ua-3"), "last fetch: its own signature writes the new client");
	ok(l.sig != 0 && l.sig != same.sig, "last fetch: signatures differ with the User-Agent, never 0");
	struct fetch_last x = l, y = l;
	sp_strlcpy(x.ip, "192.0.2.1", sizeof(x.ip));
	x.ua = "0";
	sp_strlcpy(y.ip, "192.0.2.10", sizeof(y.ip));
	y.ua = "";
	ok(store_fetch_sig(x.ip, x.ua, x.digest) != store_fetch_sig(y.ip, y.ua, y.digest),
	   "last fetch: a signature keeps the fields apart");
	sp_strlcpy(x.digest, "0123456789abcdef0123456789abcdef", sizeof(x.digest));
	y = x;
	y.digest[31] = 'e';
	ok(store_fetch_sig(x.ip, x.ua, x.digest) != store_fetch_sig(y.ip, y.ua, y.digest), "last fetch: and sees the digest");
	fetch_rec_set(&r, &l, a.id, "ua-late", t0 + 1);
	ok(store_fetch_batch(s, &r, 1, &l, 1) == 0, "last fetch: a record older than the kept one");
	ok(store_device_get(s, a.mac, &d) == 1 && d.fetched_at == t0 + 6 && !strcmp(d.fetched_ua, "ua-3"),
	   "last fetch: never moved back in time");
	ok(store_device_delete(s, a.id) == 0, "last fetch: the device deleted");
	snprintf(q, sizeof(q), "SELECT count(*) FROM device_fetch WHERE device_id = %lld", (long long)a.id);
	is_int(q1(s, q), 0, "last fetch: its row went with it");
	fetch_rec_set(&r, &l, a.id, "ua-gone", t0 + 7);
	ok(store_fetch_batch(s, &r, 1, &l, 1) == 0, "last fetch: a queued fetch of the deleted device is written");
	is_int(q1(s, q), 0, "last fetch: and makes no row");
}

/* A heavy batch (at least 512 records: the writer under load) of two
 * devices, alternating, each record a 200 at t. */
#define HEAVY 600
static struct fetch_rec heavy_r[HEAVY];
static struct fetch_last heavy_l[2];

static void heavy_batch(int64_t x, int64_t y, const char *ua, int64_t t)
{
	for (int i = 0; i < HEAVY; i++)
		fetch_rec_set(&heavy_r[i], NULL, i % 2 ? y : x, ua, t);
	fetch_rec_set(&heavy_r[0], &heavy_l[0], x, ua, t);
	fetch_rec_set(&heavy_r[1], &heavy_l[1], y, ua, t);
}

static int64_t fetched_at_of(struct store *s, int64_t id)
{
	char q[128];
	snprintf(q, sizeof(q), "SELECT fetched_at FROM device_fetch WHERE device_id = %lld", (long long)id);
	return q1(s, q);
}

static int64_t head_is_newest(struct store *s, int64_t id)
{
	char q[256];
	snprintf(q, sizeof(q), "SELECT fetched_log = (SELECT max(id) FROM fetch_log WHERE device_id = %lld) "
		 "FROM device_fetch WHERE device_id = %lld", (long long)id, (long long)id);
	return q1(s, q);
}

/* Under load the writer keeps device_fetch's changes in memory and writes
 * them at once later (store_fetch.c): the chain stays linked across
 * batches through what it keeps; store_fetch_flush writes it; a writer
 * that dies with it kept (a crash: a child that exits without a word) is
 * recovered by the next one from the history. */
static void test_fetch_kept(const char *path, int64_t tenant_id)
{
	char err[SP_ERR_MAX], got[512];
	struct store *s = store_open(path, err, sizeof(err));
	struct device x, y;
	memset(&x, 0, sizeof(x));
	x.tenant_id = tenant_id;
	sp_strlcpy(x.layout, "yealink", sizeof(x.layout));
	y = x;
	sp_strlcpy(x.mac, "0015650c0c01", sizeof(x.mac));
	sp_strlcpy(y.mac, "0015650c0c02", sizeof(y.mac));
	ok(s && store_device_add(s, &x, err, sizeof(err)) == 0 && store_device_add(s, &y, err, sizeof(err)) == 0,
	   "kept: two devices (%s)", err);
	store_fetch_interval(s, 3600 * 1000);
	int64_t t0 = sp_now();
	heavy_batch(x.id, y.id, "h1", t0);
	ok(store_fetch_batch(s, heavy_r, HEAVY, heavy_l, 2) == 0, "kept: a heavy batch");
	is_int(fetched_at_of(s, x.id), 0, "kept: its last fetch is held, not written");
	int64_t pat = 0;
	long pver = 0;
	int prc = store_fetch_pending(s, x.id, &pat, &pver);
	ok(prc == 1 && pat == t0 && pver == 1, "kept: store_fetch_pending tells it (at t0%+lld, version %ld)",
	   (long long)(pat - t0), pver);
	ok(store_fetch_pending(s, x.id + y.id + 1000, &pat, &pver) == 0, "kept: and nothing of a device not kept");
	is_int(q1(s, "SELECT count(*) FROM fetch_log WHERE user_agent = 'h1'"), HEAVY, "kept: its history is written");
	heavy_batch(x.id, y.id, "h2", t0 + 1);
	ok(store_fetch_batch(s, heavy_r, HEAVY, heavy_l, 2) == 0, "kept: a second heavy batch");
	recent_uas(s, x.id, 2, got, sizeof(got));
	is_str(got, "", "kept: the file's chain head is not there yet");
	ok(store_fetch_pending(s, x.id, &pat, &pver) == 1 && pat == t0 + 1, "kept: store_fetch_pending: the newer one");
	ok(store_fetch_flush(s) == 0, "kept: store_fetch_flush");
	is_int(fetched_at_of(s, x.id), t0 + 1, "kept: the newest last fetch written");
	ok(store_fetch_pending(s, x.id, &pat, &pver) == 0, "kept: written, store_fetch_pending has none");
	is_int(head_is_newest(s, x.id), 1, "kept: the chain head written");
	char q[256];
	snprintf(q, sizeof(q), "SELECT count(*) FROM fetch_log f JOIN fetch_log p ON p.id = f.prev "
		 "WHERE f.device_id = %lld AND p.device_id = %lld AND f.user_agent IN ('h1', 'h2')",
		 (long long)x.id, (long long)x.id);
	/* (x may have a deleted device's id, and its rows: SQLite reuses the highest.) */
	is_int(q1(s, q), HEAVY - 1, "kept: every row but the first names the one before, across both batches");

	/* A writer that dies holding a batch. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct store *c = store_open(path, err, sizeof(err));
		store_fetch_interval(c, 3600 * 1000);
		heavy_batch(x.id, y.id, "h3", t0 + 2);
		_exit(c && store_fetch_batch(c, heavy_r, HEAVY, heavy_l, 2) == 0 && fetched_at_of(c, x.id) == t0 + 1 ? 0 : 1);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "kept: a writer wrote a heavy batch and died holding it");
	is_int(head_is_newest(s, x.id), 0, "kept: its chain head is not in the file");
	store_close(s);
	s = store_open(path, err, sizeof(err));
	ok(store_fetch_flush(s) == 0, "kept: the next writer starts (store_fetch_flush)");
	is_int(head_is_newest(s, x.id), 1, "kept: the dead writer's heads recovered");
	is_int(fetched_at_of(s, x.id), t0 + 2, "kept: and its last fetches");
	struct fetch_rec r;
	struct fetch_last l;
	fetch_rec_set(&r, &l, y.id, "h4", t0 + 3);
	ok(store_fetch_batch(s, &r, 1, &l, 1) == 0, "kept: its first batch");
	recent_uas(s, y.id, 3, got, sizeof(got));
	is_str(got, "h4 h3 h3", "kept: the chain continues through the recovered rows");
	/* Its time up, what is kept is taken and written in the same batch
	 * (in chunks of 8,192 devices: here one). */
	store_fetch_interval(s, 0);
	heavy_batch(x.id, y.id, "h5", t0 + 4);
	ok(store_fetch_batch(s, heavy_r, HEAVY, heavy_l, 2) == 0, "kept: a heavy batch after its time");
	is_int(fetched_at_of(s, x.id), t0 + 4, "kept: written in that batch");
	ok(store_fetch_pending(s, y.id, &pat, &pver) == 0, "kept: the chunk committed, store_fetch_pending has none");
	is_int(head_is_newest(s, y.id), 1, "kept: heads too");
	is_int(q1(s, "SELECT log = (SELECT max(id) FROM fetch_log) FROM fetch_written"), 1,
	       "kept: fetch_written names the newest row");
	store_close(s);
}

static void test_store(const char *dir)
{
	char err[SP_ERR_MAX], path[512];
	unsigned char key[SP_KEY_LEN];
	memset(key, 0x42, sizeof(key));
	snprintf(path, sizeof(path), "%s/s.db", dir);
	struct store *s = store_open(path, err, sizeof(err));
	ok(s != NULL, "store opens a new file: %s", s ? "" : err);
	if (!s)
		return;
	store_close(s);
	s = store_open(path, err, sizeof(err));
	ok(s != NULL, "re-open migrates nothing twice");
	ok(store_use_key(s, key, err, sizeof(err)) == 0, "the key is taken (first keyed open): %s", err);

	struct tenant t;
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.slug, "acme", sizeof(t.slug));
	sp_strlcpy(t.defaults, "{\"ntp_server\":\"ntp.acme.test\",\"port\":\"5070\"}", sizeof(t.defaults));
	ok(store_tenant_add(s, &t, err, sizeof(err)) == 0, "tenant added");
	ok(store_tenant_add(s, &t, err, sizeof(err)) < 0 && strstr(err, "already exists"), "duplicate slug refused: %s", err);
	ok(store_tenant_get(s, "acme", &t) == 1 && t.id > 0, "tenant read back");
	is_str(t.device_auth, "digest", "device auth defaults to digest");
	long g0 = store_config_gen(s);

	struct tversion v;
	ok(store_tversion_add(s, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"a.test\",\"transport\":\"udp\"}",
			      "me", "first", &v, err, sizeof(err)) == 0 && v.number == 1, "version 1");
	ok(store_tversion_add(s, t.id, "main", "{\"port\":\"5061\",\"registrar\":\"b.test\",\"transport\":\"tls\"}",
			      "me", "second", &v, err, sizeof(err)) == 0 && v.number == 2, "version 2");
	ok(store_config_gen(s) > g0, "a template change bumps the config generation");
	char sha[65];
	sha256_hex(v.settings, strlen(v.settings), sha);
	is_str(v.sha256, sha, "version carries the SHA-256 of its canonical JSON");
	ok(store_tversion_get(s, t.id, "main", 0, &v) == 1 && v.number == 2, "current is the newest");
	ok(store_tversion_get(s, t.id, "main", 1, &v) == 1 && strstr(v.settings, "a.test"), "old version kept");


	struct device d;
	memset(&d, 0, sizeof(d));
	sp_strlcpy(d.mac, "0015654aa937", sizeof(d.mac));
	d.tenant_id = t.id;
	sp_strlcpy(d.layout, "yealink", sizeof(d.layout));
	sp_strlcpy(d.template_name, "main", sizeof(d.template_name));
	sp_strlcpy(d.overrides, "{\"port\":\"5080\"}", sizeof(d.overrides));
	ok(store_device_add(s, &d, err, sizeof(err)) == 0 && d.id > 0, "device added");
	ok(store_device_add(s, &d, err, sizeof(err)) < 0 && strstr(err, "already exists"), "duplicate MAC refused");
	struct account a;
	memset(&a, 0, sizeof(a));
	a.device_id = d.id;
	a.line = 1;
	sp_strlcpy(a.username, "1001", sizeof(a.username));
	sp_strlcpy(a.auth_username, "k8f2m1x9", sizeof(a.auth_username));
	char *enc = secret_encrypt(key, "secretpw");
	sp_strlcpy(a.password_enc, enc, sizeof(a.password_enc));
	free(enc);
	sp_strlcpy(a.token, "00112233445566778899aabbccddeeff", sizeof(a.token));
	ok(store_account_add(s, &a, err, sizeof(err)) == 0, "account added");

	struct effective e;
	ok(effective_load(s, key, "0015654aa937", &e, err, sizeof(err)) == 1, "effective config loads");
	is_str(effective_get(&e, "registrar"), "b.test", "template value");
	is_str(effective_get(&e, "ntp_server"), "ntp.acme.test", "tenant default fills a gap");
	is_str(effective_get(&e, "port"), "5080", "device override wins over tenant default and template");
	is_str(e.version_label, "acme-main@v2", "version label");
	is_int(e.naccounts, 1, "one account");
	is_str(e.accounts[0].password, "secretpw", "password decrypted for rendering");
	effective_release(&e);

	d.pinned_version = 1;
	ok(store_device_update(s, &d, err, sizeof(err)) == 0, "pin to v1");
	ok(effective_load(s, NULL, "0015654aa937", &e, err, sizeof(err)) == 1, "effective config without key");
	is_str(effective_get(&e, "registrar"), "a.test", "pinned version served");
	ok(e.version == 1 && e.current_version == 2, "pinned v1 while current is v2");
	is_str(e.accounts[0].password, "", "no key: password not decrypted");
	effective_release(&e);

	/* effective_load zeroes only what it does not overwrite: loaded over
	 * garbage, and through the render memo (rows copied to their text's
	 * end) twice, e holds what a zeroed one does; also for a device with
	 * no template (no version written) and without public URLs set. */
	struct device d2 = d;
	sp_strlcpy(d2.mac, "0015654aa938", sizeof(d2.mac));
	d2.template_name[0] = '\0';
	d2.pinned_version = 0;
	ok(store_device_add(s, &d2, err, sizeof(err)) == 0, "a device without a template");
	struct effective *z = xmalloc(sizeof(*z)), *g = xmalloc(sizeof(*g));
	int same = 0;
	for (int round = 0; round < 6; round++) {
		const char *mac = round % 2 ? "0015654aa938" : "0015654aa937";
		memset(z, 0, sizeof(*z));
		memset(g, 0xa5, sizeof(*g));
		int rz = effective_load(s, key, mac, z, err, sizeof(err));
		if (round >= 2)
			store_memo_begin(s, store_config_gen(s));
		int rc = effective_load(s, key, mac, g, err, sizeof(err));
		if (round >= 2)
			store_memo_end(s);
		same += rz == 1 && rc == 1 && g->tenant.id == z->tenant.id &&
			!strcmp(g->tenant.defaults, z->tenant.defaults) && !strcmp(g->tenant.slug, z->tenant.slug) &&
			!strcmp(g->device.overrides, z->device.overrides) && !strcmp(g->template_name, z->template_name) &&
			g->version == z->version && g->current_version == z->current_version &&
			!strcmp(g->version_label, z->version_label) && json_equal(g->settings, z->settings) &&
			g->naccounts == z->naccounts &&
			(!z->naccounts || (!strcmp(g->accounts[0].password, z->accounts[0].password) &&
					   !strcmp(g->accounts[0].username, z->accounts[0].username))) &&
			!strcmp(g->admin_password, z->admin_password) && !strcmp(g->user_password, z->user_password) &&
			g->admin_password_set == z->admin_password_set && g->user_password_set == z->user_password_set &&
			!strcmp(g->fw_path, z->fw_path) && !strcmp(g->url.base, z->url.base) &&
			!strcmp(g->url.phonebook, z->url.phonebook) && !strcmp(g->url.firmware, z->url.firmware) &&
			!strcmp(g->url.phonebook_dir, z->url.phonebook_dir) &&
			!strcmp(g->url.firmware_dir, z->url.firmware_dir);
		effective_release(g);
		effective_release(z);
	}
	is_int(same, 6, "loaded over garbage, directly and through the memo, with and without a template: "
		"the same as over zeros");
	free(z);
	free(g);
	ok(effective_load(s, key, "001565ffffff", &e, err, sizeof(err)) == 0, "unknown device: 0");

	long g1 = store_config_gen(s);
	ok(store_fetch_record(s, d.id, "127.0.0.1", "Yealink", "/0015654aa937.cfg", 200, 1, "abc") == 0,
	   "fetch recorded");
	is_int(store_config_gen(s), g1, "fetch bookkeeping does not invalidate the render cache");
	ok(store_device_get(s, "0015654aa937", &d) == 1 && d.fetched_version == 1 && !strcmp(d.fetched_ip, "127.0.0.1"),
	   "device keeps its last fetch");

	/* Retention: rows older than the cut-off go, newer ones and the
	 * device's last-fetch columns stay. */
	long n = -1;
	ok(store_prune(s, sp_now() + 10, 1, &n) == 0 && n >= 1, "prune removes fetch rows older than the cut-off (%ld)", n);
	ok(store_prune(s, sp_now() + 10, 1, &n) == 0 && n == 0, "nothing left to prune");
	ok(store_device_get(s, "0015654aa937", &d) == 1 && d.fetched_version == 1, "the device row keeps its last fetch");
	ok(store_fetch_record(s, d.id, "127.0.0.1", "Yealink", "/x.cfg", 200, 1, "abc") == 0, "a fresh fetch");
	ok(store_prune(s, sp_now() - 3600, 1000, &n) == 0 && n == 0, "rows newer than the cut-off are kept");
	/* The hourly prune finds old rows by time, not by a scan of the whole
	 * history (schema 023). */
	char plan[512];
	query_plan(s, "SELECT id FROM fetch_log WHERE at < 5 LIMIT 5", plan, sizeof(plan));
	ok(strstr(plan, "INDEX fetch_log_at") != NULL, "prune: fetch_log by time (%s)", plan);
	query_plan(s, "SELECT id FROM registration WHERE at < 5 LIMIT 5", plan, sizeof(plan));
	ok(strstr(plan, "INDEX registration_at") != NULL, "prune: registration by time (%s)", plan);

	test_fetch_chain(s, d.tenant_id);
	test_device_fetch(s, d.tenant_id);
	test_fetch_kept(path, d.tenant_id);

	/* The render memo answers tenant and version reads from rows read at
	 * the same generation, and never across a generation. */
	struct tenant tm;
	long gm = store_config_gen(s);
	store_memo_begin(s, gm);
	ok(store_tenant_get_id(s, t.id, &tm) == 1 && !strcmp(tm.name, ""), "memo: tenant read");
	ok(store_tversion_get(s, t.id, "main", 0, &v) == 1 && v.number == 2, "memo: current version read");
	/* A write (its trigger bumps the generation) behind the memo's back:
	 * the memo, still at gm, answers what it read at gm... */
	char e2[SP_ERR_MAX];
	ok(store_test_exec(s, "UPDATE tenant SET name = 'Acme Corp'", e2, sizeof(e2)) == 0, "tenant renamed");
	ok(store_tenant_get_id(s, t.id, &tm) == 1 && !strcmp(tm.name, ""), "memo: same generation, same row");
	ok(store_tversion_add(s, t.id, "main", "{\"port\":\"5062\",\"registrar\":\"c.test\",\"transport\":\"tcp\"}",
			      "me", "third", &v, err, sizeof(err)) == 0 && v.number == 3, "version 3");
	ok(store_tversion_get(s, t.id, "main", 0, &v) == 1 && v.number == 2, "memo: current version as of gm");
	store_memo_end(s);
	/* ... outside it, and at the new generation, the store is read. */
	ok(store_tenant_get_id(s, t.id, &tm) == 1 && !strcmp(tm.name, "Acme Corp"), "memo off: the new name");
	long gn = store_config_gen(s);
	ok(gn > gm, "the writes bumped the generation");
	store_memo_begin(s, gn);
	ok(store_tenant_get_id(s, t.id, &tm) == 1 && !strcmp(tm.name, "Acme Corp"), "memo, new generation: new row");
	ok(store_tversion_get(s, t.id, "main", 0, &v) == 1 && v.number == 3, "memo, new generation: version 3");
	store_memo_end(s);
	ok(store_tversion_get(s, t.id, "main", 2, &v) == 1 && strstr(v.settings, "b.test"), "version 2 kept");
	store_close(s);
}

int main(void)
{
	char dir[] = "/tmp/sipprov-core.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	test_mac();
	test_cpus_usable();
	test_clock_after();
	test_ipv4_str();
	test_text();
	test_log_escape();
	test_buf();
	test_hmac();
	test_secret(dir);
	test_conf(dir);
	test_store(dir);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
