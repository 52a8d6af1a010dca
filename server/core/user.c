/*
 * user.c: web console users as values: password hashing with OpenSSL 3's
 * scrypt (memory-hard, per-user salt), session ids and the CSRF token bound
 * to each.  Storing users and sessions is store_user.c; deciding what a
 * session may do is the daemon's api.c, the same way as for a token.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sipprov.h"

#define LABEL_SESSION "sipprov console session v1"
#define LABEL_CSRF    "sipprov console csrf v1"
#define PW_N          32768ULL        /* 2^15: 32 MiB with r=8, ~0.1 s */
#define PW_R          8ULL
#define PW_P          1ULL
#define PW_N_MAX      1048576ULL      /* refuse stored costs a database could inflate */
#define PW_SALT       16
#define PW_OUT        32

static int kdf(const char *pw, const unsigned char *salt, size_t saltlen, uint64_t n, uint64_t r, uint64_t p,
	       unsigned char out[PW_OUT])
{
	/* maxmem: 128*r*N plus slack, or OpenSSL's 32 MiB default refuses N=2^15. */
	uint64_t maxmem = 128 * r * n + (1 << 20) + 128 * r * p;
	return EVP_PBE_scrypt(pw, strlen(pw), salt, saltlen, n, r, p, maxmem, out, PW_OUT) == 1 ? 0 : -1;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

int user_password_hash(const char *password, char out[SP_PW_HASH_MAX])
{
	char salthex[2 * PW_SALT + 1], dkhex[2 * PW_OUT + 1];
	unsigned char salt[PW_SALT], dk[PW_OUT];
	if (random_hex(salthex, PW_SALT) < 0 || unhex(salthex, salt, PW_SALT) < 0 ||
	    kdf(password, salt, PW_SALT, PW_N, PW_R, PW_P, dk) < 0)
		return -1;
	hex(dk, PW_OUT, dkhex);
	secret_wipe(dk, sizeof(dk));
	snprintf(out, SP_PW_HASH_MAX, "scrypt$%llu$%llu$%llu$%s$%s", PW_N, PW_R, PW_P, salthex, dkhex);
	return 0;
}

bool user_password_ok(const char *password, const char *stored)
{
	unsigned long long n, r, p;
	char salthex[2 * PW_SALT + 2], dkhex[2 * PW_OUT + 2];
	unsigned char salt[PW_SALT], want[PW_OUT], got[PW_OUT];
	int used = 0;
	if (sscanf(stored, "scrypt$%llu$%llu$%llu$%33[0-9a-f]$%65[0-9a-f]%n", &n, &r, &p, salthex, dkhex, &used) != 5 ||
	    stored[used] != '\0' || n < 2 || n > PW_N_MAX || (n & (n - 1)) || r < 1 || r > 32 || p < 1 || p > 4 ||
	    unhex(salthex, salt, PW_SALT) < 0 || unhex(dkhex, want, PW_OUT) < 0)
		return false;
	if (kdf(password, salt, PW_SALT, n, r, p, got) < 0)
		return false;
	bool ok = CRYPTO_memcmp(got, want, PW_OUT) == 0;
	secret_wipe(got, sizeof(got));
	return ok;
}

bool user_password_valid(const char *password, char *err, size_t errlen)
{
	size_t n = strlen(password);
	if (n < 10 || n >= SP_PASSWORD_MAX) {
		sp_err(err, errlen, "password must be 10 to %d bytes long", SP_PASSWORD_MAX - 1);
		return false;
	}
	for (const unsigned char *c = (const unsigned char *)password; *c; c++)
		if (*c < 0x20 || *c == 0x7f) {
			sp_err(err, errlen, "password must not hold control characters");
			return false;
		}
	return true;
}

int user_session_new(char out[SP_SESSION_LEN + 1])
{
	return random_hex(out, SP_SESSION_LEN / 2);
}

void user_session_hash(const unsigned char key[SP_KEY_LEN], const char *sid, char out[65])
{
	secret_hmac_hex(key, LABEL_SESSION, sid, strlen(sid), out);
}

void user_csrf_token(const unsigned char key[SP_KEY_LEN], const char *sid, char out[65])
{
	secret_hmac_hex(key, LABEL_CSRF, sid, strlen(sid), out);
}
