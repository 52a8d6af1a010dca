/*
 * drift.c: observation -> expected vs observed -> drift events (skeleton).
 */
#include <string.h>

#include "drift.h"
#include "sipprov.h"

int drift_record(struct store *s, const struct observation *o, char *err, size_t errlen)
{
	(void)s; (void)o;
	return sp_err(err, errlen, "not implemented");
}

int drift_webhook(struct store *s, const char *body, size_t len, char *err, size_t errlen)
{
	(void)s; (void)body; (void)len;
	return sp_err(err, errlen, "not implemented");
}

void drift_metrics(struct store *s, struct buf *out)
{
	(void)s; (void)out;
}

const char *drift_code_meaning(long code)
{
	(void)code;
	return "";
}
