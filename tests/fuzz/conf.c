/*
 * fuzz/conf.c: sipprovd.conf parsing on arbitrary bytes, through the real
 * file reader (conf_load on a memfd) and the -o path (conf_set per line).
 * Checks its promises: every string key stays NUL-terminated within its
 * field, and an error always says why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/sipprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct conf *c)
{
	if (strnlen(c->database, sizeof(c->database)) == sizeof(c->database) ||
	    strnlen(c->http_listen, sizeof(c->http_listen)) == sizeof(c->http_listen) ||
	    strnlen(c->api_token, sizeof(c->api_token)) == sizeof(c->api_token) ||
	    strnlen(c->log_level, sizeof(c->log_level)) == sizeof(c->log_level))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	char err[SP_ERR_MAX], path[64];
	int fd = memfd_create("conf", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		conf_init(&c);
		err[0] = '\0';
		if (conf_load(&c, path, err, sizeof(err)) < 0 && !err[0])
			abort();
		check(&c);
	}
	close(fd);
	/* The same bytes as -o options, one per line. */
	char *s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	conf_init(&c);
	for (char *save = NULL, *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		err[0] = '\0';
		if (conf_set(&c, line, err, sizeof(err)) < 0 && !err[0])
			abort();
	}
	check(&c);
	free(s);
	return 0;
}
