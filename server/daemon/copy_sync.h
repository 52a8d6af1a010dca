/*
 * copy_sync.h (issue 18): database_copy's thread, keeping a node-local
 * SQLite copy of the render rows in step with the PostgreSQL database.
 */
#ifndef SP_COPY_SYNC_H
#define SP_COPY_SYNC_H
#include <stdatomic.h>

#include "core/sipprov.h"

struct copy_sync;
/* Start the thread for conf->database_copy (conf and node_gen, the
 * generation the node knows, outlive it).  Never NULL: a database that
 * cannot be reached is retried, and logged. */
struct copy_sync *copy_sync_start(const struct conf *conf, const unsigned char key[SP_KEY_LEN],
				  const atomic_long *node_gen);
/* The copy's generation once written (0 before its first load; -1 with no copy). */
long copy_sync_gen(struct copy_sync *cs);
const char *copy_sync_path(struct copy_sync *cs);
/* The node's generation moved: catch up now (accepts NULL). */
void copy_sync_kick(struct copy_sync *cs);
void copy_sync_stop(struct copy_sync *cs);      /* accepts NULL */

#endif
