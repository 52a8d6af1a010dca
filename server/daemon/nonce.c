/*
 * nonce.c: the HTTP digest nonces of the device listeners.  A nonce is a
 * timestamp and random bytes under an HMAC keyed from the database key, so
 * it needs no table: none is ever dropped in a boot storm, a restart or
 * another node sharing the database accepts it within its lifetime.  A
 * bounded filter of the (nonce, nc) pairs already accepted refuses a
 * replayed request on this node; when two nonces share a slot the older is
 * forgotten (a replay may then pass, a phone is never refused for it).
 * It neither builds headers nor computes digest responses (auth.c does).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "nonce.h"

#define STAMP 4                         /* seconds, big-endian */
#define RND 8                           /* unique enough: 2^64 per second */
#define TAG 8                           /* HMAC-SHA256, truncated: 2^64 guesses, each a counted failure */
#define RAW (STAMP + RND + TAG)
#define SLOTS 65536                     /* accepted nonces remembered for replays */
#define SKEW 5                          /* seconds a nonce may come from the future (clock steps) */

struct seen {
	unsigned char id[STAMP + RND];
	uint32_t nc;
};

static unsigned char secret[32];
/* HMAC-SHA256 keyed with secret, set up once: each tag copies it.  The
 * one-shot HMAC() fetches the digest and sets up the key every call, 20k
 * instructions per nonce made or checked (callgrind, boot storm). */
static EVP_MAC_CTX *keyed;
static atomic_uint keyed_gen;           /* bumped by nonce_init and nonce_release */
/* Each thread's copy of keyed, re-initialised per tag (EVP_MAC_init
 * without a key keeps the one it has): copying keyed per tag
 * (EVP_MAC_CTX_dup and _free) was 8k of a tag's 10k instructions, and a
 * storm phone makes two tags (its challenge, its answer).  Freed when the
 * thread exits, through a pthread key. */
static __thread EVP_MAC_CTX *mine;
static __thread unsigned mine_gen;
static pthread_key_t mine_key;
static pthread_once_t mine_once = PTHREAD_ONCE_INIT;
/* Each thread's random bytes for nonces, drawn 32 nonces at a time:
 * RAND_bytes costs about 6.8k instructions a call whatever the length (its
 * locks and reseed checks), and every 401 challenge makes a nonce.  Bytes
 * are wiped as they are used. */
static __thread unsigned char pool[RND * 32];
static __thread size_t pool_left;
static struct seen *seen;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

void nonce_init(const unsigned char *key, size_t keylen)
{
	static const char label[] = "sipprov digest nonce v1";
	unsigned int n = sizeof(secret);
	if (key)
		HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)label, sizeof(label) - 1, secret, &n);
	else if (RAND_bytes(secret, sizeof(secret)) != 1)
		fatalx("random number generator failed (digest nonce key)");
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0), OSSL_PARAM_construct_end() };
	EVP_MAC_CTX_free(keyed);
	keyed = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	if (!keyed || !EVP_MAC_init(keyed, secret, sizeof(secret), params))
		fatalx("HMAC-SHA256 unavailable (digest nonce key)");
	atomic_fetch_add(&keyed_gen, 1);
	pthread_mutex_lock(&seen_mu);
	if (!seen)
		seen = xcalloc(SLOTS, sizeof(*seen));
	memset(seen, 0, SLOTS * sizeof(*seen));
	pthread_mutex_unlock(&seen_mu);
}

void nonce_release(void)
{
	pthread_mutex_lock(&seen_mu);
	free(seen);
	seen = NULL;
	pthread_mutex_unlock(&seen_mu);
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_MAC_CTX_free(keyed);
	keyed = NULL;
	atomic_fetch_add(&keyed_gen, 1);
}

static void mine_free(void *c)
{
	EVP_MAC_CTX_free(c);
}

static void mine_key_make(void)
{
	pthread_key_create(&mine_key, mine_free);
}

/* This thread's copy of keyed, made again after nonce_init re-keyed. */
static EVP_MAC_CTX *mine_get(void)
{
	unsigned gen = atomic_load(&keyed_gen);
	if (mine && mine_gen == gen)
		return mine;
	pthread_once(&mine_once, mine_key_make);
	EVP_MAC_CTX_free(mine);
	mine = EVP_MAC_CTX_dup(keyed);
	mine_gen = gen;
	pthread_setspecific(mine_key, mine);
	return mine;
}

static void tag(const unsigned char *id, unsigned char out[TAG])
{
	unsigned char mac[32];
	size_t n = 0;
	EVP_MAC_CTX *c = mine_get();
	if (!c || !EVP_MAC_init(c, NULL, 0, NULL) || !EVP_MAC_update(c, id, STAMP + RND) ||
	    !EVP_MAC_final(c, mac, &n, sizeof(mac)) || n < TAG)
		fatalx("HMAC-SHA256 failed (digest nonce)");
	memcpy(out, mac, TAG);
}

void nonce_make(char out[NONCE_LEN + 1])
{
	unsigned char raw[RAW];
	uint32_t t = (uint32_t)time(NULL);
	raw[0] = (unsigned char)(t >> 24), raw[1] = (unsigned char)(t >> 16);
	raw[2] = (unsigned char)(t >> 8), raw[3] = (unsigned char)t;
	if (pool_left < RND) {
		if (RAND_bytes(pool, sizeof(pool)) != 1)
			fatalx("random number generator failed (digest nonce)");
		pool_left = sizeof(pool);
	}
	unsigned char *r = pool + sizeof(pool) - pool_left;
	memcpy(raw + STAMP, r, RND);
	OPENSSL_cleanse(r, RND);
	pool_left -= RND;
	tag(raw, raw + STAMP + RND);
	sp_hex(raw, RAW, out);
}

static size_t slot_of(const unsigned char *id)
{
	/* Random bytes we chose (the tag is checked first): no crowding. */
	return (size_t)id[STAMP] << 8 | id[STAMP + 1];
}

enum nonce_verdict nonce_check(const char *nonce, uint32_t nc, long max_age)
{
	unsigned char raw[RAW], want[TAG];
	if (strlen(nonce) != NONCE_LEN || sp_hex_decode(nonce, NONCE_LEN, raw, RAW) != 0)
		return NONCE_FOREIGN;
	tag(raw, want);
	if (CRYPTO_memcmp(want, raw + STAMP + RND, TAG) != 0)
		return NONCE_FOREIGN;
	uint32_t t = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
	int64_t age = (int64_t)(uint32_t)time(NULL) - t;
	if (age > max_age || age < -SKEW)
		return NONCE_EXPIRED;
	enum nonce_verdict v = NONCE_OK;
	pthread_mutex_lock(&seen_mu);
	if (seen) {
		const struct seen *s = &seen[slot_of(raw) % SLOTS];
		if (memcmp(s->id, raw, sizeof(s->id)) == 0 && nc <= s->nc)
			v = NONCE_REPLAY;
	}
	pthread_mutex_unlock(&seen_mu);
	return v;
}

void nonce_accepted(const char *nonce, uint32_t nc)
{
	unsigned char raw[RAW];
	if (sp_hex_decode(nonce, NONCE_LEN, raw, RAW) != 0)
		return;
	pthread_mutex_lock(&seen_mu);
	if (seen) {
		struct seen *s = &seen[slot_of(raw) % SLOTS];
		if (memcmp(s->id, raw, sizeof(s->id)) != 0) {
			memcpy(s->id, raw, sizeof(s->id));
			s->nc = nc;
		} else if (nc > s->nc) {
			s->nc = nc;
		}
	}
	pthread_mutex_unlock(&seen_mu);
}
