/*-------------------------------------------------------------------------
 *
 * rollup.c
 *	  The hourly rollups' one rule: the _rollup aggregate, which adds up
 *	  processed pairs into the totals of a rollup row.
 *
 * The pipeline trigger aggregates each statement's pairs with it, per
 * drawing, and adds the totals to the stored row (a one-pair statement's
 * direct store adds its pair by bt_rollup_add, the same rule); rebuild_rollups()
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
#include "rollup.h"
#include "sketch.h"

static void
add_count(int64 *total, int64 n)
{
	if (unlikely(pg_add_s64_overflow(*total, n, total)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("rollup count out of range"),
				 errdetail("A count of one hour and drawing passed the bigint range.")));
}

void
bt_rollup_state_init(RollupState *st, MemoryContext cxt)
{
	memset(st, 0, sizeof(RollupState));
	bt_sketch_init(&st->processing_ms, BT_SKETCH_DEFAULT_ALPHA, cxt);
	bt_sketch_init(&st->latency_ms, BT_SKETCH_DEFAULT_ALPHA, cxt);
}

void
bt_rollup_add(RollupState *st, const RollupPair *p)
{
	if (!p->ok)
	{
		add_count(&st->failed, 1);
		return;
	}
	add_count(&st->pairs, 1);
	for (int k = 0; k < ROLLUP_NCOUNTS; k++)
	{
		if (!p->count_null[k])
			add_count(&st->counts[k], p->counts[k]);
	}
	if (p->has_processing)
		bt_sketch_add(&st->processing_ms, p->processing_ms);
	if (p->has_latency)
		bt_sketch_add(&st->latency_ms, p->latency_ms);
}

/*
 * _rollup_trans(state, ok, added, removed, moved, resized, retyped,
 * modified, unchanged, rotated, reidentified, processing_ms, latency_ms).
 * A NULL count adds nothing, as sum() would; a NULL ok adds nothing.
 */
PG_FUNCTION_INFO_V1(bt_rollup_trans);
Datum
bt_rollup_trans(PG_FUNCTION_ARGS)
{
	RollupState *st = PG_ARGISNULL(0) ? NULL : (RollupState *) PG_GETARG_POINTER(0);
	const int	first_count = 2;
	const int	processing_arg = first_count + ROLLUP_NCOUNTS;
	const int	latency_arg = processing_arg + 1;
	RollupPair	p;

	if (unlikely(st == NULL))
	{
		MemoryContext aggcxt;

		if (!AggCheckCallContext(fcinfo, &aggcxt))
			elog(ERROR, "_rollup_trans called in non-aggregate context");
		st = MemoryContextAlloc(aggcxt, sizeof(RollupState));
		bt_rollup_state_init(st, aggcxt);
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);
	p.ok = PG_GETARG_BOOL(1);
	for (int k = 0; k < ROLLUP_NCOUNTS; k++)
	{
		p.count_null[k] = PG_ARGISNULL(first_count + k);
		p.counts[k] = p.count_null[k] ? 0 : PG_GETARG_INT32(first_count + k);
	}
	p.has_processing = !PG_ARGISNULL(processing_arg);
	p.processing_ms = p.has_processing ? PG_GETARG_FLOAT8(processing_arg) : 0;
	p.has_latency = !PG_ARGISNULL(latency_arg);
	p.latency_ms = p.has_latency ? PG_GETARG_FLOAT8(latency_arg) : 0;
	bt_rollup_add(st, &p);
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
