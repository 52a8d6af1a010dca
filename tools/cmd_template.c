/*
 * cmd_template.c: `sipprov template set|show|history|list|diff|rollback|
 * pin|unpin`: versioned server/transport/port templates.  Versions are
 * immutable; set and rollback append a new one, and every change writes the
 * audit log with the before/after SHA-256.  Rendering is not done here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/sipprov.h"

#define TPL_USAGE "template set TENANT NAME key=value... [--comment C] [--force]\n" \
	"       sipprov template show TENANT NAME [V]\n" \
	"       sipprov template history|list TENANT [NAME]\n" \
	"       sipprov template diff TENANT NAME V1 V2\n" \
	"       sipprov template rollback TENANT NAME V\n" \
	"       sipprov template pin MAC V | unpin MAC"

static void fmt_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		sp_strlcpy(out, "-", 32);
}

static int check_name(const char *n)
{
	if (!template_name_ok(n))
		return cli_fail("template name '%s' is not valid: use 1 to 63 of a-z, 0-9, '-' and '_'", n);
	return 0;
}

static int parse_version(const char *s, long *v)
{
	if (s[0] == 'v' || s[0] == 'V')
		s++;
	if (sp_parse_int(s, 1, 1000000000L, v) < 0)
		return cli_fail("version '%s' is not a version number (1, 2, ... or v1, v2, ...)", s);
	return 0;
}

/* Load TENANT/NAME version number (0 = current); prints why on failure. */
static int load_version(struct cli *c, const struct tenant *t, const char *name, long number,
			struct tversion *v)
{
	int rc = store_tversion_get(c->store, t->id, name, number, v);
	if (rc < 0)
		return cli_fail("cannot read template '%s': %s", name, store_errmsg(c->store));
	if (rc == 0 && number == 0)
		return cli_fail("tenant %s has no template '%s' (see 'sipprov template list %s')", t->slug, name,
				t->slug);
	if (rc == 0)
		return cli_fail("template %s/%s has no version %ld (see 'sipprov template history %s %s')",
				t->slug, name, number, t->slug, name);
	return 0;
}

/* Write a new version of TENANT/NAME holding obj (core's template_write)
 * and say what happened.  Returns 0 (also when nothing changed),
 * EXIT_USER on a validation error. */
static int write_version(struct cli *c, struct tenant *t, const char *name, json_t *obj, const char *comment,
			 const char *action)
{
	char err[SP_ERR_MAX];
	struct tversion *nv = xcalloc(1, sizeof(*nv));
	struct template_write_info info;
	int rc = template_write(c->store, c->actor, t, name, obj, comment, action, c->force, nv, &info, err,
				sizeof(err));
	if (rc < 0) {
		rc = cli_fail("%s", err);
	} else if (c->json) {
		cli_json_out(template_version_json(nv, true));
	} else if (info.unchanged) {
		printf("template %s/%s unchanged: v%ld already holds these settings\n", t->slug, name, nv->number);
	} else {
		printf("template %s/%s v%ld sha256 %s\n", t->slug, name, nv->number, nv->sha256);
		if (info.detail.len)
			printf("changes: %s\n", info.detail.data);
		if (info.made_default)
			printf("tenant %s: default template is now '%s'\n", t->slug, name);
	}
	if (rc == 0 && info.forced)
		fprintf(stderr, "warning: %s (written because of --force; audit-logged)\n", info.why);
	buf_release(&info.detail);
	free(nv);
	return rc;
}

/* The MACs of TENANT's devices served by template NAME (their own, or the
 * tenant default), collected first so no query runs inside another. */
struct tpl_devs {
	const char *name, *dflt;
	char (*mac)[SP_MAC_LEN + 1];
	size_t n;
};

static int tpl_dev_collect(const struct device *d, void *arg)
{
	struct tpl_devs *td = arg;
	if (strcmp(d->template_name[0] ? d->template_name : td->dflt, td->name))
		return 0;
	td->mac = xrealloc(td->mac, (td->n + 1) * sizeof(*td->mac));
	sp_strlcpy(td->mac[td->n++], d->mac, sizeof(td->mac[0]));
	return 0;
}

/* Warn, once per distinct line, about what the layouts of the template's
 * devices cannot express of their effective settings.  Never fails the
 * command: the version is written already. */
static void tpl_warn(struct cli *c, const struct tenant *t, const char *name)
{
	struct tpl_devs td = { name, t->default_template, NULL, 0 };
	char err[SP_ERR_MAX], subject[SP_SLUG_MAX * 2 + 16];
	const struct layouts *ls = cli_layouts(c);
	if (!ls || store_device_each(c->store, t->id, tpl_dev_collect, &td) < 0) {
		free(td.mac);
		return;
	}
	json_t *seen = json_object();
	snprintf(subject, sizeof(subject), "template %s/%s", t->slug, name);
	for (size_t i = 0; i < td.n; i++) {
		struct effective e;
		if (effective_load(c->store, NULL, td.mac[i], &e, err, sizeof(err)) != 1)
			continue;
		const struct layout *l = layouts_find(ls, e.device.layout);
		if (l) {
			json_t *ds = effective_device_settings(&e);
			cli_warn_layout(subject, l, ds, seen);
			json_decref(ds);
		}
		effective_release(&e);
	}
	json_decref(seen);
	free(td.mac);
}

static int tpl_set(struct cli *c, int argc, char **argv)
{
	const char *comment = NULL;
	const struct cli_opt opts[] = { { "--comment", OPT_STR, &comment, 0, 0 }, { NULL, 0, NULL, 0, 0 } };
	char *pos[66], err[SP_ERR_MAX];
	int npos, rc;
	struct tenant t;
	struct tversion *cur = NULL;
	json_t *obj = NULL;

	if ((rc = cli_parse(argc, argv, opts, pos, 66, &npos, TPL_USAGE)))
		return rc;
	if (npos < 3)
		return cli_usage(TPL_USAGE);
	if ((rc = check_name(pos[1])) || (rc = cli_open(c)) || (rc = cli_tenant(c, pos[0], &t)))
		return rc;
	if (comment && (strlen(comment) >= SP_FIELD_MAX || !sp_text_ok(comment)))
		return cli_fail("--comment must be one line of UTF-8 text under %d bytes", SP_FIELD_MAX);
	cur = xcalloc(1, sizeof(*cur));
	rc = store_tversion_get(c->store, t.id, pos[1], 0, cur);
	if (rc < 0) {
		rc = cli_fail("cannot read template '%s': %s", pos[1], store_errmsg(c->store));
		goto out;
	}
	obj = json_loads(rc == 1 ? cur->settings : "{}", 0, NULL);
	if (!json_is_object(obj)) {
		rc = cli_fail("template %s/%s v%ld: stored settings are not a JSON object", t.slug, pos[1],
			      cur->number);
		goto out;
	}
	for (int i = 2; i < npos; i++)
		if (settings_apply_kv(obj, pos[i], err, sizeof(err)) < 0) {
			rc = cli_fail("template %s/%s: %s", t.slug, pos[1], err);
			goto out;
		}
	rc = write_version(c, &t, pos[1], obj, comment, "template.set");
	if (rc == 0)
		tpl_warn(c, &t, pos[1]);
out:
	json_decref(obj);
	free(cur);
	return rc;
}

static void print_settings(const char *settings)
{
	json_t *o = json_loads(settings, 0, NULL);
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
		printf("  %-16s %s\n", k, json_string_value(v) ? json_string_value(v) : "");
	json_decref(o);
}

static int tpl_show(struct cli *c, int argc, char **argv)
{
	char *pos[3], when[32];
	int npos, rc;
	long number = 0;
	struct tenant t;
	struct tversion v;

	if ((rc = cli_parse(argc, argv, NULL, pos, 3, &npos, TPL_USAGE)))
		return rc;
	if (npos < 2)
		return cli_usage(TPL_USAGE);
	if (npos == 3 && (rc = parse_version(pos[2], &number)))
		return rc;
	if ((rc = cli_open(c)) || (rc = cli_tenant(c, pos[0], &t)) ||
	    (rc = load_version(c, &t, pos[1], number, &v)))
		return rc;
	if (c->json) {
		cli_json_out(template_version_json(&v, true));
		return 0;
	}
	fmt_time(v.created, when);
	printf("template %s/%s v%ld\nsha256   %s\nauthor   %s\ncreated  %s\ncomment  %s\nsettings\n", v.tenant,
	       v.name, v.number, v.sha256, v.author, when, v.comment);
	print_settings(v.settings);
	return 0;
}

struct hist { json_t *arr; };

static int hist_row(const struct tversion *v, void *arg)
{
	struct hist *h = arg;
	json_array_append_new(h->arr, template_version_json(v, false));
	return 0;
}

static int tpl_history(struct cli *c, int argc, char **argv)
{
	char *pos[2], when[32];
	int npos, rc;
	struct tenant t;
	struct tversion cur;
	struct hist h = { json_array() };
	size_t i;
	json_t *e;

	if ((rc = cli_parse(argc, argv, NULL, pos, 2, &npos, TPL_USAGE)) || npos != 2) {
		json_decref(h.arr);
		return rc ? rc : cli_usage(TPL_USAGE);
	}
	if ((rc = cli_open(c)) || (rc = cli_tenant(c, pos[0], &t)) || (rc = load_version(c, &t, pos[1], 0, &cur))) {
		json_decref(h.arr);
		return rc;
	}
	if (store_tversion_each(c->store, t.id, pos[1], hist_row, &h) < 0) {
		json_decref(h.arr);
		return cli_fail("cannot read versions: %s", store_errmsg(c->store));
	}
	if (c->json) {
		json_array_foreach(h.arr, i, e)
			json_object_set_new(e, "current", json_boolean(json_integer_value(
				json_object_get(e, "version")) == cur.number));
		cli_json_out(h.arr);
		return 0;
	}
	printf("  %-6s %-20s %-16s %-12s %s\n", "VER", "CREATED", "AUTHOR", "SHA256", "COMMENT");
	json_array_foreach(h.arr, i, e) {
		long n = (long)json_integer_value(json_object_get(e, "version"));
		sp_strlcpy(when, json_string_value(json_object_get(e, "created")), sizeof(when));
		printf("%c v%-5ld %-20s %-16s %-12.12s %s\n", n == cur.number ? '*' : ' ', n, when,
		       json_string_value(json_object_get(e, "author")),
		       json_string_value(json_object_get(e, "sha256")),
		       json_string_value(json_object_get(e, "comment")));
	}
	json_decref(h.arr);
	return 0;
}

static int list_row(const struct tversion *v, void *arg)
{
	json_t *arr = arg;
	size_t n = json_array_size(arr);
	json_t *last = n ? json_array_get(arr, n - 1) : NULL;
	/* Rows come ordered by name, number: keep the last of each name. */
	if (last && strcmp(json_string_value(json_object_get(last, "name")), v->name) == 0)
		json_array_remove(arr, n - 1);
	json_array_append_new(arr, template_version_json(v, false));
	return 0;
}

static int tpl_list(struct cli *c, int argc, char **argv)
{
	char *pos[1];
	int npos, rc;
	struct tenant t;
	json_t *arr = json_array(), *e;
	size_t i;

	if ((rc = cli_parse(argc, argv, NULL, pos, 1, &npos, TPL_USAGE)) || npos != 1) {
		json_decref(arr);
		return rc ? rc : cli_usage(TPL_USAGE);
	}
	if ((rc = cli_open(c)) || (rc = cli_tenant(c, pos[0], &t))) {
		json_decref(arr);
		return rc;
	}
	if (store_tversion_each(c->store, t.id, NULL, list_row, arr) < 0) {
		json_decref(arr);
		return cli_fail("cannot read templates: %s", store_errmsg(c->store));
	}
	json_array_foreach(arr, i, e)
		json_object_set_new(e, "default", json_boolean(!strcmp(t.default_template,
			json_string_value(json_object_get(e, "name")))));
	if (c->json) {
		cli_json_out(arr);
		return 0;
	}
	printf("  %-24s %-8s %-20s %s\n", "NAME", "CURRENT", "CHANGED", "AUTHOR");
	json_array_foreach(arr, i, e)
		printf("%c %-24s v%-7lld %-20s %s\n", json_is_true(json_object_get(e, "default")) ? '*' : ' ',
		       json_string_value(json_object_get(e, "name")),
		       (long long)json_integer_value(json_object_get(e, "version")),
		       json_string_value(json_object_get(e, "created")),
		       json_string_value(json_object_get(e, "author")));
	json_decref(arr);
	return 0;
}

static int tpl_diff(struct cli *c, int argc, char **argv)
{
	char *pos[4];
	int npos, rc;
	long n1, n2;
	struct tenant t;
	struct tversion *v1 = NULL, *v2 = NULL;
	json_t *a = NULL, *b = NULL, *out = NULL;

	if ((rc = cli_parse(argc, argv, NULL, pos, 4, &npos, TPL_USAGE)))
		return rc;
	if (npos != 4)
		return cli_usage(TPL_USAGE);
	if ((rc = parse_version(pos[2], &n1)) || (rc = parse_version(pos[3], &n2)) || (rc = cli_open(c)) ||
	    (rc = cli_tenant(c, pos[0], &t)))
		return rc;
	v1 = xmalloc(sizeof(*v1));
	v2 = xmalloc(sizeof(*v2));
	if ((rc = load_version(c, &t, pos[1], n1, v1)) || (rc = load_version(c, &t, pos[1], n2, v2)))
		goto done;
	a = json_loads(v1->settings, 0, NULL);
	b = json_loads(v2->settings, 0, NULL);
	out = template_changes(a, b);
	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "tenant", json_string(t.slug));
		json_object_set_new(doc, "name", json_string(pos[1]));
		json_object_set_new(doc, "from", json_integer(n1));
		json_object_set_new(doc, "to", json_integer(n2));
		json_object_set_new(doc, "changes", out);
		out = NULL;
		cli_json_out(doc);
	} else {
		size_t i;
		json_t *row;
		printf("template %s/%s v%ld -> v%ld: %zu change%s\n", t.slug, pos[1], n1, n2, json_array_size(out),
		       json_array_size(out) == 1 ? "" : "s");
		if (json_array_size(out))
			printf("  %-16s %-28s %s\n", "KEY", "OLD", "NEW");
		json_array_foreach(out, i, row) {
			const char *o = json_string_value(json_object_get(row, "old"));
			const char *n = json_string_value(json_object_get(row, "new"));
			printf("  %-16s %-28s %s\n", json_string_value(json_object_get(row, "key")),
			       o ? o : "(unset)", n ? n : "(unset)");
		}
	}
	rc = 0;
done:
	json_decref(a);
	json_decref(b);
	json_decref(out);
	free(v1);
	free(v2);
	return rc;
}

static int tpl_rollback(struct cli *c, int argc, char **argv)
{
	char *pos[3], comment[64];
	int npos, rc;
	long number;
	struct tenant t;
	struct tversion *v = NULL;
	json_t *obj = NULL;

	if ((rc = cli_parse(argc, argv, NULL, pos, 3, &npos, TPL_USAGE)))
		return rc;
	if (npos != 3)
		return cli_usage(TPL_USAGE);
	if ((rc = parse_version(pos[2], &number)) || (rc = cli_open(c)) || (rc = cli_tenant(c, pos[0], &t)))
		return rc;
	v = xmalloc(sizeof(*v));
	if ((rc = load_version(c, &t, pos[1], number, v)))
		goto out;
	obj = json_loads(v->settings, 0, NULL);
	if (!json_is_object(obj)) {
		rc = cli_fail("template %s/%s v%ld: stored settings are not a JSON object", t.slug, pos[1], number);
		goto out;
	}
	snprintf(comment, sizeof(comment), "rollback to v%ld", number);
	rc = write_version(c, &t, pos[1], obj, comment, "template.rollback");
out:
	json_decref(obj);
	free(v);
	return rc;
}

static int tpl_pin(struct cli *c, int argc, char **argv, bool pin)
{
	char *pos[2], err[SP_ERR_MAX];
	int npos, rc;
	long number = 0;
	struct device d;
	struct tenant t;
	struct tversion *v;
	const char *name;

	if ((rc = cli_parse(argc, argv, NULL, pos, 2, &npos, TPL_USAGE)))
		return rc;
	if (npos != (pin ? 2 : 1))
		return cli_usage(TPL_USAGE);
	if (pin && (rc = parse_version(pos[1], &number)))
		return rc;
	if ((rc = cli_open(c)) || (rc = cli_device(c, pos[0], &d)))
		return rc;
	if (store_tenant_get_id(c->store, d.tenant_id, &t) != 1)
		return cli_fail("device %s: its tenant is missing", d.mac);
	name = d.template_name[0] ? d.template_name : t.default_template;
	if (pin) {
		if (!name[0])
			return cli_fail("device %s has no template and tenant %s has no default template: "
					"nothing to pin", d.mac, t.slug);
		v = xmalloc(sizeof(*v));
		rc = load_version(c, &t, name, number, v);
		free(v);
		if (rc)
			return rc;
	}
	bool unchanged;
	if (template_pin(c->store, c->actor, &d, &t, number, name, &unchanged, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	if (unchanged) {
		printf("device %s unchanged: %s\n", d.mac, pin ? "already pinned to that version" : "not pinned");
		return 0;
	}
	if (pin)
		printf("device %s pinned to %s/%s@v%ld\n", d.mac, t.slug, name, number);
	else
		printf("device %s unpinned: follows the current version of %s/%s\n", d.mac, t.slug,
		       name[0] ? name : "(none)");
	return 0;
}

static int tpl_pin_on(struct cli *c, int argc, char **argv)
{
	return tpl_pin(c, argc, argv, true);
}

static int tpl_unpin(struct cli *c, int argc, char **argv)
{
	return tpl_pin(c, argc, argv, false);
}

int cmd_template(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "set", tpl_set }, { "show", tpl_show }, { "history", tpl_history }, { "list", tpl_list },
		{ "diff", tpl_diff }, { "rollback", tpl_rollback }, { "pin", tpl_pin_on }, { "unpin", tpl_unpin },
		{ NULL, NULL },
	};
	return cli_dispatch(c, "template", subs, argc, argv);
}
