/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *	  The pairs trigger's per-row work in C: diff each inserted pair, set its
 *	  status on the row itself, and keep the result for the statement-level
 *	  trigger that stores it (src/sql/31_pipeline_triggers.sql).
 *
 * Setting status, error and processed_at before the row is written saves
 * an UPDATE of every pair (a second heap tuple and index entries); the diff
 * runs on the values being inserted.  The results wait in a per-transaction
 * table keyed by pair_id.  An AFTER ROW trigger marks the result of each row
 * that was really inserted, and the statement trigger, which runs after the
 * row triggers of its statement, takes the marked ones: a row skipped after
 * the BEFORE trigger (ON CONFLICT DO NOTHING) has no row to describe, and
 * an outer statement's rows are not marked until its own end.  A transition
 * table would do the same but copy every row, versions included.  Results
 * of an aborted subtransaction are dropped with it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "diff_sql.h"
#include "guc.h"
#include "pipeline.h"

PG_FUNCTION_INFO_V1(bt_pairs_before_insert);
PG_FUNCTION_INFO_V1(bt_pairs_after_insert_row);
PG_FUNCTION_INFO_V1(bt_pairs_take_results);
PG_FUNCTION_INFO_V1(bt_pairs_pending_drawings);

/*
 * The result of one pair, waiting for its statement's trigger, with the
 * columns of the row that the statement trigger's writes need.
 */
typedef struct PendingResult
{
	int64		pair_id;		/* hash key */
	SubTransactionId subxid;	/* subtransaction that computed it */
	bool		inserted;		/* set by the AFTER ROW trigger */
	bool		ok;				/* false: invalid input */
	int64		processing_us;
	BtCounts	counts;
	Jsonb	   *result;			/* the diff, or the problems array */
	text	   *drawing_id;
	text	   *job_id;			/* NULL when the column is */
	bool		has_latency;
	double		latency_ms;
	bool		has_retry_of;
	int64		retry_of;
} PendingResult;

/* Both live in TopTransactionContext; NULL outside a transaction's use. */
static MemoryContext pending_cxt = NULL;
static HTAB *pending = NULL;

static void
pending_free_values(PendingResult *r)
{
	pfree(r->result);
	pfree(r->drawing_id);
	if (r->job_id)
		pfree(r->job_id);
}

static void
pending_remove(PendingResult *r)
{
	pending_free_values(r);
	hash_search(pending, &r->pair_id, HASH_REMOVE, NULL);
}

static void
pending_forget(XactEvent event, void *arg)
{
	/* TopTransactionContext, and pending_cxt in it, go with the transaction */
	pending_cxt = NULL;
	pending = NULL;
}

/* Drop what an aborted subtransaction (and those inside it) computed. */
static void
pending_forget_sub(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS seq;
	PendingResult *r;

	if (event != SUBXACT_EVENT_ABORT_SUB || pending == NULL)
		return;
	/* Subtransactions started after mySubid are all inside it. */
	hash_seq_init(&seq, pending);
	while ((r = hash_seq_search(&seq)) != NULL)
	{
		if (r->subxid >= mySubid)
			pending_remove(r);
	}
}

void
bt_pipeline_init(void)
{
	RegisterXactCallback(pending_forget, NULL);
	RegisterSubXactCallback(pending_forget_sub, NULL);
}

/* Copy of a varlena into pending_cxt. */
static void *
pending_copy(Datum value)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(value);
	void	   *copy = MemoryContextAlloc(pending_cxt, VARSIZE_ANY(v));

	memcpy(copy, v, VARSIZE_ANY(v));
	return copy;
}

/* Keep outcome o of the pair whose row fields entry holds. */
static void
pending_put(PendingResult *entry, BtDiffOutcome *o)
{
	PendingResult *r;
	bool		found;

	if (pending == NULL)
	{
		HASHCTL		ctl;

		pending_cxt = AllocSetContextCreate(TopTransactionContext,
											"buildtrace pending results",
											ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(PendingResult);
		ctl.hcxt = pending_cxt;
		pending = hash_create("buildtrace pending results", 1024, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	r = hash_search(pending, &entry->pair_id, HASH_ENTER, &found);
	/* An older entry of this id belongs to a row that was not inserted. */
	if (found)
		pending_free_values(r);
	*r = *entry;
	r->subxid = GetCurrentSubTransactionId();
	r->ok = o->diff != NULL;
	r->counts = o->counts;
	r->result = pending_copy(JsonbPGetDatum(o->diff ? o->diff : o->problems));
	r->drawing_id = pending_copy(PointerGetDatum(entry->drawing_id));
	r->job_id = entry->job_id ? pending_copy(PointerGetDatum(entry->job_id)) : NULL;
}

/* Column numbers of the pairs columns the trigger reads and writes. */
typedef struct PairColumns
{
	int			pair_id;
	int			drawing_id;
	int			job_id;
	int			version_a;
	int			version_b;
	int			latency_ms;
	int			retry_of;
	int			status;
	int			error;
	int			processed_at;
} PairColumns;

static int
column(TupleDesc desc, const char *name)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("buildtrace pairs trigger needs column \"%s\"", name)));
	return attnum;
}

/*
 * The column numbers, looked up once per statement: fn_extra lives as long
 * as the statement's trigger call info, and the table cannot change under a
 * running INSERT.
 */
static PairColumns *
pair_columns(FunctionCallInfo fcinfo, TupleDesc desc)
{
	PairColumns *c = fcinfo->flinfo->fn_extra;

	if (c != NULL)
		return c;
	c = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(PairColumns));
	c->pair_id = column(desc, "pair_id");
	c->drawing_id = column(desc, "drawing_id");
	c->job_id = column(desc, "job_id");
	c->version_a = column(desc, "version_a");
	c->version_b = column(desc, "version_b");
	c->latency_ms = column(desc, "latency_ms");
	c->retry_of = column(desc, "retry_of");
	c->status = column(desc, "status");
	c->error = column(desc, "error");
	c->processed_at = column(desc, "processed_at");
	fcinfo->flinfo->fn_extra = c;
	return c;
}

/*
 * The pending entry's row fields; false if a NOT NULL column the diff needs
 * is NULL (its constraint, checked after BEFORE triggers, will say so).
 */
static bool
read_pair(HeapTuple row, TupleDesc desc, PairColumns *c, PendingResult *e,
		  Datum *a, Datum *b)
{
	bool		isnull,
				null_a,
				null_b;
	Datum		v;

	memset(e, 0, sizeof(*e));
	v = heap_getattr(row, c->pair_id, desc, &isnull);
	if (isnull)
		return false;
	e->pair_id = DatumGetInt64(v);
	v = heap_getattr(row, c->drawing_id, desc, &isnull);
	if (isnull)
		return false;
	e->drawing_id = DatumGetTextPP(v);
	v = heap_getattr(row, c->job_id, desc, &isnull);
	e->job_id = isnull ? NULL : DatumGetTextPP(v);
	v = heap_getattr(row, c->latency_ms, desc, &isnull);
	e->has_latency = !isnull;
	e->latency_ms = isnull ? 0 : DatumGetFloat8(v);
	v = heap_getattr(row, c->retry_of, desc, &isnull);
	e->has_retry_of = !isnull;
	e->retry_of = isnull ? 0 : DatumGetInt64(v);
	*a = heap_getattr(row, c->version_a, desc, &null_a);
	*b = heap_getattr(row, c->version_b, desc, &null_b);
	return !null_a && !null_b;
}

/*
 * A version stored out of line in another table, as INSERT ... SELECT reads
 * it, would be fetched twice: for the diff, then by the toaster writing the
 * row.  Fetched once here, still compressed, it goes into the row as it is.
 */
static Datum
fetch_out_of_line(Datum v, bool *fetched)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(v);

	*fetched = VARATT_IS_EXTERNAL(p);
	return *fetched ? PointerGetDatum(detoast_external_attr(p)) : v;
}

/* on_invalid = reject: the pair's first problem, saying which pair. */
static void
reject_pair(PendingResult *e, BtDiffOutcome *o)
{
	ereport(ERROR,
			(errcode(o->sqlerrcode),
			 errmsg_internal("%s", o->message),
			 errdetail("Pair " INT64_FORMAT " of drawing \"%s\": %s",
					   e->pair_id, text_to_cstring(e->drawing_id), o->detail),
			 errhint("Set buildtrace.on_invalid = 'flag' to keep invalid pairs as dead letters.")));
}

static void
check_row_trigger(FunctionCallInfo fcinfo, bool before)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		TRIGGER_FIRED_BEFORE(td->tg_event) != before ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s must be fired %s INSERT FOR EACH ROW",
						before ? "_pairs_before_insert" : "_pairs_after_insert_row",
						before ? "BEFORE" : "AFTER")));
}

/* BEFORE INSERT ON pairs FOR EACH ROW. */
Datum
bt_pairs_before_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	row;
	PairColumns *c;
	PendingResult e;
	Datum		a,
				b;
	MemoryContext rowcxt,
				old;
	BtDiffOutcome o;
	TimestampTz t0,
				t1;
	int			cols[5];
	Datum		vals[5];
	bool		nulls[5] = {false, false, false, false, false};
	bool		fetched_a,
				fetched_b;
	int			ncols = 3;
	HeapTuple	result;

	check_row_trigger(fcinfo, true);
	desc = RelationGetDescr(td->tg_relation);
	row = td->tg_trigtuple;
	c = pair_columns(fcinfo, desc);
	if (!read_pair(row, desc, c, &e, &a, &b))
		return PointerGetDatum(row);
	/* In the trigger's per-row context, which the new row lives in too. */
	a = fetch_out_of_line(a, &fetched_a);
	b = fetch_out_of_line(b, &fetched_b);

	/* The detoasted versions and the diff's output die with rowcxt. */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "buildtrace pair",
								   ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(rowcxt);
	t0 = GetCurrentTimestamp();
	bt_diff_versions(DatumGetJsonbP(a), DatumGetJsonbP(b),
					 bt_move_tolerance, bt_size_tolerance, &o);
	t1 = GetCurrentTimestamp();
	MemoryContextSwitchTo(old);
	e.processing_us = Max(t1 - t0, 0);

	if (o.diff == NULL && bt_on_invalid == BT_ON_INVALID_REJECT)
		reject_pair(&e, &o);

	cols[0] = c->status;
	vals[0] = CStringGetTextDatum(o.diff ? "done" : "failed");
	cols[1] = c->error;
	vals[1] = o.diff ? (Datum) 0 : JsonbPGetDatum(o.problems);
	nulls[1] = o.diff != NULL;
	cols[2] = c->processed_at;
	vals[2] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	if (fetched_a)
	{
		cols[ncols] = c->version_a;
		vals[ncols++] = a;
	}
	if (fetched_b)
	{
		cols[ncols] = c->version_b;
		vals[ncols++] = b;
	}
	result = heap_modify_tuple_by_cols(row, desc, ncols, cols, vals, nulls);

	pending_put(&e, &o);
	MemoryContextDelete(rowcxt);
	return PointerGetDatum(result);
}

/* Output columns of _pairs_take_results, in order. */
enum
{
	OUT_PAIR_ID, OUT_DRAWING_ID, OUT_JOB_ID, OUT_LATENCY_MS, OUT_RETRY_OF,
	OUT_OK, OUT_RESULT, OUT_PROCESSING_US, OUT_ADDED, OUT_REMOVED, OUT_MOVED,
	OUT_RESIZED, OUT_RETYPED, OUT_MODIFIED, OUT_UNCHANGED, OUT_NCOLS
};

static void
put_result(ReturnSetInfo *rsinfo, PendingResult *r)
{
	Datum		values[OUT_NCOLS];
	bool		nulls[OUT_NCOLS] = {0};
	const int32 *counts = &r->counts.added;

	values[OUT_PAIR_ID] = Int64GetDatum(r->pair_id);
	values[OUT_DRAWING_ID] = PointerGetDatum(r->drawing_id);
	values[OUT_JOB_ID] = PointerGetDatum(r->job_id);
	nulls[OUT_JOB_ID] = r->job_id == NULL;
	values[OUT_LATENCY_MS] = Float8GetDatum(r->latency_ms);
	nulls[OUT_LATENCY_MS] = !r->has_latency;
	values[OUT_RETRY_OF] = Int64GetDatum(r->retry_of);
	nulls[OUT_RETRY_OF] = !r->has_retry_of;
	values[OUT_OK] = BoolGetDatum(r->ok);
	values[OUT_RESULT] = JsonbPGetDatum(r->result);
	values[OUT_PROCESSING_US] = Int64GetDatum(r->processing_us);
	/* BtCounts lists the kinds in the output's order; NULL when failed */
	StaticAssertStmt(sizeof(BtCounts) == (OUT_UNCHANGED - OUT_ADDED + 1) * sizeof(int32),
					 "BtCounts must match the count columns");
	for (int k = OUT_ADDED; k <= OUT_UNCHANGED; k++)
	{
		values[k] = Int32GetDatum(counts[k - OUT_ADDED]);
		nulls[k] = !r->ok;
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* AFTER INSERT ON pairs FOR EACH ROW: the row is in, its result may go. */
Datum
bt_pairs_after_insert_row(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	PendingResult *r;
	Datum		id;
	bool		isnull;

	check_row_trigger(fcinfo, false);
	id = heap_getattr(td->tg_trigtuple,
					  pair_columns(fcinfo, RelationGetDescr(td->tg_relation))->pair_id,
					  RelationGetDescr(td->tg_relation), &isnull);
	if (!isnull && pending != NULL)
	{
		int64		pair_id = DatumGetInt64(id);

		r = hash_search(pending, &pair_id, HASH_FIND, NULL);
		if (r != NULL)
			r->inserted = true;
	}
	return PointerGetDatum(NULL);
}

static int
cmp_pair_id(const void *a, const void *b)
{
	int64		x = (*(PendingResult *const *) a)->pair_id;
	int64		y = (*(PendingResult *const *) b)->pair_id;

	return (x > y) - (x < y);
}

/*
 * _pairs_take_results(): the results of the rows inserted since the last
 * call, in pair_id order, removed from the table.
 */
Datum
bt_pairs_take_results(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	PendingResult *r;
	PendingResult **taken;
	long		n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (pending == NULL)
		return (Datum) 0;
	taken = palloc_extended(sizeof(PendingResult *) * Max(hash_get_num_entries(pending), 1),
							MCXT_ALLOC_HUGE);
	hash_seq_init(&seq, pending);
	while ((r = hash_seq_search(&seq)) != NULL)
		if (r->inserted)
			taken[n++] = r;
	qsort(taken, n, sizeof(PendingResult *), cmp_pair_id);
	for (long i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		put_result(rsinfo, taken[i]);
	}
	/* Removing frees nothing the hash table hands out again: do it last. */
	for (long i = 0; i < n; i++)
		pending_remove(taken[i]);
	pfree(taken);
	return (Datum) 0;
}

/*
 * _pairs_pending_drawings(): the drawing of each marked result, for the
 * statement trigger to lock before it takes the results.
 */
Datum
bt_pairs_pending_drawings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	PendingResult *r;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (pending == NULL)
		return (Datum) 0;
	hash_seq_init(&seq, pending);
	while ((r = hash_seq_search(&seq)) != NULL)
	{
		Datum		value = PointerGetDatum(r->drawing_id);
		bool		isnull = false;

		if (!r->inserted)
			continue;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}
