/*
 * replay.c: a main() for the libFuzzer targets so `make test` replays each
 * committed corpus (tests/fuzz/corpus/NAME/) without clang's libFuzzer.
 * Prints TAP: one line per target.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d) {
		printf("not ok - corpus %s missing\n", dir);
		return 1;
	}
	while ((e = readdir(d))) {
		char path[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		uint8_t *buf = malloc(1 << 20);
		size_t len = fread(buf, 1, 1 << 20, f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		n++;
	}
	closedir(d);
	printf("%s - %d inputs replayed from %s\n", n > 0 ? "ok" : "not ok", n, dir);
	return n > 0 ? 0 : 1;
}
