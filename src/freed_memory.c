/*-------------------------------------------------------------------------
 *
 * freed_memory.c
 *	  buildtrace.keep_freed_memory: glibc's malloc thresholds for this
 *	  backend.
 *
 * A diff allocates its scratch arrays, change records and result afresh on
 * every call, and frees them at the end of the statement.  By default glibc
 * hands large freed blocks back to the kernel (munmap, or a trim of the
 * heap's top), so the next statement takes a page fault on every page it
 * writes again.  Where a page fault is dear, as on some virtual machines,
 * that costs more than the diff itself.  With the setting above zero, blocks
 * smaller than it come from the heap and the heap keeps that much freed
 * memory at its top for the next statement: a bounded amount of memory per
 * backend traded for the faults.  0, the default, leaves glibc's own rule
 * untouched (or restores its initial thresholds in a backend that set
 * another value before).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "freed_memory.h"

/*
 * glibc accepts a mmap threshold of at most half its largest heap, 32 MB on
 * 64-bit machines (DEFAULT_MMAP_THRESHOLD_MAX), and its initial thresholds
 * are 128 kB.
 */
#define MMAP_THRESHOLD_MAX (4 * 1024 * 1024 * sizeof(long))
#define GLIBC_INITIAL_THRESHOLD (128 * 1024)

static bool thresholds_changed = false;

bool
bt_keep_freed_memory_check(int *newval, void **extra, GucSource source)
{
#ifndef __GLIBC__
	if (*newval != 0)
	{
		GUC_check_errdetail("The server's C library is not glibc, whose thresholds this sets.");
		return false;
	}
#endif
	return true;
}

void
bt_keep_freed_memory_assign(int newval, void *extra)
{
#ifdef __GLIBC__
	size_t		bytes = (size_t) newval * 1024;

	if (newval == 0)
	{
		if (!thresholds_changed)
			return;
		bytes = GLIBC_INITIAL_THRESHOLD;
	}
	/* both calls fail only for values out of range, which these are not */
	mallopt(M_MMAP_THRESHOLD, (int) Min(bytes, MMAP_THRESHOLD_MAX));
	mallopt(M_TRIM_THRESHOLD, (int) bytes);
	mallopt(M_TOP_PAD, (int) bytes);
	thresholds_changed = true;
#endif
}
