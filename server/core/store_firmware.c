/*
 * store_firmware.c: the firmware table: which image is which vendor /
 * model / version.  The bytes live in files named by their SHA-256
 * (firmware.c); rows only point at them, so one image added for two
 * models is stored once.  It does not read or serve files.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "sipprov.h"

#define FW_COLS "id, vendor, model, version, sha256, size, filename, added"

static void fw_row(struct dbst *st, void *elem)
{
	struct firmware *f = elem;
	f->id = db_col_int64(st, 0);
	store_col_text(st, 1, f->vendor, sizeof(f->vendor));
	store_col_text(st, 2, f->model, sizeof(f->model));
	store_col_text(st, 3, f->version, sizeof(f->version));
	store_col_text(st, 4, f->sha256, sizeof(f->sha256));
	f->size = db_col_int64(st, 5);
	store_col_text(st, 6, f->filename, sizeof(f->filename));
	f->added = db_col_int64(st, 7);
}

static int fw_one(struct dbst *st, struct firmware *f)
{
	int rc = db_step(st);
	if (rc == DB_ROW)
		fw_row(st, f);
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int store_firmware_add(struct store *s, struct firmware *f, char *err, size_t errlen)
{
	struct firmware old;
	int rc = store_firmware_get(s, f->vendor, f->model, f->version, &old);
	if (rc < 0)
		return sp_err(err, errlen, "cannot read the firmware table: %s", store_errmsg(s));
	if (rc == 1)
		return sp_err(err, errlen, "firmware %s %s %s already exists (sha256 %.12s...); remove it first",
			      f->vendor, f->model, f->version, old.sha256);
	struct dbst *st = store_stmt(s, "INSERT INTO firmware (vendor, model, version, sha256, size, filename, "
				      "added) VALUES (?,?,?,?,?,?,?)");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	f->added = sp_now();
	store_bind_text(st, 1, f->vendor);
	store_bind_text(st, 2, f->model);
	store_bind_text(st, 3, f->version);
	store_bind_text(st, 4, f->sha256);
	db_bind_int64(st, 5, f->size);
	store_bind_text(st, 6, f->filename);
	db_bind_int64(st, 7, f->added);
	if (store_exec_stmt(s, st, err, errlen) < 0)
		return -1;
	f->id = db_last_id(store_db(s));
	return 0;
}

int store_firmware_get(struct store *s, const char *vendor, const char *model, const char *version,
		       struct firmware *f)
{
	struct dbst *st = store_stmt(s, "SELECT " FW_COLS " FROM firmware WHERE vendor = ? AND model = ? "
				      "AND version = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, vendor);
	store_bind_text(st, 2, model);
	store_bind_text(st, 3, version);
	return fw_one(st, f);
}

int store_firmware_by_sha(struct store *s, const char *sha256, struct firmware *f)
{
	struct dbst *st = store_stmt(s, "SELECT " FW_COLS " FROM firmware WHERE sha256 = ? ORDER BY id LIMIT 1");
	if (!st)
		return -1;
	store_bind_text(st, 1, sha256);
	return fw_one(st, f);
}

int store_firmware_list(struct store *s, const char *vendor, struct firmware **out, size_t *n)
{
	struct dbst *st = store_stmt(s, "SELECT " FW_COLS " FROM firmware WHERE ?1 = '' OR vendor = ?1 "
				      "ORDER BY vendor, model, version");
	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	store_bind_text(st, 1, vendor);
	void *rows;
	int rc = store_rows(st, sizeof(**out), fw_row, &rows, n);
	*out = rows;
	return rc;
}

int store_firmware_rm(struct store *s, int64_t id, const char *sha256, long *refs)
{
	struct dbst *st = store_stmt(s, "DELETE FROM firmware WHERE id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, id);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	st = store_stmt(s, "SELECT count(*) FROM firmware WHERE sha256 = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, sha256);
	int rc = db_step(st);
	*refs = rc == DB_ROW ? db_col_int64(st, 0) : -1;
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}

/* Who picks model + version through a firmware.<model> setting: a
 * template's current version or one a device is pinned to, a tenant's
 * defaults, a device's overrides.  The key's model is matched without
 * case, as effective_firmware_version does. */
int store_firmware_refs(struct store *s, const char *model, const char *version, char *out, size_t outlen,
			size_t *n)
{
	struct dbst *st = store_stmt(s,
		"SELECT 'template ' || tn.slug || '/' || t.name || ' v' || v.number || ' (' || j.key || ')' "
		"FROM template t JOIN tenant tn ON tn.id = t.tenant_id "
		"JOIN template_version v ON v.template_id = t.id, json_each(v.settings) j "
		"WHERE lower(j.key) = lower('firmware.' || ?1) AND j.type = 'text' AND j.value = ?2 "
		"AND (v.number = t.current OR EXISTS (SELECT 1 FROM device d WHERE d.tenant_id = t.tenant_id "
		"AND d.pinned_version = v.number AND (d.template = t.name OR (d.template = '' AND "
		"tn.default_template = t.name)))) "
		"UNION ALL SELECT 'tenant ' || tn.slug || ' (' || j.key || ')' FROM tenant tn, json_each(tn.defaults) j "
		"WHERE lower(j.key) = lower('firmware.' || ?1) AND j.type = 'text' AND j.value = ?2 "
		"UNION ALL SELECT 'device ' || d.mac || ' (' || j.key || ')' FROM device d, json_each(d.overrides) j "
		"WHERE lower(j.key) = lower('firmware.' || ?1) AND j.type = 'text' AND j.value = ?2");
	size_t o = 0;
	int rc;
	*n = 0;
	if (!st)
		return -1;
	store_bind_text(st, 1, model);
	store_bind_text(st, 2, version);
	if (outlen)
		out[0] = '\0';
	while ((rc = db_step(st)) == DB_ROW) {
		const char *who = db_col_text(st, 0);
		if (who && o + strlen(who) + 3 < outlen)
			o += (size_t)snprintf(out + o, outlen - o, "%s%s", *n ? ", " : "", who);
		(*n)++;
	}
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}
