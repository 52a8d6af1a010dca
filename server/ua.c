/*
 * ua.c: User-Agent parser (skeleton).
 */
#include <string.h>

#include "ua.h"
#include "sipprov.h"

int ua_parse(const char *ua, struct ua_info *out)
{
	memset(out, 0, sizeof(*out));
	return 0;
}
