/*-------------------------------------------------------------------------
 *
 * sortcheck.h
 *	  Interrupt checks inside the comparators of sorts over user data.
 *
 * A sort of a million entries takes long enough that a cancel must not
 * wait for its end, and qsort and qsort_arg offer no check of their own.
 * They are PostgreSQL's (port.h maps qsort to pg_qsort), which allocate
 * nothing, so an error may leave them at any comparison.  Each comparator
 * of such a sort calls bt_sort_tick() first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_SORTCHECK_H
#define BUILDTRACE_SORTCHECK_H

#include "miscadmin.h"

static inline void
bt_sort_tick(void)
{
	static uint32 calls = 0;

	if ((++calls & 0xFFFF) == 0)
		CHECK_FOR_INTERRUPTS();
}

#endif							/* BUILDTRACE_SORTCHECK_H */
