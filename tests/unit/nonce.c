/*
 * tests/unit/nonce.c: the stateless digest nonces: ours are accepted, a
 * changed byte, another key or a foreign string are not, age is enforced,
 * the same key (a restart, another node) accepts them, and the replay
 * filter refuses an nc already used while a higher one passes.
 */
#include <string.h>

#include "tap.h"
#include "daemon/daemon.h"
#include "core/sipprov.h"

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
