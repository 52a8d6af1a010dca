/*
 * layout_format.h: one output format of layouts (xml, json, kv), curl-vtls
 * style: each render_*.c fills one struct layout_format and layout_format.c
 * lists them.  layout.c picks a format by its header name from that list and
 * calls only through the struct; nothing else names a format.  Private to
 * server/core (and white-box tests).  Include before sipprov.h.
 */
#ifndef SP_LAYOUT_FORMAT_H
#define SP_LAYOUT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct lscope;
struct rctx;

struct layout_format {
	const char *name;                   /* the header's "format:" value */
	/* true: render writes the version marker itself; false: the body must
	 * name {{version}} (checked at load) */
	bool marks_version;
	/* Compile a layout body (its first line is file line line0) into a
	 * skeleton, placeholders through sc.  0 with *skel set (caller frees it
	 * with free), or -1 with err "file:line: message" and nothing held. */
	int (*compile)(struct lscope *sc, const char *body, size_t len, int line0, void **skel,
		       char *err, size_t errlen);
	/* Append the rendered file to out.  0, or -1 with c->err (out may hold
	 * part of it: the caller truncates). */
	int (*render)(struct rctx *c, const void *skel, struct buf *out);
	void (*free)(void *skel);           /* accepts NULL */
};

/* The formats sipprov ships, NULL-terminated (layout_format.c). */
extern const struct layout_format *const layout_formats[];

/* One per render_*.c. */
extern const struct layout_format layout_format_xml;
extern const struct layout_format layout_format_json;
extern const struct layout_format layout_format_kv;

/* The format called name in the NULL-terminated list, or NULL. */
const struct layout_format *layout_format_find(const struct layout_format *const *list, const char *name);

#endif
