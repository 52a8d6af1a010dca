/*
 * cmd_phonebook.c: `sipprov phonebook add|rm|list|import`: a tenant's
 * contacts, which sipprovd serves to the tenant's phones in each vendor's
 * remote phonebook format.  Every contact passes phonebook_check; an
 * import is one transaction, written only when no row has an error.
 * It does not export CSV or edit a contact in place (rm, then add).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ops/ops.h"

#define PB_USAGE "phonebook add --tenant T --name N --number X [--mobile M] [--other O] [--group G]\n" \
	"       sipprov phonebook rm --tenant T --name N\n" \
	"       sipprov phonebook list --tenant T [--json]\n" \
	"       sipprov phonebook import FILE.csv --tenant T [--dry-run]"
#define PB_ERRORS_SHOWN 20

struct pb_opts { const char *tenant, *name, *number, *mobile, *other, *group; bool dry_run; };

static int parse(int argc, char **argv, struct pb_opts *o, char **pos, int maxpos, int *npos)
{
	const struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &o->tenant, 0, 0 },
		{ "--name", OPT_STR, &o->name, 0, 0 },
		{ "--number", OPT_STR, &o->number, 0, 0 },
		{ "--mobile", OPT_STR, &o->mobile, 0, 0 },
		{ "--other", OPT_STR, &o->other, 0, 0 },
		{ "--group", OPT_STR, &o->group, 0, 0 },
		{ "--dry-run", OPT_FLAG, &o->dry_run, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	memset(o, 0, sizeof(*o));
	int rc = cli_parse(argc, argv, opts, pos, maxpos, npos, PB_USAGE);
	if (!rc && !o->tenant) {
		fprintf(stderr, "error: --tenant is needed\n");
		return cli_usage(PB_USAGE);
	}
	return rc;
}

/* Copy a value into a contact field (contact_from checked it fits). */
static void put(char *dst, size_t n, const char *v)
{
	sp_strlcpy(dst, v ? v : "", n);
}

/* Fill c from the five values and check it: 0, or -1 with *field and err. */
static int contact_from(struct contact *c, const char *name, const char *number, const char *mobile,
			const char *other, const char *group, const char **field, char *err, size_t errlen)
{
	const char *vals[] = { name, number, mobile, other, group };
	static const char *const names[] = { "name", "number", "mobile", "other", "group" };
	size_t caps[] = { sizeof(c->name), sizeof(c->office), sizeof(c->mobile), sizeof(c->other), sizeof(c->group) };
	char e[4 * 48 + 1];
	for (int i = 0; i < 5; i++)
		if (vals[i] && strlen(vals[i]) >= caps[i]) {
			*field = names[i];
			return sp_err(err, errlen, "'%.40s...' is too long (at most %d %s)", sp_log_escape(vals[i], e, sizeof(e)),
				      i == 1 || i == 2 || i == 3 ? SP_CONTACT_NUMBER_MAX : SP_CONTACT_NAME_CHARS,
				      i == 1 || i == 2 || i == 3 ? "characters 0-9 + * #" : "characters");
		}
	memset(c, 0, sizeof(*c));
	put(c->name, sizeof(c->name), name);
	put(c->office, sizeof(c->office), number);
	put(c->mobile, sizeof(c->mobile), mobile);
	put(c->other, sizeof(c->other), other);
	put(c->group, sizeof(c->group), group);
	return phonebook_check(c, field, err, errlen);
}

static int room_for(struct cli *c, const struct tenant *t, long more)
{
	long n;
	if (store_contact_count(c->store, t->id, &n) < 0)
		return cli_fail("cannot read the phonebook: %s", store_errmsg(c->store));
	if (n + more > SP_CONTACT_MAX)
		return cli_fail("tenant '%s' would have %ld contacts (at most %d in one phonebook)", t->slug, n + more,
				SP_CONTACT_MAX);
	return 0;
}

static int pb_add(struct cli *c, int argc, char **argv)
{
	struct pb_opts o;
	struct tenant t;
	struct contact ct;
	const char *field;
	char *pos[1], err[SP_ERR_MAX], e[4 * 4 * SP_CONTACT_NAME_CHARS + 1];
	int npos, rc;

	if ((rc = parse(argc, argv, &o, pos, 0, &npos)))
		return rc;
	if (!o.name || !o.number) {
		fprintf(stderr, "error: --name and --number are needed\n");
		return cli_usage(PB_USAGE);
	}
	if (contact_from(&ct, o.name, o.number, o.mobile, o.other, o.group, &field, err, sizeof(err)) < 0)
		return cli_fail("--%s %s", field, err);
	if ((rc = cli_open(c)) || (rc = cli_tenant(c, o.tenant, &t)) || (rc = room_for(c, &t, 1)))
		return rc;
	ct.tenant_id = t.id;
	if (store_begin(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	rc = store_contact_add(c->store, &ct, err, sizeof(err));
	if (rc == 1 && (store_audit(c->store, c->actor, "phonebook.add", t.slug, NULL, ct.name, ct.office) < 0 ||
			store_commit(c->store) < 0))
		rc = -1;
	if (rc != 1) {
		store_rollback(c->store);
		if (rc == 0)
			return cli_fail("tenant '%s' already has contact '%s' with number '%s'", t.slug,
					sp_log_escape(ct.name, e, sizeof(e)), ct.office);
		return cli_fail("cannot add the contact: %s", err[0] ? err : store_errmsg(c->store));
	}
	printf("contact '%s' added to tenant %s\n", sp_log_escape(ct.name, e, sizeof(e)), t.slug);
	return 0;
}

static int pb_rm(struct cli *c, int argc, char **argv)
{
	struct pb_opts o;
	struct tenant t;
	char *pos[1], e[4 * 4 * SP_CONTACT_NAME_CHARS + 1];
	int npos, rc;
	long n = 0;

	if ((rc = parse(argc, argv, &o, pos, 0, &npos)))
		return rc;
	if (!o.name) {
		fprintf(stderr, "error: --name is needed\n");
		return cli_usage(PB_USAGE);
	}
	if ((rc = cli_open(c)) || (rc = cli_tenant(c, o.tenant, &t)))
		return rc;
	if (store_begin(c->store) < 0 || store_contact_rm(c->store, t.id, o.name, &n) < 0 ||
	    (n > 0 && store_audit(c->store, c->actor, "phonebook.rm", t.slug, o.name, NULL, NULL) < 0) ||
	    store_commit(c->store) < 0) {
		store_rollback(c->store);
		return cli_fail("cannot remove the contact: %s", store_errmsg(c->store));
	}
	if (n == 0)
		return cli_fail("tenant '%s' has no contact '%s' (see 'sipprov phonebook list --tenant %s')", t.slug,
				sp_log_escape(o.name, e, sizeof(e)), t.slug);
	printf("contact '%s' removed from tenant %s (%ld %s)\n", sp_log_escape(o.name, e, sizeof(e)), t.slug, n,
	       n == 1 ? "entry" : "entries");
	return 0;
}

static int pb_list(struct cli *c, int argc, char **argv)
{
	struct pb_opts o;
	struct tenant t;
	struct contact *v;
	char *pos[1], e[4 * 4 * SP_CONTACT_NAME_CHARS + 1], g[sizeof(e)];
	size_t n;
	int npos, rc;

	if ((rc = parse(argc, argv, &o, pos, 0, &npos)) || (rc = cli_open(c)) || (rc = cli_tenant(c, o.tenant, &t)))
		return rc;
	if (store_contact_list(c->store, t.id, &v, &n) < 0)
		return cli_fail("cannot read the phonebook: %s", store_errmsg(c->store));
	if (c->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", v[i].name, "number",
							     v[i].office, "mobile", v[i].mobile, "other", v[i].other,
							     "group", v[i].group));
		cli_json_out(arr);
	} else {
		printf("%-32s %-16s %-16s %-16s %s\n", "NAME", "NUMBER", "MOBILE", "OTHER", "GROUP");
		for (size_t i = 0; i < n; i++)
			printf("%-32s %-16s %-16s %-16s %s\n", sp_log_escape(v[i].name, e, sizeof(e)), v[i].office,
			       v[i].mobile, v[i].other, sp_log_escape(v[i].group, g, sizeof(g)));
	}
	free(v);
	return 0;
}

/* ---- import ---- */

enum { COL_NAME, COL_NUMBER, COL_MOBILE, COL_OTHER, COL_GROUP, NCOLS };
static const char *const col_names[NCOLS] = { "name", "number", "mobile", "other", "group" };

struct imp {
	long errors;
	int idx[NCOLS];                     /* CSV column of each, -1 absent */
};

static void imp_error(struct imp *im, long row, long line, const char *col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void imp_error(struct imp *im, long row, long line, const char *col, const char *fmt, ...)
{
	char msg[SP_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (++im->errors > PB_ERRORS_SHOWN)
		return;
	if (row == 0)
		fprintf(stderr, "error: header (line %ld)%s%s%s: %s\n", line, col ? ", column '" : "", col ? col : "",
			col ? "'" : "", msg);
	else if (col)
		fprintf(stderr, "error: row %ld (line %ld), column '%s': %s\n", row, line, col, msg);
	else
		fprintf(stderr, "error: row %ld (line %ld): %s\n", row, line, msg);
}

static int imp_header(struct imp *im, char **fl, size_t n)
{
	char e[4 * 64 + 1];
	for (int k = 0; k < NCOLS; k++)
		im->idx[k] = -1;
	for (size_t i = 0; i < n; i++) {
		int k = 0;
		while (k < NCOLS && strcmp(fl[i], col_names[k]))
			k++;
		if (k == NCOLS)
			imp_error(im, 0, 1, NULL, "unknown column '%s' (known: name, number, mobile, other, group)",
				  sp_log_escape(fl[i], e, sizeof(e)));
		else if (im->idx[k] >= 0)
			imp_error(im, 0, 1, col_names[k], "given twice (columns %d and %zu)", im->idx[k] + 1, i + 1);
		else
			im->idx[k] = (int)i;
	}
	for (int k = 0; k <= COL_NUMBER; k++)
		if (im->idx[k] < 0)
			imp_error(im, 0, 1, NULL, "missing required column '%s'", col_names[k]);
	return im->errors ? -1 : 0;
}

static const char *col(const struct imp *im, char **fl, int k)
{
	return im->idx[k] >= 0 ? fl[im->idx[k]] : "";
}

static int pb_import(struct cli *c, int argc, char **argv)
{
	struct pb_opts o;
	struct tenant t;
	struct imp im = { 0 };
	struct csv *r = NULL;
	FILE *f = NULL;
	char *pos[1], **fl, err[SP_ERR_MAX], cerr[SP_ERR_MAX], e[4 * 4 * SP_CONTACT_NAME_CHARS + 1];
	size_t n;
	long rows = 0;
	int npos, rc, ret = EXIT_USER;
	bool in_tx = false;

	if ((rc = parse(argc, argv, &o, pos, 1, &npos)))
		return rc;
	if (npos != 1)
		return cli_usage(PB_USAGE);
	if ((rc = cli_open(c)) || (rc = cli_tenant(c, o.tenant, &t)))
		return rc;
	if (!(f = fopen(pos[0], "r")))
		return cli_fail("cannot read '%s': %s", pos[0], strerror(errno));
	r = csv_new_file(f);
	rc = csv_read(r, &fl, &n, cerr, sizeof(cerr));
	if (rc <= 0) {
		imp_error(&im, 0, 1, NULL, "%s", rc == 0 ? "empty file: expected a header row" : cerr);
		goto out;
	}
	if (imp_header(&im, fl, n) < 0)
		goto out;
	csv_expect_columns(r, n);
	if (store_begin(c->store) < 0) {
		fprintf(stderr, "error: cannot start a transaction: %s\n", store_errmsg(c->store));
		goto out;
	}
	in_tx = true;
	while ((rc = csv_read(r, &fl, &n, cerr, sizeof(cerr))) != 0) {
		long row = csv_record(r) - 1, line = csv_line(r);
		struct contact ct;
		const char *field;
		rows++;
		if (rc < 0) {
			/* "record R (line L), column C: ..." -> our row numbering. */
			const char *p = strstr(cerr, "), ");
			imp_error(&im, row, line, NULL, "%s", p ? p + 3 : cerr);
			continue;
		}
		if (contact_from(&ct, col(&im, fl, COL_NAME), col(&im, fl, COL_NUMBER), col(&im, fl, COL_MOBILE),
				 col(&im, fl, COL_OTHER), col(&im, fl, COL_GROUP), &field, err, sizeof(err)) < 0) {
			imp_error(&im, row, line, field, "%s", err);
			continue;
		}
		ct.tenant_id = t.id;
		rc = store_contact_add(c->store, &ct, err, sizeof(err));
		if (rc == 0)
			imp_error(&im, row, line, "number", "contact '%s' with number '%s' is already in tenant %s's "
				  "phonebook (or earlier in this file)", sp_log_escape(ct.name, e, sizeof(e)), ct.office, t.slug);
		else if (rc < 0)
			imp_error(&im, row, line, NULL, "%s", err);
	}
	if (ferror(f)) {
		fprintf(stderr, "error: read error on '%s'\n", pos[0]);
		goto out;
	}
	if (rows == 0)
		imp_error(&im, 0, 1, NULL, "no rows after the header");
	long total;
	if (!im.errors && store_contact_count(c->store, t.id, &total) == 0 && total > SP_CONTACT_MAX)
		imp_error(&im, 0, 1, NULL, "tenant '%s' would have %ld contacts (at most %d in one phonebook)", t.slug,
			  total, SP_CONTACT_MAX);
	if (im.errors)
		goto out;
	if (o.dry_run) {
		printf("dry run: %ld contacts would be added to tenant %s; nothing written\n", rows, t.slug);
		ret = 0;
		goto out;
	}
	snprintf(err, sizeof(err), "rows=%ld", rows);
	if (store_audit(c->store, c->actor, "phonebook.import", t.slug, NULL, NULL, err) < 0 ||
	    store_commit(c->store) < 0) {
		fprintf(stderr, "error: cannot write the phonebook: %s\n", store_errmsg(c->store));
		goto out;
	}
	in_tx = false;
	printf("%ld contacts added to tenant %s\n", rows, t.slug);
	ret = 0;
out:
	if (im.errors > PB_ERRORS_SHOWN)
		fprintf(stderr, "error: ... and %ld more errors\n", im.errors - PB_ERRORS_SHOWN);
	if (im.errors)
		fprintf(stderr, "error: %ld %s; nothing written\n", im.errors, im.errors == 1 ? "error" : "errors");
	if (in_tx)
		store_rollback(c->store);
	csv_free(r);
	if (f)
		fclose(f);
	return ret;
}

int cmd_phonebook(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", pb_add }, { "rm", pb_rm }, { "list", pb_list }, { "import", pb_import }, { NULL, NULL },
	};
	return cli_dispatch(c, "phonebook", subs, argc, argv);
}
