/*
 * csv.h: a streaming RFC 4180 reader (header row, quoted fields with commas,
 * doubled quotes and line breaks, CRLF or LF, a leading UTF-8 BOM) with hard
 * limits on field, record and column sizes, and a writer that quotes only
 * when needed.  Formula cells: the writer puts a single quote before a
 * value starting with = + - @ TAB or CR (OWASP CSV injection), and before
 * one starting with a quote followed by one of those or a quote; the
 * reader takes that one quote off, so values round-trip exactly.  It does
 * not otherwise interpret fields: bulk.c gives them meaning.
 */
#ifndef SP_CSV_H
#define SP_CSV_H
#include <stddef.h>
#include <stdio.h>

struct buf;

#define CSV_FIELD_MAX   4096            /* bytes in one field */
#define CSV_RECORD_MAX  65536           /* bytes in one record, all fields */
#define CSV_COLS_MAX    128             /* fields in one record */

struct csv;

/* A reader over a stdio stream (not closed by csv_free) or over memory
 * (not copied: must outlive the reader).  Never NULL. */
struct csv *csv_new_file(FILE *f);
struct csv *csv_new_mem(const char *data, size_t len);
void csv_free(struct csv *c);           /* accepts NULL */

/* After the header: every later record must have exactly ncols fields
 * (0 = any count).  A longer or shorter record is an error. */
void csv_expect_columns(struct csv *c, size_t ncols);

/* Read the next record (one formula quote taken off each field, as above).
 * Returns 1 with *fields (n NUL-terminated strings,
 * owned by the reader, valid until the next call) and *n set; 0 at end of
 * input; -1 on a malformed record, with err naming the record, physical
 * line and column ("record 5 (line 7), column 3: unterminated quoted field").
 * After an error the reader skips to the next record, so callers may go on
 * collecting errors.  A NUL byte in the input is an error. */
int csv_read(struct csv *c, char ***fields, size_t *n, char *err, size_t errlen);

/* The record number (1 = the first record, normally the header) and the
 * physical line on which the last record read started. */
long csv_record(const struct csv *c);
long csv_line(const struct csv *c);
/* Bytes consumed so far (for a progress bar). */
long long csv_offset(const struct csv *c);

/* Append one field to out, quoted when it holds a comma, quote, CR, LF or
 * leading/trailing space, with the formula quote above; first = no
 * leading comma. */
void csv_put(struct buf *out, const char *field, int first);
#endif
