/*
 * ua.h: User-Agent parser: vendor, model, firmware and MAC from the strings
 * phones send in HTTP fetches and SIP REGISTERs.  Bounded, never reads past
 * the string's NUL; unknown agents give vendor "".
 */
#ifndef SP_UA_H
#define SP_UA_H
#include <stddef.h>

struct ua_info {
	char vendor[16];        /* yealink polycom grandstream cisco snom fanvil linphone mitel gigaset, or "" */
	char model[64];
	char firmware[64];
	char mac[13];           /* normalized 12 lowercase hex, "" if none */
};
/* Parse ua (may be NULL).  Returns 1 if a vendor was recognised, else 0;
 * out is always filled (empty strings when unknown). */
int ua_parse(const char *ua, struct ua_info *out);
#endif
