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

/* ---- reprovision ---- */

struct rp_item {
	struct notify_target t;
	bool no_contact;                    /* or no event: not sent */
	bool sent;
	char contact[SP_FIELD_MAX];
};

struct rp {
	struct cli *c;
	const struct layouts *ls;
	struct rp_item *it;
	size_t n, cap;
	long skipped;
	int64_t job;
	struct progress bar;
	struct notify_target *tv;           /* what is sent */
	size_t *map;                        /* tv index -> it index */
};

static int rp_add(const struct device *d, void *arg)
{
	struct rp *r = arg;
	struct rp_item *x;
	char err[128];
	const struct layout *l;
	const char *ev;

	if (strcmp(d->status, "active")) {
		r->skipped++;
		return 0;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->it = xrealloc(r->it, r->cap * sizeof(*r->it));
	}
	x = &r->it[r->n++];
	memset(x, 0, sizeof(*x));
	x->t.device_id = d->id;
	sp_strlcpy(x->t.mac, d->mac, sizeof(x->t.mac));
	l = layouts_find(r->ls, d->layout);
	ev = l ? layout_notify_event(l) : NULL;
	if (!ev || !*ev) {
		x->no_contact = true;
		x->t.result = NR_OTHER;
		snprintf(x->t.detail, sizeof(x->t.detail), "layout '%s' declares no NOTIFY event", d->layout);
		return 0;
	}
	sp_strlcpy(x->t.event, ev, sizeof(x->t.event));
	int rc = store_registration_contact(r->c->store, d->id, x->contact, sizeof(x->contact), NULL);
	if (rc <= 0) {
		x->no_contact = true;
		x->t.result = NR_PENDING;
		snprintf(x->t.detail, sizeof(x->t.detail), "%s", rc < 0 ? "cannot read registrations" :
			 "no successful registration with a Contact seen");
		return 0;
	}
	if (sip_uri_target(x->contact, &x->t.contact, err, sizeof(err)) < 0) {
		x->no_contact = true;
		x->t.result = NR_OTHER;
		sp_strlcpy(x->t.detail, err, sizeof(x->t.detail));
	}
	return 0;
}

static int rp_resume_item(int64_t device_id, const char *result, const char *detail, void *arg)
{
	struct rp *r = arg;
	struct device d;
	if (store_device_get_id(r->c->store, device_id, &d) == 1)
		rp_add(&d, r);
	return 0;
}

static const char *rp_result(const struct rp_item *x)
{
	if (x->no_contact && x->t.result == NR_PENDING)
		return "no_contact";
	return notify_result_name(x->t.result);
}

static void rp_done(struct notify_target *t, size_t done, size_t total, void *arg)
{
	struct rp *r = arg;
	struct rp_item *x = &r->it[r->map[t - r->tv]];
	x->t = *t;
	x->sent = t->sends > 0;
	if (r->job > 0)
		store_job_item_set(r->c->store, r->job, t->device_id, rp_result(x), t->detail);
	progress_show(&r->bar, (long long)done, done == total);
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
	struct rp r = { .c = c };
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
	if (!(r.ls = cli_layouts(c)))
		return EXIT_USER;
	if (tenant && (rc = cli_tenant(c, tenant, &t)))
		return rc;
	if (resume) {
		char kind[32], params[SP_JSON_MAX];
		if (store_job_get(c->store, resume, kind, sizeof(kind), params, sizeof(params)) != 1 ||
		    strcmp(kind, "reprovision"))
			return cli_fail("no reprovision job %ld", resume);
		r.job = resume;
		rc = store_job_item_each(c->store, resume, true, rp_resume_item, &r);
	} else if (drifted) {
		rc = store_drifted_each(c->store, t.id, rp_add, &r);
	} else if (tenant) {
		rc = store_device_each(c->store, t.id, rp_add, &r);
	} else {
		struct device d;
		if ((rc = cli_device(c, mac, &d)))
			return rc;
		rc = rp_add(&d, &r);
		if (r.skipped)
			return cli_fail("device %s is disabled", d.mac);
	}
	if (rc < 0) {
		free(r.it);
		return cli_fail("cannot list devices: %s", store_errmsg(c->store));
	}
	/* Only targets with a contact go to the sender, as a compact array;
	 * r.map takes each back to its item. */
	r.tv = xcalloc(r.n + 1, sizeof(*r.tv));
	r.map = xcalloc(r.n + 1, sizeof(*r.map));
	size_t ns = 0;
	for (size_t i = 0; i < r.n; i++)
		if (!r.it[i].no_contact) {
			r.map[ns] = i;
			r.tv[ns++] = r.it[i].t;
		}
	if (dry) {
		json_t *items = json_array();
		for (size_t i = 0; i < r.n; i++) {
			struct rp_item *x = &r.it[i];
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
	/* Every target's item first (one transaction), so an interrupted run
	 * can be resumed: pending items are retried. */
	if (store_begin(c->store) == 0) {
		for (size_t i = 0; i < r.n; i++)
			store_job_item_set(c->store, r.job, r.it[i].t.device_id,
					   r.it[i].no_contact ? rp_result(&r.it[i]) : "pending",
					   r.it[i].no_contact ? r.it[i].t.detail : "");
		store_commit(c->store);
	}
	struct notify_opts o;
	notify_opts_init(&o);
	o.rate = (double)rate;
	o.concurrency = (int)conc;
	o.timeout_ms = (int)(timeout * 1000);
	o.via = via_s ? &via : NULL;
	o.tls_verify = !no_verify;
	o.tls_ca_file = ca;
	o.on_done = rp_done;
	o.arg = &r;
	progress_init(&r.bar, "reprovision", (long long)ns);
	if (ns < 20)
		r.bar.on = false;
	double t0 = now_s();
	rc = ns ? notify_run(r.tv, ns, &o, err, sizeof(err)) : 0;
	double dt = now_s() - t0;
	if (rc < 0) {
		rc = cli_fail("reprovision: %s", err);
		goto out;
	}
	store_job_finish(c->store, r.job);
	long sent = 0, n200 = 0, n481 = 0, other = 0, tout = 0, nocontact = 0;
	json_t *items = json_array();
	for (size_t i = 0; i < r.n; i++) {
		struct rp_item *x = &r.it[i];
		const char *res = rp_result(x);
		sent += x->sent;
		if (!strcmp(res, "200"))
			n200++;
		else if (!strcmp(res, "481"))
			n481++;
		else if (!strcmp(res, "timeout"))
			tout++;
		else if (!strcmp(res, "no_contact"))
			nocontact++;
		else
			other++;
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
	free(r.tv);
	free(r.map);
	free(r.it);
	return rc;
}
