/*
 * status.c: the records `sipprov status --json` / `sipprov drift --json`
 * print and GET /api/v1/status and /api/v1/drift answer, built once here
 * from the store so the CLI and the admin API cannot disagree.  Reads
 * only; it neither prints nor decides who may see what.
 */
#include <string.h>

#include "sipprov.h"

const char *status_fetch_state(const struct device *d, long expected_version)
{
	return !d->fetched_at ? "never" : d->fetched_version == expected_version ? "current" : "stale";
}

json_t *status_drift_json(const struct drift_event *ev)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:I}",
			 "id", (json_int_t)ev->id, "tenant", ev->tenant, "mac", ev->mac, "line", (json_int_t)ev->line,
			 "kind", ev->kind, "expected", ev->expected, "observed", ev->observed,
			 "first_seen", (json_int_t)ev->first_seen, "last_seen", (json_int_t)ev->last_seen,
			 "count", (json_int_t)ev->count, "open", ev->resolved == 0, "resolved", (json_int_t)ev->resolved);
}

json_t *status_device_json(struct store *s, const struct device *d, char *err, size_t errlen)
{
	struct effective e;
	struct observation last;
	long open = 0;
	int have_reg;

	if (effective_load_device(s, NULL, d, &e, err, errlen) < 0)
		memset(&e, 0, sizeof(e));
	else if (err && errlen)
		err[0] = '\0';
	have_reg = store_registration_last(s, d->id, &last);
	store_drift_open_count_device(s, d->id, &open);
	json_t *lines = json_array();
	for (size_t i = 0; i < e.naccounts; i++)
		json_array_append_new(lines, json_pack("{s:I, s:s, s:I, s:I, s:s}", "line",
			(json_int_t)e.accounts[i].line, "username", e.accounts[i].username, "last_code",
			(json_int_t)e.accounts[i].last_code, "last_code_at", (json_int_t)e.accounts[i].last_code_at,
			"meaning", drift_code_meaning(e.accounts[i].last_code)));
	json_t *r = have_reg == 1 ? json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:I, s:s}", "at",
		(json_int_t)last.at, "source", last.source, "transport", last.transport, "registrar",
		last.registrar, "port", (json_int_t)last.port, "username", last.username, "code",
		(json_int_t)last.code, "user_agent", last.user_agent) : json_null();
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o, s:o, s:I}",
		"mac", d->mac, "tenant", e.tenant.slug, "version_label", e.version_label,
		"fetched_at", (json_int_t)d->fetched_at, "fetched_version", (json_int_t)d->fetched_version,
		"expected_version", (json_int_t)e.version, "fetch_state", status_fetch_state(d, e.version),
		"last_registration", r, "lines", lines, "open_drift", (json_int_t)open);
	effective_release(&e);
	return o;
}
