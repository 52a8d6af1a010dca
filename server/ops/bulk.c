/*
 * bulk.c: the tenant move to another template (preview by effective
 * config, then one transaction).  CSV import and export are core's
 * (core/import.c, shared with the admin API); NOTIFYs are notify.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk.h"
#include "core/sipprov.h"

/* ---- tenant move ---- */

struct mv {
	struct store *s;
	const struct tenant *t;
	const char *name;
	const struct bulk_move_opts *o;
	struct bulk_move_result *r;
	char *err;
	size_t errlen;
	int failed;
};

static void mv_count(struct bulk_move_result *r, const char *key)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (!strcmp(r->field[i], key)) {
			r->count[i]++;
			return;
		}
	if (r->nfields < sizeof(r->field) / sizeof(r->field[0])) {
		sp_strlcpy(r->field[r->nfields], key, sizeof(r->field[0]));
		r->count[r->nfields++] = 1;
	}
}

static int mv_device(const struct device *d, void *arg)
{
	struct mv *m = arg;
	struct effective before, after;
	struct device nd = *d;
	struct bulk_change ch[96];
	size_t n = 0;
	char err[SP_ERR_MAX], vb[32], va[32];
	const char *k;
	json_t *v;

	m->r->devices++;
	if (effective_load_device(m->s, m->o->key, d, &before, err, sizeof(err)) != 1) {
		/* A device that cannot load today is not a reason to stop the move
		 * that may fix it: report it as "before: (invalid)". */
		memset(&before, 0, sizeof(before));
		before.settings = json_object();
	}
	sp_strlcpy(nd.template_name, m->name, sizeof(nd.template_name));
	nd.pinned_version = 0;
	if (effective_load_device(m->s, m->o->key, &nd, &after, err, sizeof(err)) != 1) {
		m->r->errors++;
		if (m->o->on_error)
			m->o->on_error(err, m->o->arg);
		effective_release(&before);
		return 0;
	}
	/* The merged settings get the write-path rules too (a device's port
	 * override under the new template's transport may contradict), then
	 * the serve-time check. */
	if (!m->o->dry_run && (validate_settings(after.settings, m->o->force, err, sizeof(err)) < 0 ||
			       validate_effective(&after, err, sizeof(err)) < 0)) {
		char msg[SP_ERR_MAX + 32];
		snprintf(msg, sizeof(msg), "device %s: %s", d->mac, err);
		m->r->errors++;
		if (m->o->on_error)
			m->o->on_error(msg, m->o->arg);
	}
	if (strcmp(before.template_name, after.template_name))
		ch[n++] = (struct bulk_change){ "template", before.template_name, after.template_name };
	snprintf(vb, sizeof(vb), "%ld", before.version);
	snprintf(va, sizeof(va), "%ld", after.version);
	if (strcmp(vb, va) || n)
		ch[n++] = (struct bulk_change){ "version", vb, va };
	/* Settings in either config, in canonical order (both objects iterate
	 * in insertion order, so walk the known keys first, then extras). */
	for (size_t i = 0; i < setting_def_count && n < 96; i++) {
		const char *b = effective_get(&before, setting_defs[i].key);
		const char *a = effective_get(&after, setting_defs[i].key);
		if (strcmp(a, b))
			ch[n++] = (struct bulk_change){ setting_defs[i].key, b, a };
	}
	json_object_foreach(before.settings, k, v) {
		if (setting_def_find(k) || n >= 96)
			continue;
		if (strcmp(effective_get(&before, k), effective_get(&after, k)))
			ch[n++] = (struct bulk_change){ k, effective_get(&before, k), effective_get(&after, k) };
	}
	json_object_foreach(after.settings, k, v) {
		if (setting_def_find(k) || n >= 96 || json_object_get(before.settings, k))
			continue;
		ch[n++] = (struct bulk_change){ k, "", effective_get(&after, k) };
	}
	for (size_t i = 0; i < n; i++)
		mv_count(m->r, ch[i].key);
	if (n)
		m->r->changing++;
	if (m->o->on_device)
		m->o->on_device(d, ch, n, m->o->arg);
	effective_release(&before);
	effective_release(&after);
	return 0;
}

int bulk_move(struct store *s, const struct tenant *t, const char *name, const struct bulk_move_opts *o,
	      struct bulk_move_result *r, char *err, size_t errlen)
{
	struct mv m = { .s = s, .t = t, .name = name, .o = o, .r = r, .err = err, .errlen = errlen };
	struct tversion *v = xmalloc(sizeof(*v));
	int ret = -1;
	bool in_tx = false;
	long n = 0;

	memset(r, 0, sizeof(*r));
	if (store_tversion_get(s, t->id, name, 0, v) != 1) {
		sp_err(err, errlen, "no template '%s' in tenant '%s' (create it with 'sipprov template set %s %s ...')",
		       name, t->slug, t->slug, name);
		goto out;
	}
	/* The real run holds the write lock from the first read to the commit,
	 * so no device can slip in unvalidated. */
	if (!o->dry_run) {
		if (store_begin(s) < 0) {
			sp_err(err, errlen, "cannot start a transaction: %s", store_errmsg(s));
			goto out;
		}
		in_tx = true;
	}
	if (store_device_each(s, t->id, mv_device, &m) < 0) {
		sp_err(err, errlen, "cannot list devices: %s", store_errmsg(s));
		goto out;
	}
	if (r->errors) {
		ret = 1;
		goto out;
	}
	if (o->dry_run) {
		ret = 0;
		goto out;
	}
	char detail[256];
	snprintf(detail, sizeof(detail), "template=%s devices=%ld changing=%ld", name, r->devices, r->changing);
	if (store_bulk_move(s, t->id, name, &n, err, errlen) < 0)
		goto out;
	if (store_audit(s, o->actor ? o->actor : "cli", "tenant move", t->slug, NULL, v->sha256, detail) < 0 ||
	    store_commit(s) < 0) {
		sp_err(err, errlen, "cannot commit: %s", store_errmsg(s));
		goto out;
	}
	in_tx = false;
	ret = 0;
out:
	if (in_tx)
		store_rollback(s);
	free(v);
	return ret;
}
