/*
 * fuzz/import.c: arbitrary bytes as the CSV body of POST /api/v1/import
 * (the JSON form becomes this CSV) through bulk_import on an in-memory
 * store, as a dry run and for real with generated credentials: the
 * importer now reads network input.  Bad input must fail by row, never
 * crash; a refused import must leave no device behind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_device(const char *mac, const char *password, void *arg)
{
	if (!mac || strlen(mac) != SP_MAC_LEN || !password || strlen(password) != 32)
		abort();
	(*(long *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store *s;
	static struct layouts *ls;
	static struct tenant t;
	static unsigned char key[SP_KEY_LEN];
	char err[SP_ERR_MAX];
	if (!s) {
		const char *dir = getenv("SIPPROV_TEMPLATES");
		if (!(ls = layouts_load(dir && *dir ? dir : "templates", err, sizeof(err))) ||
		    !(s = store_open(":memory:", err, sizeof(err))) || store_use_key(s, key, err, sizeof(err)) < 0)
			abort();
		sp_strlcpy(t.slug, "acme", sizeof(t.slug));
		sp_strlcpy(t.device_auth, "digest,token", sizeof(t.device_auth));
		if (store_tenant_add(s, &t, err, sizeof(err)) < 0 || store_tenant_get(s, "acme", &t) != 1 ||
		    store_tversion_add(s, t.id, "main", "{\"registrar\":\"sip.acme.test\"}", "fuzz", "", NULL, err,
				       sizeof(err)) < 0)
			abort();
	}
	for (int dry = 1; dry >= 0; dry--) {
		FILE *f = fmemopen((void *)(size ? data : (const uint8_t *)""), size ? size : 1, "r");
		long devices = 0, before = 0, after = 0;
		struct bulk_import_opts o = { .dry_run = dry, .actor = "fuzz", .key = key, .layouts = ls,
					      .generate_credentials = true, .on_device = on_device, .arg = &devices };
		struct bulk_import_result r;
		if (!f)
			abort();
		store_device_count(s, t.id, &before);
		int rc = bulk_import(s, &t, f, &o, &r, err, sizeof(err));
		fclose(f);
		store_device_count(s, t.id, &after);
		if (rc != 0 ? after != before : dry ? devices != 0 || after != before : devices > r.rows)
			abort();
	}
	return 0;
}
