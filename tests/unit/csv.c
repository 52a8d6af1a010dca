/*
 * csv.c (unit): the RFC 4180 reader on the awkward inputs an MSP's
 * spreadsheet produces (quoted commas, doubled quotes, line breaks in
 * fields, BOM, CRLF) and on malformed ones; and writer round trips.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "ops/ops.h"
#include "core/sipprov.h"

/* Read every record of s joined as "a|b|c;" per record, errors as "E(msg);". */
static void dump(const char *s, size_t len, size_t expect_after_header, char *out, size_t outlen)
{
	struct csv *c = csv_new_mem(s, len);
	char **f, err[256];
	size_t n, o = 0;
	int rc;
	out[0] = '\0';
	while ((rc = csv_read(c, &f, &n, err, sizeof(err))) != 0) {
		if (rc < 0)
			o += (size_t)snprintf(out + o, outlen - o, "E(%s);", err);
		else
			for (size_t i = 0; i < n; i++)
				o += (size_t)snprintf(out + o, outlen - o, "%s%s", f[i], i + 1 < n ? "|" : ";");
		if (csv_record(c) == 1 && expect_after_header)
			csv_expect_columns(c, expect_after_header);
		if (o >= outlen)
			break;
	}
	csv_free(c);
}

static const struct {
	const char *name, *in, *want;
	size_t cols;
} cases[] = {
	{ "plain", "a,b,c\n1,2,3\n", "a|b|c;1|2|3;", 0 },
	{ "no final newline", "a,b\n1,2", "a|b;1|2;", 0 },
	{ "empty fields", "a,b,c\n,,\n", "a|b|c;||;", 0 },
	{ "quoted comma", "a,b\n\"x,y\",z\n", "a|b;x,y|z;", 0 },
	{ "doubled quote", "a\n\"say \"\"hi\"\"\"\n", "a;say \"hi\";", 0 },
	{ "empty quoted", "a,b\n\"\",x\n", "a|b;|x;", 0 },
	{ "newline in field", "a,b\n\"l1\nl2\",z\n", "a|b;l1\nl2|z;", 0 },
	{ "crlf", "a,b\r\n1,2\r\n", "a|b;1|2;", 0 },
	{ "crlf inside quotes kept", "a\r\n\"x\r\ny\"\r\n", "a;x\r\ny;", 0 },
	{ "bom", "\xef\xbb\xbfmac,line\n1,2\n", "mac|line;1|2;", 0 },
	{ "blank lines skipped", "a\n\n1\n\r\n2\n\n", "a;1;2;", 0 },
	{ "utf8 passes through", "a\nAnn \xe2\x98\x8e\n", "a;Ann \xe2\x98\x8e;", 0 },
	{ "unterminated quote", "a,b\n1,\"open\n", "a|b;E(record 2 (line 2), column 2: unterminated quoted field (opened on line 2));", 0 },
	{ "text after closing quote", "a,b\n\"x\"y,2\n3,4\n",
	  "a|b;E(record 2 (line 2), column 1: text after a closing quote (a quote inside a field must be doubled));3|4;", 0 },
	{ "bare quote", "a,b\nx\"y,2\n",
	  "a|b;E(record 2 (line 2), column 1: quote in an unquoted field (quote the field and double the quote));", 0 },
	{ "too many columns", "a,b\n1,2,3\n4,5\n", "a|b;E(record 2 (line 2), column 3: too many columns (3, the header has 2));4|5;", 2 },
	{ "too few columns", "a,b,c\n1,2\n", "a|b|c;E(record 2 (line 2), column 2: too few columns (2, the header has 3));", 3 },
	{ "line count after embedded newlines", "a,b\n\"1\n2\n3\",x\n\"q\"z,1\n",
	  "a|b;1\n2\n3|x;E(record 3 (line 5), column 1: text after a closing quote (a quote inside a field must be doubled));", 2 },
};

int main(void)
{
	char out[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dump(cases[i].in, strlen(cases[i].in), cases[i].cols, out, sizeof(out));
		is_str(out, cases[i].want, "%s", cases[i].name);
	}

	/* NUL byte */
	dump("a\nx\0y\n", 6, 0, out, sizeof(out));
	is_str(out, "a;E(record 2 (line 2), column 1: NUL byte in field);", "NUL byte refused");

	/* Oversize field: error, then the next record still reads. */
	{
		size_t big = CSV_FIELD_MAX + 10;
		char *s = xmalloc(big + 32);
		size_t o = (size_t)snprintf(s, 32, "a\n\"");
		memset(s + o, 'x', big);
		o += big;
		o += (size_t)snprintf(s + o, 32, "\"\nok\n");
		dump(s, o, 0, out, sizeof(out));
		is_str(out, "a;E(record 2 (line 2), column 1: field longer than 4096 bytes);ok;",
		       "oversize field refused, reader continues");
		free(s);
	}

	/* Too many columns for the reader itself. */
	{
		struct buf b;
		buf_init(&b, 1 << 20);
		for (int i = 0; i < CSV_COLS_MAX + 5; i++)
			buf_adds(&b, i ? ",x" : "x");
		buf_adds(&b, "\n");
		dump(b.data, b.len, 0, out, sizeof(out));
		is_str(out, "E(record 1 (line 1), column 129: more than 128 columns);", "column cap");
		buf_release(&b);
	}

	/* Writer: quoting, and every awkward value reads back the same. */
	{
		const char *vals[] = { "plain", "", "a,b", "Ann <\"O'Brien\"> & Co", "two\nlines", "cr\r\nlf",
				       " lead", "trail ", "\xe2\x98\x8e" };
		size_t nv = sizeof(vals) / sizeof(vals[0]);
		struct buf b;
		char **f, err[256];
		size_t n;
		buf_init(&b, 4096);
		for (size_t i = 0; i < nv; i++)
			csv_put(&b, vals[i], i == 0);
		buf_adds(&b, "\r\n");
		is_str(b.data, "plain,,\"a,b\",\"Ann <\"\"O'Brien\"\"> & Co\",\"two\nlines\",\"cr\r\nlf\",\" lead\","
		       "\"trail \",\xe2\x98\x8e\r\n", "writer quotes only what needs it");
		struct csv *c = csv_new_mem(b.data, b.len);
		int rc = csv_read(c, &f, &n, err, sizeof(err));
		ok(rc == 1 && n == nv, "writer output reads as one record of %zu fields", nv);
		int same = rc == 1 && n == nv;
		for (size_t i = 0; same && i < nv; i++)
			same = strcmp(f[i], vals[i]) == 0;
		ok(same, "every value round-trips");
		is_int(csv_read(c, &f, &n, err, sizeof(err)), 0, "then end of input");
		csv_free(c);
		buf_release(&b);
	}

	/* Formula cells (OWASP CSV injection): written with a leading quote so a
	 * spreadsheet shows text, read back exactly. */
	{
		static const struct { const char *val, *cell; } fx[] = {
			{ "=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"" },
			{ "+15551234", "'+15551234" },
			{ "-1+2", "'-1+2" },
			{ "@SUM(A1)", "'@SUM(A1)" },
			{ "\tx", "'\tx" },
			{ "\rx", "\"'\rx\"" },
			{ "'=already", "''=already" },
			{ "''", "'''" },
			{ "'plain", "'plain" },
			{ "a=b", "a=b" },
			{ "'", "'" },
		};
		size_t nf = sizeof(fx) / sizeof(fx[0]);
		struct buf b;
		char **f, err[256];
		size_t n;
		for (size_t i = 0; i < nf; i++) {
			buf_init(&b, 4096);
			csv_put(&b, fx[i].val, 1);
			is_str(b.data, fx[i].cell, "formula cell %zu written safely", i);
			buf_release(&b);
		}
		buf_init(&b, 4096);
		for (size_t i = 0; i < nf; i++)
			csv_put(&b, fx[i].val, i == 0);
		buf_adds(&b, "\r\n");
		struct csv *c = csv_new_mem(b.data, b.len);
		int rc = csv_read(c, &f, &n, err, sizeof(err));
		int same = rc == 1 && n == nf;
		for (size_t i = 0; same && i < nf; i++)
			same = strcmp(f[i], fx[i].val) == 0;
		ok(same, "every formula-looking value round-trips exactly");
		csv_free(c);
		buf_release(&b);
		/* A hand-written file: the quote a spreadsheet user types is taken off. */
		const char *hand = "a,b\n'+15551234,'O'Brien\n";
		dump(hand, strlen(hand), 0, out, sizeof(out));
		is_str(out, "a|b;+15551234|'O'Brien;", "a typed leading quote before + goes, before a letter stays");
	}

	/* Streaming from a FILE across window boundaries, with line numbers. */
	{
		FILE *f = tmpfile();
		char **fl, err[256];
		size_t n;
		long rows = 0, bad = 0;
		fputs("\xef\xbb\xbfmac,name\r\n", f);
		for (int i = 0; i < 20000; i++)
			fprintf(f, "%012d,\"name, %d\"\r\n", i, i);
		fputs("x,\"broken\r\n", f);
		rewind(f);
		struct csv *c = csv_new_file(f);
		int rc = csv_read(c, &fl, &n, err, sizeof(err));
		ok(rc == 1 && n == 2 && !strcmp(fl[0], "mac"), "header after BOM from a file");
		csv_expect_columns(c, 2);
		int good = 1;
		while ((rc = csv_read(c, &fl, &n, err, sizeof(err))) != 0) {
			if (rc < 0) {
				bad++;
				is_str(err, "record 20002 (line 20002), column 2: unterminated quoted field (opened on line 20002)",
				       "error at the end names the record and line");
				continue;
			}
			char want[64];
			snprintf(want, sizeof(want), "name, %ld", rows);
			if (strcmp(fl[1], want))
				good = 0;
			rows++;
		}
		is_int(rows, 20000, "20000 records streamed");
		ok(good, "every record's quoted field intact across window boundaries");
		is_int(bad, 1, "one bad record");
		ok(csv_offset(c) > 20000 * 20, "offset advances (%lld)", csv_offset(c));
		csv_free(c);
		fclose(f);
	}
	return tap_done();
}
