/*
 * ops.h: the ops layer's public API: engines the CLI and the admin API
 * share (bulk moves and reprovision jobs, NOTIFY, diagnose and its SIP
 * probes).  Nothing here prints to a terminal or includes daemon code.
 */
#ifndef SP_OPS_H
#define SP_OPS_H
#include "core/sipprov.h"
#include "sip/sip.h"
#include "bulk.h"
#include "notify.h"
#include "reprovision.h"
#include "probe.h"
#include "diagnose.h"
#endif
