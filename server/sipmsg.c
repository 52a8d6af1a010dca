/*
 * sipmsg.c: bounded SIP message parser (skeleton).
 */
#include <string.h>

#include "sipmsg.h"
#include "sipprov.h"

int sipmsg_uri(const char *s, size_t len, struct sip_uri *u)
{
	(void)s; (void)len;
	memset(u, 0, sizeof(*u));
	return -1;
}

int sipmsg_parse(const char *buf, size_t len, struct sipmsg *m, char *err, size_t errlen)
{
	(void)buf; (void)len;
	memset(m, 0, sizeof(*m));
	return sp_err(err, errlen, "not implemented");
}
