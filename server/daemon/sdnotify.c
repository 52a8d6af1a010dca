/*
 * sdnotify.c: the sd_notify protocol (systemd's sd_notify(3), a stable
 * interface): one datagram "KEY=VALUE\n..." to the AF_UNIX socket whose
 * path is in $NOTIFY_SOCKET, abstract when it starts with '@'.  It passes
 * no file descriptors and has no watchdog: sipprovd needs neither.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"
#include "core/sipprov.h"

int sdnotify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t n;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n < 2 || n >= sizeof(sa.sun_path)) {
		log_warnx("NOTIFY_SOCKET '%s' is not an absolute or abstract socket name", path);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';      /* abstract namespace: no trailing NUL in the length */
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("sd_notify: socket");
		return -1;
	}
	ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	int saved = errno;
	close(fd);
	if (sent < 0) {
		errno = saved;
		log_warn("sd_notify '%s' to '%s'", state, path);
		return -1;
	}
	return 1;
}
