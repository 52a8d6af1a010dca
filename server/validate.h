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

/* Tenant policy: slug [a-z0-9-]{1,63}, patterns compile as POSIX ERE, CIDRs
 * parse, device_auth is a comma list of none,digest,mtls,token. */
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

/* Free the compiled-pattern cache (clean shutdown, leak checkers). */
void validate_cleanup(void);

/* ---- store_validate.c: the targeted lookups validation needs ---- */

enum validate_find { VALIDATE_FIND_USERNAME, VALIDATE_FIND_AUTH_USERNAME };
/* Another account of tenant tenant_id whose username (or auth_username)
 * equals value, other than self (self->id, or when self->id is 0 the line
 * self->line on device mac, which the write replaces), and not a shared
 * line appearance with the same username and auth_username as self.
 * Indexed (account_username / account_auth_username).  1 found (line and
 * mac filled), 0 none, -1 error. */
int store_validate_find(struct store *s, int64_t tenant_id, enum validate_find which, const char *value,
			const struct account *self, const char *mac, long *line, char other_mac[13]);
/* Number of devices of the tenant, other than mac, with an account whose
 * username is username.  0 or -1. */
int store_validate_user_devices(struct store *s, int64_t tenant_id, const char *username, const char *mac,
				long *n);
/* SHA-256 over every row of tenant, template, template_version, device,
 * account and audit_log (tests: "the database is unchanged").  0 or -1. */
int store_validate_digest(struct store *s, char out[65]);
/* Delete one account row.  1 deleted, 0 none, -1 error. */
int store_account_delete(struct store *s, int64_t device_id, long line);
/* Try to rewrite a stored version in place; the schema's trigger must
 * refuse it (tests prove immutability with this).  0 or -1 with err. */
int store_tversion_tamper(struct store *s, int64_t version_id, const char *settings, char *err, size_t errlen);
#endif
