/*
 * render_json.c: JSON layouts.  Jansson parses the skeleton; rendering
 * writes the text directly, in exactly the form json_dumps(JSON_INDENT(2) |
 * JSON_PRESERVE_ORDER) gives (tests/unit/render.c checks that by
 * re-dumping), without building a Jansson tree per render: on a render
 * miss that tree and its dump were 29% of sipprovd's instructions.  String
 * values of the skeleton are templates and come out as JSON strings (data,
 * never JSON text); numbers, booleans and null are copied as Jansson
 * printed them when the layout was compiled.  Objects may carry "sp-each":
 * "line", "sp-line": N, "sp-if"/"sp-unless": COND, which are removed from
 * the output.
 */
#include <stdlib.h>
#include <string.h>

#include "layout_format.h"
#include "placeholder.h"
#include "sipprov.h"

enum { JN_OBJ, JN_ARR, JN_STR, JN_LIT };

struct jnode {
	int type;
	char *key;                          /* member name, NULL in arrays/root */
	struct ldirect d;
	struct ltmpl t;                     /* JN_STR */
	char *lit;                          /* JN_LIT: its JSON text */
	struct jnode *kids;
	size_t nkids;
};

static void jnode_release(struct jnode *n)
{
	free(n->key);
	lcond_release(&n->d.cond);
	ltmpl_release(&n->t);
	free(n->lit);
	for (size_t i = 0; i < n->nkids; i++)
		jnode_release(&n->kids[i]);
	free(n->kids);
}

static void json_free(void *skel)
{
	struct jnode *n = skel;
	if (!n)
		return;
	jnode_release(n);
	free(n);
}

struct jcomp {
	struct lscope *sc;
	const char *body;
	int line0;
	char *err;
	size_t errlen;
};

static int jline(const struct jcomp *p, const char *needle)
{
	int l = lbody_line(p->body, needle);
	return l ? p->line0 + l - 1 : p->line0;
}

static bool is_directive(const char *k)
{
	return !strcmp(k, "sp-each") || !strcmp(k, "sp-line") || !strcmp(k, "sp-if") || !strcmp(k, "sp-unless");
}

static int jcompile(struct jcomp *p, json_t *v, bool in_line, bool in_array, struct jnode *n);

static int jdirectives(struct jcomp *p, json_t *obj, bool in_line, bool in_array, struct jnode *n,
		       bool *child_line)
{
	json_t *each = json_object_get(obj, "sp-each"), *ln = json_object_get(obj, "sp-line");
	json_t *cif = json_object_get(obj, "sp-if"), *cun = json_object_get(obj, "sp-unless");
	*child_line = in_line;
	if (each || ln) {
		int line = jline(p, each ? "sp-each" : "sp-line");
		if (in_line)
			return sp_err(p->err, p->errlen, "%s:%d: nested line blocks", p->sc->file, line);
		if (each && !in_array)
			return sp_err(p->err, p->errlen, "%s:%d: sp-each only on objects inside an array",
				      p->sc->file, line);
		if (each && (!json_is_string(each) || strcmp(json_string_value(each), "line")))
			return sp_err(p->err, p->errlen, "%s:%d: only \"sp-each\": \"line\" exists", p->sc->file, line);
		if (ln && (!json_is_integer(ln) || json_integer_value(ln) < 1 ||
			   json_integer_value(ln) > SP_MAX_LINES || each))
			return sp_err(p->err, p->errlen, "%s:%d: \"sp-line\" needs a number 1-%d (and no sp-each)",
				      p->sc->file, line, SP_MAX_LINES);
		n->d.each = each != NULL;
		n->d.fixed_line = ln ? (long)json_integer_value(ln) : 0;
		*child_line = true;
	}
	if (cif && cun)
		return sp_err(p->err, p->errlen, "%s:%d: sp-if and sp-unless on one object", p->sc->file, jline(p, "sp-unless"));
	json_t *c = cif ? cif : cun;
	if (c) {
		int line = jline(p, cif ? "sp-if" : "sp-unless");
		if (!json_is_string(c))
			return sp_err(p->err, p->errlen, "%s:%d: condition must be a string", p->sc->file, line);
		if (lcond_compile(p->sc, json_string_value(c), cun != NULL, *child_line, &n->d.cond, line,
				  p->err, p->errlen) < 0)
			return -1;
	}
	return 0;
}

static int jcompile(struct jcomp *p, json_t *v, bool in_line, bool in_array, struct jnode *n)
{
	if (json_is_string(v)) {
		n->type = JN_STR;
		return ltmpl_compile(p->sc, json_string_value(v), in_line, &n->t, jline(p, json_string_value(v)),
				     p->err, p->errlen);
	}
	if (json_is_array(v)) {
		n->type = JN_ARR;
		n->kids = xcalloc(json_array_size(v) + 1, sizeof(*n->kids));
		for (size_t i = 0; i < json_array_size(v); i++) {
			n->nkids++;
			if (jcompile(p, json_array_get(v, i), in_line, true, &n->kids[i]) < 0)
				return -1;
		}
		return 0;
	}
	if (json_is_object(v)) {
		bool child_line;
		const char *k;
		json_t *m;
		n->type = JN_OBJ;
		if (jdirectives(p, v, in_line, in_array, n, &child_line) < 0)
			return -1;
		n->kids = xcalloc(json_object_size(v) + 1, sizeof(*n->kids));
		json_object_foreach(v, k, m) {
			if (is_directive(k))
				continue;
			struct jnode *kid = &n->kids[n->nkids++];
			kid->key = xstrdup(k);
			if (strstr(k, "{{"))
				return sp_err(p->err, p->errlen, "%s:%d: member names are fixed text", p->sc->file, jline(p, k));
			if (jcompile(p, m, child_line, false, kid) < 0)
				return -1;
		}
		return 0;
	}
	n->type = JN_LIT;
	if (!(n->lit = json_dumps(v, JSON_ENCODE_ANY)))
		return sp_err(p->err, p->errlen, "%s:%d: cannot encode a literal", p->sc->file, p->line0);
	return 0;
}

static int json_compile(struct lscope *sc, const char *body, size_t len, int line0, void **skel,
			char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return sp_err(err, errlen, "%s:%d: %s", sc->file, line0 + je.line - 1, je.text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return sp_err(err, errlen, "%s:%d: the body must be a JSON object", sc->file, line0);
	}
	struct jcomp p = { sc, body, line0, err, errlen };
	struct jnode *root = xcalloc(1, sizeof(*root));
	int rc = jcompile(&p, doc, false, false, root);
	if (rc == 0 && (root->d.each || root->d.fixed_line || root->d.cond.set))
		rc = sp_err(err, errlen, "%s:%d: no sp-* directives on the root object", sc->file, line0);
	json_decref(doc);
	if (rc < 0)
		json_free(root);
	else
		*skel = root;
	return rc;
}

/* A JSON string as Jansson writes it: '"', '\\' and C0 controls escaped
 * (the short forms where JSON has them, else \u00XX), everything else,
 * UTF-8 included, as is.  The text is valid UTF-8: the skeleton's, parsed
 * by Jansson, and values, which ltmpl_expand refuses otherwise
 * (value_check); controls come only from the skeleton's own text. */
static void jstring(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *run = s;
	buf_add(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		buf_add(out, run, (size_t)((const char *)p - run));
		run = (const char *)p + 1;
		char e[6] = { '\\', 0 };
		size_t n = 2;
		switch (*p) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:
			memcpy(e + 1, "u00", 3);
			e[4] = hex[*p >> 4];
			e[5] = hex[*p & 15];
			n = 6;
		}
		buf_add(out, e, n);
	}
	buf_adds(out, run);
	buf_add(out, "\"", 1);
}

/* A newline and two spaces per level, as JSON_INDENT(2). */
static void jindent(struct buf *out, int depth)
{
	static const char sp[] = "                                ";
	buf_add(out, "\n", 1);
	for (size_t n = 2 * (size_t)depth, k; n; n -= k)
		buf_add(out, sp, k = n < sizeof(sp) - 1 ? n : sizeof(sp) - 1);
}

static int jemit(struct rctx *c, const struct jnode *n, struct buf *out, int depth);

/* One member or element of a container being written. */
struct jadd {
	const struct jnode *n;
	struct buf *out;
	int depth;                          /* the container's */
	size_t items;                       /* written so far */
};

static int jadd_cb(struct rctx *c, void *arg)
{
	struct jadd *a = arg;
	if (a->items++)
		buf_add(a->out, ",", 1);
	jindent(a->out, a->depth + 1);
	if (a->n->key) {
		jstring(a->out, a->n->key);
		buf_add(a->out, ": ", 2);
	}
	return jemit(c, a->n, a->out, a->depth + 1);
}

static int jemit(struct rctx *c, const struct jnode *n, struct buf *out, int depth)
{
	switch (n->type) {
	case JN_STR: {
		const char *s = ltmpl_expand(c, &n->t);
		if (!s)
			return -1;
		jstring(out, s);
		return 0;
	}
	case JN_LIT:
		buf_adds(out, n->lit);
		return 0;
	default:
		break;
	}
	struct jadd a = { NULL, out, depth, 0 };
	buf_add(out, n->type == JN_ARR ? "[" : "{", 1);
	for (size_t i = 0; i < n->nkids; i++) {
		const struct jnode *k = &n->kids[i];
		a.n = k;
		/* A directive belongs to the object that carries it. */
		if ((k->type == JN_OBJ ? ldirect_run(c, &k->d, jadd_cb, &a) : jadd_cb(c, &a)) < 0)
			return -1;
	}
	if (a.items)
		jindent(out, depth);
	buf_add(out, n->type == JN_ARR ? "]" : "}", 1);
	return 0;
}

static int json_render(struct rctx *c, const void *skel, struct buf *out)
{
	size_t len = out->len;
	bool overflow = out->overflow;
	if (jemit(c, skel, out, 0) < 0) {
		out->len = len;         /* nothing written, as before */
		out->overflow = overflow;
		return -1;
	}
	buf_add(out, "\n", 1);
	return 0;
}

const struct layout_format layout_format_json = {
	.name = "json",
	.marks_version = false,
	.compile = json_compile,
	.render = json_render,
	.free = json_free,
};
