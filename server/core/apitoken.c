/*
 * apitoken.c: admin API bearer tokens as values: make one, hash it (keyed,
 * so a stolen database yields no usable token), name roles.  Storing them
 * is store_api.c; deciding what a token may do is the daemon's api.c.
 */
#include <string.h>

#include "sipprov.h"

#define LABEL_API_TOKEN "sipprov api token v1"

int api_token_new(char out[SP_API_TOKEN_LEN + 1])
{
	memcpy(out, "spk_", 4);
	return random_hex(out + 4, (SP_API_TOKEN_LEN - 4) / 2);
}

void api_token_hash(const unsigned char key[SP_KEY_LEN], const char *token, char out[65])
{
	secret_hmac_hex(key, LABEL_API_TOKEN, token, strlen(token), out);
}

bool api_role_ok(const char *role)
{
	return !strcmp(role, "admin") || !strcmp(role, "operator") || !strcmp(role, "read-only");
}
