/*
 * cli.h: what every `sipprov` command shares: the open store and key, the
 * option parser, output helpers and exit codes (0 ok, 1 user error naming
 * the field, 2 usage).  Commands live in tools/cmd_*.c, one noun per file,
 * and are listed once in tools/commands.def.
 */
#ifndef SP_CLI_H
#define SP_CLI_H
#include <stdio.h>
#include "core/sipprov.h"

#define EXIT_USER  1
#define EXIT_USAGE 2

struct cli {
	const char *db_path;                /* -d, SIPPROV_DB, the config's database, or sipprov.db */
	const char *conf_file;              /* the configuration file read, or NULL */
	const char *key_file;               /* the config's key_file when the database came from it */
	const char *templates_dir;          /* SIPPROV_TEMPLATES, the config's templates, ./templates */
	const char *public_url;             /* the config's public_url (as sipprovd writes it into configs), or "" */
	const char *firmware_dir;           /* the config's firmware_dir (where sipprovd serves images from), or NULL */
	struct store *store;                /* opened by cli_open */
	unsigned char key[SP_KEY_LEN];
	bool have_key;
	bool key_unreadable;                /* the key file exists but this user may not read it */
	struct layouts *layouts;            /* loaded by cli_layouts */
	bool json;                          /* --json anywhere on the line */
	bool show_secrets;                  /* --show-secrets anywhere */
	bool force;                         /* --force anywhere */
	char actor[SP_SLUG_MAX];            /* who, for the audit log: $SUDO_USER/$USER */
};

/* Open the database (and the key file beside it, if present, checked
 * against the database's key check value).  Prints the error; returns 0
 * or EXIT_USER. */
int cli_open(struct cli *c);
/* Same, and the key must exist (commands that read or write passwords). */
int cli_open_key(struct cli *c);
/* The key file of c->db_path: $SIPPROV_KEY_FILE, $SIPPROV_KEY, the config's
 * key_file, or DATABASE.key. */
void cli_key_path(const struct cli *c, char *out, size_t n);
/* "warning: SUBJECT: layout 'x' cannot express ..." to stderr, one line
 * per setting l cannot express (layout_warnings); seen (a JSON object, may
 * be NULL) drops lines already printed.  Returns how many were printed. */
size_t cli_warn_layout(const char *subject, const struct layout *l, json_t *settings, json_t *seen);
/* Layouts from c->templates_dir, loaded once; NULL after printing why. */
const struct layouts *cli_layouts(struct cli *c);

enum { OPT_STR, OPT_FLAG, OPT_LIST, OPT_LONG };
struct cli_opt {
	const char *name;                   /* "--tenant" */
	int type;
	void *out;                          /* const char **, bool *, struct buf * (comma list), long * */
	long min, max;                      /* OPT_LONG range */
};
/* Parse argv (after the command words): options anywhere, the rest
 * positional into pos[maxpos].  Returns 0, or EXIT_USAGE after printing
 * "usage: ..." with the given usage line. */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, char **pos, int maxpos, int *npos,
	      const char *usage);
int cli_usage(const char *usage);
/* "error: ..." to stderr; returns EXIT_USER. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a JSON document (steals it) to stdout, newline-terminated. */
void cli_json_out(json_t *doc);
/* Load tenant by slug or fail naming it; 0 or EXIT_USER. */
int cli_tenant(struct cli *c, const char *slug, struct tenant *t);
int cli_tenant_by_id(struct cli *c, int64_t id, struct tenant *t);
/* Load device by any MAC spelling or fail naming it; 0 or EXIT_USER. */
int cli_device(struct cli *c, const char *mac, struct device *d);

/* tools/help.c: each noun's usage with examples, and did-you-mean. */
/* Print NOUN's help to f; -1 when NOUN is no command. */
int cli_help_noun(const char *noun, FILE *f);
/* The closest of names[n] to word (at most two edits), or NULL. */
const char *cli_suggest(const char *word, const char *const *names, size_t n);
/* "error: unknown command 'x'; did you mean 'y'?" to stderr; EXIT_USAGE. */
int cli_unknown_command(const char *word);
/* The global usage and command list (tools/sipprov.c). */
void cli_usage_all(FILE *f);

typedef int (*cli_cmd_fn)(struct cli *c, int argc, char **argv);

/* A noun's subcommands: run the one named by argv[0] with the rest, or
 * print usage listing them.  The table ends with { NULL, NULL }. */
struct cli_sub {
	const char *name;
	cli_cmd_fn fn;
};
int cli_dispatch(struct cli *c, const char *noun, const struct cli_sub *subs, int argc, char **argv);
#define CMD(name, fn, help) int fn(struct cli *c, int argc, char **argv);
#include "commands.def"
#undef CMD
/* `sipprov tenant move` (tools/cmd_bulk.c); argv after "move". */
int cmd_tenant_move(struct cli *c, int argc, char **argv);
#endif
