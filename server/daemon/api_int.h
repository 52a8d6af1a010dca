/*
 * api_int.h: what api.c (listener, tokens, errors, bodies) shares with the
 * resource files api_*.c.  Only the daemon's api*.c include it.
 * Ownership: api_reply steals the JSON document it is given.
 */
#ifndef SP_API_INT_H
#define SP_API_INT_H
#include <microhttpd.h>
#include "core/sipprov.h"

#define API_BODY_MAX   (1024 * 1024) /* request body cap, checked before buffering */
#define API_DEPTH_MAX  16            /* JSON nesting accepted in a body */
#define API_LIMIT_MAX  500           /* page size cap on lists */

struct api_ctx {                        /* one request being answered */
	struct MHD_Connection *c;
	struct store *store;
	const char *method;
	const char *path;               /* after /api/v1 */
	struct api_token tok;           /* the caller */
	const struct conf *conf;
	const unsigned char *key;       /* the key file's key (sealing secrets) */
	const struct layouts *layouts;  /* held (read-locked) for the request */
	const char *phone_base;         /* token URLs: base + "/s/" + token */
	struct job_runner *jobs;        /* wake it after queueing a job */
	const char *body;
	size_t body_len;
	bool is_get, is_write;
	struct api_job **job;           /* api_ops.c's worker, kept by the request */
};

/* Answer with doc (stolen; NULL = no body) and optional headers. */
enum MHD_Result api_reply(struct api_ctx *x, unsigned status, json_t *doc, const char *etag, const char *location);
/* {"error":{"code","message","field","row"}}; field NULL / row 0 = omitted. */
enum MHD_Result api_error(struct api_ctx *x, unsigned status, const char *code, const char *field, long row,
			  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* One allowed field of a JSON body. */
struct api_field {
	const char *name;
	json_type type;                 /* JSON_STRING, JSON_INTEGER, JSON_OBJECT, JSON_TRUE (= boolean) */
	bool required;
};
/* Parse the body as a JSON object whose members are all in fields[] with
 * their types.  On failure answers the 400 itself and returns NULL with
 * *ret set; else a new reference. */
json_t *api_body(struct api_ctx *x, const struct api_field *fields, enum MHD_Result *ret);
/* Copy a string member into dst[size], or answer 422 naming it: 0 / -1. */
int api_str(struct api_ctx *x, json_t *o, const char *name, char *dst, size_t size, enum MHD_Result *ret);
/* The tenant the caller may see, by slug: 1, or 0 after answering 404
 * (unknown and out-of-scope look the same), -1 after answering 500. */
int api_tenant_visible(struct api_ctx *x, const char *slug, struct tenant *t, enum MHD_Result *ret);
bool api_scope_ok(const struct api_ctx *x, int64_t tenant_id);
/* A list's tenant: ?tenant= (visible to the caller), else the caller's own
 * scope (0 = every tenant).  0, or -1 after answering (404, 500). */
int api_tenant_scope(struct api_ctx *x, int64_t *tenant_id, enum MHD_Result *ret);
/* Role checks after the object is known to be visible: true, or false
 * after answering 403. */
bool api_can_write(struct api_ctx *x, enum MHD_Result *ret);
bool api_is_admin(struct api_ctx *x, enum MHD_Result *ret);
/* ?limit= (default 100, 1..API_LIMIT_MAX): 0, or -1 after answering 400. */
int api_limit(struct api_ctx *x, long *limit, enum MHD_Result *ret);
const char *api_query(struct api_ctx *x, const char *name);
/* ?name=true|false (absent: false): true, or false after answering 400. */
bool api_flag(struct api_ctx *x, const char *name, bool *v, enum MHD_Result *ret);

/* Resource handlers (api_tenant.c, api_device.c): answer everything under
 * their prefix; rest is the path after "/tenants" or "/devices". */
enum MHD_Result api_tenants(struct api_ctx *x, const char *rest);
enum MHD_Result api_devices(struct api_ctx *x, const char *rest);
/* api_account.c: rest is the path after /devices/{mac}/accounts; d is the
 * device, already known visible to the caller. */
enum MHD_Result api_accounts(struct api_ctx *x, struct device *d, const struct tenant *t, const char *rest);
/* api_template.c: rest after /tenants/{slug}/templates; pin / unpin. */
enum MHD_Result api_templates(struct api_ctx *x, struct tenant *t, const char *rest);
enum MHD_Result api_device_pin(struct api_ctx *x, struct device *d, const struct tenant *t, bool pin);
/* api_import.c: POST /import and GET /export (rest after the word). */
enum MHD_Result api_import(struct api_ctx *x, const char *rest);
enum MHD_Result api_export(struct api_ctx *x, const char *rest);
/* Answer a non-JSON body (copied) with content type ctype. */
enum MHD_Result api_reply_text(struct api_ctx *x, unsigned status, const char *ctype, const char *body, size_t len);
/* The account field a validate_account message is about, or NULL. */
const char *api_account_field(const char *msg);
/* The Idempotency-Key header: 0 with *key (NULL when absent), or -1 after
 * answering 400 (empty, over 255 characters, not printable). */
int api_idem_key(struct api_ctx *x, const char **key, enum MHD_Result *ret);
/* The answer kept for this caller's key (see store_idem_get): 1 with
 * *text (decrypted; caller wipes and frees) and *status, 0 none, or -1
 * after answering (409: the key came with another body sha; 500). */
int api_idem_kept(struct api_ctx *x, const char *key, const char *sha, char **text, long *status,
		  enum MHD_Result *ret);
/* If-Match against etag: true, or false after answering 412 naming what. */
bool api_if_match(struct api_ctx *x, const char *etag, const char *what, enum MHD_Result *ret);

/* api_jobs.c: POST /tenants/{slug}/move (t visible to the caller), and
 * everything under /jobs (rest after the word). */
enum MHD_Result api_tenant_move(struct api_ctx *x, const struct tenant *t);
enum MHD_Result api_jobs(struct api_ctx *x, const char *rest);

/* api_drift.c: GET /drift and GET /status (rest after the word). */
enum MHD_Result api_drift(struct api_ctx *x, const char *rest);
enum MHD_Result api_status(struct api_ctx *x, const char *rest);

/* api_fleet.c: the console's read-only views (rest after "/fleet"). */
enum MHD_Result api_fleet(struct api_ctx *x, const char *rest);

/* api_ops.c: POST /devices/{mac}/diagnose and /ticket (the connection is
 * suspended while a worker thread runs it; api_ops_answer sends the result
 * once *x->job is set and MHD calls back), GET /devices/{mac}/render;
 * api_ops: GET /audit and /layouts (path "/audit" or "/layouts"). */
struct api_job;
enum MHD_Result api_device_ops(struct api_ctx *x, struct device *d, const char *sub);
enum MHD_Result api_ops_answer(struct api_ctx *x);
enum MHD_Result api_ops(struct api_ctx *x, const char *path);
void api_job_free(struct api_job *j);
/* Wait until no diagnose worker runs (before the listener stops). */
void api_ops_drain(void);

/* api_pending.c: /pending (rest after the word); tenant-less callers only. */
enum MHD_Result api_pending(struct api_ctx *x, const char *rest);
#endif
