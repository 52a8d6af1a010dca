/*
 * render_xml.c: XML layouts through libxml2's tree.  The layout is parsed
 * once (no network, no DTD loading, no entity substitution; a DOCTYPE or any
 * subset is refused) into a small skeleton; render builds a fresh document
 * from it, putting values in only as text nodes and attribute values through
 * the tree API, never as markup.  It does not keep layout comments or PIs.
 * libxml2 ownership: xmlFreeDoc frees a whole tree; xmlDocDumpFormatMemoryEnc
 * returns memory released with xmlFree; xmlNewProp/xmlNewDocText copy.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "layout_format.h"
#include "placeholder.h"
#include "sipprov.h"

enum { XN_ELEM, XN_TEXT };

struct xattr {
	char *name;
	bool name_n;                        /* has the line-number token N */
	char *ns_href;
	struct ltmpl v;
};

struct xnode {
	int type;
	char *name;
	bool name_n;
	char *ns_href;
	char **nsdef_prefix, **nsdef_href;
	size_t nnsdef;
	struct xattr *attrs;
	size_t nattrs;
	struct ltmpl text;                  /* XN_TEXT */
	struct ldirect d;
	bool block;                         /* <sp-block>: emits only its children */
	struct xnode *kids;
	size_t nkids;
};

static void xnode_release(struct xnode *n)
{
	free(n->name);
	free(n->ns_href);
	for (size_t i = 0; i < n->nnsdef; i++) {
		free(n->nsdef_prefix[i]);
		free(n->nsdef_href[i]);
	}
	free(n->nsdef_prefix);
	free(n->nsdef_href);
	for (size_t i = 0; i < n->nattrs; i++) {
		free(n->attrs[i].name);
		free(n->attrs[i].ns_href);
		ltmpl_release(&n->attrs[i].v);
	}
	free(n->attrs);
	ltmpl_release(&n->text);
	lcond_release(&n->d.cond);
	for (size_t i = 0; i < n->nkids; i++)
		xnode_release(&n->kids[i]);
	free(n->kids);
}

static void xml_free(void *skel)
{
	struct xnode *n = skel;
	if (!n)
		return;
	xnode_release(n);
	free(n);
}

struct xcomp {
	struct lscope *sc;
	int line0;
	int in_key;                         /* inside an sp-each="key" element */
	char *err;
	size_t errlen;
};

static int xline(const struct xcomp *p, xmlNodePtr node)
{
	long l = node ? xmlGetLineNo(node) : 0;
	return p->line0 + (l > 0 ? (int)l : 1) - 1;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

static int xcompile(struct xcomp *p, xmlNodePtr e, bool in_line, struct xnode *n);

static int xdirective(struct xcomp *p, xmlNodePtr e, const char *name, const char *val, bool *in_line,
		      struct xnode *n)
{
	int line = xline(p, e);
	if (strcmp(name, "sp-each") == 0 && (strcmp(val, "key") == 0 || strcmp(val, "ext") == 0)) {
		/* Per line key: key.* variables, and N in names is the key number,
		 * so it may not sit inside (or hold) a line block. */
		if (*in_line || p->in_key)
			return sp_err(p->err, p->errlen, "%s:%d: sp-each=\"%s\" inside a line or key block",
				      p->sc->file, line, val);
		if (val[0] == 'k')
			n->d.each_key = true;
		else
			n->d.each_ext = true;
		return 0;
	}
	if (strcmp(name, "sp-each") == 0) {
		if (strcmp(val, "line"))
			return sp_err(p->err, p->errlen, "%s:%d: only sp-each=\"line\", \"key\" and \"ext\" exist",
				      p->sc->file, line);
		if (*in_line || n->d.fixed_line || p->in_key)
			return sp_err(p->err, p->errlen, "%s:%d: nested line blocks", p->sc->file, line);
		n->d.each = true;
		*in_line = true;
		return 0;
	}
	if (strcmp(name, "sp-line") == 0) {
		if (*in_line || p->in_key || sp_parse_int(val, 1, SP_MAX_LINES, &n->d.fixed_line) < 0)
			return sp_err(p->err, p->errlen, "%s:%d: sp-line needs a line 1-%d and no enclosing line block",
				      p->sc->file, line, SP_MAX_LINES);
		*in_line = true;
		return 0;
	}
	return sp_err(p->err, p->errlen, "%s:%d: unknown directive '%s' (sp-each sp-line sp-if sp-unless)",
		      p->sc->file, line, name);
}

static int xcompile_attrs(struct xcomp *p, xmlNodePtr e, bool *in_line, struct xnode *n)
{
	const char *cond = NULL;
	bool negate = false;
	size_t na = 0;
	for (xmlAttrPtr a = e->properties; a; a = a->next)
		na++;
	n->attrs = xcalloc(na + 1, sizeof(*n->attrs));
	/* Line directives first: they decide whether line.* may be used in values. */
	for (xmlAttrPtr a = e->properties; a; a = a->next) {
		const char *an = (const char *)a->name;
		xmlChar *v = xmlNodeListGetString(e->doc, a->children, 1);
		const char *vs = v ? (const char *)v : "";
		int rc = 0;
		if (!a->ns && (!strcmp(an, "sp-each") || !strcmp(an, "sp-line")))
			rc = xdirective(p, e, an, vs, in_line, n);
		xmlFree(v);
		if (rc < 0)
			return -1;
	}
	for (xmlAttrPtr a = e->properties; a; a = a->next) {
		const char *an = (const char *)a->name;
		int line = xline(p, e);
		if (!a->ns && (!strcmp(an, "sp-each") || !strcmp(an, "sp-line")))
			continue;
		xmlChar *v = xmlNodeListGetString(e->doc, a->children, 1);
		const char *vs = v ? (const char *)v : "";
		int rc = 0;
		if (!a->ns && (!strcmp(an, "sp-if") || !strcmp(an, "sp-unless"))) {
			if (cond)
				rc = sp_err(p->err, p->errlen, "%s:%d: one sp-if or sp-unless per element", p->sc->file, line);
			else
				rc = lcond_compile(p->sc, vs, an[3] == 'u', *in_line, &n->d.cond, line, p->err, p->errlen);
			cond = an;
			negate = an[3] == 'u';
		} else if (!a->ns && !strncmp(an, "sp-", 3)) {
			rc = xdirective(p, e, an, vs, in_line, n);
		} else {
			struct xattr *x = &n->attrs[n->nattrs++];
			x->name = xstrdup(an);
			x->name_n = lname_has_n(an);
			if (a->ns)
				x->ns_href = xstrdup((const char *)a->ns->href);
			if (x->name_n && ((!*in_line && !p->in_key && !n->d.each_key && !n->d.each_ext) || lname_leading_n(an)))
				rc = sp_err(p->err, p->errlen, "%s:%d: attribute name '%s' uses N outside a line block",
					    p->sc->file, line, an);
			if (rc == 0)
				rc = ltmpl_compile(p->sc, vs, *in_line, &x->v, line, p->err, p->errlen);
		}
		xmlFree(v);
		if (rc < 0)
			return -1;
	}
	(void)negate;
	return 0;
}

static int xcompile(struct xcomp *p, xmlNodePtr e, bool in_line, struct xnode *n)
{
	int line = xline(p, e);
	n->type = XN_ELEM;
	n->name = xstrdup((const char *)e->name);
	if (e->ns)
		n->ns_href = xstrdup((const char *)e->ns->href);
	for (xmlNsPtr ns = e->nsDef; ns; ns = ns->next) {
		n->nsdef_prefix = xrealloc(n->nsdef_prefix, (n->nnsdef + 1) * sizeof(char *));
		n->nsdef_href = xrealloc(n->nsdef_href, (n->nnsdef + 1) * sizeof(char *));
		n->nsdef_prefix[n->nnsdef] = ns->prefix ? xstrdup((const char *)ns->prefix) : NULL;
		n->nsdef_href[n->nnsdef] = xstrdup(ns->href ? (const char *)ns->href : "");
		n->nnsdef++;
	}
	if (xcompile_attrs(p, e, &in_line, n) < 0)
		return -1;
	n->block = !e->ns && strcmp(n->name, "sp-block") == 0;
	if (n->block && (n->nattrs || n->nnsdef))
		return sp_err(p->err, p->errlen, "%s:%d: sp-block takes only sp-* directives", p->sc->file, line);
	n->name_n = lname_has_n(n->name);
	if (n->name_n && ((!in_line && !p->in_key && !n->d.each_key && !n->d.each_ext) || lname_leading_n(n->name)))
		return sp_err(p->err, p->errlen, "%s:%d: element name '%s' uses N outside a line or key block",
			      p->sc->file, line, n->name);
	if (n->d.each_key || n->d.each_ext)
		p->in_key++;                    /* until this element's children are done */
	size_t nk = 0;
	bool has_elem = false;
	for (xmlNodePtr k = e->children; k; k = k->next) {
		nk++;
		has_elem |= k->type == XML_ELEMENT_NODE;
	}
	n->kids = xcalloc(nk + 1, sizeof(*n->kids));
	for (xmlNodePtr k = e->children; k; k = k->next) {
		switch (k->type) {
		case XML_ELEMENT_NODE:
			if (xcompile(p, k, in_line, &n->kids[n->nkids++]) < 0)
				return -1;
			break;
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE: {
			const char *t = (const char *)k->content;
			if (!t || ((has_elem || n->block) && blank(t)))
				break;
			if (n->block)
				return sp_err(p->err, p->errlen, "%s:%d: text directly inside sp-block", p->sc->file,
					      xline(p, k));
			struct xnode *x = &n->kids[n->nkids++];
			x->type = XN_TEXT;
			if (ltmpl_compile(p->sc, t, in_line, &x->text, xline(p, k), p->err, p->errlen) < 0)
				return -1;
			break;
		}
		case XML_COMMENT_NODE:
		case XML_PI_NODE:
			break;
		default:
			return sp_err(p->err, p->errlen, "%s:%d: entity references and other node types are not allowed",
				      p->sc->file, xline(p, k));
		}
	}
	if (n->d.each_key || n->d.each_ext)
		p->in_key--;
	return 0;
}

static void xml_silent(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static int xml_compile(struct lscope *sc, const char *body, size_t len, int line0, void **skel,
		       char *err, size_t errlen)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc = NULL;
	struct xnode *root = NULL;
	int rc = -1;
	xmlInitParser();
	if (len > (size_t)INT_MAX)          /* xmlCtxtReadMemory takes an int */
		return sp_err(err, errlen, "%s: too large", sc->file);
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return sp_err(err, errlen, "%s: cannot create an XML parser", sc->file);
	ctxt->sax->serror = xml_silent;
	ctxt->vctxt.error = NULL;
	ctxt->vctxt.warning = NULL;
	/* NONET; deliberately no NOENT, no DTDLOAD, no DTDATTR, no XINCLUDE. */
	doc = xmlCtxtReadMemory(ctxt, body, (int)len, sc->file, "UTF-8", XML_PARSE_NONET | XML_PARSE_NOCDATA);
	if (!doc || !ctxt->wellFormed) {
		xmlErrorPtr e = xmlCtxtGetLastError(ctxt);
		char msg[256];
		sp_strlcpy(msg, e && e->message ? e->message : "not well-formed XML", sizeof(msg));
		msg[strcspn(msg, "\n")] = '\0';
		/* libxml2 counts lines from the body; "tag a line 3" means file line line0+2. */
		char fixed[320];
		size_t o = 0;
		for (const char *q = msg; *q && o + 16 < sizeof(fixed);) {
			long ln;
			char *end;
			if (!strncmp(q, "line ", 5) && q[5] >= '0' && q[5] <= '9' &&
			    (ln = strtol(q + 5, &end, 10)) > 0 && ln < 1000000) {
				o += (size_t)snprintf(fixed + o, sizeof(fixed) - o, "line %ld", ln + line0 - 1);
				q = end;
				continue;
			}
			fixed[o++] = *q++;
		}
		fixed[o] = '\0';
		sp_err(err, errlen, "%s:%d: %s", sc->file, line0 + (e && e->line > 0 ? e->line : 1) - 1, fixed);
		goto out;
	}
	if (doc->intSubset || doc->extSubset) {
		int dl = lbody_line(body, "<!DOCTYPE");
		sp_err(err, errlen, "%s:%d: DOCTYPE (DTD, entity declarations) not allowed in a layout", sc->file,
		       line0 + (dl > 0 ? dl : 1) - 1);
		goto out;
	}
	struct xcomp p = { .sc = sc, .line0 = line0, .err = err, .errlen = errlen };
	xmlNodePtr top = xmlDocGetRootElement(doc);
	if (!top) {
		sp_err(err, errlen, "%s:%d: no root element", sc->file, line0);
		goto out;
	}
	root = xcalloc(1, sizeof(*root));
	if (xcompile(&p, top, false, root) < 0)
		goto out;
	if (root->d.each || root->d.each_key || root->d.each_ext || root->d.fixed_line || root->d.cond.set ||
	    root->block) {
		sp_err(err, errlen, "%s:%d: no sp-* directives on the root element", sc->file, xline(&p, top));
		goto out;
	}
	*skel = root;
	root = NULL;
	rc = 0;
out:
	xml_free(root);
	if (doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return rc;
}

struct xadd {
	const struct xnode *n;
	xmlDocPtr doc;
	xmlNodePtr parent;
};

static int xemit(struct rctx *c, const struct xnode *n, xmlDocPtr doc, xmlNodePtr parent);

/* The number N stands for in a name: the line key's inside a key block,
 * else the account line's. */
static long xname_n(const struct rctx *c)
{
	return c->key > 0 ? c->key : c->a ? c->a->line : 0;
}

static int xadd_cb(struct rctx *c, void *arg)
{
	struct xadd *a = arg;
	return xemit(c, a->n, a->doc, a->parent);
}

static int xemit(struct rctx *c, const struct xnode *n, xmlDocPtr doc, xmlNodePtr parent)
{
	char name[256];
	const char *nm = n->name;
	if (n->block) {
		for (size_t i = 0; i < n->nkids; i++) {
			const struct xnode *k = &n->kids[i];
			if (k->type == XN_TEXT)
				continue;           /* text directly in a block is layout whitespace */
			struct xadd a = { k, doc, parent };
			if (ldirect_run(c, &k->d, xadd_cb, &a) < 0)
				return -1;
		}
		return 0;
	}
	if (n->name_n) {
		lname_subst(n->name, xname_n(c), name, sizeof(name));
		nm = name;
	}
	xmlNodePtr node = xmlNewDocNode(doc, NULL, BAD_CAST nm, NULL);
	if (!node)
		return sp_err(c->err, c->errlen, "out of memory building XML");
	if (parent)
		xmlAddChild(parent, node);
	else
		xmlDocSetRootElement(doc, node);
	for (size_t i = 0; i < n->nnsdef; i++)
		xmlNewNs(node, BAD_CAST n->nsdef_href[i], BAD_CAST n->nsdef_prefix[i]);
	if (n->ns_href)
		xmlSetNs(node, xmlSearchNsByHref(doc, node, BAD_CAST n->ns_href));
	for (size_t i = 0; i < n->nattrs; i++) {
		const struct xattr *x = &n->attrs[i];
		char an[256];
		const char *s = ltmpl_expand(c, &x->v);
		if (!s)
			return -1;
		const char *aname = x->name;
		if (x->name_n) {
			lname_subst(x->name, xname_n(c), an, sizeof(an));
			aname = an;
		}
		/* xmlNewProp stores the value as text: it is escaped on output. */
		xmlAttrPtr a = x->ns_href
			? xmlNewNsProp(node, xmlSearchNsByHref(doc, node, BAD_CAST x->ns_href), BAD_CAST aname, BAD_CAST s)
			: xmlNewProp(node, BAD_CAST aname, BAD_CAST s);
		if (!a)
			return sp_err(c->err, c->errlen, "cannot set attribute '%s'", aname);
	}
	for (size_t i = 0; i < n->nkids; i++) {
		const struct xnode *k = &n->kids[i];
		if (k->type == XN_TEXT) {
			const char *s = ltmpl_expand(c, &k->text);
			if (!s)
				return -1;
			xmlNodePtr t = xmlNewDocText(doc, BAD_CAST s);
			if (!t)
				return sp_err(c->err, c->errlen, "out of memory building XML");
			xmlAddChild(node, t);
			continue;
		}
		struct xadd a = { k, doc, node };
		if (ldirect_run(c, &k->d, xadd_cb, &a) < 0)
			return -1;
	}
	return 0;
}

static int xml_render(struct rctx *c, const void *skel, struct buf *out)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlChar *mem = NULL;
	int size = 0, rc = -1;
	char label[sizeof(c->e->version_label) + 32];
	size_t o = 0;
	if (!doc)
		return sp_err(c->err, c->errlen, "out of memory building XML");
	if (xemit(c, skel, doc, NULL) < 0)
		goto out;
	/* The version marker: "--" may not appear in a comment. */
	o = (size_t)snprintf(label, sizeof(label), " sipprov: ");
	for (const char *s = c->e->version_label; *s && o + 2 < sizeof(label); s++) {
		if (*s == '-' && o && label[o - 1] == '-')
			continue;
		label[o++] = *s;
	}
	label[o++] = ' ';
	label[o] = '\0';
	if (!sp_text_ok(label)) {
		sp_err(c->err, c->errlen, "version label is not valid text");
		goto out;
	}
	xmlNodePtr com = xmlNewDocComment(doc, BAD_CAST label);
	if (!com || !xmlAddPrevSibling(xmlDocGetRootElement(doc), com)) {
		sp_err(c->err, c->errlen, "out of memory building XML");
		goto out;
	}
	/* What the keys were checked against (the header's "references:",
	 * checked at load: one line, no "--"), right after the marker. */
	if (c->refs && *c->refs) {
		char refs[600];
		snprintf(refs, sizeof(refs), " keys checked against: %s ", c->refs);
		xmlNodePtr rc2 = xmlNewDocComment(doc, BAD_CAST refs);
		if (!rc2 || !xmlAddNextSibling(com, rc2)) {
			xmlFreeNode(rc2);
			sp_err(c->err, c->errlen, "out of memory building XML");
			goto out;
		}
	}
	xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 1);
	if (!mem || size <= 0) {
		sp_err(c->err, c->errlen, "cannot serialize XML");
		goto out;
	}
	buf_add(out, mem, (size_t)size);
	rc = 0;
out:
	xmlFree(mem);
	xmlFreeDoc(doc);
	return rc;
}

const struct layout_format layout_format_xml = {
	.name = "xml",
	.marks_version = true,              /* xml_render adds <!-- sipprov: LABEL --> */
	.compile = xml_compile,
	.render = xml_render,
	.free = xml_free,
};
