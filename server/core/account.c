/*
 * account.c: the SIP-line rules `sipprov account` and the admin API share:
 * merging given fields, the audited add / set / remove (validate_account,
 * password sealed with the key) and token rotate / revoke.  It prints
 * nothing and never logs a secret: messages come back in err.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipprov.h"

/* No plaintext: the encrypted password and the token's keyed hash are
 * included so a change shows (an unkeyed hash of the token would be a
 * token check). */
void account_digest(const struct account *a, char out[65])
{
	struct buf b;
	buf_init(&b, 4096);
	buf_printf(&b, "%ld\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%d", a->line, a->display_name, a->extension,
		   a->username, a->auth_username, a->password_enc, a->token_hash, a->token_revoked);
	sha256_hex(b.data ? b.data : "", b.len, out);
	buf_release(&b);
}

void account_merge(struct account *a, const struct account_change *ch)
{
	/* Oversize values stay unterminated for validate_account to report. */
	if (ch->username)
		validate_copy(a->username, sizeof(a->username), ch->username);
	if (ch->auth_username)
		validate_copy(a->auth_username, sizeof(a->auth_username), ch->auth_username);
	if (ch->display_name)
		validate_copy(a->display_name, sizeof(a->display_name), ch->display_name);
	if (ch->extension)
		validate_copy(a->extension, sizeof(a->extension), ch->extension);
	if (ch->password)
		validate_copy(a->password, sizeof(a->password), ch->password);
}

static void object_of(const struct device *d, long line, char out[64])
{
	char cm[18];
	validate_mac_colons(d->mac, cm);
	snprintf(out, 64, "account %ld on %s", line, cm);
}

int account_write(struct store *s, const unsigned char key[SP_KEY_LEN], const char *actor, const struct device *d,
		  struct account *a, bool add, const char *before, char *err, size_t errlen)
{
	char why[SP_ERR_MAX], after[65], object[64];
	struct tenant t;

	if (store_tenant_get_id(s, d->tenant_id, &t) != 1)
		return sp_err(err, errlen, "device %s: its tenant is missing", d->mac);
	if (store_begin(s) < 0)
		return sp_err(err, errlen, "cannot start a transaction: %s", store_errmsg(s));
	if (validate_account(s, &t, d->mac, a, err, errlen) < 0)
		goto fail;
	if (a->password[0]) {
		char *enc = secret_encrypt(key, a->password);
		if (!enc || strlen(enc) >= sizeof(a->password_enc)) {
			free(enc);
			sp_err(err, errlen, "account %ld on %s: cannot encrypt the password", a->line, d->mac);
			goto fail;
		}
		sp_strlcpy(a->password_enc, enc, sizeof(a->password_enc));
		free(enc);
	}
	if ((add ? store_account_add(s, a, why, sizeof(why)) : store_account_update(s, a, why, sizeof(why))) < 0) {
		sp_err(err, errlen, "account %ld on %s: %s", a->line, d->mac, why);
		goto fail;
	}
	account_digest(a, after);
	object_of(d, a->line, object);
	snprintf(why, sizeof(why), "username=%s auth_username=%s%s", a->username, a->auth_username,
		 a->password[0] ? " password=(changed)" : "");
	if (store_audit(s, actor, add ? "account.add" : "account.set", object, before, after, why) < 0 ||
	    store_commit(s) < 0) {
		sp_err(err, errlen, "cannot commit: %s", store_errmsg(s));
		goto fail;
	}
	return 0;
fail:
	store_rollback(s);
	return -1;
}

int account_remove(struct store *s, const char *actor, const struct device *d, const struct account *a, char *err,
		   size_t errlen)
{
	char before[65], object[64];
	account_digest(a, before);
	object_of(d, a->line, object);
	if (store_begin(s) < 0)
		return sp_err(err, errlen, "cannot start a transaction: %s", store_errmsg(s));
	if (store_account_delete(s, d->id, a->line) != 1 ||
	    store_audit(s, actor, "account.rm", object, before, "", a->username) < 0 || store_commit(s) < 0) {
		sp_err(err, errlen, "%s: cannot delete: %s", object, store_errmsg(s));
		store_rollback(s);
		return -1;
	}
	return 0;
}

int account_token_set(struct store *s, const char *actor, const struct device *d, struct account *a, bool rotate,
		      char *err, size_t errlen)
{
	char before[65], after[65], object[64], why[SP_ERR_MAX];
	struct account stored;
	account_digest(a, before);
	if (rotate) {
		if (random_hex(a->token, 16) < 0)
			return sp_err(err, errlen, "cannot generate a token: random number generator failed");
		a->token_revoked = false;
	} else {
		a->token_revoked = true;
	}
	object_of(d, a->line, object);
	if (store_begin(s) < 0)
		return sp_err(err, errlen, "cannot start a transaction: %s", store_errmsg(s));
	if (store_account_update(s, a, why, sizeof(why)) < 0 ||
	    store_account_get_line(s, d->id, a->line, &stored) != 1 || (account_digest(&stored, after), 0) ||
	    store_audit(s, actor, rotate ? "account.token.rotate" : "account.token.revoke", object, before, after,
			"") < 0 ||
	    store_commit(s) < 0) {
		store_rollback(s);
		secret_wipe(&stored, sizeof(stored));
		return sp_err(err, errlen, "%s: cannot update the token: %s", object, store_errmsg(s));
	}
	secret_wipe(&stored, sizeof(stored));
	return 0;
}
