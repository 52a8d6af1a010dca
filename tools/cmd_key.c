/*
 * cmd_key.c: `sipprov key set|rm|list MAC ...`: a device's line keys, kept
 * as its overrides key.N.type|value|label|line over the template's (and
 * tenant's) defaults, which `sipprov template set T NAME key.N.type=...`
 * writes.  --module M addresses key INDEX of expansion module M instead
 * (settings ext.M.N.*).  A BLF key whose target is no user of the tenant is
 * warned about.  It renders nothing: the layouts do (templates/<vendor>.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define KEY_USAGE "key set MAC INDEX --type T [--value V] [--label L] [--line N] [--module M]\n" \
	"       sipprov key rm MAC INDEX [--module M]\n" \
	"       sipprov key list MAC [--json]"

static const char *const fields[] = { "type", "value", "label", "line" };
static const struct cli_opt none[] = { { NULL, 0, NULL, 0, 0 } };

/* INDEX and --module M (NULL: the phone's own keys, module 0). */
static int key_index(const char *s, const char *module, long *m, long *n)
{
	*m = 0;
	if (module && sp_parse_int(module, 1, SP_EXT_MODULES, m) < 0)
		return cli_fail("--module '%s' is not 1-%d", module, SP_EXT_MODULES);
	long max = *m ? SP_EXT_KEYS : SP_KEYS_MAX;
	if (sp_parse_int(s, 1, max, n) < 0)
		return cli_fail("key index '%s' is not 1-%ld", s, max);
	return 0;
}

/* "key 3" or "module 1 key 3", for messages. */
static const char *key_what(long m, long n, char *buf, size_t len)
{
	if (m)
		snprintf(buf, len, "module %ld key %ld", m, n);
	else
		snprintf(buf, len, "key %ld", n);
	return buf;
}

/* "warning: ..." when a BLF key's target is no SIP user of the tenant. */
static void blf_warn(struct cli *c, const struct effective *e, long m, long n)
{
	char k[32], what[48];
	long users = 0;
	linekey_name(k, sizeof(k), m, n, "type");
	if (strcmp(effective_get(e, k), "blf"))
		return;
	linekey_name(k, sizeof(k), m, n, "value");
	const char *target = effective_get(e, k);
	if (store_diag_username_count(c->store, e->tenant.id, target, &users) == 0 && users == 0)
		fprintf(stderr, "warning: device %s %s: BLF target '%s' is not a user of tenant %s\n",
			e->device.mac, key_what(m, n, what, sizeof(what)), target, e->tenant.slug);
}

/* Replace the device's overrides by o (validated as a whole effective
 * config would be), audit-logged. */
static int save_overrides(struct cli *c, struct device *d, json_t *o, const char *action)
{
	char err[SP_ERR_MAX], before[65];
	if (validate_settings(o, true, err, sizeof(err)) < 0)
		return cli_fail("device %s: %s", d->mac, err);
	char *canon = settings_canonical(o, err, sizeof(err));
	if (!canon)
		return cli_fail("device %s overrides: %s", d->mac, err);
	if (strlen(canon) >= sizeof(d->overrides)) {
		free(canon);
		return cli_fail("device %s overrides: longer than %zu bytes", d->mac, sizeof(d->overrides) - 1);
	}
	device_digest(d, before);
	sp_strlcpy(d->overrides, canon, sizeof(d->overrides));
	free(canon);
	if (device_save(c->store, c->actor, action, d, false, before, "", err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	return 0;
}

static json_t *overrides_of(const struct device *d)
{
	json_t *o = json_loads(d->overrides[0] ? d->overrides : "{}", 0, NULL);
	return json_is_object(o) ? o : (json_decref(o), json_object());
}

static int key_set(struct cli *c, int argc, char **argv)
{
	const char *type = NULL, *value = "", *label = "", *line = "", *module = NULL;
	const struct cli_opt opts[] = {
		{ "--type", OPT_STR, &type, 0, 0 }, { "--value", OPT_STR, &value, 0, 0 },
		{ "--label", OPT_STR, &label, 0, 0 }, { "--line", OPT_STR, &line, 0, 0 },
		{ "--module", OPT_STR, &module, 0, 0 }, { NULL, 0, NULL, 0, 0 },
	};
	char *pos[2], k[32], err[SP_ERR_MAX], what[48];
	int npos, rc;
	long m, n;
	struct device d;
	struct effective e;

	if ((rc = cli_parse(argc, argv, opts, pos, 2, &npos, KEY_USAGE)))
		return rc;
	if (npos != 2 || !type)
		return cli_usage(KEY_USAGE);
	if ((rc = key_index(pos[1], module, &m, &n)) || (rc = cli_open(c)) || (rc = cli_device(c, pos[0], &d)))
		return rc;
	const char *vals[] = { type, value, label, line };
	static const char *const opt[] = { "--type", "--value", "--label", "--line" };
	for (int i = 0; i < 4; i++)
		if (strlen(vals[i]) >= SP_FIELD_MAX || !sp_text_ok(vals[i]))
			return cli_fail("%s: at most %d bytes of UTF-8 text without control characters", opt[i],
					SP_FIELD_MAX - 1);
	json_t *o = overrides_of(&d);
	/* The whole key is the device's now: fields not given are empty, not
	 * inherited from the template's key N. */
	for (int i = 0; i < 4; i++) {
		linekey_name(k, sizeof(k), m, n, fields[i]);
		json_object_set_new(o, k, json_string(vals[i]));
	}
	rc = save_overrides(c, &d, o, "key set");
	json_decref(o);
	if (rc)
		return rc;
	if (effective_load(c->store, NULL, d.mac, &e, err, sizeof(err)) == 1) {
		blf_warn(c, &e, m, n);
		effective_release(&e);
	}
	printf("device %s %s: %s%s%s\n", d.mac, key_what(m, n, what, sizeof(what)), type, *value ? " " : "", value);
	return 0;
}

static int key_rm(struct cli *c, int argc, char **argv)
{
	const char *module = NULL;
	const struct cli_opt opts[] = { { "--module", OPT_STR, &module, 0, 0 }, { NULL, 0, NULL, 0, 0 } };
	char *pos[2], k[32], err[SP_ERR_MAX], what[48];
	int npos, rc, gone = 0;
	long m, n;
	struct device d;
	struct effective e;

	if ((rc = cli_parse(argc, argv, opts, pos, 2, &npos, KEY_USAGE)))
		return rc;
	if (npos != 2)
		return cli_usage(KEY_USAGE);
	if ((rc = key_index(pos[1], module, &m, &n)) || (rc = cli_open(c)) || (rc = cli_device(c, pos[0], &d)))
		return rc;
	key_what(m, n, what, sizeof(what));
	json_t *o = overrides_of(&d);
	for (int i = 0; i < 4; i++) {
		linekey_name(k, sizeof(k), m, n, fields[i]);
		gone += json_object_del(o, k) == 0;
	}
	if (!gone) {
		json_decref(o);
		return cli_fail("device %s has no %s of its own (a template's key is hidden with --type none)",
				d.mac, what);
	}
	rc = save_overrides(c, &d, o, "key rm");
	json_decref(o);
	if (rc)
		return rc;
	linekey_name(k, sizeof(k), m, n, "type");
	printf("device %s %s removed", d.mac, what);
	if (effective_load(c->store, NULL, d.mac, &e, err, sizeof(err)) == 1) {
		const char *t = effective_get(&e, k);
		if (*t && strcmp(t, "none"))
			printf("; the template's %s (%s) applies again", what, t);
		effective_release(&e);
	}
	printf("\n");
	return 0;
}

static int key_list(struct cli *c, int argc, char **argv)
{
	char *pos[1], k[32], err[SP_ERR_MAX];
	int npos, rc;
	struct device d;
	struct effective e;

	if ((rc = cli_parse(argc, argv, none, pos, 1, &npos, KEY_USAGE)))
		return rc;
	if (npos != 1)
		return cli_usage(KEY_USAGE);
	if ((rc = cli_open(c)) || (rc = cli_device(c, pos[0], &d)))
		return rc;
	if (effective_load(c->store, NULL, d.mac, &e, err, sizeof(err)) != 1)
		return cli_fail("device %s: %s", d.mac, err);
	json_t *own = overrides_of(&d), *arr = json_array();
	if (!c->json)
		printf("%-6s %-5s %-10s %-24s %-16s %-4s %s\n", "MODULE", "KEY", "TYPE", "VALUE", "LABEL", "LINE", "FROM");
	/* The phone's keys (module 0), then each expansion module's. */
	for (long m = 0; m <= SP_EXT_MODULES; m++)
	for (long n = 1; n <= (m ? SP_EXT_KEYS : SP_KEYS_MAX); n++) {
		const char *v[4];
		for (int i = 0; i < 4; i++) {
			linekey_name(k, sizeof(k), m, n, fields[i]);
			v[i] = effective_get(&e, k);
		}
		if (!*v[0] || !strcmp(v[0], "none"))
			continue;
		linekey_name(k, sizeof(k), m, n, "type");
		const char *from = json_object_get(own, k) ? "device" : "template";
		if (c->json)
			json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "index", (json_int_t)n,
							     "module", (json_int_t)m, "type", v[0], "value", v[1],
							     "label", v[2], "line", *v[3] ? v[3] : "1", "from", from));
		else {
			char mod[24] = "-";
			if (m)
				snprintf(mod, sizeof(mod), "%ld", m);
			printf("%-6s %-5ld %-10s %-24s %-16s %-4s %s\n", mod, n, v[0], v[1], v[2], *v[3] ? v[3] : "1",
			       from);
		}
		blf_warn(c, &e, m, n);
	}
	if (c->json)
		cli_json_out(arr);
	else
		json_decref(arr);
	json_decref(own);
	effective_release(&e);
	return 0;
}

int cmd_key(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "set", key_set }, { "rm", key_rm }, { "list", key_list }, { NULL, NULL },
	};
	return cli_dispatch(c, "key", subs, argc, argv);
}
