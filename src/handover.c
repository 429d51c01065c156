/*-------------------------------------------------------------------------
 *
 * handover.c
 *	  The results of the pairs row trigger, kept from the row's BEFORE
 *	  trigger until its statement's AFTER trigger stores them.
 *
 * Each INSERT or COPY into pairs has one handover.  The BEFORE ROW trigger
 * appends each row's result to it, the AFTER ROW trigger (which fires only
 * for rows really inserted, in the same order, at the end of the
 * statement) records the inserted pair_ids, and the AFTER STATEMENT trigger
 * hands the results of the inserted rows to the SQL function that stores
 * them.  A row skipped in between (ON CONFLICT DO NOTHING, a later BEFORE
 * trigger returning NULL) has no AFTER ROW event, and its result is passed
 * over by that merge and freed with the handover at statement end.
 *
 * Everything is kept in tuplestores bounded by work_mem, which spill to
 * temporary files, so that one INSERT ... SELECT of any number of pairs
 * holds at most a few times work_mem of results in memory.
 *
 * A statement is known by the address of its result relation's copy of the
 * relation's triggers: every trigger of one statement sees the same copy,
 * and two statements alive at once never share it.  Handovers form a stack
 * because statements nest (a row's SELECT may itself insert pairs): the
 * nested one ends, and pops its handover, before the outer one goes on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "handover.h"

PG_FUNCTION_INFO_V1(bt_pairs_take_results);
PG_FUNCTION_INFO_V1(bt_pairs_pending_drawings);
PG_FUNCTION_INFO_V1(bt_pairs_pending_tenant);

struct Handover
{
	const Trigger *statement;	/* the statement's trigger array */
	SubTransactionId subxid;	/* subtransaction that created it */
	MemoryContext cxt;			/* holds this struct and the stores */
	Tuplestorestate *results;	/* one row per BEFORE ROW call */
	Tuplestorestate *inserted;	/* pair_id of each AFTER ROW call */
	Tuplestorestate *drawings;	/* drawing_id of each inserted row, with
								 * runs of one drawing stored once */
	text	   *last_drawing;	/* the last one stored there */
	text	   *tenant;			/* of the inserted rows; NULL before the
								 * first and in a table without tenants */
	int64		ninserted;
	Handover   *outer;			/* the enclosing statement's, or NULL */
};

/* The stack of live handovers, innermost first; lives in TopTransactionContext. */
static Handover *innermost = NULL;

/* The handover being stored by bt_handover_store, if any. */
static Handover *storing = NULL;

static TupleDesc result_desc = NULL;

static void
handover_free(Handover *h)
{
	tuplestore_end(h->results);
	tuplestore_end(h->inserted);
	tuplestore_end(h->drawings);
	MemoryContextDelete(h->cxt);
}

static void
handover_pop(Handover *h)
{
	Assert(innermost == h);
	innermost = h->outer;
	if (storing == h)
		storing = NULL;
	handover_free(h);
}

/*
 * At commit a handover left over (its statement trigger disabled) closes
 * its temporary files; on abort the resource owner closes them and its
 * memory goes with TopTransactionContext.
 */
static void
handover_xact_end(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE)
	{
		while (innermost != NULL)
			handover_pop(innermost);
	}
	innermost = NULL;
	storing = NULL;
}

/* Forget the handovers of an aborted subtransaction and those inside it. */
static void
handover_subxact_end(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (innermost != NULL && innermost->subxid >= mySubid)
	{
		Handover   *h = innermost;

		/* its files were the aborted resource owner's to close */
		innermost = h->outer;
		if (storing == h)
			storing = NULL;
		MemoryContextDelete(h->cxt);
	}
}

void
bt_handover_init(void)
{
	RegisterXactCallback(handover_xact_end, NULL);
	RegisterSubXactCallback(handover_subxact_end, NULL);
}

TupleDesc
bt_handover_desc(void)
{
	static const struct
	{
		const char *name;
		Oid			type;
	}			cols[HO_NCOLS] = {
		{"pair_id", INT8OID}, {"drawing_id", TEXTOID}, {"job_id", TEXTOID},
		{"latency_ms", FLOAT8OID}, {"retry_of", INT8OID}, {"ok", BOOLOID},
		{"result", JSONBOID}, {"processing_us", INT8OID}, {"added", INT4OID},
		{"removed", INT4OID}, {"moved", INT4OID}, {"resized", INT4OID},
		{"retyped", INT4OID}, {"modified", INT4OID}, {"unchanged", INT4OID},
		{"rotated", INT4OID}, {"reidentified", INT4OID}, {"shifted", INT4OID}
	};
	MemoryContext old;

	if (result_desc != NULL)
		return result_desc;
	old = MemoryContextSwitchTo(TopMemoryContext);
	result_desc = CreateTemplateTupleDesc(HO_NCOLS);
	for (int i = 0; i < HO_NCOLS; i++)
		TupleDescInitEntry(result_desc, i + 1, cols[i].name, cols[i].type, -1, 0);
	result_desc = BlessTupleDesc(result_desc);
	MemoryContextSwitchTo(old);
	return result_desc;
}

/*
 * The statement's key: the start of its result relation's trigger array,
 * found from td's trigger by its position in the relation's triggers (the
 * copy keeps their order).
 */
static const Trigger *
statement_of(TriggerData *td)
{
	TriggerDesc *rel_triggers = td->tg_relation->trigdesc;

	for (int i = 0; i < rel_triggers->numtriggers; i++)
	{
		if (rel_triggers->triggers[i].tgoid == td->tg_trigger->tgoid)
			return td->tg_trigger - i;
	}
	elog(ERROR, "trigger %u not found on relation \"%s\"",
		 td->tg_trigger->tgoid, RelationGetRelationName(td->tg_relation));
	return NULL;				/* keep compiler quiet */
}

static Tuplestorestate *
new_store(void)
{
	return tuplestore_begin_heap(false, false, work_mem);
}

Handover *
bt_handover_of(TriggerData *td, bool create)
{
	const Trigger *statement = statement_of(td);
	MemoryContext cxt,
				old;
	Handover   *h;

	if (innermost != NULL && innermost->statement == statement)
		return innermost;
	if (!create)
		return NULL;
	cxt = AllocSetContextCreate(TopTransactionContext, "buildtrace handover",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	h = palloc0(sizeof(Handover));
	h->statement = statement;
	h->subxid = GetCurrentSubTransactionId();
	h->cxt = cxt;
	h->results = new_store();
	h->inserted = new_store();
	h->drawings = new_store();
	h->outer = innermost;
	innermost = h;
	MemoryContextSwitchTo(old);
	return h;
}

void
bt_handover_put(Handover *h, Datum *values, bool *nulls)
{
	tuplestore_putvalues(h->results, bt_handover_desc(), values, nulls);
}

/*
 * The first row sets the statement's tenant, which its results, anomalies
 * and rollups are stored under; every other row must be of it.
 */
static void
same_tenant(Handover *h, int64 pair_id, text *drawing, text *tenant)
{
	if (h->tenant == NULL)
	{
		h->tenant = (text *) MemoryContextAlloc(h->cxt, VARSIZE_ANY(tenant));
		memcpy(h->tenant, tenant, VARSIZE_ANY(tenant));
		return;
	}
	if (VARSIZE_ANY_EXHDR(h->tenant) == VARSIZE_ANY_EXHDR(tenant) &&
		memcmp(VARDATA_ANY(h->tenant), VARDATA_ANY(tenant), VARSIZE_ANY_EXHDR(tenant)) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("pairs of one statement must be of one tenant"),
			 errdetail("Pair " INT64_FORMAT " of drawing \"%s\" is of tenant \"%s\", an earlier pair of the statement of tenant \"%s\".",
					   pair_id, text_to_cstring(drawing), text_to_cstring(tenant),
					   text_to_cstring(h->tenant)),
			 errhint("Insert each tenant's pairs in a statement of their own.")));
}

void
bt_handover_mark_inserted(Handover *h, int64 pair_id, Datum drawing_id, text *tenant)
{
	TupleDesc	desc = bt_handover_desc();
	Datum		values[HO_NCOLS] = {0};
	bool		nulls[HO_NCOLS];
	text	   *drawing = DatumGetTextPP(drawing_id);
	MemoryContext old;

	if (tenant != NULL)
		same_tenant(h, pair_id, drawing, tenant);

	/* Both stores take the result row's shape: one descriptor for all. */
	memset(nulls, true, sizeof(nulls));
	values[HO_PAIR_ID] = Int64GetDatum(pair_id);
	nulls[HO_PAIR_ID] = false;
	tuplestore_putvalues(h->inserted, desc, values, nulls);
	h->ninserted++;

	if (h->last_drawing != NULL &&
		VARSIZE_ANY_EXHDR(h->last_drawing) == VARSIZE_ANY_EXHDR(drawing) &&
		memcmp(VARDATA_ANY(h->last_drawing), VARDATA_ANY(drawing),
			   VARSIZE_ANY_EXHDR(drawing)) == 0)
		return;
	values[HO_DRAWING_ID] = PointerGetDatum(drawing);
	nulls[HO_DRAWING_ID] = false;
	tuplestore_putvalues(h->drawings, desc, values, nulls);
	old = MemoryContextSwitchTo(h->cxt);
	if (h->last_drawing)
		pfree(h->last_drawing);
	h->last_drawing = (text *) pg_detoast_datum_copy((struct varlena *) drawing);
	MemoryContextSwitchTo(old);
}

int64
bt_handover_inserted(Handover *h)
{
	return h->ninserted;
}

void
bt_handover_store(Handover *h, Oid store_fn)
{
	Assert(h == innermost);
	storing = h;
	if (OidIsValid(store_fn))
		OidFunctionCall0(store_fn);
	handover_pop(h);
}

/*
 * The handover the read functions serve: the one being stored, or, when
 * the statement trigger is the SQL function of an install not yet updated
 * to this module's version, which calls them itself, the innermost one if
 * rows of it were inserted.  (Such a trigger cannot tell an enclosing
 * statement's handover from its own: ALTER EXTENSION buildtrace UPDATE.)
 */
static Handover *
serving(void)
{
	if (storing != NULL)
		return storing;
	return innermost != NULL && innermost->ninserted > 0 ? innermost : NULL;
}

/*
 * _pairs_pending_drawings(): the drawings of the inserted rows, for the
 * store function to lock before it takes the results.
 */
Datum
bt_pairs_pending_drawings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Handover   *h = serving();
	TupleTableSlot *slot;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (h == NULL)
		return (Datum) 0;
	slot = MakeSingleTupleTableSlot(bt_handover_desc(), &TTSOpsMinimalTuple);
	tuplestore_rescan(h->drawings);
	while (tuplestore_gettupleslot(h->drawings, true, false, slot))
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, HO_DRAWING_ID + 1, &isnull);

		CHECK_FOR_INTERRUPTS();
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	ExecDropSingleTupleTableSlot(slot);
	return (Datum) 0;
}

static int64
slot_pair_id(TupleTableSlot *slot)
{
	bool		isnull;

	return DatumGetInt64(slot_getattr(slot, HO_PAIR_ID + 1, &isnull));
}

/*
 * _pairs_take_results(): the results of the inserted rows, in insertion
 * order.  Both stores are in that order, the inserted ids a subsequence of
 * the results' ids, so one merge pass finds them.  A second call for the
 * same statement returns nothing.
 */
Datum
bt_pairs_take_results(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Handover   *h = serving();
	TupleTableSlot *result,
			   *inserted;

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != HO_NCOLS && rsinfo->setDesc->natts != HO_NCOLS_0_1)
		elog(ERROR, "_pairs_take_results must return %d columns", HO_NCOLS);
	if (h == NULL || tuplestore_ateof(h->results))
		return (Datum) 0;
	result = MakeSingleTupleTableSlot(bt_handover_desc(), &TTSOpsMinimalTuple);
	inserted = MakeSingleTupleTableSlot(bt_handover_desc(), &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(h->inserted, true, false, inserted))
	{
		int64		want = slot_pair_id(inserted);

		while (tuplestore_gettupleslot(h->results, true, false, result))
		{
			CHECK_FOR_INTERRUPTS();
			if (slot_pair_id(result) == want)
			{
				/* the leading columns, as many as the caller declared */
				slot_getallattrs(result);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
									 result->tts_values, result->tts_isnull);
				break;
			}
		}
	}
	/* Leave both at their end, so that the results are taken once. */
	while (tuplestore_gettupleslot(h->results, true, false, result))
		CHECK_FOR_INTERRUPTS();
	ExecDropSingleTupleTableSlot(result);
	ExecDropSingleTupleTableSlot(inserted);
	if (storing == NULL && h == innermost)
		handover_pop(h);
	return (Datum) 0;
}

/*
 * _pairs_pending_tenant(): the tenant of the inserted rows of the statement
 * being stored ('' in a table without tenants).
 */
Datum
bt_pairs_pending_tenant(PG_FUNCTION_ARGS)
{
	Handover   *h = serving();

	if (h == NULL || h->tenant == NULL)
		PG_RETURN_TEXT_P(cstring_to_text(""));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(VARDATA_ANY(h->tenant),
											  VARSIZE_ANY_EXHDR(h->tenant)));
}
