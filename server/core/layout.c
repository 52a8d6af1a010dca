/*
 * layout.c: vendor layouts from templates/ (header, value maps, file-name
 * routes, the {{placeholder|filter}} language shared by every format), the
 * device-facing route table, and render()'s dispatch to render_{xml,json,kv}.c.
 * It parses layouts once (layouts_load at start and on SIGHUP); it never
 * touches the database and never builds a filesystem path from a URL.
 * The layout language is documented in templates/README.md.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_int.h"
#include "sipprov.h"

struct layouts {
	size_t n;
	struct layout **v;                  /* sorted by name */
};

/* ---- placeholder variables ---- */

static const struct { const char *name; enum lvar var; } lvar_names[] = {
	{ "mac", LV_MAC }, { "MAC", LV_MAC_UPPER }, { "model", LV_MODEL }, { "label", LV_LABEL },
	{ "tenant", LV_TENANT }, { "version", LV_VERSION }, { "template", LV_TEMPLATE },
	{ "line.n", LV_LINE_N }, { "line.i", LV_LINE_I },
	{ "line.display_name", LV_LINE_DISPLAY }, { "line.extension", LV_LINE_EXT },
	{ "line.username", LV_LINE_USER }, { "line.auth_username", LV_LINE_AUTH },
	{ "line.password", LV_LINE_PASS }, { "line.token", LV_LINE_TOKEN },
};

static bool lvar_is_line(enum lvar v)
{
	return v >= LV_LINE_N;
}

static int lvar_resolve(struct layout *l, const char *name, bool in_line, enum lvar *var, char **key,
			int line, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(lvar_names) / sizeof(lvar_names[0]); i++) {
		if (strcmp(lvar_names[i].name, name))
			continue;
		if (lvar_is_line(lvar_names[i].var) && !in_line)
			return sp_err(err, errlen, "%s:%d: '%s' used outside a line block (sp-each/sp-line)",
				      l->file, line, name);
		*var = lvar_names[i].var;
		if (*var == LV_VERSION)
			l->names_version = true;
		*key = xstrdup(name);
		return 0;
	}
	if (!setting_key_ok(name))
		return sp_err(err, errlen, "%s:%d: unknown variable '%s' (device: mac MAC model label tenant "
			      "version template; line.*: n i display_name extension username auth_username "
			      "password token; or a setting key)", l->file, line, name);
	*var = LV_SETTING;
	*key = xstrdup(name);
	return 0;
}

static const char *lvar_value(struct rctx *c, enum lvar var, const char *key, char *tmp, size_t tmplen)
{
	const struct effective *e = c->e;
	const struct account *a = c->a;
	switch (var) {
	case LV_MAC: return e->device.mac;
	case LV_MAC_UPPER:
		for (size_t i = 0; i + 1 < tmplen && e->device.mac[i]; i++) {
			char ch = e->device.mac[i];
			tmp[i] = ch >= 'a' && ch <= 'f' ? (char)(ch - 32) : ch;
			tmp[i + 1] = '\0';
		}
		return tmp;
	case LV_MODEL: return e->device.model;
	case LV_LABEL: return e->device.label;
	case LV_TENANT: return e->tenant.slug;
	case LV_VERSION: return e->version_label;
	case LV_TEMPLATE: return e->template_name;
	case LV_SETTING: return effective_get(e, key);
	default: break;
	}
	if (!a)
		return "";
	switch (var) {
	case LV_LINE_N: snprintf(tmp, tmplen, "%ld", a->line); return tmp;
	case LV_LINE_I: snprintf(tmp, tmplen, "%ld", c->i); return tmp;
	case LV_LINE_DISPLAY: return a->display_name;
	case LV_LINE_EXT: return a->extension;
	case LV_LINE_USER: return a->username;
	case LV_LINE_AUTH: return a->auth_username;
	case LV_LINE_PASS: return a->password;
	case LV_LINE_TOKEN: return a->token;
	default: return "";
	}
}

/* ---- templates: "text {{ var | filter:arg | filter }} text" ---- */

static bool lname_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-';
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static const struct lmap *lmap_find(const struct layout *l, const char *name)
{
	for (size_t i = 0; i < l->nmaps; i++)
		if (strcmp(l->maps[i].name, name) == 0)
			return &l->maps[i];
	return NULL;
}

static int lfilter_compile(struct layout *l, char *spec, bool in_line, struct lfilter *f, int line,
			   char *err, size_t errlen)
{
	char *arg = strchr(spec, ':');
	if (arg)
		*arg++ = '\0';
	spec = trim(spec);
	memset(f, 0, sizeof(*f));
	if (strcmp(spec, "or") == 0 && arg) {
		f->kind = LFI_OR;
		return lvar_resolve(l, trim(arg), in_line, &f->var, &f->key, line, err, errlen);
	}
	if (strcmp(spec, "default") == 0 && arg) {
		f->kind = LFI_DEFAULT;
		f->text = xstrdup(arg);
		return 0;
	}
	if (arg)
		return sp_err(err, errlen, "%s:%d: filter '%s' takes no argument", l->file, line, spec);
	if (strcmp(spec, "sipq") == 0)
		f->kind = LFI_SIPQ;
	else if (strcmp(spec, "upper") == 0)
		f->kind = LFI_UPPER;
	else if (strcmp(spec, "lower") == 0)
		f->kind = LFI_LOWER;
	else if (strcmp(spec, "minutes") == 0)
		f->kind = LFI_MINUTES;
	else if (strcmp(spec, "host") == 0)
		f->kind = LFI_HOST;
	else if (strcmp(spec, "port") == 0)
		f->kind = LFI_PORT;
	else if ((f->map = lmap_find(l, spec)))
		f->kind = LFI_MAP;
	else
		return sp_err(err, errlen, "%s:%d: unknown filter '%s' (or:VAR default:TEXT sipq upper lower "
			      "minutes host port, or a map declared in the header)", l->file, line, spec);
	return 0;
}

static int lseg_compile(struct layout *l, const char *s, size_t n, bool in_line, struct lseg *g,
			int line, char *err, size_t errlen)
{
	char spec[512];
	if (n >= sizeof(spec))
		return sp_err(err, errlen, "%s:%d: placeholder too long", l->file, line);
	memcpy(spec, s, n);
	spec[n] = '\0';
	char *save = NULL;
	char *name = strtok_r(spec, "|", &save);
	name = name ? trim(name) : NULL;
	if (!name || !*name)
		return sp_err(err, errlen, "%s:%d: empty placeholder", l->file, line);
	for (const char *p = name; *p; p++)
		if (!lname_char(*p))
			return sp_err(err, errlen, "%s:%d: bad variable name '%s'", l->file, line, name);
	if (lvar_resolve(l, name, in_line, &g->var, &g->key, line, err, errlen) < 0)
		return -1;
	char *f;
	while ((f = strtok_r(NULL, "|", &save))) {
		if (g->nf == LAYOUT_FILTERS_MAX)
			return sp_err(err, errlen, "%s:%d: more than %d filters", l->file, line, LAYOUT_FILTERS_MAX);
		if (lfilter_compile(l, f, in_line, &g->f[g->nf], line, err, errlen) < 0) {
			g->nf++;
			return -1;
		}
		g->nf++;
	}
	return 0;
}

int ltmpl_compile(struct layout *l, const char *s, bool in_line, struct ltmpl *t, int line,
		  char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	size_t cap = 0;
	while (*s) {
		const char *open = strstr(s, "{{");
		if (t->n + 2 > cap) {
			cap = cap ? cap * 2 : 4;
			t->s = xrealloc(t->s, cap * sizeof(*t->s));
		}
		if (open != s) {
			size_t n = open ? (size_t)(open - s) : strlen(s);
			struct lseg *g = &t->s[t->n++];
			memset(g, 0, sizeof(*g));
			g->lit = xmalloc(n + 1);
			memcpy(g->lit, s, n);
			g->lit[n] = '\0';
			s += n;
			continue;
		}
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			ltmpl_release(t);
			return sp_err(err, errlen, "%s:%d: '{{' without '}}'", l->file, line);
		}
		struct lseg *g = &t->s[t->n++];
		memset(g, 0, sizeof(*g));
		if (lseg_compile(l, open + 2, (size_t)(close - open - 2), in_line, g, line, err, errlen) < 0) {
			ltmpl_release(t);
			return -1;
		}
		if (lvar_is_line(g->var))
			t->uses_line = true;
		s = close + 2;
	}
	return 0;
}

void ltmpl_release(struct ltmpl *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct lseg *g = &t->s[i];
		free(g->lit);
		free(g->key);
		for (int j = 0; j < g->nf; j++) {
			free(g->f[j].key);
			free(g->f[j].text);
		}
	}
	free(t->s);
	memset(t, 0, sizeof(*t));
}

/* Values come from admins and phones' owners: refuse what would break the
 * file or the phone, with a message naming the value. */
static int value_check(struct rctx *c, const struct lseg *g, const char *v)
{
	if (strpbrk(v, "\r\n"))
		return sp_err(c->err, c->errlen, "value of '%s'%s contains a line break; layout '%s' cannot carry it",
			      g->key, c->a ? " on this line" : "", c->l->name);
	if (!sp_text_ok(v))
		return sp_err(c->err, c->errlen, "value of '%s' has a control character or invalid UTF-8; "
			      "layout '%s' refuses it", g->key, c->l->name);
	return 0;
}

static int lfilter_apply(struct rctx *c, const struct lseg *g, const struct lfilter *f, const char *in,
			 char *out, size_t outlen)
{
	char tmp[32];
	size_t n = 0;
	switch (f->kind) {
	case LFI_OR:
		if (*in)
			break;
		in = lvar_value(c, f->var, f->key, tmp, sizeof(tmp));
		break;
	case LFI_DEFAULT:
		if (!*in)
			in = f->text;
		break;
	case LFI_SIPQ:
		for (const char *p = in; *p; p++) {
			if (n + 3 >= outlen)
				return sp_err(c->err, c->errlen, "value of '%s' too long", g->key);
			if (*p == '"' || *p == '\\')
				out[n++] = '\\';
			out[n++] = *p;
		}
		out[n] = '\0';
		return 0;
	case LFI_UPPER:
	case LFI_LOWER:
		for (; in[n] && n + 1 < outlen; n++) {
			char ch = in[n];
			if (f->kind == LFI_UPPER && ch >= 'a' && ch <= 'z')
				ch = (char)(ch - 32);
			else if (f->kind == LFI_LOWER && ch >= 'A' && ch <= 'Z')
				ch = (char)(ch + 32);
			out[n] = ch;
		}
		out[n] = '\0';
		return 0;
	case LFI_MINUTES: {
		long s;
		if (!*in)
			break;
		if (sp_parse_int(in, 0, 100000000, &s) < 0)
			return sp_err(c->err, c->errlen, "value '%s' of '%s' is not a number of seconds", in, g->key);
		snprintf(out, outlen, "%ld", (s + 59) / 60);
		return 0;
	}
	case LFI_HOST:
	case LFI_PORT: {
		/* "host", "host:port", "[v6]" or "[v6]:port"; a bare IPv6 has no port. */
		const char *colon = in[0] == '[' ? strstr(in, "]:") : strchr(in, ':');
		if (colon && in[0] == '[')
			colon++;
		else if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		if (f->kind == LFI_PORT)
			in = colon ? colon + 1 : "";
		else if (colon) {
			n = (size_t)(colon - in);
			if (n >= outlen)
				return sp_err(c->err, c->errlen, "value of '%s' too long", g->key);
			memcpy(out, in, n);
			out[n] = '\0';
			return 0;
		}
		break;
	}
	case LFI_MAP: {
		const struct lmap *m = f->map;
		size_t i;
		for (i = 0; i < m->n; i++)
			if (strcmp(m->keys[i], in) == 0)
				break;
		if (i < m->n)
			in = m->vals[i];
		else if (m->dflt)
			in = m->dflt;
		else
			return sp_err(c->err, c->errlen, "value '%s' of '%s' has no entry in map '%s' of layout '%s'",
				      in, g->key, m->name, c->l->name);
		break;
	}
	}
	if (strlen(in) >= outlen)
		return sp_err(c->err, c->errlen, "value of '%s' too long", g->key);
	memmove(out, in, strlen(in) + 1);
	return 0;
}

const char *ltmpl_expand(struct rctx *c, const struct ltmpl *t)
{
	static const char empty[] = "";
	struct buf *b = c->scratch;
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	for (size_t i = 0; i < t->n; i++) {
		const struct lseg *g = &t->s[i];
		if (g->lit) {
			buf_adds(b, g->lit);
			continue;
		}
		char tmp[32], v1[LAYOUT_VALUE_MAX], v2[LAYOUT_VALUE_MAX];
		const char *v = lvar_value(c, g->var, g->key, tmp, sizeof(tmp));
		if (g->nf) {
			char *in = v1, *out = v2;
			if (strlen(v) >= sizeof(v1)) {
				sp_err(c->err, c->errlen, "value of '%s' too long", g->key);
				return NULL;
			}
			memcpy(v1, v, strlen(v) + 1);
			for (int j = 0; j < g->nf; j++) {
				if (lfilter_apply(c, g, &g->f[j], in, out, sizeof(v1)) < 0)
					return NULL;
				char *sw = in;
				in = out;
				out = sw;
			}
			v = in;
		}
		if (value_check(c, g, v) < 0)
			return NULL;
		buf_adds(b, v);
	}
	if (b->overflow) {
		sp_err(c->err, c->errlen, "config too large");
		return NULL;
	}
	return b->data ? b->data : empty;
}

/* ---- conditions and directives ---- */

int lcond_compile(struct layout *l, const char *s, bool negate, bool in_line, struct lcond *c,
		  int line, char *err, size_t errlen)
{
	char tmp[256];
	memset(c, 0, sizeof(*c));
	if (strlen(s) >= sizeof(tmp))
		return sp_err(err, errlen, "%s:%d: condition too long", l->file, line);
	sp_strlcpy(tmp, s, sizeof(tmp));
	char *eq = strchr(tmp, '=');
	c->op = LC_NONEMPTY;
	if (eq) {
		c->op = LC_EQ;
		if (eq > tmp && eq[-1] == '!') {
			c->op = LC_NE;
			eq[-1] = '\0';
		}
		*eq = '\0';
		c->value = xstrdup(trim(eq + 1));
	}
	char *name = trim(tmp);
	for (const char *p = name; *p; p++)
		if (!lname_char(*p))
			return sp_err(err, errlen, "%s:%d: bad condition '%s' (VAR, VAR=VALUE or VAR!=VALUE)",
				      l->file, line, s);
	if (!*name)
		return sp_err(err, errlen, "%s:%d: empty condition", l->file, line);
	c->negate = negate;
	c->set = true;
	return lvar_resolve(l, name, in_line, &c->var, &c->key, line, err, errlen);
}

void lcond_release(struct lcond *c)
{
	free(c->key);
	free(c->value);
	memset(c, 0, sizeof(*c));
}

int lcond_eval(struct rctx *c, const struct lcond *cond)
{
	char tmp[32];
	if (!cond->set)
		return 1;
	const char *v = lvar_value(c, cond->var, cond->key, tmp, sizeof(tmp));
	bool r;
	if (cond->op == LC_NONEMPTY)
		r = *v != '\0';
	else if (cond->op == LC_EQ)
		r = strcmp(v, cond->value) == 0;
	else
		r = strcmp(v, cond->value) != 0;
	return r != cond->negate;
}

int ldirect_run(struct rctx *c, const struct ldirect *d, int (*fn)(struct rctx *, void *), void *arg)
{
	const struct account *save_a = c->a;
	long save_i = c->i;
	int rc = 0;
	if (d->each || d->fixed_line > 0) {
		for (size_t i = 0; i < c->nsel && rc == 0; i++) {
			if (d->fixed_line > 0 && c->sel[i]->line != d->fixed_line)
				continue;
			c->a = c->sel[i];
			c->i = (long)i;
			int ok = lcond_eval(c, &d->cond);
			if (ok > 0)
				rc = fn(c, arg);
		}
	} else if (lcond_eval(c, &d->cond) > 0) {
		rc = fn(c, arg);
	}
	c->a = save_a;
	c->i = save_i;
	return rc;
}

/* Names carry the line number as a token "N" between '.' or '_' (or at an
 * end): "reg.N.address" -> "reg.2.address", "Proxy_N_" -> "Proxy_2_". */
static bool lname_sep(char ch)
{
	return ch == '.' || ch == '_' || ch == '\0';
}

bool lname_has_n(const char *name)
{
	for (const char *p = name; *p; p++)
		if (*p == 'N' && (p == name || lname_sep(p[-1])) && lname_sep(p[1]))
			return true;
	return false;
}

bool lname_leading_n(const char *name)
{
	return name[0] == 'N' && lname_sep(name[1]);
}

void lname_subst(const char *name, long n, char *out, size_t outlen)
{
	size_t o = 0;
	for (const char *p = name; *p && o + 1 < outlen; p++) {
		if (*p == 'N' && (p == name || lname_sep(p[-1])) && lname_sep(p[1])) {
			int w = snprintf(out + o, outlen - o, "%ld", n);
			if (w < 0 || (size_t)w >= outlen - o)
				break;
			o += (size_t)w;
			continue;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

int lbody_line(const char *body, const char *needle)
{
	const char *p = needle && *needle ? strstr(body, needle) : NULL;
	if (!p)
		return 0;
	int line = 1;
	for (const char *q = body; q < p; q++)
		if (*q == '\n')
			line++;
	return line;
}

/* ---- routes ---- */

static const char *const route_ph[] = { "{mac}", "{MAC}", "{token}", "{model}", "{xx}" };

static int route_check(struct layout *l, struct lroute *r, int line, char *err, size_t errlen)
{
	const char *p = r->pat;
	int nmac = 0, ntok = 0;
	if (!*p)
		return sp_err(err, errlen, "%s:%d: empty route", l->file, line);
	while (*p) {
		if (*p == '{') {
			size_t i;
			for (i = 0; i < sizeof(route_ph) / sizeof(route_ph[0]); i++)
				if (strncmp(p, route_ph[i], strlen(route_ph[i])) == 0)
					break;
			if (i == sizeof(route_ph) / sizeof(route_ph[0]))
				return sp_err(err, errlen, "%s:%d: unknown placeholder in route '%s' "
					      "({mac} {MAC} {token} {model} {xx})", l->file, line, r->pat);
			nmac += i <= 1;
			ntok += i == 2;
			p += strlen(route_ph[i]);
			/* {model} is greedy: what follows must not be [a-z0-9] */
			if (i == 3 && (*p == '\0' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '{'))
				return sp_err(err, errlen, "%s:%d: {model} in route '%s' must be followed by "
					      "a separator", l->file, line, r->pat);
			continue;
		}
		if (!(lname_char(*p) || *p == '/'))
			return sp_err(err, errlen, "%s:%d: bad character in route '%s'", l->file, line, r->pat);
		if (*p == '/' && (p[1] == '/' || p[1] == '\0'))
			return sp_err(err, errlen, "%s:%d: bad route '%s'", l->file, line, r->pat);
		p++;
	}
	if (strstr(r->pat, ".."))
		return sp_err(err, errlen, "%s:%d: bad route '%s'", l->file, line, r->pat);
	if (r->kind == ROUTE_COMMON && (nmac || ntok))
		return sp_err(err, errlen, "%s:%d: common route '%s' must not name a device", l->file, line, r->pat);
	if (r->kind == ROUTE_UPLOAD && (nmac != 1 || ntok))
		return sp_err(err, errlen, "%s:%d: upload route '%s' needs one {mac}", l->file, line, r->pat);
	if (r->kind == ROUTE_MAC) {
		if (nmac + ntok != 1)
			return sp_err(err, errlen, "%s:%d: route '%s' needs exactly one {mac}, {MAC} or {token}",
				      l->file, line, r->pat);
		if (ntok)
			r->kind = ROUTE_TOKEN;
	}
	return 0;
}

static int hexv(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* s is the path without its leading '/' when pat has none. */
static bool route_pat_match(const char *pat, const char *s, struct route_match *m)
{
	while (*pat) {
		if (*pat != '{') {
			if (*pat++ != *s++)
				return false;
			continue;
		}
		if (!strncmp(pat, "{mac}", 5) || !strncmp(pat, "{MAC}", 5)) {
			for (int i = 0; i < SP_MAC_LEN; i++) {
				int v = hexv(s[i]);
				if (v < 0)
					return false;
				m->mac[i] = "0123456789abcdef"[v];
			}
			m->mac[SP_MAC_LEN] = '\0';
			s += SP_MAC_LEN;
			pat += 5;
		} else if (!strncmp(pat, "{token}", 7)) {
			for (int i = 0; i < SP_TOKEN_HEX; i++) {
				if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
					return false;
				m->token[i] = s[i];
			}
			m->token[SP_TOKEN_HEX] = '\0';
			s += SP_TOKEN_HEX;
			pat += 7;
		} else if (!strncmp(pat, "{model}", 7)) {
			int n = 0;
			while (n < 17 && ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9')))
				n++;
			if (n < 1 || n > 16)
				return false;
			s += n;
			pat += 7;
		} else if (!strncmp(pat, "{xx}", 4)) {
			if (hexv(s[0]) < 0 || hexv(s[1]) < 0)
				return false;
			s += 2;
			pat += 4;
		} else {
			return false;
		}
	}
	return *s == '\0';
}

static bool route_path_ok(const char *path)
{
	size_t n = strnlen(path, 258);
	if (n == 0 || n > 256 || path[0] != '/')
		return false;
	if (strstr(path, "..") || strstr(path, "//"))
		return false;
	for (const char *p = path; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch <= 0x20 || ch >= 0x7f || ch == '%' || ch == '?' || ch == '#' || ch == '\\')
			return false;
	}
	return true;
}

int route_match(const struct layouts *l, const char *path, struct route_match *m)
{
	memset(m, 0, sizeof(*m));
	if (!l || !path || !route_path_ok(path))
		return 0;
	/* Fixed common names first: Polycom's 000000000000.cfg also looks like {mac}.cfg. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < l->n; i++) {
			const struct layout *y = l->v[i];
			for (size_t r = 0; r < y->nroutes; r++) {
				const struct lroute *rt = &y->routes[r];
				if ((rt->kind == ROUTE_COMMON) != (pass == 0))
					continue;
				const char *s = rt->pat[0] == '/' ? path : path + 1;
				struct route_match t;
				memset(&t, 0, sizeof(t));
				if (!route_pat_match(rt->pat, s, &t))
					continue;
				t.kind = rt->kind;
				t.layout = y;
				sp_strlcpy(t.pattern, rt->pat, sizeof(t.pattern));
				*m = t;
				return 1;
			}
		}
	}
	return 0;
}

/* {MAC} and {mac} match the same names, so they are the same pattern here. */
static bool route_pat_equiv(const char *a, const char *b)
{
	for (;;) {
		if (!strncmp(a, "{MAC}", 5) || !strncmp(a, "{mac}", 5)) {
			if (strncmp(b, "{MAC}", 5) && strncmp(b, "{mac}", 5))
				return false;
			a += 5;
			b += 5;
			continue;
		}
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++;
		b++;
	}
}

bool layout_answers(const struct layout *l, const struct route_match *m)
{
	if (!l || !m || m->kind == ROUTE_NONE)
		return false;
	for (size_t i = 0; i < l->nroutes; i++)
		if ((int)l->routes[i].kind == (int)m->kind && route_pat_equiv(l->routes[i].pat, m->pattern))
			return true;
	return false;
}

bool layout_uses_token(const struct layout *l)
{
	for (size_t i = 0; l && i < l->nroutes; i++)
		if (l->routes[i].kind == ROUTE_TOKEN)
			return true;
	return false;
}

/* ---- the layout file: header, '---', body, optional '--- common' ---- */

static void lmap_release(struct lmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->vals[i]);
	}
	free(m->keys);
	free(m->vals);
	free(m->dflt);
	memset(m, 0, sizeof(*m));
}

void layout_free(struct layout *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nmaps; i++)
		lmap_release(&l->maps[i]);
	free(l->common);
	render_xml_free(l->xml);
	render_json_free(l->json);
	render_kv_free(l->kv, l->nkv);
	free(l);
}

static int header_map(struct layout *l, const char *name, char *val, int line, char *err, size_t errlen)
{
	if (l->nmaps == LAYOUT_MAPS_MAX)
		return sp_err(err, errlen, "%s:%d: more than %d maps", l->file, line, LAYOUT_MAPS_MAX);
	if (!*name || strlen(name) >= LAYOUT_NAME_MAX || lmap_find(l, name))
		return sp_err(err, errlen, "%s:%d: bad or duplicate map name '%s'", l->file, line, name);
	for (const char *p = name; *p; p++)
		if (!lname_char(*p))
			return sp_err(err, errlen, "%s:%d: bad map name '%s'", l->file, line, name);
	struct lmap *m = &l->maps[l->nmaps++];
	sp_strlcpy(m->name, name, sizeof(m->name));
	char *save = NULL;
	for (char *tok = strtok_r(val, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return sp_err(err, errlen, "%s:%d: map entry '%s' is not key=value", l->file, line, tok);
		*eq = '\0';
		if (strcmp(tok, "*") == 0) {
			free(m->dflt);
			m->dflt = xstrdup(eq + 1);
			continue;
		}
		if (m->n == 64)
			return sp_err(err, errlen, "%s:%d: map '%s' has too many entries", l->file, line, name);
		m->keys = xrealloc(m->keys, (m->n + 1) * sizeof(char *));
		m->vals = xrealloc(m->vals, (m->n + 1) * sizeof(char *));
		m->keys[m->n] = xstrdup(tok);
		m->vals[m->n] = xstrdup(eq + 1);
		m->n++;
	}
	return 0;
}

static int header_line(struct layout *l, char *s, int line, char *err, size_t errlen)
{
	char *colon = strchr(s, ':');
	if (!colon)
		return sp_err(err, errlen, "%s:%d: header line is not 'key: value'", l->file, line);
	*colon = '\0';
	char *key = trim(s), *val = trim(colon + 1);
	if (strcmp(key, "name") == 0) {
		if (!*val || strlen(val) >= sizeof(l->name))
			return sp_err(err, errlen, "%s:%d: bad name", l->file, line);
		for (const char *p = val; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
				return sp_err(err, errlen, "%s:%d: bad name '%s' ([a-z0-9_-])", l->file, line, val);
		sp_strlcpy(l->name, val, sizeof(l->name));
	} else if (strcmp(key, "format") == 0) {
		if (strcmp(val, "xml") == 0)
			l->format = LF_XML;
		else if (strcmp(val, "json") == 0)
			l->format = LF_JSON;
		else if (strcmp(val, "kv") == 0)
			l->format = LF_KV;
		else
			return sp_err(err, errlen, "%s:%d: unknown format '%s' (xml, json, kv)", l->file, line, val);
	} else if (strcmp(key, "content-type") == 0) {
		if (!*val || strlen(val) >= sizeof(l->content_type) || !sp_text_ok(val))
			return sp_err(err, errlen, "%s:%d: bad content-type", l->file, line);
		sp_strlcpy(l->content_type, val, sizeof(l->content_type));
	} else if (strcmp(key, "notify-event") == 0) {
		if (!*val || strlen(val) >= sizeof(l->notify_event) || !sp_text_ok(val) || strchr(val, ' '))
			return sp_err(err, errlen, "%s:%d: bad notify-event", l->file, line);
		sp_strlcpy(l->notify_event, val, sizeof(l->notify_event));
	} else if (strncmp(key, "route", 5) == 0 && (key[5] == '\0' || key[5] == ' ')) {
		const char *kind = trim(key + 5);
		if (l->nroutes == LAYOUT_ROUTES_MAX)
			return sp_err(err, errlen, "%s:%d: more than %d routes", l->file, line, LAYOUT_ROUTES_MAX);
		struct lroute *r = &l->routes[l->nroutes];
		if (!*kind)
			r->kind = ROUTE_MAC;
		else if (strcmp(kind, "common") == 0)
			r->kind = ROUTE_COMMON;
		else if (strcmp(kind, "upload") == 0)
			r->kind = ROUTE_UPLOAD;
		else
			return sp_err(err, errlen, "%s:%d: unknown route kind '%s' (common, upload)", l->file, line, kind);
		if (strlen(val) >= sizeof(r->pat))
			return sp_err(err, errlen, "%s:%d: route too long", l->file, line);
		sp_strlcpy(r->pat, val, sizeof(r->pat));
		if (route_check(l, r, line, err, errlen) < 0)
			return -1;
		l->nroutes++;
	} else if (strncmp(key, "map ", 4) == 0) {
		return header_map(l, trim(key + 4), val, line, err, errlen);
	} else {
		return sp_err(err, errlen, "%s:%d: unknown header key '%s' (name format content-type "
			      "notify-event route map)", l->file, line, key);
	}
	return 0;
}

struct layout *layout_parse_mem(const char *filename, const char *data, size_t len, char *err, size_t errlen)
{
	struct layout *l = xcalloc(1, sizeof(*l));
	char *text = NULL;
	int line = 0;
	bool have_format = false;
	const char *base = strrchr(filename, '/');
	sp_strlcpy(l->file, filename, sizeof(l->file));
	(void)base;
	if (len > LAYOUT_FILE_MAX) {
		sp_err(err, errlen, "%s: larger than %d bytes", filename, LAYOUT_FILE_MAX);
		goto fail;
	}
	if (memchr(data, '\0', len)) {
		sp_err(err, errlen, "%s: contains a NUL byte", filename);
		goto fail;
	}
	text = xmalloc(len + 1);
	memcpy(text, data, len);
	text[len] = '\0';

	char *p = text, *body = NULL, *common = NULL;
	int body_line = 0;
	while (*p) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		line++;
		size_t n = strlen(p);
		if (n && p[n - 1] == '\r')
			p[--n] = '\0';
		if (strcmp(p, "---") == 0) {
			body = nl ? nl + 1 : p + n;
			body_line = line + 1;
			break;
		}
		if (*p && *p != '#') {
			if (strncmp(trim(p), "format", 6) == 0)
				have_format = true;
			if (header_line(l, p, line, err, errlen) < 0)
				goto fail;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	if (!body) {
		sp_err(err, errlen, "%s:%d: no '---' line between header and body", filename, line);
		goto fail;
	}
	if (!l->name[0] || !have_format || !l->content_type[0] || !l->notify_event[0] || !l->nroutes) {
		sp_err(err, errlen, "%s:1: header needs name, format, content-type, notify-event and a route",
		       filename);
		goto fail;
	}
	/* An optional fixed body for common files follows "--- common". */
	for (char *q = body; q && *q;) {
		if (strncmp(q, "--- common", 10) == 0 && (q[10] == '\n' || q[10] == '\0' || q[10] == '\r')) {
			*q = '\0';
			common = q + 10;
			common += *common == '\r';
			common += *common == '\n';
			break;
		}
		q = strchr(q, '\n');
		q = q ? q + 1 : NULL;
	}
	if (common) {
		bool has_common = false;
		for (size_t i = 0; i < l->nroutes; i++)
			has_common |= l->routes[i].kind == ROUTE_COMMON;
		if (!has_common) {
			sp_err(err, errlen, "%s: '--- common' body without a 'route common:'", filename);
			goto fail;
		}
		if (strstr(common, "{{")) {
			sp_err(err, errlen, "%s:%d: the common body is fixed text: no placeholders", filename,
			       body_line - 1 + lbody_line(body, "") + lbody_line(common, "{{"));
			goto fail;
		}
		l->common = xstrdup(common);
		l->common_len = strlen(common);
	}
	int rc;
	if (l->format == LF_XML)
		rc = render_xml_compile(l, body, strlen(body), body_line, err, errlen);
	else if (l->format == LF_JSON)
		rc = render_json_compile(l, body, strlen(body), body_line, err, errlen);
	else
		rc = render_kv_compile(l, body, strlen(body), body_line, err, errlen);
	if (rc < 0)
		goto fail;
	if (l->format != LF_XML && !l->names_version) {
		sp_err(err, errlen, "%s:%d: the body never names the template version ({{version}})",
		       filename, body_line);
		goto fail;
	}
	free(text);
	return l;
fail:
	free(text);
	layout_free(l);
	return NULL;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		sp_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *data = xmalloc(LAYOUT_FILE_MAX + 2);
	size_t n = fread(data, 1, LAYOUT_FILE_MAX + 1, f);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(data);
		sp_err(err, errlen, "%s: read error", path);
		return NULL;
	}
	data[n] = '\0';
	*len = n;
	return data;
}

static struct layout *layout_load_file(const char *path, char *err, size_t errlen)
{
	size_t len;
	char *data = read_file(path, &len, err, errlen);
	if (!data)
		return NULL;
	struct layout *l = layout_parse_mem(path, data, len, err, errlen);
	free(data);
	if (!l)
		return NULL;
	/* The file is named after the layout: templates/yealink.cfg is 'yealink'. */
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t bn = strcspn(base, ".");
	if (strlen(l->name) != bn || strncmp(l->name, base, bn)) {
		sp_err(err, errlen, "%s:1: layout name '%s' does not match the file name", path, l->name);
		layout_free(l);
		return NULL;
	}
	return l;
}

int layout_check_file(const char *path, char *err, size_t errlen)
{
	struct layout *l = layout_load_file(path, err, errlen);
	if (!l)
		return -1;
	layout_free(l);
	return 0;
}

static bool layout_file_name(const char *n)
{
	size_t len = strlen(n);
	if (n[0] == '.' || len < 5)
		return false;
	return !strcmp(n + len - 4, ".xml") || !strcmp(n + len - 4, ".cfg") || (len > 5 && !strcmp(n + len - 5, ".json"));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct layouts *layouts_load(const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t nn = 0;
	struct layouts *ls = xcalloc(1, sizeof(*ls));
	if (!d) {
		sp_err(err, errlen, "layouts folder '%s': %s", dir, strerror(errno));
		free(ls);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (!layout_file_name(de->d_name) || nn == 256)
			continue;
		names = xrealloc(names, (nn + 1) * sizeof(char *));
		names[nn++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof(char *), name_cmp);
	for (size_t i = 0; i < nn; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		struct layout *l = layout_load_file(path, err, errlen);
		if (!l)
			goto fail;
		if (layouts_find(ls, l->name)) {
			sp_err(err, errlen, "%s:1: a second layout named '%s'", path, l->name);
			layout_free(l);
			goto fail;
		}
		ls->v = xrealloc(ls->v, (ls->n + 1) * sizeof(*ls->v));
		ls->v[ls->n++] = l;
	}
	if (ls->n == 0) {
		sp_err(err, errlen, "no layouts (*.xml, *.json, *.cfg) in '%s'", dir);
		goto fail;
	}
	/* Sorted by layout name, so "the first layout whose pattern matched" is stable. */
	for (size_t i = 1; i < ls->n; i++)
		for (size_t j = i; j > 0 && strcmp(ls->v[j - 1]->name, ls->v[j]->name) > 0; j--) {
			struct layout *t = ls->v[j];
			ls->v[j] = ls->v[j - 1];
			ls->v[j - 1] = t;
		}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	return ls;
fail:
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	layouts_free(ls);
	return NULL;
}

void layouts_free(struct layouts *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		layout_free(l->v[i]);
	free(l->v);
	free(l);
}

const struct layout *layouts_find(const struct layouts *l, const char *name)
{
	for (size_t i = 0; l && name && i < l->n; i++)
		if (strcmp(l->v[i]->name, name) == 0)
			return l->v[i];
	return NULL;
}

size_t layouts_count(const struct layouts *l)
{
	return l ? l->n : 0;
}

const struct layout *layouts_at(const struct layouts *l, size_t i)
{
	return l && i < l->n ? l->v[i] : NULL;
}

const char *layout_name(const struct layout *l)
{
	return l->name;
}

const char *layout_content_type(const struct layout *l)
{
	return l->content_type;
}

const char *layout_notify_event(const struct layout *l)
{
	return l->notify_event;
}

const char *layout_format_name(const struct layout *l)
{
	return l->format == LF_XML ? "xml" : l->format == LF_JSON ? "json" : "kv";
}

size_t layout_route_count(const struct layout *l)
{
	return l->nroutes;
}

const char *layout_route_at(const struct layout *l, size_t i, int *kind)
{
	if (i >= l->nroutes)
		return NULL;
	if (kind)
		*kind = l->routes[i].kind;
	return l->routes[i].pat;
}

/* ---- render ---- */

int render_common(const struct layout *l, struct buf *out, char *err, size_t errlen)
{
	if (!l->common)
		return sp_err(err, errlen, "layout '%s' has no common file", l->name);
	buf_add(out, l->common, l->common_len);
	if (out->overflow)
		return sp_err(err, errlen, "config too large");
	return 0;
}

int render(const struct layout *l, const struct effective *e, long line,
	   struct buf *out, char *err, size_t errlen)
{
	struct rctx c;
	struct buf scratch;
	size_t start = out->len;
	int rc;
	if (!l)
		return sp_err(err, errlen, "no layout");
	/* No device (NULL, or an effective with no MAC: every device has one,
	 * softphones a generated 02...) means the vendor's common file. */
	if (!e || !e->device.mac[0])
		return render_common(l, out, err, errlen);
	if (line < 0 || line > SP_MAX_LINES)
		return sp_err(err, errlen, "line %ld out of range (0 = all, 1-%d)", line, SP_MAX_LINES);
	memset(&c, 0, sizeof(c));
	c.l = l;
	c.e = e;
	c.err = err;
	c.errlen = errlen;
	/* Accounts in line order; line N selects one. */
	for (size_t i = 0; i < e->naccounts && i < SP_MAX_LINES; i++) {
		const struct account *a = &e->accounts[i];
		if (line && a->line != line)
			continue;
		size_t j = c.nsel++;
		while (j > 0 && c.sel[j - 1]->line > a->line) {
			c.sel[j] = c.sel[j - 1];
			j--;
		}
		c.sel[j] = a;
	}
	if (line && c.nsel == 0)
		return sp_err(err, errlen, "device '%s' has no line %ld", e->device.mac, line);
	buf_init(&scratch, LAYOUT_VALUE_MAX * 4);
	c.scratch = &scratch;
	if (l->format == LF_XML)
		rc = render_xml(&c, out);
	else if (l->format == LF_JSON)
		rc = render_json(&c, out);
	else
		rc = render_kv(&c, out);
	buf_release(&scratch);
	if (rc == 0 && out->overflow)
		rc = sp_err(err, errlen, "config too large (over %d bytes)", SP_BODY_MAX);
	if (rc < 0 && !out->overflow) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}
