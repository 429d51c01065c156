/*-------------------------------------------------------------------------
 *
 * summary.h
 *	  The plain-English summary of a diff.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_SUMMARY_H
#define BUILDTRACE_SUMMARY_H

#include "diff.h"

/* Maximum ids named per group before "and N more". */
#define BT_SUMMARY_MAX_IDS 3

extern char *bt_summary(BtDiff *d);

#endif							/* BUILDTRACE_SUMMARY_H */
