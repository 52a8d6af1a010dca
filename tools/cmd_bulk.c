/*
 * cmd_bulk.c: `sipprov import`, `export`, `tenant move` and `reprovision`
 * (skeleton; the work is in server/bulk.c and server/notify.c).
 */
#include <stdio.h>

#include "cli.h"

int cmd_import(struct cli *c, int argc, char **argv) { return cli_fail("import: not implemented yet"); }
int cmd_export(struct cli *c, int argc, char **argv) { return cli_fail("export: not implemented yet"); }
int cmd_reprovision(struct cli *c, int argc, char **argv) { return cli_fail("reprovision: not implemented yet"); }
int cmd_tenant_move(struct cli *c, int argc, char **argv) { return cli_fail("tenant move: not implemented yet"); }
