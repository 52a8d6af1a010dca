/*
 * csv.c: streaming RFC 4180 reader and a minimal quoting writer, both
 * neutralising spreadsheet formula cells (a leading quote, see below).  One pass,
 * a 64 KiB input window, one reusable record buffer: memory stays flat
 * however long the file.  It knows nothing about columns' meaning and does
 * no charset conversion (UTF-8 in, UTF-8 out; callers check text).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipprov.h"

#define CSV_WINDOW 65536
#define CSV_STR2(x) #x
#define CSV_STR(x) CSV_STR2(x)

struct csv {
	FILE *f;
	const unsigned char *mem;       /* memory input, or the window */
	size_t len, pos;
	unsigned char *window;
	bool eof;
	long long consumed;             /* bytes before mem[0] */
	bool started;                   /* BOM checked */
	size_t expect;
	long line, record, record_line;
	char *rec;                      /* field bytes, NUL-separated */
	size_t reclen;
	size_t offs[CSV_COLS_MAX];
	char *ptrs[CSV_COLS_MAX];
};

struct csv *csv_new_file(FILE *f)
{
	struct csv *c = xcalloc(1, sizeof(*c));
	c->f = f;
	c->window = xmalloc(CSV_WINDOW);
	c->mem = c->window;
	c->rec = xmalloc(CSV_RECORD_MAX + CSV_COLS_MAX + 1);
	c->line = 1;
	return c;
}

struct csv *csv_new_mem(const char *data, size_t len)
{
	struct csv *c = xcalloc(1, sizeof(*c));
	c->mem = (const unsigned char *)data;
	c->len = len;
	c->eof = true;
	c->rec = xmalloc(CSV_RECORD_MAX + CSV_COLS_MAX + 1);
	c->line = 1;
	return c;
}

void csv_free(struct csv *c)
{
	if (!c)
		return;
	free(c->window);
	free(c->rec);
	free(c);
}

void csv_expect_columns(struct csv *c, size_t ncols)
{
	c->expect = ncols;
}

long csv_record(const struct csv *c) { return c->record; }
long csv_line(const struct csv *c) { return c->record_line; }
long long csv_offset(const struct csv *c) { return c->consumed + (long long)c->pos; }

static bool refill(struct csv *c)
{
	if (c->eof || !c->f)
		return false;
	c->consumed += (long long)c->len;
	c->pos = 0;
	c->len = fread(c->window, 1, CSV_WINDOW, c->f);
	if (c->len == 0) {
		c->eof = true;
		return false;
	}
	return true;
}

/* Next byte, or -1 at end of input. */
static inline int next(struct csv *c)
{
	if (c->pos >= c->len && !refill(c))
		return -1;
	return c->mem[c->pos++];
}

static inline int peek(struct csv *c)
{
	if (c->pos >= c->len && !refill(c))
		return -1;
	return c->mem[c->pos];
}

struct rstate {
	size_t nf;                      /* fields so far */
	size_t flen;                    /* bytes in the current field */
	char err[160];                  /* first error in this record */
};

static void rerr(struct rstate *r, size_t col, const char *msg)
{
	if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "column %zu: %s", col, msg);
}

static void put(struct csv *c, struct rstate *r, int ch)
{
	if (r->nf >= CSV_COLS_MAX)
		return;
	if (r->flen >= CSV_FIELD_MAX) {
		rerr(r, r->nf + 1, "field longer than " CSV_STR(CSV_FIELD_MAX) " bytes");
		return;
	}
	if (c->reclen >= CSV_RECORD_MAX) {
		rerr(r, r->nf + 1, "record longer than " CSV_STR(CSV_RECORD_MAX) " bytes");
		return;
	}
	c->rec[c->reclen++] = (char)ch;
	r->flen++;
}

static void end_field(struct csv *c, struct rstate *r)
{
	if (r->nf >= CSV_COLS_MAX) {
		rerr(r, r->nf + 1, "more than " CSV_STR(CSV_COLS_MAX) " columns");
		r->nf++;
		return;
	}
	c->rec[c->reclen++] = '\0';
	r->nf++;
	if (r->nf < CSV_COLS_MAX)
		c->offs[r->nf] = c->reclen;
	r->flen = 0;
}

/* Spreadsheet formula cells (OWASP "CSV injection"): a cell starting with
 * = + - @ TAB or CR is written with a leading single quote, so a
 * spreadsheet shows it as text ("+15551234" stays a number-looking text).
 * To keep every value exact through export and import, a value that
 * starts with a quote followed by one of those or by another quote gets
 * one too, and the reader takes exactly one such quote off.  Any other
 * leading quote is data and stays. */
static bool formula_char(char ch)
{
	return ch == '=' || ch == '+' || ch == '-' || ch == '@' || ch == '\t' || ch == '\r';
}

static bool quoted_formula(const char *v)
{
	return v[0] == '\'' && (formula_char(v[1]) || v[1] == '\'');
}

/* Consume a line end whose first byte ch was already read. */
static void eat_eol(struct csv *c, int ch)
{
	if (ch == '\r' && peek(c) == '\n')
		c->pos++;
	c->line++;
}

int csv_read(struct csv *c, char ***fields, size_t *n, char *err, size_t errlen)
{
	struct rstate r = { 0 };
	int ch;

	*n = 0;
	if (!c->started) {
		c->started = true;
		if (peek(c) == 0xef) {
			/* A BOM is only ever the first three bytes. */
			if (c->len - c->pos >= 3 && c->mem[c->pos + 1] == 0xbb && c->mem[c->pos + 2] == 0xbf)
				c->pos += 3;
		}
	}
	/* Blank lines between records carry no record (a trailing newline,
	 * an empty last line): skip them. */
	for (;;) {
		ch = peek(c);
		if (ch == '\r' || ch == '\n') {
			c->pos++;
			eat_eol(c, ch);
			continue;
		}
		break;
	}
	if (ch < 0)
		return 0;
	c->record++;
	c->record_line = c->line;
	c->reclen = 0;
	c->offs[0] = 0;
	for (;;) {
		ch = next(c);
		if (ch == '"' && r.flen == 0) {
			long qline = c->line;
			for (;;) {
				ch = next(c);
				if (ch < 0) {
					char m[96];
					snprintf(m, sizeof(m), "unterminated quoted field (opened on line %ld)", qline);
					rerr(&r, r.nf + 1, m);
					break;
				}
				if (ch == '"') {
					if (peek(c) == '"') {
						c->pos++;
						put(c, &r, '"');
						continue;
					}
					break;
				}
				if (ch == '\0')
					rerr(&r, r.nf + 1, "NUL byte in field");
				if (ch == '\n' || (ch == '\r' && peek(c) != '\n'))
					c->line++;
				put(c, &r, ch);
			}
			if (ch < 0) {
				end_field(c, &r);
				break;
			}
			ch = next(c);
			if (ch != ',' && ch != '\r' && ch != '\n' && ch >= 0) {
				rerr(&r, r.nf + 1, "text after a closing quote (a quote inside a field must be doubled)");
				/* Keep the stray text so the rest of the record still splits right. */
				while (ch >= 0 && ch != ',' && ch != '\r' && ch != '\n')
					ch = next(c);
			}
		} else {
			while (ch >= 0 && ch != ',' && ch != '\r' && ch != '\n') {
				if (ch == '"')
					rerr(&r, r.nf + 1, "quote in an unquoted field (quote the field and double the quote)");
				else if (ch == '\0')
					rerr(&r, r.nf + 1, "NUL byte in field");
				put(c, &r, ch);
				ch = next(c);
			}
		}
		end_field(c, &r);
		if (ch == ',')
			continue;
		if (ch == '\r' || ch == '\n')
			eat_eol(c, ch);
		break;
	}
	if (!r.err[0] && c->expect && r.nf != c->expect) {
		char m[96];
		snprintf(m, sizeof(m), "%s columns (%zu, the header has %zu)",
			 r.nf > c->expect ? "too many" : "too few", r.nf, c->expect);
		rerr(&r, r.nf > c->expect ? c->expect + 1 : r.nf, m);
	}
	if (r.err[0])
		return sp_err(err, errlen, "record %ld (line %ld), %s", c->record, c->record_line, r.err);
	for (size_t i = 0; i < r.nf; i++) {
		c->ptrs[i] = c->rec + c->offs[i];
		if (quoted_formula(c->ptrs[i]))
			c->ptrs[i]++;           /* the quote csv_put added */
	}
	*fields = c->ptrs;
	*n = r.nf;
	return 1;
}

void csv_put(struct buf *out, const char *field, int first)
{
	size_t len = strlen(field);
	/* Leading/trailing spaces survive spreadsheets only quoted; a leading
	 * BOM would be taken for the file's own at the start of the output. */
	bool quote = len && (field[0] == ' ' || field[len - 1] == ' ' || (unsigned char)field[0] == 0xef);
	bool neutral = formula_char(field[0]) || quoted_formula(field);
	if (!first)
		buf_add(out, ",", 1);
	if (!quote && strpbrk(field, ",\"\r\n") == NULL) {
		if (neutral)
			buf_add(out, "'", 1);
		buf_add(out, field, len);
		return;
	}
	buf_add(out, "\"", 1);
	if (neutral)
		buf_add(out, "'", 1);
	for (const char *p = field; *p; p++) {
		if (*p == '"')
			buf_add(out, "\"", 1);
		buf_add(out, p, 1);
	}
	buf_add(out, "\"", 1);
}
