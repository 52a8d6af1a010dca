/*
 * reprovision.c: the reprovision engine (targets, contacts, NOTIFY events,
 * one job item per device) that `sipprov reprovision` and sipprovd's job
 * worker both run.  It prints nothing and never creates the job row; the
 * sending itself is notify.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reprovision.h"
#include "core/sipprov.h"

void reprov_init(struct reprov *r, struct store *s, const struct layouts *ls)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->ls = ls;
}

void reprov_release(struct reprov *r)
{
	free(r->it);
	free(r->tv);
	free(r->map);
	r->it = NULL;
	r->tv = NULL;
	r->map = NULL;
	r->n = r->cap = r->ns = 0;
}

int reprov_add(struct reprov *r, const struct device *d)
{
	struct reprov_item *x;
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
	int rc = store_registration_contact(r->s, d->id, x->contact, sizeof(x->contact), NULL);
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

static int add_cb(const struct device *d, void *arg)
{
	return reprov_add(arg, d);
}

int reprov_add_tenant(struct reprov *r, int64_t tenant_id)
{
	return store_device_each(r->s, tenant_id, add_cb, r);
}

int reprov_add_drifted(struct reprov *r, int64_t tenant_id)
{
	return store_drifted_each(r->s, tenant_id, add_cb, r);
}

static int resume_cb(int64_t device_id, const char *result, const char *detail, void *arg)
{
	struct reprov *r = arg;
	struct device d;
	(void)result;
	(void)detail;
	if (store_device_get_id(r->s, device_id, &d) == 1)
		reprov_add(r, &d);
	return 0;
}

int reprov_add_resume(struct reprov *r, int64_t job)
{
	r->job = job;
	return store_job_item_each(r->s, job, true, resume_cb, r);
}

const char *reprov_result(const struct reprov_item *x)
{
	if (x->no_contact && x->t.result == NR_PENDING)
		return "no_contact";
	return notify_result_name(x->t.result);
}

size_t reprov_prepare(struct reprov *r)
{
	/* Only targets with a contact go to the sender, as a compact array;
	 * map takes each back to its item. */
	free(r->tv);
	free(r->map);
	r->tv = xcalloc(r->n + 1, sizeof(*r->tv));
	r->map = xcalloc(r->n + 1, sizeof(*r->map));
	r->ns = 0;
	for (size_t i = 0; i < r->n; i++)
		if (!r->it[i].no_contact) {
			r->map[r->ns] = i;
			r->tv[r->ns++] = r->it[i].t;
		}
	return r->ns;
}

static void on_done(struct notify_target *t, size_t done, size_t total, void *arg)
{
	struct reprov *r = arg;
	struct reprov_item *x = &r->it[r->map[t - r->tv]];
	x->t = *t;
	x->sent = t->sends > 0;
	if (r->job > 0)
		store_job_item_set(r->s, r->job, t->device_id, reprov_result(x), t->detail);
	if (r->progress)
		r->progress(done, total, r->arg);
}

int reprov_run(struct reprov *r, struct notify_opts *o, char *err, size_t errlen)
{
	if (!r->tv)
		reprov_prepare(r);
	/* Every target's item first (one transaction), so an interrupted run
	 * can be resumed: pending items are retried. */
	if (r->job > 0 && store_begin(r->s) == 0) {
		for (size_t i = 0; i < r->n; i++)
			store_job_item_set(r->s, r->job, r->it[i].t.device_id,
					   r->it[i].no_contact ? reprov_result(&r->it[i]) : "pending",
					   r->it[i].no_contact ? r->it[i].t.detail : "");
		store_commit(r->s);
	}
	o->on_done = on_done;
	o->arg = r;
	if (r->ns && notify_run(r->tv, r->ns, o, err, errlen) < 0)
		return -1;
	if (r->job > 0 && !(o->stop && o->stop(o->stop_arg)))
		store_job_finish(r->s, r->job);
	return 0;
}

void reprov_count(const struct reprov *r, struct reprov_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < r->n; i++) {
		const char *res = reprov_result(&r->it[i]);
		c->sent += r->it[i].sent;
		if (!strcmp(res, "200"))
			c->ok++;
		else if (!strcmp(res, "481"))
			c->r481++;
		else if (!strcmp(res, "timeout"))
			c->timeout++;
		else if (!strcmp(res, "no_contact"))
			c->no_contact++;
		else
			c->other++;
	}
}
