/*
 * private.c: files that hold secrets (the database and its -wal/-shm, the
 * access log) are created mode 0600 whatever the umask, and a start-up
 * check says when an existing one is readable by group or others.  It
 * never changes the mode of a file that already exists: an admin may have
 * chosen 0640 for a service group, and the warning tells them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sipprov.h"

int private_create(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : sp_err(err, errlen, "cannot create '%s': %s", path, strerror(errno));
	close(fd);
	return 0;
}

FILE *private_append_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "a");
	if (!f)
		close(fd);
	return f;
}

bool private_readable(const char *path, unsigned *mode)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return false;
	*mode = (unsigned)(st.st_mode & 07777);
	return (st.st_mode & 007) != 0;   /* the service group may share it (0660, make install) */
}
