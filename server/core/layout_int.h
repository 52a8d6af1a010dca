/*
 * layout_int.h: what layout.c and render_{xml,json,kv}.c share: a parsed
 * layout (metadata, value maps, routes), compiled placeholder templates,
 * conditions and the render context.  Not for other modules: they use the
 * layout API in sipprov.h.  Include before sipprov.h.
 */
#ifndef SP_LAYOUT_INT_H
#define SP_LAYOUT_INT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct effective;
struct account;

#define LAYOUT_NAME_MAX   32
#define LAYOUT_PAT_MAX    64
#define LAYOUT_ROUTES_MAX 8
#define LAYOUT_MAPS_MAX   16
#define LAYOUT_FILE_MAX   (256 * 1024)
#define LAYOUT_VALUE_MAX  4096          /* one placeholder's value after filters */

enum layout_format { LF_XML, LF_JSON, LF_KV };

/* Variables a placeholder can name; resolved once at load. */
enum lvar {
	LV_MAC, LV_MAC_UPPER, LV_MODEL, LV_LABEL, LV_TENANT, LV_VERSION, LV_TEMPLATE,
	LV_SETTING,                         /* effective_get(key) */
	LV_LINE_N, LV_LINE_I, LV_LINE_DISPLAY, LV_LINE_EXT, LV_LINE_USER,
	LV_LINE_AUTH, LV_LINE_PASS, LV_LINE_TOKEN,
};

struct lmap {
	char name[LAYOUT_NAME_MAX];
	size_t n;
	char **keys, **vals;
	char *dflt;                         /* "*=" entry, NULL = miss is an error */
};

enum lfilter_kind { LFI_OR, LFI_DEFAULT, LFI_SIPQ, LFI_UPPER, LFI_LOWER, LFI_MINUTES, LFI_MAP, LFI_HOST, LFI_PORT };
struct lfilter {
	enum lfilter_kind kind;
	enum lvar var;                      /* LFI_OR */
	char *key;                          /* LFI_OR setting key */
	char *text;                         /* LFI_DEFAULT */
	const struct lmap *map;             /* LFI_MAP */
};

#define LAYOUT_FILTERS_MAX 4
struct lseg {
	char *lit;                          /* literal text, or NULL for a placeholder */
	enum lvar var;
	char *key;                          /* LV_SETTING key; also the name for messages */
	struct lfilter f[LAYOUT_FILTERS_MAX];
	int nf;
};

/* A compiled string: literal runs and placeholders. */
struct ltmpl {
	struct lseg *s;
	size_t n;
	bool uses_line;
};

/* sp-if / sp-unless: VAR (non-empty), VAR=VALUE, VAR!=VALUE; negate for unless. */
struct lcond {
	bool set;
	enum lvar var;
	char *key;
	enum { LC_NONEMPTY, LC_EQ, LC_NE } op;
	char *value;
	bool negate;
};

/* Block directives shared by every format's skeleton node. */
struct ldirect {
	bool each;                          /* repeat per selected line */
	long fixed_line;                    /* > 0: only with this account */
	struct lcond cond;
};

struct lroute {
	int kind;                           /* ROUTE_MAC / TOKEN / COMMON / UPLOAD */
	char pat[LAYOUT_PAT_MAX];           /* as declared: "cfg{mac}.xml" */
};

struct xnode;
struct jnode;
struct kitem;

struct layout {
	char name[LAYOUT_NAME_MAX];
	char file[256];
	enum layout_format format;
	char content_type[128];
	char notify_event[128];
	struct lroute routes[LAYOUT_ROUTES_MAX];
	size_t nroutes;
	struct lmap maps[LAYOUT_MAPS_MAX];
	size_t nmaps;
	char *common;                       /* fixed body for ROUTE_COMMON files, or NULL */
	size_t common_len;
	struct xnode *xml;                  /* LF_XML: the root element */
	struct jnode *json;                 /* LF_JSON */
	struct kitem *kv;                   /* LF_KV: items */
	size_t nkv;
	bool names_version;                 /* the body uses {{version}} */
};

/* What render walks with. */
struct rctx {
	const struct layout *l;
	const struct effective *e;
	const struct account *sel[16];      /* the selected accounts, in line order */
	size_t nsel;
	const struct account *a;            /* current line, or NULL outside a block */
	long i;                             /* index of a in sel */
	struct buf *scratch;
	char *err;
	size_t errlen;
};

/* layout.c: compile "text {{var|filter}}" (line = file line for messages). */
int ltmpl_compile(struct layout *l, const char *s, bool in_line, struct ltmpl *t,
		  int line, char *err, size_t errlen);
void ltmpl_release(struct ltmpl *t);
/* Expand into c->scratch (reset first); returns its NUL-terminated data or NULL with c->err. */
const char *ltmpl_expand(struct rctx *c, const struct ltmpl *t);
/* Parse a condition expression. */
int lcond_compile(struct layout *l, const char *s, bool negate, bool in_line, struct lcond *c,
		  int line, char *err, size_t errlen);
void lcond_release(struct lcond *c);
/* Evaluate; -1 on error (c->err set), 0 false, 1 true. */
int lcond_eval(struct rctx *c, const struct lcond *cond);
/* Apply a directive: call fn(c, arg) zero or more times with c->a set. */
int ldirect_run(struct rctx *c, const struct ldirect *d, int (*fn)(struct rctx *, void *), void *arg);
/* Does a name ("reg.N.address", "Proxy_N_") contain the line-number token N? */
bool lname_has_n(const char *name);
/* Does the name start with the token N (it would start with a digit)?  "NAT_N_" does not. */
bool lname_leading_n(const char *name);
/* Substitute N with the line number into out. */
void lname_subst(const char *name, long n, char *out, size_t outlen);
/* Line number (1-based) of the first occurrence of needle in body, or 0. */
int lbody_line(const char *body, const char *needle);

/* render_xml.c */
int render_xml_compile(struct layout *l, const char *body, size_t len, int line0, char *err, size_t errlen);
void render_xml_free(struct xnode *n);
int render_xml(struct rctx *c, struct buf *out);

/* render_json.c */
int render_json_compile(struct layout *l, const char *body, size_t len, int line0, char *err, size_t errlen);
void render_json_free(struct jnode *n);
int render_json(struct rctx *c, struct buf *out);

/* render_kv.c */
int render_kv_compile(struct layout *l, const char *body, size_t len, int line0, char *err, size_t errlen);
void render_kv_free(struct kitem *k, size_t n);
int render_kv(struct rctx *c, struct buf *out);

#endif
