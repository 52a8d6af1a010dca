/*
 * paths.c: the installation paths compiled into the programs (PREFIX's
 * data folder, the system configuration folder).  Only this object sees
 * them, so the Makefile rebuilds just it when `make install PREFIX=...`
 * differs from the last build; it does not decide anything else.
 */
#include "sipprov.h"

#ifndef SP_DATADIR
#define SP_DATADIR "/usr/local/share/sipprov"
#endif
#ifndef SP_SYSCONFDIR
#define SP_SYSCONFDIR "/etc"
#endif

const char sp_datadir[] = SP_DATADIR;
const char sp_conf_default[] = SP_SYSCONFDIR "/sipprov/sipprovd.conf";
