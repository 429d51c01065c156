/*-------------------------------------------------------------------------
 *
 * rollup.h
 *	  The hourly rollups' rule: pairs added up into a rollup row's totals
 *	  (see rollup.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_ROLLUP_H
#define BUILDTRACE_ROLLUP_H

#include "sketch.h"

/*
 * The change counts, in the order of the aggregate's arguments: added,
 * removed, moved, resized, retyped, modified, unchanged, rotated,
 * reidentified.
 */
#define ROLLUP_NCOUNTS 9

typedef struct RollupState
{
	int64		pairs;			/* done */
	int64		failed;
	int64		counts[ROLLUP_NCOUNTS];
	BtSketch	processing_ms;
	BtSketch	latency_ms;
} RollupState;

/* One processed pair, as the aggregate's arguments give it. */
typedef struct RollupPair
{
	bool		ok;				/* done, not failed */
	int32		counts[ROLLUP_NCOUNTS];
	bool		count_null[ROLLUP_NCOUNTS];
	bool		has_processing;
	double		processing_ms;
	bool		has_latency;
	double		latency_ms;
} RollupPair;

/* Empty totals, their sketches' stores in cxt. */
extern void bt_rollup_state_init(RollupState *st, MemoryContext cxt);

/* Adds one pair to the totals. */
extern void bt_rollup_add(RollupState *st, const RollupPair *p);

#endif							/* BUILDTRACE_ROLLUP_H */
