/*
 * fuzz/range.c: firmware_range on arbitrary header bytes and sizes.  Its
 * promises: a served part lies inside the file and is not empty; a
 * refusal or "whole file" leaves nothing half-set that matters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t fsize = 0, off, len;
	if (size >= 8) {
		memcpy(&fsize, data, 8);
		data += 8, size -= 8;
		fsize %= (uint64_t)1 << 40;
	}
	char *s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	int rc = firmware_range(s, fsize, &off, &len);
	if (rc < -1 || rc > 1)
		abort();
	if (rc == 1 && (len == 0 || off >= fsize || len > fsize - off))
		abort();
	free(s);
	return 0;
}
