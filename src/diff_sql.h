/*-------------------------------------------------------------------------
 *
 * diff_sql.h
 *	  A diff of two drawing versions as jsonb, for the SQL functions and the
 *	  pipeline trigger.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_DIFF_SQL_H
#define BUILDTRACE_DIFF_SQL_H

#include "utils/jsonb.h"

#include "diff.h"

/* Objects per kind of change; an object counts once per kind. */
typedef struct BtCounts
{
	int32		added;
	int32		removed;
	int32		moved;
	int32		resized;
	int32		retyped;
	int32		modified;
	int32		unchanged;
	int32		rotated;
	int32		reidentified;
	int32		shifted;
} BtCounts;

/* What bt_diff_versions() found when asked to collect problems. */
typedef struct BtDiffOutcome
{
	Jsonb	   *diff;			/* the diff, or NULL when a version is invalid */
	BtCounts	counts;			/* of the diff */
	Jsonb	   *problems;		/* else: every problem, a jsonb array */
	int			sqlerrcode;		/* and the first problem's code and texts */
	char	   *message;
	char	   *detail;
} BtDiffOutcome;

/*
 * The diff of version ja to jb (the jsonb of bt_diff).  out == NULL raises
 * an ERROR for invalid input; otherwise fills *out.  Returns the diff or, if
 * invalid, the problems array.
 */
extern Jsonb *bt_diff_versions(Jsonb *ja, Jsonb *jb, const BtDiffParams *p,
							   BtDiffOutcome *out);

/*
 * Read versions ja and jb into a and b and diff them into d (in the current
 * memory context).  With collect == NULL bad drawing data raises an ERROR;
 * otherwise its problems are appended to *collect and false is returned.
 */
extern bool bt_diff_drawings(Jsonb *ja, Jsonb *jb, const BtDiffParams *p,
							 List **collect, BtDrawing *a, BtDrawing *b, BtDiff *d);

/* The parameters the buildtrace.* settings give. */
extern void bt_diff_params_from_settings(BtDiffParams *p);

#endif							/* BUILDTRACE_DIFF_SQL_H */
