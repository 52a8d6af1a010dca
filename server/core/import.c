/*
 * import.c: CSV import and export of a tenant's devices and accounts, in
 * core so the CLI (`sipprov import|export`) and the admin API run the one
 * implementation.  Import works inside one transaction: each row is
 * checked and written as it is read, so later rows are checked against
 * earlier ones through the database, and anything wrong rolls the whole
 * file back.  It does not parse CSV (csv.c) nor send NOTIFYs.
 * Jansson: json_object_set_new steals; loads/object are ours.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipprov.h"

/* ---- import ---- */

enum col {
	C_MAC, C_LAYOUT, C_MODEL, C_LABEL, C_TEMPLATE, C_LINE, C_DISPLAY, C_EXT, C_USER, C_AUTH, C_PASS,
	C_TOKEN, C_FIXED, C_OVERRIDE = C_FIXED
};
static const char *const col_names[C_FIXED] = {
	"mac", "layout", "model", "label", "template", "line", "display_name", "extension", "username",
	"auth_username", "password", "token",
};
static const bool col_required[C_FIXED] = {
	[C_MAC] = true, [C_LAYOUT] = true, [C_LINE] = true, [C_USER] = true, [C_AUTH] = true, [C_PASS] = true,
};
/* Device-level columns: every row of one device must agree on them. */
static const enum col dev_cols[] = { C_LAYOUT, C_MODEL, C_LABEL, C_TEMPLATE };

struct dev_entry {
	char mac[SP_MAC_LEN + 1];
	int64_t id;                     /* 0 = not written (its first row failed) */
	bool fresh;                     /* new in this file: no lines but the file's */
	long first_row;
	char *devkey;                   /* device columns joined by \x1f */
	const struct layout *layout;
	int32_t line_row[SP_MAX_LINES + 1];
};

struct imp {
	struct store *s;
	const struct tenant *t;
	const struct bulk_import_opts *o;
	struct bulk_import_result *r;
	int idx[C_FIXED];               /* column index of each fixed column, -1 absent */
	size_t ncols;
	int ov_col[CSV_COLS_MAX];       /* override columns: csv index */
	char ov_key[CSV_COLS_MAX][80];
	size_t nov;
	long row, line;
	struct dev_entry **slots;
	size_t cap, ndev;
	char tcache_name[SP_SLUG_MAX];  /* last template found in the tenant */
	struct tversion *tv;
};

static void imp_error(struct imp *im, const char *col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void imp_error(struct imp *im, const char *col, const char *fmt, ...)
{
	char msg[SP_ERR_MAX], line[SP_ERR_MAX + 96];
	va_list ap;
	size_t max = im->o->max_errors ? im->o->max_errors : 1000;
	im->r->errors++;
	if ((size_t)im->r->errors > max || (!im->o->on_error && !im->o->on_row_error))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (im->o->on_row_error)
		im->o->on_row_error(im->row, col, msg, im->o->arg);
	if (!im->o->on_error)
		return;
	if (col)
		snprintf(line, sizeof(line), "row %ld (line %ld), column '%s': %s", im->row, im->line, col, msg);
	else
		snprintf(line, sizeof(line), "row %ld (line %ld): %s", im->row, im->line, msg);
	im->o->on_error(line, im->o->arg);
}

static size_t mac_hash(const char *mac)
{
	size_t h = 1469598103934665603ULL;
	for (; *mac; mac++)
		h = (h ^ (unsigned char)*mac) * 1099511628211ULL;
	return h;
}

static struct dev_entry *dev_find(struct imp *im, const char *mac, bool create)
{
	if (im->ndev * 2 >= im->cap) {
		size_t ncap = im->cap ? im->cap * 2 : 1024;
		struct dev_entry **ns = xcalloc(ncap, sizeof(*ns));
		for (size_t i = 0; i < im->cap; i++) {
			if (!im->slots[i])
				continue;
			size_t k = mac_hash(im->slots[i]->mac) & (ncap - 1);
			while (ns[k])
				k = (k + 1) & (ncap - 1);
			ns[k] = im->slots[i];
		}
		free(im->slots);
		im->slots = ns;
		im->cap = ncap;
	}
	size_t k = mac_hash(mac) & (im->cap - 1);
	while (im->slots[k]) {
		if (!strcmp(im->slots[k]->mac, mac))
			return im->slots[k];
		k = (k + 1) & (im->cap - 1);
	}
	if (!create)
		return NULL;
	struct dev_entry *d = xcalloc(1, sizeof(*d));
	sp_strlcpy(d->mac, mac, sizeof(d->mac));
	im->slots[k] = d;
	im->ndev++;
	return d;
}

static void dev_table_free(struct imp *im)
{
	for (size_t i = 0; i < im->cap; i++)
		if (im->slots[i]) {
			free(im->slots[i]->devkey);
			free(im->slots[i]);
		}
	free(im->slots);
}

static const char *cell(struct imp *im, char **f, enum col c)
{
	return im->idx[c] >= 0 ? f[im->idx[c]] : "";
}

/* The header: known columns, setting keys as overrides, nothing else. */
static int imp_header(struct imp *im, char **f, size_t n)
{
	int bad = 0;
	for (int c = 0; c < C_FIXED; c++)
		im->idx[c] = -1;
	for (size_t i = 0; i < n; i++) {
		char name[80];
		size_t len;
		const char *p = f[i];
		while (*p == ' ')
			p++;
		sp_strlcpy(name, p, sizeof(name));
		len = strlen(name);
		while (len && name[len - 1] == ' ')
			name[--len] = '\0';
		for (char *q = name; *q; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q - 'A' + 'a');
		int known = -1;
		for (int c = 0; c < C_FIXED; c++)
			if (!strcmp(name, col_names[c]))
				known = c;
		if (known >= 0) {
			if (im->idx[known] >= 0) {
				imp_error(im, name, "column given twice (columns %d and %zu)", im->idx[known] + 1, i + 1);
				bad = 1;
			}
			im->idx[known] = (int)i;
			continue;
		}
		if (setting_key_ok(name) && strlen(f[i]) < sizeof(im->ov_key[0])) {
			for (size_t k = 0; k < im->nov; k++)
				if (!strcmp(im->ov_key[k], name)) {
					imp_error(im, name, "column given twice");
					bad = 1;
				}
			im->ov_col[im->nov] = (int)i;
			sp_strlcpy(im->ov_key[im->nov++], name, sizeof(im->ov_key[0]));
			continue;
		}
		imp_error(im, NULL, "unknown column '%s' (known: mac, layout, model, label, template, line, "
			  "display_name, extension, username, auth_username, password, token, or a setting key such as "
			  "registrar, port, transport, vendor.NAME)", f[i]);
		bad = 1;
	}
	for (int c = 0; c < C_FIXED; c++)
		if (col_required[c] && im->idx[c] < 0) {
			imp_error(im, NULL, "missing required column '%s'", col_names[c]);
			bad = 1;
		}
	im->ncols = n;
	return bad ? -1 : 0;
}

static void devkey_build(struct imp *im, char **f, struct buf *b)
{
	for (size_t i = 0; i < sizeof(dev_cols) / sizeof(dev_cols[0]); i++) {
		buf_adds(b, cell(im, f, dev_cols[i]));
		buf_add(b, "\x1f", 1);
	}
	for (size_t k = 0; k < im->nov; k++) {
		buf_adds(b, f[im->ov_col[k]]);
		buf_add(b, "\x1f", 1);
	}
}

/* A later row of a device already seen: its device columns must match. */
static void imp_same_device(struct imp *im, struct dev_entry *d, char **f)
{
	const char *p = d->devkey;
	size_t ndc = sizeof(dev_cols) / sizeof(dev_cols[0]);
	for (size_t i = 0; i < ndc + im->nov; i++) {
		const char *e = strchr(p, '\x1f');
		const char *v = i < ndc ? cell(im, f, dev_cols[i]) : f[im->ov_col[i - ndc]];
		const char *name = i < ndc ? col_names[dev_cols[i]] : im->ov_key[i - ndc];
		size_t len = (size_t)(e - p);
		if (strlen(v) != len || memcmp(v, p, len)) {
			imp_error(im, name, "'%s' differs from row %ld's '%.*s' for device %s (rows of one device "
				  "must agree on its device columns)", v, d->first_row, (int)len, p, d->mac);
			return;
		}
		p = e + 1;
	}
}

static bool imp_template_ok(struct imp *im, const char *name)
{
	if (!name[0] || !strcmp(name, im->tcache_name))
		return true;
	if (store_tversion_get(im->s, im->t->id, name, 0, im->tv) != 1)
		return false;
	sp_strlcpy(im->tcache_name, name, sizeof(im->tcache_name));
	return true;
}

static bool text_field(struct imp *im, char **f, enum col c, size_t max)
{
	const char *v = cell(im, f, c);
	if (strlen(v) >= max) {
		imp_error(im, col_names[c], "longer than %zu bytes", max - 1);
		return false;
	}
	if (!sp_text_ok(v)) {
		imp_error(im, col_names[c], "control characters or invalid UTF-8 (line breaks are not allowed)");
		return false;
	}
	return true;
}

/* First row of a device in this file: check and write the device. */
static void imp_device(struct imp *im, struct dev_entry *de, char **f)
{
	struct device d;
	const char *layout = cell(im, f, C_LAYOUT), *tmpl = cell(im, f, C_TEMPLATE);
	char err[SP_ERR_MAX];
	bool ok = true, exists;
	int rc;
	json_t *ov = NULL;
	char *canon = NULL;

	de->layout = im->o->layouts ? layouts_find(im->o->layouts, layout) : NULL;
	if (!de->layout) {
		char known[256] = "";
		size_t o = 0, n = im->o->layouts ? layouts_count(im->o->layouts) : 0;
		for (size_t i = 0; i < n && o < sizeof(known); i++)
			o += (size_t)snprintf(known + o, sizeof(known) - o, "%s%s", i ? ", " : "",
					      layout_name(layouts_at(im->o->layouts, i)));
		imp_error(im, "layout", "unknown layout '%s' (known: %s)", layout, known);
		ok = false;
	}
	ok &= text_field(im, f, C_MODEL, SP_NAME_MAX);
	ok &= text_field(im, f, C_LABEL, SP_NAME_MAX);
	if (strlen(tmpl) >= SP_SLUG_MAX || !sp_text_ok(tmpl) || !imp_template_ok(im, tmpl)) {
		imp_error(im, "template", "no template '%s' in tenant '%s' (see 'sipprov template history %s')",
			  tmpl, im->t->slug, im->t->slug);
		ok = false;
	}
	rc = store_device_get(im->s, de->mac, &d);
	if (rc < 0) {
		imp_error(im, "mac", "cannot read device %s: %s", de->mac, store_errmsg(im->s));
		return;
	}
	exists = rc == 1;
	if (exists && d.tenant_id != im->t->id) {
		struct tenant other;
		if (store_tenant_get_id(im->s, d.tenant_id, &other) != 1)
			sp_strlcpy(other.slug, "?", sizeof(other.slug));
		imp_error(im, "mac", "device %s belongs to tenant '%s', not '%s'", de->mac, other.slug, im->t->slug);
		return;
	}
	if (!exists) {
		memset(&d, 0, sizeof(d));
		sp_strlcpy(d.mac, de->mac, sizeof(d.mac));
		d.tenant_id = im->t->id;
		sp_strlcpy(d.status, "active", sizeof(d.status));
		sp_strlcpy(d.overrides, "{}", sizeof(d.overrides));
	}
	if (im->nov) {
		json_error_t je;
		ov = json_loads(d.overrides[0] ? d.overrides : "{}", 0, &je);
		if (!json_is_object(ov)) {
			json_decref(ov);
			ov = json_object();
		}
		bool ovok = true;       /* judged apart from the device columns: report both */
		for (size_t k = 0; k < im->nov; k++) {
			const char *v = f[im->ov_col[k]];
			if (!v[0]) {
				json_object_del(ov, im->ov_key[k]);
			} else if (strlen(v) >= SP_FIELD_MAX || !sp_text_ok(v)) {
				imp_error(im, im->ov_key[k], "longer than %d bytes, control characters or invalid UTF-8",
					  SP_FIELD_MAX - 1);
				ovok = false;
			} else {
				json_object_set_new(ov, im->ov_key[k], json_string(v));
			}
		}
		const char *fw;
		if (ovok && (validate_settings(ov, im->o->force, err, sizeof(err)) < 0 ||
			     firmware_settings_check(im->s, ov, &fw, err, sizeof(err)) < 0)) {
			imp_error(im, NULL, "device %s overrides: %s", de->mac, err);
			ovok = false;
		}
		ok &= ovok;
		if (ok && !(canon = settings_canonical(ov, err, sizeof(err)))) {
			imp_error(im, NULL, "device %s overrides: %s", de->mac, err);
			ok = false;
		}
		json_decref(ov);
	}
	if (!ok)
		goto out;
	if (exists && strcmp(d.template_name, tmpl))
		d.pinned_version = 0;   /* a pin names a version of the old template */
	sp_strlcpy(d.layout, layout, sizeof(d.layout));
	sp_strlcpy(d.model, cell(im, f, C_MODEL), sizeof(d.model));
	sp_strlcpy(d.label, cell(im, f, C_LABEL), sizeof(d.label));
	sp_strlcpy(d.template_name, tmpl, sizeof(d.template_name));
	if (canon)
		sp_strlcpy(d.overrides, canon, sizeof(d.overrides));
	if (exists) {
		if (store_device_update(im->s, &d, err, sizeof(err)) < 0) {
			imp_error(im, "mac", "%s", err);
			goto out;
		}
		im->r->devices_updated++;
	} else {
		if (store_device_add(im->s, &d, err, sizeof(err)) < 0) {
			imp_error(im, "mac", "%s", err);
			goto out;
		}
		im->r->devices_new++;
		de->fresh = true;
	}
	de->id = d.id;
out:
	free(canon);
}

static void imp_account(struct imp *im, struct dev_entry *de, char **f)
{
	struct account a, old;
	long line;
	char err[SP_ERR_MAX];
	const char *pw = cell(im, f, C_PASS), *tok = cell(im, f, C_TOKEN);
	int have = 0;
	bool ok = true;

	if (sp_parse_int(cell(im, f, C_LINE), 1, SP_MAX_LINES, &line) < 0) {
		imp_error(im, "line", "'%s' is not a line number from 1 to %d", cell(im, f, C_LINE), SP_MAX_LINES);
		return;
	}
	if (de->line_row[line]) {
		imp_error(im, "line", "line %ld of device %s is already given on row %ld", line, de->mac,
			  (long)de->line_row[line]);
		return;
	}
	de->line_row[line] = (int32_t)im->row;
	ok &= text_field(im, f, C_DISPLAY, SP_NAME_MAX);
	ok &= text_field(im, f, C_EXT, 64);
	ok &= text_field(im, f, C_USER, SP_NAME_MAX);
	ok &= text_field(im, f, C_AUTH, SP_NAME_MAX);
	if (strlen(pw) >= SP_NAME_MAX) {
		imp_error(im, "password", "longer than %d bytes", SP_NAME_MAX - 1);
		ok = false;
	}
	if (!ok)
		return;
	memset(&a, 0, sizeof(a));
	if (de->id && !de->fresh && (have = store_account_get_line(im->s, de->id, line, &old)) < 0) {
		imp_error(im, "line", "cannot read line %ld: %s", line, store_errmsg(im->s));
		return;
	}
	if (have)
		a = old;
	a.device_id = de->id;
	a.line = line;
	sp_strlcpy(a.display_name, cell(im, f, C_DISPLAY), sizeof(a.display_name));
	sp_strlcpy(a.extension, cell(im, f, C_EXT), sizeof(a.extension));
	sp_strlcpy(a.username, cell(im, f, C_USER), sizeof(a.username));
	sp_strlcpy(a.auth_username, cell(im, f, C_AUTH), sizeof(a.auth_username));
	if (!pw[0] && !have) {
		imp_error(im, "password", "empty password for new line %ld of %s (only an existing account keeps "
			  "its password when the cell is empty, as in an export without --show-secrets)", line, de->mac);
		return;
	}
	/* validate_account judges the plaintext: the file's, or the kept one. */
	if (pw[0]) {
		sp_strlcpy(a.password, pw, sizeof(a.password));
	} else if (im->o->key) {
		char *p = secret_decrypt(im->o->key, a.password_enc);
		if (!p) {
			imp_error(im, "password", "the existing password of line %ld does not decrypt (wrong key file?)", line);
			return;
		}
		sp_strlcpy(a.password, p, sizeof(a.password));
		secret_wipe(p, strlen(p));
		free(p);
	}
	if (validate_account(im->s, im->t, de->mac, &a, err, sizeof(err)) < 0) {
		imp_error(im, NULL, "%s", err);
		ok = false;
	}
	secret_wipe(a.password, sizeof(a.password));
	if (!ok || !de->id)
		return;
	if (pw[0]) {
		char *enc = im->o->key ? secret_encrypt(im->o->key, pw) : NULL;
		if (!enc || strlen(enc) >= sizeof(a.password_enc)) {
			free(enc);
			imp_error(im, "password", "cannot encrypt (no key file?)");
			return;
		}
		sp_strlcpy(a.password_enc, enc, sizeof(a.password_enc));
		free(enc);
	}
	if (tok[0]) {
		/* A softphone URL token carried over by an export with secrets:
		 * the phones keep their provisioning URL. */
		struct account other;
		size_t tl = strspn(tok, "0123456789abcdef");
		if (tl != SP_TOKEN_HEX || tok[tl]) {
			imp_error(im, "token", "not %d lowercase hex digits", SP_TOKEN_HEX);
			return;
		}
		int rc = store_account_get_token(im->s, tok, &other);
		if (rc < 0) {
			imp_error(im, "token", "cannot look the token up (no key file?)");
			return;
		}
		if (rc == 1 && other.id != a.id) {
			imp_error(im, "token", "token already belongs to another account");
			return;
		}
		/* The same token again keeps its revocation; a new one starts valid. */
		a.token_revoked = have && !strcmp(old.token, tok) ? old.token_revoked : false;
		sp_strlcpy(a.token, tok, sizeof(a.token));
	} else if (!a.token[0] && de->layout && layout_uses_token(de->layout) &&
		   random_hex(a.token, SP_TOKEN_HEX / 2) < 0) {
		imp_error(im, NULL, "cannot generate a token");
		return;
	}
	if (have ? store_account_update(im->s, &a, err, sizeof(err)) : store_account_add(im->s, &a, err, sizeof(err))) {
		imp_error(im, "line", "%s", err);
		return;
	}
	if (have)
		im->r->accounts_updated++;
	else
		im->r->accounts_new++;
}

static void imp_row(struct imp *im, char **f)
{
	char mac[SP_MAC_LEN + 1];
	struct dev_entry *de;
	const char *acct_cols[] = { cell(im, f, C_LINE), cell(im, f, C_DISPLAY), cell(im, f, C_EXT),
				    cell(im, f, C_USER), cell(im, f, C_AUTH), cell(im, f, C_PASS),
				    cell(im, f, C_TOKEN) };
	bool device_only = true;

	if (mac_normalize(cell(im, f, C_MAC), mac) < 0) {
		imp_error(im, "mac", "'%s' is not a MAC address (12 hex digits, ':' or '-' allowed)", cell(im, f, C_MAC));
		return;
	}
	de = dev_find(im, mac, false);
	if (de) {
		imp_same_device(im, de, f);
	} else {
		struct buf key;
		de = dev_find(im, mac, true);
		de->first_row = im->row;
		buf_init(&key, CSV_RECORD_MAX + 64);
		devkey_build(im, f, &key);
		de->devkey = buf_detach(&key, NULL);
		imp_device(im, de, f);
	}
	for (size_t i = 0; i < sizeof(acct_cols) / sizeof(acct_cols[0]); i++)
		if (acct_cols[i][0])
			device_only = false;
	if (!device_only)
		imp_account(im, de, f);
}

/* After every row: each touched device's whole effective config, its
 * rows read in one round trip (the tenant and template from the memo). */
static void imp_effective(struct imp *im)
{
	struct effective e;
	char err[SP_ERR_MAX];
	for (size_t i = 0; i < im->cap; i++) {
		struct dev_entry *de = im->slots[i];
		if (!de || !de->id)
			continue;
		im->row = de->first_row;
		im->line = 0;
		if (store_read_ahead(im->s, de->mac) < 0) {
			imp_error(im, "mac", "cannot read device %s: %s", de->mac, store_errmsg(im->s));
			continue;
		}
		int rc = effective_load(im->s, im->o->key, de->mac, &e, err, sizeof(err));
		if (rc == 0) {
			imp_error(im, "mac", "device %s vanished", de->mac);
			continue;
		}
		if (rc < 0) {
			imp_error(im, NULL, "%s", err);
			continue;
		}
		if (validate_effective(&e, err, sizeof(err)) < 0)
			imp_error(im, NULL, "device %s: %s", de->mac, err);
		effective_release(&e);
	}
}

static int by_first_row(const void *a, const void *b)
{
	const struct dev_entry *x = *(const struct dev_entry *const *)a, *y = *(const struct dev_entry *const *)b;
	return (x->first_row > y->first_row) - (x->first_row < y->first_row);
}

/* Inside the transaction, in file order: new credentials when asked, and
 * each device to on_device.  The number of credentials, or -1 with err. */
static long imp_devices(struct imp *im, char *err, size_t errlen)
{
	struct dev_entry **all = xcalloc(im->ndev ? im->ndev : 1, sizeof(*all));
	size_t n = 0;
	long made = 0;
	for (size_t i = 0; i < im->cap; i++)
		if (im->slots[i] && im->slots[i]->id)
			all[n++] = im->slots[i];
	qsort(all, n, sizeof(*all), by_first_row);
	for (size_t i = 0; i < n; i++) {
		struct device d;
		char pass[33] = "", why[SP_ERR_MAX];
		if (im->o->generate_credentials) {
			if (store_device_get_id(im->s, all[i]->id, &d) != 1 ||
			    device_credentials_make(&d, pass, why, sizeof(why)) < 0 ||
			    store_device_update(im->s, &d, why, sizeof(why)) < 0) {
				secret_wipe(&d, sizeof(d));
				secret_wipe(pass, sizeof(pass));
				free(all);
				return sp_err(err, errlen, "device %s: cannot set HTTP credentials", all[i]->mac);
			}
			secret_wipe(&d, sizeof(d));
			made++;
		}
		if (im->o->on_device)
			im->o->on_device(all[i]->mac, pass[0] ? pass : NULL, im->o->arg);
		secret_wipe(pass, sizeof(pass));
	}
	free(all);
	return made;
}

int bulk_import(struct store *s, const struct tenant *t, FILE *f, const struct bulk_import_opts *o,
		struct bulk_import_result *r, char *err, size_t errlen)
{
	struct imp im = { .s = s, .t = t, .o = o, .r = r };
	struct csv *c = csv_new_file(f);
	char **fl, cerr[SP_ERR_MAX];
	size_t n;
	int rc, ret = -1;
	bool in_tx = false;
	size_t max = o->max_errors ? o->max_errors : 1000;

	memset(r, 0, sizeof(*r));
	im.tv = xmalloc(sizeof(*im.tv));
	rc = csv_read(c, &fl, &n, cerr, sizeof(cerr));
	if (rc <= 0) {
		im.row = 0;
		im.line = 1;
		imp_error(&im, NULL, "%s", rc == 0 ? "empty file: expected a header row" : cerr);
		ret = 1;
		goto out;
	}
	im.line = 1;
	if (imp_header(&im, fl, n) < 0) {
		ret = 1;
		goto out;
	}
	csv_expect_columns(c, n);
	store_bulk_cache(s);
	if (store_begin(s) < 0) {
		sp_err(err, errlen, "cannot start a transaction: %s", store_errmsg(s));
		goto out;
	}
	in_tx = true;
	/* Writers hold the one writer lock (BEGIN IMMEDIATE) and the import writes
	 * no tenant or template: their rows cannot change until the commit,
	 * so the render memo answers them after the first read. */
	store_memo_begin(s, store_config_gen(s));
	while ((rc = csv_read(c, &fl, &n, cerr, sizeof(cerr))) != 0) {
		im.row = csv_record(c) - 1;
		im.line = csv_line(c);
		r->rows++;
		if (rc < 0) {
			/* "record R (line L), column C: ..." -> our row numbering. */
			const char *p = strstr(cerr, "), ");
			imp_error(&im, NULL, "%s", p ? p + 3 : cerr);
		} else {
			imp_row(&im, fl);
		}
		if (o->progress && (r->rows & 4095) == 0)
			o->progress(csv_offset(c), o->arg);
	}
	if (ferror(f)) {
		sp_err(err, errlen, "read error");
		goto out;
	}
	if (o->progress)
		o->progress(csv_offset(c), o->arg);
	if (r->rows == 0) {
		im.row = 0;
		imp_error(&im, NULL, "no rows after the header");
	}
	if (!r->errors)
		imp_effective(&im);
	if (r->errors) {
		if ((size_t)r->errors > max && o->on_error) {
			char m[96];
			snprintf(m, sizeof(m), "... and %ld more errors", r->errors - (long)max);
			o->on_error(m, o->arg);
		}
		ret = 1;
		goto out;
	}
	if (o->dry_run) {
		ret = 0;
		goto out;
	}
	char detail[256];
	long made = 0;
	if ((o->generate_credentials || o->on_device) && (made = imp_devices(&im, err, errlen)) < 0)
		goto out;
	snprintf(detail, sizeof(detail), "rows=%ld devices_new=%ld devices_updated=%ld accounts_new=%ld "
		 "accounts_updated=%ld%s", r->rows, r->devices_new, r->devices_updated, r->accounts_new,
		 r->accounts_updated, made ? " credentials=generated" : "");
	if (o->before_commit && o->before_commit(s, o->arg, err, errlen) != 0)
		goto out;
	if (store_audit(s, o->actor ? o->actor : "cli", "import", t->slug, NULL, NULL, detail) < 0 ||
	    store_commit(s) < 0) {
		sp_err(err, errlen, "cannot commit: %s", store_errmsg(s));
		goto out;
	}
	in_tx = false;
	ret = 0;
out:
	if (in_tx)
		store_rollback(s);
	/* Forget the memo: after a rollback its generation number is the
	 * next writer's, with other rows. */
	store_memo_begin(s, -1);
	dev_table_free(&im);
	free(im.tv);
	csv_free(c);
	return ret;
}

/* ---- export ---- */

struct exp {
	struct store *s;
	const unsigned char *key;
	FILE *out;
	json_t *keys;                   /* union of override keys */
	const char **kv;
	size_t nk;
	long devices;
	char *err;
	size_t errlen;
	int failed;
};

static int exp_keys(const struct device *d, void *arg)
{
	struct exp *x = arg;
	json_error_t je;
	json_t *o = json_loads(d->overrides[0] ? d->overrides : "{}", 0, &je);
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
		json_object_set_new(x->keys, k, json_true());
	json_decref(o);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int exp_device(const struct device *d, void *arg)
{
	struct exp *x = arg;
	struct account *a = xcalloc(SP_MAX_LINES, sizeof(*a));
	size_t na = 0;
	struct buf b;
	json_error_t je;
	json_t *ov = json_loads(d->overrides[0] ? d->overrides : "{}", 0, &je);

	if (store_account_list(x->s, d->id, a, SP_MAX_LINES, &na) < 0) {
		sp_err(x->err, x->errlen, "cannot read accounts of %s: %s", d->mac, store_errmsg(x->s));
		x->failed = 1;
		goto out;
	}
	buf_init(&b, 1 << 20);
	for (size_t i = 0; i < (na ? na : 1); i++) {
		char line[16] = "", *pw = NULL;
		const struct account *ac = na ? &a[i] : NULL;
		if (ac) {
			snprintf(line, sizeof(line), "%ld", ac->line);
			if (x->key && !(pw = secret_decrypt(x->key, ac->password_enc))) {
				sp_err(x->err, x->errlen, "device %s line %ld: password does not decrypt (wrong key file?)",
				       d->mac, ac->line);
				x->failed = 1;
				buf_release(&b);
				goto out;
			}
		}
		csv_put(&b, d->mac, 1);
		csv_put(&b, d->layout, 0);
		csv_put(&b, d->model, 0);
		csv_put(&b, d->label, 0);
		csv_put(&b, d->template_name, 0);
		csv_put(&b, line, 0);
		csv_put(&b, ac ? ac->display_name : "", 0);
		csv_put(&b, ac ? ac->extension : "", 0);
		csv_put(&b, ac ? ac->username : "", 0);
		csv_put(&b, ac ? ac->auth_username : "", 0);
		csv_put(&b, pw ? pw : "", 0);
		/* Tokens are secrets too; a revoked one is never carried over. */
		csv_put(&b, ac && x->key && !ac->token_revoked ? ac->token : "", 0);
		for (size_t k = 0; k < x->nk; k++) {
			const char *v = json_string_value(json_object_get(ov, x->kv[k]));
			csv_put(&b, v ? v : "", 0);
		}
		buf_add(&b, "\r\n", 2);
		if (pw) {
			secret_wipe(pw, strlen(pw));
			free(pw);
		}
	}
	fwrite(b.data, 1, b.len, x->out);
	secret_wipe(b.data, b.len);
	buf_release(&b);
	x->devices++;
out:
	json_decref(ov);
	secret_wipe(a, SP_MAX_LINES * sizeof(*a));
	free(a);
	return x->failed;
}

long bulk_export(struct store *s, const struct tenant *t, const unsigned char *key, FILE *out,
		 char *err, size_t errlen)
{
	struct exp x = { .s = s, .key = key, .out = out, .err = err, .errlen = errlen };
	const char *k;
	json_t *v;
	struct buf b;
	long ret = -1;

	x.keys = json_object();
	if (store_device_each(s, t->id, exp_keys, &x) < 0) {
		sp_err(err, errlen, "cannot list devices: %s", store_errmsg(s));
		goto out;
	}
	x.kv = xcalloc(json_object_size(x.keys) + 1, sizeof(*x.kv));
	json_object_foreach(x.keys, k, v)
		x.kv[x.nk++] = k;
	qsort(x.kv, x.nk, sizeof(*x.kv), cmp_str);
	buf_init(&b, 1 << 16);
	for (int c = 0; c < C_FIXED; c++)
		csv_put(&b, col_names[c], c == 0);
	for (size_t i = 0; i < x.nk; i++)
		csv_put(&b, x.kv[i], 0);
	buf_add(&b, "\r\n", 2);
	fwrite(b.data, 1, b.len, out);
	buf_release(&b);
	if (store_device_each(s, t->id, exp_device, &x) < 0 && !x.failed)
		sp_err(err, errlen, "cannot list devices: %s", store_errmsg(s));
	else if (!x.failed)
		ret = x.devices;
	if (fflush(out) != 0 || ferror(out))
		ret = sp_err(err, errlen, "write error");
out:
	free(x.kv);
	json_decref(x.keys);
	return ret;
}

