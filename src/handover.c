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
 * A statement's BEFORE ROW triggers know it by the address of its result
 * relation's copy of the relation's triggers: every row of one statement
 * sees the same copy, and two statements alive at once never share it.
 * Several handovers are alive at once when statements nest (a row's SELECT
 * may itself insert pairs) and when one query inserts into pairs more than
 * once (data-modifying WITH clauses).  The second case is why the AFTER
 * triggers cannot use that key: PostgreSQL fires the AFTER ROW triggers of
 * all of a query's INSERTs into one table with the first INSERT's copy,
 * and its AFTER STATEMENT trigger once for all of them.  So an AFTER ROW
 * trigger finds its row's handover by the row's pair_id, and tags it with
 * the key it saw; the AFTER STATEMENT trigger, which sees the same key,
 * stores every handover so tagged together: the query's rows, from however
 * many INSERTs.
 *
 * A key is an address, which a later statement's copy may take once the
 * executor has freed it.  So a handover watches its statement's executor
 * memory, and forgets its keys when that goes: a handover left over (see
 * handover_xact_end) is then never taken for a later statement's.  (The key
 * itself is not watched: it is worked out from the relation's current
 * triggers, which a statement can change under its own copy.)
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
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "handover.h"
#include "text_equal.h"

PG_FUNCTION_INFO_V1(bt_pairs_take_results);
PG_FUNCTION_INFO_V1(bt_pairs_pending_drawings);
PG_FUNCTION_INFO_V1(bt_pairs_pending_tenant);

typedef struct Handover Handover;

struct Handover
{
	const Trigger *statement;	/* its BEFORE ROW triggers' trigger array;
								 * NULL once its query's executor is gone */
	const Trigger *after_key;	/* its AFTER ROW triggers', once one fired */
	uint64		serial;			/* tells it from every other handover */
	int			storing;		/* store_level of the group it is in, or 0 */
	SubTransactionId subxid;	/* subtransaction that created it */
	MemoryContext cxt;			/* holds this struct and the stores */
	ResourceOwner owner;		/* holds the stores' temporary files */
	Tuplestorestate *results;	/* one row per BEFORE ROW call */
	Tuplestorestate *inserted;	/* pair_id of each AFTER ROW call */
	Tuplestorestate *drawings;	/* drawing_id of each inserted row, with runs
								 * of one drawing stored once */
	text	   *last_drawing;	/* the last one stored there */
	text	   *tenant;			/* of the inserted rows; NULL before the first
								 * and in a table without tenants */
	int64		ninserted;
	int64	   *ids;			/* pair_id of each BEFORE ROW call */
	int64		nids;
	int64		maxids;
	bool		ids_sorted;		/* ascending, as the identity column gives */
	Handover   *older;			/* the next older live handover, or NULL */
};

/* The live handovers, newest first; they live in TopTransactionContext. */
static Handover *newest = NULL;
static uint64 last_serial = 0;

/* Held in a handover's statement's memory, to hear when it goes. */
typedef struct KeyWatch
{
	MemoryContextCallback callback;
	uint64		serial;
} KeyWatch;

/*
 * How many groups are being stored, one inside the other (a store can set
 * off an INSERT into pairs); the innermost is the one served.
 */
static int	store_level = 0;

static TupleDesc result_desc = NULL;

/*
 * Close h's temporary files, without writing out what their buffers hold,
 * and free its memory.  Its own resource owner, under the transaction's,
 * holds the files: a handover can outlive the statement that made it (a
 * left-over one until commit), and its files must not be closed under it.
 */
static void
handover_free(Handover *h)
{
	ResourceOwnerRelease(h->owner, RESOURCE_RELEASE_BEFORE_LOCKS, false, false);
	ResourceOwnerRelease(h->owner, RESOURCE_RELEASE_LOCKS, false, false);
	ResourceOwnerRelease(h->owner, RESOURCE_RELEASE_AFTER_LOCKS, false, false);
	ResourceOwnerDelete(h->owner);
	MemoryContextDelete(h->cxt);
}

static void
handover_remove(Handover *h)
{
	Handover  **link = &newest;

	while (*link != h)
		link = &(*link)->older;
	*link = h->older;
	handover_free(h);
}

/*
 * At commit a handover left over (its statement trigger disabled, or an
 * INSERT whose rows were all skipped in a query of several) is freed; on
 * abort its resource owner goes with the transaction's, and its memory
 * with TopTransactionContext.
 */
static void
handover_xact_end(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE)
	{
		while (newest != NULL)
			handover_remove(newest);
	}
	newest = NULL;
	store_level = 0;
}

/* Forget the handovers of an aborted subtransaction and those inside it. */
static void
handover_subxact_end(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (newest != NULL && newest->subxid >= mySubid)
	{
		Handover   *h = newest;

		newest = h->older;
		handover_free(h);
	}
	store_level = 0;
	for (Handover *h = newest; h != NULL; h = h->older)
		store_level = Max(store_level, h->storing);
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

const Trigger *
bt_statement_key(TriggerData *td)
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

/* A store whose temporary files, if it spills, belong to owner. */
static Tuplestorestate *
new_store(ResourceOwner owner)
{
	ResourceOwner caller = CurrentResourceOwner;
	Tuplestorestate *store;

	CurrentResourceOwner = owner;
	store = tuplestore_begin_heap(false, false, work_mem);
	CurrentResourceOwner = caller;
	return store;
}

/*
 * A handover's statement's executor memory is going, and the address of its
 * key with it: the handover, if still alive, can no longer be any
 * statement's.
 */
static void
key_freed(void *arg)
{
	uint64		serial = ((KeyWatch *) arg)->serial;

	for (Handover *h = newest; h != NULL; h = h->older)
	{
		if (h->serial == serial)
		{
			h->statement = NULL;
			h->after_key = NULL;
			return;
		}
	}
}

static void
watch_statement(Handover *h, MemoryContext statement_cxt)
{
	KeyWatch   *watch = MemoryContextAlloc(statement_cxt, sizeof(KeyWatch));

	watch->serial = h->serial;
	watch->callback.func = key_freed;
	watch->callback.arg = watch;
	MemoryContextRegisterResetCallback(statement_cxt, &watch->callback);
}

/* The handover of td's statement, for its BEFORE ROW trigger; made by the first row. */
static Handover *
handover_of_statement(TriggerData *td, MemoryContext statement_cxt)
{
	const Trigger *statement = bt_statement_key(td);
	MemoryContext cxt,
				old;
	Handover   *h;

	for (h = newest; h != NULL; h = h->older)
	{
		if (h->statement == statement)
			return h;
	}
	cxt = AllocSetContextCreate(TopTransactionContext, "buildtrace handover",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	h = palloc0(sizeof(Handover));
	h->statement = statement;
	h->serial = ++last_serial;
	h->subxid = GetCurrentSubTransactionId();
	h->cxt = cxt;
	h->owner = ResourceOwnerCreate(TopTransactionResourceOwner, "buildtrace handover");
	h->results = new_store(h->owner);
	h->inserted = new_store(h->owner);
	h->drawings = new_store(h->owner);
	h->maxids = 16;
	h->ids = palloc(h->maxids * sizeof(int64));
	h->ids_sorted = true;
	h->older = newest;
	newest = h;
	MemoryContextSwitchTo(old);
	watch_statement(h, statement_cxt);
	return h;
}

void
bt_handover_put(TriggerData *td, Datum *values, bool *nulls,
				MemoryContext statement_cxt)
{
	Handover   *h = handover_of_statement(td, statement_cxt);
	int64		pair_id = DatumGetInt64(values[HO_PAIR_ID]);

	if (h->nids == h->maxids)
	{
		h->maxids *= 2;
		h->ids = repalloc_huge(h->ids, h->maxids * sizeof(int64));
	}
	if (h->nids > 0 && pair_id <= h->ids[h->nids - 1])
		h->ids_sorted = false;
	h->ids[h->nids++] = pair_id;
	tuplestore_putvalues(h->results, bt_handover_desc(), values, nulls);
}

static int
compare_ids(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * Where h holds pair_id among its sorted ids, or NULL.  Ids given by the
 * identity column come in ascending order; others (OVERRIDING SYSTEM
 * VALUE) are sorted at the first question, the results keeping their own
 * order.
 */
static const int64 *
find_pair(Handover *h, int64 pair_id)
{
	if (!h->ids_sorted)
	{
		qsort(h->ids, h->nids, sizeof(int64), compare_ids);
		h->ids_sorted = true;
	}
	return bsearch(&pair_id, h->ids, h->nids, sizeof(int64), compare_ids);
}

/*
 * Two rows of one statement given the same pair_id, one of them skipped
 * (ON CONFLICT DO NOTHING): nothing tells which row's result is the
 * inserted one's, so the statement is refused rather than store either.
 */
static void
one_row_per_pair(Handover *h, const int64 *found)
{
	if ((found > h->ids && found[-1] == *found) ||
		(found < h->ids + h->nids - 1 && found[1] == *found))
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("pair_id " INT64_FORMAT " is given to more than one row of the statement",
						*found),
				 errdetail("One of them was skipped, and buildtrace cannot tell which row's diff to store."),
				 errhint("Give each row of a statement its own pair_id.")));
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
	if (bt_text_equal(PointerGetDatum(h->tenant), PointerGetDatum(tenant)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("pairs of one statement must be of one tenant"),
			 errdetail("Pair " INT64_FORMAT " of drawing \"%s\" is of tenant \"%s\", an earlier pair of the statement of tenant \"%s\".",
					   pair_id, text_to_cstring(drawing), text_to_cstring(tenant),
					   text_to_cstring(h->tenant)),
			 errhint("Insert each tenant's pairs in a statement of their own.")));
}

/* The same for the INSERTs of one query, stored together. */
static void
same_tenant_of_query(const text *tenant, const text *other)
{
	if (bt_text_equal(PointerGetDatum(tenant), PointerGetDatum(other)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("pairs of one statement must be of one tenant"),
			 errdetail("The statement inserted pairs of tenants \"%s\" and \"%s\".",
					   text_to_cstring(tenant), text_to_cstring(other)),
			 errhint("Insert each tenant's pairs in a statement of their own.")));
}

void
bt_handover_mark_inserted(TriggerData *td, int64 pair_id, Datum drawing_id, text *tenant)
{
	TupleDesc	desc = bt_handover_desc();
	Datum		values[HO_NCOLS] = {0};
	bool		nulls[HO_NCOLS];
	const int64 *found = NULL;
	text	   *drawing;
	MemoryContext old;
	Handover   *h;

	/*
	 * The newest first: a nested statement's rows are marked before the
	 * outer's.
	 */
	for (h = newest; h != NULL; h = h->older)
	{
		CHECK_FOR_INTERRUPTS();
		/* a handover whose query has ended is no row's of this one */
		if (h->statement != NULL && (found = find_pair(h, pair_id)) != NULL)
			break;
	}
	if (h == NULL)
		return;					/* not diffed: the BEFORE trigger did not run */
	one_row_per_pair(h, found);
	h->after_key = bt_statement_key(td);
	drawing = DatumGetTextPP(drawing_id);
	if (tenant != NULL)
		same_tenant(h, pair_id, drawing, tenant);

	/* Both stores take the result row's shape: one descriptor for all. */
	memset(nulls, true, sizeof(nulls));
	values[HO_PAIR_ID] = Int64GetDatum(pair_id);
	nulls[HO_PAIR_ID] = false;
	tuplestore_putvalues(h->inserted, desc, values, nulls);
	h->ninserted++;

	if (h->last_drawing != NULL &&
		bt_text_equal(PointerGetDatum(h->last_drawing), PointerGetDatum(drawing)))
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

/*
 * The group stored: the handovers whose rows td's query inserted, and the
 * handover of td's statement if none of its rows was (ON CONFLICT DO
 * NOTHING), to be freed.  Rows of one query are of one tenant.
 */
int64
bt_handover_collect(TriggerData *td)
{
	const Trigger *key = bt_statement_key(td);
	const text *tenant = NULL;
	int64		ninserted = 0;

	for (Handover *h = newest; h != NULL; h = h->older)
	{
		if (h->storing != 0 ||
			(h->after_key != key && (h->after_key != NULL || h->statement != key)))
			continue;
		h->storing = store_level + 1;
		ninserted += h->ninserted;
		if (h->tenant == NULL)
			continue;
		if (tenant == NULL)
			tenant = h->tenant;
		else
			same_tenant_of_query(tenant, h->tenant);
	}
	return ninserted;
}

void
bt_handover_store(Oid store_fn, bool (*store_directly) (void *, Oid), void *arg)
{
	Handover   *h,
			   *older;

	store_level++;
	if (OidIsValid(store_fn) && (store_directly == NULL || !store_directly(arg, store_fn)))
		OidFunctionCall0(store_fn);
	for (h = newest; h != NULL; h = older)
	{
		older = h->older;
		if (h->storing == store_level)
			handover_remove(h);
	}
	store_level--;
}

/*
 * Whether the read functions serve h: a member of the group being stored,
 * or, when the statement trigger is the SQL function of an install not yet
 * updated to this module's version, which calls them itself, the newest
 * handover if rows of it were inserted.  (Such a trigger cannot tell an
 * enclosing statement's handover from its own: ALTER EXTENSION buildtrace
 * UPDATE.)
 */
static bool
served(Handover *h)
{
	if (store_level > 0)
		return h->storing == store_level;
	return h == newest && h->ninserted > 0;
}

/*
 * _pairs_pending_drawings(): the drawings of the inserted rows, for the
 * store function to lock before it takes the results.
 */
Datum
bt_pairs_pending_drawings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleTableSlot *slot;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	slot = MakeSingleTupleTableSlot(bt_handover_desc(), &TTSOpsMinimalTuple);
	for (Handover *h = newest; h != NULL; h = h->older)
	{
		if (!served(h))
			continue;
		tuplestore_rescan(h->drawings);
		while (tuplestore_gettupleslot(h->drawings, true, false, slot))
		{
			bool		isnull;
			Datum		value = slot_getattr(slot, HO_DRAWING_ID + 1, &isnull);

			CHECK_FOR_INTERRUPTS();
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
		}
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
 * The results of h's inserted rows, in insertion order, into rsinfo's
 * store.  Both stores are in that order, the inserted ids a subsequence of
 * the results' ids, so one merge pass finds them; both are left at their
 * end, so that the results are taken once.
 */
static void
take_results_of(Handover *h, ReturnSetInfo *rsinfo,
				TupleTableSlot *result, TupleTableSlot *inserted)
{
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
	while (tuplestore_gettupleslot(h->results, true, false, result))
		CHECK_FOR_INTERRUPTS();
}

/*
 * The result of the one inserted row of the group being stored, copied
 * into CurrentMemoryContext, and the rows' tenant (NULL in a table without
 * tenants).  The stores are read from their start and left there, for
 * _pairs_take_results if the caller leaves the storing to SQL after all.
 */
void
bt_handover_peek_one(Datum *values, bool *nulls, text **tenant)
{
	TupleTableSlot *result = MakeSingleTupleTableSlot(bt_handover_desc(), &TTSOpsMinimalTuple);
	TupleTableSlot *inserted = MakeSingleTupleTableSlot(bt_handover_desc(), &TTSOpsMinimalTuple);
	Handover   *h;
	int64		want;

	for (h = newest; h != NULL; h = h->older)
	{
		if (served(h) && h->ninserted > 0)
			break;
	}
	if (h == NULL || h->ninserted != 1)
		elog(ERROR, "no single result to store");
	tuplestore_rescan(h->inserted);
	tuplestore_rescan(h->results);
	if (!tuplestore_gettupleslot(h->inserted, true, false, inserted))
		elog(ERROR, "inserted row missing from its handover");
	want = slot_pair_id(inserted);
	while (tuplestore_gettupleslot(h->results, true, false, result))
	{
		CHECK_FOR_INTERRUPTS();
		if (slot_pair_id(result) == want)
			break;
	}
	if (TupIsNull(result) || slot_pair_id(result) != want)
		elog(ERROR, "result of pair " INT64_FORMAT " missing from its handover", want);
	heap_deform_tuple(ExecCopySlotHeapTuple(result), bt_handover_desc(), values, nulls);
	*tenant = h->tenant;
	tuplestore_rescan(h->inserted);
	tuplestore_rescan(h->results);
	ExecDropSingleTupleTableSlot(result);
	ExecDropSingleTupleTableSlot(inserted);
}

/*
 * _pairs_take_results(): the results of the inserted rows, each INSERT's
 * in insertion order.  A second call for the same statement returns
 * nothing.
 */
Datum
bt_pairs_take_results(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleTableSlot *result,
			   *inserted;
	Handover   *h,
			   *older;

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != HO_NCOLS && rsinfo->setDesc->natts != HO_NCOLS_0_1)
		elog(ERROR, "_pairs_take_results must return %d columns", HO_NCOLS);
	result = MakeSingleTupleTableSlot(bt_handover_desc(), &TTSOpsMinimalTuple);
	inserted = MakeSingleTupleTableSlot(bt_handover_desc(), &TTSOpsMinimalTuple);
	for (h = newest; h != NULL; h = older)
	{
		older = h->older;
		if (!served(h))
			continue;
		take_results_of(h, rsinfo, result, inserted);
		if (store_level == 0)
		{
			handover_remove(h);
			break;
		}
	}
	ExecDropSingleTupleTableSlot(result);
	ExecDropSingleTupleTableSlot(inserted);
	return (Datum) 0;
}

/*
 * _pairs_pending_tenant(): the tenant of the inserted rows of the statement
 * being stored ('' in a table without tenants).
 */
Datum
bt_pairs_pending_tenant(PG_FUNCTION_ARGS)
{
	for (Handover *h = newest; h != NULL; h = h->older)
	{
		if (served(h) && h->tenant != NULL)
			PG_RETURN_TEXT_P(cstring_to_text_with_len(VARDATA_ANY(h->tenant),
													  VARSIZE_ANY_EXHDR(h->tenant)));
	}
	PG_RETURN_TEXT_P(cstring_to_text(""));
}
