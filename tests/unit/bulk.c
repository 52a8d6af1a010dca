/*
 * bulk.c (unit): import, export and tenant move through the library on a
 * :memory: database built from the real schema: every error reported with
 * its row, nothing written on any error, round trip export -> import, and
 * the move preview's per-field differences.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "ops/ops.h"
#include "core/sipprov.h"

static char errs[8192];
static void on_error(const char *msg, void *arg)
{
	size_t n = strlen(errs);
	snprintf(errs + n, sizeof(errs) - n, "%s\n", msg);
}

static long count(struct store *s, int64_t tenant)
{
	long n = -1;
	store_device_count(s, tenant, &n);
	return n;
}

static int do_import(struct store *s, const struct tenant *t, const struct layouts *ls, const unsigned char *key,
		     const char *csv, struct bulk_import_result *r)
{
	char err[SP_ERR_MAX];
	FILE *f = fmemopen((void *)csv, strlen(csv), "r");
	struct bulk_import_opts o = { .actor = "test", .key = key, .layouts = ls, .on_error = on_error };
	errs[0] = '\0';
	int rc = bulk_import(s, t, f, &o, r, err, sizeof(err));
	fclose(f);
	if (rc < 0)
		printf("# %s\n", err);
	return rc;
}

struct moved { int n; char first[512]; };
static void on_device(const struct device *d, const struct bulk_change *c, size_t n, void *arg)
{
	struct moved *m = arg;
	if (m->n++ == 0) {
		size_t o = 0;
		for (size_t i = 0; i < n; i++)
			o += (size_t)snprintf(m->first + o, sizeof(m->first) - o, "%s:%s>%s ", c[i].key, c[i].before,
					      c[i].after);
	}
}

int main(void)
{
	char err[SP_ERR_MAX];
	unsigned char key[SP_KEY_LEN];
	struct store *s = store_open(":memory:", err, sizeof(err));
	struct layouts *ls = layouts_load("templates", err, sizeof(err));
	struct tenant t = { 0 }, t2 = { 0 };
	struct bulk_import_result r;

	if (!s || !ls) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	memset(key, 7, sizeof(key));
	sp_strlcpy(t.slug, "acme", sizeof(t.slug));
	sp_strlcpy(t.default_template, "main", sizeof(t.default_template));
	store_tenant_add(s, &t, err, sizeof(err));
	store_tenant_get(s, "acme", &t);
	store_tversion_add(s, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"a.test\",\"transport\":\"udp\"}",
			   "test", "", NULL, err, sizeof(err));
	store_tversion_add(s, t.id, "b", "{\"port\":\"5061\",\"registrar\":\"b.test\",\"transport\":\"tls\"}",
			   "test", "", NULL, err, sizeof(err));

	const char *good =
		"mac,layout,model,label,template,line,display_name,extension,username,auth_username,password,vendor.x\r\n"
		"00:15:65:00:00:01,yealink,T46G,\"a, b\",main,1,\"Ann \"\"A\"\"\",101,alice,alice-auth,pw1,1\r\n"
		"001565000001,yealink,T46G,\"a, b\",main,2,Bob,102,bob,bob-auth,pw2,1\r\n"
		"001565000002,yealink,,@boss,,1,=1+2,103,cy,cy-auth,-pw3,\r\n";
	is_int(do_import(s, &t, ls, key, good, &r), 0, "clean import");
	ok(r.rows == 3 && r.devices_new == 2 && r.accounts_new == 3, "3 rows, 2 devices, 3 lines (%ld/%ld/%ld)",
	   r.rows, r.devices_new, r.accounts_new);
	is_int(count(s, t.id), 2, "two devices stored");

	const char *bad =
		"mac,layout,line,username,auth_username,password\n"
		"001565000003,yealink,1,dan,dan-auth,pw\n"
		"nonsense,yealink,1,eve,eve-auth,pw\n"
		"001565000004,yealnk,1,fay,fay-auth,pw\n"
		"001565000005,yealink,17,gus,gus-auth,pw\n"
		"001565000006,yealink,1,hal,alice,pw\n"
		"001565000003,yealink,1,ivy,ivy-auth,pw\n";
	is_int(do_import(s, &t, ls, key, bad, &r), 1, "a file with errors is refused");
	is_int(r.errors, 5, "five errors counted");
	ok(strstr(errs, "row 2 (line 3), column 'mac': 'nonsense' is not a MAC address") != NULL, "bad MAC named");
	ok(strstr(errs, "row 3 (line 4), column 'layout': unknown layout 'yealnk'") != NULL, "bad layout named");
	ok(strstr(errs, "row 4 (line 5), column 'line': '17' is not a line number") != NULL, "bad line named");
	ok(strstr(errs, "row 5 (line 6): ") != NULL && strstr(errs, "alice") != NULL, "auth username = another account's username");
	ok(strstr(errs, "row 6 (line 7), column 'line': line 1 of device 001565000003 is already given on row 1") != NULL,
	   "duplicate (mac, line)");
	is_int(count(s, t.id), 2, "nothing written (the valid row 1 rolled back too)");
	if (r.errors != 5)
		printf("# %s", errs);

	/* Export with secrets, then import into another tenant of a fresh DB. */
	char *buf = NULL;
	size_t blen = 0;
	FILE *out = open_memstream(&buf, &blen);
	is_int(bulk_export(s, &t, key, out, err, sizeof(err)), 2, "export: two devices");
	fclose(out);
	ok(strstr(buf, "mac,layout,model,label,template,line,display_name,extension,username,auth_username,password,token,vendor.x\r\n") == buf,
	   "export header");
	ok(strstr(buf, "001565000001,yealink,T46G,\"a, b\",main,1,\"Ann \"\"A\"\"\",101,alice,alice-auth,pw1,,1\r\n") != NULL,
	   "export row quoted like the input");
	ok(strstr(buf, "001565000002,yealink,,'@boss,,1,'=1+2,103,cy,cy-auth,'-pw3,") != NULL,
	   "formula cells exported with a leading quote (label, display name, password)");
	struct store *s2 = store_open(":memory:", err, sizeof(err));
	store_tenant_add(s2, &t, err, sizeof(err));
	store_tenant_get(s2, "acme", &t2);
	store_tversion_add(s2, t2.id, "main", "{\"port\":\"5060\",\"registrar\":\"a.test\",\"transport\":\"udp\"}",
			   "test", "", NULL, err, sizeof(err));
	FILE *in2 = fmemopen(buf, blen, "r");
	struct bulk_import_opts o = { .actor = "test", .key = key, .layouts = ls, .on_error = on_error };
	errs[0] = '\0';
	is_int(bulk_import(s2, &t2, in2, &o, &r, err, sizeof(err)), 0, "export imports into an empty tenant");
	fclose(in2);
	char *buf2 = NULL;
	size_t blen2 = 0;
	out = open_memstream(&buf2, &blen2);
	bulk_export(s2, &t2, key, out, err, sizeof(err));
	fclose(out);
	is_str(buf2, buf, "second export is identical");
	free(buf);
	free(buf2);
	store_close(s2);

	/* Tenant move preview. */
	struct moved m = { 0 };
	struct bulk_move_result *mr = xcalloc(1, sizeof(*mr));
	struct bulk_move_opts mo = { .dry_run = true, .on_device = on_device, .arg = &m };
	is_int(bulk_move(s, &t, "b", &mo, mr, err, sizeof(err)), 0, "move preview");
	is_int(mr->devices, 2, "two devices previewed");
	is_int(mr->changing, 2, "both change");
	is_str(m.first, "template:main>b version:1>1 port:5060>5061 registrar:a.test>b.test transport:udp>tls ",
	       "per-field differences of the first device");
	is_int(bulk_move(s, &t, "nosuch", &mo, mr, err, sizeof(err)), -1, "unknown template refused");
	mo.dry_run = false;
	mo.on_device = NULL;
	is_int(bulk_move(s, &t, "b", &mo, mr, err, sizeof(err)), 0, "real move");
	struct device d;
	store_device_get(s, "001565000002", &d);
	is_str(d.template_name, "b", "device switched to b");
	free(mr);

	layouts_free(ls);
	store_close(s);
	return tap_done();
}
