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

/* How the summary names an object: its label, or else its id. */
extern const char *bt_object_name(BtObject *o);

/* "2 units", in buildtrace.units, as the summary writes amounts. */
extern char *bt_length_words(double length);

/* "about 2 units east", in buildtrace.units. */
extern char *bt_distance_words(double distance, int direction);

#endif							/* BUILDTRACE_SUMMARY_H */
