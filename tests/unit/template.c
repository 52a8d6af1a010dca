/*
 * unit/template.c: template versions on a real store: set creates versions
 * 1..n carrying the SHA-256 of their canonical JSON; versions are immutable
 * (the schema trigger refuses an UPDATE); a rollback is a new version equal
 * to the old one (same SHA-256); pinning makes the effective config use the
 * pinned version; a refused change writes nothing.
 */
#include <string.h>

#include "tap.h"
#include "core/sipprov.h"
#include "support/store_test.h"

static struct store *s;
static struct tenant t;

/* What `template set` does: current settings + key=value, validated,
 * canonical, appended.  Returns the new number, 0 if refused. */
static long set(const char *const *kv, size_t n, bool force, char *err, size_t errlen)
{
	struct tversion cur, nv;
	json_t *o;
	char *canon = NULL;
	long number = 0;
	int have = store_tversion_get(s, t.id, "main", 0, &cur);
	o = json_loads(have == 1 ? cur.settings : "{}", 0, NULL);
	for (size_t i = 0; i < n; i++)
		if (settings_apply_kv(o, kv[i], err, errlen) < 0)
			goto out;
	if (validate_settings(o, force, err, errlen) < 0 || !(canon = settings_canonical(o, err, errlen)))
		goto out;
	if (store_tversion_add(s, t.id, "main", canon, "tester", "c", &nv, err, errlen) == 0)
		number = nv.number;
out:
	free(canon);
	json_decref(o);
	return number;
}

static int count_row(const struct tversion *v, void *arg)
{
	(*(long *)arg)++;
	return 0;
}

static long count_versions(void)
{
	long n = 0;
	store_tversion_each(s, t.id, "main", count_row, &n);
	return n;
}

int main(void)
{
	char err[SP_ERR_MAX], sha[65];
	struct tversion v1, v2, v3, v4, got;
	struct device d;
	struct effective e;

	s = store_open(":memory:", err, sizeof(err));
	if (!ok(s != NULL, "store opens"))
		return tap_done();
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.slug, "acme", sizeof(t.slug));
	sp_strlcpy(t.default_template, "main", sizeof(t.default_template));
	store_tenant_add(s, &t, err, sizeof(err));
	is_int(store_tenant_get(s, "acme", &t), 1, "tenant stored");

	const char *kv1[] = { "transport=udp", "server=sip.example.com", "port=5060" };
	const char *kv2[] = { "transport=tls", "port=5061" };
	const char *kv3[] = { "expires=600", "server=" };
	is_int(set(kv1, 3, false, err, sizeof(err)), 1, "first set is v1");
	is_int(set(kv2, 2, false, err, sizeof(err)), 2, "second set is v2");
	is_int(set(kv3, 2, false, err, sizeof(err)), 3, "third set is v3");
	store_tversion_get(s, t.id, "main", 1, &v1);
	store_tversion_get(s, t.id, "main", 2, &v2);
	store_tversion_get(s, t.id, "main", 3, &v3);
	is_str(v1.settings, "{\"port\":\"5060\",\"server\":\"sip.example.com\",\"transport\":\"udp\"}",
	       "v1 is canonical JSON (sorted, compact)");
	is_str(v2.settings, "{\"port\":\"5061\",\"server\":\"sip.example.com\",\"transport\":\"tls\"}",
	       "v2 starts from v1 and applies the change");
	is_str(v3.settings, "{\"expires\":\"600\",\"port\":\"5061\",\"transport\":\"tls\"}",
	       "v3: an empty value deletes the key");
	sha256_hex(v1.settings, strlen(v1.settings), sha);
	is_str(v1.sha256, sha, "v1 carries the SHA-256 of its canonical JSON");
	sha256_hex(v3.settings, strlen(v3.settings), sha);
	is_str(v3.sha256, sha, "v3 carries the SHA-256 of its canonical JSON");
	is_str(v2.author, "tester", "version records its author");
	ok(v2.created > 0, "version records its time");
	is_int(store_tversion_get(s, t.id, "main", 0, &got), 1, "current version found");
	is_int(got.number, 3, "current is v3");

	/* Immutability: the trigger refuses rewriting a version. */
	is_int(store_tversion_tamper(s, v1.id, "{\"port\":\"1\"}", err, sizeof(err)), -1,
	       "UPDATE of a template version fails");
	ok(strstr(err, "template versions are immutable") != NULL, "refused by the immutability trigger: %s", err);
	store_tversion_get(s, t.id, "main", 1, &got);
	is_str(got.settings, v1.settings, "v1 unchanged after the attempt");

	/* A refused change writes nothing. */
	const char *bad[] = { "port=5060" };    /* tls on 5060 */
	long before = count_versions();
	is_int(set(bad, 1, false, err, sizeof(err)), 0, "tls on 5060 refused without force");
	ok(strstr(err, "contradict") != NULL, "error names the contradiction: %s", err);
	is_int(count_versions(), before, "no version written");
	const char *badport[] = { "port=70000" };
	is_int(set(badport, 1, true, err, sizeof(err)), 0, "port 70000 refused even with force");
	is_int(count_versions(), before, "still no version written");

	/* Rollback: a new version equal to v1. */
	is_int(store_tversion_add(s, t.id, "main", v1.settings, "tester", "rollback to v1", &v4, err, sizeof(err)), 0,
	       "rollback writes a version");
	is_int(v4.number, 4, "rollback is v4, not a rewrite of v1");
	is_str(v4.sha256, v1.sha256, "v4 has v1's SHA-256");
	is_str(v4.settings, v1.settings, "v4 has v1's settings");
	is_str(v4.comment, "rollback to v1", "rollback comment");

	/* Pin: the effective config uses the pinned version. */
	memset(&d, 0, sizeof(d));
	sp_strlcpy(d.mac, "0015654aa937", sizeof(d.mac));
	d.tenant_id = t.id;
	sp_strlcpy(d.layout, "json", sizeof(d.layout));
	store_device_add(s, &d, err, sizeof(err));
	is_int(effective_load(s, NULL, d.mac, &e, err, sizeof(err)), 1, "effective config loads");
	is_int(e.version, 4, "unpinned device gets the current version");
	is_str(e.version_label, "acme-main@v4", "version label");
	effective_release(&e);
	d.pinned_version = 2;
	is_int(store_device_update(s, &d, err, sizeof(err)), 0, "pin to v2");
	is_int(effective_load(s, NULL, d.mac, &e, err, sizeof(err)), 1, "effective config loads pinned");
	is_int(e.version, 2, "pinned device gets v2");
	is_int(e.current_version, 4, "and knows the current is v4");
	is_str(effective_get(&e, "transport"), "tls", "settings come from v2");
	is_int(validate_effective(&e, err, sizeof(err)), 0, "pinned effective config validates");
	effective_release(&e);
	d.pinned_version = 0;
	store_device_update(s, &d, err, sizeof(err));
	effective_load(s, NULL, d.mac, &e, err, sizeof(err));
	is_int(e.version, 4, "unpinned again: current");
	is_str(effective_get(&e, "transport"), "udp", "settings come from v4 (= v1)");
	effective_release(&e);

	store_close(s);
	validate_cleanup();
	return tap_done();
}
