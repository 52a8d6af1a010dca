/*
 * fuzz/auth.c: the two parsers of client-controlled text in auth: the
 * Digest Authorization parameter reader (auth_digest_param, and
 * auth_params_get, which must answer the same) and the MAC
 * finder for certificate subject values (tls_subject_mac), and the digest
 * nonce check (nonce_check) on whatever a client puts in nonce=.  Checks
 * their promises: bounded, NUL-terminated output; a found MAC is 12
 * lowercase hex; a nonce we did not make is never accepted.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "username", "nonce", "nc", "algorithm", "uri", "response", "x" };
	char *s = xmalloc(size + 1);
	char v[40], mac[SP_MAC_LEN + 1];
	memcpy(s, data, size);
	s[size] = '\0';
	struct auth_params ap;
	auth_params_parse(&ap, s);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		char w[40];
		memset(v, 'Z', sizeof(v));
		int r = auth_digest_param(s, keys[k], v, sizeof(v));
		if (strnlen(v, sizeof(v)) >= sizeof(v) || (r == 0 && v[0] != '\0'))
			abort();
		/* The indexed lookup answers the same. */
		if (auth_params_get(&ap, keys[k], w, sizeof(w)) != r || strcmp(v, w))
			abort();
	}
	static bool keyed;
	if (!keyed) {
		nonce_init(NULL, 0);
		keyed = true;
	}
	if (nonce_check(s, 1, AUTH_NONCE_TIMEOUT) == NONCE_OK)
		abort();
	memset(mac, 'Z', sizeof(mac));
	int m = tls_subject_mac(s, mac);
	if (m < -1 || m > 1)
		abort();
	if (m == 1) {
		if (strnlen(mac, sizeof(mac)) != SP_MAC_LEN)
			abort();
		for (int i = 0; i < SP_MAC_LEN; i++)
			if (!strchr("0123456789abcdef", mac[i]))
				abort();
	}
	free(s);
	return 0;
}
