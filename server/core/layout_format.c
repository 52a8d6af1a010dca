/*
 * layout_format.c: the list of output formats a layout header may name.
 * Adding a format is one render_*.c filling a struct layout_format and one
 * line here (and its extern in layout_format.h); no other file changes.
 */
#include <string.h>

#include "layout_format.h"

/* The order is the order the "unknown format" message lists them in. */
const struct layout_format *const layout_formats[] = {
	&layout_format_xml,
	&layout_format_json,
	&layout_format_kv,
	NULL,
};

const struct layout_format *layout_format_find(const struct layout_format *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp((*list)->name, name) == 0)
			return *list;
	return NULL;
}
