/*-------------------------------------------------------------------------
 *
 * handover.h
 *	  Results of the pairs row trigger, waiting for their statement's
 *	  trigger to store them (see handover.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_HANDOVER_H
#define BUILDTRACE_HANDOVER_H

#include "access/tupdesc.h"
#include "commands/trigger.h"
#include "funcapi.h"

/*
 * Columns of one result, in the order _pairs_take_results returns them.
 * 0.1.0 declared the function with the columns up to HO_UNCHANGED; until
 * such an install is updated, it gets those.
 */
enum
{
	HO_PAIR_ID, HO_DRAWING_ID, HO_JOB_ID, HO_LATENCY_MS, HO_RETRY_OF,
	HO_OK, HO_RESULT, HO_PROCESSING_US, HO_ADDED, HO_REMOVED, HO_MOVED,
	HO_RESIZED, HO_RETYPED, HO_MODIFIED, HO_UNCHANGED, HO_ROTATED,
	HO_REIDENTIFIED, HO_SHIFTED, HO_NCOLS
};

#define HO_NCOLS_0_1 (HO_UNCHANGED + 1)

extern void bt_handover_init(void);

/*
 * The key of td's statement, the same in its row and statement triggers:
 * the start of its result relation's trigger array, found from td's
 * trigger by its position in the relation's triggers (the copy keeps their
 * order).
 */
extern const Trigger *bt_statement_key(TriggerData *td);

/* The descriptor of a result row (HO_NCOLS columns). */
extern TupleDesc bt_handover_desc(void);

/*
 * BEFORE ROW: keep the result of a row about to be inserted.  statement_cxt
 * is a memory context that goes when the statement's executor does.
 */
extern void bt_handover_put(TriggerData *td, Datum *values, bool *nulls,
							MemoryContext statement_cxt);

/*
 * AFTER ROW: the row of this pair_id, drawing and tenant (NULL in a table
 * without tenants) was really inserted.  A statement's rows are of one
 * tenant: a row of another one is an error.
 */
extern void bt_handover_mark_inserted(TriggerData *td, int64 pair_id, Datum drawing_id,
									  text *tenant);

/*
 * AFTER STATEMENT: gather the results of the rows td's query inserted, from
 * every INSERT of it, and return how many there are.
 */
extern int64 bt_handover_collect(TriggerData *td);

/*
 * Make what bt_handover_collect gathered the results that
 * _pairs_pending_drawings, _pairs_pending_tenant and _pairs_take_results
 * read, call the store function (if valid) unless store_directly (if not
 * NULL), called with arg and the function, stored them and says so, then
 * free them.
 */
extern void bt_handover_store(Oid store_fn, bool (*store_directly) (void *, Oid), void *arg);

/*
 * While they are being stored: the one result of a group of one inserted
 * row (HO_NCOLS values, copied into CurrentMemoryContext) and its tenant,
 * left in place for _pairs_take_results.
 */
extern void bt_handover_peek_one(Datum *values, bool *nulls, text **tenant);

#endif							/* BUILDTRACE_HANDOVER_H */
