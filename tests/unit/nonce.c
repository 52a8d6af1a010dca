/*
 * tests/unit/nonce.c: the stateless digest nonces: ours are accepted, a
 * changed byte, another key or a foreign string are not, age is enforced,
 * the same key (a restart, another node) accepts them, and the replay
 * filter refuses an nc already used while a higher one passes.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"
#include "daemon/daemon.h"
#include "core/sipprov.h"

/* The tag, computed here the long way: HMAC-SHA256 of stamp and random
 * bytes under HMAC-SHA256(key, label), its first 8 bytes.  Nodes of one
 * database accept each other's nonces only while all compute it alike. */
static int tag_is_hmac(const char *nonce, const unsigned char *key, size_t keylen)
{
	static const char label[] = "sipprov digest nonce v1";
	unsigned char raw[20], secret[32], mac[32];
	unsigned int n = sizeof(secret), m = sizeof(mac);
	if (sp_hex_decode(nonce, NONCE_LEN, raw, sizeof(raw)) != 0)
		return 0;
	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)label, sizeof(label) - 1, secret, &n);
	HMAC(EVP_sha256(), secret, sizeof(secret), raw, 12, mac, &m);
	return memcmp(mac, raw + 12, 8) == 0;
}

struct thr {
	char made[NONCE_LEN + 1];
	enum nonce_verdict before, after;
	pthread_barrier_t *rekeyed, *checked;
};

/* Makes and checks in a thread of its own, before and after main re-keys. */
static void *thr_main(void *arg)
{
	struct thr *t = arg;
	nonce_make(t->made);
	t->before = nonce_check(t->made, 1, 300);
	pthread_barrier_wait(t->checked);
	pthread_barrier_wait(t->rekeyed);
	t->after = nonce_check(t->made, 1, 300);
	return NULL;
}

int main(void)
{
	unsigned char key[SP_KEY_LEN], other[SP_KEY_LEN];
	char n[NONCE_LEN + 1], m[NONCE_LEN + 1], bad[NONCE_LEN + 1];
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));

	nonce_init(key, sizeof(key));
	nonce_make(n);
	nonce_make(m);
	is_int((int)strlen(n), NONCE_LEN, "a nonce is %d hex characters", NONCE_LEN);
	ok(strspn(n, "0123456789abcdef") == NONCE_LEN, "lowercase hex only");
	is_str(n + NONCE_LEN, "", "NUL-terminated");
	ok(strcmp(n, m) != 0, "two nonces differ");
	is_int(nonce_check(n, 1, 300), NONCE_OK, "our nonce is accepted");
	for (size_t i = 0; i < NONCE_LEN; i += 7) {
		memcpy(bad, n, sizeof(bad));
		bad[i] = bad[i] == '0' ? '1' : '0';
		is_int(nonce_check(bad, 1, 300), NONCE_FOREIGN, "a nonce with character %zu changed is not ours", i);
	}
	is_int(nonce_check("", 1, 300), NONCE_FOREIGN, "empty: not ours");
	is_int(nonce_check("f649bb889ea491edd0008f3b8899b4d400000001", 1, 300), NONCE_FOREIGN,
	       "a libmicrohttpd nonce of the same length: not ours");
	is_int(nonce_check("zz49bb889ea491edd0008f3b8899b4d400000001", 1, 300), NONCE_FOREIGN, "not hex: not ours");
	is_int(nonce_check(n, 1, -1), NONCE_EXPIRED, "older than max_age: expired");

	nonce_accepted(n, 1);
	is_int(nonce_check(n, 1, 300), NONCE_REPLAY, "nc 1 again after it was accepted: a replay");
	is_int(nonce_check(n, 2, 300), NONCE_OK, "nc 2 on the same nonce: accepted");
	nonce_accepted(n, 2);
	is_int(nonce_check(n, 2, 300), NONCE_REPLAY, "nc 2 again: a replay");
	is_int(nonce_check(n, 1, 300), NONCE_REPLAY, "a lower nc: a replay");
	is_int(nonce_check(m, 1, 300), NONCE_OK, "another nonce is not affected");

	nonce_init(key, sizeof(key));
	is_int(nonce_check(m, 1, 300), NONCE_OK, "same key (a restart, another node): still accepted");
	nonce_init(other, sizeof(other));
	is_int(nonce_check(m, 1, 300), NONCE_FOREIGN, "another database key: not ours");
	nonce_init(NULL, 0);
	is_int(nonce_check(m, 1, 300), NONCE_FOREIGN, "a random key: not ours");

	nonce_init(key, sizeof(key));
	nonce_make(m);
	ok(tag_is_hmac(m, key, sizeof(key)), "the tag is HMAC-SHA256 under HMAC-SHA256(key, label), 8 bytes");
	nonce_make(m);
	ok(tag_is_hmac(m, key, sizeof(key)), "... for the next nonce too (the thread's context re-initialised)");
	nonce_init(other, sizeof(other));
	nonce_make(m);
	ok(tag_is_hmac(m, other, sizeof(other)), "... and under the new key after nonce_init");

	/* Threads keep their own keyed context: a re-key must reach it. */
	nonce_init(key, sizeof(key));
	pthread_barrier_t b1, b2;
	pthread_barrier_init(&b1, NULL, 2);
	pthread_barrier_init(&b2, NULL, 2);
	struct thr t = { .rekeyed = &b1, .checked = &b2 };
	pthread_t th;
	pthread_create(&th, NULL, thr_main, &t);
	pthread_barrier_wait(&b2);
	is_int(nonce_check(t.made, 1, 300), NONCE_OK, "a nonce another thread made is accepted here");
	nonce_init(other, sizeof(other));
	pthread_barrier_wait(&b1);
	pthread_join(th, NULL);
	is_int(t.before, NONCE_OK, "that thread accepts its own nonce");
	is_int(t.after, NONCE_FOREIGN, "after another key, that thread no longer does");
	ok(tag_is_hmac(t.made, key, sizeof(key)), "the thread's tag is the same HMAC");
	pthread_barrier_destroy(&b1);
	pthread_barrier_destroy(&b2);

	/* Many accepted nonces: the filter forgets old ones, never refuses a new one. */
	nonce_init(key, sizeof(key));
	int refused = 0;
	for (int i = 0; i < 200000; i++) {
		nonce_make(m);
		if (nonce_check(m, 1, 300) != NONCE_OK)
			refused++;
		nonce_accepted(m, 1);
	}
	is_int(refused, 0, "200,000 fresh nonces in a row: none refused");
	nonce_release();
	return tap_done();
}
