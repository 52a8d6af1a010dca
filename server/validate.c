/*
 * validate.c: pure field and cross-field checks (skeleton; rules coming).
 */
#include <string.h>

#include "validate.h"
#include "sipprov.h"

int validate_settings(json_t *settings, bool force, char *err, size_t errlen) { return 0; }
bool validate_settings_contradiction(json_t *settings, char *why, size_t whylen) { return false; }
int validate_account(struct store *s, const struct tenant *t, const char *mac,
		     const struct account *a, char *err, size_t errlen) { return 0; }
int validate_account_fields(const char *mac, const struct account *a, char *err, size_t errlen) { return 0; }
int validate_effective(const struct effective *e, char *err, size_t errlen) { return 0; }
int validate_tenant(const struct tenant *t, char *err, size_t errlen) { return 0; }
bool validate_host(const char *h) { return h && *h; }
void validate_mac_colons(const char *mac, char out[18])
{
	size_t o = 0;
	for (size_t i = 0; i < 12 && mac[i]; i++) {
		if (i && i % 2 == 0)
			out[o++] = ':';
		out[o++] = mac[i];
	}
	out[o] = '\0';
}
