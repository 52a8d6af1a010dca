/*
 * cmd_apitoken.c: `sipprov api-token add|list|revoke`: bearer tokens for
 * the admin API.  The token is printed once, at `add`; only its keyed hash
 * is stored (apitoken.c), so a lost token is revoked and replaced, never
 * shown again.  What a token may do is decided by sipprovd (daemon/api.c).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_add[] = "api-token add NAME [--tenant T] [--role admin|operator|read-only]";

static json_t *token_json(const struct api_token *t)
{
	return json_pack("{s:s, s:s?, s:s, s:I, s:b}", "name", t->name,
			 "tenant", t->tenant_id ? t->tenant : NULL, "role", t->role, "created", (json_int_t)t->created,
			 "revoked", t->revoked != 0);
}

static int token_add(struct cli *c, int argc, char **argv)
{
	const char *tenant = NULL, *role = "admin";
	char *pos[2], err[SP_ERR_MAX], token[SP_API_TOKEN_LEN + 1];
	int npos, rc;
	struct api_token t;
	struct tenant tn;
	struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &tenant, 0, 0 },
		{ "--role", OPT_STR, &role, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	if ((rc = cli_parse(argc, argv, opts, pos, 2, &npos, usage_add)))
		return rc;
	if (npos != 1)
		return cli_usage(usage_add);
	memset(&t, 0, sizeof(t));
	if (strlen(pos[0]) >= sizeof(t.name) || !validate_slug(pos[0]))
		return cli_fail("api token name '%.64s' is not valid: use 1 to 63 of a-z, 0-9 and '-'", pos[0]);
	if (!api_role_ok(role))
		return cli_fail("api token %s: role '%s' is not one of admin, operator, read-only", pos[0], role);
	if ((rc = cli_open_key(c)))
		return rc;
	if (tenant) {
		if ((rc = cli_tenant(c, tenant, &tn)))
			return rc;
		t.tenant_id = tn.id;
	}
	sp_strlcpy(t.name, pos[0], sizeof(t.name));
	sp_strlcpy(t.role, role, sizeof(t.role));
	if (api_token_new(token) < 0)
		return cli_fail("random number generator failed");
	api_token_hash(c->key, token, t.token_hash);
	if (store_begin(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	if (store_api_token_add(c->store, &t, err, sizeof(err)) < 0 ||
	    store_audit(c->store, c->actor, "api-token add", t.name, "", "", role) < 0) {
		store_rollback(c->store);
		secret_wipe(token, sizeof(token));
		return cli_fail("%s", err);
	}
	if (store_commit(c->store) < 0) {
		secret_wipe(token, sizeof(token));
		return cli_fail("%s", store_errmsg(c->store));
	}
	if (c->json) {
		json_t *o = json_pack("{s:s, s:s?, s:s, s:s}", "name", t.name, "tenant", tenant, "role", role,
				      "token", token);
		cli_json_out(o);
	} else {
		printf("%s\n", token);
		fprintf(stderr, "api token %s (%s%s%s): shown once, store it now\n", t.name, role,
			tenant ? ", tenant " : "", tenant ? tenant : "");
	}
	secret_wipe(token, sizeof(token));
	return 0;
}

struct list_ctx {
	json_t *arr;
};

static int list_one(const struct api_token *t, void *arg)
{
	struct list_ctx *lc = arg;
	if (lc->arr)
		json_array_append_new(lc->arr, token_json(t));
	else
		printf("%-24s %-10s %-20s %s\n", t->name, t->role, t->tenant_id ? t->tenant : "*",
		       t->revoked ? "revoked" : "active");
	return 0;
}

static int token_list(struct cli *c, int argc, char **argv)
{
	struct list_ctx lc = { c->json ? json_array() : NULL };
	if (argc)
		return cli_usage("api-token list [--json]");
	if (store_api_token_each(c->store, list_one, &lc) < 0) {
		json_decref(lc.arr);
		return cli_fail("%s", store_errmsg(c->store));
	}
	if (lc.arr)
		cli_json_out(lc.arr);
	return 0;
}

static int token_revoke(struct cli *c, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage("api-token revoke NAME");
	if (store_begin(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	int rc = store_api_token_revoke(c->store, argv[0], sp_now());
	if (rc == 1 && store_audit(c->store, c->actor, "api-token revoke", argv[0], "", "", "") < 0)
		rc = -1;
	if (rc != 1) {
		store_rollback(c->store);
		if (rc == 0)
			return cli_fail("no api token '%s' in force (see 'sipprov api-token list')", argv[0]);
		return cli_fail("%s", store_errmsg(c->store));
	}
	if (store_commit(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	printf("api token %s revoked\n", argv[0]);
	return 0;
}

int cmd_api_token(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", token_add }, { "list", token_list }, { "revoke", token_revoke }, { NULL, NULL },
	};
	return cli_dispatch(c, "api-token", subs, argc, argv);
}
