/*
 * fuzz/phonebook.c: arbitrary bytes as a request path (phonebook_path)
 * and as a contact: the first byte picks the vendor format, the rest is
 * name, number, mobile, other and group split at '\n'.  Its promises: a
 * matched path yields a 12-hex MAC; any contact phonebook_check accepts
 * renders to well-formed XML in every format (libxml2 parses it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>

#include "daemon/daemon.h"
#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const layouts[] = { "yealink", "fanvil", "cisco", "polycom", "snom", "grandstream" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1), mac[SP_MAC_LEN + 1];
	const char *only;
	memcpy(s, data, size);
	s[size] = '\0';
	if (phonebook_path(s, mac, &only) == 1 && (strlen(mac) != SP_MAC_LEN || strspn(mac, "0123456789abcdef") != SP_MAC_LEN))
		abort();
	if (size < 1) {
		free(s);
		return 0;
	}
	struct contact c = { 0 };
	char *f[5] = { "", "", "", "", "" }, *p = s + 1, err[256];
	size_t caps[5] = { sizeof(c.name), sizeof(c.office), sizeof(c.mobile), sizeof(c.other), sizeof(c.group) };
	char *dst[5] = { c.name, c.office, c.mobile, c.other, c.group };
	for (int i = 0; i < 5 && p; i++) {
		f[i] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	for (int i = 0; i < 5; i++)
		sp_strlcpy(dst[i], f[i], caps[i]);
	const char *field;
	if (phonebook_check(&c, &field, err, sizeof(err)) == 0) {
		struct buf b;
		buf_init(&b, SP_PHONEBOOK_MAX);
		if (phonebook_render(layouts[(unsigned char)s[0] % 6], &c, 1, &b, err, sizeof(err)) < 0)
			abort();
		xmlDoc *d = xmlReadMemory(b.data, (int)b.len, "pb.xml", "UTF-8", XML_PARSE_NONET | XML_PARSE_NOERROR |
					  XML_PARSE_NOWARNING);
		if (!d)
			abort();
		xmlFreeDoc(d);
		buf_release(&b);
	}
	free(s);
	return 0;
}
