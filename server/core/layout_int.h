/*
 * layout_int.h: a parsed layout and the set of them, shared by layout.c
 * (the file parser and loader) and route.c (file-name routes).  The output
 * formats do not include it: they see placeholder.h and layout_format.h
 * only.  Not for other modules: they use the layout API in sipprov.h.
 * Include before sipprov.h.
 */
#ifndef SP_LAYOUT_INT_H
#define SP_LAYOUT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "placeholder.h"

struct layout_format;

#define LAYOUT_PAT_MAX    64
#define LAYOUT_ROUTES_MAX 8
#define LAYOUT_MAPS_MAX   16
#define LAYOUT_FILE_MAX   (256 * 1024)
#define LAYOUT_UNSUP_MAX  16

/* "unsupported KEY[=VALUE] [if OTHER[=VALUE]]: why": a setting value the
 * layout cannot express; layout_warnings names it when a config uses it. */
struct lunsup {
	char key[32], value[32];            /* value "" = any non-empty value */
	char when[32], when_value[32];      /* when "" = always */
	char why[256];
};

#define LAYOUT_BODIES_MAX 4

struct lroute {
	int kind;                           /* ROUTE_MAC / TOKEN / COMMON / UPLOAD */
	int body;                           /* 0: the main body, else bodies[body - 1];
					     * ROUTE_COMMON: commons[body] */
	char pat[LAYOUT_PAT_MAX];           /* as declared: "cfg{mac}.xml" */
};

struct layout {
	char name[LAYOUT_NAME_MAX];
	char file[256];
	const struct layout_format *fmt;    /* from the header's "format:" */
	void *skel;                         /* fmt->compile's result */
	char content_type[128];
	char notify_event[128];
	char references[512];               /* "references:" header; XML prints it as a comment */
	struct lroute routes[LAYOUT_ROUTES_MAX];
	size_t nroutes;
	struct lmap maps[LAYOUT_MAPS_MAX];
	size_t nmaps;
	struct lscope scope;                /* file and maps, for the placeholders */
	/* "route NAME: pat" + "--- NAME": a device file with its own body
	 * (Yealink's {mac}.boot), compiled like the main one */
	struct {
		char name[16];
		void *skel;
	} bodies[LAYOUT_BODIES_MAX];
	size_t nbodies;
	struct lunsup unsup[LAYOUT_UNSUP_MAX];
	size_t nunsup;
	/* Fixed bodies for ROUTE_COMMON files: commons[0] is "--- common"
	 * ("route common:"), the others "--- common NAME" ("route common NAME:").
	 * text NULL: not given.  The only placeholder is {{public_url}}. */
	struct {
		char name[16];
		char *text;
		size_t len;
	} commons[LAYOUT_BODIES_MAX];
	size_t ncommons;                    /* 1 + the named ones */
};

struct layouts {
	size_t n;
	struct layout **v;                  /* sorted by name */
};

/* layout.c: layout_parse_mem with the formats taken from list (NULL-
 * terminated) instead of layout_formats: tests plug in their own. */
struct layout *layout_parse_with(const struct layout_format *const *list, const char *filename,
				 const char *data, size_t len, char *err, size_t errlen);

/* route.c: check a route pattern as declared in l's header (line for the
 * message); a plain route naming {token} becomes ROUTE_TOKEN.  0 or -1. */
int route_check(const struct layout *l, struct lroute *r, int line, char *err, size_t errlen);

#endif
