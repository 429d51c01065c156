/*-------------------------------------------------------------------------
 *
 * rollup.c
 *	  The hourly rollups' one rule: the _rollup aggregate, which adds up
 *	  processed pairs into the totals of a rollup row.
 *
 * The pipeline trigger aggregates each statement's pairs with it, per
 * drawing, and adds the totals to the stored row; rebuild_rollups()
 * aggregates every stored pair with it, per hour and drawing.  A failed
 * pair counts in "failed" only; the change counts and both sketches are of
 * done pairs, the latency sketch of those that reported one.
 *
 * The state is a fixed struct and two sketches in the aggregate context,
 * so a group costs the same whatever its number of pairs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "common/int.h"
#include "funcapi.h"

#include "percentile.h"
#include "sketch.h"

/* The change counts, in the order of the aggregate's arguments. */
#define ROLLUP_NCOUNTS 9

typedef struct RollupState
{
	int64		pairs;			/* done */
	int64		failed;
	int64		counts[ROLLUP_NCOUNTS];
	BtSketch	processing_ms;
	BtSketch	latency_ms;
} RollupState;

static void
add_count(int64 *total, int64 n)
{
	if (unlikely(pg_add_s64_overflow(*total, n, total)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("rollup count out of range"),
				 errdetail("A count of one hour and drawing passed the bigint range.")));
}

static RollupState *
rollup_state_create(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;
	RollupState *st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "_rollup_trans called in non-aggregate context");
	st = MemoryContextAllocZero(aggcxt, sizeof(RollupState));
	bt_sketch_init(&st->processing_ms, BT_SKETCH_DEFAULT_ALPHA, aggcxt);
	bt_sketch_init(&st->latency_ms, BT_SKETCH_DEFAULT_ALPHA, aggcxt);
	return st;
}

/*
 * _rollup_trans(state, ok, added, removed, moved, resized, retyped,
 * modified, unchanged, rotated, reidentified, processing_ms, latency_ms).
 * A NULL count adds nothing, as sum() would.
 */
PG_FUNCTION_INFO_V1(bt_rollup_trans);
Datum
bt_rollup_trans(PG_FUNCTION_ARGS)
{
	RollupState *st = PG_ARGISNULL(0) ? NULL : (RollupState *) PG_GETARG_POINTER(0);
	const int	first_count = 2;
	const int	processing_arg = first_count + ROLLUP_NCOUNTS;
	const int	latency_arg = processing_arg + 1;

	if (unlikely(st == NULL))
		st = rollup_state_create(fcinfo);
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);
	if (!PG_GETARG_BOOL(1))
	{
		add_count(&st->failed, 1);
		PG_RETURN_POINTER(st);
	}
	add_count(&st->pairs, 1);
	for (int k = 0; k < ROLLUP_NCOUNTS; k++)
	{
		if (!PG_ARGISNULL(first_count + k))
			add_count(&st->counts[k], PG_GETARG_INT32(first_count + k));
	}
	if (!PG_ARGISNULL(processing_arg))
		bt_sketch_add(&st->processing_ms, PG_GETARG_FLOAT8(processing_arg));
	if (!PG_ARGISNULL(latency_arg))
		bt_sketch_add(&st->latency_ms, PG_GETARG_FLOAT8(latency_arg));
	PG_RETURN_POINTER(st);
}

/* A sketch column: NULL when it holds no value, as bt_sketch() of none. */
static void
sketch_column(const BtSketch *sk, Datum *value, bool *isnull)
{
	*isnull = sk->count == 0;
	*value = *isnull ? (Datum) 0 : PointerGetDatum(bt_sketch_to_varlena(sk));
}

/*
 * _rollup_final(state): the totals as a buildtrace._rollup_totals row
 * (pairs, failed, the nine counts, processing_ms, reported_latency_ms).
 */
PG_FUNCTION_INFO_V1(bt_rollup_final);
Datum
bt_rollup_final(PG_FUNCTION_ARGS)
{
	RollupState *st = PG_ARGISNULL(0) ? NULL : (RollupState *) PG_GETARG_POINTER(0);
	TupleDesc	desc;
	Datum		values[2 + ROLLUP_NCOUNTS + 2];
	bool		nulls[2 + ROLLUP_NCOUNTS + 2] = {0};

	if (st == NULL)
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
		desc->natts != lengthof(values))
		elog(ERROR, "_rollup_final must return a row of %d columns", (int) lengthof(values));
	desc = BlessTupleDesc(desc);
	values[0] = Int64GetDatum(st->pairs);
	values[1] = Int64GetDatum(st->failed);
	for (int k = 0; k < ROLLUP_NCOUNTS; k++)
		values[2 + k] = Int64GetDatum(st->counts[k]);
	sketch_column(&st->processing_ms, &values[2 + ROLLUP_NCOUNTS], &nulls[2 + ROLLUP_NCOUNTS]);
	sketch_column(&st->latency_ms, &values[3 + ROLLUP_NCOUNTS], &nulls[3 + ROLLUP_NCOUNTS]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
