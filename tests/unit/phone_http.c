/*
 * unit/phone_http.c: the own listener's head parser on the bytes where it
 * and libmicrohttpd could part (a bare CR, control bytes in the path); its
 * chunked body decoder against what
 * libmicrohttpd answers the same bytes with (probed on 0.9.75: accepted,
 * 400 or 413), where this decoder is stricter and why, and that a body
 * split at any byte decodes the same as one that came at once.
 */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "daemon/phone_http.h"

#define CAP 2048

static const struct {
	const char *in;
	int rc;
	const char *body;                   /* DONE: the decoded body */
	size_t rest;                        /* DONE: bytes left after it */
	const char *what;
} cases[] = {
	{ "2\r\n{}\r\n0\r\n\r\n", PHONE_CHUNK_DONE, "{}", 0, "one chunk" },
	{ "2\r\n{}\r\n0\r\n\r\nGET /", PHONE_CHUNK_DONE, "{}", 5, "the next request stays" },
	{ "1\r\n{\r\n1\r\n}\r\n0\r\n\r\n", PHONE_CHUNK_DONE, "{}", 0, "two chunks" },
	{ "0\r\n\r\n", PHONE_CHUNK_DONE, "", 0, "an empty body" },
	{ "2;foo=bar\r\n{}\r\n0;x\r\n\r\n", PHONE_CHUNK_DONE, "{}", 0, "extensions read past" },
	{ "2;a\tb;q=\"x;y\"\r\n{}\r\n0\r\n\r\n", PHONE_CHUNK_DONE, "{}", 0, "an extension with a tab and a quote" },
	{ "A\r\n0123456789\r\n0\r\n\r\n", PHONE_CHUNK_DONE, "0123456789", 0, "uppercase hex" },
	{ "0000000000000000000000002\r\n{}\r\n0\r\n\r\n", PHONE_CHUNK_DONE, "{}", 0, "leading zeros" },
	{ "2\n{}\n0\n\n", PHONE_CHUNK_DONE, "{}", 0, "LF alone ends lines" },
	{ "2\r\n{}\r\n0\r\nX-T: 1\r\nY:\r\n\r\n", PHONE_CHUNK_DONE, "{}", 0, "trailers read past" },
	{ "2\r\n{}\r\n0\r\nContent-Length: 5\r\n\r\nGET", PHONE_CHUNK_DONE, "{}", 3, "a trailer frames nothing" },
	{ "2\r\n{\r\n}\r\n0\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "data longer than its size" },
	{ "zz\r\n{}\r\n0\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "not hex" },
	{ "\r\n{}\r\n0\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "an empty size line" },
	{ "-2\r\n{}\r\n", PHONE_CHUNK_BAD, NULL, 0, "a negative size" },
	{ "0x2\r\n{}\r\n", PHONE_CHUNK_BAD, NULL, 0, "a 0x prefix" },
	{ "2 \r\n{}\r\n", PHONE_CHUNK_BAD, NULL, 0, "a space after the size" },
	{ "2 ;x\r\n{}\r\n", PHONE_CHUNK_BAD, NULL, 0, "a space before ';'" },
	{ "2x\r\n{}\r\n", PHONE_CHUNK_BAD, NULL, 0, "junk after the digits" },
	{ "2\r{}\r\n0\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "a bare CR after the size" },
	{ "2\r\r\n{}\r\n", PHONE_CHUNK_BAD, NULL, 0, "CR CR LF" },
	{ "2\r\n{}\r0\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "a bare CR after the data" },
	{ "\r\n2\r\n{}\r\n0\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "a blank line before the size" },
	{ "2\r\n{}\r\n0\r\nbad trailer\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "a trailer line without a colon" },
	{ "10000000000000000\r\n", PHONE_CHUNK_TOO_BIG, NULL, 0, "a size of 2^64: 413" },
	{ "ffffffffffffffffff\r\n", PHONE_CHUNK_TOO_BIG, NULL, 0, "18 hex digits: 413" },
	{ "ffffffffffffffff\r\nab", PHONE_CHUNK_MORE, NULL, 0, "2^64 - 1 is a size (the body caps come later)" },
	{ "0ffffffffffffffff\r\n", PHONE_CHUNK_MORE, NULL, 0, "17 digits with a leading zero" },
	{ "2\r\n{", PHONE_CHUNK_MORE, NULL, 0, "incomplete data" },
	{ "2\r\n{}\r\n0\r\n", PHONE_CHUNK_MORE, NULL, 0, "no blank line after the last chunk yet" },
	/* Stricter than libmicrohttpd, which accepts these: the head parser's
	 * rules, because a bare CR, a NUL or a folded or space-before-colon
	 * line is what request smuggling is made of. */
	{ "2;a\rb\r\n{}\r\n0\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "a bare CR in an extension" },
	{ "2;a\0b\r\n{}\r\n0\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "a NUL in an extension" },
	{ "0\r\nX-T : 1\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "a space before a trailer's colon" },
	{ "0\r\nX-T: 1\r\n  more\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "a folded trailer line" },
	{ "0\r\nX-T: a\0b\r\n\r\n", PHONE_CHUNK_BAD, NULL, 0, "a NUL in a trailer" },
};

/* The NUL cases hold a NUL: their length is up to the last '\n' or '{'. */
static size_t case_len(const char *s, const char *what)
{
	if (!strstr(what, "NUL"))
		return strlen(s);
	size_t n = strlen(s);
	return n + 1 + strlen(s + n + 1);
}

/* Decode in pieces of step bytes; the body in body, returns the verdict. */
static int decode(const char *in, size_t len, size_t step, size_t cap, char *body, size_t *blen, size_t *used)
{
	struct phone_chunked d;
	char buf[4096];
	int rc = PHONE_CHUNK_MORE;
	phone_chunked_init(&d, cap);
	*blen = *used = 0;
	while (*used < len && rc == PHONE_CHUNK_MORE) {
		size_t k = len - *used < step ? len - *used : step, u, o;
		memcpy(buf, in + *used, k);
		rc = phone_chunked_decode(&d, buf, k, &u, &o);
		memcpy(body + *blen, buf, o);
		*blen += o;
		*used += u;
	}
	return rc;
}

/* Heads: where own answers what libmicrohttpd 0.9.75 answers (tests 23
 * and 47 send these through the daemon), and where it stays strict. */
static const struct {
	const char *in;
	long rc;                            /* > 0: parsed */
	const char *url, *ua;               /* parsed: the URL, the User-Agent */
	const char *what;
} heads[] = {
	{ "GET /a.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: Evil\rUA\r\n\r\n", 1, "/a.cfg", "Evil UA",
	  "a bare CR in a value is a space" },
	{ "GET /a.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: u\rContent-Length: 5\r\n\r\n", 1, "/a.cfg",
	  "u Content-Length: 5", "a header after a bare CR stays in the value" },
	{ "GET /a.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: u\r\r\n\r\n", 1, "/a.cfg", "u",
	  "CR CR LF: the extra CR trimmed as a space" },
	{ "GET /x\x1b[2J\x7fy.cfg HTTP/1.1\r\nHost: x\r\n\r\n", 1, "/x\x1b[2J\x7fy.cfg", NULL,
	  "ESC and DEL in the path reach the router (its 404)" },
	{ "GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n", PHONE_PARSE_BAD, NULL, NULL,
	  "a bare CR in the request line: four fields, 400" },
	{ "GET /a.cfg HTTP/1.1\r\nHost: x\r\nX-A\r: 1\r\n\r\n", PHONE_PARSE_BAD, NULL, NULL,
	  "a bare CR in a name: 400" },
	{ "GET /a.cfg HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n", PHONE_PARSE_BAD, NULL, NULL,
	  "a space before the colon: 400" },
	{ "GET /a.cfg HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  2\r\n\r\n", PHONE_PARSE_BAD, NULL, NULL,
	  "a folded line: 400" },
	{ "GET /a.cfg HTTP/1.1\r\nX-A: 1\r\n\r\n", PHONE_PARSE_BAD, NULL, NULL, "HTTP/1.1 without Host: 400" },
	{ "GET /a.cfg HTTP/2.0\r\nHost: x\r\n\r\n", PHONE_PARSE_VERSION, NULL, NULL, "HTTP/2.0 on /1: 505" },
};

static void test_heads(void)
{
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		char buf[512];
		struct phone_head h;
		size_t n = strlen(heads[i].in);
		memcpy(buf, heads[i].in, n + 1);
		long rc = phone_http_parse(buf, n, sizeof(buf), &h);
		if (heads[i].rc <= 0) {
			is_int(rc, heads[i].rc, "%s", heads[i].what);
			continue;
		}
		is_int(rc, (long)n, "%s: parsed", heads[i].what);
		if (rc <= 0)
			continue;
		is_str(h.url, heads[i].url, "%s: the URL", heads[i].what);
		const char *ua = NULL;
		for (size_t k = 0; k < h.nhdr; k++)
			if (!strcmp(h.hdr[k].name, "User-Agent"))
				ua = h.hdr[k].value;
		if (heads[i].ua)
			is_str(ua ? ua : "(none)", heads[i].ua, "%s: the value", heads[i].what);
	}
	/* A NUL anywhere in the head is a 400. */
	char nul[] = "GET /a.cfg HTTP/1.1\r\nHost: x\0y\r\n\r\n";
	struct phone_head h;
	is_int(phone_http_parse(nul, sizeof(nul) - 1, sizeof(nul), &h), PHONE_PARSE_BAD, "a NUL in a value: 400");
}

int main(void)
{
	char body[4096], want[4096];
	size_t blen, used;
	test_heads();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = case_len(cases[i].in, cases[i].what);
		int rc = decode(cases[i].in, len, len, CAP, body, &blen, &used);
		is_int(rc, cases[i].rc, "%s: verdict", cases[i].what);
		if (cases[i].rc == PHONE_CHUNK_DONE) {
			body[blen] = '\0';
			is_str(body, cases[i].body, "%s: body", cases[i].what);
			is_int(len - used, cases[i].rest, "%s: bytes after the body", cases[i].what);
		}
		/* Any split gives the same: a slow client, a fast one. */
		bool same = true;
		for (size_t step = 1; step < len; step++) {
			size_t b2, u2;
			int r2 = decode(cases[i].in, len, step, CAP, want, &b2, &u2);
			same &= r2 == rc && (rc < 0 || (b2 == blen && u2 == used && !memcmp(want, body, blen)));
		}
		ok(same, "%s: the same split at every byte", cases[i].what);
	}

	/* The caps: a size line (extensions too) over cap is 400 (libmicrohttpd
	 * accepts ~20 KB of extension and answers 500 past its memory pool);
	 * trailers past cap bytes or PHONE_HDR_MAX lines are 431, as there. */
	char in[8192];
	size_t n = (size_t)snprintf(in, sizeof(in), "2;");
	memset(in + n, 'e', 100);
	n += 100;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n{}\r\n0\r\n\r\n");
	is_int(decode(in, n, n, 128, body, &blen, &used), PHONE_CHUNK_DONE, "an extension within the cap");
	is_int(decode(in, n, n, 64, body, &blen, &used), PHONE_CHUNK_BAD, "an extension past the cap: 400");
	n = (size_t)snprintf(in, sizeof(in), "0\r\n");
	for (int k = 0; k < PHONE_HDR_MAX; k++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "X: y\r\n");
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n");
	is_int(decode(in, n, n, CAP, body, &blen, &used), PHONE_CHUNK_DONE, "%d trailer lines", PHONE_HDR_MAX);
	is_int(decode(in, n, n, 100, body, &blen, &used), PHONE_CHUNK_TRAILER_BIG, "trailers past the cap: 431");
	n = (size_t)snprintf(in, sizeof(in), "0\r\n");
	for (int k = 0; k <= PHONE_HDR_MAX; k++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "X: y\r\n");
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n");
	is_int(decode(in, n, n, CAP, body, &blen, &used), PHONE_CHUNK_TRAILER_BIG, "%d trailer lines: 431",
	       PHONE_HDR_MAX + 1);
	return tap_done();
}
