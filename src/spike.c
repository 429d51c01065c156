/*-------------------------------------------------------------------------
 *
 * spike.c
 *	  The change-spike rule: when a pair's changes flag an anomaly, and how
 *	  severe it is.
 *
 * Every way the pipeline stores results (one pair, directly or in SQL, or
 * a statement's set of pairs) asks bt_spike_level, so they cannot
 * disagree.  A pair spikes when its drawing's previous processed pair had
 * at least buildtrace.spike_min_changes changes (and more than none) and
 * this one has at least buildtrace.spike_factor times as many; twice that
 * factor makes it high rather than medium.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "guc.h"
#include "spike.h"

PG_FUNCTION_INFO_V1(bt_spike_severity);

/*
 * _spike_severity(previous_changes integer, changes integer): 'high',
 * 'medium', or NULL when the pair does not spike (or has no previous pair).
 */
Datum
bt_spike_severity(PG_FUNCTION_ARGS)
{
	const char *level = bt_spike_level(PG_GETARG_INT32(0), PG_GETARG_INT32(1));

	if (level == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(level));
}

const char *
bt_spike_level(int32 previous, int32 changes)
{
	double		ratio;

	if (previous < bt_spike_min_changes || previous <= 0)
		return NULL;

	/*
	 * The ratio against the factor, not the changes against the factor times
	 * previous: in double precision 2.2 * 25 is 55.000000000000007, while 55
	 * / 25 rounds to the same double as 2.2, so an exact multiple counts.
	 */
	ratio = (double) changes / previous;
	if (ratio < bt_spike_factor)
		return NULL;
	return ratio / 2 >= bt_spike_factor ? "high" : "medium";
}
