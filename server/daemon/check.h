/*
 * check.h: sipprovd -n (check.c): what a start would meet, checked
 * without creating or changing anything.
 */
#ifndef SP_CHECK_H
#define SP_CHECK_H
#include "core/sipprov.h"

/* Check conf's database (read-only; key, when not NULL, must be its key;
 * NULL: the key file did not load, key_err says why), listen
 * addresses (bind and close), TLS certificate and key, HEP listener.  Each
 * problem is one "error: ..." line on stderr naming the key; notes go to
 * stdout.  Returns the number of problems (0: a start would get past them). */
int daemon_check(const struct conf *conf, const char *key_file, const unsigned char *key, const char *key_err);
#endif
