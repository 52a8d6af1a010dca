/*
 * pg_sql.c: SQLite-dialect SQL rewritten for PostgreSQL (issue 17), once
 * per statement (db_pg.c keeps the result with the statement).  The text is
 * cut into tokens first, so nothing inside a string literal, a quoted
 * identifier or a comment is ever rewritten; then each statement of the
 * text goes through the rules below, or is replaced whole by its entry in
 * the override table.
 *
 * The generic rules (each with its reason):
 * - ?N -> $N; a bare ? -> $(largest so far + 1), as SQLite numbers it.
 * - IS ?N -> IS NOT DISTINCT FROM $N, IS NOT ?N -> IS DISTINCT FROM $N:
 *   SQLite's IS compares NULLs as equal; PostgreSQL's IS takes only
 *   NULL/TRUE/FALSE/UNKNOWN.
 * - == -> =.
 * - INSERT OR IGNORE INTO ... -> INSERT INTO ... ON CONFLICT DO NOTHING.
 * - max(a, b, ...) / min(a, b, ...) with two or more arguments (SQLite's
 *   scalar forms) -> greatest / least; one argument stays the aggregate.
 * - sum(<a comparison>) -> sum((...)::int): SQLite's comparisons are the
 *   integers 0/1, PostgreSQL's are boolean and sum(boolean) does not exist.
 * - ifnull -> coalesce; instr(a, b) -> strpos(a, b) (same argument order).
 * - LIKE -> ILIKE: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
 * - a subquery in FROM / JOIN without an alias gets one (AS sp_subN):
 *   PostgreSQL 15 requires it.
 * - INDEXED BY name / NOT INDEXED are dropped: PostgreSQL has no index hints.
 * - LIMIT -1 -> LIMIT ALL.
 * - CAST(x AS INTEGER) -> CAST(x AS BIGINT): SQLite's INTEGER is 64-bit.
 * - BEGIN IMMEDIATE / EXCLUSIVE -> BEGIN + pg_advisory_xact_lock(
 *   SP_PG_LOCK_WRITE): IMMEDIATE takes the one writer lock at BEGIN; on
 *   PostgreSQL that lock is an advisory transaction lock every node shares.
 *   BEGIN [DEFERRED] -> BEGIN.
 * - An INSERT into a table with an identity id (has_id) gets RETURNING id,
 *   which db_pg.c reads for db_last_id and hides from the caller; an
 *   upsert (ON CONFLICT DO UPDATE) RETURNING id, xmax = 0, true only for
 *   the rows it inserted: SQLite's last_insert_rowid ignores an upsert's
 *   update.
 *
 * Refused, by name (the statement needs an override): GLOB, INSERT OR
 * REPLACE / REPLACE INTO / other OR conflict clauses, group_concat,
 * strftime, date/time/datetime/julianday, typeof, rowid, json_* functions,
 * sqlite_master / sqlite_schema, printf, total, PRAGMA, ATTACH, VACUUM.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg_sql.h"
#include "sipprov.h"

/* SQLite text (exactly as the store writes it) -> PostgreSQL text.  The
 * PostgreSQL text may use ?N; it goes through the parameter rules only. */
static const struct {
	const char *sqlite, *pg;
} overrides[] = {
	/* store_firmware_refs: json_each over a TEXT column; SQLite's j.type
	 * 'text' is json_typeof 'string', its j.value the unquoted string. */
	{ "SELECT 'template ' || tn.slug || '/' || t.name || ' v' || v.number || ' (' || j.key || ')' "
	  "FROM template t JOIN tenant tn ON tn.id = t.tenant_id "
	  "JOIN template_version v ON v.template_id = t.id, json_each(v.settings) j "
	  "WHERE lower(j.key) = lower('firmware.' || ?1) AND j.type = 'text' AND j.value = ?2 "
	  "AND (v.number = t.current OR EXISTS (SELECT 1 FROM device d WHERE d.tenant_id = t.tenant_id "
	  "AND d.pinned_version = v.number AND (d.template = t.name OR (d.template = '' AND "
	  "tn.default_template = t.name)))) "
	  "UNION ALL SELECT 'tenant ' || tn.slug || ' (' || j.key || ')' FROM tenant tn, json_each(tn.defaults) j "
	  "WHERE lower(j.key) = lower('firmware.' || ?1) AND j.type = 'text' AND j.value = ?2 "
	  "UNION ALL SELECT 'device ' || d.mac || ' (' || j.key || ')' FROM device d, json_each(d.overrides) j "
	  "WHERE lower(j.key) = lower('firmware.' || ?1) AND j.type = 'text' AND j.value = ?2",
	  "SELECT 'template ' || tn.slug || '/' || t.name || ' v' || v.number || ' (' || j.key || ')' "
	  "FROM template t JOIN tenant tn ON tn.id = t.tenant_id "
	  "JOIN template_version v ON v.template_id = t.id, json_each(v.settings::json) j "
	  "WHERE lower(j.key) = lower('firmware.' || ?1::text) AND json_typeof(j.value) = 'string' "
	  "AND j.value #>> '{}' = ?2 "
	  "AND (v.number = t.current OR EXISTS (SELECT 1 FROM device d WHERE d.tenant_id = t.tenant_id "
	  "AND d.pinned_version = v.number AND (d.template = t.name OR (d.template = '' AND "
	  "tn.default_template = t.name)))) "
	  "UNION ALL SELECT 'tenant ' || tn.slug || ' (' || j.key || ')' FROM tenant tn, "
	  "json_each(tn.defaults::json) j "
	  "WHERE lower(j.key) = lower('firmware.' || ?1::text) AND json_typeof(j.value) = 'string' "
	  "AND j.value #>> '{}' = ?2 "
	  "UNION ALL SELECT 'device ' || d.mac || ' (' || j.key || ')' FROM device d, "
	  "json_each(d.overrides::json) j "
	  "WHERE lower(j.key) = lower('firmware.' || ?1::text) AND json_typeof(j.value) = 'string' "
	  "AND j.value #>> '{}' = ?2" },
	/* convert_legacy: GLOB and a SQLite function of our own; the same rule
	 * (SP_REDACT_HEX = 16 hex digits) as a regular expression. */
	{ "UPDATE fetch_log SET path = sp_redact_path(path) WHERE path GLOB "
	  "'*[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]"
	  "[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]"
	  "[0-9a-fA-F][0-9a-fA-F]*'",
	  "UPDATE fetch_log SET path = regexp_replace(path, '[0-9a-fA-F]{16,}', '<redacted>', 'g') "
	  "WHERE path ~ '[0-9a-fA-F]{16}'" },
	/* store_drifted_each: PostgreSQL's SELECT DISTINCT may not ORDER BY a
	 * column it does not select; EXISTS gives each device once (d.id is
	 * its key), in the same order. */
	{ "SELECT DISTINCT d.id FROM device d JOIN drift_event e ON e.device_id = d.id WHERE e.resolved = 0 "
	  "AND (?1 = 0 OR d.tenant_id = ?1) ORDER BY d.mac",
	  "SELECT d.id FROM device d WHERE EXISTS (SELECT 1 FROM drift_event e WHERE e.device_id = d.id "
	  "AND e.resolved = 0) AND (?1 = 0 OR d.tenant_id = ?1) ORDER BY d.mac" },
	/* Intake per batch (store_drift.c, store_device_get_many): one JSON
	 * array of keys, json_each in SQLite; here its elements as an array
	 * for = ANY, which the indexes serve as SQLite's IN does. */
	{ "SELECT id, device_id, username, auth_username FROM account "
	  "WHERE username IN (SELECT value FROM json_each(?1)) "
	  "OR auth_username IN (SELECT value FROM json_each(?2)) ORDER BY id",
	  "SELECT id, device_id, username, auth_username FROM account "
	  "WHERE username = ANY(ARRAY(SELECT json_array_elements_text(?1::json))) "
	  "OR auth_username = ANY(ARRAY(SELECT json_array_elements_text(?2::json))) ORDER BY id" },
	{ "SELECT device_id, fetched_at, fetched_version FROM device_fetch "
	  "WHERE device_id IN (SELECT value FROM json_each(?1)) ORDER BY device_id",
	  "SELECT device_id, fetched_at, fetched_version FROM device_fetch "
	  "WHERE device_id = ANY(ARRAY(SELECT json_array_elements_text(?1::json)::bigint)) ORDER BY device_id" },
	{ "SELECT id, device_id, account_id, kind, expected, observed, count, "
	  "first_seen, last_seen FROM drift_event "
	  "WHERE device_id IN (SELECT value FROM json_each(?1)) AND resolved = 0 ORDER BY id",
	  "SELECT id, device_id, account_id, kind, expected, observed, count, "
	  "first_seen, last_seen FROM drift_event "
	  "WHERE device_id = ANY(ARRAY(SELECT json_array_elements_text(?1::json)::bigint)) AND resolved = 0 "
	  "ORDER BY id" },
	{ "SELECT id, expected, observed, count, first_seen, last_seen, src_ip "
	  "FROM drift_event WHERE device_id IS NULL AND account_id IS NULL "
	  "AND kind = 'unknown_user' AND resolved = 0 "
	  "AND observed IN (SELECT value FROM json_each(?1)) ORDER BY id",
	  "SELECT id, expected, observed, count, first_seen, last_seen, src_ip "
	  "FROM drift_event WHERE device_id IS NULL AND account_id IS NULL "
	  "AND kind = 'unknown_user' AND resolved = 0 "
	  "AND observed = ANY(ARRAY(SELECT json_array_elements_text(?1::json))) ORDER BY id" },
	{ "SELECT src_ip, count(*) FROM drift_event WHERE device_id IS NULL "
	  "AND kind = 'unknown_user' AND resolved = 0 "
	  "AND src_ip IN (SELECT value FROM json_each(?1)) GROUP BY src_ip",
	  "SELECT src_ip, count(*) FROM drift_event WHERE device_id IS NULL "
	  "AND kind = 'unknown_user' AND resolved = 0 "
	  "AND src_ip = ANY(ARRAY(SELECT json_array_elements_text(?1::json))) GROUP BY src_ip" },
	{ "SELECT id, mac, tenant_id, layout, model, label, template, pinned_version, status, "
	  "http_user, ha1_md5, ha1_sha256, overrides, fetched_at, fetched_ip, fetched_ua, "
	  "fetched_version, fetched_digest, ha1_enc FROM device LEFT JOIN device_fetch ON device_id = id "
	  "WHERE mac IN (SELECT value FROM json_each(?1)) ORDER BY id",
	  "SELECT id, mac, tenant_id, layout, model, label, template, pinned_version, status, "
	  "http_user, ha1_md5, ha1_sha256, overrides, fetched_at, fetched_ip, fetched_ua, "
	  "fetched_version, fetched_digest, ha1_enc FROM device LEFT JOIN device_fetch ON device_id = id "
	  "WHERE mac = ANY(ARRAY(SELECT json_array_elements_text(?1::json))) ORDER BY id" },
	{ "SELECT id, mac, tenant_id, layout, model, label, template, pinned_version, status, "
	  "http_user, ha1_md5, ha1_sha256, overrides, fetched_at, fetched_ip, fetched_ua, "
	  "fetched_version, fetched_digest, ha1_enc FROM device LEFT JOIN device_fetch ON device_id = id "
	  "WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
	  "SELECT id, mac, tenant_id, layout, model, label, template, pinned_version, status, "
	  "http_user, ha1_md5, ha1_sha256, overrides, fetched_at, fetched_ip, fetched_ua, "
	  "fetched_version, fetched_digest, ha1_enc FROM device LEFT JOIN device_fetch ON device_id = id "
	  "WHERE id = ANY(ARRAY(SELECT json_array_elements_text(?1::json)::bigint)) ORDER BY id" },
	{ "SELECT id, device_id, line, username, auth_username FROM account "
	  "WHERE device_id IN (SELECT value FROM json_each(?1)) ORDER BY device_id, line",
	  "SELECT id, device_id, line, username, auth_username FROM account "
	  "WHERE device_id = ANY(ARRAY(SELECT json_array_elements_text(?1::json)::bigint)) ORDER BY device_id, line" },
	/* store_job_list: ?1 (an integer flag: every tenant) used as a boolean. */
	{ "SELECT id, kind, params, tenant_id, actor, queued, created, started, finished FROM job "
	  "WHERE (?1 OR tenant_id = ?2) AND (?3 = 0 OR id < ?3) ORDER BY id DESC",
	  "SELECT id, kind, params, tenant_id, actor, queued, created, started, finished FROM job "
	  "WHERE (?1 <> 0 OR tenant_id = ?2) AND (?3 = 0 OR id < ?3) ORDER BY id DESC" },
};

const char *pg_sql_override_key(size_t i)
{
	return i < sizeof(overrides) / sizeof(overrides[0]) ? overrides[i].sqlite : NULL;
}

size_t pg_sql_override_count(void)
{
	return sizeof(overrides) / sizeof(overrides[0]);
}

enum tok_kind { T_SPACE, T_COMMENT, T_STR, T_QID, T_WORD, T_NUM, T_PARAM, T_PUNCT };

struct tok {
	enum tok_kind kind;
	const char *p;
	size_t n;
};

struct toks {
	struct tok *v;
	size_t n, cap;
};

static void tok_push(struct toks *t, enum tok_kind k, const char *p, size_t n)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n++] = (struct tok){ k, p, n };
}

/* Quoted runs end at their closing quote, a doubled quote inside stays in
 * the run; an unterminated one runs to the end (the server will say so). */
static size_t quoted(const char *p, char q)
{
	size_t i = 1;
	for (; p[i]; i++)
		if (p[i] == q) {
			if (p[i + 1] != q)
				return i + 1;
			i++;
		}
	return i;
}

/* The length of a $tag$ ... $tag$ run at p; 0 if p starts none. */
static size_t dollar_quoted(const char *p)
{
	size_t tag = 1;
	while (isalnum((unsigned char)p[tag]) || p[tag] == '_')
		tag++;
	if (p[tag] != '$')
		return 0;
	tag++;
	for (const char *q = p + tag; (q = strchr(q, '$')); q++)
		if (!strncmp(q, p, tag))
			return (size_t)(q - p) + tag;
	return strlen(p);
}

static void tokenize(const char *s, struct toks *t)
{
	static const char *const ops[] = { "<=", ">=", "<>", "!=", "==", "||", "::", NULL };
	for (const char *p = s; *p;) {
		size_t n = 1;
		enum tok_kind k = T_PUNCT;
		if (isspace((unsigned char)*p)) {
			while (p[n] && isspace((unsigned char)p[n]))
				n++;
			k = T_SPACE;
		} else if (p[0] == '-' && p[1] == '-') {
			n = strcspn(p, "\n");
			k = T_COMMENT;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			n = e ? (size_t)(e + 2 - p) : strlen(p);
			k = T_COMMENT;
		} else if (*p == '\'') {
			n = quoted(p, '\'');
			k = T_STR;
		} else if (*p == '$' && (p[1] == '$' || isalpha((unsigned char)p[1]) || p[1] == '_') &&
			   (n = dollar_quoted(p)) > 0) {
			k = T_STR;      /* PostgreSQL's $tag$ ... $tag$ (a function body in a script) */
		} else if (*p == '"' || *p == '`') {
			n = quoted(p, *p);
			k = T_QID;
		} else if (*p == '[') {     /* SQLite's [identifier] */
			n = strcspn(p, "]");
			n += p[n] == ']';
			k = T_QID;
		} else if (*p == '?') {
			while (isdigit((unsigned char)p[n]))
				n++;
			k = T_PARAM;
		} else if (isalpha((unsigned char)*p) || *p == '_') {
			while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '$')
				n++;
			k = T_WORD;
		} else if (isdigit((unsigned char)*p)) {
			while (isalnum((unsigned char)p[n]) || p[n] == '.')
				n++;
			k = T_NUM;
		} else {
			for (size_t i = 0; ops[i]; i++)
				if (!strncmp(p, ops[i], 2))
					n = 2;
		}
		tok_push(t, k, p, n);
		p += n;
	}
}

static bool is_word(const struct tok *k, const char *w)
{
	return k->kind == T_WORD && strlen(w) == k->n && !strncasecmp(k->p, w, k->n);
}

static bool is_punct(const struct tok *k, const char *w)
{
	return k->kind == T_PUNCT && strlen(w) == k->n && !strncmp(k->p, w, k->n);
}

static bool significant(const struct tok *k)
{
	return k->kind != T_SPACE && k->kind != T_COMMENT;
}

/* The next significant token at or after i, before end; end if none. */
static size_t next_sig(const struct toks *t, size_t i, size_t end)
{
	while (i < end && !significant(&t->v[i]))
		i++;
	return i;
}

/* The ')' closing the '(' at open, before end; end if unbalanced.  CASE ..
 * END counts as a bracket too (for "is there a comparison at the top"). */
static size_t close_of(const struct toks *t, size_t open, size_t end)
{
	int depth = 0;
	for (size_t i = open; i < end; i++) {
		if (is_punct(&t->v[i], "("))
			depth++;
		else if (is_punct(&t->v[i], ")") && --depth == 0)
			return i;
	}
	return end;
}

/* Is there, at the top level between open and close (exclusive), a token
 * that makes the contents a truth value (SQLite: 0/1)? / a comma? */
static bool top_level(const struct toks *t, size_t open, size_t close, bool comma)
{
	static const char *const cmp[] = { "=", "==", "<", ">", "<=", ">=", "<>", "!=", NULL };
	static const char *const kw[] = { "BETWEEN", "IN", "LIKE", "GLOB", "IS", "NOT", "AND", "OR", "EXISTS", NULL };
	int depth = 0;
	for (size_t i = open + 1; i < close; i++) {
		const struct tok *k = &t->v[i];
		if (is_punct(k, "(") || is_word(k, "CASE"))
			depth++;
		else if (is_punct(k, ")") || is_word(k, "END"))
			depth--;
		else if (depth)
			continue;
		else if (comma && is_punct(k, ","))
			return true;
		else if (!comma) {
			for (size_t j = 0; cmp[j]; j++)
				if (is_punct(k, cmp[j]))
					return true;
			for (size_t j = 0; kw[j]; j++)
				if (is_word(k, kw[j]))
					return true;
		}
	}
	return false;
}

/* Words after a FROM subquery's ')' that are not its alias. */
static bool clause_word(const struct tok *k)
{
	static const char *const kw[] = { "WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "JOIN", "LEFT", "RIGHT",
					  "INNER", "CROSS", "FULL", "NATURAL", "ON", "USING", "UNION", "EXCEPT",
					  "INTERSECT", "HAVING", "WINDOW", "RETURNING", NULL };
	for (size_t j = 0; kw[j]; j++)
		if (is_word(k, kw[j]))
			return true;
	return false;
}

/* Refused wherever they stand / as functions (a column may be called date). */
static const char *const refused_words[] = { "GLOB", "rowid", "_rowid_", "sqlite_master", "sqlite_schema",
					     "sqlite_sequence", "PRAGMA", "ATTACH", "DETACH", "VACUUM", NULL };
static const char *const refused_funcs[] = { "group_concat", "strftime", "date", "time", "datetime", "julianday",
					     "unixepoch", "typeof", "json_each", "json_tree", "json_extract",
					     "json_type", "json_valid", "json_array_length", "json_object",
					     "json_group_array", "json_group_object", "printf", "total", "likelihood",
					     "randomblob", "zeroblob", "last_insert_rowid", "changes", NULL };

struct tr {
	const struct toks *t;
	struct buf *out;
	int maxparam;
	int nsub;
	bool override;              /* the text is already PostgreSQL's: parameters only */
	char lock[96];              /* what BEGIN IMMEDIATE adds */
	char *err;
	size_t errlen;
};

/* One statement, tokens [b, e).  0 or -1 with err. */
static int statement(struct tr *x, size_t b, size_t e, pg_sql_has_id has_id, void *arg, struct pg_sql *res)
{
	const struct toks *t = x->t;
	const char **after = xcalloc(e - b + 1, sizeof(*after));   /* text to write after token b+i */
	bool *skip = xcalloc(e - b + 1, sizeof(*skip));
	int *alias = xcalloc(e - b + 1, sizeof(*alias));    /* sp_subN after token b+i */
	const struct tok *prev = NULL;
	bool ignore = false, insert = false, has_returning = false, upsert = false;
	char table[128] = "";
	int rc = -1;
	size_t first = next_sig(t, b, e);
	if (first < e && is_word(&t->v[first], "INSERT")) {
		insert = true;
		size_t o = next_sig(t, first + 1, e);
		if (o < e && is_word(&t->v[o], "OR") && !x->override) {
			size_t w = next_sig(t, o + 1, e);
			if (w < e && is_word(&t->v[w], "IGNORE")) {
				ignore = true;
				for (size_t i = first + 1; i <= w; i++)
					skip[i - b] = true;
			} else {
				sp_err(x->err, x->errlen, "INSERT OR %.*s has no PostgreSQL rule: add the statement to "
				       "pg_sql.c's overrides", w < e ? (int)t->v[w].n : 0, w < e ? t->v[w].p : "");
				goto out;
			}
		}
		for (size_t i = first; i < e; i++)
			if (is_word(&t->v[i], "INTO")) {
				size_t n = next_sig(t, i + 1, e);
				if (n < e && t->v[n].kind == T_WORD && t->v[n].n < sizeof(table))
					snprintf(table, sizeof(table), "%.*s", (int)t->v[n].n, t->v[n].p);
				break;
			}
	}
	if (first < e && is_word(&t->v[first], "BEGIN") && !x->override) {
		size_t m = next_sig(t, first + 1, e);
		bool lock = m < e && (is_word(&t->v[m], "IMMEDIATE") || is_word(&t->v[m], "EXCLUSIVE"));
		if (m < e && (lock || is_word(&t->v[m], "DEFERRED")))
			for (size_t i = first + 1; i <= m; i++)
				skip[i - b] = true;
		if (lock) {
			snprintf(x->lock, sizeof(x->lock), "; SELECT pg_advisory_xact_lock(%lld)",
				 (long long)SP_PG_LOCK_WRITE);
			after[m - b] = x->lock;
		}
	}
	for (size_t i = b; i < e; i++) {
		const struct tok *k = &t->v[i];
		if (k->kind != T_WORD || x->override)
			continue;
		if (is_word(k, "RETURNING"))
			has_returning = true;
		if (is_word(k, "DO") && next_sig(t, i + 1, e) < e && is_word(&t->v[next_sig(t, i + 1, e)], "UPDATE"))
			upsert = true;
		size_t n = next_sig(t, i + 1, e);
		bool call = n < e && is_punct(&t->v[n], "(");
		bool bad = i == first && is_word(k, "REPLACE");
		for (size_t j = 0; refused_words[j]; j++)
			bad |= is_word(k, refused_words[j]);
		for (size_t j = 0; call && refused_funcs[j]; j++)
			bad |= is_word(k, refused_funcs[j]);
		if (bad) {
			sp_err(x->err, x->errlen, "SQLite-only '%.*s' has no PostgreSQL rule: add the statement "
			       "to pg_sql.c's overrides", (int)k->n, k->p);
			goto out;
		}
	}
	for (size_t i = b; i < e; i++) {
		const struct tok *k = &t->v[i];
		size_t n = next_sig(t, i + 1, e);
		if (skip[i - b]) {
			if (after[i - b])
				buf_adds(x->out, after[i - b]);
			if (alias[i - b])
				buf_printf(x->out, " AS sp_sub%d", alias[i - b]);
			continue;
		}
		if (k->kind == T_PARAM) {
			long num = k->n > 1 ? strtol(k->p + 1, NULL, 10) : x->maxparam + 1;
			if (num < 1 || num > 32766) {
				sp_err(x->err, x->errlen, "parameter %.*s out of range", (int)k->n, k->p);
				goto out;
			}
			if (num > x->maxparam)
				x->maxparam = (int)num;
			buf_printf(x->out, "$%ld", num);
		} else if (x->override || k->kind != T_WORD) {
			if (!x->override && is_punct(k, "=="))
				buf_adds(x->out, "=");
			else
				buf_add(x->out, k->p, k->n);
		} else if (is_word(k, "IS") && n < e) {
			/* IS ?N / IS NOT ?N: compare with NULLs equal. */
			size_t m = is_word(&t->v[n], "NOT") ? next_sig(t, n + 1, e) : n;
			if (m < e && t->v[m].kind == T_PARAM) {
				buf_adds(x->out, m == n ? "IS NOT DISTINCT FROM" : "IS DISTINCT FROM");
				for (size_t s = i + 1; s < m; s++)
					skip[s - b] = true;
				after[i - b] = " ";
			} else {
				buf_add(x->out, k->p, k->n);
			}
		} else if ((is_word(k, "max") || is_word(k, "min")) && n < e && is_punct(&t->v[n], "(") &&
			   top_level(t, n, close_of(t, n, e), true)) {
			buf_adds(x->out, is_word(k, "max") ? "greatest" : "least");
		} else if (is_word(k, "sum") && n < e && is_punct(&t->v[n], "(") &&
			   top_level(t, n, close_of(t, n, e), false)) {
			size_t c = close_of(t, n, e);
			buf_adds(x->out, "sum");
			if (c < e) {   /* sum( (...)::int ) */
				after[n - b] = "(";
				after[c - b] = "::int)";
			}
		} else if (is_word(k, "ifnull")) {
			buf_adds(x->out, "coalesce");
		} else if (is_word(k, "instr")) {
			buf_adds(x->out, "strpos");
		} else if (is_word(k, "LIKE")) {
			buf_adds(x->out, "ILIKE");
		} else if ((is_word(k, "INDEXED") && n < e && is_word(&t->v[n], "BY")) ||
			   (is_word(k, "NOT") && n < e && is_word(&t->v[n], "INDEXED"))) {
			size_t m = is_word(k, "NOT") ? n : next_sig(t, n + 1, e);
			for (size_t s = i + 1; s <= m && s < e; s++)
				skip[s - b] = true;
			size_t z = next_sig(t, m + 1, e);   /* keep one space before what follows */
			for (size_t s = m + 1; s < z; s++)
				skip[s - b] = true;
		} else if (is_word(k, "LIMIT") && n < e && is_punct(&t->v[n], "-")) {
			size_t m = next_sig(t, n + 1, e);
			if (m < e && t->v[m].kind == T_NUM) {
				buf_adds(x->out, "LIMIT ALL");
				for (size_t s = i + 1; s <= m; s++)
					skip[s - b] = true;
			} else {
				buf_add(x->out, k->p, k->n);
			}
		} else if (is_word(k, "INTEGER") && n < e && is_punct(&t->v[n], ")") && prev && is_word(prev, "AS")) {
			buf_adds(x->out, "BIGINT");
		} else if ((is_word(k, "FROM") || is_word(k, "JOIN")) && n < e && is_punct(&t->v[n], "(")) {
			size_t in = next_sig(t, n + 1, e), c = close_of(t, n, e);
			buf_add(x->out, k->p, k->n);
			if (in < e && (is_word(&t->v[in], "SELECT") || is_word(&t->v[in], "WITH") ||
				       is_word(&t->v[in], "VALUES")) && c < e) {
				size_t a = next_sig(t, c + 1, e);
				if (a >= e || t->v[a].kind != T_WORD || clause_word(&t->v[a]))
					alias[c - b] = ++x->nsub;
			}
		} else {
			buf_add(x->out, k->p, k->n);
		}
		if (after[i - b])
			buf_adds(x->out, after[i - b]);
		if (alias[i - b])
			buf_printf(x->out, " AS sp_sub%d", alias[i - b]);
		if (significant(k))
			prev = k;
	}
	if (insert && ignore)
		buf_adds(x->out, " ON CONFLICT DO NOTHING");
	if (insert && has_id && !has_returning && table[0] && has_id(table, arg)) {
		buf_adds(x->out, upsert ? " RETURNING id, xmax = 0" : " RETURNING id");
		res->returning = true;
		res->upsert = upsert;
	}
	rc = 0;
out:
	free(after);
	free(skip);
	free(alias);
	return rc;
}

int pg_sql_translate(const char *sql, pg_sql_has_id has_id, void *arg, struct pg_sql *out, char *err,
		     size_t errlen)
{
	struct toks t = { 0 };
	struct buf b;
	struct tr x = { .t = &t, .out = &b, .err = err, .errlen = errlen };
	int rc = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < pg_sql_override_count(); i++)
		if (!strcmp(sql, overrides[i].sqlite)) {
			sql = overrides[i].pg;
			x.override = true;
			break;
		}
	buf_init(&b, 1024 * 1024);
	tokenize(sql, &t);
	/* Statement by statement: a rule that appends (ON CONFLICT, RETURNING)
	 * appends to its own statement.  Trailing space before a ';' stays. */
	size_t b0 = 0;
	out->empty = true;
	for (size_t i = 0; i < t.n; i++)
		if (significant(&t.v[i]) && !is_punct(&t.v[i], ";"))
			out->empty = false;
	out->statements = 0;
	for (size_t i = 0; i <= t.n && rc == 0; i++) {
		if (i < t.n && !is_punct(&t.v[i], ";"))
			continue;
		size_t e = i;
		while (e > b0 && !significant(&t.v[e - 1]))
			e--;
		rc = statement(&x, b0, e, has_id, arg, out);
		if (next_sig(&t, b0, e) < e)
			out->statements++;
		for (size_t s = e; s < i && rc == 0; s++)
			buf_add(&b, t.v[s].p, t.v[s].n);
		if (i < t.n)
			buf_add(&b, ";", 1);
		b0 = i + 1;
	}
	free(t.v);
	if (rc == 0 && b.overflow)
		rc = sp_err(err, errlen, "statement too long");
	if (rc < 0) {
		buf_release(&b);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	int statements = out->statements;
	out->text = buf_detach(&b, NULL);
	out->nparams = x.maxparam;
	out->statements = statements + (x.lock[0] != '\0');
	if (!out->text)
		out->text = xstrdup("");
	return 0;
}

/*
 * A batch statement (db.h's db_prepare_batch): every parameter ?k becomes
 * the column sp_b.pk of unnest(?1::_T1, ..., ?n::_Tn) AS sp_b(p1, ..., pn)
 * (_int8 / _text: the array types, spelt without brackets so the rules
 * above leave them be), which an INSERT selects FROM in place of VALUES
 * and an UPDATE joins (FROM before its WHERE).  An UPDATE with a key
 * parameter joins (SELECT DISTINCT ON (pkey) * FROM unnest(..) WITH
 * ORDINALITY ... ORDER BY pkey, sp_ord DESC) AS sp_b: the last row added
 * per key (PostgreSQL's UPDATE ... FROM would apply any one of them),
 * and "col = ?key" becomes "col = ANY(ARRAY(SELECT sp_b.pkey))" (below).
 * Then the usual rules.
 */
int pg_sql_batch(const char *sql, const char *types, struct pg_sql *out, char *err, size_t errlen)
{
	struct toks t = { 0 };
	struct buf b;
	int n = (int)strlen(types), maxp = 0, rc = -1, key = 0;
	size_t first, values = 0, where = 0, open = 0, close = 0;
	bool insert;
	memset(out, 0, sizeof(*out));
	tokenize(sql, &t);
	buf_init(&b, 1024 * 1024);
	first = next_sig(&t, 0, t.n);
	insert = first < t.n && is_word(&t.v[first], "INSERT");
	if (first == t.n || (!insert && !is_word(&t.v[first], "UPDATE"))) {
		sp_err(err, errlen, "a batch is one INSERT or UPDATE");
		goto out;
	}
	int depth = 0;
	for (size_t i = first; i < t.n; i++) {
		const struct tok *k = &t.v[i];
		if (is_punct(k, "("))
			depth++;
		else if (is_punct(k, ")"))
			depth--;
		else if (depth == 0 && (is_word(k, "FROM") || is_word(k, "RETURNING") || is_punct(k, ";"))) {
			sp_err(err, errlen, "a batch has no FROM, RETURNING or second statement");
			goto out;
		} else if (depth == 0 && insert && is_word(k, "VALUES") && !values) {
			values = i;
		} else if (depth == 0 && !insert && is_word(k, "WHERE") && !where) {
			where = i;
		} else if (is_word(k, "IS") && next_sig(&t, i + 1, t.n) < t.n &&
			   t.v[next_sig(&t, i + 1, t.n)].kind == T_PARAM) {
			sp_err(err, errlen, "a batch cannot compare a parameter with IS");
			goto out;
		}
	}
	if (insert) {
		open = values ? next_sig(&t, values + 1, t.n) : t.n;
		close = open < t.n && is_punct(&t.v[open], "(") ? close_of(&t, open, t.n) : t.n;
		if (close == t.n) {
			sp_err(err, errlen, "a batch INSERT has VALUES (...)");
			goto out;
		}
	}
	for (int k = 0; k < n; k++) {
		if (strchr("itIT", types[k]) == NULL || (isupper((unsigned char)types[k]) && (key || insert))) {
			sp_err(err, errlen, "batch parameter types are i or t, and one I or T (an UPDATE's key)");
			goto out;
		}
		if (isupper((unsigned char)types[k]))
			key = k + 1;
	}
	const struct tok *prev = NULL;     /* the last significant token copied */
	for (size_t i = 0; i <= t.n; i++) {
		if ((insert && i == close) || (!insert && i == (where ? where : t.n))) {
			/* With a key, the last row added for each key value: the
			 * one SQLite's in-order execution leaves. */
			buf_adds(&b, key ? " FROM (SELECT DISTINCT ON (p" : " FROM unnest(");
			if (key)
				buf_printf(&b, "%d) * FROM unnest(", key);
			for (int k = 1; k <= n; k++)
				buf_printf(&b, "%s?%d::%s", k > 1 ? ", " : "", k,
					   tolower((unsigned char)types[k - 1]) == 'i' ? "_int8" : "_text");
			buf_adds(&b, key ? ") WITH ORDINALITY AS sp_u(" : ") AS sp_b(");
			for (int k = 1; k <= n; k++)
				buf_printf(&b, "%sp%d", k > 1 ? ", " : "", k);
			if (key)
				buf_printf(&b, ", sp_ord) ORDER BY p%d, sp_ord DESC) AS sp_b", key);
			else
				buf_adds(&b, ")");
			if (!insert)
				buf_adds(&b, " ");
			if (insert)
				continue;       /* the VALUES list's ')' */
		}
		if (i == t.n)
			break;
		const struct tok *k = &t.v[i];
		if (insert && i == values) {
			buf_adds(&b, "SELECT");
		} else if (insert && i == open) {
			buf_adds(&b, " ");
		} else if (k->kind == T_PARAM) {
			int p = k->n > 1 ? (int)strtol(k->p + 1, NULL, 10) : maxp + 1;
			if (p < 1 || p > n) {
				sp_err(err, errlen, "batch parameter ?%d has no type", p);
				goto out;
			}
			if (p > maxp)
				maxp = p;
			/* "col = key" as "col = ANY(ARRAY(SELECT key))": the same
			 * test, but no hash or merge join can use it, so each row
			 * finds its row through col's index.  With "=" the planner
			 * read a 20,000-row table whole for each batch of a few
			 * hundred rows, 3.5 ms against 0.6 (its random_page_cost
			 * of 4 prices an index probe as a disk read).  (No
			 * ARRAY[..]: the rules take [x] for SQLite's quoting.) */
			if (p == key && prev && is_punct(prev, "="))
				buf_printf(&b, "ANY(ARRAY(SELECT sp_b.p%d))", p);
			else
				buf_printf(&b, "sp_b.p%d", p);
		} else {
			buf_add(&b, k->p, k->n);
		}
		if (significant(k))
			prev = k;
	}
	if (b.overflow) {
		sp_err(err, errlen, "statement too long");
		goto out;
	}
	char *text = buf_detach(&b, NULL);
	rc = pg_sql_translate(text, NULL, NULL, out, err, errlen);
	free(text);
	if (rc == 0 && out->nparams != n) {
		sp_err(err, errlen, "a batch uses each of its %d parameters", n);
		pg_sql_free(out);
		rc = -1;
	}
	free(t.v);
	return rc;
out:
	buf_release(&b);
	free(t.v);
	return rc;
}

/* The next significant token from *i on (and *i past it); NULL at the end. */
static const struct tok *take(const struct toks *t, size_t *i)
{
	*i = next_sig(t, *i, t->n);
	return *i < t->n ? &t->v[(*i)++] : NULL;
}

char *pg_sql_copy(const char *sql, int nparams)
{
	struct toks t = { 0 };
	struct buf b;
	const struct tok *k;
	size_t i = 0;
	int cols = 0, params = 0;
	bool ok = false;
	tokenize(sql, &t);
	buf_init(&b, 64 * 1024);
	if ((k = take(&t, &i)) && is_word(k, "INSERT") && (k = take(&t, &i)) && is_word(k, "INTO") &&
	    (k = take(&t, &i)) && k->kind == T_WORD) {
		buf_printf(&b, "COPY %.*s (", (int)k->n, k->p);
		ok = (k = take(&t, &i)) && is_punct(k, "(");
	}
	while (ok) {                            /* the columns, to ")" */
		if (!(ok = (k = take(&t, &i)) && k->kind == T_WORD))
			break;
		buf_printf(&b, "%s%.*s", cols++ ? ", " : "", (int)k->n, k->p);
		if ((k = take(&t, &i)) && is_punct(k, ")"))
			break;
		ok = k && is_punct(k, ",");
	}
	ok = ok && (k = take(&t, &i)) && is_word(k, "VALUES") && (k = take(&t, &i)) && is_punct(k, "(");
	while (ok) {                            /* ?1, ?2 ... in order, to ")" */
		if (!(ok = (k = take(&t, &i)) && k->kind == T_PARAM &&
			   (k->n == 1 || strtol(k->p + 1, NULL, 10) == params + 1)))
			break;
		params++;
		if ((k = take(&t, &i)) && is_punct(k, ")"))
			break;
		ok = k && is_punct(k, ",");
	}
	ok = ok && !take(&t, &i) && cols == params && params == nparams;
	buf_adds(&b, ") FROM STDIN");
	free(t.v);
	if (ok && !b.overflow)
		return buf_detach(&b, NULL);
	buf_release(&b);
	return NULL;
}

void pg_sql_free(struct pg_sql *t)
{
	free(t->text);
	memset(t, 0, sizeof(*t));
}
