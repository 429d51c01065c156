/*-------------------------------------------------------------------------
 *
 * store_floor.c
 *	  The benchmark module of test/bench/store_floor_bench.sh: AFTER INSERT row
 *	  triggers that write what the pipeline's store step writes for a pair,
 *	  computing nothing, to measure what such writes cost in the inserting
 *	  transaction whatever the design around them.
 *
 * Built and loaded by the script only; not part of the extension.  Every
 * trigger writes constant results for the inserted row's pair_id and
 * drawing_id into tables of schema bench that the script makes (LIKE the
 * extension's tables):
 *	  floor_spi    a changes row through a saved SPI plan (an executor run);
 *	  floor_heap   the same row as a heap tuple with its index entries;
 *	  floor_three  that row, and the drawing's state row and its hour's
 *				   rollup row found by key, locked and updated the same way,
 *				   as the direct store does (its rollup adds one pair).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(floor_spi);
PG_FUNCTION_INFO_V1(floor_heap);
PG_FUNCTION_INFO_V1(floor_three);

/* The columns of a changes row, in the table's order. */
#define CHANGES_NCOLS 19

static SPIPlanPtr changes_plan = NULL;

/* The inserted row's pair_id and drawing_id (its first two columns). */
static void
trigger_pair(FunctionCallInfo fcinfo, Datum *pair_id, Datum *drawing)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "store_floor: not called as a trigger");
	*pair_id = heap_getattr(td->tg_trigtuple, 1, td->tg_relation->rd_att, &isnull);
	*drawing = heap_getattr(td->tg_trigtuple, 2, td->tg_relation->rd_att, &isnull);
}

Datum
floor_spi(PG_FUNCTION_ARGS)
{
	Datum		args[2];

	trigger_pair(fcinfo, &args[0], &args[1]);
	SPI_connect();
	if (changes_plan == NULL)
	{
		Oid			types[2] = {INT8OID, TEXTOID};

		changes_plan = SPI_prepare("INSERT INTO bench.c_spi (pair_id, drawing_id, diff, summary, "
								   "added, removed, moved, resized, retyped, modified, unchanged, "
								   "processing_us, rotated, reidentified, shifted, tenant) "
								   "VALUES ($1, $2, '{\"summary\": \"No changes.\"}', "
								   "'No changes.', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '')",
								   2, types);
		if (changes_plan == NULL)
			elog(ERROR, "store_floor: could not prepare the insert");
		SPI_keepplan(changes_plan);
	}
	if (SPI_execute_plan(changes_plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "store_floor: the insert failed");
	SPI_finish();
	return PointerGetDatum(NULL);
}

/* Writes values as a new row of rel (old NULL) or a new version of old. */
static void
write_row(Relation rel, Datum *values, bool *nulls, ItemPointer old)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	bool		update_indexes = true;

	ExecStoreHeapTuple(heap_form_tuple(RelationGetDescr(rel), values, nulls), slot, false);
	if (old == NULL)
		simple_table_tuple_insert(rel, slot);
	else
		simple_table_tuple_update(rel, old, slot, GetActiveSnapshot(), &update_indexes);
	if (update_indexes)
	{
		EState	   *estate = CreateExecutorState();
		ResultRelInfo *rri = makeNode(ResultRelInfo);

		InitResultRelInfo(rri, rel, 1, NULL, 0);
		ExecOpenIndices(rri, false);
		list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL));
		ExecCloseIndices(rri);
		FreeExecutorState(estate);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* A constant changes row of the pair into bench.<table>. */
static void
insert_changes(const char *table, Datum pair_id, Datum drawing)
{
	Relation	rel = table_openrv(makeRangeVar("bench", (char *) table, -1), RowExclusiveLock);
	Datum		values[CHANGES_NCOLS];
	bool		nulls[CHANGES_NCOLS] = {0};

	if (RelationGetDescr(rel)->natts != CHANGES_NCOLS)
		elog(ERROR, "store_floor: bench.%s is not shaped as changes", table);
	for (int i = 0; i < CHANGES_NCOLS; i++)
		values[i] = Int32GetDatum(0);	/* the counts and total */
	values[0] = pair_id;
	values[1] = drawing;
	nulls[2] = true;			/* job_id */
	values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{\"summary\": \"No changes.\"}"));
	values[4] = CStringGetTextDatum("No changes.");
	values[12] = Int64GetDatum(0);	/* processing_us */
	values[13] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[18] = CStringGetTextDatum("");	/* tenant */
	write_row(rel, values, nulls, NULL);
	table_close(rel, NoLock);
}

Datum
floor_heap(PG_FUNCTION_ARGS)
{
	Datum		pair_id,
				drawing;

	trigger_pair(fcinfo, &pair_id, &drawing);
	insert_changes("c_heap", pair_id, drawing);
	return PointerGetDatum(NULL);
}

/*
 * Finds bench.<table>'s row by its primary key (text drawing_id, after a
 * timestamptz hour if hour is not 0), locks it FOR UPDATE and writes it
 * again with column "count" (if not 0) plus one.
 */
static void
update_by_key(const char *table, TimestampTz hour, Datum drawing, AttrNumber count)
{
	Relation	rel = table_openrv(makeRangeVar("bench", (char *) table, -1), RowExclusiveLock);
	Relation	index = index_open(RelationGetPrimaryKeyIndex(rel), RowExclusiveLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	ScanKeyData keys[2];
	int			nkeys = 0;
	IndexScanDesc scan;
	TM_FailureData tmfd;
	Datum	   *values;
	bool	   *nulls;

	if (hour != 0)
		ScanKeyEntryInitialize(&keys[nkeys++], 0, 1, BTEqualStrategyNumber, InvalidOid,
							   InvalidOid, F_TIMESTAMP_EQ, TimestampTzGetDatum(hour));
	ScanKeyEntryInitialize(&keys[nkeys], 0, nkeys + 1, BTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[nkeys], F_TEXTEQ, drawing);
	nkeys++;
	scan = index_beginscan(rel, index, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, keys, nkeys, NULL, 0);
	if (!index_getnext_slot(scan, ForwardScanDirection, slot))
		elog(ERROR, "store_floor: no row of the drawing in bench.%s", table);
	index_endscan(scan);
	if (table_tuple_lock(rel, &slot->tts_tid, GetActiveSnapshot(), slot, GetCurrentCommandId(false),
						 LockTupleExclusive, LockWaitBlock, TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
						 &tmfd) != TM_Ok)
		elog(ERROR, "store_floor: could not lock the row of bench.%s", table);
	slot_getallattrs(slot);
	values = palloc(sizeof(Datum) * slot->tts_nvalid);
	nulls = palloc(sizeof(bool) * slot->tts_nvalid);
	memcpy(values, slot->tts_values, sizeof(Datum) * slot->tts_nvalid);
	memcpy(nulls, slot->tts_isnull, sizeof(bool) * slot->tts_nvalid);
	if (count != 0)
		values[count - 1] = Int64GetDatum(DatumGetInt64(values[count - 1]) + 1);
	write_row(rel, values, nulls, &slot->tts_tid);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(rel, NoLock);
}

Datum
floor_three(PG_FUNCTION_ARGS)
{
	Datum		pair_id,
				drawing;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	trigger_pair(fcinfo, &pair_id, &drawing);
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	insert_changes("c_three", pair_id, drawing);
	update_by_key("s_three", 0, drawing, 0);
	/* hourly_rollups: (hour, drawing_id) key, "pairs" its third column */
	update_by_key("r_three", now - now % USECS_PER_HOUR, drawing, 3);
	PopActiveSnapshot();
	return PointerGetDatum(NULL);
}
