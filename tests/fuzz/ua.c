/*
 * fuzz/ua.c: ua_parse on arbitrary bytes (NUL-terminated copy).  Checks
 * the parser's promises: bounded fields, NUL-terminated, MAC either empty
 * or 12 lowercase hex, vendor empty exactly when it returns 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ua_info u;
	char *s = xmalloc(size + 1);
	int rc;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = ua_parse(s, &u);
	if (strnlen(u.vendor, sizeof(u.vendor)) >= sizeof(u.vendor) ||
	    strnlen(u.model, sizeof(u.model)) >= sizeof(u.model) ||
	    strnlen(u.firmware, sizeof(u.firmware)) >= sizeof(u.firmware) ||
	    (rc == 1) != (u.vendor[0] != '\0'))
		abort();
	if (u.mac[0]) {
		if (strlen(u.mac) != 12)
			abort();
		for (int i = 0; i < 12; i++)
			if (!strchr("0123456789abcdef", u.mac[i]))
				abort();
	}
	free(s);
	return 0;
}
