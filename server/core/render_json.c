/*
 * render_json.c: JSON layouts through Jansson.  String values of the
 * skeleton are templates and come out as json_string (data, never JSON
 * text); numbers, booleans and null are copied.  Objects may carry
 * "sp-each": "line", "sp-line": N, "sp-if"/"sp-unless": COND, which are
 * removed from the output.  Jansson: json_*_set_new and json_array_append_new
 * steal the value; json_dumps returns malloc'd text we free().
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
	json_t *lit;                        /* JN_LIT */
	struct jnode *kids;
	size_t nkids;
};

static void jnode_release(struct jnode *n)
{
	free(n->key);
	lcond_release(&n->d.cond);
	ltmpl_release(&n->t);
	if (n->lit)
		json_decref(n->lit);
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
	n->lit = json_incref(v);
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

static json_t *jemit(struct rctx *c, const struct jnode *n);

struct jadd {
	const struct jnode *n;
	json_t *parent;
};

static int jadd_cb(struct rctx *c, void *arg)
{
	struct jadd *a = arg;
	json_t *v = jemit(c, a->n);
	if (!v)
		return -1;
	if (json_is_array(a->parent))
		json_array_append_new(a->parent, v);
	else
		json_object_set_new(a->parent, a->n->key, v);
	return 0;
}

static json_t *jemit(struct rctx *c, const struct jnode *n)
{
	json_t *v;
	switch (n->type) {
	case JN_STR: {
		const char *s = ltmpl_expand(c, &n->t);
		if (!s)
			return NULL;
		v = json_string(s);
		if (!v)
			sp_err(c->err, c->errlen, "value is not valid UTF-8");
		return v;
	}
	case JN_LIT:
		/* A copy, not json_incref: layouts are shared by request threads. */
		return json_deep_copy(n->lit);
	default:
		break;
	}
	v = n->type == JN_ARR ? json_array() : json_object();
	for (size_t i = 0; i < n->nkids; i++) {
		const struct jnode *k = &n->kids[i];
		struct jadd a = { k, v };
		/* A directive belongs to the object that carries it. */
		int rc = k->type == JN_OBJ ? ldirect_run(c, &k->d, jadd_cb, &a) : jadd_cb(c, &a);
		if (rc < 0) {
			json_decref(v);
			return NULL;
		}
	}
	return v;
}

static int json_render(struct rctx *c, const void *skel, struct buf *out)
{
	json_t *doc = jemit(c, skel);
	if (!doc)
		return -1;
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!s)
		return sp_err(c->err, c->errlen, "cannot encode JSON");
	buf_adds(out, s);
	buf_add(out, "\n", 1);
	free(s);
	return 0;
}

const struct layout_format layout_format_json = {
	.name = "json",
	.marks_version = false,
	.compile = json_compile,
	.render = json_render,
	.free = json_free,
};
