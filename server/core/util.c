/*
 * util.c: allocation that aborts on failure (Redis zmalloc style), bounded
 * strings, MAC normalization and a capped output buffer (curl dynbuf style).
 * Nothing here allocates on behalf of a library or touches I/O; it asks
 * the kernel for the CPUs the thread may use (sp_cpus_usable).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sipprov.h"

static void oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom(n * m);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

size_t sp_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size) {
		size_t k = n < size - 1 ? n : size - 1;
		memcpy(dst, src, k);
		dst[k] = '\0';
	}
	return n;
}

char *sp_ltoa(long v, char *out, size_t size)
{
	char d[24];
	size_t n = 0;
	unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
	do
		d[n++] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		d[n++] = '-';
	size_t o = 0;
	while (n && o + 1 < size)
		out[o++] = d[--n];
	if (size)
		out[o] = '\0';
	return out;
}

size_t sp_cat(char *out, size_t size, ...)
{
	va_list ap;
	size_t o = 0;
	if (!size)
		return 0;
	va_start(ap, size);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
		size_t n = strlen(s);
		if (n > size - 1 - o)
			n = size - 1 - o;
		memcpy(out + o, s, n);
		o += n;
	}
	va_end(ap);
	out[o] = '\0';
	return o;
}

int sp_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int sp_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mac_normalize(const char *in, char out[SP_MAC_LEN + 1])
{
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		if (*p == ':' || *p == '-' || *p == '.')
			continue;
		int v = sp_hexval((unsigned char)*p);
		if (v < 0 || n == SP_MAC_LEN)
			return -1;
		out[n++] = "0123456789abcdef"[v];
	}
	if (n != SP_MAC_LEN)
		return -1;
	out[n] = '\0';
	return 0;
}

int sp_parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	if (!s || !*s || strlen(s) > 20)
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int64_t sp_now(void)
{
	return (int64_t)time(NULL);
}

int64_t sp_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec sp_clock_after(clockid_t clk, long ms)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += ms % 1000 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

unsigned sp_cpus_usable(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* Length of the well-formed UTF-8 sequence at p (2-4; no overlongs, no
 * surrogates, nothing past U+10FFFF) with its code point, or 0. */
static int utf8_seq(const unsigned char *p, unsigned *cpo)
{
	unsigned c = *p, cp;
	int n;
	if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
	else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
	else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
	else return 0;
	for (int i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cpo = cp;
	return n + 1;
}

bool sp_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p, cp;
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return false;
			p++;
			continue;
		}
		int n = utf8_seq(p, &cp);
		if (!n)
			return false;
		p += n;
	}
	return true;
}

char *sp_text_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;
	while (*p) {
		unsigned cp;
		int n = *p < 0x80 ? 1 : utf8_seq(p, &cp);
		if (n == 1 && ((*p < 0x20 && *p != '\t') || *p == 0x7f))
			n = 0;
		if (!n)
			*p++ = '?';
		else
			p += n;
	}
	return s;
}

/* Code points a terminal or a log viewer acts on: C1 controls (8-bit CSI
 * is U+009B), line/paragraph separators and the bidi overrides and
 * isolates (text that displays in another order than it reads). */
static bool cp_dangerous(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

char *sp_ipv4_str(const unsigned char a[4], char out[16])
{
	char *o = out;
	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (v >= 100)
			*o++ = (char)('0' + v / 100);
		if (v >= 10)
			*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
		*o++ = i < 3 ? '.' : '\0';
	}
	return out;
}

const char *sp_log_escape(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t o = 0;
	if (!size)
		return out;
	while (*p) {
		unsigned c = *p, cp = 0;
		int n = c < 0x80 ? 1 : utf8_seq(p, &cp);
		bool plain = c < 0x80 ? (c >= 0x20 && c != 0x7f && c != '"' && c != '\'' && c != '\\')
				      : (n > 0 && !cp_dangerous(cp));
		if (plain) {
			if (o + (size_t)n >= size)
				break;
			memcpy(out + o, p, (size_t)n);
			o += (size_t)n;
			p += n;
			continue;
		}
		/* Escape every byte of what is not plain, one at a time: an
		 * invalid sequence may be one bad byte before valid text. */
		n = n > 0 ? n : 1;
		if (o + 4 * (size_t)n >= size)
			break;
		for (int i = 0; i < n; i++) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 15];
		}
		p += n;
	}
	out[o] = '\0';
	return out;
}

void sp_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[in[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int sp_hex_decode(const char *hex, size_t hexlen, unsigned char *out, size_t n)
{
	if (hexlen != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = sp_hexval((unsigned char)hex[2 * i]), lo = sp_hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

size_t sp_redact_path(const char *path, char *out, size_t size)
{
	static const char mark[] = "<redacted>";
	size_t o = 0;
	if (!size)
		return 0;
	for (const char *p = path; *p;) {
		size_t run = 0;
		while (sp_hexval((unsigned char)p[run]) >= 0)
			run++;
		if (run >= SP_REDACT_HEX) {
			for (size_t i = 0; mark[i] && o + 1 < size; i++)
				out[o++] = mark[i];
			p += run;
		} else if (run) {
			for (size_t i = 0; i < run && o + 1 < size; i++)
				out[o++] = p[i];
			p += run;
		} else {
			if (o + 1 < size)
				out[o++] = *p;
			p++;
		}
	}
	out[o] = '\0';
	return o;
}

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void buf_release(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->overflow)
		return;
	if (b->len + n > b->max) {
		b->overflow = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		buf_add(b, tmp, (size_t)n);
		return;
	}
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_add(b, big, (size_t)n);
	free(big);
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *d = b->data ? b->data : xstrdup("");
	if (len)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return d;
}
