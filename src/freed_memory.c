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
 * that costs more than the diff itself.  With the setting above zero, the
 * heap's top is trimmed only once more than that much is free there (the
 * trim threshold), and blocks up to 32 MB come from the heap (the mmap
 * threshold, at the most glibc's own adjustment gives it; larger blocks
 * are mapped and unmapped as at 0, and older glibc takes no more).
 * A backend then keeps about that much of the memory it used at the heap's
 * top; a statement that leaves more free there gets all of it trimmed, so a
 * value below what the statements free can fault more than 0.
 *
 * glibc adjusts both thresholds itself as a process frees large blocks, up
 * to 32 MB and 64 MB; setting either turns that adjustment off for good.
 * So a value below 64MB could keep less than glibc's own rule would, and is
 * refused; and 0 after another value can only set glibc's initial 128 kB
 * thresholds again, without their adjustment (in the postmaster, for every
 * process it starts after).  0 in a process that never had another value
 * leaves glibc alone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "freed_memory.h"

/* glibc's initial mmap and trim thresholds, and the most its adjustment sets */
#define GLIBC_INITIAL_THRESHOLD (128 * 1024)
#define GLIBC_MMAP_THRESHOLD_MAX (32 * 1024 * 1024)

/* the least value above 0: glibc's own adjustment reaches a 64 MB trim threshold */
#define BT_KEEP_FREED_MEMORY_MIN_KB (64 * 1024)

static bool thresholds_changed = false;

bool
bt_keep_freed_memory_check(int *newval, void **extra, GucSource source)
{
	if (*newval == 0)
		return true;
#ifndef __GLIBC__
	GUC_check_errdetail("The server's C library is not glibc, whose thresholds this sets.");
	return false;
#else
	if (*newval < BT_KEEP_FREED_MEMORY_MIN_KB)
	{
		GUC_check_errdetail("A value above 0 must be at least %dMB: a smaller one would keep less freed memory than glibc's own adjustment, which any value turns off.",
							BT_KEEP_FREED_MEMORY_MIN_KB / 1024);
		return false;
	}
	return true;
#endif
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
	/* the setting's range fits in an int; glibc takes these values */
	mallopt(M_MMAP_THRESHOLD, (int) Min(bytes, GLIBC_MMAP_THRESHOLD_MAX));
	mallopt(M_TRIM_THRESHOLD, (int) bytes);
	thresholds_changed = true;
#endif
}
