/*
 * tests/fuzz/hep.c: libFuzzer target for the HEP v3 decoder, with and
 * without an auth key, then the SIP parser on whatever payload it finds.
 */
#include <stdint.h>
#include <string.h>

#include "daemon/daemon.h"
#include "sip/sip.h"
#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hep_packet p;
	struct sipmsg m;
	const char *why;
	char err[128];

	if (hep_decode(data, size, NULL, &p, &why) == 0) {
		/* The payload must lie inside the input. */
		if ((const uint8_t *)p.payload < data || (const uint8_t *)p.payload + p.payload_len > data + size)
			__builtin_trap();
		sipmsg_parse(p.payload, p.payload_len, &m, err, sizeof(err));
	}
	hep_decode(data, size, "key", &p, &why);
	return 0;
}
