/*
 * fuzz/route.c: route_match on arbitrary bytes (NUL-terminated copy) against
 * the real layouts in templates/ (SIPPROV_TEMPLATES overrides), loaded once.
 * Checks its promises: a match names a layout that answers it, a 12-hex
 * lowercase MAC or a 32-hex token, and never a path with "..", "%" or "//".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct layouts *fuzz_layouts;

static void hex_ok(const char *s, size_t n)
{
	if (strlen(s) != n || strspn(s, "0123456789abcdef") != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_match m;
	if (!fuzz_layouts) {
		char err[SP_ERR_MAX];
		const char *dir = getenv("SIPPROV_TEMPLATES");
		fuzz_layouts = layouts_load(dir && *dir ? dir : "templates", err, sizeof(err));
		if (!fuzz_layouts)
			abort();
	}
	char *s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	int rc = route_match(fuzz_layouts, s, &m);
	if (rc) {
		if (m.kind == ROUTE_NONE || !m.layout || !layout_answers(m.layout, &m) || strlen(s) > 256 ||
		    strstr(s, "..") || strchr(s, '%') || strstr(s, "//") || strchr(s, '?'))
			abort();
		if (m.kind == ROUTE_MAC || m.kind == ROUTE_UPLOAD)
			hex_ok(m.mac, SP_MAC_LEN);
		if (m.kind == ROUTE_TOKEN)
			hex_ok(m.token, SP_TOKEN_HEX);
	} else if (m.kind != ROUTE_NONE || m.layout) {
		abort();
	}
	free(s);
	return 0;
}
