/*
 * layout.c: vendor layouts from templates/: the file parser (header, value
 * maps, '---' body, optional '--- common' body), the loader (layouts_load at
 * start and on SIGHUP) and render(), which calls the layout's format through
 * struct layout_format.  It names no format, never touches the database and
 * never builds a filesystem path from a URL.  Placeholders live in
 * placeholder.c, routes in route.c; the language is in templates/README.md.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_format.h"
#include "layout_int.h"
#include "sipprov.h"
#include "tz.h"

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
	for (size_t i = 0; i < l->ncommons; i++)
		free(l->commons[i].text);
	if (l->fmt) {
		l->fmt->free(l->skel);
		for (size_t i = 0; i < l->nbodies; i++)
			l->fmt->free(l->bodies[i].skel);
	}
	free(l);
}

static int header_map(struct layout *l, const char *name, char *val, int line, char *err, size_t errlen)
{
	if (l->nmaps == LAYOUT_MAPS_MAX)
		return sp_err(err, errlen, "%s:%d: more than %d maps", l->file, line, LAYOUT_MAPS_MAX);
	if (!*name || strlen(name) >= LAYOUT_NAME_MAX || lmap_find(&l->scope, name))
		return sp_err(err, errlen, "%s:%d: bad or duplicate map name '%s'", l->file, line, name);
	for (const char *p = name; *p; p++)
		if (!lname_char(*p))
			return sp_err(err, errlen, "%s:%d: bad map name '%s'", l->file, line, name);
	struct lmap *m = &l->maps[l->nmaps++];
	l->scope.nmaps = l->nmaps;
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

/* "KEY" or "KEY=VALUE" of a setting key; 0 or -1. */
static int unsup_cond(const struct layout *l, char *s, char *key, char *value, int line, char *err, size_t errlen)
{
	char *eq = strchr(s, '=');
	if (eq)
		*eq++ = '\0';
	/* "firmware": any firmware.<model> setting (the model varies);
	 * admin_password / user_password: the stand-ins effective_device_settings adds;
	 * "key[=TYPE]": any line key (of that type); "ext[=TYPE]": any
	 * expansion-module key (of that type) */
	bool fw = ((!strcmp(s, "firmware") || !strcmp(s, "admin_password") || !strcmp(s, "user_password")) && !eq) ||
		  !strcmp(s, "key") || !strcmp(s, "ext");
	if ((!fw && !setting_def_find(s)) || strlen(s) >= 32 || (eq && (!*eq || strlen(eq) >= 32)))
		return sp_err(err, errlen, "%s:%d: 'unsupported' names '%s%s%s': not a setting key (sipprov "
			      "template keys) with an optional =VALUE", l->file, line, s, eq ? "=" : "", eq ? eq : "");
	sp_strlcpy(key, s, 32);
	sp_strlcpy(value, eq ? eq : "", 32);
	return 0;
}

/* "unsupported KEY[=VALUE] [if OTHER[=VALUE]]: why" */
static int header_unsup(struct layout *l, char *spec, char *why, int line, char *err, size_t errlen)
{
	if (l->nunsup == LAYOUT_UNSUP_MAX)
		return sp_err(err, errlen, "%s:%d: more than %d 'unsupported' lines", l->file, line, LAYOUT_UNSUP_MAX);
	struct lunsup *u = &l->unsup[l->nunsup];
	memset(u, 0, sizeof(*u));
	char *save = NULL, *what = strtok_r(spec, " \t", &save), *kw = strtok_r(NULL, " \t", &save);
	char *other = strtok_r(NULL, " \t", &save);
	if (!what || (kw && (strcmp(kw, "if") || !other)) || strtok_r(NULL, " \t", &save))
		return sp_err(err, errlen, "%s:%d: 'unsupported' takes KEY[=VALUE] [if OTHER[=VALUE]]: why",
			      l->file, line);
	if (unsup_cond(l, what, u->key, u->value, line, err, errlen) < 0 ||
	    (other && unsup_cond(l, other, u->when, u->when_value, line, err, errlen) < 0))
		return -1;
	if (!*why || strlen(why) >= sizeof(u->why) || !sp_text_ok(why))
		return sp_err(err, errlen, "%s:%d: 'unsupported %s' needs a reason after ':' (one line, under %zu "
			      "bytes)", l->file, line, u->key, sizeof(u->why));
	sp_strlcpy(u->why, why, sizeof(u->why));
	l->nunsup++;
	return 0;
}

/* A named body: [a-z]{1,15}, not one of the fixed kinds. */
static bool body_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 15 || !strcmp(n, "common") || !strcmp(n, "upload"))
		return false;
	for (; *n; n++)
		if (*n < 'a' || *n > 'z')
			return false;
	return true;
}

static int header_line(const struct layout_format *const *formats, struct layout *l, char *s, int line,
		       char *err, size_t errlen)
{
	char *colon = strchr(s, ':');
	if (!colon)
		return sp_err(err, errlen, "%s:%d: header line is not 'key: value'", l->file, line);
	*colon = '\0';
	char *key = ltrim(s), *val = ltrim(colon + 1);
	if (strcmp(key, "name") == 0) {
		if (!*val || strlen(val) >= sizeof(l->name))
			return sp_err(err, errlen, "%s:%d: bad name", l->file, line);
		for (const char *p = val; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
				return sp_err(err, errlen, "%s:%d: bad name '%s' ([a-z0-9_-])", l->file, line, val);
		sp_strlcpy(l->name, val, sizeof(l->name));
	} else if (strcmp(key, "format") == 0) {
		if (!(l->fmt = layout_format_find(formats, val))) {
			char known[128] = "";
			for (const struct layout_format *const *f = formats; *f; f++) {
				size_t o = strlen(known);
				snprintf(known + o, sizeof(known) - o, "%s%s", o ? ", " : "", (*f)->name);
			}
			return sp_err(err, errlen, "%s:%d: unknown format '%s' (%s)", l->file, line, val, known);
		}
	} else if (strcmp(key, "content-type") == 0) {
		if (!*val || strlen(val) >= sizeof(l->content_type) || !sp_text_ok(val))
			return sp_err(err, errlen, "%s:%d: bad content-type", l->file, line);
		sp_strlcpy(l->content_type, val, sizeof(l->content_type));
	} else if (strcmp(key, "notify-event") == 0) {
		if (!*val || strlen(val) >= sizeof(l->notify_event) || !sp_text_ok(val) || strchr(val, ' '))
			return sp_err(err, errlen, "%s:%d: bad notify-event", l->file, line);
		sp_strlcpy(l->notify_event, val, sizeof(l->notify_event));
	} else if (strcmp(key, "references") == 0) {
		/* printed inside an XML comment: no "--" */
		if (!*val || strlen(val) >= sizeof(l->references) || !sp_text_ok(val) || strstr(val, "--"))
			return sp_err(err, errlen, "%s:%d: bad references (one line under %zu bytes, no '--')",
				      l->file, line, sizeof(l->references));
		sp_strlcpy(l->references, val, sizeof(l->references));
	} else if (strncmp(key, "route", 5) == 0 && (key[5] == '\0' || key[5] == ' ')) {
		const char *kind = ltrim(key + 5);
		if (l->nroutes == LAYOUT_ROUTES_MAX)
			return sp_err(err, errlen, "%s:%d: more than %d routes", l->file, line, LAYOUT_ROUTES_MAX);
		struct lroute *r = &l->routes[l->nroutes];
		if (!*kind)
			r->kind = ROUTE_MAC;
		else if (strcmp(kind, "common") == 0)
			r->kind = ROUTE_COMMON;
		else if (strncmp(kind, "common ", 7) == 0 && body_name_ok(ltrim((char *)kind + 7))) {
			/* a common file with its own "--- common NAME" body */
			const char *cn = ltrim((char *)kind + 7);
			size_t b;
			for (b = 1; b < l->ncommons && strcmp(l->commons[b].name, cn); b++)
				;
			if (b == LAYOUT_BODIES_MAX)
				return sp_err(err, errlen, "%s:%d: more than %d named common bodies", l->file, line,
					      LAYOUT_BODIES_MAX - 1);
			if (b == l->ncommons)
				sp_strlcpy(l->commons[l->ncommons++].name, cn, sizeof(l->commons[0].name));
			r->kind = ROUTE_COMMON;
			r->body = (int)b;
		}
		else if (strcmp(kind, "upload") == 0)
			r->kind = ROUTE_UPLOAD;
		else if (body_name_ok(kind)) {
			/* a device file with its own "--- NAME" body */
			size_t b;
			for (b = 0; b < l->nbodies && strcmp(l->bodies[b].name, kind); b++)
				;
			if (b == LAYOUT_BODIES_MAX)
				return sp_err(err, errlen, "%s:%d: more than %d named bodies", l->file, line,
					      LAYOUT_BODIES_MAX);
			if (b == l->nbodies)
				sp_strlcpy(l->bodies[l->nbodies++].name, kind, sizeof(l->bodies[0].name));
			r->kind = ROUTE_MAC;
			r->body = (int)b + 1;
		} else
			return sp_err(err, errlen, "%s:%d: unknown route kind '%s' (common, common NAME, upload, or a "
				      "body name [a-z], up to 15)", l->file, line, kind);
		if (strlen(val) >= sizeof(r->pat))
			return sp_err(err, errlen, "%s:%d: route too long", l->file, line);
		sp_strlcpy(r->pat, val, sizeof(r->pat));
		if (route_check(l, r, line, err, errlen) < 0)
			return -1;
		l->nroutes++;
	} else if (strncmp(key, "map ", 4) == 0) {
		return header_map(l, ltrim(key + 4), val, line, err, errlen);
	} else if (strncmp(key, "unsupported ", 12) == 0) {
		return header_unsup(l, ltrim(key + 12), val, line, err, errlen);
	} else {
		return sp_err(err, errlen, "%s:%d: unknown header key '%s' (name format content-type "
			      "notify-event references route map unsupported)", l->file, line, key);
	}
	return 0;
}

struct layout *layout_parse_with(const struct layout_format *const *formats, const char *filename,
				 const char *data, size_t len, char *err, size_t errlen)
{
	struct layout *l = xcalloc(1, sizeof(*l));
	char *text = NULL;
	l->ncommons = 1;                    /* commons[0]: the unnamed "--- common" */
	int line = 0;
	sp_strlcpy(l->file, filename, sizeof(l->file));
	l->scope.file = l->file;
	l->scope.maps = l->maps;
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

	char *p = text, *body = NULL;
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
			if (header_line(formats, l, p, line, err, errlen) < 0)
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
	if (!l->name[0] || !l->fmt || !l->content_type[0] || !l->notify_event[0] || !l->nroutes) {
		sp_err(err, errlen, "%s:1: header needs name, format, content-type, notify-event and a route",
		       filename);
		goto fail;
	}
	/* Sections after the main body: "--- common" and "--- common NAME"
	 * (fixed text for common files) and "--- NAME" for each "route NAME:". */
	char *named[LAYOUT_BODIES_MAX] = { NULL }, *common[LAYOUT_BODIES_MAX] = { NULL };
	int named_line[LAYOUT_BODIES_MAX] = { 0 };
	int q_line = body_line;
	for (char *q = body; q && *q; q_line++) {
		char *nl = strchr(q, '\n');
		size_t n = nl ? (size_t)(nl - q) : strlen(q);
		n -= n && q[n - 1] == '\r';
		if (n > 4 && strncmp(q, "--- ", 4) == 0) {
			char name[32] = "";
			if (n - 4 < sizeof(name))
				memcpy(name, q + 4, n - 4);
			char *next = nl ? nl + 1 : q + strlen(q);
			size_t b, c = LAYOUT_BODIES_MAX;
			for (b = 0; b < l->nbodies && strcmp(l->bodies[b].name, name); b++)
				;
			if (strcmp(name, "common") == 0)
				c = 0;
			else if (strncmp(name, "common ", 7) == 0)
				for (c = 1; c < l->ncommons && strcmp(l->commons[c].name, name + 7); c++)
					;
			if (c < l->ncommons && !common[c]) {
				common[c] = next;
			} else if (b < l->nbodies && !named[b]) {
				named[b] = next;
				named_line[b] = q_line + 1;
			} else {
				sp_err(err, errlen, "%s:%d: '--- %s' is no route's body (common, common NAME, or a "
				       "'route NAME:'), or a second one", filename, q_line, name);
				goto fail;
			}
			*q = '\0';
		}
		q = nl ? nl + 1 : NULL;
	}
	for (size_t b = 0; b < l->nbodies; b++) {
		if (!named[b]) {
			sp_err(err, errlen, "%s: 'route %s:' has no '--- %s' body", filename, l->bodies[b].name,
			       l->bodies[b].name);
			goto fail;
		}
		if (l->fmt->compile(&l->scope, named[b], strlen(named[b]), named_line[b], &l->bodies[b].skel, err,
				    errlen) < 0)
			goto fail;
	}
	for (size_t c = 1; c < l->ncommons; c++)
		if (!common[c]) {
			sp_err(err, errlen, "%s: 'route common %s:' has no '--- common %s' body", filename,
			       l->commons[c].name, l->commons[c].name);
			goto fail;
		}
	if (common[0]) {
		bool has_common = false;
		for (size_t i = 0; i < l->nroutes; i++)
			has_common |= l->routes[i].kind == ROUTE_COMMON && l->routes[i].body == 0;
		if (!has_common) {
			sp_err(err, errlen, "%s: '--- common' body without a 'route common:'", filename);
			goto fail;
		}
	}
	for (size_t c = 0; c < l->ncommons; c++) {
		if (!common[c])
			continue;
		/* Fixed text: the one placeholder is {{public_url}} (the base URL
		 * a file names the phone's own file by, e.g. Cisco's Profile_Rule). */
		for (const char *t = strstr(common[c], "{{"); t; t = strstr(t + 2, "{{"))
			if (strncmp(t, SP_PUBLIC_URL_PH, strlen(SP_PUBLIC_URL_PH))) {
				int at = 1;
				for (const char *u = common[c]; u < t; u++)
					at += *u == '\n';
				sp_err(err, errlen, "%s: a common body is fixed text: no placeholders but %s "
				       "(line %d of it)", filename, SP_PUBLIC_URL_PH, at);
				goto fail;
			}
		l->commons[c].text = xstrdup(common[c]);
		l->commons[c].len = strlen(common[c]);
	}
	if (l->fmt->compile(&l->scope, body, strlen(body), body_line, &l->skel, err, errlen) < 0)
		goto fail;
	if (!l->fmt->marks_version && !l->scope.names_version) {
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

struct layout *layout_parse_mem(const char *filename, const char *data, size_t len, char *err, size_t errlen)
{
	return layout_parse_with(layout_formats, filename, data, len, err, errlen);
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
	return l->fmt->name;
}

/* ---- what a layout cannot say ---- */

static const char *setting_str(json_t *settings, const char *key)
{
	const char *v = json_string_value(json_object_get(settings, key));
	return v ? v : "";
}

/* Does settings use key (=value)?  *name gets the setting's name: key, or
 * for "firmware" the firmware.<model> setting found. */
static bool unsup_hit(json_t *settings, const char *key, const char *value, const char **name)
{
	*name = key;
	if (strcmp(key, "key") == 0 || strcmp(key, "ext") == 0) {
		const char *k, *f;
		json_t *v;
		long m, n;
		json_object_foreach(settings, k, v) {
			const char *t = setting_str(settings, k);
			if (linekey_parse(k, &m, &n, &f) && (m > 0) == (key[0] == 'e') && !strcmp(f, "type") && *t &&
			    strcmp(t, "none") && (!*value || !strcmp(t, value))) {
				*name = k;
				return true;
			}
		}
		return false;
	}
	if (strcmp(key, "firmware") == 0) {
		const char *k;
		json_t *v;
		json_object_foreach(settings, k, v)
			if (strncmp(k, "firmware.", 9) == 0 && *setting_str(settings, k)) {
				*name = k;
				return true;
			}
		return false;
	}
	const char *v = setting_str(settings, key);
	return *v && (!*value || strcmp(v, value) == 0);
}

size_t layout_warnings(const struct layout *l, json_t *settings, struct buf *out)
{
	size_t n = 0;
	bool tz_unsup = false;
	for (size_t i = 0; i < l->nunsup; i++) {
		const struct lunsup *u = &l->unsup[i];
		tz_unsup |= strcmp(u->key, "timezone") == 0 && !*u->value && !*u->when;
		const char *name, *wname;
		if (!unsup_hit(settings, u->key, u->value, &name) ||
		    (*u->when && !unsup_hit(settings, u->when, u->when_value, &wname)))
			continue;
		buf_printf(out, "layout '%s' cannot express %s=%s%s%s%s: %s\n", l->name, name,
			   setting_str(settings, name), *u->when ? " with " : "", u->when, *u->when ? " set" : "",
			   u->why);
		n++;
	}
	/* A zone the database does not know, or whose DST rule no phone can
	 * take, renders as nothing or as standard time: say which. */
	const char *zone = setting_str(settings, "timezone");
	struct tzrule r;
	char why[SP_ERR_MAX];
	if (*zone && l->scope.uses_tz && !tz_unsup) {
		if (tz_lookup(zone, &r, why, sizeof(why)) != 1) {
			buf_printf(out, "layout '%s' renders no time zone: timezone %s\n", l->name, why);
			n++;
		} else if (r.inexact && l->scope.uses_tz_rule) {
			long a = r.std_off < 0 ? -r.std_off : r.std_off;
			buf_printf(out, "layout '%s' renders timezone=%s as standard time (UTC%c%02ld:%02ld) without "
				   "DST: its rule '%s' is not month/week/weekday at a time of day\n", l->name, zone,
				   r.std_off < 0 ? '-' : '+', a / 3600, a / 60 % 60, r.posix);
			n++;
		}
	}
	return n;
}

/* ---- render ---- */

/* Body c of l with {{public_url}} replaced; 1 when it names it and
 * public_url is empty (the file cannot be written: the caller says 404). */
static int render_common_body(const struct layout *l, size_t c, const char *public_url, struct buf *out,
			      char *err, size_t errlen)
{
	const char *t = c < l->ncommons ? l->commons[c].text : NULL;
	size_t phl = strlen(SP_PUBLIC_URL_PH), start = out->len;
	if (!t)
		return sp_err(err, errlen, "layout '%s' has no common file", l->name);
	if (strstr(t, SP_PUBLIC_URL_PH) && (!public_url || !*public_url))
		return 1;
	for (const char *p; (p = strstr(t, SP_PUBLIC_URL_PH)); t = p + phl) {
		buf_add(out, t, (size_t)(p - t));
		buf_add(out, public_url, strlen(public_url));
	}
	buf_add(out, t, strlen(t));
	if (out->overflow) {
		out->len = start;
		return sp_err(err, errlen, "config too large");
	}
	return 0;
}

int render_common(const struct layout *l, struct buf *out, char *err, size_t errlen)
{
	int rc = render_common_body(l, 0, NULL, out, err, errlen);
	if (rc > 0)
		return sp_err(err, errlen, "layout '%s': the common file needs public_url", l->name);
	return rc;
}

int render_common_route(const struct layout *l, const struct route_match *m, const char *public_url,
			struct buf *out, char *err, size_t errlen)
{
	int b = layout_route_body(l, m);
	return render_common_body(l, b < 0 ? 0 : (size_t)b, public_url, out, err, errlen);
}

static int render_skel(const struct layout *l, const void *skel, const struct effective *e, long line,
		       struct buf *out, char *err, size_t errlen);

int render(const struct layout *l, const struct effective *e, long line,
	   struct buf *out, char *err, size_t errlen)
{
	if (!l)
		return sp_err(err, errlen, "no layout");
	return render_skel(l, l->skel, e, line, out, err, errlen);
}

int render_route(const struct layout *l, const struct route_match *m, const struct effective *e, long line,
		 struct buf *out, char *err, size_t errlen)
{
	if (!l)
		return sp_err(err, errlen, "no layout");
	int b = layout_route_body(l, m);
	return render_skel(l, b > 0 ? l->bodies[b - 1].skel : l->skel, e, line, out, err, errlen);
}

static int render_skel(const struct layout *l, const void *skel, const struct effective *e, long line,
		       struct buf *out, char *err, size_t errlen)
{
	struct rctx c;
	struct buf scratch;
	struct tzrule tzr;
	struct tzcache tzc = { 0, &tzr };
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
	c.layout = l->name;
	c.refs = l->references;
	/* Key types the layout declares it cannot express: an "each key"
	 * block skips them (layout_warnings names them). */
	const char *skip[LAYOUT_UNSUP_MAX + 1], *xskip[LAYOUT_UNSUP_MAX + 1];
	size_t nskip = 0, nxskip = 0;
	for (size_t i = 0; i < l->nunsup; i++) {
		if (*l->unsup[i].when)
			continue;
		if (!strcmp(l->unsup[i].key, "key"))
			skip[nskip++] = l->unsup[i].value;
		else if (!strcmp(l->unsup[i].key, "ext"))
			xskip[nxskip++] = l->unsup[i].value;
	}
	skip[nskip] = xskip[nxskip] = NULL;
	c.key_skip = skip;
	c.ext_skip = xskip;
	c.e = e;
	c.err = err;
	c.errlen = errlen;
	c.tz = &tzc;
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
	rc = l->fmt->render(&c, skel, out);
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

json_t *layout_json(const struct layout *l)
{
	json_t *pats = json_array();
	for (size_t r = 0; r < layout_route_count(l); r++) {
		int kind;
		const char *p = layout_route_at(l, r, &kind);
		json_array_append_new(pats, json_pack("{s:s, s:s}", "pattern", p, "kind", route_kind_name(kind)));
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:o}", "name", layout_name(l), "format", layout_format_name(l),
			 "content_type", layout_content_type(l), "notify_event", layout_notify_event(l), "token_urls",
			 layout_uses_token(l), "patterns", pats);
}
