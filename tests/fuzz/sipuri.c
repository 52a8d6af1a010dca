/*
 * tests/fuzz/sipuri.c: libFuzzer target for the SIP URI parser and the
 * send-to checks on top of it.  Accepted URIs must have NUL-terminated
 * fields, a lowercase host without control bytes, a port in range, and a
 * transport the target check agrees with.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip.h"
#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_uri u;
	char err[160];
	if (sip_uri_parse((const char *)data, size, &u, err, sizeof(err)) == 0) {
		if (strlen(u.host) >= sizeof(u.host) || strlen(u.user) >= sizeof(u.user) ||
		    strlen(u.text) >= sizeof(u.text) || u.port < 0 || u.port > 65535)
			__builtin_trap();
		for (const char *p = u.host; *p; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || isupper((unsigned char)*p))
				__builtin_trap();
	}
	/* The NUL-terminated entry points on the same bytes. */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if (sip_uri_target(s, &u, err, sizeof(err)) == 0 && sip_uri_transport(&u) == SIP_TR_UNKNOWN)
		__builtin_trap();
	sip_hostport_parse(s, &u, err, sizeof(err));
	free(s);
	return 0;
}
