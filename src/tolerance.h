/*-------------------------------------------------------------------------
 *
 * tolerance.h
 *	  The one rule for whether a change counts against its tolerance.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_TOLERANCE_H
#define BUILDTRACE_TOLERANCE_H

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

#endif							/* BUILDTRACE_TOLERANCE_H */
