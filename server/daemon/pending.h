/* pending.h: remember unknown phones' config requests for `sipprov device pending`. */
#ifndef SP_PENDING_H
#define SP_PENDING_H
#include "core/sipprov.h"

struct pending;
/* A writer thread on its own connection to db.  max_rows caps the table,
 * per_source the new rows one address may add per minute.  NULL + err. */
struct pending *pending_start(const char *db, long max_rows, long per_source, char *err, size_t errlen);
/* Note a refused request for an unknown MAC: a map insert under a mutex,
 * nothing else on the request path.  Accepts p == NULL (off). */
void pending_note(struct pending *p, const char *mac, const char *layout, const char *path, const char *ua,
		  const char *ip);
/* New limits (SIGHUP). */
void pending_limits(struct pending *p, long max_rows, long per_source);
/* Write what is held, stop, free.  Accepts NULL. */
void pending_stop(struct pending *p);
#endif
