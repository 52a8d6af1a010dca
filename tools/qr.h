/* qr.h: a QR code of one URL on a terminal, or into a new 0600 PNG / SVG file. */
#ifndef SP_QR_H
#define SP_QR_H
#include <stdbool.h>
#include <stdio.h>

enum qr_format { QR_TERM, QR_PNG, QR_SVG };

/* QR_TERM prints to term; the others create path (0600; an existing file
 * only with overwrite).  0, or -1 with err set. */
int qr_write(const char *text, enum qr_format fmt, FILE *term, const char *path, bool overwrite, char *err,
	     size_t errlen);
#endif
