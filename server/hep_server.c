/*
 * hep_server.c: HEP UDP listener thread and REGISTER correlation (skeleton).
 */
#include <stdlib.h>
#include <string.h>

#include "hep.h"
#include "sipprov.h"

struct hep_server { int unused; };

struct hep_server *hep_server_start(const struct conf *conf, char *err, size_t errlen)
{
	(void)conf;
	sp_err(err, errlen, "hep listener not implemented");
	return NULL;
}

void hep_server_stop(struct hep_server *h)
{
	free(h);
}
