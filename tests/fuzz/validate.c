/*
 * fuzz/validate.c: arbitrary bytes, split at '\n' into display name,
 * extension, username, auth username, password and a host/port/transport
 * triple, through validate_account (tenant with patterns, no database),
 * validate_settings and validate_host: no crash, no overread, and every
 * refusal comes with a non-empty, NUL-terminated reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size + 1), *part[8] = { 0 }, *save = NULL, err[SP_ERR_MAX];
	struct account a;
	struct tenant t;
	size_t n = 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = strtok_r(buf, "\n", &save); p && n < 8; p = strtok_r(NULL, "\n", &save))
		part[n++] = p;
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.slug, "acme", sizeof(t.slug));
	sp_strlcpy(t.username_pattern, "^[0-9]{3,6}$", sizeof(t.username_pattern));
	sp_strlcpy(t.auth_username_pattern, "^[a-z0-9]{8}$", sizeof(t.auth_username_pattern));
	memset(&a, 0, sizeof(a));
	a.line = size % 18;
	validate_copy(a.display_name, sizeof(a.display_name), part[0] ? part[0] : "");
	validate_copy(a.extension, sizeof(a.extension), part[1] ? part[1] : "");
	validate_copy(a.username, sizeof(a.username), part[2] ? part[2] : "");
	validate_copy(a.auth_username, sizeof(a.auth_username), part[3] ? part[3] : "");
	validate_copy(a.password, sizeof(a.password), part[4] ? part[4] : "");
	err[0] = '\0';
	if (validate_account(NULL, &t, "0015654aa937", &a, err, sizeof(err)) < 0 && !err[0])
		abort();
	json_t *o = json_object();
	if (part[5])
		json_object_set_new(o, "server", json_string_nocheck(part[5]));
	if (part[6])
		json_object_set_new(o, "port", json_string_nocheck(part[6]));
	if (part[7])
		json_object_set_new(o, "transport", json_string_nocheck(part[7]));
	err[0] = '\0';
	if (validate_settings(o, false, err, sizeof(err)) < 0 && !err[0])
		abort();
	json_decref(o);
	for (size_t i = 0; i < n; i++)
		(void)validate_host(part[i]);
	free(buf);
	return 0;
}
