/*
 * fuzz/policy.c: the tenant policy list parsers (policy.h).  Input split at
 * '\n' into a device-auth list, an allowlist and an address.  Checks: no
 * crash or overread; a refusal has a reason; the canonical text parses
 * again to itself (fixed point) and matches every address as the original
 * did.  Patterns are left out: their parser is glibc's regcomp.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size + 1), *part[3] = { "", "", "" }, err[SP_ERR_MAX];
	char canon[1024], again[1024];
	struct policy_nets n1, n2;
	unsigned char addr[16];
	unsigned m1, m2;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0, k = 0; k < 3; k++) {
		part[k] = buf + i;
		i += strcspn(buf + i, "\n");
		if (buf[i] == '\0')
			break;
		buf[i++] = '\0';
	}
	err[0] = '\0';
	if (policy_auth_parse(part[0], &m1, err, sizeof(err)) < 0 && !err[0])
		abort();
	policy_auth_format(m1, canon, sizeof(canon));
	if (policy_auth_parse(canon, &m2, NULL, 0) < 0 || m1 != m2)
		abort();
	err[0] = '\0';
	int rc = policy_nets_parse(part[1], &n1, err, sizeof(err));
	if (rc < 0 && (!err[0] || n1.any))
		abort();
	if (policy_nets_format(&n1, canon, sizeof(canon)) == 0 && n1.n > 0) {
		if (policy_nets_parse(canon, &n2, NULL, 0) < 0 || n2.n != n1.n ||
		    policy_nets_format(&n2, again, sizeof(again)) < 0 || strcmp(canon, again))
			abort();
		if (policy_addr_text(part[2], addr) && policy_nets_match(&n1, addr) != policy_nets_match(&n2, addr))
			abort();
	}
	free(buf);
	return 0;
}
