/*
 * claim.c: the rules for phones nobody entered yet, shared by `sipprov
 * device pending|claim` and /api/v1/pending: which layout a pending phone
 * wants, its JSON form, finding it, forgetting it (audited).  Entering it
 * is an ordinary device add (device.c); this file prints nothing and
 * decides no HTTP status.
 */
#include <stdio.h>
#include <string.h>

#include "sipprov.h"

const char *claim_suggest_layout(const struct layouts *ls, const struct pending_dev *p, char *cands, size_t n)
{
	struct route_match m;
	const char *only = NULL;
	size_t k = 0, o = 0;
	cands[0] = '\0';
	if (!route_match(ls, p->path, &m))
		return NULL;
	for (size_t i = 0; i < layouts_count(ls); i++) {
		const struct layout *l = layouts_at(ls, i);
		if (!layout_answers(l, &m))
			continue;
		if (p->vendor[0] && !strcmp(layout_name(l), p->vendor))
			return layout_name(l);
		only = layout_name(l);
		k++;
		o += (size_t)snprintf(cands + o, o < n ? n - o : 0, "%s%s", o ? ", " : "", only);
	}
	return k == 1 ? only : NULL;
}

json_t *claim_candidates(const struct layouts *ls, const struct pending_dev *p)
{
	struct route_match m;
	json_t *arr = json_array();
	if (!route_match(ls, p->path, &m))
		return arr;
	for (size_t i = 0; i < layouts_count(ls); i++)
		if (layout_answers(layouts_at(ls, i), &m))
			json_array_append_new(arr, json_string(layout_name(layouts_at(ls, i))));
	return arr;
}

json_t *pending_json(const struct layouts *ls, const struct pending_dev *p)
{
	char cands[256];
	return json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "mac", p->mac, "layout",
			 ls ? claim_suggest_layout(ls, p, cands, sizeof(cands)) : NULL, "route_layout", p->layout,
			 "path", p->path, "user_agent", p->user_agent, "vendor", p->vendor, "model", p->model,
			 "firmware", p->firmware, "source_ip", p->source_ip, "first_seen", (json_int_t)p->first_seen,
			 "last_seen", (json_int_t)p->last_seen, "count", (json_int_t)p->count);
}

int claim_lookup(struct store *s, const char *mac, struct pending_dev *p, char *err, size_t errlen)
{
	int rc = store_pending_get(s, mac, p);
	if (rc < 0)
		sp_err(err, errlen, "cannot read the pending list: %s", store_errmsg(s));
	else if (rc == 0)
		sp_err(err, errlen, "%s is not in the pending list (see 'sipprov device pending'; "
			"'sipprov device add' enters any phone)", mac);
	return rc;
}

int claim_layout(const struct layouts *ls, const struct pending_dev *p, const char *given, const char *option,
		 const char **layout, char *err, size_t errlen)
{
	char cands[256];
	if ((*layout = given) || (*layout = claim_suggest_layout(ls, p, cands, sizeof(cands))))
		return 0;
	return sp_err(err, errlen, "%s asked for '%s', which %s answer%s, and its User-Agent names no vendor: give %s",
		      p->mac, p->path, cands[0] ? cands : "no layout", strchr(cands, ',') ? "" : "s", option);
}

int claim_forget(struct store *s, const char *actor, const char *mac, char *err, size_t errlen)
{
	int rc;
	if (store_begin(s) < 0 || (rc = store_pending_rm(s, mac)) < 0 ||
	    (rc && store_audit(s, actor, "device pending rm", mac, NULL, NULL, "") < 0) || store_commit(s) < 0) {
		store_rollback(s);
		return sp_err(err, errlen, "cannot remove %s from the pending list: %s", mac, store_errmsg(s));
	}
	if (!rc)
		sp_err(err, errlen, "%s is not in the pending list (see 'sipprov device pending')", mac);
	return rc;
}
