/*
 * tests/fuzz/sipmsg.c: libFuzzer target for the SIP message parser; every
 * kept field must stay NUL-terminated printable text.
 */
#include <stdint.h>
#include <string.h>

#include "sip/sip.h"
#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sipmsg m;
	char err[128];
	if (sipmsg_parse((const char *)data, size, &m, err, sizeof(err)) == 0) {
		if (strlen(m.call_id) >= sizeof(m.call_id) || strlen(m.user_agent) >= sizeof(m.user_agent))
			__builtin_trap();
		for (const char *p = m.to.user; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				__builtin_trap();
	}
	return 0;
}
