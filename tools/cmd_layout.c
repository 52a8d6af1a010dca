/*
 * cmd_layout.c: `sipprov layout check [FILE]` (parse layouts exactly as
 * sipprovd does and report every bad file with its line) and `sipprov
 * layout list [--json]`.  It never renders a device; see cmd_render.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool layout_file(const char *n)
{
	size_t len = strlen(n);
	if (n[0] == '.' || len < 5)
		return false;
	return !strcmp(n + len - 4, ".xml") || !strcmp(n + len - 4, ".cfg") || !strcmp(n + len - 5, ".json");
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_one(const char *path)
{
	char err[SP_ERR_MAX];
	if (layout_check_file(path, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	printf("%s: ok\n", path);
	return 0;
}

static int layout_check(struct cli *c, const char *file)
{
	if (file)
		return check_one(file) ? EXIT_USER : 0;
	DIR *d = opendir(c->templates_dir);
	if (!d)
		return cli_fail("cannot open layouts folder '%s'", c->templates_dir);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (layout_file(de->d_name) && n < 256) {
			names = xrealloc(names, (n + 1) * sizeof(char *));
			names[n++] = xstrdup(de->d_name);
		}
	closedir(d);
	qsort(names, n, sizeof(char *), name_cmp);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", c->templates_dir, names[i]);
		bad += check_one(path);
		free(names[i]);
	}
	free(names);
	if (n == 0)
		return cli_fail("no layouts (*.xml, *.json, *.cfg) in '%s'", c->templates_dir);
	/* Whole-folder rules (one layout per name) as the daemon loads it. */
	if (!bad) {
		char err[SP_ERR_MAX];
		struct layouts *ls = layouts_load(c->templates_dir, err, sizeof(err));
		if (!ls) {
			fprintf(stderr, "error: %s\n", err);
			bad++;
		}
		layouts_free(ls);
	}
	if (bad)
		fprintf(stderr, "%d of %zu layout files have errors\n", bad, n);
	return bad ? EXIT_USER : 0;
}

static int layout_list(struct cli *c)
{
	const struct layouts *ls = cli_layouts(c);
	if (!ls)
		return EXIT_USER;
	json_t *arr = c->json ? json_array() : NULL;
	if (!c->json)
		printf("%-12s %-5s %-26s %-24s %s\n", "NAME", "FMT", "CONTENT-TYPE", "NOTIFY-EVENT", "FILE NAMES");
	for (size_t i = 0; i < layouts_count(ls); i++) {
		const struct layout *l = layouts_at(ls, i);
		if (c->json) {
			json_array_append_new(arr, layout_json(l));
			continue;
		}
		printf("%-12s %-5s %-26s %-24s", layout_name(l), layout_format_name(l), layout_content_type(l),
		       layout_notify_event(l));
		for (size_t r = 0; r < layout_route_count(l); r++) {
			int kind;
			const char *p = layout_route_at(l, r, &kind);
			printf("%s%s", r ? " " : " ", p);
			if (kind == ROUTE_COMMON || kind == ROUTE_UPLOAD)
				printf("(%s)", route_kind_name(kind));
		}
		printf("\n");
	}
	if (c->json)
		cli_json_out(arr);
	return 0;
}

int cmd_layout(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "layout check [FILE] | layout list [--json]";
	char *pos[2];
	int npos, rc;
	if ((rc = cli_parse(argc, argv, NULL, pos, 2, &npos, usage)))
		return rc;
	if (npos >= 1 && strcmp(pos[0], "check") == 0 && npos <= 2)
		return layout_check(c, npos == 2 ? pos[1] : NULL);
	if (npos == 1 && strcmp(pos[0], "list") == 0)
		return layout_list(c);
	return cli_usage(usage);
}
