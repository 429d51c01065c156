/*-------------------------------------------------------------------------
 *
 * spike.c
 *	  The change-spike rule: when a pair's changes flag an anomaly, and how
 *	  severe it is.
 *
 * Both ways the pipeline stores results (one pair, or a statement's set of
 * pairs) ask this function, so they cannot disagree.  A pair spikes when
 * its drawing's previous processed pair had at least
 * buildtrace.spike_min_changes changes (and more than none) and this one
 * has at least buildtrace.spike_factor times as many; twice that factor
 * makes it high rather than medium.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "guc.h"

PG_FUNCTION_INFO_V1(bt_spike_severity);

/*
 * _spike_severity(previous_changes integer, changes integer): 'high',
 * 'medium', or NULL when the pair does not spike (or has no previous pair).
 */
Datum
bt_spike_severity(PG_FUNCTION_ARGS)
{
	int32		previous = PG_GETARG_INT32(0);
	int32		changes = PG_GETARG_INT32(1);
	double		ratio;

	if (previous < bt_spike_min_changes || previous <= 0)
		PG_RETURN_NULL();

	/*
	 * The ratio against the factor, not the changes against the factor times
	 * previous: in double precision 2.2 * 25 is 55.000000000000007, while 55
	 * / 25 rounds to the same double as 2.2, so an exact multiple counts.
	 */
	ratio = (double) changes / previous;
	if (ratio < bt_spike_factor)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(ratio / 2 >= bt_spike_factor ? "high" : "medium"));
}
