/*
 * sipprov.h: shared structs and the core library's contracts, one section
 * per .c file.  Concern modules that only a few callers need (validate, hep,
 * sipmsg, drift, auth, bulk, notify, diagnose, ua) keep their own header
 * beside their .c file; this one holds what everything touches.
 */
#ifndef SIPPROV_H
#define SIPPROV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <jansson.h>
#include "policy.h"                     /* struct conf holds parsed CIDR lists */

#define SP_VERSION        "0.1.0"
#define SP_MAC_LEN        12          /* normalized MAC: 12 lowercase hex */
#define SP_MAX_LINES      16          /* accounts per device */
#define SP_TOKEN_HEX      32          /* 128-bit softphone token, hex */
#define SP_SLUG_MAX       64
#define SP_NAME_MAX       128
#define SP_FIELD_MAX      256         /* any single text setting or field */
#define SP_JSON_MAX       8192        /* settings / overrides document */
#define SP_BODY_MAX       (256 * 1024) /* a rendered config file */
#define SP_ERR_MAX        512
#define SP_REALM          "sipprov"   /* HTTP digest realm for device credentials */

/* ---- util.c: allocation that aborts, bounded strings, dynbuf ---- */

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Copy with truncation; always NUL-terminates; returns strlen(src). */
size_t sp_strlcpy(char *dst, const char *src, size_t size);
/* v in decimal into out[size], as snprintf's "%ld" (truncated to fit, NUL
 * terminated; 21 bytes hold any long), without its cost on a render's
 * dozens of numbers; returns out. */
char *sp_ltoa(long v, char *out, size_t size);
/* The strings after size, up to a NULL, one after the other into
 * out[size] (truncated to fit, NUL terminated): snprintf's "%s%s..."
 * without its cost on a boot storm's per-request paths.  Returns the
 * length written. */
size_t sp_cat(char *out, size_t size, ...) __attribute__((sentinel));
/* snprintf into err (may be NULL); returns -1 so callers can "return sp_err(...)". */
int sp_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Normalize a MAC in any case, with or without ':' '-' '.': writes 12
 * lowercase hex + NUL into out[13].  Returns 0, or -1 if not a MAC. */
int mac_normalize(const char *in, char out[SP_MAC_LEN + 1]);
/* Parse a decimal int in [min,max] with nothing trailing; 0 or -1. */
int sp_parse_int(const char *s, long min, long max, long *out);
int64_t sp_now(void);
/* Milliseconds on CLOCK_MONOTONIC: for timeouts and intervals, never dates. */
int64_t sp_mono_ms(void);
/* The time ms milliseconds from now on clock clk, as pthread_cond_timedwait
 * takes it (on the clock its condition variable was made with). */
struct timespec sp_clock_after(clockid_t clk, long ms);
/* The CPUs the calling thread may run on (taskset, a cpuset, systemd's
 * CPUAffinity=), not the machine's; the machine's if that is unknown. */
unsigned sp_cpus_usable(void);
/* UTF-8 well-formed (no overlongs, no surrogates) and no C0 controls
 * except tab; used for every text field. */
bool sp_text_ok(const char *s);
/* Client-supplied bytes kept as text (a phone's User-Agent and path):
 * every byte sp_text_ok refuses becomes '?', in place, so that the string
 * is then text; a character cut by a truncating copy too.  PostgreSQL
 * refuses invalid UTF-8 in a text column, and JSON cannot carry it.
 * Returns s. */
char *sp_text_scrub(char *s);
/* The one escaping of client-supplied bytes (paths, User-Agent, digest
 * user names, certificate names, SIP user names) for a log line: printable
 * ASCII, space and well-formed UTF-8 stay; control bytes (CR, LF, ESC,
 * tab), DEL, '"', '\'', '\\', bytes of invalid UTF-8, C1 controls and bidi
 * overrides become \xNN, so a line cannot be split, recoloured or
 * reordered.  Truncates at a whole character or escape; always writes a
 * NUL (size > 0).  s NULL is "".  Returns out, for use as a printf argument. */
const char *sp_log_escape(const char *s, char *out, size_t size);
/* The IPv4 address a (4 bytes, network order) as inet_ntop writes it,
 * "192.0.2.1", into out (at least 16 bytes).  Every phone request formats
 * its client's address twice, and glibc's inet_ntop (sprintf) was 3% of a
 * boot storm's instructions.  Returns out. */
char *sp_ipv4_str(const unsigned char a[4], char out[16]);
/* A path as logs and fetch_log keep it: every run of SP_REDACT_HEX or more
 * hex digits (a softphone token is 32; a MAC, 12, is kept) becomes
 * "<redacted>", so no token URL is ever stored or logged.  Writes at most
 * size-1 bytes + NUL (never longer than path); returns the length. */
#define SP_REDACT_HEX 16
size_t sp_redact_path(const char *path, char *out, size_t size);
/* Hex encode n bytes into out (2n+1). */
void sp_hex(const unsigned char *in, size_t n, char *out);
/* One hex digit's value, or -1. */
int sp_hexval(int c);
/* Strict hex decode: exactly 2n digits [0-9a-fA-F] in hex[0..hexlen),
 * nothing else (no sign, space or prefix).  0, or -1 leaving out undefined. */
int sp_hex_decode(const char *hex, size_t hexlen, unsigned char *out, size_t n);

/* Output buffer with a hard cap; on overflow it sets 'overflow' and keeps
 * what fits, so writers don't check every call.  buf_release frees. */
struct buf {
	char *data;
	size_t len, cap, max;
	bool overflow;
};
void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the NUL-terminated data and gives ownership to the caller. */
char *buf_detach(struct buf *b, size_t *len);

/* ---- log.c: leveled logging to stderr (or syslog when daemonized) ---- */

enum { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
void log_init(int level, bool to_syslog);
int  log_level_parse(const char *s);   /* "warn" -> LOG_LVL_WARN; -1 unknown */
/* Start each stderr line with its syslog priority ("<3>" error, "<4>" warn,
 * "<6>" info, "<7>" debug; sd-daemon(3)).  Off until set. */
void log_prefix_set(bool on);
/* True when stderr is the systemd journal (JOURNAL_STREAM names its dev:ino). */
bool log_stderr_is_journal(void);
/* log_priority_prefix: "yes" 1, "no" 0, "auto" log_stderr_is_journal(); -1 unknown. */
int  log_prefix_parse(const char *s);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* no errno */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A warning that may come with every batch a writer takes (a row the
 * database refused): counted, and due at most every 10 s.  One thread's. */
struct log_every { long n; int64_t at; };
/* Count one; true when it is time to log, with *n the count since the last
 * warning (this one included). */
bool log_every_due(struct log_every *w, long *n);
/* Start-up only: print and exit(1).  Never in a request path. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- conf.c: sipprovd.conf, a table {key, type, field, default} ---- */

struct conf {
	char database[SP_FIELD_MAX];
	char database_replica[SP_FIELD_MAX]; /* PostgreSQL standby for render-miss reads; "" = none */
	char database_copy[SP_FIELD_MAX];   /* node-local SQLite copy for render-miss reads (PostgreSQL); "" = none */
	long database_copy_keep;            /* seconds the change log keeps rows for copies that fall behind */
	char key_file[SP_FIELD_MAX];        /* AES key; default DATABASE.key */
	char templates[SP_FIELD_MAX];       /* layout folder */
	char http_listen[SP_NAME_MAX];      /* host:port, "" = off */
	char https_listen[SP_NAME_MAX];
	char tls_cert[SP_FIELD_MAX];
	char tls_key[SP_FIELD_MAX];
	char tls_client_ca[SP_FIELD_MAX];
	char admin_listen[SP_NAME_MAX];     /* the admin API and /metrics; "" = off */
	char admin_tls_cert[SP_FIELD_MAX];  /* both set: admin_listen speaks HTTPS */
	char admin_tls_key[SP_FIELD_MAX];
	char hep_listen[SP_NAME_MAX];
	char hep_auth_key[SP_NAME_MAX];
	char hep_allow[512];                /* CIDRs that may send HEP; "" = loopback */
	long unknown_user_per_source;       /* open unknown_user events per source address */
	long unknown_user_max;              /* open unknown_user events in all */
	long pending_max;                   /* rows in the unknown-phone list; 0 = keep none */
	long pending_per_source;            /* new rows per source address per minute */
	char api_token[SP_NAME_MAX];        /* or read from api_token_file by conf_finish */
	char api_token_file[SP_FIELD_MAX];
	char log_level[16];
	char access_log[SP_FIELD_MAX];      /* "-" stderr, "" off, else file */
	char access_log_format[24];         /* sipprov, combined, combined_duration */
	char phone_server[8];               /* http_listen served by "mhd" or "own" (phone_listen.c) */
	char log_priority_prefix[8];        /* auto, yes, no: "<N>" before stderr lines */
	bool insecure_loopback;
	bool tls_resumption;                /* https_listen on own: session ids and tickets */
	long threads;
	long render_cache;                  /* rendered configs kept in memory */
	long render_cache_disk;             /* MiB of them kept in a file besides; 0 = none */
	char render_cache_dir[SP_FIELD_MAX]; /* where that file is made (and unlinked at once) */
	long retention_days;                /* fetch_log / registration history; 0 = forever */
	long conn_timeout;                  /* seconds */
	long conn_limit;
	long per_ip_conn_limit;
	long conn_memory_limit;             /* bytes */
	long header_timeout;                /* seconds for a request's headers, in total */
	long body_hold_limit;               /* request body bytes held, all connections together */
	long fail_threshold;                /* auth failures per window before 429 */
	long fail_window;                   /* seconds */
	long lockout_seconds;
	long console_session_seconds;       /* a web console session lasts this long after login */
	char metrics_allow[SP_FIELD_MAX];   /* CIDRs that may GET /metrics; "" nobody */
	long metrics_devices_interval;      /* seconds sipprov_devices is cached; 0 = read per scrape */
	char trusted_proxies[SP_FIELD_MAX]; /* CIDRs whose X-Forwarded-For / Forwarded is believed */
	char public_url[SP_FIELD_MAX];      /* base URL phones use (http[s]://host[:port][/path]); "" unset */
	char firmware_dir[SP_FIELD_MAX];    /* image folder; "" = firmware/ beside a SQLite file (PG: none) */
	/* Parsed by conf_finish from the two keys above (empty text: no network). */
	struct policy_nets metrics_nets;
	struct policy_nets proxy_nets;
};
/* Fill defaults. */
void conf_init(struct conf *c);
/* Read FILE (key = value lines, '#' comments).  Errors name file:line. */
int conf_load(struct conf *c, const char *file, char *err, size_t errlen);
/* Apply one "key=value" (the -o flag). */
int conf_set(struct conf *c, const char *kv, char *err, size_t errlen);
/* After the file and every -o: read the files keys name (api_token_file
 * into api_token; setting both is an error), parse metrics_allow and
 * trusted_proxies (a bad entry is an error naming the key), refuse
 * insecure_loopback with trusted_proxies (behind a local proxy every
 * client would be loopback).  0 or -1 with err. */
int conf_finish(struct conf *c, char *err, size_t errlen);
/* Print every key and value (the -n flag with -v). */
void conf_dump(const struct conf *c, FILE *f);
/* Call fn with the name of every key whose value differs (SIGHUP). */
void conf_diff(const struct conf *a, const struct conf *b, void (*fn)(const char *key, void *arg), void *arg);

/* ---- paths.c: installation paths compiled in by the Makefile ---- */

extern const char sp_datadir[];         /* PREFIX/share/sipprov: layouts under templates/ */
extern const char sp_conf_default[];    /* SYSCONFDIR/sipprov/sipprovd.conf */

/* ---- secret.c: OpenSSL: AES-256-GCM at rest, digests, random tokens ---- */

#define SP_KEY_LEN 32
/* Create a new random key file (mode 0600); fails if it exists. */
int secret_keyfile_create(const char *path, char *err, size_t errlen);
/* Load the key; refuses a file readable by group/other and anything but
 * 64 hex digits and one line end. */
int secret_key_load(const char *path, unsigned char key[SP_KEY_LEN], char *err, size_t errlen);
/* Encrypt plaintext into a new base64 string (nonce|ct|tag); caller frees. */
char *secret_encrypt(const unsigned char key[SP_KEY_LEN], const char *plain);
/* Decrypt; returns a new string (caller frees, then should wipe) or NULL. */
char *secret_decrypt(const unsigned char key[SP_KEY_LEN], const char *b64);
/* AES-256-GCM over bytes with the caller's nonce, which must never repeat
 * under one key (a counter; the render cache on disk, whose key lives only
 * in memory).  seal: out gets n bytes of ciphertext, then the tag;
 * open: in is the same, out gets n bytes.  0, or -1 (open: the tag does
 * not verify: altered, torn or another key's bytes). */
#define SECRET_NONCE 12
#define SECRET_TAG   16
int secret_seal(const unsigned char key[SP_KEY_LEN], const unsigned char nonce[SECRET_NONCE], const void *in,
		size_t n, unsigned char *out);
int secret_open(const unsigned char key[SP_KEY_LEN], const unsigned char nonce[SECRET_NONCE],
		const unsigned char *in, size_t n, void *out);
/* HMAC-SHA256 of data under a subkey for label ("sipprov token v1"...):
 * 64 hex chars + NUL. */
void secret_hmac_hex(const unsigned char key[SP_KEY_LEN], const char *label, const void *data, size_t n,
		     char out[65]);
void sha256_hex(const void *p, size_t n, char out[65]);
void md5_hex(const void *p, size_t n, char out[33]);
/* n random bytes as 2n hex chars + NUL; -1 if the RNG fails. */
int random_hex(char *out, size_t nbytes);
void secret_wipe(void *p, size_t n);

/* ---- firmware.c: firmware files in one folder, by SHA-256 ---- */

/* The folder: configured (conf firmware_dir) if set, else "firmware" next
 * to a SQLite database.  0, or -1 if too long or the database is a
 * PostgreSQL URL and none is configured (SP_PG_NO_FIRMWARE). */
int firmware_dir(const char *db_path, const char *configured, char *out, size_t n);
/* 64 lowercase hex digits, nothing else. */
bool firmware_sha_ok(const char *sha);
/* dir/sha into out; -1 if sha is not a SHA-256 hex or out is too small. */
int firmware_file(const char *dir, const char *sha, char *out, size_t n);
/* Copy src into dir (created 0750) as <sha256> (0640), hashing as it goes;
 * sha and size set.  0, or -1 with err; nothing left behind on error. */
int firmware_import(const char *dir, const char *src, char sha[65], int64_t *size, char *err, size_t errlen);

/* ---- phonebook.c: contacts checked, and rendered per vendor ---- */

#define SP_PHONEBOOK_MAX (8 * 1024 * 1024)  /* a rendered phonebook */
struct contact;                         /* store.h */

/* Check one contact as the CLI and the CSV import take it: name and group
 * UTF-8 text without control characters, at most SP_CONTACT_NAME_CHARS
 * characters (name required); numbers only 0-9 + * # and at most
 * SP_CONTACT_NUMBER_MAX (office required).  0, or -1 with *field set to
 * the field's name ("name", "number", "mobile", "other", "group") and err
 * saying what is wrong with the value (quoted, escaped for a terminal). */
int phonebook_check(const struct contact *c, const char **field, char *err, size_t errlen);
/* Does a device of this layout get a phonebook?  Its format's name
 * ("yealink", ...) or NULL (linphone, json, unknown layouts). */
const char *phonebook_format(const char *layout);
/* The MIME type every phonebook is served with. */
#define SP_PHONEBOOK_CTYPE "text/xml; charset=utf-8"
/* Render v[n] in layout's format into out (capped at SP_PHONEBOOK_MAX;
 * the caller inits and releases it).  Every text is XML-escaped.
 * Deterministic.  0, or -1 with err (no format, too large). */
int phonebook_render(const char *layout, const struct contact *v, size_t n, struct buf *out, char *err,
		     size_t errlen);

/* ---- private.c: files holding secrets are created 0600 ---- */

/* Create path empty with mode 0600 unless it exists (then 0, untouched). */
int private_create(const char *path, char *err, size_t errlen);
/* Open for appending, creating it 0600 (a log); NULL with errno. */
FILE *private_append_open(const char *path);
/* True when path exists and others (not the owner or its group: the
 * service group may share the database) have any access; *mode set. */
bool private_readable(const char *path, unsigned *mode);

#include "store.h"

/* ---- settings.c: the template setting keys and effective config ---- */

/* The known template keys, in canonical order, and their kind. */
enum setting_kind { SET_TEXT, SET_HOST, SET_PORT, SET_INT, SET_ENUM };
struct setting_def {
	const char *key;
	enum setting_kind kind;
	const char *choices;                /* SET_ENUM: "udp|tcp|tls" */
	long min, max;                      /* SET_PORT / SET_INT */
	const char *help;
};
extern const struct setting_def setting_defs[];
extern const size_t setting_def_count;
const struct setting_def *setting_def_find(const char *key);
/* Extras are "vendor.*" / "x.*" keys passed through untouched. */
bool setting_key_ok(const char *key);

/* Parse a JSON object of settings into canonical text (sorted keys,
 * compact; values are strings).  Returns a new string or NULL with err. */
char *settings_canonical(json_t *obj, char *err, size_t errlen);
/* Apply "key=value" to obj (empty value deletes).  Unknown key: -1 with err. */
int settings_apply_kv(json_t *obj, const char *kv, char *err, size_t errlen);

/* What a device gets: computed by one function for the daemon, `render`
 * and bulk previews. */
struct effective {
	struct tenant tenant;
	struct device device;
	char template_name[SP_SLUG_MAX];
	long version;                       /* the version served (pinned or current) */
	long current_version;
	char version_label[SP_SLUG_MAX * 2 + 16];   /* "acme-main@v7" */
	json_t *settings;                   /* merged: version <- tenant defaults <- overrides */
	struct account accounts[SP_MAX_LINES];
	size_t naccounts;
	/* Phone web interface passwords: the device's, else the tenant's
	 * (web_password); text only when effective_load had the key, wiped by
	 * effective_release.  *_set: one is stored (known without the key). */
	char admin_password[SP_FIELD_MAX], user_password[SP_FIELD_MAX];
	bool admin_password_set, user_password_set;
	/* Firmware: "/fw/<sha256>/<file>" of the image the setting
	 * firmware.<model> picks for this device's layout and model; "" none. */
	char fw_path[SP_NAME_MAX + 80];
	/* URLs written into configs, all on public_url (effective_set_public_url);
	 * "" while public_url is unset or there is nothing to point at. */
	struct {
		char base[SP_FIELD_MAX];            /* public_url without a trailing '/' */
		char phonebook[SP_FIELD_MAX + 64];  /* base/pb/<mac>.xml */
		char phonebook_dir[SP_FIELD_MAX + 64];  /* base/pb/<mac> (Grandstream appends phonebook.xml) */
		char firmware[SP_FIELD_MAX + SP_NAME_MAX + 80];  /* base + fw_path */
		char firmware_dir[SP_FIELD_MAX + 80];   /* base/fw/<sha256> (the phone appends its file name) */
	} url;
};
/* The merged settings of d: version (a template version's settings text,
 * "" none) <- t's defaults <- d's overrides, the one merge every caller
 * uses.  New reference, or NULL with err. */
json_t *effective_merge(const char *version, const struct tenant *t, const struct device *d, char *err,
			size_t errlen);
/* Load everything for MAC (normalized).  If key is non-NULL passwords are
 * decrypted.  Returns 1 found, 0 no such device, -1 error (err says why). */
int effective_load(struct store *s, const unsigned char *key, const char *mac,
		   struct effective *e, char *err, size_t errlen);
/* Same, for a device already loaded (bulk previews). */
int effective_load_device(struct store *s, const unsigned char *key, const struct device *d,
			  struct effective *e, char *err, size_t errlen);
/* Wipes passwords, drops settings. */
void effective_release(struct effective *e);
/* Fill e->url from public_url (conf key public_url; NULL or "" = unset) and
 * what effective_load resolved.  Every caller that renders calls it, so the
 * daemon and `sipprov render` write the same URLs. */
void effective_set_public_url(struct effective *e, const char *public_url);
/* The setting firmware.<model> for this device's model (case-insensitive
 * model match), or NULL; *key gets the setting's name. */
const char *effective_firmware_version(const struct effective *e, const char **key);
/* The settings that concern this device, for layout_warnings: a copy of
 * e->settings without the firmware.<model> settings of other models.  A
 * new reference; caller json_decrefs. */
json_t *effective_device_settings(const struct effective *e);
/* Line keys are settings key.N.type|value|label|line (N 1-SP_KEYS_MAX):
 * template defaults, tenant defaults and device overrides merge per field
 * like every setting.  type "none" hides a key set further up. */
#define SP_KEYS_MAX 48
extern const char *const linekey_types[];   /* NULL-terminated: line blf speed_dial park intercom dtmf url none */
/* Expansion-module keys are settings ext.M.N.type|value|label|line: key N
 * (1-SP_EXT_KEYS) of module M (1-SP_EXT_MODULES), merged and checked like
 * key.N.*. */
#define SP_EXT_MODULES 6
#define SP_EXT_KEYS 40
/* Is key a line key setting (key.N.*, not ext.M.N.*)?  n gets N, field
 * "type"/"value"/"label"/"line". */
bool linekey_setting(const char *key, long *n, const char **field);
/* Is key a line key or expansion-module key setting?  module gets M (0 for
 * key.N.*), n gets N, field as above; any may be NULL. */
bool linekey_parse(const char *key, long *module, long *n, const char **field);
/* The setting name of a key's field: "key.N.FIELD", or "ext.M.N.FIELD" for
 * module > 0. */
void linekey_name(char *out, size_t outlen, long module, long n, const char *field);
/* Check every key.N.* and ext.M.N.* setting: type one of linekey_types, line 1-SP_MAX_LINES,
 * value set unless the type is line or none, no field without a type.
 * 0, or -1 with err naming the setting. */
int linekey_check(json_t *settings, char *err, size_t errlen);
/* Check every firmware.<model> setting in settings: the version must be a
 * stored image of that model (`sipprov firmware add`).  0, or -1 with err
 * naming the setting and *field set to it (points into settings). */
int firmware_settings_check(struct store *s, json_t *settings, const char **field, char *err, size_t errlen);
/* Setting as a string ("" when unset). */
const char *effective_get(const struct effective *e, const char *key);

/* ---- metrics.c: Prometheus counters, lock-free on the hot path ---- */

/* Add n to the counter of a full series, e.g.
 * "sipprov_http_requests_total{route=\"mac\",code=\"200\"}".  Series
 * strings should be literals or otherwise live for the process. */
void metrics_add(const char *series, long n);
#define metrics_inc(series) metrics_add((series), 1)
/* Register every known series at 0 and note the start time (idempotent;
 * metrics_render calls it too, so a series is shown before its first event). */
void metrics_start(void);
/* Append every counter family with HELP and TYPE, sipprov_build_info, the
 * request-duration histogram and the start time, in text format 0.0.4.
 * Any listener may call it. */
void metrics_render(struct buf *out);
/* Request-duration histogram: lock-free (atomic bucket and sum). */
enum { METRICS_ROUTE_DEVICE, METRICS_ROUTE_FIRMWARE, METRICS_ROUTE_API, METRICS_ROUTE_OTHER, METRICS_ROUTES };
void metrics_observe_request(int route, long long us);
/* Append sipprov_devices{state=...}: counts read from s at most every
 * every_s seconds (cached between scrapes; 0: each call); nothing appended
 * if the read fails (logged). */
void metrics_devices(struct store *s, long every_s, struct buf *out);
/* The whole /metrics body, for any listener: metrics_render, then (with a
 * store) metrics_devices and drift_metrics. */
void metrics_scrape(struct store *s, long devices_every_s, struct buf *out);

/* ---- layout.c, route.c, placeholder.c, render_*.c: vendor layouts and rendering ---- */

struct layout;                          /* one parsed file from templates/ */
struct layouts;                         /* all of them, by name */

/* Parse every *.xml, *.json, *.cfg layout under dir.  NULL with err naming
 * file:line on the first bad one. */
struct layouts *layouts_load(const char *dir, char *err, size_t errlen);
void layouts_free(struct layouts *l);
const struct layout *layouts_find(const struct layouts *l, const char *name);
size_t layouts_count(const struct layouts *l);
const struct layout *layouts_at(const struct layouts *l, size_t i);
const char *layout_name(const struct layout *l);
const char *layout_content_type(const struct layout *l);
const char *layout_notify_event(const struct layout *l);
/* Settings (a settings JSON object, e.g. an effective config's) that l
 * cannot express, as its "unsupported" header lines declare, and a
 * timezone it cannot render: one line per problem appended to out ("layout
 * 'cisco' cannot express srtp=optional: why").  Returns how many. */
size_t layout_warnings(const struct layout *l, json_t *settings, struct buf *out);
/* Check one layout file; errors name file and line. */
int layout_check_file(const char *path, char *err, size_t errlen);

/* What a request path names, after the route table matched it. */
struct route_match {
	enum { ROUTE_NONE, ROUTE_MAC, ROUTE_TOKEN, ROUTE_COMMON, ROUTE_UPLOAD } kind;
	char mac[SP_MAC_LEN + 1];
	char token[SP_TOKEN_HEX + 1];
	const struct layout *layout;        /* first layout whose pattern matched */
	char pattern[64];                   /* the pattern that matched, e.g. "cfg{mac}.xml" */
	long line;                          /* 0 = every line */
};
/* Match a request path (already without query) against every layout's file
 * name patterns.  Returns 1 matched, 0 not (404). */
int route_match(const struct layouts *l, const char *path, struct route_match *m);
/* Does this layout declare the pattern that matched?  (file name vs device layout) */
bool layout_answers(const struct layout *l, const struct route_match *m);

/* Does this layout serve softphone token URLs (/s/{token})? */
bool layout_uses_token(const struct layout *l);

/* Render the effective config into out (capped at SP_BODY_MAX).
 * line 0 = all lines, N = only that account (-1 "device has no line N").
 * e == NULL, or an effective whose device.mac is "", renders the layout's
 * common file (same as render_common).
 * Deterministic: same inputs, same bytes.  Returns 0 or -1 with err; on
 * error out is left as it was ("config too large" when over out->max). */
int render(const struct layout *l, const struct effective *e, long line,
	   struct buf *out, char *err, size_t errlen);
/* render() for the file a request named: the body its route declares
 * ("route boot: {mac}.boot" + "--- boot"), else the main one. */
int render_route(const struct layout *l, const struct route_match *m, const struct effective *e, long line,
		 struct buf *out, char *err, size_t errlen);
/* Which body of l answers m: 0 the main one, N the Nth named body. */
int layout_route_body(const struct layout *l, const struct route_match *m);
/* The fixed body a layout serves for ROUTE_COMMON names (no secrets, no
 * per-device data).  -1 if the layout declares none. */
int render_common(const struct layout *l, struct buf *out, char *err, size_t errlen);
/* The common body the route m names ("route common NAME:" -> "--- common
 * NAME"), with {{public_url}} replaced by public_url (conf key public_url,
 * the base URL phones use).  0, -1 with err, or 1 when the body names
 * public_url and it is empty: nothing written, the caller answers 404. */
#define SP_PUBLIC_URL_PH "{{public_url}}"
int render_common_route(const struct layout *l, const struct route_match *m, const char *public_url,
			struct buf *out, char *err, size_t errlen);
/* The layout's format as its header names it: "xml", "json", "kv" (layout_format.c). */
const char *layout_format_name(const struct layout *l);
/* The file-name patterns a layout answers, as declared ("{mac}.cfg");
 * kind gets ROUTE_MAC/TOKEN/COMMON/UPLOAD.  NULL past the end. */
size_t layout_route_count(const struct layout *l);
const char *layout_route_at(const struct layout *l, size_t i, int *kind);
/* A route kind as `layout list` names it: "device", "token", "common", "upload". */
const char *route_kind_name(int kind);
/* A layout as `layout list --json` and GET /api/v1/layouts show it: name,
 * format, content_type, notify_event, token_urls, patterns[{pattern, kind}]. */
json_t *layout_json(const struct layout *l);
/* Parse one layout from memory (the fuzz target, `layout check`); filename
 * is only for messages.  NULL with err naming file:line. */
struct layout *layout_parse_mem(const char *filename, const char *data, size_t len,
				char *err, size_t errlen);
void layout_free(struct layout *l);    /* accepts NULL; only for layout_parse_mem results */

/* ---- apitoken.c: admin API bearer tokens as values ---- */

#define SP_API_TOKEN_LEN  68          /* "spk_" + 256 random bits in hex */
/* A new random token ("spk_" + 64 hex) into out; -1 if the RNG fails. */
int api_token_new(char out[SP_API_TOKEN_LEN + 1]);
/* The keyed hash stored for a token (HMAC-SHA256, its own label). */
void api_token_hash(const unsigned char key[SP_KEY_LEN], const char *token, char out[65]);
/* admin, operator or read-only. */
bool api_role_ok(const char *role);

/* ---- user.c: web console users' passwords, session ids, CSRF tokens ---- */

#define SP_PW_HASH_MAX    192         /* "scrypt$N$r$p$salt$hash" */
#define SP_SESSION_LEN    64          /* 256 random bits in hex */
#define SP_PASSWORD_MAX   256
/* Hash password with scrypt (N=2^15, r=8, p=1) and a fresh 128-bit salt
 * into out as "scrypt$N$r$p$salthex$hashhex".  0, or -1 (RNG or KDF). */
int user_password_hash(const char *password, char out[SP_PW_HASH_MAX]);
/* True when password matches stored (constant-time compare); false for a
 * malformed stored value. */
bool user_password_ok(const char *password, const char *stored);
/* A password a person may set: 10 to SP_PASSWORD_MAX-1 bytes, no control
 * characters.  false with err naming the rule. */
bool user_password_valid(const char *password, char *err, size_t errlen);
/* A new session id into out; -1 if the RNG fails. */
int user_session_new(char out[SP_SESSION_LEN + 1]);
/* The keyed hash stored for a session id (HMAC-SHA256, its own label). */
void user_session_hash(const unsigned char key[SP_KEY_LEN], const char *sid, char out[65]);
/* The CSRF token bound to a session id (HMAC, another label): a page gets
 * it from /ui/session and sends it back as X-CSRF-Token on every write. */
void user_csrf_token(const unsigned char key[SP_KEY_LEN], const char *sid, char out[65]);

/* ---- tenant.c: tenant rules shared by the CLI and the admin API ---- */

/* The tenant as JSON (CLI --json and the API); returns a new reference. */
json_t *tenant_json(const struct tenant *t, long devices);
/* sha256 of the canonical JSON form, for the audit log's before/after. */
void tenant_digest(const struct tenant *t, char out[65]);
/* Check t before a write and make it canonical: defaults (a settings
 * object, may be NULL = keep t->defaults) validated and canonicalised into
 * t->defaults, policy canonical (policy_tenant_canon), validate_tenant,
 * and the default template must exist.  -1 with err and *field (the JSON
 * field name, or NULL when no one field is at fault). */
int tenant_prepare(struct store *s, struct tenant *t, json_t *defaults, bool force, const char **field,
		   char *err, size_t errlen);
/* Add (t->id 0) or update t, with its audit row (actor, action, before
 * digest or NULL, detail), in one transaction: all or nothing.  0 or -1. */
int tenant_save(struct store *s, const char *actor, const char *action, struct tenant *t, const char *before,
		const char *detail, char *err, size_t errlen);

/* ---- device.c: a device's JSON form (CLI --json and the admin API) ---- */

/* New reference; tenant is the device's tenant slug. */
json_t *device_json(const struct device *d, const char *tenant);
/* sha256 of the fields a change can touch, for the audit log. */
void device_digest(const struct device *d, char out[65]);
/* Add or update d with its audit row (actor, action, before digest,
 * detail) in one transaction: all or nothing.  0, or -1 with err. */
int device_save(struct store *s, const char *actor, const char *action, struct device *d, bool add,
		const char *before, const char *detail, char *err, size_t errlen);
/* A new device record: mac in any spelling, or NULL for a softphone's
 * generated id (02 + 40 random bits); status active, no overrides.
 * 0, or -1 with err. */
int device_init(struct device *d, const char *mac, char *err, size_t errlen);
/* What `device add` / `device set` (and POST / PATCH) change; NULL
 * members stay as they are.  kv are key=value overrides ("key=" removes). */
struct device_change {
	const char *layout, *model, *label, *template_name;
	char *const *kv;
	size_t nkv;
	bool force;                     /* validate_settings' force */
};
/* Check ch with the CLI's rules (text fields, a layout ls knows, the
 * template exists in t, valid overrides) and apply it to d (a new
 * template unpins).  ls may be NULL when ch->layout is.  0, or -1 with
 * err and *field ("layout", "model", "label", "template", "overrides");
 * d may then be partly changed. */
int device_change_apply(struct store *s, const struct layouts *ls, const struct tenant *t, struct device *d,
			const struct device_change *ch, const char **field, char *err, size_t errlen);
/* Delete d (its accounts go with it) with the "device rm" audit row.
 * 0, or -1 with err. */
int device_remove(struct store *s, const char *actor, const struct device *d, char *err, size_t errlen);
/* Fill d's HTTP user (the MAC) and HA1s for a new random password written
 * to pass; nothing is stored.  0, or -1 with err. */
int device_credentials_make(struct device *d, char pass[33], char *err, size_t errlen);
/* New HTTP digest credentials: user = MAC, a random password written to
 * pass (shown once by the caller; only sealed HA1s are stored).  The
 * store must have the key.  0, or -1 with err (pass wiped). */
int device_credentials_set(struct store *s, const char *actor, struct device *d, const char *detail,
			   char pass[33], char *err, size_t errlen);

/* ---- account.c: SIP-line rules shared by the CLI and the admin API ---- */

/* sha256 of what an account holds (no plaintext), for the audit log. */
void account_digest(const struct account *a, char out[65]);
/* Fields an add / set gives; NULL = unchanged. */
struct account_change {
	const char *username, *auth_username, *password, *display_name, *extension;
};
/* Put ch's given values into a (oversize ones are left for
 * validate_account to refuse). */
void account_merge(struct account *a, const struct account_change *ch);
/* Validate (validate_account), seal a->password with key, add or update,
 * and audit (actor, before digest) in one transaction.  0, or -1 with
 * err (the CLI's message); nothing written then. */
int account_write(struct store *s, const unsigned char key[SP_KEY_LEN], const char *actor, const struct device *d,
		  struct account *a, bool add, const char *before, char *err, size_t errlen);
/* Delete a's line of d, audited.  0, or -1 with err. */
int account_remove(struct store *s, const char *actor, const struct device *d, const struct account *a, char *err,
		   size_t errlen);
/* rotate: a new random a->token (the caller shows it once); else revoke.
 * Audited; 0, or -1 with err. */
int account_token_set(struct store *s, const char *actor, const struct device *d, struct account *a, bool rotate,
		      char *err, size_t errlen);

/* ---- claim.c: phones nobody entered (`device pending|claim`, /api/v1/pending) ---- */

/* The layout a pending phone wants: its User-Agent's vendor when a layout
 * of that name answers the file it asked for, else the only layout that
 * answers it.  NULL when it cannot be told; cands gets who answers ("a, b"). */
const char *claim_suggest_layout(const struct layouts *ls, const struct pending_dev *p, char *cands, size_t n);
/* Every layout that answers p's file, as a JSON array of names; new reference. */
json_t *claim_candidates(const struct layouts *ls, const struct pending_dev *p);
/* p as JSON, "layout" the suggestion (null when ls is NULL or it cannot
 * be told); new reference. */
json_t *pending_json(const struct layouts *ls, const struct pending_dev *p);
/* mac's (normalized) pending row: 1, 0 (err: not in the list), -1 (err). */
int claim_lookup(struct store *s, const char *mac, struct pending_dev *p, char *err, size_t errlen);
/* The layout to enter p with: given, else the suggestion.  0, or -1 with
 * err naming the candidates and asking for option ("--layout"). */
int claim_layout(const struct layouts *ls, const struct pending_dev *p, const char *given, const char *option,
		 const char **layout, char *err, size_t errlen);
/* Drop mac's pending row with a "device pending rm" audit row (actor):
 * 1, 0 not there (err says so), -1 (err). */
int claim_forget(struct store *s, const char *actor, const char *mac, char *err, size_t errlen);

/* ---- template.c: template rules shared by the CLI and the admin API ---- */

/* 1 to 63 of a-z, 0-9, '-' and '_'. */
bool template_name_ok(const char *n);
/* A version as JSON (settings included when asked); new reference. */
json_t *template_version_json(const struct tversion *v, bool with_settings);
/* Field-by-field differences of two settings objects, sorted by key: a
 * new array of {key, old, new} (null when unset). */
json_t *template_changes(json_t *a, json_t *b);
struct template_write_info {
	bool unchanged;                 /* the current version holds these settings: nothing written */
	bool made_default;              /* the tenant's first template became its default */
	bool forced;                    /* a contradiction let through by force (why) */
	char why[SP_ERR_MAX];
	struct buf detail;              /* "key: old -> new; ..."; caller releases */
};
/* A new version of t's template name holding obj (validated, canonical),
 * audited as action ("template.set", "template.rollback"), in one
 * transaction; out is the new version (or the current one, unchanged).
 * 0, or -1 with err (the CLI's message); release info->detail either way. */
int template_write(struct store *s, const char *actor, struct tenant *t, const char *name, json_t *obj,
		   const char *comment, const char *action, bool force, struct tversion *out,
		   struct template_write_info *info, char *err, size_t errlen);
/* What writing settings (canonical text) as the new version of t's
 * template name would change: devices whose merged settings differ
 * (effective_merge, current version vs settings), the first max of their
 * MACs in MAC order (macs: a new array), and devices on the template
 * pinned to a version (they keep theirs).  Reads only.  0, or -1 with err. */
struct template_impact {
	long devices, pinned;
	json_t *macs;
};
int template_impact(struct store *s, const struct tenant *t, const char *name, const char *settings, size_t max,
		    struct template_impact *out, char *err, size_t errlen);
/* Pin d to version number of template name (0 = unpin), audited.  The
 * caller checked the version exists.  *unchanged when it already was.
 * 0, or -1 with err. */
int template_pin(struct store *s, const char *actor, struct device *d, const struct tenant *t, long number,
		 const char *name, bool *unchanged, char *err, size_t errlen);

/* The rest of the core layer's API, each concern in its own header. */
#include "validate.h"
#include "drift.h"
#include "ua.h"
#include "csv.h"
#include "import.h"

/* Last, so that every file including sipprov.h has the banned functions
 * turned into errors; system headers must come before sipprov.h. */
#include "banned.h"

#endif
