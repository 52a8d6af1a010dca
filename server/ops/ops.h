/*
 * ops.h: the ops layer's public API: engines only the CLI links (bulk
 * moves and reprovision jobs, NOTIFY, diagnose and its
 * SIP probes).  sipprovd never includes or links it.
 */
#ifndef SP_OPS_H
#define SP_OPS_H
#include "core/sipprov.h"
#include "sip/sip.h"
#include "bulk.h"
#include "notify.h"
#include "probe.h"
#include "diagnose.h"
#endif
