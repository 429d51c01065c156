/*-------------------------------------------------------------------------
 *
 * catalog_epoch.c
 *	  A counter that moves whenever a catalog the one-pair INSERT's caches
 *	  describe may have changed: any relation's definition, any function,
 *	  schema or type.
 *
 * Looking up by name, on every statement, the columns of pairs, the
 * functions that store a result and the shape of the tables the direct
 * store writes would cost a one-pair INSERT about a twentieth of its
 * instructions.  They are looked up once and kept with the epoch they
 * were read at; a cache whose epoch is no longer current is read again.
 *
 * The epoch moves on every invalidation PostgreSQL sends for those
 * catalogs, other sessions' (processed when this one next takes a lock or
 * starts a transaction) and this session's own (at the end of each
 * command, and again when a transaction that made them rolls back).  Most
 * are of other relations, such as the statistics autovacuum writes into
 * pg_class: each costs the caches one read, which is nothing beside
 * missing one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/inval.h"
#include "utils/syscache.h"

#include "catalog_epoch.h"

static uint64 epoch = 1;

static void
relation_changed(Datum arg, Oid relid)
{
	epoch++;
}

static void
catalog_row_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	epoch++;
}

void
bt_catalog_epoch_init(void)
{
	CacheRegisterRelcacheCallback(relation_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, catalog_row_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, catalog_row_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, catalog_row_changed, (Datum) 0);
}

uint64
bt_catalog_epoch(void)
{
	return epoch;
}
