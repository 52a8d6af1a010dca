/*
 * route.c: the device-facing route table: the file-name patterns a layout
 * header declares ("{mac}.cfg", "route common: y0000000000{xx}.cfg"), checked
 * at load, and route_match, which maps a request path to ROUTE_MAC / TOKEN /
 * COMMON / UPLOAD and the layout that declared it.  It never builds a
 * filesystem path from a URL and knows nothing of layout bodies or formats.
 */
#include <string.h>

#include "layout_int.h"
#include "sipprov.h"

static const char *const route_ph[] = { "{mac}", "{MAC}", "{token}", "{model}", "{xx}" };

/* {model}: model names as phones send them (snomD785, Fanvil's F0V00X200000). */
static bool route_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Literal characters of a pattern besides '/': [A-Za-z0-9_.-]. */
static bool route_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-' || ch == '/';
}

int route_check(const struct layout *l, struct lroute *r, int line, char *err, size_t errlen)
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
			/* {model} is greedy: what follows must not be [A-Za-z0-9] */
			if (i == 3 && (*p == '\0' || route_alnum(*p) || *p == '{'))
				return sp_err(err, errlen, "%s:%d: {model} in route '%s' must be followed by "
					      "a separator", l->file, line, r->pat);
			continue;
		}
		if (!route_char(*p))
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
			while (n < 17 && route_alnum(s[n]))
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

/* A file name whose stem is 12 hex digits ("f0aabbccddee.cfg") names a
 * device: a common pattern with a placeholder (Fanvil's "f0{model}.cfg")
 * must not take it.  Literal common names (Polycom's 000000000000.cfg) may. */
static bool route_mac_named(const char *pat, const char *s)
{
	if (!strchr(pat, '{'))
		return false;
	const char *base = strrchr(s, '/');
	base = base ? base + 1 : s;
	for (int i = 0; i < SP_MAC_LEN; i++)
		if (hexv(base[i]) < 0)
			return false;
	return base[SP_MAC_LEN] == '.';
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
				if (rt->kind == ROUTE_COMMON && route_mac_named(rt->pat, s))
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

int layout_route_body(const struct layout *l, const struct route_match *m)
{
	for (size_t i = 0; l && m && i < l->nroutes; i++)
		if ((int)l->routes[i].kind == (int)m->kind && route_pat_equiv(l->routes[i].pat, m->pattern))
			return l->routes[i].body;
	return 0;
}

bool layout_uses_token(const struct layout *l)
{
	for (size_t i = 0; l && i < l->nroutes; i++)
		if (l->routes[i].kind == ROUTE_TOKEN)
			return true;
	return false;
}

size_t layout_route_count(const struct layout *l)
{
	return l->nroutes;
}

const char *route_kind_name(int kind)
{
	switch (kind) {
	case ROUTE_MAC: return "device";
	case ROUTE_TOKEN: return "token";
	case ROUTE_COMMON: return "common";
	case ROUTE_UPLOAD: return "upload";
	default: return "?";
	}
}

const char *layout_route_at(const struct layout *l, size_t i, int *kind)
{
	if (i >= l->nroutes)
		return NULL;
	if (kind)
		*kind = l->routes[i].kind;
	return l->routes[i].pat;
}

