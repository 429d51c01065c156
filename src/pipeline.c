/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *	  The pairs triggers in C: diff each inserted pair and set its status on
 *	  the row itself (BEFORE ROW), note which rows were really inserted
 *	  (AFTER ROW), and hand the statement's results to the SQL function that
 *	  stores them (AFTER STATEMENT; src/sql/31_pipeline_triggers.sql), or,
 *	  for one pair of the common case, store it directly (store_direct.c).
 *
 * Setting status, error and processed_at before the row is written saves
 * an UPDATE of every pair (a second heap tuple and index entries); the diff
 * runs on the values being inserted.  The results wait in the statement's
 * handover (handover.c).
 *
 * One bad pair never costs the statement its good ones: whatever goes wrong
 * with one pair's data (invalid versions, a latency that is no duration, a
 * number or result beyond PostgreSQL's limits) marks that pair failed with
 * its problem.  Only errors about the session or the server (cancel, out of
 * memory, serialization failures) end the statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog_epoch.h"
#include "claims.h"
#include "diff_sql.h"
#include "drawing.h"
#include "guc.h"
#include "handover.h"
#include "jsonbuild.h"
#include "pipeline.h"
#include "store_direct.h"
#include "text_equal.h"

PG_FUNCTION_INFO_V1(bt_pairs_before_insert);
PG_FUNCTION_INFO_V1(bt_pairs_after_insert_row);
PG_FUNCTION_INFO_V1(bt_pairs_after_statement);

/*
 * The functions that store a statement's results, with definer rights: one
 * for a statement that inserted a single pair, as an ingestion service
 * sends them (a few statements planned for one row, each reading the
 * drawing's state by its key), and one for any other number of pairs (one
 * set-wise statement planned for thousands).
 */
#define STORE_ONE_FUNCTION "buildtrace._pairs_store_one()"
#define STORE_SET_FUNCTION "buildtrace._pairs_store_results()"

/*
 * Claims the drawings of a statement's deferred pairs for their tenant,
 * with definer rights.
 */
#define CLAIM_FUNCTION "buildtrace._claim_drawings(pg_catalog.text[],pg_catalog.text)"

void
bt_pipeline_init(void)
{
	bt_handover_init();
	bt_claims_init();
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
	int			tenant;			/* 0 in a table of 0.1.0, which had none */
	int			from_version;
	int			to_version;
	int			made_from_versions; /* 0 in a table of 0.1.0 */
	text	   *claimed;		/* the drawing the AFTER ROW trigger last saw
								 * to a claim (noted, or found its tenant's),
								 * and for which tenant, in fn_mcxt, or NULL */
	text	   *claimed_for;
	Oid			state_rel;		/* drawing_state and its key, for claims;
								 * InvalidOid if there is none */
	Oid			state_key;
	AttrNumber	state_drawing;
	AttrNumber	state_tenant;
} PairColumns;

/* The row fields of one pair that its result carries. */
typedef struct PairRow
{
	int64		pair_id;
	text	   *drawing_id;
	text	   *job_id;			/* NULL when the column is */
	bool		has_latency;
	double		latency_ms;
	bool		has_retry_of;
	int64		retry_of;
} PairRow;

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
 * The column numbers of a pairs table, and the drawing_state table of its
 * schema with its key, looked up by name.
 */
static void
read_layout(Relation rel, PairColumns *c)
{
	TupleDesc	desc = RelationGetDescr(rel);

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
	c->tenant = Max(SPI_fnumber(desc, "tenant"), 0);
	c->from_version = column(desc, "from_version");
	c->to_version = column(desc, "to_version");
	c->made_from_versions = Max(SPI_fnumber(desc, "made_from_versions"), 0);
	c->state_rel = get_relname_relid("drawing_state", RelationGetNamespace(rel));
	c->state_key = get_relname_relid("drawing_state_pkey", RelationGetNamespace(rel));
	c->state_drawing = get_attnum(c->state_rel, "drawing_id");
	c->state_tenant = get_attnum(c->state_rel, "tenant");
}

/*
 * The statement's column numbers and claims, in fn_extra, which lives as
 * long as the statement's trigger call info.  The numbers are looked up by
 * name once per table and catalog epoch (catalog_epoch.c): on every
 * statement, for two row triggers, they would cost an empty pair's INSERT
 * 1.5 % of its instructions.
 */
static PairColumns *
pair_columns(FunctionCallInfo fcinfo, Relation rel)
{
	static PairColumns layout;
	static Oid	layout_rel = InvalidOid;
	static uint64 layout_epoch = 0;
	PairColumns *c = fcinfo->flinfo->fn_extra;

	if (c != NULL)
		return c;
	if (layout_epoch != bt_catalog_epoch() || layout_rel != RelationGetRelid(rel))
	{
		layout_epoch = 0;		/* until read, in case of an error */
		read_layout(rel, &layout);
		layout_rel = RelationGetRelid(rel);
		layout_epoch = bt_catalog_epoch();
	}
	c = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(PairColumns));
	*c = layout;
	c->claimed = NULL;
	c->claimed_for = NULL;
	fcinfo->flinfo->fn_extra = c;
	return c;
}

/*
 * The row's fields; false if a NOT NULL column the diff needs is NULL (its
 * constraint, checked after BEFORE triggers, will say so).
 */
static bool
read_pair(HeapTuple row, TupleDesc desc, PairColumns *c, PairRow *e,
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

/* A failed outcome with one problem of the pair itself (no version). */
static void
pair_problem(BtDiffOutcome *o, int sqlerrcode, const char *key,
			 const char *message, const char *detail)
{
	BtProblem	p = {0, -1, NULL, key, sqlerrcode, pstrdup(message), pstrdup(detail)};
	JsonbParseState *ps = NULL;

	memset(o, 0, sizeof(*o));
	pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
	bt_problems_push(&ps, list_make1(&p), true);
	o->problems = JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_ARRAY, NULL));
	o->sqlerrcode = sqlerrcode;
	o->message = p.message;
	o->detail = p.detail;
}

/* The pair's reported latency is a duration, or none was reported. */
static bool
latency_valid(const PairRow *e)
{
	return !e->has_latency || (e->latency_ms >= 0 && !isinf(e->latency_ms));
}

/* latency_valid, or the pair's problem in o. */
static bool
check_latency(PairRow *e, BtDiffOutcome *o)
{
	if (latency_valid(e))
		return true;
	pair_problem(o, ERRCODE_INVALID_PARAMETER_VALUE, "latency_ms",
				 "latency_ms must be a finite number of milliseconds, at least 0",
				 psprintf("The pair reports latency_ms %s.",
						  float8out_internal(e->latency_ms)));
	return false;
}

/*
 * Errors that say something about the session or the server rather than
 * about the pair: they end the statement as usual.
 */
static bool
is_pair_error(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TO_CATEGORY(ERRCODE_TRANSACTION_ROLLBACK):
		case ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES):
		case ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION):
		case ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR):
			return false;
	}
	return sqlerrcode != ERRCODE_DATA_CORRUPTED && sqlerrcode != ERRCODE_INDEX_CORRUPTED;
}

/*
 * bt_diff_versions in a subtransaction: an error of the pair's data (a
 * number beyond float8, a result beyond jsonb's size, nesting beyond the
 * stack) becomes the pair's problem.  Results are allocated in cxt.
 */
static void
diff_guarded(Jsonb *a, Jsonb *b, MemoryContext cxt, BtDiffOutcome *o)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		BtDiffParams params;

		bt_diff_params_from_settings(&params);
		bt_diff_versions(a, b, &params, o);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!is_pair_error(edata->sqlerrcode))
			ReThrowError(edata);
		pair_problem(o, edata->sqlerrcode, NULL, edata->message,
					 edata->detail ? edata->detail :
					 "The versions could not be compared within PostgreSQL's limits.");
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller);
	CurrentResourceOwner = owner;
}

/*
 * Runs sql, a query of a bigint id ($1) and the pair's drawing ($2), with
 * the inserting user's rights (row-level security included), preparing it
 * into *plan the first time; returns the rows found, at most one, which
 * SPI_tuptable holds.  The caller is connected to SPI.
 */
static uint64
lookup_by_id(SPIPlanPtr *plan, const char *sql, Datum id, text *drawing)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {id, PointerGetDatum(drawing)};

	if (*plan == NULL)
	{
		*plan = SPI_prepare(sql, 2, argtypes);
		if (*plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(*plan);
	}
	if (SPI_execute_plan(*plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed");
	return SPI_processed;
}

/*
 * retry_of must name a failed pair of the same drawing; the unique index on
 * retry_of lets it be retried once.  Checked with the inserting user's
 * rights, as a foreign key is; every name and operator is qualified.
 * Returns whether the failed pair was made from versions (asked only of a
 * table that marks them, with_mark): its retry is too.
 */
static bool
check_retry_of(PairRow *e, bool with_mark)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_with_mark = NULL;
	Datum		arg = Int64GetDatum(e->retry_of);
	const char *problem = NULL;
	bool		made_from_versions = false;

	SPI_connect();
	if (lookup_by_id(with_mark ? &plan_with_mark : &plan,
					 with_mark ?
					 "SELECT p.drawing_id OPERATOR(pg_catalog.=) $2::pg_catalog.text, p.status,"
					 " p.made_from_versions"
					 " FROM buildtrace.pairs p WHERE p.pair_id OPERATOR(pg_catalog.=) $1" :
					 "SELECT p.drawing_id OPERATOR(pg_catalog.=) $2::pg_catalog.text, p.status"
					 " FROM buildtrace.pairs p WHERE p.pair_id OPERATOR(pg_catalog.=) $1",
					 arg, e->drawing_id) == 0)
		problem = "does not exist";
	else
	{
		HeapTuple	found = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		same = DatumGetBool(SPI_getbinval(found, desc, 1, &isnull));
		char	   *status = SPI_getvalue(found, desc, 2);

		if (!same)
			problem = "is of another drawing";
		else if (strcmp(status, "failed") != 0)
			problem = psprintf("is %s, not failed", status);
		if (with_mark)
			made_from_versions = DatumGetBool(SPI_getbinval(found, desc, 3, &isnull)) && !isnull;
	}
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("retry_of must name a failed pair of the same drawing"),
				 errdetail("Pair " INT64_FORMAT " of drawing \"%s\" has retry_of " INT64_FORMAT ", which %s.",
						   e->pair_id, text_to_cstring(e->drawing_id), e->retry_of, problem)));
	SPI_finish();
	return made_from_versions;
}

/*
 * from_version and to_version must be versions of the pair's drawing, as
 * their foreign keys say.  PostgreSQL checks the keys without row-level
 * security, and before the store step refuses another tenant's drawing, so
 * for a role that row-level security limits they are checked here first,
 * with its rights: a version of another tenant's drawing is no version at
 * all to it, and the refusal tells nothing of that drawing's versions.
 */
static void
check_version_links(Relation rel, HeapTuple row, PairColumns *c, PairRow *e)
{
	static SPIPlanPtr plan = NULL;
	static const char *const names[] = {"from_version", "to_version"};
	const int	cols[] = {c->from_version, c->to_version};
	int			limited = -1;	/* by row-level security; asked once */

	for (int k = 0; k < 2; k++)
	{
		bool		isnull;
		Datum		link = heap_getattr(row, cols[k], RelationGetDescr(rel), &isnull);

		if (isnull)
			continue;
		if (limited < 0)
			limited = check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED;
		if (!limited)
			continue;
		SPI_connect();
		if (lookup_by_id(&plan,
						 "SELECT FROM buildtrace.versions v"
						 " WHERE v.version_id OPERATOR(pg_catalog.=) $1"
						 " AND v.drawing_id OPERATOR(pg_catalog.=) $2::pg_catalog.text",
						 link, e->drawing_id) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("%s must name a version of the pair's drawing", names[k]),
					 errdetail("Pair " INT64_FORMAT " of drawing \"%s\" has %s " INT64_FORMAT ", which is not one of its versions.",
							   e->pair_id, text_to_cstring(e->drawing_id), names[k],
							   DatumGetInt64(link))));
		SPI_finish();
	}
}

/* on_invalid = reject: the pair's first problem, saying which pair. */
static void
reject_pair(PairRow *e, BtDiffOutcome *o)
{
	ereport(ERROR,
			(errcode(o->sqlerrcode),
			 errmsg_internal("%s", o->message),
			 errdetail("Pair " INT64_FORMAT " of drawing \"%s\": %s",
					   e->pair_id, text_to_cstring(e->drawing_id), o->detail),
			 errhint("Set buildtrace.on_invalid = 'flag' to keep invalid pairs as dead letters.")));
}

static void
check_trigger(FunctionCallInfo fcinfo, const char *name, bool before, bool row)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		(TRIGGER_FIRED_BEFORE(td->tg_event) != 0) != before ||
		(TRIGGER_FIRED_FOR_ROW(td->tg_event) != 0) != row ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s must be fired %s INSERT or UPDATE FOR EACH %s",
						name, before ? "BEFORE" : "AFTER", row ? "ROW" : "STATEMENT")));
}

/*
 * The row a row trigger works on: the inserted one, or the new version of a
 * deferred pair that buildtrace.work() is processing (an UPDATE of status).
 */
static HeapTuple
trigger_row(TriggerData *td)
{
	return TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
}

/* Keep the outcome of the pair for the statement trigger. */
static void
hand_over(TriggerData *td, PairRow *e, BtDiffOutcome *o, int64 processing_us)
{
	Datum		values[HO_NCOLS];
	bool		nulls[HO_NCOLS] = {0};
	const int32 *counts = &o->counts.added;

	values[HO_PAIR_ID] = Int64GetDatum(e->pair_id);
	values[HO_DRAWING_ID] = PointerGetDatum(e->drawing_id);
	values[HO_JOB_ID] = PointerGetDatum(e->job_id);
	nulls[HO_JOB_ID] = e->job_id == NULL;
	values[HO_LATENCY_MS] = Float8GetDatum(e->latency_ms);
	nulls[HO_LATENCY_MS] = !e->has_latency;
	values[HO_RETRY_OF] = Int64GetDatum(e->retry_of);
	nulls[HO_RETRY_OF] = !e->has_retry_of;
	values[HO_OK] = BoolGetDatum(o->diff != NULL);
	values[HO_RESULT] = JsonbPGetDatum(o->diff ? o->diff : o->problems);
	values[HO_PROCESSING_US] = Int64GetDatum(processing_us);
	/* BtCounts lists the kinds in the output's order; NULL when failed */
	StaticAssertStmt(sizeof(BtCounts) == (HO_SHIFTED - HO_ADDED + 1) * sizeof(int32),
					 "BtCounts must match the count columns");
	for (int k = HO_ADDED; k <= HO_SHIFTED; k++)
	{
		values[k] = Int32GetDatum(counts[k - HO_ADDED]);
		nulls[k] = o->diff == NULL;
	}

	/*
	 * The executor calls a row trigger in its per-tuple context, whose parent
	 * is the statement's query context: it lives exactly as long as the
	 * statement.
	 */
	bt_handover_put(td, values, nulls, MemoryContextGetParent(CurrentMemoryContext));
}

/*
 * A pair inserted with a link to a version was made from versions, and is
 * marked so, as is the retry of a pair so marked (retried): the mark stays
 * when purge() removes those versions and their foreign keys clear the
 * links, so the pair never reads as an upload of its own.
 */
static HeapTuple
marked_if_made_from_versions(TriggerData *td, HeapTuple row, PairColumns *c, bool retried)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			col = c->made_from_versions;
	Datum		mark;
	bool		isnull;

	if (col == 0 ||
		(!retried && heap_attisnull(row, c->from_version, desc) &&
		 heap_attisnull(row, c->to_version, desc)))
		return row;
	mark = heap_getattr(row, col, desc, &isnull);
	if (!isnull && DatumGetBool(mark))
		return row;
	mark = BoolGetDatum(true);
	isnull = false;
	return heap_modify_tuple_by_cols(row, desc, 1, &col, &mark, &isnull);
}

/* The row as it will be stored: status, error, and versions fetched once. */
static HeapTuple
finished_row(TriggerData *td, HeapTuple row, PairColumns *c, BtDiffOutcome *o,
			 Datum a, bool fetched_a, Datum b, bool fetched_b)
{
	int			cols[5];
	Datum		vals[5];
	bool		nulls[5] = {false, false, false, false, false};
	int			ncols = 3;

	cols[0] = c->status;
	vals[0] = CStringGetTextDatum(o->diff ? "done" : "failed");
	cols[1] = c->error;
	vals[1] = o->diff ? (Datum) 0 : JsonbPGetDatum(o->problems);
	nulls[1] = o->diff != NULL;
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
	return heap_modify_tuple_by_cols(row, RelationGetDescr(td->tg_relation),
									 ncols, cols, vals, nulls);
}

/* Whether a row's status is pending: a deferred pair, inserted for work(). */
static bool
is_pending(HeapTuple row, TupleDesc desc, PairColumns *c)
{
	bool		isnull;
	text	   *status = DatumGetTextPP(heap_getattr(row, c->status, desc, &isnull));

	return !isnull && VARSIZE_ANY_EXHDR(status) == strlen("pending") &&
		memcmp(VARDATA_ANY(status), "pending", strlen("pending")) == 0;
}

/*
 * A deferred pair as it will be stored: pending, whatever status, error or
 * processed_at its inserter wrote (only the owner may write them), so that
 * work() processes it.
 */
static HeapTuple
pending_row(TriggerData *td, HeapTuple row, PairColumns *c)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			cols[3] = {c->status, c->error, c->processed_at};
	Datum		vals[3] = {0, 0, 0};
	bool		nulls[3] = {false, true, true};

	if (is_pending(row, desc, c) && heap_attisnull(row, c->error, desc) &&
		heap_attisnull(row, c->processed_at, desc))
		return row;
	vals[0] = CStringGetTextDatum("pending");
	return heap_modify_tuple_by_cols(row, desc, 3, cols, vals, nulls);
}

/*
 * BEFORE INSERT ON pairs FOR EACH ROW, and BEFORE UPDATE when work()
 * processes a deferred pair.  With buildtrace.processing = deferred an
 * inserted pair is only checked and stays pending, unless its latency
 * fails it: the table would refuse it pending, and the statement with it.
 */
Datum
bt_pairs_before_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	row;
	bool		inserting;
	TupleDesc	desc;
	PairColumns *c;
	PairRow		e;
	Datum		a,
				b;
	MemoryContext rowcxt;
	BtDiffOutcome o;
	TimestampTz t0;
	bool		fetched_a,
				fetched_b;
	HeapTuple	result;

	check_trigger(fcinfo, "_pairs_before_insert", true, true);
	row = trigger_row(td);
	inserting = TRIGGER_FIRED_BY_INSERT(td->tg_event);
	desc = RelationGetDescr(td->tg_relation);
	c = pair_columns(fcinfo, td->tg_relation);
	if (!read_pair(row, desc, c, &e, &a, &b))
		return PointerGetDatum(row);
	if (inserting)
	{
		bool		retried = e.has_retry_of && check_retry_of(&e, c->made_from_versions > 0);

		check_version_links(td->tg_relation, row, c, &e);
		row = marked_if_made_from_versions(td, row, c, retried);
	}
	/* A latency that is no duration fails its pair now, deferred or not. */
	if (inserting && bt_processing == BT_PROCESSING_DEFERRED && latency_valid(&e))
		return PointerGetDatum(pending_row(td, row, c));
	/* In the trigger's per-row context, which the new row lives in too. */
	a = fetch_out_of_line(a, &fetched_a);
	b = fetch_out_of_line(b, &fetched_b);

	/* The detoasted versions and the diff's output die with rowcxt. */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "buildtrace pair",
								   ALLOCSET_DEFAULT_SIZES);
	t0 = GetCurrentTimestamp();
	if (check_latency(&e, &o))
		diff_guarded(DatumGetJsonbP(a), DatumGetJsonbP(b), rowcxt, &o);

	/* work()'s statement is nobody's to reject: its pairs are flagged */
	if (o.diff == NULL && bt_on_invalid == BT_ON_INVALID_REJECT && inserting)
		reject_pair(&e, &o);

	/*
	 * An inserted row takes the fetched versions; work()'s UPDATE keeps the
	 * stored ones, which are the same, as they are (no second TOAST copy).
	 */
	result = finished_row(td, row, c, &o, a, fetched_a && inserting, b, fetched_b && inserting);
	hand_over(td, &e, &o, Max(GetCurrentTimestamp() - t0, 0));
	MemoryContextDelete(rowcxt);
	return PointerGetDatum(result);
}

/*
 * Whether drawing_state, read by its key in the statement's snapshot, says
 * that drawing is tenant's: what a deferred pair's drawing mostly is.  Read
 * here, without the claim function, whose call through SQL costs a third
 * of a plain insert; a drawing not found or of another tenant is the claim
 * function's to settle.  The table's OIDs and columns come with the
 * pairs columns (pair_columns).
 */
static bool
drawing_is_tenants(PairColumns *c, Datum drawing, Datum tenant)
{
	Relation	state;
	TupleDesc	desc;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		is_tenants = false;

	if (!OidIsValid(c->state_rel) || !OidIsValid(c->state_key) ||
		c->state_drawing == InvalidAttrNumber || c->state_tenant == InvalidAttrNumber)
		return false;
	state = table_open(c->state_rel, AccessShareLock);
	desc = RelationGetDescr(state);
	/* compared in the key's collation, the column's */
	ScanKeyEntryInitialize(&key, 0, c->state_drawing, BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(desc, c->state_drawing - 1)->attcollation,
						   F_TEXTEQ, drawing);
	scan = systable_beginscan(state, c->state_key, true, GetActiveSnapshot(), 1, &key);
	if (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		owner = heap_getattr(tuple, c->state_tenant, desc, &isnull);

		is_tenants = !isnull && bt_text_equal(owner, tenant);
	}
	systable_endscan(scan);
	table_close(state, AccessShareLock);
	return is_tenants;
}

/*
 * A deferred pair's drawing, claimed for the pair's tenant by the end of
 * its statement, as processing the pair inline would: the drawing belongs
 * to the tenant whose pair or version named it first, and work() finds its
 * drawing_state row in place (a row another transaction was still creating
 * would make it wait).  A drawing of another tenant is refused then, the
 * statement with it.  A drawing already its tenant's needs no claim; runs
 * of rows of one drawing and tenant are noted once (claims.c).
 */
static void
claim_drawing(FunctionCallInfo fcinfo, PairColumns *c, Datum drawing, Datum tenant)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	MemoryContext old;

	if (c->claimed != NULL && bt_text_equal(PointerGetDatum(c->claimed), drawing) &&
		bt_text_equal(PointerGetDatum(c->claimed_for), tenant))
		return;
	if (!drawing_is_tenants(c, drawing, tenant))
		bt_claims_note(td, drawing, tenant);
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (c->claimed != NULL)
	{
		pfree(c->claimed);
		pfree(c->claimed_for);
	}
	c->claimed = (text *) pg_detoast_datum_copy((struct varlena *) DatumGetPointer(drawing));
	c->claimed_for = (text *) pg_detoast_datum_copy((struct varlena *) DatumGetPointer(tenant));
	MemoryContextSwitchTo(old);
}

/*
 * AFTER INSERT (or work()'s UPDATE) ON pairs FOR EACH ROW: the row is in,
 * its result may go; a deferred pair's drawing is claimed.
 */
Datum
bt_pairs_after_insert_row(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	PairColumns *c;
	Datum		id,
				drawing,
				tenant = (Datum) 0;
	bool		null_id,
				null_drawing,
				null_tenant = true;

	check_trigger(fcinfo, "_pairs_after_insert_row", false, true);
	desc = RelationGetDescr(td->tg_relation);
	c = pair_columns(fcinfo, td->tg_relation);
	id = heap_getattr(trigger_row(td), c->pair_id, desc, &null_id);
	drawing = heap_getattr(trigger_row(td), c->drawing_id, desc, &null_drawing);
	if (c->tenant > 0)
		tenant = heap_getattr(trigger_row(td), c->tenant, desc, &null_tenant);
	if (!null_id && !null_drawing)
		bt_handover_mark_inserted(td, DatumGetInt64(id), drawing,
								  null_tenant ? NULL : DatumGetTextPP(tenant));
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event) && !null_drawing && !null_tenant &&
		is_pending(trigger_row(td), desc, c))
		claim_drawing(fcinfo, c, drawing, tenant);
	return PointerGetDatum(NULL);
}

/*
 * A function of the extension by its signature, looked up once per catalog
 * epoch (catalog_epoch.c): never a stale OID, and no parse of its name on
 * every statement.  *cached and *looked_up_at are the caller's, one pair
 * per function.
 */
static Oid
function_by_signature(const char *signature, Oid *cached, uint64 *looked_up_at)
{
	if (*looked_up_at != bt_catalog_epoch())
	{
		*looked_up_at = 0;		/* until looked up, in case of an error */
		*cached = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
													   CStringGetDatum(signature)));
		*looked_up_at = bt_catalog_epoch();
	}
	return *cached;
}

/* The function that stores the results of one pair or of any other number. */
static Oid
store_function(bool one_pair)
{
	static Oid	store_one = InvalidOid;
	static Oid	store_set = InvalidOid;
	static uint64 one_at = 0;
	static uint64 set_at = 0;

	return one_pair ? function_by_signature(STORE_ONE_FUNCTION, &store_one, &one_at) :
		function_by_signature(STORE_SET_FUNCTION, &store_set, &set_at);
}

/* The function that claims deferred pairs' drawings (claims.c). */
static Oid
claim_function(void)
{
	static Oid	claim = InvalidOid;
	static uint64 looked_up_at = 0;

	return function_by_signature(CLAIM_FUNCTION, &claim, &looked_up_at);
}

/*
 * AFTER INSERT ON pairs FOR EACH STATEMENT: store the results of the rows
 * this statement inserted, if it inserted any.  The store function runs
 * with its owner's rights (SECURITY DEFINER), called directly, like a
 * trigger function, so the inserting role needs no EXECUTE on it.
 */
Datum
bt_pairs_after_statement(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	int64		ninserted;
	Oid			store_fn = InvalidOid;

	check_trigger(fcinfo, "_pairs_after_statement", false, false);
	bt_claims_settle(td, claim_function);
	/* Rows diffed but none inserted (ON CONFLICT DO NOTHING) store nothing. */
	ninserted = bt_handover_collect(td);
	if (ninserted > 0)
		store_fn = store_function(ninserted == 1);
	/* One pair: its result is stored directly if it is the common case. */
	bt_handover_store(store_fn, ninserted == 1 && bt_store_directly ? bt_store_one_directly : NULL,
					  td);
	return PointerGetDatum(NULL);
}
