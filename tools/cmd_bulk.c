/*
 * cmd_bulk.c: `sipprov import`, `export`, `tenant move` and `reprovision`:
 * argument parsing, progress bars and printing.  The work is in
 * server/ops/bulk.c (import, export, move) and server/ops/notify.c (SIP NOTIFY);
 * this file decides nothing about validity.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ops/ops.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- progress bar (stderr, only on a terminal) ---- */

struct progress {
	const char *what;
	long long total;
	double last;
	bool on;
};

static void progress_init(struct progress *p, const char *what, long long total)
{
	p->what = what;
	p->total = total;
	p->last = 0;
	p->on = total > 0 && isatty(STDERR_FILENO);
}

static void progress_show(struct progress *p, long long done, bool final)
{
	double t = now_s();
	if (!p->on || (!final && t - p->last < 0.1))
		return;
	p->last = t;
	int pct = p->total ? (int)(done * 100 / p->total) : 100;
	int w = pct * 30 / 100;
	fprintf(stderr, "\r%s [%.*s%*s] %3d%%", p->what, w, "##############################", 30 - w, "", pct);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* ---- import ---- */

struct import_ctx {
	struct progress bar;
	bool json;
	json_t *errors;
};

static void import_progress(long long done, void *arg)
{
	struct import_ctx *x = arg;
	progress_show(&x->bar, done, false);
}

static void import_error(const char *msg, void *arg)
{
	struct import_ctx *x = arg;
	if (x->bar.on && x->bar.last > 0) {
		fputc('\n', stderr);
		x->bar.last = 0;
	}
	if (x->json)
		json_array_append_new(x->errors, json_string(msg));
	else
		fprintf(stderr, "error: %s\n", msg);
}

int cmd_import(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"import FILE.csv --tenant T [--dry-run] [--force] [--json]\n"
		"  columns: mac,layout,model,label,template,line,display_name,extension,username,\n"
		"  auth_username,password, plus setting keys as device overrides; one row per line.\n"
		"  Every row is validated first; any error and nothing is written.  Existing devices\n"
		"  of the tenant are updated (lines in the file replaced, others kept); an empty\n"
		"  password keeps an existing line's password.  FILE '-' reads stdin.\n"
		"  A cell starting with a single quote followed by = + - @ TAB CR or another quote\n"
		"  loses that one quote (export adds it so spreadsheets show such cells as text:\n"
		"  '+15551234 imports as +15551234); any other leading quote is kept.";
	const char *tenant = NULL;
	bool dry = false, dummy = false;
	struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &tenant, 0, 0 },
		{ "--dry-run", OPT_FLAG, &dry, 0, 0 },
		{ "--force", OPT_FLAG, &dummy, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	char *pos[1], err[SP_ERR_MAX];
	int npos, rc;
	struct tenant t;
	struct import_ctx x = { .json = c->json };
	struct bulk_import_result r;
	FILE *f;
	struct stat st;

	if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, usage)))
		return rc;
	if (npos != 1 || !tenant)
		return cli_usage(usage);
	if ((rc = cli_open_key(c)) || (rc = cli_tenant(c, tenant, &t)))
		return rc;
	const struct layouts *ls = cli_layouts(c);
	if (!ls)
		return EXIT_USER;
	f = strcmp(pos[0], "-") ? fopen(pos[0], "rb") : stdin;
	if (!f)
		return cli_fail("cannot open '%s': %s", pos[0], strerror(errno));
	progress_init(&x.bar, "import", fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : 0);
	if (st.st_size < 1 << 20)
		x.bar.on = false;
	x.errors = json_array();
	struct bulk_import_opts o = {
		.dry_run = dry, .force = c->force || dummy, .actor = c->actor, .key = c->key, .layouts = ls,
		.progress = import_progress, .on_error = import_error, .arg = &x,
	};
	double t0 = now_s();
	rc = bulk_import(c->store, &t, f, &o, &r, err, sizeof(err));
	double dt = now_s() - t0;
	if (f != stdin)
		fclose(f);
	if (rc == 0)
		progress_show(&x.bar, x.bar.total, true);
	if (rc < 0) {
		json_decref(x.errors);
		return cli_fail("import of '%s' failed, nothing written: %s", pos[0], err);
	}
	if (c->json) {
		json_t *doc = json_pack("{s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o}", "tenant", t.slug,
					"dry_run", dry, "ok", rc == 0, "rows", (json_int_t)r.rows,
					"devices_new", (json_int_t)r.devices_new,
					"devices_updated", (json_int_t)r.devices_updated,
					"accounts_new", (json_int_t)r.accounts_new,
					"accounts_updated", (json_int_t)r.accounts_updated, "errors", (json_int_t)r.errors,
					"seconds", dt, "error_list", x.errors);
		cli_json_out(doc);
	} else {
		json_decref(x.errors);
		if (rc == 1)
			fprintf(stderr, "error: %ld error%s in '%s': nothing was written\n", r.errors,
				r.errors == 1 ? "" : "s", pos[0]);
		else
			printf("%s %ld rows into tenant %s: %ld devices created, %ld updated; %ld lines added, "
			       "%ld replaced (%.2f s, %.0f rows/s)\n", dry ? "dry run: would import" : "imported",
			       r.rows, t.slug, r.devices_new, r.devices_updated, r.accounts_new, r.accounts_updated,
			       dt, dt > 0 ? (double)r.rows / dt : 0.0);
	}
	return rc == 0 ? 0 : EXIT_USER;
}

/* ---- export ---- */

int cmd_export(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "export --tenant T [--show-secrets] [-o FILE]\n"
		"  cells starting with = + - @ TAB or CR are written behind a single quote (a\n"
		"  spreadsheet shows them as text, never runs them); import takes it off again";
	const char *tenant = NULL, *file = NULL;
	struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &tenant, 0, 0 },
		{ "-o", OPT_STR, &file, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	char *pos[1], err[SP_ERR_MAX];
	int npos, rc;
	struct tenant t;
	FILE *out = stdout;
	long n;

	if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos, usage)))
		return rc;
	if (!tenant)
		return cli_usage(usage);
	if ((rc = c->show_secrets ? cli_open_key(c) : cli_open(c)) || (rc = cli_tenant(c, tenant, &t)))
		return rc;
	if (file && !(out = fopen(file, "wb")))
		return cli_fail("cannot write '%s': %s", file, strerror(errno));
	if (file && c->show_secrets)
		fchmod(fileno(out), 0600);
	n = bulk_export(c->store, &t, c->show_secrets ? c->key : NULL, out, err, sizeof(err));
	if (file && fclose(out) != 0 && n >= 0)
		n = sp_err(err, sizeof(err), "cannot write '%s'", file);
	if (n < 0)
		return cli_fail("export of tenant '%s': %s", t.slug, err);
	if (!c->show_secrets)
		fprintf(stderr, "# %ld devices exported; passwords omitted (pass --show-secrets to include them; "
			"re-importing with empty passwords keeps existing ones)\n", n);
	return 0;
}

/* ---- tenant move ---- */

struct move_ctx {
	bool json;
	json_t *devices;
	long nerr;
};

static void move_device(const struct device *d, const struct bulk_change *ch, size_t n, void *arg)
{
	struct move_ctx *x = arg;
	if (x->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "field", ch[i].key, "before",
							   ch[i].before, "after", ch[i].after));
		json_array_append_new(x->devices, json_pack("{s:s, s:o}", "mac", d->mac, "changes", a));
		return;
	}
	printf("%s", d->mac);
	if (!n)
		printf("  (no change)");
	for (size_t i = 0; i < n; i++)
		printf("%s%s: %s -> %s", i ? "; " : "  ", ch[i].key, ch[i].before[0] ? ch[i].before : "(unset)",
		       ch[i].after[0] ? ch[i].after : "(unset)");
	putchar('\n');
}

static void move_error(const char *msg, void *arg)
{
	struct move_ctx *x = arg;
	/* The summary line counts them all; a screenful names the first. */
	if (x->nerr++ < 20)
		fprintf(stderr, "error: %s\n", msg);
	else if (x->nerr == 21)
		fprintf(stderr, "error: ... more devices (counted in the summary)\n");
}

int cmd_tenant_move(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "tenant move TENANT --template NAME [--dry-run] [--force] [--json]";
	const char *tmpl = NULL;
	bool dry = false;
	struct cli_opt opts[] = {
		{ "--template", OPT_STR, &tmpl, 0, 0 },
		{ "--dry-run", OPT_FLAG, &dry, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	char *pos[1], err[SP_ERR_MAX];
	int npos, rc;
	struct tenant t;
	struct move_ctx x = { .json = c->json };
	struct bulk_move_result *r = xcalloc(1, sizeof(*r));

	if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, usage)))
		goto out;
	rc = EXIT_USAGE;
	if (npos != 1 || !tmpl) {
		cli_usage(usage);
		goto out;
	}
	if ((rc = cli_open(c)) || (rc = cli_tenant(c, pos[0], &t)))
		goto out;
	x.devices = json_array();
	struct bulk_move_opts o = {
		.dry_run = dry, .actor = c->actor, .key = c->have_key ? c->key : NULL, .force = c->force,
		.on_device = move_device, .on_error = move_error, .arg = &x,
	};
	double t0 = now_s();
	rc = bulk_move(c->store, &t, tmpl, &o, r, err, sizeof(err));
	double dt = now_s() - t0;
	if (rc < 0) {
		json_decref(x.devices);
		rc = cli_fail("tenant move: %s", err);
		goto out;
	}
	if (c->json) {
		json_t *fields = json_object();
		for (size_t i = 0; i < r->nfields; i++)
			json_object_set_new(fields, r->field[i], json_integer(r->count[i]));
		cli_json_out(json_pack("{s:s, s:s, s:b, s:b, s:o, s:{s:I, s:I, s:I, s:o, s:f}}", "tenant", t.slug,
				       "template", tmpl, "dry_run", dry, "ok", rc == 0, "devices", x.devices,
				       "summary", "devices", (json_int_t)r->devices, "changing",
				       (json_int_t)r->changing, "errors", (json_int_t)r->errors, "fields", fields,
				       "seconds", dt));
	} else {
		json_decref(x.devices);
		printf("summary: %ld devices, %ld changing", r->devices, r->changing);
		for (size_t i = 0; i < r->nfields; i++)
			printf("%s%s %ld", i ? ", " : "; ", r->field[i], r->count[i]);
		printf(" (%.2f s)\n", dt);
		if (rc == 1)
			fprintf(stderr, "error: %ld device%s would get an invalid config: nothing was changed\n",
				r->errors, r->errors == 1 ? "" : "s");
		else if (!dry)
			printf("moved %ld devices of tenant %s to template %s\n", r->devices, t.slug, tmpl);
		else
			printf("dry run: nothing changed\n");
	}
	rc = rc == 0 ? 0 : EXIT_USER;
out:
	free(r);
	return rc;
}

/* ---- reprovision (the engine is server/ops/reprovision.c) ---- */

static void rp_progress(size_t done, size_t total, void *arg)
{
	progress_show(arg, (long long)done, done == total);
}

int cmd_reprovision(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"reprovision (--tenant T | --device MAC | --drifted | --resume JOB) [--rate N] [--dry-run]\n"
		"       [--via HOST:PORT|SIP-URI] [--timeout S] [--concurrency N] [--ca FILE] [--no-verify] [--json]";
	const char *tenant = NULL, *mac = NULL, *via_s = NULL, *ca = NULL;
	bool dry = false, drifted = false, no_verify = false;
	long rate = 50, timeout = NOTIFY_TIMER_F_MS / 1000, resume = 0, conc = 200;
	struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &tenant, 0, 0 },
		{ "--device", OPT_STR, &mac, 0, 0 },
		{ "--drifted", OPT_FLAG, &drifted, 0, 0 },
		{ "--resume", OPT_LONG, &resume, 1, 1L << 40 },
		{ "--rate", OPT_LONG, &rate, 1, 100000 },
		{ "--concurrency", OPT_LONG, &conc, 1, 10000 },
		{ "--timeout", OPT_LONG, &timeout, 1, 3600 },
		{ "--via", OPT_STR, &via_s, 0, 0 },
		{ "--ca", OPT_STR, &ca, 0, 0 },
		{ "--no-verify", OPT_FLAG, &no_verify, 0, 0 },
		{ "--dry-run", OPT_FLAG, &dry, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	char *pos[1], err[SP_ERR_MAX];
	int npos, rc;
	struct reprov r;
	struct progress bar;
	const struct layouts *ls;
	struct sip_uri via;
	struct tenant t = { 0 };

	if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos, usage)))
		return rc;
	if ((!!tenant + !!mac + (resume > 0)) + (drifted && !tenant) != 1 && !(drifted && tenant && !mac && !resume))
		return cli_usage(usage);
	if (via_s && sip_hostport_parse(via_s, &via, err, sizeof(err)) < 0)
		return cli_fail("--via '%s': %s", via_s, err);
	if ((rc = cli_open(c)))
		return rc;
	if (!(ls = cli_layouts(c)))
		return EXIT_USER;
	reprov_init(&r, c->store, ls);
	if (tenant && (rc = cli_tenant(c, tenant, &t)))
		return rc;
	if (resume) {
		char kind[32], params[SP_JSON_MAX];
		if (store_job_get(c->store, resume, kind, sizeof(kind), params, sizeof(params)) != 1 ||
		    strcmp(kind, "reprovision"))
			return cli_fail("no reprovision job %ld", resume);
		rc = reprov_add_resume(&r, resume);
	} else if (drifted) {
		rc = reprov_add_drifted(&r, t.id);
	} else if (tenant) {
		rc = reprov_add_tenant(&r, t.id);
	} else {
		struct device d;
		if ((rc = cli_device(c, mac, &d)))
			return rc;
		rc = reprov_add(&r, &d);
		if (r.skipped) {
			reprov_release(&r);
			return cli_fail("device %s is disabled", d.mac);
		}
	}
	if (rc < 0) {
		reprov_release(&r);
		return cli_fail("cannot list devices: %s", store_errmsg(c->store));
	}
	size_t ns = reprov_prepare(&r);
	if (dry) {
		json_t *items = json_array();
		for (size_t i = 0; i < r.n; i++) {
			struct reprov_item *x = &r.it[i];
			const char *dest = x->no_contact ? "" : x->t.contact.text;
			if (c->json)
				json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s}", "mac", x->t.mac,
								       "event", x->t.event, "contact", dest, "via",
								       via_s ? via.text : "", "note",
								       x->no_contact ? x->t.detail : ""));
			else if (x->no_contact)
				printf("%s  (not sent: %s)\n", x->t.mac, x->t.detail);
			else
				printf("%s  Event: %s  to %s%s%s\n", x->t.mac, x->t.event, dest, via_s ? " via " : "",
				       via_s ? via.text : "");
		}
		if (c->json)
			cli_json_out(json_pack("{s:b, s:I, s:I, s:I, s:o}", "dry_run", 1, "targets", (json_int_t)r.n,
					       "with_contact", (json_int_t)ns, "skipped_disabled",
					       (json_int_t)r.skipped, "items", items));
		else {
			json_decref(items);
			printf("dry run: %zu targets, %zu with a known contact, %ld disabled skipped; nothing sent\n",
			       r.n, ns, r.skipped);
		}
		rc = 0;
		goto out;
	}
	if (!r.job) {
		json_t *p = json_pack("{s:s, s:s, s:b, s:I, s:I, s:s}", "tenant", tenant ? tenant : "", "device",
				      mac ? mac : "", "drifted", drifted, "rate", (json_int_t)rate, "timeout",
				      (json_int_t)timeout, "via", via_s ? via.text : "");
		char *ps = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(p);
		r.job = store_job_new(c->store, "reprovision", ps);
		free(ps);
		if (r.job < 0) {
			rc = cli_fail("cannot create a job: %s", store_errmsg(c->store));
			goto out;
		}
	}
	struct notify_opts o;
	notify_opts_init(&o);
	o.rate = (double)rate;
	o.concurrency = (int)conc;
	o.timeout_ms = (int)(timeout * 1000);
	o.via = via_s ? &via : NULL;
	o.tls_verify = !no_verify;
	o.tls_ca_file = ca;
	progress_init(&bar, "reprovision", (long long)ns);
	if (ns < 20)
		bar.on = false;
	r.progress = rp_progress;
	r.arg = &bar;
	double t0 = now_s();
	rc = reprov_run(&r, &o, err, sizeof(err));
	double dt = now_s() - t0;
	if (rc < 0) {
		rc = cli_fail("reprovision: %s", err);
		goto out;
	}
	struct reprov_counts k;
	reprov_count(&r, &k);
	long sent = k.sent, n200 = k.ok, n481 = k.r481, other = k.other, tout = k.timeout, nocontact = k.no_contact;
	json_t *items = json_array();
	for (size_t i = 0; i < r.n; i++) {
		struct reprov_item *x = &r.it[i];
		const char *res = reprov_result(x);
		if (c->json)
			json_array_append_new(items, json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s}", "mac", x->t.mac,
							       "result", res, "code", x->t.code, "sends", x->t.sends,
							       "event", x->t.event, "contact",
							       x->no_contact ? "" : x->t.contact.text, "detail",
							       x->t.detail));
		else if (strcmp(res, "200"))
			printf("%s  %-10s %s\n", x->t.mac, res, x->t.detail);
	}
	if (c->json) {
		cli_json_out(json_pack("{s:I, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:f, s:o}", "job",
				       (json_int_t)r.job, "dry_run", 0, "summary", "targets", (json_int_t)r.n,
				       "sent", (json_int_t)sent, "200", (json_int_t)n200, "481", (json_int_t)n481,
				       "other", (json_int_t)other, "timeout", (json_int_t)tout, "no_contact",
				       (json_int_t)nocontact, "skipped_disabled", (json_int_t)r.skipped, "seconds", dt,
				       "items", items));
	} else {
		json_decref(items);
		printf("job %lld: %zu targets, sent %ld, 200: %ld, 481: %ld, other: %ld, timeout: %ld, "
		       "no contact: %ld (%.1f s, %.1f/s)\n", (long long)r.job, r.n, sent, n200, n481, other, tout,
		       nocontact, dt, dt > 0 ? (double)sent / dt : 0.0);
		if (n200 != (long)r.n)
			printf("retry what did not succeed: sipprov reprovision --resume %lld\n", (long long)r.job);
	}
	rc = n200 == (long)r.n ? 0 : EXIT_USER;
out:
	reprov_release(&r);
	return rc;
}
