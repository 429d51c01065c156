/*-------------------------------------------------------------------------
 *
 * freed_memory.h
 *	  How much freed memory a backend keeps for reuse rather than returning
 *	  it to the operating system (buildtrace.keep_freed_memory).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_FREED_MEMORY_H
#define BUILDTRACE_FREED_MEMORY_H

#include "utils/guc.h"

/* The setting's hooks: refused where the C library has no such control. */
extern bool bt_keep_freed_memory_check(int *newval, void **extra,
									   GucSource source);
extern void bt_keep_freed_memory_assign(int newval, void *extra);

#endif							/* BUILDTRACE_FREED_MEMORY_H */
