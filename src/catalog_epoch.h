/*-------------------------------------------------------------------------
 *
 * catalog_epoch.h
 *	  A counter that moves whenever a catalog the one-pair INSERT's caches
 *	  describe may have changed (see catalog_epoch.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_CATALOG_EPOCH_H
#define BUILDTRACE_CATALOG_EPOCH_H

/* Registers the invalidation callbacks; once, from _PG_init. */
extern void bt_catalog_epoch_init(void);

/*
 * The current epoch, never 0: something read from the catalogs at one
 * epoch still holds while the epoch is the same.
 */
extern uint64 bt_catalog_epoch(void);

#endif							/* BUILDTRACE_CATALOG_EPOCH_H */
