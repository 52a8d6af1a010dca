/*
 * cmd_firmware.c: `sipprov firmware add|list|rm`: firmware images kept
 * by SHA-256 in the folder sipprovd serves them from (firmware_dir, else
 * beside a SQLite file), one row per vendor / model / version.
 * The file is stored before its row is written and removed only when no
 * row holds it any more.  Choosing a version per model is the template's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define FW_USAGE "firmware add FILE --vendor V --model M --version X\n" \
	"       sipprov firmware list [--vendor V] [--json]\n" \
	"       sipprov firmware rm --vendor V --model M --version X"

struct fw_opts { const char *vendor, *model, *version; };

static int parse(int argc, char **argv, struct fw_opts *o, char **pos, int maxpos, int *npos)
{
	const struct cli_opt opts[] = {
		{ "--vendor", OPT_STR, &o->vendor, 0, 0 },
		{ "--model", OPT_STR, &o->model, 0, 0 },
		{ "--version", OPT_STR, &o->version, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	memset(o, 0, sizeof(*o));
	return cli_parse(argc, argv, opts, pos, maxpos, npos, FW_USAGE);
}

/* Names that go into URLs and file listings: letters, digits, . _ - */
static bool name_ok(const char *s, size_t max)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
	return n && !s[n] && n < max && s[0] != '.';
}

static int check_names(struct cli *c, const struct fw_opts *o)
{
	const struct layouts *ls;
	if (!o->vendor || !o->model || !o->version) {
		fprintf(stderr, "error: --vendor, --model and --version are all needed\n");
		return cli_usage(FW_USAGE);
	}
	if (!(ls = cli_layouts(c)))
		return EXIT_USER;
	if (!layouts_find(ls, o->vendor) || !strcmp(o->vendor, "linphone"))
		return cli_fail("vendor '%s' is not a desk-phone layout (see 'sipprov layout list')", o->vendor);
	if (!name_ok(o->model, SP_SLUG_MAX))
		return cli_fail("model '%s': use letters, digits, '.', '_' and '-' (at most %d)", o->model,
				SP_SLUG_MAX - 1);
	if (!name_ok(o->version, SP_SLUG_MAX))
		return cli_fail("version '%s': use letters, digits, '.', '_' and '-' (at most %d)", o->version,
				SP_SLUG_MAX - 1);
	return 0;
}

static int fw_add(struct cli *c, int argc, char **argv)
{
	struct fw_opts o;
	struct firmware f = { 0 };
	char *pos[1], dir[SP_FIELD_MAX + 16], err[SP_ERR_MAX], detail[512];
	int npos, rc;

	if ((rc = parse(argc, argv, &o, pos, 1, &npos)))
		return rc;
	if (npos != 1)
		return cli_usage(FW_USAGE);
	if ((rc = check_names(c, &o)) || (rc = cli_open(c)))
		return rc;
	const char *base = strrchr(pos[0], '/') ? strrchr(pos[0], '/') + 1 : pos[0];
	if (!name_ok(base, sizeof(f.filename)))
		return cli_fail("file name '%s': phones fetch it by name; use letters, digits, '.', '_' and '-'",
				base);
	snprintf(f.vendor, sizeof(f.vendor), "%s", o.vendor);
	snprintf(f.model, sizeof(f.model), "%s", o.model);
	snprintf(f.version, sizeof(f.version), "%s", o.version);
	snprintf(f.filename, sizeof(f.filename), "%s", base);
	if (store_firmware_get(c->store, f.vendor, f.model, f.version, &(struct firmware){ 0 }) == 1)
		return cli_fail("firmware %s %s %s already exists; remove it first", f.vendor, f.model, f.version);
	if (firmware_dir(c->db_path, c->firmware_dir, dir, sizeof(dir)) < 0)
		return cli_fail("%s", c->firmware_dir && *c->firmware_dir ? "firmware_dir too long"
				: store_is_pg_url(c->db_path) ? SP_PG_NO_FIRMWARE : "database path too long");
	if (firmware_import(dir, pos[0], f.sha256, &f.size, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	snprintf(detail, sizeof(detail), "sha256=%s size=%lld file=%s", f.sha256, (long long)f.size, f.filename);
	if (store_begin(c->store) < 0 || store_firmware_add(c->store, &f, err, sizeof(err)) < 0 ||
	    store_audit(c->store, c->actor, "firmware.add", "firmware", NULL, f.sha256, detail) < 0 ||
	    store_commit(c->store) < 0) {
		store_rollback(c->store);
		/* The file may be another row's too: only an unreferenced one goes. */
		struct firmware other;
		char path[sizeof(dir) + 80];
		if (store_firmware_by_sha(c->store, f.sha256, &other) == 0 &&
		    firmware_file(dir, f.sha256, path, sizeof(path)) == 0)
			unlink(path);
		return cli_fail("%s", err[0] ? err : store_errmsg(c->store));
	}
	if (c->json) {
		char path[SP_NAME_MAX + 80];
		snprintf(path, sizeof(path), "/fw/%s/%s", f.sha256, f.filename);
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "vendor", f.vendor, "model", f.model,
				      "version", f.version, "sha256", f.sha256, "size", (json_int_t)f.size, "filename",
				      f.filename, "path", path);
		cli_json_out(j);
		return 0;
	}
	/* Where the file went: the folder every node must read (firmware_dir). */
	printf("firmware %s %s %s added: %lld bytes, sha256 %s\nstored in: %s/%s\nserved at: /fw/%s/%s\n", f.vendor,
	       f.model, f.version, (long long)f.size, f.sha256, dir, f.sha256, f.sha256, f.filename);
	return 0;
}

static int fw_list(struct cli *c, int argc, char **argv)
{
	struct fw_opts o;
	struct firmware *all;
	char *pos[1];
	size_t n;
	int npos, rc;

	if ((rc = parse(argc, argv, &o, pos, 0, &npos)) || (rc = cli_open(c)))
		return rc;
	if (store_firmware_list(c->store, o.vendor ? o.vendor : "", &all, &n) < 0)
		return cli_fail("cannot read the firmware table: %s", store_errmsg(c->store));
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I}", "vendor", all[i].vendor,
						     "model", all[i].model, "version", all[i].version, "sha256",
						     all[i].sha256, "size", (json_int_t)all[i].size, "filename",
						     all[i].filename, "added", (json_int_t)all[i].added));
	if (c->json) {
		cli_json_out(arr);
	} else {
		printf("%-12s %-16s %-20s %12s %-14s %s\n", "VENDOR", "MODEL", "VERSION", "BYTES", "SHA256", "FILE");
		for (size_t i = 0; i < n; i++)
			printf("%-12s %-16s %-20s %12lld %.12s.. %s\n", all[i].vendor, all[i].model, all[i].version,
			       (long long)all[i].size, all[i].sha256, all[i].filename);
		json_decref(arr);
	}
	free(all);
	return 0;
}

static int fw_rm(struct cli *c, int argc, char **argv)
{
	struct fw_opts o;
	struct firmware f;
	char *pos[1], dir[SP_FIELD_MAX + 16], path[SP_FIELD_MAX + 96];
	int npos, rc;
	long refs = 0;

	if ((rc = parse(argc, argv, &o, pos, 0, &npos)) || (rc = check_names(c, &o)) || (rc = cli_open(c)))
		return rc;
	rc = store_firmware_get(c->store, o.vendor, o.model, o.version, &f);
	if (rc <= 0)
		return rc < 0 ? cli_fail("cannot read the firmware table: %s", store_errmsg(c->store))
			      : cli_fail("no firmware %s %s %s (see 'sipprov firmware list')", o.vendor, o.model,
					 o.version);
	/* An image a firmware.<model> setting still picks is not removed: the
	 * phones it serves would lose their upgrade target silently. */
	char who[1024];
	size_t nwho = 0;
	if (store_firmware_refs(c->store, f.model, f.version, who, sizeof(who), &nwho) < 0)
		return cli_fail("cannot read the settings: %s", store_errmsg(c->store));
	if (nwho)
		return cli_fail("firmware %s %s %s is still picked by %zu setting%s: %s; set another version first",
				o.vendor, o.model, o.version, nwho, nwho == 1 ? "" : "s", who);
	if (store_begin(c->store) < 0 || store_firmware_rm(c->store, f.id, f.sha256, &refs) < 0 ||
	    store_audit(c->store, c->actor, "firmware.rm", "firmware", f.sha256, NULL, f.filename) < 0 ||
	    store_commit(c->store) < 0) {
		store_rollback(c->store);
		return cli_fail("cannot remove firmware %s %s %s: %s", o.vendor, o.model, o.version,
				store_errmsg(c->store));
	}
	if (refs == 0 && firmware_dir(c->db_path, c->firmware_dir, dir, sizeof(dir)) == 0 &&
	    firmware_file(dir, f.sha256, path, sizeof(path)) == 0)
		unlink(path);
	else if (refs == 0)     /* PostgreSQL without firmware_dir: no folder known to clean */
		fprintf(stderr, "note: firmware_dir is not set: the file %s stays wherever it was copied\n", f.sha256);
	printf("firmware %s %s %s removed%s\n", o.vendor, o.model, o.version,
	       refs ? " (its file is kept: another model uses it)" : "");
	return 0;
}

int cmd_firmware(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", fw_add }, { "list", fw_list }, { "rm", fw_rm }, { NULL, NULL },
	};
	return cli_dispatch(c, "firmware", subs, argc, argv);
}
