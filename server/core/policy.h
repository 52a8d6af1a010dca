/*
 * policy.h: a tenant's policy rules, each parsed in one place and matched by
 * one function that the daemon, validate and diagnose all call: device auth
 * modes, the source CIDR allowlist, username / auth-username patterns.
 * Writers store the canonical text (policy_tenant_canon).  No database.
 */
#ifndef SP_POLICY_H
#define SP_POLICY_H
#include <stdbool.h>
#include <stddef.h>

struct sockaddr;
struct tenant;

/* ---- device auth modes ---- */

enum {
	POLICY_AUTH_NONE = 1u << 0,
	POLICY_AUTH_DIGEST = 1u << 1,
	POLICY_AUTH_MTLS = 1u << 2,
	POLICY_AUTH_TOKEN = 1u << 3,
};

/* A comma list of none, digest, mtls, token -> *modes.  Spaces and tabs
 * around items and any letter case are accepted (legacy rows); an empty or
 * unknown item is an error naming it, and *modes still holds every mode
 * that parsed (so a reader can serve what a legacy row meant).  An empty
 * text gives 0 modes and no error.  err may be NULL.  0 or -1. */
int policy_auth_parse(const char *text, unsigned *modes, char *err, size_t errlen);
/* Canonical text: the modes in the order none,digest,mtls,token, comma
 * separated, no spaces ("" for 0).  out needs 24 bytes. */
void policy_auth_format(unsigned modes, char *out, size_t outlen);

/* ---- source allowlist ---- */

#define SP_POLICY_NETS_MAX 32

/* Every address is kept as 16 bytes: IPv4 as IPv4-mapped IPv6
 * (::ffff:a.b.c.d, prefix + 96), so an IPv4 entry matches an IPv4 source
 * and the same source arriving v4-mapped on a dual-stack socket alike.
 * Consequently an IPv6 prefix that covers ::ffff:0:0/96 (::/0, say)
 * matches IPv4 sources too.  Host bits are zero. */
struct policy_net {
	unsigned char addr[16];
	unsigned char bits;                 /* 0-128 */
};
struct policy_nets {
	bool any;                           /* empty text: every source */
	unsigned n;
	struct policy_net net[SP_POLICY_NETS_MAX];
};

/* A comma list of addresses and CIDRs (IPv4, IPv6, ::ffff:-mapped) ->
 * out, host bits cleared, duplicates dropped.  Spaces around items are
 * accepted.  A bad or empty item, or more than SP_POLICY_NETS_MAX
 * networks, is an error naming it; out then holds the networks that
 * parsed, never 'any' (a reader fails closed for what it cannot read).
 * err may be NULL.  0 or -1. */
int policy_nets_parse(const char *text, struct policy_nets *out, char *err, size_t errlen);
/* Canonical text: "10.0.0.0/8,2001:db8::/32" (IPv4-mapped networks of
 * /96 or longer written as IPv4; always with a prefix).  0, or -1 when it
 * does not fit in outlen. */
int policy_nets_format(const struct policy_nets *nets, char *out, size_t outlen);
/* Is the 16-byte address (see policy_addr_*) inside the list?  'any'
 * allows every address; an empty non-any list none. */
bool policy_nets_match(const struct policy_nets *nets, const unsigned char addr[16]);
/* A source address -> 16 bytes (IPv4 mapped).  false for other families
 * or text that is not an address. */
bool policy_addr_sockaddr(const struct sockaddr *sa, unsigned char out[16]);
bool policy_addr_text(const char *ip, unsigned char out[16]);

/* ---- username patterns (POSIX ERE) ---- */

/* Does s match pattern?  1 yes, 0 no, -1 the pattern does not compile
 * (err says why; may be NULL).  Patterns are compiled once per process and
 * cached (thread-safe; entries are never evicted); past the cache size a
 * private copy is compiled and freed. */
int policy_pattern_match(const char *pattern, const char *s, char *err, size_t errlen);

/* ---- the whole tenant ---- */

/* Rewrite t's device_auth, allow_cidrs and both patterns in canonical
 * form (lists as above; patterns without surrounding whitespace, and they
 * must compile).  An empty device_auth becomes "digest" (the schema's
 * default).  On error t is unchanged and err names the field and the bad
 * item, without the tenant (callers prefix it).  0 or -1. */
int policy_tenant_canon(struct tenant *t, char *err, size_t errlen);

/* Free the pattern cache (clean shutdown, leak checkers). */
void policy_cleanup(void);

#endif
