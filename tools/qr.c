/*
 * qr.c: a QR code of one provisioning URL, for `sipprov account qr`: on a
 * terminal (UTF-8 half blocks), as PNG or as SVG.  libqrencode makes the
 * matrix; the PNG writer is ours (1-bit grey, stored deflate blocks: a QR
 * image is a few kB, so compression buys nothing worth a dependency).
 * It does not decide what goes in the code: the caller builds the URL.
 */
#include <errno.h>
#include <fcntl.h>
#include <qrencode.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qr.h"
#include "core/sipprov.h"

#define QUIET 4                                 /* modules of white border (ISO/IEC 18004) */
#define SCALE 8                                 /* PNG pixels per module */

static bool dark(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return false;
	return q->data[y * q->width + x] & 1;
}

/* Light modules as blocks, dark as spaces: the convention of qrencode's
 * UTF8 output, made for the usual dark terminal background. */
static void put_term(const QRcode *q, FILE *out)
{
	/* index: top dark << 1 | bottom dark; U+2588 full, U+2580 upper, U+2584 lower half */
	static const char *cell[4] = { "\xe2\x96\x88", "\xe2\x96\x80", "\xe2\x96\x84", " " };
	for (int y = -QUIET; y < q->width + QUIET; y += 2) {
		for (int x = -QUIET; x < q->width + QUIET; x++)
			fputs(cell[dark(q, x, y) << 1 | dark(q, x, y + 1)], out);
		fputc('\n', out);
	}
}

static void put_svg(const QRcode *q, FILE *out)
{
	int n = q->width + 2 * QUIET;
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 %d %d\" "
		     "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">\n"
		     "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"",
		n, n, n * SCALE, n * SCALE, n, n);
	for (int y = 0; y < q->width; y++)
		for (int x = 0; x < q->width; x++)
			if (dark(q, x, y))
				fprintf(out, "M%d %dh1v1h-1z", x + QUIET, y + QUIET);
	fputs("\"/>\n</svg>\n", out);
}

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static void chunk(FILE *out, const char type[4], const unsigned char *data, size_t n)
{
	unsigned char hdr[8];
	be32(hdr, (uint32_t)n);
	memcpy(hdr + 4, type, 4);
	uint32_t crc = crc32_update(crc32_update(0, hdr + 4, 4), data, n);
	fwrite(hdr, 1, 8, out);
	fwrite(data, 1, n, out);
	be32(hdr, crc);
	fwrite(hdr, 1, 4, out);
}

/* PNG (RFC 2083): 1-bit greyscale, filter 0 rows, zlib stream of stored blocks. */
static void put_png(const QRcode *q, FILE *out)
{
	uint32_t px = (uint32_t)(q->width + 2 * QUIET) * SCALE, stride = 1 + (px + 7) / 8;
	size_t raw_n = (size_t)stride * px;
	unsigned char *raw = xcalloc(raw_n, 1);
	for (uint32_t y = 0; y < px; y++) {
		unsigned char *row = raw + (size_t)y * stride + 1;
		for (uint32_t x = 0; x < px; x++)
			if (!dark(q, (int)(x / SCALE) - QUIET, (int)(y / SCALE) - QUIET))
				row[x / 8] |= (unsigned char)(0x80 >> (x % 8));     /* 1 = white */
	}
	size_t blocks = raw_n / 65535 + 1, z_n = 2 + raw_n + 5 * blocks + 4, o = 0;
	unsigned char *z = xmalloc(z_n);
	uint32_t a = 1, b = 0;
	z[o++] = 0x78, z[o++] = 0x01;                               /* deflate, 32K window, no dict */
	size_t off = 0;
	do {
		size_t len = raw_n - off > 65535 ? 65535 : raw_n - off;
		z[o++] = off + len == raw_n;                        /* BFINAL, BTYPE 00 (stored) */
		z[o++] = (unsigned char)len, z[o++] = (unsigned char)(len >> 8);
		z[o++] = (unsigned char)~len, z[o++] = (unsigned char)(~len >> 8);
		memcpy(z + o, raw + off, len);
		o += len, off += len;
	} while (off < raw_n);
	for (size_t i = 0; i < raw_n; i++)
		a = (a + raw[i]) % 65521, b = (b + a) % 65521;
	be32(z + o, b << 16 | a);
	o += 4;
	unsigned char ihdr[13] = { 0 };
	be32(ihdr, px), be32(ihdr + 4, px);
	ihdr[8] = 1;                                                /* bit depth 1, colour type 0 */
	fwrite("\x89PNG\r\n\x1a\n", 1, 8, out);
	chunk(out, "IHDR", ihdr, sizeof(ihdr));
	chunk(out, "IDAT", z, o);
	chunk(out, "IEND", NULL, 0);
	free(z);
	free(raw);
}

int qr_write(const char *text, enum qr_format fmt, FILE *term, const char *path, bool overwrite, char *err,
	     size_t errlen)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q)
		return sp_err(err, errlen, "cannot encode a QR code: %s", strerror(errno));
	if (fmt == QR_TERM) {
		put_term(q, term);
		QRcode_free(q);
		return 0;
	}
	/* The code carries a secret URL: the file is the owner's alone. */
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL), 0600);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		QRcode_free(q);
		return sp_err(err, errlen, "cannot create '%s': %s%s", path, strerror(e),
			      e == EEXIST ? " (--force replaces it)" : "");
	}
	if (fchmod(fd, 0600) < 0) {
		int e = errno;
		fclose(f);
		QRcode_free(q);
		return sp_err(err, errlen, "cannot make '%s' private: %s", path, strerror(e));
	}
	(fmt == QR_PNG ? put_png : put_svg)(q, f);
	QRcode_free(q);
	if (ferror(f) | (fclose(f) != 0)) {
		unlink(path);
		return sp_err(err, errlen, "cannot write '%s': %s", path, strerror(errno));
	}
	return 0;
}
