/*
 * layout_format.c: the format table is the only place a layout's format is
 * chosen.  Each shipped format is wrapped in a counting copy and a test-only
 * format "text" is added; every layout in templates/ parsed with that table
 * must compile, render and free through the wrappers (a format picked by an
 * if/else elsewhere would bypass them) and render byte-identical to the
 * shipped table; "text" then works end to end with no change outside this
 * file.  White-box: it includes core's private layout headers.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core/layout_format.h"
#include "core/layout_int.h"
#include "core/sipprov.h"

#define SLOTS 4                         /* shipped formats this test can wrap */

static int ncompile[SLOTS + 1], nrender[SLOTS + 1], nfree[SLOTS + 1];

#define WRAP(i)                                                                                         \
	static int compile##i(struct lscope *sc, const char *b, size_t n, int l0, void **sk, char *e,  \
			      size_t el)                                                                \
	{                                                                                               \
		ncompile[i]++;                                                                          \
		return layout_formats[i]->compile(sc, b, n, l0, sk, e, el);                             \
	}                                                                                               \
	static int render##i(struct rctx *c, const void *sk, struct buf *o)                             \
	{                                                                                               \
		nrender[i]++;                                                                           \
		return layout_formats[i]->render(c, sk, o);                                             \
	}                                                                                               \
	static void free##i(void *sk)                                                                   \
	{                                                                                               \
		nfree[i] += sk != NULL;                                                                 \
		layout_formats[i]->free(sk);                                                            \
	}
WRAP(0)
WRAP(1)
WRAP(2)
WRAP(3)

/* "text": the whole body is one placeholder string. */
static int text_compile(struct lscope *sc, const char *body, size_t len, int line0, void **skel, char *err,
			size_t errlen)
{
	struct ltmpl *t = xcalloc(1, sizeof(*t));
	ncompile[SLOTS]++;
	if (ltmpl_compile(sc, body, false, t, line0, err, errlen) < 0) {
		free(t);
		return -1;
	}
	*skel = t;
	return 0;
}

static int text_render(struct rctx *c, const void *skel, struct buf *out)
{
	nrender[SLOTS]++;
	const char *s = ltmpl_expand(c, skel);
	if (!s)
		return -1;
	buf_adds(out, s);
	return 0;
}

static void text_free(void *skel)
{
	nfree[SLOTS] += skel != NULL;
	if (skel)
		ltmpl_release(skel);
	free(skel);
}

static const struct layout_format text_format = { "text", false, text_compile, text_render, text_free };

static struct layout_format wrapped[SLOTS];
static const struct layout_format *table[SLOTS + 2];

static void make_table(void)
{
	int (*const c[SLOTS])(struct lscope *, const char *, size_t, int, void **, char *, size_t) = {
		compile0, compile1, compile2, compile3 };
	int (*const r[SLOTS])(struct rctx *, const void *, struct buf *) = { render0, render1, render2, render3 };
	void (*const f[SLOTS])(void *) = { free0, free1, free2, free3 };
	size_t n = 0;
	for (; layout_formats[n]; n++) {
		if (n == SLOTS) {
			fprintf(stderr, "more shipped formats than SLOTS: raise it\n");
			exit(1);
		}
		wrapped[n] = *layout_formats[n];
		wrapped[n].compile = c[n];
		wrapped[n].render = r[n];
		wrapped[n].free = f[n];
		table[n] = &wrapped[n];
	}
	table[n] = &text_format;
	table[n + 1] = NULL;
}

static void make_effective(struct effective *e)
{
	memset(e, 0, sizeof(*e));
	sp_strlcpy(e->tenant.slug, "acme", sizeof(e->tenant.slug));
	sp_strlcpy(e->device.mac, "001565aabbcc", sizeof(e->device.mac));
	sp_strlcpy(e->device.model, "T46G", sizeof(e->device.model));
	sp_strlcpy(e->template_name, "main", sizeof(e->template_name));
	sp_strlcpy(e->version_label, "acme-main@v1", sizeof(e->version_label));
	e->settings = json_pack("{s:s,s:s,s:s,s:s,s:s}", "registrar", "example.test", "transport", "tls",
				"port", "5061", "expires", "600", "srtp", "required");
	for (int i = 0; i < 2; i++) {
		struct account *a = &e->accounts[i];
		a->line = i + 1;
		sp_strlcpy(a->display_name, i ? "Bob" : "Ann <\"O'Brien\"> & Co", sizeof(a->display_name));
		sp_strlcpy(a->username, i ? "bob" : "alice", sizeof(a->username));
		sp_strlcpy(a->auth_username, i ? "b2" : "a1", sizeof(a->auth_username));
		sp_strlcpy(a->password, "p<>&\"'w", sizeof(a->password));
	}
	e->naccounts = 2;
}

static int slot_of(const char *name)
{
	for (int i = 0; layout_formats[i]; i++)
		if (strcmp(layout_formats[i]->name, name) == 0)
			return i;
	return -1;
}

static int sum(const int *v)
{
	int s = 0;
	for (int i = 0; i <= SLOTS; i++)
		s += v[i];
	return s;
}

/* One shipped layout through both tables: same output, and every step of
 * the wrapped parse went through its own format's entry and no other. */
static void check_shipped(const char *path, const struct effective *e)
{
	char err[SP_ERR_MAX];
	FILE *f = fopen(path, "rb");
	if (!f) {
		ok(0, "read %s", path);
		return;
	}
	char *data = xmalloc(LAYOUT_FILE_MAX + 1);
	size_t len = fread(data, 1, LAYOUT_FILE_MAX, f);
	fclose(f);
	struct layout *plain = layout_parse_mem(path, data, len, err, sizeof(err));
	ok(plain != NULL, "%s parses with the shipped table (%s)", path, plain ? "" : err);
	int before[SLOTS + 1];
	memcpy(before, ncompile, sizeof(before));
	struct layout *l = layout_parse_with(table, path, data, len, err, sizeof(err));
	free(data);
	if (!ok(l != NULL && plain != NULL, "%s parses with the wrapped table (%s)", path, l ? "" : err)) {
		layout_free(l);
		layout_free(plain);
		return;
	}
	const char *name = layout_format_name(l);
	int s = slot_of(name);
	if (!ok(s >= 0 && l->fmt == &wrapped[s], "%s: format '%s' is the wrapped table entry", path, name)) {
		layout_free(l);
		layout_free(plain);
		return;
	}
	int rs = nrender[s], fs = nfree[s];
	/* once for the main body, once per named route body ("--- boot") */
	int nb = 1 + (int)l->nbodies;
	ok(ncompile[s] == before[s] + nb && sum(ncompile) == sum(before) + nb, "%s: compiled %d time(s), through the '%s' entry",
	   path, nb, name);
	struct buf a, b;
	buf_init(&a, SP_BODY_MAX);
	buf_init(&b, SP_BODY_MAX);
	int ra = render(plain, e, 0, &a, err, sizeof(err));
	int sum_before_render = sum(nrender);
	int rb = render(l, e, 0, &b, err, sizeof(err));
	ok(ra == 0 && rb == 0 && a.len == b.len && a.len > 0 && memcmp(a.data, b.data, a.len) == 0,
	   "%s: same bytes through the wrapped table (%zu)", path, b.len);
	ok(nrender[s] == rs + 1 && sum(nrender) == sum_before_render + 1, "%s: rendered through the '%s' entry",
	   path, name);
	buf_release(&a);
	buf_release(&b);
	int sum_before_free = sum(nfree);
	layout_free(l);
	ok(nfree[s] == fs + nb && sum(nfree) == sum_before_free + nb, "%s: freed through the '%s' entry", path, name);
	layout_free(plain);
}

static const char text_layout[] =
	"name: t\n"
	"format: %s\n"
	"content-type: text/plain\n"
	"notify-event: check-sync\n"
	"route: t{mac}.txt\n"
	"---\n"
	"mac={{MAC}} registrar={{registrar|upper}}\n"
	"%s\n";

int main(void)
{
	char err[SP_ERR_MAX], src[512];
	struct effective e;
	const char *dir = getenv("SIPPROV_TEMPLATES");
	dir = dir && *dir ? dir : "templates";
	make_table();
	make_effective(&e);

	/* Every shipped layout dispatches through the table. */
	DIR *d = opendir(dir);
	if (!d) {
		ok(0, "open layouts folder '%s'", dir);
		return tap_done();
	}
	struct dirent *de;
	int nfiles = 0;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 5 || (strcmp(de->d_name + n - 4, ".xml") &&
		    strcmp(de->d_name + n - 4, ".cfg") && strcmp(de->d_name + n - 5, ".json")))
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		check_shipped(path, &e);
		nfiles++;
	}
	closedir(d);
	ok(nfiles >= 3, "checked %d shipped layouts", nfiles);
	for (int i = 0; layout_formats[i]; i++)
		ok(nrender[i] > 0, "shipped format '%s' was used by a layout and dispatched through the table",
		   layout_formats[i]->name);

	/* A format that only this test knows: one table entry is all it takes. */
	snprintf(src, sizeof(src), text_layout, "text", "v={{version}}");
	struct layout *l = layout_parse_mem("t.txt", src, strlen(src), err, sizeof(err));
	is_str(l ? "parsed" : err, "t.txt:2: unknown format 'text' (xml, json, kv)",
	       "the shipped table does not know 'text'");
	layout_free(l);
	l = layout_parse_with(table, "t.txt", src, strlen(src), err, sizeof(err));
	ok(l != NULL, "the test table parses a 'text' layout (%s)", l ? "" : err);
	if (l) {
		struct buf out;
		buf_init(&out, SP_BODY_MAX);
		err[0] = '\0';
		ok(render(l, &e, 0, &out, err, sizeof(err)) == 0, "'text' renders (%s)", err);
		is_str(out.data, "mac=001565AABBCC registrar=EXAMPLE.TEST\nv=acme-main@v1\n",
		       "'text' output: placeholders and filters from placeholder.c");
		is_int(nrender[SLOTS], 1, "rendered by the test format");
		is_str(layout_format_name(l), "text", "layout_format_name comes from the table");
		is_str(layout_content_type(l), "text/plain", "header fields as for any format");
		buf_release(&out);
		layout_free(l);
		is_int(nfree[SLOTS], 1, "freed by the test format");
	}
	snprintf(src, sizeof(src), text_layout, "nope", "v={{version}}");
	l = layout_parse_with(table, "t.txt", src, strlen(src), err, sizeof(err));
	is_str(l ? "parsed" : err, "t.txt:2: unknown format 'nope' (xml, json, kv, text)",
	       "the 'unknown format' message lists the table");
	layout_free(l);
	snprintf(src, sizeof(src), text_layout, "text", "no version here");
	l = layout_parse_with(table, "t.txt", src, strlen(src), err, sizeof(err));
	is_str(l ? "parsed" : err, "t.txt:7: the body never names the template version ({{version}})",
	       "a format without marks_version must name {{version}}");
	layout_free(l);
	is_int(nfree[SLOTS], 2, "a refused layout's skeleton is freed by its format");

	json_decref(e.settings);
	return tap_done();
}
