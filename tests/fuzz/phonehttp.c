/*
 * fuzz/phonehttp.c: phone_http_parse (phone_listen.c's request heads) on
 * arbitrary bytes, in a buffer of exactly their size so that ASan sees any
 * read past it.  Its promises: a parsed head lies inside the bytes and the
 * cap; every string it hands out ends inside them; no more header lines
 * than PHONE_HDR_MAX; and a head that parses was "read more" at every
 * shorter prefix (a slow client gets the same answer as a fast one).
 * When the head says Transfer-Encoding, the bytes after it are decoded as
 * a chunked body (phone_chunked_decode), at once and then a byte at a time:
 * the same verdict, the same body and the same end either way, the body
 * never longer than what was consumed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/phone_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode b[0, n) in pieces of at most step bytes; the body is appended to
 * body (*blen), the bytes consumed in *used.  Returns the last verdict. */
static int chunked_pieces(const char *b, size_t n, size_t step, size_t cap, char *body, size_t *blen, size_t *used)
{
	struct phone_chunked d;
	int rc = PHONE_CHUNK_MORE;
	phone_chunked_init(&d, cap);
	*blen = *used = 0;
	while (*used < n && rc == PHONE_CHUNK_MORE) {
		size_t k = n - *used < step ? n - *used : step, u, o;
		char *p = malloc(k);
		memcpy(p, b + *used, k);
		rc = phone_chunked_decode(&d, p, k, &u, &o);
		if (u > k || o > u || (rc == PHONE_CHUNK_MORE && u != k))
			abort();
		if (rc >= 0) {
			memcpy(body + *blen, p, o);
			*blen += o;
		}
		*used += u;
		free(p);
	}
	return rc;
}

static void chunked(const char *b, size_t n, size_t cap)
{
	char *one = malloc(n + 1), *byte = malloc(n + 1);
	size_t l1, u1, l2, u2;
	int r1 = chunked_pieces(b, n, n ? n : 1, cap, one, &l1, &u1);
	int r2 = chunked_pieces(b, n, 1, cap, byte, &l2, &u2);
	if (r1 < PHONE_CHUNK_TRAILER_BIG || r1 > PHONE_CHUNK_DONE || r1 != r2)
		abort();
	if (r1 >= 0 && (u1 != u2 || l1 != l2 || memcmp(one, byte, l1)))
		abort();
	free(one);
	free(byte);
}

static void inside(const char *s, const char *buf, size_t hl)
{
	if (!s || s < buf || s >= buf + hl || !memchr(s, '\0', (size_t)(buf + hl - s)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = 64;
	struct phone_head h;
	if (size >= 1) {
		/* First byte picks the cap: small ones reach the 431 path. */
		cap = 16 + (size_t)data[0] * 32;
		data++, size--;
	}
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	long hl = phone_http_parse(buf, size, cap, &h);
	if (hl < -3 || (hl > 0 && ((size_t)hl > size || (size_t)hl > cap)))
		abort();
	if (hl > 0) {
		inside(h.method, buf, (size_t)hl);
		inside(h.url, buf, (size_t)hl);
		inside(h.proto, buf, (size_t)hl);
		if (h.nhdr > PHONE_HDR_MAX || h.content_length < -2)
			abort();
		for (size_t i = 0; i < h.nhdr; i++) {
			inside(h.hdr[i].name, buf, (size_t)hl);
			inside(h.hdr[i].value, buf, (size_t)hl);
			if (!h.hdr[i].name[0] || strchr(h.hdr[i].name, ':'))
				abort();
		}
		/* Every shorter prefix: "read more", never an answer. */
		for (size_t k = 0; k < (size_t)hl; k += 1 + (size_t)hl / 64) {
			char *p = malloc(k ? k : 1);
			memcpy(p, data, k);
			if (phone_http_parse(p, k, cap, &h) != PHONE_PARSE_MORE)
				abort();
			free(p);
		}
		if (h.chunked)
			chunked((const char *)data + hl, size - (size_t)hl, cap);
	}
	free(buf);
	return 0;
}
