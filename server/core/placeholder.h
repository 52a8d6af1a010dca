/*
 * placeholder.h: the layout language every output format shares: compiled
 * "text {{var|filter}}" strings, sp-if/sp-unless conditions, line-block
 * directives and the render context.  Private to server/core: layout.c and
 * the formats (render_*.c) include it; it knows nothing of layout files,
 * routes or formats.  Include before sipprov.h.
 */
#ifndef SP_PLACEHOLDER_H
#define SP_PLACEHOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipprov.h"

struct buf;
struct effective;
struct account;
struct tzrule;

#define LAYOUT_NAME_MAX   32
#define LAYOUT_VALUE_MAX  4096          /* one placeholder's value after filters */
#define LAYOUT_FILTERS_MAX 4

/* A value map declared in a layout header ("map yl_transport: udp=0 *=0");
 * a filter of the same name applies it. */
struct lmap {
	char name[LAYOUT_NAME_MAX];
	size_t n;
	char **keys, **vals;
	char *dflt;                         /* "*=" entry, NULL = miss is an error */
};

/* What compiling a placeholder may consult, and what it reports back.  The
 * layout owns it; maps must outlive everything compiled against them. */
struct lscope {
	const char *file;                   /* for "file:line: message" */
	const struct lmap *maps;
	size_t nmaps;
	bool names_version;                 /* set when {{version}} is used */
	bool uses_tz;                       /* set when a tz.* variable is used */
	bool uses_tz_rule;                  /* ... one of the DST rule (tz.dst, tz.start.*, ...) */
};

struct lvar_def;                        /* a variable: placeholder.c's table */
struct lfilter_def;                     /* a filter: placeholder.c's table */

struct lfilter {
	const struct lfilter_def *def;      /* NULL: apply map */
	const struct lvar_def *var;         /* or:VAR (NULL = setting key) */
	char *key;                          /* or:VAR name */
	char *text;                         /* default:TEXT */
	const struct lmap *map;
};

struct lseg {
	char *lit;                          /* literal text, or NULL for a placeholder */
	const struct lvar_def *var;         /* NULL: the setting named key */
	char *key;                          /* the name as written; also for messages */
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
	const struct lvar_def *var;
	char *key;
	enum { LC_NONEMPTY, LC_EQ, LC_NE } op;
	char *value;
	bool negate;
};

/* Block directives shared by every format's skeleton node. */
struct ldirect {
	bool each;                          /* repeat per selected line */
	bool each_key;                      /* repeat per line key (key.N.type set, not none) */
	bool each_ext;                      /* repeat per expansion-module key (ext.M.N.type set, not none) */
	long fixed_line;                    /* > 0: only with this account */
	struct lcond cond;
};

/* The device's time zone, resolved on first use by a tz.* variable and
 * kept for the rest of the render (tz.h). */
struct tzcache {
	int state;                          /* 0 not yet, 1 resolved, -1 unset or unknown */
	struct tzrule *r;                   /* render()'s storage */
};

/* What render walks with; layout.c's render() fills it. */
struct rctx {
	const char *layout;                 /* the layout's name, for messages */
	const char *refs;                   /* the layout's "references:" text, or "" */
	const struct effective *e;
	const struct account *sel[16];      /* the selected accounts, in line order */
	size_t nsel;
	const struct account *a;            /* current line, or NULL outside a block */
	long i;                             /* index of a in sel */
	long key;                           /* key N inside an "each key" or "each ext" block, else 0 */
	long module;                        /* module M inside an "each ext" block, else 0 */
	const char *const *key_skip;        /* NULL-terminated key types an "each key" block
					     * skips ("" = every type); NULL = none */
	const char *const *ext_skip;        /* ... an "each ext" block skips */
	struct buf *scratch;
	struct tzcache *tz;                 /* NULL: tz.* are "" */
	bool keys_found;                    /* keys[] filled (ldirect_run, once per render) */
	uint64_t keys[SP_EXT_MODULES + 1];  /* bit N: key N of module M (0 = the phone) has a type */
	char *err;
	size_t errlen;
};

/* Compile "text {{var|filter}}" (line = file line for messages); in_line
 * allows line.*.  0, or -1 with err "file:line: message" and t empty. */
int ltmpl_compile(struct lscope *sc, const char *s, bool in_line, struct ltmpl *t,
		  int line, char *err, size_t errlen);
void ltmpl_release(struct ltmpl *t);
/* Expand into c->scratch (reset first); returns its NUL-terminated data, or
 * NULL with c->err.  The result is valid until the next expand. */
const char *ltmpl_expand(struct rctx *c, const struct ltmpl *t);
/* Parse a condition expression; 0 or -1 with err. */
int lcond_compile(struct lscope *sc, const char *s, bool negate, bool in_line, struct lcond *c,
		  int line, char *err, size_t errlen);
void lcond_release(struct lcond *c);
/* Evaluate; -1 on error (c->err set), 0 false, 1 true. */
int lcond_eval(struct rctx *c, const struct lcond *cond);
/* Apply a directive: call fn(c, arg) zero or more times with c->a set;
 * returns the first negative fn result, else 0. */
int ldirect_run(struct rctx *c, const struct ldirect *d, int (*fn)(struct rctx *, void *), void *arg);
/* Does a name ("reg.N.address", "Proxy_N_") contain the line-number token N? */
bool lname_has_n(const char *name);
/* Does the name start with the token N (it would start with a digit)?  "NAT_N_" does not. */
bool lname_leading_n(const char *name);
/* Substitute N with the line number into out. */
void lname_subst(const char *name, long n, char *out, size_t outlen);
/* Line number (1-based) of the first occurrence of needle in body, or 0. */
int lbody_line(const char *body, const char *needle);
/* A character of a variable, map or filter name: [A-Za-z0-9_.-]. */
bool lname_char(char ch);
/* Strip the language's blanks (space, tab) at both ends, in place. */
char *ltrim(char *s);
/* The map named name in sc, or NULL. */
const struct lmap *lmap_find(const struct lscope *sc, const char *name);

#endif
