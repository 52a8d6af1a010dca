/*
 * tests/unit/user.c: console users as values and rows: scrypt hashes
 * (salted, verified, malformed or inflated stored values refused), the
 * password rule, session and CSRF tokens, and store_user.c on a :memory:
 * database from the real schema (sessions expire, passwd and rm end them).
 */
#include <string.h>

#include "tap.h"
#include "core/sipprov.h"

int main(void)
{
	char h1[SP_PW_HASH_MAX], h2[SP_PW_HASH_MAX], err[SP_ERR_MAX];
	ok(user_password_hash("correct horse battery", h1) == 0, "hash: %s", h1);
	ok(user_password_hash("correct horse battery", h2) == 0 && strcmp(h1, h2), "a second hash differs (salt)");
	ok(user_password_ok("correct horse battery", h1), "the password verifies");
	ok(user_password_ok("correct horse battery", h2), "against either hash");
	ok(!user_password_ok("correct horse batterz", h1), "a wrong password does not");
	ok(!user_password_ok("", h1), "nor an empty one");
	/* Stored values a damaged or hostile database could hold. */
	static const char *const bad[] = {
		"", "scrypt$", "plain", "scrypt$32768$8$1$00$00",
		"scrypt$33000$8$1$00000000000000000000000000000000$"
		"0000000000000000000000000000000000000000000000000000000000000000",   /* N not a power of two */
		"scrypt$1073741824$8$1$00000000000000000000000000000000$"
		"0000000000000000000000000000000000000000000000000000000000000000",   /* N would take 128 GiB */
		"scrypt$32768$8$1$00000000000000000000000000000000$"
		"0000000000000000000000000000000000000000000000000000000000000000x",  /* trailing bytes */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ok(!user_password_ok("correct horse battery", bad[i]), "malformed stored value %zu refused", i);
	char h3[SP_PW_HASH_MAX];
	memcpy(h3, h1, sizeof(h3));
	h3[strlen(h3) - 1] ^= 1;
	ok(!user_password_ok("correct horse battery", h3), "one changed bit in the stored hash: refused");

	ok(user_password_valid("0123456789", err, sizeof(err)), "10 bytes is enough");
	ok(!user_password_valid("012345678", err, sizeof(err)) && strstr(err, "10 to 255"), "9 is not: %s", err);
	ok(!user_password_valid("0123456789\t", err, sizeof(err)) && strstr(err, "control"), "no control bytes: %s", err);

	unsigned char key[SP_KEY_LEN] = { 1 };
	char sid[SP_SESSION_LEN + 1], sid2[SP_SESSION_LEN + 1], sh[65], csrf[65];
	ok(user_session_new(sid) == 0 && strlen(sid) == SP_SESSION_LEN, "session id: 64 hex");
	ok(user_session_new(sid2) == 0 && strcmp(sid, sid2), "two session ids differ");
	user_session_hash(key, sid, sh);
	user_csrf_token(key, sid, csrf);
	ok(strcmp(sh, csrf) && strcmp(sh, sid), "stored hash, CSRF token and id are three different values");

	struct store *s = store_open(":memory:", err, sizeof(err));
	struct console_user u = { .tenant_id = 0 }, got;
	ok(s != NULL, "store: %s", s ? "open" : err);
	sp_strlcpy(u.name, "alice", sizeof(u.name));
	sp_strlcpy(u.role, "operator", sizeof(u.role));
	sp_strlcpy(u.pw_hash, h1, sizeof(u.pw_hash));
	ok(store_user_add(s, &u, err, sizeof(err)) == 0, "user added");
	ok(store_user_add(s, &u, err, sizeof(err)) < 0 && !strcmp(err, "user 'alice' exists"), "twice: %s", err);
	ok(store_user_get(s, "alice", &got) == 1 && got.tenant_id == 0,
	   "read back: every tenant");
	is_str(got.role, "operator", "read back: operator");
	ok(store_session_add(s, got.id, sh, 1000, 2000) == 0, "session added");
	ok(store_session_user(s, sh, 1999, &u) == 1 && !strcmp(u.name, "alice"), "the session finds its user");
	ok(store_session_user(s, sh, 2000, &u) == 0, "not at its expiry");
	ok(store_session_user(s, csrf, 1500, &u) == 0, "an unknown hash finds nobody");
	ok(store_user_set_password(s, "alice", h2, 1500) == 1, "password changed");
	ok(store_session_user(s, sh, 1500, &u) == 0, "which ended the session");
	store_session_add(s, got.id, sh, 1000, 2000);
	ok(store_user_rm(s, "alice") == 1 && store_session_user(s, sh, 1500, &u) == 0, "rm ends sessions too");
	is_int(store_user_rm(s, "alice"), 0, "rm of a missing user: 0");
	store_close(s);
	return tap_done();
}
