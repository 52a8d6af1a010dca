/*
 * tests/bench/fresh.h: a benchmark's database starts from no file.  Only a
 * regular file is removed: given /dev/null as "no output", fetch_bench run
 * as root once unlinked the device, and the regular file SQLite made in its
 * place broke every later reader of /dev/null (tests/t/8b-bench-tools.sh).
 */
#ifndef SP_BENCH_FRESH_H
#define SP_BENCH_FRESH_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* 0 when PATH is now absent (or a postgresql:// URL, left to the caller);
 * -1, said on stderr, when it names something other than a regular file. */
static int bench_fresh(const char *prog, const char *path)
{
	struct stat st;
	if (!strncmp(path, "postgres", 8) || lstat(path, &st))
		return 0;
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: '%s' is not a regular file: give a database file\n", prog, path);
		return -1;
	}
	if (remove(path)) {
		fprintf(stderr, "%s: cannot remove '%s': %s\n", prog, path, strerror(errno));
		return -1;
	}
	return 0;
}

#endif
