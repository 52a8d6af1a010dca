/*
 * validate.h: field and cross-field checks run before anything is stored
 * and again before anything is served.  Every function fills err with one
 * line naming the object, the field(s), the value and a hint; none of them
 * writes to the database.
 */
#ifndef SP_VALIDATE_H
#define SP_VALIDATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct store;
struct tenant;
struct account;
struct effective;

/* A slug (tenant, template, API token name): 1 to 63 of a-z, 0-9, '-'. */
bool validate_slug(const char *s);

/* Settings of a template version, tenant defaults or overrides (a JSON
 * object of strings).  Checks each known key's kind (hosts, ports 1-65535,
 * expires 30-86400, enums, text) and the cross-field rules: transport/port
 * contradictions (tls on 5060, udp/tcp on 5061) are refused unless force.
 * Returns 0 ok, -1 with err. */
int validate_settings(json_t *settings, bool force, char *err, size_t errlen);

/* Like validate_settings(settings, false, ...) but only the transport/port
 * rule: returns true when the settings hold a contradiction that --force
 * would let through (so callers can audit-log a forced write). */
bool validate_settings_contradiction(json_t *settings, char *why, size_t whylen);

/* One account about to be written for device `mac` (normalized 12 hex) of
 * tenant t: field rules, tenant patterns, and cross-account rules against
 * the database (excluding a->id, and when a->id is 0 excluding the same
 * device + line, which the write replaces).  s may be NULL to skip the
 * database rules.  Returns 0 ok, -1 with err. */
int validate_account(struct store *s, const struct tenant *t, const char *mac,
		     const struct account *a, char *err, size_t errlen);

/* Only the rules that need no database and no tenant (field shapes);
 * validate_account runs these first. */
int validate_account_fields(const char *mac, const struct account *a, char *err, size_t errlen);

/* Before serving: the whole effective config (settings with force = false
 * for nothing but value kinds, plus every account's field and tenant-pattern
 * rules; no database).  Returns 0 or -1 with err. */
int validate_effective(const struct effective *e, char *err, size_t errlen);

/* The tenant's swap rule alone (diagnose reports it on its own): true when
 * both patterns are set, the auth username matches the username pattern,
 * the username matches the auth-username pattern, and not both match
 * their own.  A pattern that does not compile matches nothing. */
bool validate_names_swapped(const struct tenant *t, const struct account *a);

/* Tenant policy: slug [a-z0-9-]{1,63}, patterns compile as POSIX ERE, and
 * device_auth and allow_cidrs parse (policy.h; canonical form is not
 * required here: policy_tenant_canon writes it). */
int validate_tenant(const struct tenant *t, char *err, size_t errlen);

/* A host name (RFC 1123 labels) or IPv4 / [IPv6] / bare IPv6 literal,
 * optionally followed by :port (1-65535). */
bool validate_host(const char *h);

/* "0015654aa937" -> "00:15:65:4a:a9:37" into out[18]. */
void validate_mac_colons(const char *mac, char out[18]);

/* Copy src into a fixed field dst[size] for a struct about to be
 * validated.  Returns true if it fit; if not, dst is filled with size
 * bytes and left UNTERMINATED on purpose, so validate_account reports
 * "FIELD is longer than N bytes" with the account prefix.  Do not use the
 * field before validating. */
bool validate_copy(char *dst, size_t size, const char *src);

/* Free the compiled-pattern cache (policy_cleanup; clean shutdown). */
void validate_cleanup(void);

#endif
