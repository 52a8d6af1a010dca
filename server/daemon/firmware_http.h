/* firmware_http.h: GET/HEAD /fw/<sha256>/<name>: firmware files with Range and ETag. */
#ifndef SP_FIRMWARE_HTTP_H
#define SP_FIRMWARE_HTTP_H
#include <stdint.h>
#include "core/sipprov.h"
#include "phone_req.h"

/* One Range header against a size: 0 whole file (no header, several
 * ranges, or one we do not understand: RFC 9110 lets us ignore it),
 * 1 the part [*off, *off + *len), -1 unsatisfiable (416). */
int firmware_range(const char *hdr, uint64_t size, uint64_t *off, uint64_t *len);

/* Answer a /fw/ URL: the file whose SHA-256 is the first segment, if the
 * firmware table has it (any phone may fetch: images are the vendor's
 * public files, and the name is their checksum) and dir holds it with
 * that SHA-256 (checked once per file version); else 404, logged once per
 * image when the table has it.  dir "" or NULL: no folder (PostgreSQL
 * without firmware_dir).  The answer goes in q->resp (an image as an open
 * file, q->resp.file, which the listener sends and closes), whichever
 * listener parsed q; returns its status, with the body's bytes in *bytes
 * for the access log. */
unsigned firmware_serve(struct phone_req *q, struct store *s, const char *dir, const char *url, uint64_t *bytes);
#endif
