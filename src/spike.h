/*-------------------------------------------------------------------------
 *
 * spike.h
 *	  The change-spike rule (see spike.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_SPIKE_H
#define BUILDTRACE_SPIKE_H

/*
 * "high", "medium", or NULL when a pair with this many changes, after a
 * pair with previous changes, is no spike.
 */
extern const char *bt_spike_level(int32 previous, int32 changes);

#endif							/* BUILDTRACE_SPIKE_H */
