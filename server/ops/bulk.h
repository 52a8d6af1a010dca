/*
 * bulk.h: MSP bulk operations on a tenant: tenant move to another
 * template (preview by effective config, then one transaction), and the
 * job rows that record reprovisioning runs.  CSV import and export are in
 * core (core/import.h); the NOTIFY sending itself is notify.h.
 */
#ifndef SP_BULK_H
#define SP_BULK_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct store;
struct tenant;
struct device;

/* ---- tenant move ---- */

struct bulk_change {
	const char *key;                    /* setting name, or "template" / "version" */
	const char *before, *after;         /* "" when unset */
};
struct bulk_move_opts {
	bool dry_run;
	const char *actor;
	const unsigned char *key;           /* decrypt passwords for validation (may be NULL) */
	bool force;                         /* let transport/port contradictions through */
	/* Per device: changes (n may be 0).  For the dry run and the real run. */
	void (*on_device)(const struct device *d, const struct bulk_change *c, size_t n, void *arg);
	/* Per device whose new effective config is invalid. */
	void (*on_error)(const char *msg, void *arg);
	void *arg;
};
struct bulk_move_result {
	long devices, changing, errors;
	/* Per-field counts of devices where the field changes (first 64 fields). */
	size_t nfields;
	char field[64][80];
	long count[64];
};
/* Switch every device of t to template `name` (which must exist in t),
 * dropping version pins.  Loads each device's effective config before and
 * after (the template swapped in memory) and reports the differences; the
 * real run refuses if any device's new settings fail validate_settings
 * (contradictions allowed with force) or its config validate_effective,
 * otherwise writes one transaction with one audit entry.  Returns 0, 1
 * (invalid configs reported: nothing written) or -1 with err. */
int bulk_move(struct store *s, const struct tenant *t, const char *name, const struct bulk_move_opts *o,
	      struct bulk_move_result *r, char *err, size_t errlen);

#endif
