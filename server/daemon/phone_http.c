/*
 * phone_http.c: parses one HTTP/1.0 or 1.1 request head (request line and
 * header lines) in place for phone_listen.c.  Strict where laxness is
 * smuggling material (a space before a header's colon, folded lines, a
 * NUL, a request line that is not three fields); lenient where phones are
 * (LF without CR ends a line, a bare CR is a space, control bytes in the
 * path reach the router, as libmicrohttpd accepts them).  It also decodes
 * chunked request bodies, as strictly, and a bare CR there is a 400 (a
 * chunk's size line is framing).  It does not read
 * sockets, decide framing beyond reporting it, or route.
 */
#include <string.h>
#include <strings.h>

#include "core/sipprov.h"
#include "phone_http.h"

static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* End of the head: the index just past the blank line, or 0. */
static size_t head_end(const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (b[i] != '\n')
			continue;
		if (i + 1 < len && b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Cut the line starting at *p (ended by LF, CR LF) into a string; advance
 * *p past it.  A bare CR inside becomes a space (RFC 9112 2.2 lets a
 * recipient do so): it cannot end a line here, so a header after it is
 * part of the value, and a request line with one has four fields (400).
 * false on a NUL inside. */
static bool take_line(char **p, char *end, char **line)
{
	char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	if (!nl)
		return false;
	char *e = nl;
	if (e > s && e[-1] == '\r')
		e--;
	for (char *c = s; c < e; c++) {
		if (*c == '\0')
			return false;
		if (*c == '\r')
			*c = ' ';
	}
	*e = '\0';
	*line = s;
	*p = nl + 1;
	return true;
}

static bool has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);
	while (*v) {
		v += strspn(v, " \t,");
		size_t l = strcspn(v, ",");
		size_t t = l;
		while (t && (v[t - 1] == ' ' || v[t - 1] == '\t'))
			t--;
		if (t == n && !strncasecmp(v, tok, n))
			return true;
		v += l;
	}
	return false;
}

long phone_http_parse(char *buf, size_t len, size_t cap, struct phone_head *h)
{
	size_t lim = len < cap ? len : cap, lead = 0;
	/* RFC 9112 2.2: empty lines before the request line are ignored (a
	 * client's CRLF after a previous body). */
	while (lead < lim && (buf[lead] == '\n' || (buf[lead] == '\r' && lead + 1 < lim && buf[lead + 1] == '\n')))
		lead += buf[lead] == '\n' ? 1 : 2;
	size_t hl = head_end(buf + lead, lim - lead);
	if (!hl)
		return len >= cap ? PHONE_PARSE_TOO_BIG : PHONE_PARSE_MORE;
	hl += lead;
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	char *p = buf + lead, *end = buf + hl, *line;
	if (!take_line(&p, end, &line) || !line[0])
		return PHONE_PARSE_BAD;
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line || sp2 == sp1 + 1)
		return PHONE_PARSE_BAD;
	*sp1 = *sp2 = '\0';
	for (char *c = line; *c; c++)
		if (!tchar((unsigned char)*c))
			return PHONE_PARSE_BAD;
	h->method = line;
	h->url = sp1 + 1;
	h->proto = sp2 + 1;
	if (!strcmp(h->proto, "HTTP/1.1"))
		h->keep_alive = true;
	else if (!strcmp(h->proto, "HTTP/1.0"))
		h->http10 = true;
	else if (!strncmp(h->proto, "HTTP/", 5))
		return PHONE_PARSE_VERSION;
	else
		return PHONE_PARSE_BAD;
	char *q = strchr(sp1 + 1, '?');
	if (q)
		*q = '\0';
	bool host = false;
	while (p < end) {
		if (!take_line(&p, end, &line))
			return PHONE_PARSE_BAD;
		if (!line[0])
			break;
		/* Folded continuation lines (obs-fold) are refused, RFC 9112 5.2. */
		if (line[0] == ' ' || line[0] == '\t')
			return PHONE_PARSE_BAD;
		char *colon = strchr(line, ':');
		if (!colon || colon == line)
			return PHONE_PARSE_BAD;
		*colon = '\0';
		for (char *c = line; *c; c++)
			if (!tchar((unsigned char)*c))
				return PHONE_PARSE_BAD;
		char *v = colon + 1, *ve = v + strlen(v);
		while (*v == ' ' || *v == '\t')
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			*--ve = '\0';
		if (h->nhdr == PHONE_HDR_MAX)
			return PHONE_PARSE_TOO_BIG;
		h->hdr[h->nhdr].name = line;
		h->hdr[h->nhdr++].value = v;
		if (!strcasecmp(line, "Host")) {
			host = true;
		} else if (!strcasecmp(line, "Content-Length")) {
			/* A second one or a list is left to http.c's framing check
			 * (400 and close); here only one plain number counts. */
			long long n = 0;
			bool ok = *v && strspn(v, "0123456789") == strlen(v) && strlen(v) <= 15;
			for (const char *c = v; ok && *c; c++)
				n = n * 10 + (*c - '0');
			h->content_length = ok && h->content_length == -1 ? n : -2;
		} else if (!strcasecmp(line, "Transfer-Encoding")) {
			h->chunked = true;
		} else if (!strcasecmp(line, "Connection")) {
			if (has_token(v, "close"))
				h->keep_alive = false;
			else if (h->http10 && has_token(v, "keep-alive"))
				h->keep_alive = true;
		}
	}
	/* RFC 9112 3.2: an HTTP/1.1 request without Host is a 400 (as
	 * libmicrohttpd answers it). */
	if (!host && !h->http10)
		return PHONE_PARSE_BAD;
	return (long)hl;
}

/* ---- chunked bodies ---- */

enum {
	CH_SIZE,                            /* the size's hex digits; d->line counts them */
	CH_EXT,                             /* after ';': an extension, read past */
	CH_SIZE_LF,                         /* CR seen: LF must follow */
	CH_DATA,
	CH_DATA_END,                        /* the chunk's CRLF (or LF) */
	CH_DATA_LF,
	CH_TRAILER,                         /* at the start of a trailer line, or the blank line */
	CH_TNAME,                           /* a trailer field's name, up to ':' */
	CH_TVALUE,
	CH_TVALUE_LF,
	CH_END_LF,                          /* the blank line's CR seen */
	CH_DONE,
};

void phone_chunked_init(struct phone_chunked *d, size_t cap)
{
	memset(d, 0, sizeof(*d));
	d->state = CH_SIZE;
	d->cap = cap;
}

/* The size line ended: a chunk's data next, or the trailers after the last. */
static void size_done(struct phone_chunked *d)
{
	d->state = d->left ? CH_DATA : CH_TRAILER;
	d->line = 0;
}

int phone_chunked_decode(struct phone_chunked *d, char *buf, size_t len, size_t *used, size_t *out)
{
	size_t i = 0, o = 0;
	int rc = PHONE_CHUNK_MORE;
	while (i < len && rc == PHONE_CHUNK_MORE) {
		if (d->state == CH_DATA) {
			size_t n = len - i < d->left ? len - i : (size_t)d->left;
			memmove(buf + o, buf + i, n);
			o += n;
			i += n;
			d->left -= n;
			if (!d->left)
				d->state = CH_DATA_END;
			continue;
		}
		unsigned char c = (unsigned char)buf[i++];
		if (d->state >= CH_TRAILER && d->state <= CH_END_LF && ++d->trailer > d->cap) {
			rc = PHONE_CHUNK_TRAILER_BIG;
			break;
		}
		if ((d->state == CH_SIZE || d->state == CH_EXT) && ++d->line > d->cap) {
			rc = PHONE_CHUNK_BAD;
			break;
		}
		switch (d->state) {
		case CH_SIZE: {
			int v = sp_hexval(c);
			if (v >= 0) {
				/* Leading zeros are fine (libmicrohttpd's rule): only
				 * a value past 64 bits is too large. */
				if (d->left >> 60) {
					rc = PHONE_CHUNK_TOO_BIG;
					break;
				}
				d->left = d->left << 4 | (uint64_t)v;
			} else if (d->line == 1) {
				rc = PHONE_CHUNK_BAD;       /* no digit: empty, '-', ' ', "0x"'s 'x' ... */
			} else if (c == ';') {
				d->state = CH_EXT;
			} else if (c == '\r') {
				d->state = CH_SIZE_LF;
			} else if (c == '\n') {
				size_done(d);
			} else {
				rc = PHONE_CHUNK_BAD;       /* a space before ';', junk after the digits */
			}
			break;
		}
		case CH_EXT:
			if (c == '\r')
				d->state = CH_SIZE_LF;
			else if (c == '\n')
				size_done(d);
			else if (!c)
				rc = PHONE_CHUNK_BAD;
			break;
		case CH_SIZE_LF:
			if (c == '\n')
				size_done(d);
			else
				rc = PHONE_CHUNK_BAD;       /* a bare CR */
			break;
		case CH_DATA_END:
			if (c == '\r')
				d->state = CH_DATA_LF;
			else if (c == '\n')
				d->state = CH_SIZE;
			else
				rc = PHONE_CHUNK_BAD;       /* data longer than its size said */
			break;
		case CH_DATA_LF:
			if (c == '\n')
				d->state = CH_SIZE;
			else
				rc = PHONE_CHUNK_BAD;
			break;
		case CH_TRAILER:
			if (c == '\r') {
				d->state = CH_END_LF;
			} else if (c == '\n') {
				d->state = CH_DONE;
				rc = PHONE_CHUNK_DONE;
			} else if (!tchar(c)) {
				rc = PHONE_CHUNK_BAD;       /* folded (obs-fold) or junk */
			} else if (++d->ntrailer > PHONE_HDR_MAX) {
				rc = PHONE_CHUNK_TRAILER_BIG;
			} else {
				d->state = CH_TNAME;
			}
			break;
		case CH_TNAME:
			if (c == ':')
				d->state = CH_TVALUE;
			else if (!tchar(c))
				rc = PHONE_CHUNK_BAD;       /* a space before the colon, no colon */
			break;
		case CH_TVALUE:
			if (c == '\r')
				d->state = CH_TVALUE_LF;
			else if (c == '\n')
				d->state = CH_TRAILER;
			else if (!c)
				rc = PHONE_CHUNK_BAD;
			break;
		case CH_TVALUE_LF:
			if (c == '\n')
				d->state = CH_TRAILER;
			else
				rc = PHONE_CHUNK_BAD;
			break;
		case CH_END_LF:
			if (c == '\n') {
				d->state = CH_DONE;
				rc = PHONE_CHUNK_DONE;
			} else {
				rc = PHONE_CHUNK_BAD;
			}
			break;
		default:
			rc = PHONE_CHUNK_BAD;           /* fed after DONE: a caller's bug */
			break;
		}
	}
	*used = i;
	*out = o;
	return rc;
}
