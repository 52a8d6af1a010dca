/*
 * secret.c: everything cryptographic, through OpenSSL 3 EVP: SIP passwords
 * encrypted at rest with AES-256-GCM (random 96-bit nonce per value), the
 * key file (strict hex), keyed hashes (HMAC-SHA256 with a subkey per
 * purpose), digests and random tokens.  It never logs or prints a secret.
 * Ownership: EVP contexts are freed on every path; plaintext buffers we
 * allocate are wiped before free by the caller (secret_wipe).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "sipprov.h"

#define GCM_NONCE SECRET_NONCE
#define GCM_TAG   SECRET_TAG

int secret_keyfile_create(const char *path, char *err, size_t errlen)
{
	unsigned char key[SP_KEY_LEN];
	char hex[SP_KEY_LEN * 2 + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return sp_err(err, errlen, "cannot create key file '%s': %s", path, strerror(errno));
	if (RAND_bytes(key, sizeof(key)) != 1) {
		close(fd);
		unlink(path);
		return sp_err(err, errlen, "random number generator failed");
	}
	sp_hex(key, sizeof(key), hex);
	size_t n = strlen(hex);
	hex[n++] = '\n';
	int ok = write(fd, hex, n) == (ssize_t)n && fsync(fd) == 0;
	close(fd);
	secret_wipe(key, sizeof(key));
	secret_wipe(hex, sizeof(hex));
	if (!ok) {
		unlink(path);
		return sp_err(err, errlen, "cannot write key file '%s'", path);
	}
	return 0;
}

int secret_key_load(const char *path, unsigned char key[SP_KEY_LEN], char *err, size_t errlen)
{
	char hex[SP_KEY_LEN * 2 + 8];
	struct stat st;
	int rc = -1;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return sp_err(err, errlen, "cannot open key file '%s': %s (run 'sipprov init')", path,
			      strerror(errno));
	if (fstat(fd, &st) < 0 || (st.st_mode & 077)) {
		close(fd);
		return sp_err(err, errlen, "key file '%s' must be mode 0600 (chmod 600 '%s')", path, path);
	}
	ssize_t n = read(fd, hex, sizeof(hex) - 1);
	close(fd);
	/* Exactly what secret_keyfile_create writes: 64 hex digits and one
	 * optional line end.  sscanf("%2x") took "9z" for 0x09 and "+1" for 1,
	 * so a damaged file loaded as a different key. */
	size_t len = n > 0 ? (size_t)n : 0;
	if (len && hex[len - 1] == '\n')
		len--;
	if (len && hex[len - 1] == '\r')
		len--;
	if (len != SP_KEY_LEN * 2 || sp_hex_decode(hex, len, key, SP_KEY_LEN) < 0) {
		sp_err(err, errlen, "key file '%s' is malformed: expected %d hex digits and a newline", path,
		       SP_KEY_LEN * 2);
		secret_wipe(key, SP_KEY_LEN);
		goto out;
	}
	rc = 0;
out:
	secret_wipe(hex, sizeof(hex));
	return rc;
}

/* Subkeys derived so far, per thread: deriving one is an HMAC, and the
 * unknown-token path (every guess is new, nothing is cached) would pay it
 * on every request on top of the token's own HMAC.  Each keeps an HMAC
 * context keyed with it, re-initialised per use: the one-shot HMAC()
 * fetched SHA-256 and set up the key on every call, half the cost of an
 * ETag (callgrind, boot storm).  A thread's contexts are freed when it
 * exits (subkey_free, through a pthread key). */
#define SUBKEY_SLOTS 4
static __thread struct subkey {
	unsigned char key[SP_KEY_LEN];
	char label[48];
	unsigned char sub[EVP_MAX_MD_SIZE];
	unsigned int len;
	EVP_MAC_CTX *mac;                   /* HMAC-SHA256 keyed with sub */
} subkeys[SUBKEY_SLOTS];
static __thread unsigned subkey_next;
static pthread_key_t subkey_key;
static pthread_once_t subkey_once = PTHREAD_ONCE_INIT;

static void subkey_free(void *slots)
{
	struct subkey *k = slots;
	for (unsigned i = 0; i < SUBKEY_SLOTS; i++) {
		EVP_MAC_CTX_free(k[i].mac);
		k[i].mac = NULL;
		k[i].len = 0;
		OPENSSL_cleanse(k[i].sub, sizeof(k[i].sub));
	}
}

static void subkey_key_make(void)
{
	pthread_key_create(&subkey_key, subkey_free);
}

static const struct subkey *subkey_of(const unsigned char key[SP_KEY_LEN], const char *label)
{
	for (unsigned i = 0; i < SUBKEY_SLOTS; i++)
		if (subkeys[i].len && !strcmp(subkeys[i].label, label) && !memcmp(subkeys[i].key, key, SP_KEY_LEN))
			return &subkeys[i];
	pthread_once(&subkey_once, subkey_key_make);
	if (!pthread_getspecific(subkey_key))
		pthread_setspecific(subkey_key, subkeys);
	struct subkey *k = &subkeys[subkey_next++ % SUBKEY_SLOTS];
	k->len = 0;
	EVP_MAC_CTX_free(k->mac);
	k->mac = NULL;
	if (strlen(label) >= sizeof(k->label) ||
	    !HMAC(EVP_sha256(), key, SP_KEY_LEN, (const unsigned char *)label, strlen(label), k->sub, &k->len)) {
		k->len = 0;
		return NULL;
	}
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0), OSSL_PARAM_construct_end() };
	k->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	if (!k->mac || !EVP_MAC_init(k->mac, k->sub, k->len, params)) {
		EVP_MAC_CTX_free(k->mac);
		k->mac = NULL;
		k->len = 0;
		return NULL;
	}
	memcpy(k->key, key, SP_KEY_LEN);
	sp_strlcpy(k->label, label, sizeof(k->label));
	return k;
}

void secret_hmac_hex(const unsigned char key[SP_KEY_LEN], const char *label, const void *data, size_t n,
		     char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t ml = 0;
	/* A subkey per purpose (HMAC of the label), then HMAC of the data:
	 * a token hash can never equal an ETag or the key check.  A NULL key
	 * re-initialises the context with the key it has. */
	const struct subkey *k = subkey_of(key, label);
	if (!k || !EVP_MAC_init(k->mac, NULL, 0, NULL) || !EVP_MAC_update(k->mac, data, n) ||
	    !EVP_MAC_final(k->mac, mac, &ml, sizeof(mac)))
		ml = 0;
	sp_hex(mac, ml, out);
}

char *secret_encrypt(const unsigned char key[SP_KEY_LEN], const char *plain)
{
	size_t n = strlen(plain);
	unsigned char *raw = xmalloc(GCM_NONCE + n + GCM_TAG);
	char *out = NULL;
	int len;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx || RAND_bytes(raw, GCM_NONCE) != 1)
		goto out;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + GCM_NONCE, &len, (const unsigned char *)plain, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(ctx, raw + GCM_NONCE + len, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG, raw + GCM_NONCE + n) != 1)
		goto out;
	size_t rawlen = GCM_NONCE + n + GCM_TAG;
	out = xmalloc(4 * ((rawlen + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, raw, (int)rawlen);
out:
	EVP_CIPHER_CTX_free(ctx);
	secret_wipe(raw, GCM_NONCE + n + GCM_TAG);
	free(raw);
	return out;
}

/* Each thread's AES-256-GCM contexts, keyed once per key: giving
 * EVP_DecryptInit_ex the cipher and key on every call fetched AES-GCM and
 * expanded the key each time, 5k of a decrypt's 9k instructions, and a
 * render miss decrypts three secrets (HA1, line password, web password).
 * One for the secrets at rest (dec), two for secret_seal / secret_open
 * (another key: the render cache's on disk).  Freed when the thread exits
 * (gcm_free, through a pthread key); one is dropped after a failed
 * decrypt so the next starts from a clean context. */
struct gcm {
	unsigned char key[SP_KEY_LEN];
	EVP_CIPHER_CTX *ctx;
};
static __thread struct gcm_tls {
	struct gcm dec, seal, open;
} gcm;
static pthread_key_t gcm_key;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_drop(struct gcm *g)
{
	EVP_CIPHER_CTX_free(g->ctx);
	g->ctx = NULL;
	OPENSSL_cleanse(g->key, sizeof(g->key));
}

static void gcm_free(void *p)
{
	struct gcm_tls *t = p;
	gcm_drop(&t->dec);
	gcm_drop(&t->seal);
	gcm_drop(&t->open);
}

static void gcm_key_make(void)
{
	pthread_key_create(&gcm_key, gcm_free);
}

static EVP_CIPHER_CTX *gcm_ctx(struct gcm *g, const unsigned char key[SP_KEY_LEN], bool enc)
{
	if (g->ctx && !CRYPTO_memcmp(g->key, key, SP_KEY_LEN))
		return g->ctx;
	pthread_once(&gcm_once, gcm_key_make);
	if (!pthread_getspecific(gcm_key))
		pthread_setspecific(gcm_key, &gcm);
	gcm_drop(g);
	g->ctx = EVP_CIPHER_CTX_new();
	if (!g->ctx || EVP_CipherInit_ex(g->ctx, EVP_aes_256_gcm(), NULL, key, NULL, enc) != 1) {
		gcm_drop(g);
		return NULL;
	}
	memcpy(g->key, key, SP_KEY_LEN);
	return g->ctx;
}

int secret_seal(const unsigned char key[SP_KEY_LEN], const unsigned char nonce[SECRET_NONCE], const void *in,
		size_t n, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = gcm_ctx(&gcm.seal, key, true);
	int len, len2;
	if (!ctx || n > INT_MAX || EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &len, in, (int)n) != 1 || EVP_EncryptFinal_ex(ctx, out + len, &len2) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRET_TAG, out + n) != 1) {
		gcm_drop(&gcm.seal);
		return -1;
	}
	return 0;
}

int secret_open(const unsigned char key[SP_KEY_LEN], const unsigned char nonce[SECRET_NONCE],
		const unsigned char *in, size_t n, void *out)
{
	EVP_CIPHER_CTX *ctx = gcm_ctx(&gcm.open, key, false);
	int len, len2;
	if (!ctx || n > INT_MAX || EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &len, in, (int)n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRET_TAG, (void *)(in + n)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + len, &len2) != 1) {
		gcm_drop(&gcm.open);
		return -1;
	}
	return 0;
}

char *secret_decrypt(const unsigned char key[SP_KEY_LEN], const char *b64)
{
	size_t blen = strlen(b64);
	if (blen % 4 || blen > 4096)
		return NULL;
	unsigned char *raw = xmalloc(blen);
	int rawlen = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)blen);
	char *plain = NULL;
	EVP_CIPHER_CTX *ctx;
	if (rawlen < 0)
		goto out;
	/* EVP_DecodeBlock counts '=' padding as zero bytes: take it off. */
	for (size_t i = blen; i > 0 && b64[i - 1] == '='; i--)
		rawlen--;
	if (rawlen < GCM_NONCE + GCM_TAG)
		goto out;
	int n = rawlen - GCM_NONCE - GCM_TAG, len, len2;
	plain = xmalloc((size_t)n + 1);
	ctx = gcm_ctx(&gcm.dec, key, false);
	if (!ctx ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, raw) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)plain, &len, raw + GCM_NONCE, n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG, raw + GCM_NONCE + n) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + len, &len2) != 1) {
		secret_wipe(plain, (size_t)n + 1);
		free(plain);
		plain = NULL;
		gcm_drop(&gcm.dec);
		goto out;
	}
	plain[n] = '\0';
out:
	secret_wipe(raw, blen);
	free(raw);
	return plain;
}

/* SHA-256 and MD5 fetched once, and a digest context kept per thread:
 * EVP_Digest with EVP_md5() looked the algorithm up and made a context on
 * every call, most of an MD5's 5k instructions over a few dozen bytes, and
 * digest authentication computes two per request.  Freed at thread exit. */
static EVP_MD *md_sha256, *md_md5;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static pthread_key_t md_key;
static __thread EVP_MD_CTX *md_ctx;

static void md_ctx_free(void *c)
{
	EVP_MD_CTX_free(c);
}

static void md_fetch(void)
{
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	pthread_key_create(&md_key, md_ctx_free);
}

static void digest_hex(const EVP_MD *md, const EVP_MD *fetched, const void *p, size_t n, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	if (!md_ctx && (md_ctx = EVP_MD_CTX_new()))
		pthread_setspecific(md_key, md_ctx);
	if (fetched && md_ctx) {
		if (EVP_DigestInit_ex(md_ctx, fetched, NULL) != 1 || EVP_DigestUpdate(md_ctx, p, n) != 1 ||
		    EVP_DigestFinal_ex(md_ctx, d, &dl) != 1)
			dl = 0;
	} else if (EVP_Digest(p, n, d, &dl, md, NULL) != 1) {
		dl = 0;
	}
	sp_hex(d, dl, out);
}

void sha256_hex(const void *p, size_t n, char out[65])
{
	pthread_once(&md_once, md_fetch);
	digest_hex(EVP_sha256(), md_sha256, p, n, out);
}

void md5_hex(const void *p, size_t n, char out[33])
{
	pthread_once(&md_once, md_fetch);
	digest_hex(EVP_md5(), md_md5, p, n, out);
}

int random_hex(char *out, size_t nbytes)
{
	unsigned char b[64];
	if (nbytes > sizeof(b) || RAND_bytes(b, (int)nbytes) != 1)
		return -1;
	sp_hex(b, nbytes, out);
	return 0;
}

void secret_wipe(void *p, size_t n)
{
	if (p)
		OPENSSL_cleanse(p, n);
}
