/*
 * cmd_device.c: `sipprov device add|list|show|set|disable|enable|rm|
 * credentials` — the device record: MAC (or a generated 02... id for a
 * softphone), tenant, layout, template, overrides, HTTP digest credentials.
 * Accounts (lines) are cmd_account.c's.  Secrets are never printed except
 * the freshly generated HTTP password, once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/sipprov.h"

static const char usage_add[] =
	"device add [MAC] --tenant T --layout L [--template NAME] [--model M] [--label L] [key=value ...]";
static const char usage_set[] =
	"device set MAC [--template NAME] [--model M] [--label L] [--layout L] [key=value ...]";

/* Write d (add or update) and its audit entry in one transaction. */
static int device_write(struct cli *c, struct device *d, bool add, const char *action, const char *before)
{
	char err[SP_ERR_MAX];
	if (device_save(c->store, c->actor, action, d, add, before, c->force ? "forced" : "", err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	return 0;
}

/* The core's add / set rules; layouts are loaded only when one is named. */
static int change(struct cli *c, const struct tenant *t, struct device *d, struct device_change *ch, char **kv,
		  int nkv)
{
	char err[SP_ERR_MAX];
	const char *field;
	const struct layouts *ls = NULL;
	ch->kv = kv;
	ch->nkv = nkv > 0 ? (size_t)nkv : 0;
	ch->force = c->force;
	if (ch->layout && !(ls = cli_layouts(c)))
		return EXIT_USER;
	if (device_change_apply(c->store, ls, t, d, ch, &field, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	return 0;
}

static int device_add(struct cli *c, int argc, char **argv)
{
	const char *tenant = NULL, *layout = NULL, *tpl = NULL, *model = "", *label = "";
	char *pos[64], err[SP_ERR_MAX];
	int npos, rc, from = 0;
	struct device d;
	struct tenant t;
	struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &tenant, 0, 0 },
		{ "--layout", OPT_STR, &layout, 0, 0 },
		{ "--template", OPT_STR, &tpl, 0, 0 },
		{ "--model", OPT_STR, &model, 0, 0 },
		{ "--label", OPT_STR, &label, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	if ((rc = cli_parse(argc, argv, opts, pos, 64, &npos, usage_add)))
		return rc;
	if (!tenant || !layout)
		return cli_usage(usage_add);
	if (npos > 0 && !strchr(pos[0], '='))
		from = 1;
	if (device_init(&d, from ? pos[0] : NULL, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	if ((rc = cli_tenant(c, tenant, &t)))
		return rc;
	d.tenant_id = t.id;
	struct device_change ch = { .layout = layout, .model = model, .label = label, .template_name = tpl ? tpl : "" };
	if ((rc = change(c, &t, &d, &ch, pos + from, npos - from)))
		return rc;
	if (!d.template_name[0] && !t.default_template[0])
		fprintf(stderr, "warning: device %s has no template and tenant %s has no default template: "
				"it gets no server settings until one is set\n", d.mac, t.slug);
	if ((rc = device_write(c, &d, true, "device add", "")))
		return rc;
	printf("device %s added to tenant %s (layout %s)\n", d.mac, t.slug, d.layout);
	return 0;
}

static int device_set(struct cli *c, int argc, char **argv)
{
	const char *layout = NULL, *tpl = NULL, *model = NULL, *label = NULL;
	char *pos[64], before[65];
	int npos, rc;
	struct device d;
	struct tenant t;
	struct cli_opt opts[] = {
		{ "--layout", OPT_STR, &layout, 0, 0 },
		{ "--template", OPT_STR, &tpl, 0, 0 },
		{ "--model", OPT_STR, &model, 0, 0 },
		{ "--label", OPT_STR, &label, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	if ((rc = cli_parse(argc, argv, opts, pos, 64, &npos, usage_set)))
		return rc;
	if (npos < 1)
		return cli_usage(usage_set);
	if ((rc = cli_device(c, pos[0], &d)) || (rc = cli_tenant_by_id(c, d.tenant_id, &t)))
		return rc;
	device_digest(&d, before);
	struct device_change ch = { .layout = layout, .model = model, .label = label, .template_name = tpl };
	if ((rc = change(c, &t, &d, &ch, pos + 1, npos - 1)))
		return rc;
	if ((rc = device_write(c, &d, false, "device set", before)))
		return rc;
	printf("device %s updated\n", d.mac);
	return 0;
}

static int device_status(struct cli *c, int argc, char **argv, const char *status)
{
	struct device d;
	char before[65];
	int rc;
	if (argc != 1)
		return cli_usage(!strcmp(status, "active") ? "device enable MAC" : "device disable MAC");
	if ((rc = cli_device(c, argv[0], &d)))
		return rc;
	device_digest(&d, before);
	sp_strlcpy(d.status, status, sizeof(d.status));
	if ((rc = device_write(c, &d, false, !strcmp(status, "active") ? "device enable" : "device disable", before)))
		return rc;
	printf("device %s %s\n", d.mac, !strcmp(status, "active") ? "enabled" : "disabled");
	return 0;
}

static int device_rm(struct cli *c, int argc, char **argv)
{
	struct device d;
	char err[SP_ERR_MAX];
	int rc;
	if (argc != 1)
		return cli_usage("device rm MAC");
	if ((rc = cli_device(c, argv[0], &d)))
		return rc;
	if (device_remove(c->store, c->actor, &d, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	printf("device %s removed\n", d.mac);
	return 0;
}

/* New HTTP digest credentials (core's device_credentials_set): a random
 * password shown once; only sealed HA1s are stored. */
static int device_credentials(struct cli *c, int argc, char **argv)
{
	struct device d;
	char pass[33], err[SP_ERR_MAX];
	int rc;
	if (argc != 1)
		return cli_usage("device credentials MAC");
	if ((rc = cli_open_key(c)) || (rc = cli_device(c, argv[0], &d)))
		return rc;
	if (device_credentials_set(c->store, c->actor, &d, c->force ? "forced" : "", pass, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	if (c->json)
		cli_json_out(json_pack("{s:s, s:s, s:s, s:s}", "mac", d.mac, "realm", SP_REALM, "username",
				       d.http_user, "password", pass));
	else
		printf("device %s HTTP digest credentials (shown once; only an encrypted hash is stored):\n"
		       "  realm:    %s\n  username: %s\n  password: %s\n", d.mac, SP_REALM, d.http_user, pass);
	secret_wipe(pass, sizeof(pass));
	return 0;
}

static void fmt_time(int64_t t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!t) {
		sp_strlcpy(out, "never", n);
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%SZ", &tm);
}

struct dlist {
	struct cli *c;
	json_t *arr;
	struct tenant t;
};

static int list_one(const struct device *d, void *arg)
{
	struct dlist *dl = arg;
	char when[32];
	if (dl->t.id != d->tenant_id && store_tenant_get_id(dl->c->store, d->tenant_id, &dl->t) != 1)
		dl->t.slug[0] = '\0';
	if (dl->arr) {
		json_array_append_new(dl->arr, device_json(d, dl->t.slug));
		return 0;
	}
	fmt_time(d->fetched_at, when, sizeof(when));
	printf("%s  %-12s %-11s %-8s %-14s v%-4ld %-20s %s\n", d->mac, dl->t.slug, d->layout, d->status,
	       d->template_name[0] ? d->template_name : "(default)", d->fetched_version, when, d->label);
	return 0;
}

static int device_list(struct cli *c, int argc, char **argv)
{
	const char *tenant = NULL;
	char *pos[1];
	int npos, rc;
	struct dlist dl = { c, c->json ? json_array() : NULL, { 0 } };
	struct cli_opt opts[] = { { "--tenant", OPT_STR, &tenant, 0, 0 }, { NULL, 0, NULL, 0, 0 } };
	if ((rc = cli_parse(argc, argv, opts, pos, 0, &npos, "device list [--tenant T] [--json]"))) {
		json_decref(dl.arr);
		return rc;
	}
	if (tenant && (rc = cli_tenant(c, tenant, &dl.t))) {
		json_decref(dl.arr);
		return rc;
	}
	if (!dl.arr)
		printf("%-12s  %-12s %-11s %-8s %-14s %-5s %-20s %s\n", "mac", "tenant", "layout", "status",
		       "template", "vers", "last fetch", "label");
	if (store_device_each(c->store, tenant ? dl.t.id : 0, list_one, &dl) < 0) {
		json_decref(dl.arr);
		return cli_fail("%s", store_errmsg(c->store));
	}
	if (dl.arr)
		cli_json_out(dl.arr);
	return 0;
}

static int log_json_one(int64_t at, const char *name, const void *body, size_t len, void *arg)
{
	json_array_append_new(arg, json_pack("{s:I, s:s, s:s%}", "at", (json_int_t)at, "name", name, "text",
					     (const char *)body, len));
	return 0;
}

static json_t *device_log_json(struct cli *c, int64_t id)
{
	json_t *arr = json_array();
	store_device_log_each(c->store, id, log_json_one, arr);
	return arr;
}

static int log_print_one(int64_t at, const char *name, const void *body, size_t len, void *arg)
{
	char when[32];
	int *n = arg;
	fmt_time(at, when, sizeof(when));
	if ((*n)++ == 0)
		printf("uploaded logs (newest first):\n");
	printf("--- %s %s (%zu bytes)\n", when, name, len);
	/* Device bytes: print only printable ASCII, newlines and tabs. */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = ((const unsigned char *)body)[i];
		putchar((ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\t' ? ch : '?');
	}
	if (len && ((const char *)body)[len - 1] != '\n')
		putchar('\n');
	return 0;
}

static void device_log_print(struct cli *c, int64_t id)
{
	int n = 0;
	store_device_log_each(c->store, id, log_print_one, &n);
}

static int device_show(struct cli *c, int argc, char **argv)
{
	struct device d;
	struct tenant t;
	struct account a[SP_MAX_LINES];
	size_t n = 0;
	int rc;
	char when[32];
	if (argc != 1)
		return cli_usage("device show MAC [--json]");
	if ((rc = cli_device(c, argv[0], &d)) || (rc = cli_tenant_by_id(c, d.tenant_id, &t)))
		return rc;
	store_account_list(c->store, d.id, a, SP_MAX_LINES, &n);
	if (c->json) {
		json_t *o = device_json(&d, t.slug), *lines = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(lines, json_pack("{s:I, s:s, s:s, s:s, s:s, s:I}", "line",
				(json_int_t)a[i].line, "display_name", a[i].display_name, "extension", a[i].extension,
				"username", a[i].username, "auth_username", a[i].auth_username,
				"last_code", (json_int_t)a[i].last_code));
		json_object_set_new(o, "accounts", lines);
		json_object_set_new(o, "device_log", device_log_json(c, d.id));
		cli_json_out(o);
		return 0;
	}
	fmt_time(d.fetched_at, when, sizeof(when));
	printf("device:      %s\ntenant:      %s\nlayout:      %s\nmodel:       %s\nlabel:       %s\n"
	       "template:    %s%s\npinned:      %s\nstatus:      %s\nhttp auth:   %s\noverrides:   %s\n"
	       "last fetch:  %s from %s, v%ld, \"%s\"\n",
	       d.mac, t.slug, d.layout, d.model, d.label, d.template_name[0] ? d.template_name : t.default_template,
	       d.template_name[0] ? "" : " (tenant default)", d.pinned_version ? "yes" : "no", d.status,
	       d.ha1_enc[0] ? "digest credentials set" : "no credentials", d.overrides, when,
	       d.fetched_ip[0] ? d.fetched_ip : "-", d.fetched_version, d.fetched_ua);
	for (size_t i = 0; i < n; i++)
		printf("line %ld:      user %s, auth user %s, display \"%s\", ext %s, password %s\n", a[i].line,
		       a[i].username, a[i].auth_username, a[i].display_name, a[i].extension,
		       c->show_secrets ? "(use 'account list --show-secrets')" : "(hidden)");
	device_log_print(c, d.id);
	return 0;
}

static int device_disable(struct cli *c, int argc, char **argv)
{
	return device_status(c, argc, argv, "disabled");
}

static int device_enable(struct cli *c, int argc, char **argv)
{
	return device_status(c, argc, argv, "active");
}

/* ---- phones nobody entered: `device pending`, `device claim` (core/claim.c's rules) ---- */

static const char usage_pending[] = "device pending [--json] | device pending rm MAC";
static const char usage_claim[] = "device claim MAC --tenant T [--layout L] [--template NAME]";

static int device_pending(struct cli *c, int argc, char **argv)
{
	char *pos[2], mac[SP_MAC_LEN + 1];
	int npos, rc;
	struct pending_dev *all;
	size_t n;

	if ((rc = cli_parse(argc, argv, (struct cli_opt[]){ { NULL, 0, NULL, 0, 0 } }, pos, 2, &npos, usage_pending)))
		return rc;
	if (npos == 1 || (npos == 2 && strcmp(pos[0], "rm")))
		return cli_usage(usage_pending);
	if ((rc = cli_open(c)))
		return rc;
	if (npos == 2) {
		if (mac_normalize(pos[1], mac) < 0)
			return cli_fail("'%s' is not a MAC address (12 hex digits, ':' or '-' allowed)", pos[1]);
		char err[SP_ERR_MAX];
		if ((rc = claim_forget(c->store, c->actor, mac, err, sizeof(err))) <= 0)
			return cli_fail("%s", err);
		printf("%s removed from the pending list\n", mac);
		return 0;
	}
	if (store_pending_list(c->store, &all, &n) < 0)
		return cli_fail("cannot read the pending list: %s", store_errmsg(c->store));
	if (c->json) {
		json_t *arr = json_array();
		const struct layouts *ls = cli_layouts(c);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, pending_json(ls, &all[i]));
		cli_json_out(arr);
		free(all);
		return 0;
	}
	const struct layouts *ls = cli_layouts(c);
	if (!ls) {
		free(all);
		return EXIT_USER;
	}
	printf("%-13s %-12s %-12s %-16s %-16s %-20s %6s  %s\n", "MAC", "LAYOUT", "VENDOR", "MODEL", "SOURCE",
	       "LAST SEEN", "COUNT", "FILE");
	for (size_t i = 0; i < n; i++) {
		char when[32], model[4 * 64 + 1], file[4 * 256 + 1], cands[256];
		const char *lay = claim_suggest_layout(ls, &all[i], cands, sizeof(cands));
		fmt_time(all[i].last_seen, when, sizeof(when));
		printf("%-13s %-12s %-12s %-16s %-16s %-20s %6ld  %s\n", all[i].mac, lay ? lay : "?",
		       all[i].vendor[0] ? all[i].vendor : "-", sp_log_escape(all[i].model, model, sizeof(model)),
		       all[i].source_ip, when, all[i].count, sp_log_escape(all[i].path, file, sizeof(file)));
	}
	if (!n)
		printf("(no unknown phones have asked for a config)\n");
	free(all);
	return 0;
}

/* Enter a pending phone: `device add` with the layout and model it told us. */
static int device_claim(struct cli *c, int argc, char **argv)
{
	const char *tenant = NULL, *layout = NULL, *tpl = NULL;
	char *pos[1], mac[SP_MAC_LEN + 1];
	int npos, rc;
	struct pending_dev p;
	struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &tenant, 0, 0 },
		{ "--layout", OPT_STR, &layout, 0, 0 },
		{ "--template", OPT_STR, &tpl, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, usage_claim)))
		return rc;
	if (npos != 1 || !tenant)
		return cli_usage(usage_claim);
	if (mac_normalize(pos[0], mac) < 0)
		return cli_fail("'%s' is not a MAC address (12 hex digits, ':' or '-' allowed)", pos[0]);
	if ((rc = cli_open(c)))
		return rc;
	char err[SP_ERR_MAX];
	if ((rc = claim_lookup(c->store, mac, &p, err, sizeof(err))) <= 0)
		return cli_fail("%s", err);
	const struct layouts *ls = cli_layouts(c);
	if (!ls)
		return EXIT_USER;
	if (claim_layout(ls, &p, layout, "--layout", &layout, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	char *args[] = { mac, "--tenant", (char *)tenant, "--layout", (char *)layout, "--model", p.model,
			 "--template", (char *)(tpl ? tpl : ""), NULL };
	if ((rc = device_add(c, tpl ? 9 : 7, args)))
		return rc;
	struct tenant t;
	if (store_tenant_get(c->store, tenant, &t) == 1 && strstr(t.device_auth, "digest"))
		printf("next: 'sipprov device credentials %s' for its HTTP password, then 'sipprov account add %s ...'\n",
		       mac, mac);
	return 0;
}

int cmd_device(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", device_add }, { "list", device_list }, { "show", device_show }, { "set", device_set },
		{ "disable", device_disable }, { "enable", device_enable }, { "rm", device_rm },
		{ "credentials", device_credentials }, { "pending", device_pending }, { "claim", device_claim },
		{ NULL, NULL },
	};
	return cli_dispatch(c, "device", subs, argc, argv);
}
