/* phonebook_http.h: which URLs are phonebook fetches, and the phonebook a device gets. */
#ifndef SP_PHONEBOOK_HTTP_H
#define SP_PHONEBOOK_HTTP_H
#include "core/sipprov.h"

/* Is url a phonebook fetch?  /pb/{mac}.xml (every vendor), /pb/{mac}/phonebook.xml
 * (Grandstream appends "phonebook.xml" to its P331 path) and
 * /{mac}-directory.xml (Polycom asks its boot server for that name; then
 * *only = "polycom", the one layout that answers it, else NULL).  {mac}:
 * 12 hex digits, either case; mac gets it lowercased.  1 yes, 0 no. */
int phonebook_path(const char *url, char mac[SP_MAC_LEN + 1], const char **only);

/* What a found device's phonebook fetch needs, read before authentication
 * so a layout without a phonebook is refused like any wrong-vendor file. */
struct pb_target {
	bool answers;                       /* its layout has a format (and is *only, if set) */
	int64_t tenant_id;
	char layout[32];
};
/* 0, or -1 on a store error. */
int phonebook_target(struct store *s, int64_t device_id, const char *only, struct pb_target *t);
/* The tenant's contacts in t->layout's format into out (caller inits it
 * with SP_PHONEBOOK_MAX and releases it).  0, or -1 with err. */
int phonebook_body(struct store *s, const struct pb_target *t, struct buf *out, char *err, size_t errlen);
#endif
