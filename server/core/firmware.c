/*
 * firmware.c: firmware image files, kept once each in one folder as
 * <sha256> (content-addressed: the name is the check, so copying the
 * folder between nodes with rsync is safe).  The folder is firmware_dir
 * from sipprovd.conf, else firmware/ beside a SQLite file.  Adding copies
 * while hashing, then renames into place, so a crash leaves no half file
 * under a real name.  The table of what is what is in store_firmware.c;
 * serving is the daemon's.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sipprov.h"

int firmware_dir(const char *db_path, const char *configured, char *out, size_t n)
{
	int len;
	if (configured && *configured) {
		len = snprintf(out, n, "%s", configured);
		return len < 0 || (size_t)len >= n ? -1 : 0;
	}
	/* A URL is no folder (and carries a password), and nodes sharing a
	 * PostgreSQL database share no disk unless one is named for them. */
	if (store_is_pg_url(db_path)) {
		if (n)
			out[0] = '\0';
		return -1;
	}
	const char *slash = strrchr(db_path, '/');
	len = slash ? snprintf(out, n, "%.*s/firmware", (int)(slash - db_path), db_path)
		    : snprintf(out, n, "firmware");
	return len < 0 || (size_t)len >= n ? -1 : 0;
}

bool firmware_sha_ok(const char *sha)
{
	size_t i = 0;
	for (; sha[i]; i++)
		if (!((sha[i] >= '0' && sha[i] <= '9') || (sha[i] >= 'a' && sha[i] <= 'f')))
			return false;
	return i == 64;
}

int firmware_file(const char *dir, const char *sha, char *out, size_t n)
{
	if (!firmware_sha_ok(sha))
		return -1;
	int len = snprintf(out, n, "%s/%s", dir, sha);
	return len < 0 || (size_t)len >= n ? -1 : 0;
}

int firmware_import(const char *dir, const char *src, char sha[65], int64_t *size, char *err, size_t errlen)
{
	char tmp[4096], dst[4096];
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	ssize_t r = 0;
	int in, out;
	bool ok = true;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return sp_err(err, errlen, "cannot create the firmware folder '%s': %s", dir, strerror(errno));
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return sp_err(err, errlen, "cannot read '%s': %s", src, strerror(errno));
	struct stat st;
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(in);
		return sp_err(err, errlen, "'%s' is not a regular file", src);
	}
	snprintf(tmp, sizeof(tmp), "%s/.add-XXXXXX", dir);
	if ((out = mkstemp(tmp)) < 0) {
		close(in);
		return sp_err(err, errlen, "cannot write in '%s': %s", dir, strerror(errno));
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	*size = 0;
	while (ok && (r = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t o = 0, w; ok && o < r; o += w)
			ok = (w = write(out, buf + o, (size_t)(r - o))) > 0;
		ok = ok && EVP_DigestUpdate(ctx, buf, (size_t)r);
		*size += r;
	}
	int e = r < 0 ? errno : ok ? 0 : errno ? errno : EIO;
	ok = ok && r == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) && fchmod(out, 0640) == 0 && fsync(out) == 0;
	EVP_MD_CTX_free(ctx);
	close(in);
	if (close(out) < 0)
		ok = false;
	if (ok) {
		sp_hex(md, mdlen, sha);
		snprintf(dst, sizeof(dst), "%s/%s", dir, sha);
		ok = rename(tmp, dst) == 0;     /* same bytes if dst exists: replacing it is harmless */
		e = errno;
	}
	if (!ok) {
		unlink(tmp);
		return sp_err(err, errlen, "cannot store '%s' under '%s': %s", src, dir, strerror(e ? e : EIO));
	}
	return 0;
}
