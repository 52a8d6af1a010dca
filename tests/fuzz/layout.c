/*
 * fuzz/layout.c: the layout parser (header, placeholders, XML via libxml2,
 * JSON via Jansson, key=value blocks) on arbitrary bytes; a layout that
 * parses is also rendered once against a fixed two-line device, so the
 * compiled skeleton is exercised too.  The file name picks nothing: the
 * header's format does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[SP_ERR_MAX];
	struct layout *l = layout_parse_mem("fuzz.layout", (const char *)data, size, err, sizeof(err));
	if (!l) {
		if (!err[0])
			abort();                    /* a refusal always says why */
		return 0;
	}
	struct effective e;
	memset(&e, 0, sizeof(e));
	sp_strlcpy(e.device.mac, "001565aabbcc", sizeof(e.device.mac));
	sp_strlcpy(e.version_label, "acme-main@v1", sizeof(e.version_label));
	e.settings = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "registrar", "example.test", "transport", "tls", "port",
			       "5061", "key.1.type", "blf", "key.1.value", "1002", "ext.1.2.type", "park",
			       "ext.1.2.value", "7<&>");
	e.naccounts = 2;
	for (int i = 0; i < 2; i++) {
		e.accounts[i].line = i + 1;
		sp_strlcpy(e.accounts[i].display_name, "Ann <\"O'Brien\"> & Co", sizeof(e.accounts[i].display_name));
		sp_strlcpy(e.accounts[i].username, "alice", sizeof(e.accounts[i].username));
		sp_strlcpy(e.accounts[i].password, "p<>&\"'w", sizeof(e.accounts[i].password));
	}
	struct buf out;
	buf_init(&out, SP_BODY_MAX);
	render(l, &e, 0, &out, err, sizeof(err));
	buf_release(&out);
	buf_init(&out, SP_BODY_MAX);
	render(l, NULL, 0, &out, err, sizeof(err));
	buf_release(&out);
	/* every common body its routes name, with and without public_url */
	for (size_t i = 0; i < layout_route_count(l); i++) {
		int kind;
		struct route_match m;
		const char *pat = layout_route_at(l, i, &kind);
		if (kind != ROUTE_COMMON)
			continue;
		memset(&m, 0, sizeof(m));
		m.kind = ROUTE_COMMON;
		sp_strlcpy(m.pattern, pat, sizeof(m.pattern));
		for (int u = 0; u < 2; u++) {
			buf_init(&out, SP_BODY_MAX);
			render_common_route(l, &m, u ? "http://prov.example.test:8080" : "", &out, err, sizeof(err));
			buf_release(&out);
		}
	}
	json_decref(e.settings);
	layout_free(l);
	return 0;
}
