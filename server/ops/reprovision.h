/*
 * reprovision.h: the reprovision engine the CLI (`sipprov reprovision`) and
 * sipprovd's job worker share: pick targets (a tenant, a device, drifted
 * devices, or what a job has not yet delivered), find each one's Contact
 * and NOTIFY event, record every result as a job item, send with notify.c.
 * It prints nothing and creates no job row: the caller does both.
 */
#ifndef SP_REPROVISION_H
#define SP_REPROVISION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sipprov.h"
#include "notify.h"

struct store;
struct layouts;
struct device;

struct reprov_item {
	struct notify_target t;
	bool no_contact;                    /* or no event: not sent */
	bool sent;
	char contact[SP_FIELD_MAX];
};

struct reprov {
	struct store *s;                    /* borrowed */
	const struct layouts *ls;           /* borrowed: each layout's NOTIFY event */
	int64_t job;                        /* > 0: items recorded under it */
	struct reprov_item *it;             /* every target, in the order added */
	size_t n, cap;
	long skipped;                       /* disabled devices left out */
	struct notify_target *tv;           /* reprov_prepare: the ones with a contact */
	size_t *map;                        /* tv index -> it index */
	size_t ns;
	/* Called as each NOTIFY finishes (after its item is recorded). */
	void (*progress)(size_t done, size_t total, void *arg);
	void *arg;
};

struct reprov_counts {
	long sent, ok, r481, other, timeout, no_contact;
};

void reprov_init(struct reprov *r, struct store *s, const struct layouts *ls);
void reprov_release(struct reprov *r);
/* Add one device (disabled ones are counted in skipped, not added).  0. */
int reprov_add(struct reprov *r, const struct device *d);
/* Every device of tenant_id / every drifted one (tenant_id 0 = all) /
 * the items of job that did not get a 200 (also sets r->job).  0 or -1. */
int reprov_add_tenant(struct reprov *r, int64_t tenant_id);
int reprov_add_drifted(struct reprov *r, int64_t tenant_id);
int reprov_add_resume(struct reprov *r, int64_t job);
/* Split off the targets with a contact into tv; returns their number. */
size_t reprov_prepare(struct reprov *r);
/* With r->job > 0: every target's item first in one transaction
 * ("pending", or why it is not sent), then the NOTIFYs with o (its on_done
 * and arg are the engine's), each result recorded as it arrives, then the
 * job marked finished unless o->stop ended the run early.  0, or -1 (err). */
int reprov_run(struct reprov *r, struct notify_opts *o, char *err, size_t errlen);
/* An item's result word: "200" "481" "other" "timeout" "no_contact" "pending". */
const char *reprov_result(const struct reprov_item *x);
void reprov_count(const struct reprov *r, struct reprov_counts *c);
#endif
