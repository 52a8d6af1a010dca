/*
 * phonebook_http.c: the daemon's side of tenant phonebooks: which request
 * paths are phonebook fetches and what body a device gets.  The path
 * carries the MAC so the fetch authenticates exactly as the config fetch
 * (http.c runs the same subject and auth_check); the body is the tenant's.
 * It does not authenticate, answer, log or cache anything itself.
 */
#include <stdlib.h>
#include <string.h>

#include "phonebook_http.h"

/* 12 hex digits at p, lowercased into mac. */
static bool mac_at(const char *p, char mac[SP_MAC_LEN + 1])
{
	for (int i = 0; i < SP_MAC_LEN; i++) {
		char ch = p[i];
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
		mac[i] = ch;
	}
	mac[SP_MAC_LEN] = '\0';
	return true;
}

int phonebook_path(const char *url, char mac[SP_MAC_LEN + 1], const char **only)
{
	*only = NULL;
	if (!strncmp(url, "/pb/", 4) && mac_at(url + 4, mac))
		return !strcmp(url + 4 + SP_MAC_LEN, ".xml") || !strcmp(url + 4 + SP_MAC_LEN, "/phonebook.xml");
	if (url[0] == '/' && mac_at(url + 1, mac) && !strcmp(url + 1 + SP_MAC_LEN, "-directory.xml")) {
		*only = "polycom";
		return 1;
	}
	return 0;
}

int phonebook_target(struct store *s, int64_t device_id, const char *only, struct pb_target *t)
{
	struct device d;
	memset(t, 0, sizeof(*t));
	int rc = store_device_get_id(s, device_id, &d);
	if (rc <= 0)
		return rc;              /* gone since: refused as unknown */
	t->tenant_id = d.tenant_id;
	sp_strlcpy(t->layout, d.layout, sizeof(t->layout));
	t->answers = phonebook_format(d.layout) && (!only || !strcmp(only, d.layout));
	return 0;
}

int phonebook_body(struct store *s, const struct pb_target *t, struct buf *out, char *err, size_t errlen)
{
	struct contact *v;
	size_t n;
	if (store_contact_list(s, t->tenant_id, &v, &n) < 0)
		return sp_err(err, errlen, "cannot read the phonebook: %s", store_errmsg(s));
	int rc = phonebook_render(t->layout, v, n, out, err, errlen);
	free(v);
	return rc;
}
