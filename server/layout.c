/*
 * layout.c: vendor layouts from templates/ (parse once, look up by name) and
 * the device-facing route table (file name -> MAC/token/common).
 * It does not touch the database or build any filesystem path from a URL.
 * (Skeleton: full implementation follows.)
 */
#include <stdlib.h>
#include <string.h>

#include "sipprov.h"

struct layout { char name[32]; };
struct layouts { size_t n; struct layout *v; };

struct layouts *layouts_load(const char *dir, char *err, size_t errlen)
{
	(void)dir;
	return xcalloc(1, sizeof(struct layouts));
}

void layouts_free(struct layouts *l)
{
	if (!l)
		return;
	free(l->v);
	free(l);
}

const struct layout *layouts_find(const struct layouts *l, const char *name)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

size_t layouts_count(const struct layouts *l) { return l ? l->n : 0; }
const struct layout *layouts_at(const struct layouts *l, size_t i) { return l && i < l->n ? &l->v[i] : NULL; }
const char *layout_name(const struct layout *l) { return l->name; }
const char *layout_content_type(const struct layout *l) { return "text/plain"; }
const char *layout_notify_event(const struct layout *l) { return "check-sync"; }
int layout_check_file(const char *path, char *err, size_t errlen)
{
	return sp_err(err, errlen, "%s: not implemented yet", path);
}
int route_match(const struct layouts *l, const char *path, struct route_match *m)
{
	memset(m, 0, sizeof(*m));
	return 0;
}
bool layout_answers(const struct layout *l, const struct route_match *m) { return false; }
bool layout_uses_token(const struct layout *l) { return false; }
int render(const struct layout *l, const struct effective *e, long line,
	   struct buf *out, char *err, size_t errlen)
{
	return sp_err(err, errlen, "render: not implemented yet");
}
