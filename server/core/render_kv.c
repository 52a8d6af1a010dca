/*
 * render_kv.c: key=value layouts (Yealink, Fanvil .cfg).  Every body line is
 * a template; block lines {{#each line}} {{#line N}} {{#if C}} {{#unless C}}
 * ... {{/each}} etc. repeat or drop the lines between.  Values can never
 * contain CR/LF/NUL (ltmpl_expand refuses them), so a value cannot add a key.
 */
#include <stdlib.h>
#include <string.h>

#include "layout_format.h"
#include "placeholder.h"
#include "sipprov.h"

struct kitem {
	int line;                           /* in the layout file */
	bool block;
	struct ldirect d;                   /* block */
	struct kitem *kids;
	size_t nkids;
	struct ltmpl t;                     /* text line */
};

struct kv_parse {
	struct lscope *sc;
	char **lines;
	size_t n, i;
	int line0;
	char *err;
	size_t errlen;
};

static void kitems_free(struct kitem *k, size_t n)
{
	for (size_t i = 0; k && i < n; i++) {
		if (k[i].block) {
			lcond_release(&k[i].d.cond);
			kitems_free(k[i].kids, k[i].nkids);
		} else {
			ltmpl_release(&k[i].t);
		}
	}
	free(k);
}

/* "{{#each line}}" -> kind "each", arg "line"; returns false if not a block line. */
static bool kv_block_line(const char *s, char open_close, char *kind, size_t kl, char *arg, size_t al)
{
	size_t n = strlen(s);
	if (n < 6 || strncmp(s, "{{", 2) || s[2] != open_close || strcmp(s + n - 2, "}}"))
		return false;
	char body[256];
	if (n - 5 >= sizeof(body))
		return false;
	memcpy(body, s + 3, n - 5);
	body[n - 5] = '\0';
	char *sp = strchr(body, ' ');
	if (sp)
		*sp++ = '\0';
	sp_strlcpy(kind, body, kl);
	sp_strlcpy(arg, sp ? sp : "", al);
	return true;
}

static int kv_parse_block(struct kv_parse *p, bool in_line, const char *end, int open_line,
			  struct kitem **out, size_t *nout)
{
	struct kitem *v = NULL;
	size_t n = 0;
	while (p->i < p->n) {
		const char *s = p->lines[p->i];
		int line = p->line0 + (int)p->i;
		char kind[32], arg[200];
		p->i++;
		if (kv_block_line(s, '/', kind, sizeof(kind), arg, sizeof(arg))) {
			if (!end || strcmp(kind, end)) {
				sp_err(p->err, p->errlen, "%s:%d: '%s' does not close an open block%s%s", p->sc->file,
				       line, s, end ? ", expected {{/" : "", end ? end : "");
				if (end)
					sp_strlcpy(p->err + strlen(p->err), "}}", p->errlen - strlen(p->err));
				goto fail;
			}
			*out = v;
			*nout = n;
			return 0;
		}
		v = xrealloc(v, (n + 1) * sizeof(*v));
		struct kitem *k = &v[n++];
		memset(k, 0, sizeof(*k));
		k->line = line;
		if (kv_block_line(s, '#', kind, sizeof(kind), arg, sizeof(arg))) {
			bool child_line = in_line;
			k->block = true;
			if (strcmp(kind, "each") == 0 && strcmp(arg, "key") == 0) {
				k->d.each_key = true;       /* key.* variables; line.* as outside */
			} else if (strcmp(kind, "each") == 0 && strcmp(arg, "ext") == 0) {
				k->d.each_ext = true;       /* the same, per expansion-module key */
			} else if (strcmp(kind, "each") == 0) {
				if (strcmp(arg, "line")) {
					sp_err(p->err, p->errlen, "%s:%d: only {{#each line}}, {{#each key}} and {{#each ext}} exist",
					       p->sc->file, line);
					goto fail;
				}
				if (in_line) {
					sp_err(p->err, p->errlen, "%s:%d: nested line blocks", p->sc->file, line);
					goto fail;
				}
				k->d.each = true;
				child_line = true;
			} else if (strcmp(kind, "line") == 0) {
				if (sp_parse_int(arg, 1, SP_MAX_LINES, &k->d.fixed_line) < 0 || in_line) {
					sp_err(p->err, p->errlen, "%s:%d: {{#line N}} needs N in 1-%d, not nested",
					       p->sc->file, line, SP_MAX_LINES);
					goto fail;
				}
				child_line = true;
			} else if (strcmp(kind, "if") == 0 || strcmp(kind, "unless") == 0) {
				if (lcond_compile(p->sc, arg, kind[0] == 'u', in_line, &k->d.cond, line, p->err,
						  p->errlen) < 0)
					goto fail;
			} else {
				sp_err(p->err, p->errlen, "%s:%d: unknown block '{{#%s}}' (each, line, if, unless)",
				       p->sc->file, line, kind);
				goto fail;
			}
			if (kv_parse_block(p, child_line, kind, line, &k->kids, &k->nkids) < 0)
				goto fail;
			continue;
		}
		if (ltmpl_compile(p->sc, s, in_line, &k->t, line, p->err, p->errlen) < 0) {
			n--;
			goto fail;
		}
	}
	if (end) {
		sp_err(p->err, p->errlen, "%s:%d: '{{#%s}}' is never closed", p->sc->file, open_line, end);
		goto fail;
	}
	*out = v;
	*nout = n;
	return 0;
fail:
	kitems_free(v, n);
	return -1;
}

/* The skeleton is one block item without a directive: the body's lines are its kids. */
static int kv_compile(struct lscope *sc, const char *body, size_t len, int line0, void **skel,
		      char *err, size_t errlen)
{
	char *text = xmalloc(len + 1);
	memcpy(text, body, len);
	text[len] = '\0';
	struct kv_parse p = { .sc = sc, .line0 = line0, .err = err, .errlen = errlen };
	char *s = text;
	while (*s) {
		char *nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		size_t n = strlen(s);
		if (n && s[n - 1] == '\r')
			s[n - 1] = '\0';
		p.lines = xrealloc(p.lines, (p.n + 1) * sizeof(char *));
		p.lines[p.n++] = s;
		if (!nl)
			break;
		s = nl + 1;
	}
	struct kitem *root = xcalloc(1, sizeof(*root));
	root->block = true;
	int rc = kv_parse_block(&p, false, NULL, line0, &root->kids, &root->nkids);
	free(p.lines);
	free(text);
	if (rc < 0)
		kitems_free(root, 1);
	else
		*skel = root;
	return rc;
}

struct kv_out {
	const struct kitem *k;
	size_t n;
	struct buf *out;
};

static int kv_emit(struct rctx *c, const struct kitem *k, size_t n, struct buf *out);

static int kv_emit_cb(struct rctx *c, void *arg)
{
	struct kv_out *o = arg;
	return kv_emit(c, o->k, o->n, o->out);
}

static int kv_emit(struct rctx *c, const struct kitem *k, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (k[i].block) {
			struct kv_out o = { k[i].kids, k[i].nkids, out };
			if (ldirect_run(c, &k[i].d, kv_emit_cb, &o) < 0)
				return -1;
			continue;
		}
		const char *s = ltmpl_expand(c, &k[i].t);
		if (!s)
			return -1;
		buf_adds(out, s);
		buf_add(out, "\n", 1);
		if (out->overflow)
			return sp_err(c->err, c->errlen, "config too large (over %zu bytes)", out->max);
	}
	return 0;
}

static int kv_render(struct rctx *c, const void *skel, struct buf *out)
{
	const struct kitem *root = skel;
	return kv_emit(c, root->kids, root->nkids, out);
}

static void kv_free(void *skel)
{
	if (skel)
		kitems_free(skel, 1);
}

const struct layout_format layout_format_kv = {
	.name = "kv",
	.marks_version = false,
	.compile = kv_compile,
	.render = kv_render,
	.free = kv_free,
};
