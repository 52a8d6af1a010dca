/*
 * help.c: `sipprov help [NOUN]` and `sipprov NOUN --help`: each noun's
 * usage lines (as the commands print them) with examples, and the
 * did-you-mean suggestion for a mistyped command, subcommand or option.
 * The usage lines are checked against the code by tests/t/81-cli-help.sh.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct noun_help {
	const char *noun;
	const char *text;
};

static const struct noun_help helps[] = {
	{ "init",
	  "usage: sipprov init\n"
	  "\n"
	  "Create the database at this version's schema, the key file beside it (DATABASE.key,\n"
	  "mode 0600) and, when the database was not taken from a configuration file,\n"
	  "a sipprovd.conf in the current folder.  Never replaces an existing key.\n"
	  "Run as root with the installed configuration, the new database and key\n"
	  "are given to the owner of their folder (the service user).\n"
	  "\n"
	  "examples:\n"
	  "  sudo sipprov init                      # /var/lib/sipprov/sipprov.db from the installed config\n"
	  "  sipprov -d ./var/sipprov.db init\n" },
	{ "demo",
	  "usage: sipprov demo [--tenant SLUG] [--devices N [--http-password P]]\n"
	  "\n"
	  "Seed an example tenant (default 'demo') with a template and four devices,\n"
	  "or N generated devices for benchmarks (served without credentials on\n"
	  "loopback, or with digest user = MAC and password P).\n"
	  "\n"
	  "examples:\n"
	  "  sipprov demo\n"
	  "  sipprov demo --tenant bench --devices 10000\n" },
	{ "tenant",
	  "usage: sipprov tenant add SLUG [--name N] [--username-pattern RE] [--auth-username-pattern RE]\n"
	  "              [--device-auth none|digest|mtls|token ...] [--allow CIDR ...] [--max-per-user N]\n"
	  "              [--default-template NAME] [key=value ...]\n"
	  "       sipprov tenant set SLUG [same options as add] [key=value ...]   ('key=' removes a default)\n"
	  "       sipprov tenant list [--json]\n"
	  "       sipprov tenant show SLUG [--json]\n"
	  "       sipprov tenant suspend SLUG\n"
	  "       sipprov tenant resume SLUG\n"
	  "       sipprov tenant move TENANT --template NAME [--dry-run] [--force] [--json]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov tenant add acme --name \"ACME Corp\" --device-auth digest --device-auth token \\\n"
	  "      --username-pattern '^[0-9]{3,6}$' --auth-username-pattern '^[a-z0-9]{8}$'\n"
	  "  sipprov tenant set acme --default-template main\n"
	  "  sipprov tenant move acme --template cluster2 --dry-run\n" },
	{ "api-token",
	  "usage: sipprov api-token add NAME [--tenant T] [--role admin|operator|read-only]\n"
	  "       sipprov api-token list [--json]\n"
	  "       sipprov api-token revoke NAME\n"
	  "\n"
	  "Bearer tokens for the admin API (sipprovd's admin_listen, /api/v1/).  add\n"
	  "prints the token once (only a keyed hash is stored); --tenant limits it to\n"
	  "one tenant (others' objects are 404 to it); --role admin (default) may do\n"
	  "everything, operator everything but tenant policy and tokens, read-only\n"
	  "only reads.  A revoked token fails at once; its name is never reused.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov api-token add billing --role operator > billing.token\n"
	  "  sipprov api-token add acme-ro --tenant acme --role read-only\n"
	  "  sipprov api-token revoke billing\n" },
	{ "user",
	  "usage: sipprov user add NAME --role admin|operator|read-only [--tenant T] [--password-file F]\n"
	  "       sipprov user list [--json]\n"
	  "       sipprov user rm NAME\n"
	  "       sipprov user passwd NAME [--password-file F]\n"
	  "\n"
	  "People who log in to the web console (sipprovd's admin_listen, /ui/).  The\n"
	  "password is typed twice on the terminal (not echoed) or read from the first\n"
	  "line of --password-file; at least 10 bytes; only its scrypt hash is stored.\n"
	  "Roles and --tenant mean what they mean for api-token.  rm and passwd end\n"
	  "the user's open sessions.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov user add alice --role operator\n"
	  "  sipprov user add acme-help --tenant acme --role read-only --password-file pw.txt\n"
	  "  sipprov user passwd alice\n"
	  "  sipprov user rm alice\n" },
	{ "template",
	  "usage: sipprov template set TENANT NAME key=value... [--comment C] [--force]\n"
	  "       sipprov template show TENANT NAME [V]\n"
	  "       sipprov template history TENANT [NAME]\n"
	  "       sipprov template list TENANT [NAME]\n"
	  "       sipprov template diff TENANT NAME V1 V2\n"
	  "       sipprov template rollback TENANT NAME V\n"
	  "       sipprov template pin MAC V\n"
	  "       sipprov template unpin MAC\n"
	  "\n"
	  "firmware.MODEL=VERSION picks the image (sipprov firmware add) whose URL the\n"
	  "configs of that model's phones name; a version no stored image has is refused.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov template set acme main registrar=sip.acme.test server=pbx1.acme.test port=5061 \\\n"
	  "      transport=tls --comment \"cluster 1\"\n"
	  "  sipprov template history acme main\n"
	  "  sipprov template diff acme main 1 2\n"
	  "  sipprov template rollback acme main 1\n"
	  "  sipprov template set acme main firmware.T46S=66.86.0.15\n" },
	{ "device",
	  "usage: sipprov device add [MAC] --tenant T --layout L [--template NAME] [--model M] [--label L]\n"
	  "              [key=value ...]\n"
	  "       sipprov device list [--tenant T] [--json]\n"
	  "       sipprov device show MAC [--json]\n"
	  "       sipprov device set MAC [--template NAME] [--model M] [--label L] [--layout L] [key=value ...]\n"
	  "       sipprov device disable MAC\n"
	  "       sipprov device enable MAC\n"
	  "       sipprov device rm MAC\n"
	  "       sipprov device credentials MAC\n"
	  "       sipprov device pending [--json]\n"
	  "       sipprov device pending rm MAC\n"
	  "       sipprov device claim MAC --tenant T [--layout L] [--template NAME]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov device pending                           # phones that asked for a config nobody entered\n"
	  "  sipprov device claim 00:15:65:11:22:33 --tenant acme   # layout and model from what it asked\n"
	  "  sipprov device add 00:15:65:4a:a9:37 --tenant acme --layout yealink --model T46G --label Reception\n"
	  "  sipprov device credentials 00:15:65:4a:a9:37    # HTTP digest password for the phone, shown once\n"
	  "  sipprov device list --tenant acme --json\n" },
	{ "account",
	  "usage: sipprov account add MAC [--line N] --username U --auth-username A --password P\n"
	  "              [--display-name D] [--extension E]\n"
	  "       sipprov account set MAC [--line N] [--username U] [--auth-username A] [--password P]\n"
	  "              [--display-name D] [--extension E]\n"
	  "       sipprov account rm MAC [--line N]\n"
	  "       sipprov account list MAC [--json] [--show-secrets]\n"
	  "       sipprov account token MAC [--line N] --rotate|--revoke\n"
	  "       sipprov account qr MAC [--line N] [--png FILE | --svg FILE] [--force]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov account add 00:15:65:4a:a9:37 --line 1 --username 1001 --auth-username k8f2m1x9 \\\n"
	  "      --password 'S3cret!' --display-name Reception\n"
	  "  sipprov account token 00:15:65:4a:a9:37 --rotate\n"
	  "  sipprov account qr 02:00:00:00:10:04 --png ann.png   # the token URL for a softphone to scan\n" },
	{ "render",
	  "usage: sipprov render MAC [--line N]\n"
	  "\n"
	  "Print exactly the bytes the phone gets.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov render 00:15:65:4a:a9:37\n" },
	{ "import",
	  "usage: sipprov import FILE.csv --tenant T [--dry-run] [--force] [--json]\n"
	  "\n"
	  "Columns: mac,layout,model,label,template,line,display_name,extension,username,\n"
	  "auth_username,password, plus setting keys as device overrides.  Every row is\n"
	  "validated first; any error and nothing is written.  FILE '-' reads stdin.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov import phones.csv --tenant acme --dry-run\n"
	  "  sipprov import phones.csv --tenant acme\n" },
	{ "export",
	  "usage: sipprov export --tenant T [--show-secrets] [-o FILE]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov export --tenant acme > phones.csv\n"
	  "  sipprov export --tenant acme --show-secrets -o backup.csv\n" },
	{ "reprovision",
	  "usage: sipprov reprovision (--tenant T | --device MAC | --drifted | --resume JOB) [--rate N] [--dry-run]\n"
	  "              [--via HOST:PORT|SIP-URI] [--timeout S] [--concurrency N] [--ca FILE] [--no-verify] [--json]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov reprovision --tenant acme --rate 50\n"
	  "  sipprov reprovision --device 00:15:65:4a:a9:37 --via 127.0.0.1:5060\n" },
	{ "layout",
	  "usage: sipprov layout check [FILE]\n"
	  "       sipprov layout list [--json]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov layout check templates/yealink.cfg\n"
	  "  sipprov layout list\n" },
	{ "diagnose",
	  "usage: sipprov diagnose MAC [--line N] [--error 403|404|408|timeout] [--timeout SECONDS] [--offline]\n"
	  "              [--ca FILE] [--json]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov diagnose 00:15:65:4a:a9:37 --error 403\n"
	  "  sipprov diagnose 00:15:65:4a:a9:37 --offline --json\n" },
	{ "ticket",
	  "usage: sipprov ticket MAC [--line N] [--probe] [--timeout SECONDS] [--ca FILE] [--json]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov ticket 00:15:65:4a:a9:37 --probe\n" },
	{ "drift",
	  "usage: sipprov drift [--tenant T] [--open] [--json]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov drift --open\n"
	  "  sipprov drift --tenant acme --json\n" },
	{ "status",
	  "usage: sipprov status [--tenant T] [--json]\n"
	  "\n"
	  "examples:\n"
	  "  sipprov status --tenant acme\n" },
	{ "firmware",
	  "usage: sipprov firmware add FILE --vendor V --model M --version X\n"
	  "       sipprov firmware list [--vendor V] [--json]\n"
	  "       sipprov firmware rm --vendor V --model M --version X\n"
	  "\n"
	  "Images are kept once by SHA-256 in the folder firmware_dir of sipprovd.conf names\n"
	  "(-f FILE, SIPPROV_CONF, or the installed file when no -d is given; default:\n"
	  "firmware/ next to a SQLite database; PostgreSQL needs it, a folder every node\n"
	  "reads) and served by sipprovd at /fw/SHA256/FILE (Range, ETag).  rm refuses an\n"
	  "image that a firmware.<model> setting still picks (a template's current or\n"
	  "pinned version, a tenant default, a device override) and names them.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov firmware add T46S-66.86.0.15.rom --vendor yealink --model T46S --version 66.86.0.15\n"
	  "  sipprov firmware list --vendor yealink\n" },
	{ "key",
	  "usage: sipprov key set MAC INDEX --type T [--value V] [--label L] [--line N] [--module M]\n"
	  "       sipprov key rm MAC INDEX [--module M]\n"
	  "       sipprov key list MAC [--json]\n"
	  "\n"
	  "Line keys, in order (INDEX 1-48).  Types: line, blf, speed_dial, park, intercom,\n"
	  "dtmf, url, and none to hide a template's key.  --line is the account line the\n"
	  "key uses (default 1).  A device's keys are its overrides key.N.type, .value,\n"
	  "label, .line; a template's defaults are the same settings: sipprov template set\n"
	  "T NAME key.1.type=blf key.1.value=1002 key.1.label=Bob (CSV imports take them\n"
	  "as columns).  set replaces the device's key N whole; rm gives the template's\n"
	  "back.  A BLF target that is no SIP user of the tenant is warned about.  Layouts\n"
	  "that cannot write a type warn at render (templates/<vendor>.md).  --module M\n"
	  "(1-6) addresses key INDEX (1-40) of expansion module M instead: settings\n"
	  "ext.M.N.type, .value, .label, .line (Yealink and Cisco write them).\n"
	  "\n"
	  "examples:\n"
	  "  sipprov key set 001565aabbcc 2 --type blf --value 1002 --label Bob\n"
	  "  sipprov key set 001565aabbcc 1 --module 1 --type blf --value 1003 --label Carol\n"
	  "  sipprov key set 001565aabbcc 3 --type speed_dial --value +4930123456 --label Pizza --line 2\n"
	  "  sipprov key list 001565aabbcc --json\n" },
	{ "web-password",
	  "usage: sipprov web-password set (--tenant T | --device MAC) [--admin-file F] [--user-file F]\n"
	  "       sipprov web-password rm (--tenant T | --device MAC) [--admin] [--user]\n"
	  "       sipprov web-password show (--tenant T | --device MAC) [--json] [--show-secrets]\n"
	  "\n"
	  "The admin and user passwords of the phones' own web interface, written into\n"
	  "each phone's config by its layout (templates/<vendor>.md names the keys;\n"
	  "layouts without keys warn).  Per tenant, or per device (the device's wins).\n"
	  "Each is read from the first line of a file (not argv: other users see it),\n"
	  "at most 128 bytes of UTF-8 text, and kept encrypted with the key file.  show\n"
	  "says whether one is set and where from; the text only with --show-secrets.\n"
	  "rm without --admin/--user removes both.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov web-password set --tenant acme --admin-file admin.pw --user-file user.pw\n"
	  "  sipprov web-password set --device 00:15:65:aa:bb:cc --admin-file front-desk.pw\n"
	  "  sipprov web-password show --device 001565aabbcc --show-secrets\n" },
	{ "phonebook",
	  "usage: sipprov phonebook add --tenant T --name N --number X [--mobile M] [--other O] [--group G]\n"
	  "       sipprov phonebook rm --tenant T --name N\n"
	  "       sipprov phonebook list --tenant T [--json]\n"
	  "       sipprov phonebook import FILE.csv --tenant T [--dry-run]\n"
	  "\n"
	  "A tenant's contacts, served by sipprovd to each of its phones in the phone's\n"
	  "vendor format at /pb/MAC.xml, authenticated like the phone's config.  Names and\n"
	  "groups: UTF-8 text without control characters, at most 64 characters; numbers:\n"
	  "the digits 0-9 and '+', '*', '#', at most 32.  CSV columns: name, number (both\n"
	  "required), mobile, other, group.  An import is all or nothing: any bad row is\n"
	  "reported by row, line and column and nothing is written.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov phonebook add --tenant acme --name \"Front desk\" --number 200 --group Office\n"
	  "  sipprov phonebook import contacts.csv --tenant acme --dry-run\n"
	  "  sipprov phonebook list --tenant acme --json\n" },
	{ "migrate",
	  "usage: sipprov migrate\n"
	  "\n"
	  "Back the database up beside itself (DATABASE.pre-NNN.bak, NNN the schema it\n"
	  "was at, mode 0600), then apply every migration it lacks, in order.  Other\n"
	  "commands refuse a database behind this version until it is migrated;\n"
	  "sipprovd migrates at start the same way.  A database newer than this\n"
	  "version is refused.\n"
	  "\n"
	  "Given a PostgreSQL URL (postgresql://... or postgres://...), it applies the\n"
	  "PostgreSQL migrations under an advisory lock, so several nodes may run it at\n"
	  "once; no backup is taken there (use pg_dump).  It is the only command that\n"
	  "runs on PostgreSQL yet: the others and sipprovd refuse such a URL.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov migrate\n"
	  "  sipprov -d ./var/sipprov.db migrate\n"
	  "  sipprov -d postgresql://sipprov@db1.example.net/sipprov migrate\n" },
	{ "backup",
	  "usage: sipprov backup FILE [--with-key] [--force]\n"
	  "\n"
	  "Copy the database to FILE while sipprovd and imports go on (SQLite's\n"
	  "online backup: one consistent snapshot), checked with integrity_check, mode\n"
	  "0600.  An existing FILE is kept unless --force.  The key file that decrypts\n"
	  "the passwords is not in FILE: --with-key also writes it to FILE.key (0600);\n"
	  "store the two apart.\n"
	  "\n"
	  "examples:\n"
	  "  sipprov backup /var/backups/sipprov/sipprov-$(date +%F).db\n"
	  "  sipprov backup /mnt/usb/sipprov.db --with-key\n" },
	{ "restore",
	  "usage: sipprov restore FILE [--with-key]\n"
	  "\n"
	  "Replace the database with the backup FILE, refused unless FILE passes\n"
	  "integrity_check, is not newer than this version, and opens with the key\n"
	  "file (the current one, or with --with-key FILE.key, which is then\n"
	  "installed as the key file).  Refused while sipprovd (or anything) has the\n"
	  "database open: stop it first.  Nothing is written when refused.\n"
	  "\n"
	  "examples:\n"
	  "  sudo systemctl stop sipprovd\n"
	  "  sipprov restore /var/backups/sipprov/sipprov-2026-11-30.db\n"
	  "  sudo systemctl start sipprovd\n"
	  "  sipprov -d /tmp/copy.db restore sipprov-backup.db --with-key\n" },
	{ "help",
	  "usage: sipprov help [COMMAND]\n"
	  "       sipprov COMMAND --help\n"
	  "\n"
	  "examples:\n"
	  "  sipprov help device\n" },
};

static const struct {
	const char *name, *help;
} nouns[] = {
#define CMD(name, fn, help) { name, help },
#include "commands.def"
#undef CMD
};

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions, so "devcie" is one edit from "device"). */
static size_t osa_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][33];                    /* rows i-2, i-1, i over b's prefixes */
	if (la > 32 || lb > 32)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *prev = d[(i - 1) % 3], *pp = d[(i + 1) % 3];
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

const char *cli_suggest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, wl = strlen(word);
	for (size_t i = 0; i < n; i++) {
		size_t d = osa_distance(word, names[i]);
		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	/* Up to two edits, and never more edits than half the word. */
	return best && best_d <= 2 && best_d * 2 <= wl ? best : NULL;
}

static const char *cli_suggest_command(const char *word)
{
	const char *names[sizeof(nouns) / sizeof(nouns[0])];
	for (size_t i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
		names[i] = nouns[i].name;
	return cli_suggest(word, names, sizeof(nouns) / sizeof(nouns[0]));
}

int cli_help_noun(const char *noun, FILE *f)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (!strcmp(helps[i].noun, noun)) {
			fputs(helps[i].text, f);
			fprintf(f, "\nMore in sipprov(1).\n");
			return 0;
		}
	for (size_t i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
		if (!strcmp(nouns[i].name, noun)) {    /* a command without a help entry yet */
			fprintf(f, "sipprov %s: %s\n\nMore in sipprov(1).\n", noun, nouns[i].help);
			return 0;
		}
	return -1;
}

int cli_unknown_command(const char *word)
{
	const char *s = cli_suggest_command(word);
	if (s)
		fprintf(stderr, "error: unknown command '%s'; did you mean '%s'?\n", word, s);
	else
		fprintf(stderr, "error: unknown command '%s'\n", word);
	return EXIT_USAGE;
}

int cmd_help(struct cli *c, int argc, char **argv)
{
	if (argc == 0) {
		cli_usage_all(stdout);
		return 0;
	}
	if (argc > 1)
		return cli_usage("help [COMMAND]");
	if (cli_help_noun(argv[0], stdout) < 0) {
		cli_unknown_command(argv[0]);
		return cli_usage("help [COMMAND]");
	}
	return 0;
}
