/*-------------------------------------------------------------------------
 *
 * tolerance.h
 *	  The one rule for whether a change counts against its tolerance.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_TOLERANCE_H
#define BUILDTRACE_TOLERANCE_H

#include <float.h>

/*
 * A change is reported only when it is greater than the tolerance.  The
 * relative epsilon makes a change that equals the tolerance in decimal
 * (1.0 -> 1.1 with tolerance 0.1) count as "at" it despite binary rounding.
 */
static inline bool
bt_exceeds(double change, double tolerance)
{
	return change > tolerance * (1.0 + 1e-9);
}

/*
 * How far a change computed in doubles from values of these magnitudes
 * (their absolute values summed) can lie from the change of their decimals:
 * more than the roundings of the values and of the change.  A change within
 * it of the tolerance is measured again on the decimals.
 */
static inline double
bt_rounding_slack(double magnitudes)
{
	return 4 * DBL_EPSILON * magnitudes;
}

#endif							/* BUILDTRACE_TOLERANCE_H */
