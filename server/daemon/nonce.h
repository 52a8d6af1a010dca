/*
 * nonce.h: stateless HTTP digest nonces (an HMAC over a timestamp and
 * random bytes) and a bounded filter of accepted (nonce, nc) pairs against
 * replays.  See nonce.c.
 */
#ifndef SP_NONCE_H
#define SP_NONCE_H
#include <stddef.h>
#include <stdint.h>
#include "core/sipprov.h"

#define NONCE_LEN 40                    /* hex characters */

enum nonce_verdict {
	NONCE_OK,
	NONCE_FOREIGN,                      /* not one of ours (other key, garbage) */
	NONCE_EXPIRED,                      /* older than max_age, or from the future */
	NONCE_REPLAY,                       /* this nonce was already accepted with this nc or a higher one */
};

/* Key the nonces from key (the database key: every node and every restart
 * on the same database agrees), or from random bytes when key is NULL.
 * Also empties the replay filter.  Call before serving. */
void nonce_init(const unsigned char *key, size_t keylen);
void nonce_release(void);
void nonce_make(char out[NONCE_LEN + 1]);
/* Is nonce ours, younger than max_age seconds and not a replay of nc? */
enum nonce_verdict nonce_check(const char *nonce, uint32_t nc, long max_age);
/* Record a request that passed (after its digest response was right). */
void nonce_accepted(const char *nonce, uint32_t nc);
#endif
