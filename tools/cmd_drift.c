/*
 * cmd_drift.c: `sipprov drift` (drift events: expected vs observed
 * registrations) and `sipprov status` (per device: last fetch and version
 * vs the one it should run, last registration, last failure and what it
 * usually means, open drift).  Read-only; the daemon records, this reports.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/sipprov.h"

static void fmt_time(int64_t t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!t) {
		sp_strlcpy(out, "-", n);
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct drift_out { bool json; json_t *arr; long n; };

static int drift_one(const struct drift_event *ev, void *arg)
{
	struct drift_out *o = arg;
	char first[32], last[32], res[32];
	o->n++;
	if (o->json) {
		json_array_append_new(o->arr, status_drift_json(ev));
		return 0;
	}
	fmt_time(ev->first_seen, first, sizeof(first));
	fmt_time(ev->last_seen, last, sizeof(last));
	fmt_time(ev->resolved, res, sizeof(res));
	printf("%-12s %-4ld %-14s %-20s %-20s %5ld  %s  %s  %s\n", ev->mac[0] ? ev->mac : "-", ev->line,
	       ev->kind, ev->expected[0] ? ev->expected : "-", ev->observed, ev->count, first, last,
	       ev->resolved ? res : "open");
	return 0;
}

int cmd_drift(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "drift [--tenant T] [--open] [--json]";
	const char *tenant = NULL;
	bool open_only = false;
	char *pos[1];
	int npos, rc;
	struct tenant t = { .id = 0 };
	struct cli_opt opts[] = { { "--tenant", OPT_STR, &tenant, 0, 0 }, { "--open", OPT_FLAG, &open_only, 0, 0 },
				  { NULL, 0, NULL, 0, 0 } };
	struct drift_out o = { .json = c->json, .arr = NULL, .n = 0 };

	if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos, usage)))
		return rc;
	if ((rc = cli_open(c)))
		return rc;
	if (tenant && (rc = cli_tenant(c, tenant, &t)))
		return rc;
	if (o.json)
		o.arr = json_array();
	else
		printf("%-12s %-4s %-14s %-20s %-20s %5s  %-20s  %-20s  %s\n", "MAC", "LINE", "KIND", "EXPECTED",
		       "OBSERVED", "COUNT", "FIRST SEEN", "LAST SEEN", "RESOLVED");
	if (store_drift_each(c->store, t.id, open_only, drift_one, &o) < 0) {
		json_decref(o.arr);
		return cli_fail("cannot read drift events: %s", store_errmsg(c->store));
	}
	if (o.json)
		cli_json_out(o.arr);
	return 0;
}

struct status_out { struct cli *c; json_t *arr; int rc; };

static int status_one(const struct device *d, void *arg)
{
	struct status_out *so = arg;
	struct cli *c = so->c;
	struct effective e;
	struct observation last;
	char err[SP_ERR_MAX], fetched[32], reg[32], failed[32];
	long open = 0;
	int have_reg;

	if (c->json) {
		json_array_append_new(so->arr, status_device_json(c->store, d, err, sizeof(err)));
		if (err[0])
			fprintf(stderr, "warning: %s\n", err);
		return 0;
	}
	if (effective_load_device(c->store, NULL, d, &e, err, sizeof(err)) < 0) {
		fprintf(stderr, "warning: %s\n", err);
		memset(&e, 0, sizeof(e));
	}
	have_reg = store_registration_last(c->store, d->id, &last);
	store_drift_open_count_device(c->store, d->id, &open);
	/* Last failure: the worst current line (a failing line beats a good one). */
	long code = 0;
	int64_t code_at = 0;
	for (size_t i = 0; i < e.naccounts; i++) {
		const struct account *a = &e.accounts[i];
		if (a->last_code && a->last_code != 200 && (!code || code == 200 || a->last_code_at > code_at)) {
			code = a->last_code;
			code_at = a->last_code_at;
		} else if (a->last_code == 200 && !code) {
			code = 200;
			code_at = a->last_code_at;
		}
	}
	const char *state = status_fetch_state(d, e.version);
	char fv[32], ev[48];
	fmt_time(d->fetched_at, fetched, sizeof(fetched));
	fmt_time(have_reg == 1 ? last.at : 0, reg, sizeof(reg));
	fmt_time(code_at, failed, sizeof(failed));
	snprintf(fv, sizeof(fv), d->fetched_at ? "v%ld" : "-", d->fetched_version);
	snprintf(ev, sizeof(ev), "v%ld", e.version);
	char cs[16];
	snprintf(cs, sizeof(cs), code ? "%ld" : "-", code);
	printf("%-12s %-20s %-5s/%-5s %-7s %-20s %-4s %-4s %4ld", d->mac, fetched, fv, ev, state, reg,
	       have_reg == 1 && last.transport[0] ? last.transport : "-", cs, open);
	if (code && code != 200)
		printf("\n%12s last failure %ld at %s: %s", "", code, failed, drift_code_meaning(code));
	printf("\n");
	effective_release(&e);
	return 0;
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "status [--tenant T] [--json]";
	const char *tenant = NULL;
	char *pos[1];
	int npos, rc;
	struct tenant t = { .id = 0 };
	struct cli_opt opts[] = { { "--tenant", OPT_STR, &tenant, 0, 0 }, { NULL, 0, NULL, 0, 0 } };
	struct status_out so = { .c = c, .arr = NULL, .rc = 0 };

	if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos, usage)))
		return rc;
	if ((rc = cli_open(c)))
		return rc;
	if (tenant && (rc = cli_tenant(c, tenant, &t)))
		return rc;
	if (c->json)
		so.arr = json_array();
	else
		printf("%-12s %-20s %-11s %-7s %-20s %-4s %-4s %4s\n", "MAC", "FETCHED", "VER/WANT", "CONFIG",
		       "REGISTERED", "VIA", "CODE", "OPEN");
	if (store_device_each(c->store, t.id, status_one, &so) < 0) {
		json_decref(so.arr);
		return cli_fail("cannot read devices: %s", store_errmsg(c->store));
	}
	if (c->json)
		cli_json_out(so.arr);
	return so.rc;
}
