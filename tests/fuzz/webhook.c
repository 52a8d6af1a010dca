/*
 * fuzz/webhook.c: the POST /api/v1/registrations body (JSON) through
 * drift_webhook on a real in-memory store seeded with one device, as
 * sipprovd runs it.  Bad input must fail with a reason, never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *seeded(void)
{
	char err[SP_ERR_MAX];
	struct store *s = store_open(":memory:", err, sizeof(err));
	struct tenant t;
	struct device d;
	struct account a;
	if (!s)
		abort();
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.slug, "acme", sizeof(t.slug));
	if (store_tenant_add(s, &t, err, sizeof(err)) < 0 || store_tenant_get(s, "acme", &t) != 1 ||
	    store_tversion_add(s, t.id, "main", "{\"port\":\"5060\",\"registrar\":\"sip.acme.test\","
			       "\"transport\":\"udp\"}", "fuzz", "", NULL, err, sizeof(err)) < 0)
		abort();
	memset(&d, 0, sizeof(d));
	sp_strlcpy(d.mac, "0015654aa937", sizeof(d.mac));
	d.tenant_id = t.id;
	sp_strlcpy(d.layout, "yealink", sizeof(d.layout));
	sp_strlcpy(d.template_name, "main", sizeof(d.template_name));
	memset(&a, 0, sizeof(a));
	a.line = 1;
	sp_strlcpy(a.username, "1001", sizeof(a.username));
	sp_strlcpy(a.auth_username, "k8f2m1x9", sizeof(a.auth_username));
	sp_strlcpy(a.password_enc, "x", sizeof(a.password_enc));
	if (store_device_add(s, &d, err, sizeof(err)) < 0)
		abort();
	a.device_id = d.id;
	if (store_account_add(s, &a, err, sizeof(err)) < 0)
		abort();
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store *s;
	char err[SP_ERR_MAX];
	if (!s)
		s = seeded();
	if (size > 64 * 1024)      /* sipprovd refuses larger bodies before parsing */
		return 0;
	err[0] = '\0';
	if (drift_webhook(s, (const char *)data, size, err, sizeof(err)) < 0 && !err[0])
		abort();
	return 0;
}
