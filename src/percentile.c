/*-------------------------------------------------------------------------
 *
 * percentile.c
 *	  SQL face of the sketch: the bt_percentile and bt_sketch aggregates
 *	  (transition, combine, serialize, deserialize, finals), the bt_sketch
 *	  type's I/O, and the functions that read a stored sketch.
 *
 * One aggregate state serves every aggregate: a sketch plus, for
 * bt_percentile, the quantiles asked for (taken from the first non-null row:
 * they must be constant within a group, as with tdigest_percentile).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"

#include "order_stat.h"
#include "percentile.h"
#include "sketch.h"

/* ---------------------------------------------------------------------
 * Shared helpers
 * ---------------------------------------------------------------------
 */

void
bt_sketch_from_datum(BtSketch *sk, Datum d)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(d);
	StringInfoData buf;

	buf.data = VARDATA_ANY(v);
	buf.len = VARSIZE_ANY_EXHDR(v);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	bt_sketch_decode(sk, &buf, CurrentMemoryContext, false);
}

bytea *
bt_sketch_to_varlena(const BtSketch *sk)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	bt_sketch_encode(sk, &buf);
	SET_VARSIZE(buf.data, buf.len);
	return (bytea *) buf.data;
}

/* Read a float8[] of quantiles; each non-null one must be in [0, 1]. */
static int
bt_read_quantiles(ArrayType *arr, double **qs, bool **nulls)
{
	Datum	   *elems;
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("quantiles must be a one-dimensional array"),
				 errdetail("The array given has %d dimensions.", ARR_NDIM(arr))));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, nulls, &n);
	*qs = palloc(Max(n, 1) * sizeof(double));
	for (int i = 0; i < n; i++)
	{
		(*qs)[i] = (*nulls)[i] ? 0.0 : DatumGetFloat8(elems[i]);
		if (!(*nulls)[i])
			bt_sketch_check_q((*qs)[i]);
	}
	return n;
}

/* float8[] of the sketch's quantiles; null in, null out (like percentile_cont). */
static ArrayType *
bt_quantiles_array(const BtSketch *sk, int n, const double *qs, const bool *nulls)
{
	Datum	   *out = palloc(Max(n, 1) * sizeof(Datum));
	bool	   *onulls = palloc(Max(n, 1) * sizeof(bool));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		/* each quantile walks the buckets: up to 400k at 1e-4 accuracy */
		CHECK_FOR_INTERRUPTS();
		onulls[i] = nulls[i];
		out[i] = nulls[i] ? (Datum) 0 : Float8GetDatum(bt_sketch_quantile(sk, qs[i]));
	}
	if (n == 0)
		return construct_empty_array(FLOAT8OID);
	return construct_md_array(out, onulls, 1, dims, lbs, FLOAT8OID, sizeof(float8),
							  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/* ---------------------------------------------------------------------
 * Aggregate state
 * ---------------------------------------------------------------------
 */

static MemoryContext
bt_agg_context(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "bt_sketch aggregate function called in non-aggregate context");
	return aggcxt;
}

static double
bt_alpha_arg(FunctionCallInfo fcinfo, int argno)
{
	if (argno >= PG_NARGS())
		return BT_SKETCH_DEFAULT_ALPHA;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relative accuracy must not be null"),
				 errdetail("The aggregate's argument relative_accuracy is NULL in a row."),
				 errhint("Leave the argument out for the default, %g.", BT_SKETCH_DEFAULT_ALPHA)));
	return PG_GETARG_FLOAT8(argno);
}

/*
 * Every row of a group must ask for the first row's accuracy: a parallel
 * plan could not combine sketches of two, so a serial one must not quietly
 * use the first.
 */
static inline void
bt_check_same_alpha(double first, double given)
{
	if (unlikely(given != first))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relative accuracy must be the same in every row"),
				 errdetail("The first row gave %s, a later one %s.",
						   float8out_internal(first), float8out_internal(given))));
}

/*
 * Whether aggregate argument argno (1 is the first after the state) can
 * differ between rows: no constant and no parameter of the query.  Read
 * from the Aggref, since an aggregate's transition function sees its
 * arguments as the executor's placeholders.
 */
static bool
bt_arg_varies(FunctionCallInfo fcinfo, int argno)
{
	Aggref	   *aggref = AggGetAggref(fcinfo);
	Node	   *arg;

	if (aggref == NULL || argno < 1 || argno > list_length(aggref->args))
		return true;
	arg = (Node *) ((TargetEntry *) list_nth(aggref->args, argno - 1))->expr;
	return !(IsA(arg, Const) ||
			 (IsA(arg, Param) && ((Param *) arg)->paramkind == PARAM_EXTERN));
}

/*
 * First row of a group: make the state in the aggregate context.  qarg is
 * the argument holding the quantile(s), or -1 for bt_sketch().
 */
static BtAggState *
bt_agg_state_create(FunctionCallInfo fcinfo, int qarg, double alpha)
{
	MemoryContext aggcxt = bt_agg_context(fcinfo);
	MemoryContext old = MemoryContextSwitchTo(aggcxt);
	BtAggState *st = palloc0(sizeof(BtAggState));

	bt_sketch_init(&st->sk, alpha, aggcxt);
	st->qkind = BT_Q_NONE;
	if (qarg >= 0 && get_fn_expr_argtype(fcinfo->flinfo, qarg) == FLOAT8ARRAYOID)
	{
		st->qkind = BT_Q_ARRAY;
		if (PG_ARGISNULL(qarg))
			st->qnull = true;
		else
			st->nq = bt_read_quantiles(PG_GETARG_ARRAYTYPE_P(qarg), &st->qs, &st->qnulls);
	}
	else if (qarg >= 0)
	{
		st->qkind = BT_Q_SCALAR;
		st->nq = 1;
		st->qs = palloc(sizeof(double));
		st->qnulls = palloc(sizeof(bool));
		st->qnulls[0] = PG_ARGISNULL(qarg);
		st->qs[0] = st->qnulls[0] ? 0.0 : PG_GETARG_FLOAT8(qarg);
		if (!st->qnulls[0])
			bt_sketch_check_q(st->qs[0]);
	}
	st->qvaries = qarg >= 0 && bt_arg_varies(fcinfo, qarg);
	MemoryContextSwitchTo(old);
	return st;
}

/* Whether two states ask for the same quantiles. */
static bool
bt_qspec_equal(const BtAggState *a, const BtAggState *b)
{
	if (a->qkind != b->qkind || a->qnull != b->qnull || a->nq != b->nq)
		return false;
	for (int i = 0; i < a->nq; i++)
		if (a->qnulls[i] != b->qnulls[i] || (!a->qnulls[i] && a->qs[i] != b->qs[i]))
			return false;
	return true;
}

/*
 * Every row of a group must ask for the first row's quantiles, as for the
 * accuracy: a parallel plan refuses to combine partial aggregates of two,
 * so a serial one must not quietly answer for the first.  Only a quantile
 * argument that can vary (a column, a volatile expression) is read again.
 */
static void
bt_check_same_quantiles(const BtAggState *st, FunctionCallInfo fcinfo, int qarg)
{
	BtAggState	given = *st;
	bool		isnull = PG_ARGISNULL(qarg);
	double		q;

	given.qnull = false;
	if (st->qkind == BT_Q_ARRAY)
	{
		given.qnull = isnull;
		given.nq = 0;
		if (!isnull)
			given.nq = bt_read_quantiles(PG_GETARG_ARRAYTYPE_P(qarg), &given.qs, &given.qnulls);
	}
	else
	{
		q = isnull ? 0.0 : PG_GETARG_FLOAT8(qarg);
		given.qs = &q;
		given.qnulls = &isnull;
	}
	if (!bt_qspec_equal(st, &given))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("quantiles must be the same in every row"),
				 errdetail("A later row of the group asks for other quantiles than the first."),
				 errhint("Give bt_percentile a constant quantile, or one per group.")));
}

/*
 * The per-row work shared by the transition functions: NULL values are
 * skipped, the state is made on the first value, then one bucket count goes
 * up.  Inlined into each entry point so the hot path has no extra call.
 */
static inline Datum
bt_trans_common(FunctionCallInfo fcinfo, int qarg, int alphaarg)
{
	BtAggState *st = PG_ARGISNULL(0) ? NULL : (BtAggState *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	if (unlikely(st == NULL))
		st = bt_agg_state_create(fcinfo, qarg, bt_alpha_arg(fcinfo, alphaarg));
	else
	{
		if (alphaarg < PG_NARGS())
			bt_check_same_alpha(st->sk.alpha0, bt_alpha_arg(fcinfo, alphaarg));
		if (unlikely(st->qvaries))
			bt_check_same_quantiles(st, fcinfo, qarg);
	}
	bt_sketch_add(&st->sk, PG_GETARG_FLOAT8(1));
	PG_RETURN_POINTER(st);
}

/* bt_percentile(value, q | qs [, relative_accuracy]) */
PG_FUNCTION_INFO_V1(bt_percentile_trans);
Datum
bt_percentile_trans(PG_FUNCTION_ARGS)
{
	return bt_trans_common(fcinfo, 2, 3);
}

/* bt_sketch(value [, relative_accuracy]) */
PG_FUNCTION_INFO_V1(bt_sketch_trans);
Datum
bt_sketch_trans(PG_FUNCTION_ARGS)
{
	return bt_trans_common(fcinfo, -1, 2);
}

/* bt_sketch_merge(bt_sketch): merge stored sketches. */
PG_FUNCTION_INFO_V1(bt_sketch_merge_trans);
Datum
bt_sketch_merge_trans(PG_FUNCTION_ARGS)
{
	BtAggState *st = PG_ARGISNULL(0) ? NULL : (BtAggState *) PG_GETARG_POINTER(0);
	BtSketch	in;

	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	bt_sketch_from_datum(&in, PG_GETARG_DATUM(1));
	if (st == NULL)
		st = bt_agg_state_create(fcinfo, -1, in.alpha0);
	bt_sketch_merge(&st->sk, &in);
	PG_RETURN_POINTER(st);
}

static BtAggState *
bt_agg_state_copy(const BtAggState *src, MemoryContext cxt)
{
	BtAggState *st = MemoryContextAlloc(cxt, sizeof(BtAggState));

	*st = *src;
	bt_sketch_copy(&st->sk, &src->sk, cxt);
	if (src->nq > 0)
	{
		st->qs = MemoryContextAlloc(cxt, src->nq * sizeof(double));
		st->qnulls = MemoryContextAlloc(cxt, src->nq * sizeof(bool));
		memcpy(st->qs, src->qs, src->nq * sizeof(double));
		memcpy(st->qnulls, src->qnulls, src->nq * sizeof(bool));
	}
	return st;
}

PG_FUNCTION_INFO_V1(bt_agg_combine);
Datum
bt_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = bt_agg_context(fcinfo);
	BtAggState *a = PG_ARGISNULL(0) ? NULL : (BtAggState *) PG_GETARG_POINTER(0);
	BtAggState *b = PG_ARGISNULL(1) ? NULL : (BtAggState *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	/* b may live in a short-lived context (deserialized): copy, don't keep */
	if (a == NULL)
		PG_RETURN_POINTER(bt_agg_state_copy(b, aggcxt));
	if (!bt_qspec_equal(a, b))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bt_percentile quantiles differ between partial aggregates"),
				 errdetail("The quantile argument must be the same for every row of a group.")));
	bt_sketch_merge(&a->sk, &b->sk);
	PG_RETURN_POINTER(a);
}

/*
 * Serialized state: uint8 qkind, uint8 qnull, int32 nq, nq x (uint8 null,
 * float8 q), then the sketch's binary form.
 */
PG_FUNCTION_INFO_V1(bt_agg_serialize);
Datum
bt_agg_serialize(PG_FUNCTION_ARGS)
{
	BtAggState *st = (BtAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	(void) bt_agg_context(fcinfo);
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, st->qkind);
	pq_sendbyte(&buf, st->qnull);
	pq_sendint32(&buf, st->nq);
	for (int i = 0; i < st->nq; i++)
	{
		pq_sendbyte(&buf, st->qnulls[i]);
		pq_sendfloat8(&buf, st->qs[i]);
	}
	bt_sketch_encode(&st->sk, &buf);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static const char *
bt_qkind_words(uint8 qkind)
{
	return qkind == BT_Q_SCALAR ? "one quantile" :
		qkind == BT_Q_ARRAY ? "an array of quantiles" : "no quantile";
}

static void
bt_bad_state(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid bt_percentile aggregate state"),
			 errdetail_internal("%s", detail)));
}

PG_FUNCTION_INFO_V1(bt_agg_deserialize);
Datum
bt_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	BtAggState *st = palloc0(sizeof(BtAggState));
	StringInfoData buf;

	(void) bt_agg_context(fcinfo);
	buf.data = VARDATA_ANY(b);
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (buf.len < 6)
		bt_bad_state("The state is shorter than its header.");
	st->qkind = (uint8) buf.data[0];
	st->qnull = buf.data[1] != 0;
	buf.cursor = 2;
	st->nq = (int32) pq_getmsgint(&buf, 4);
	if (st->qkind > BT_Q_ARRAY || st->nq < 0 ||
		(st->qkind != BT_Q_ARRAY && st->nq != (st->qkind == BT_Q_SCALAR ? 1 : 0)) ||
		(st->qnull && (st->qkind != BT_Q_ARRAY || st->nq != 0)))
		bt_bad_state("The quantile header is inconsistent.");
	if ((int64) st->nq * 9 > buf.len - buf.cursor)
		bt_bad_state("The state is shorter than its quantile list.");
	st->qs = palloc(Max(st->nq, 1) * sizeof(double));
	st->qnulls = palloc(Max(st->nq, 1) * sizeof(bool));
	for (int i = 0; i < st->nq; i++)
	{
		st->qnulls[i] = pq_getmsgbyte(&buf) != 0;
		st->qs[i] = pq_getmsgfloat8(&buf);
		if (!st->qnulls[i] && !(st->qs[i] >= 0.0 && st->qs[i] <= 1.0))
			bt_bad_state("A quantile is outside 0 to 1.");
	}
	bt_sketch_decode(&st->sk, &buf, CurrentMemoryContext, false);
	PG_RETURN_POINTER(st);
}

/*
 * The state a final function reads, or NULL when the answer is NULL.  A
 * state that holds no quantiles of the kind the function reads (qkind, or
 * -1 for any) is refused: only an aggregate made by hand of another
 * aggregate's functions passes one, and the quantiles are not there to read.
 */
static BtAggState *
bt_final_state(FunctionCallInfo fcinfo, int qkind)
{
	BtAggState *st = PG_ARGISNULL(0) ? NULL : (BtAggState *) PG_GETARG_POINTER(0);

	if (st != NULL && qkind >= 0 && st->qkind != qkind)
		bt_bad_state(psprintf("The state holds %s, and this final function reads %s.",
							  bt_qkind_words(st->qkind), bt_qkind_words(qkind)));
	if (st == NULL || st->sk.count == 0 || st->qnull)
		return NULL;
	return st;
}

PG_FUNCTION_INFO_V1(bt_percentile_final);
Datum
bt_percentile_final(PG_FUNCTION_ARGS)
{
	BtAggState *st = bt_final_state(fcinfo, BT_Q_SCALAR);

	if (st == NULL || st->qnulls[0])
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(bt_sketch_quantile(&st->sk, st->qs[0]));
}

PG_FUNCTION_INFO_V1(bt_percentiles_final);
Datum
bt_percentiles_final(PG_FUNCTION_ARGS)
{
	BtAggState *st = bt_final_state(fcinfo, BT_Q_ARRAY);

	if (st == NULL)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(bt_quantiles_array(&st->sk, st->nq, st->qs, st->qnulls));
}

PG_FUNCTION_INFO_V1(bt_sketch_final);
Datum
bt_sketch_final(PG_FUNCTION_ARGS)
{
	BtAggState *st = bt_final_state(fcinfo, -1);

	if (st == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(bt_sketch_to_varlena(&st->sk));
}

/* ---------------------------------------------------------------------
 * bt_sketch type I/O
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(bt_sketch_in);
Datum
bt_sketch_in(PG_FUNCTION_ARGS)
{
	BtSketch	sk;

	bt_sketch_from_text(&sk, PG_GETARG_CSTRING(0), CurrentMemoryContext);
	PG_RETURN_BYTEA_P(bt_sketch_to_varlena(&sk));
}

PG_FUNCTION_INFO_V1(bt_sketch_out);
Datum
bt_sketch_out(PG_FUNCTION_ARGS)
{
	BtSketch	sk;

	bt_sketch_from_datum(&sk, PG_GETARG_DATUM(0));
	PG_RETURN_CSTRING(bt_sketch_to_text(&sk));
}

PG_FUNCTION_INFO_V1(bt_sketch_recv);
Datum
bt_sketch_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	BtSketch	sk;

	/* validate, then store the canonical encoding */
	bt_sketch_decode(&sk, buf, CurrentMemoryContext, false);
	PG_RETURN_BYTEA_P(bt_sketch_to_varlena(&sk));
}

PG_FUNCTION_INFO_V1(bt_sketch_send);
Datum
bt_sketch_send(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------
 * Reading and combining stored sketches
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(bt_sketch_quantile_fn);
Datum
bt_sketch_quantile_fn(PG_FUNCTION_ARGS)
{
	BtSketch	sk;
	double		q = PG_GETARG_FLOAT8(1);

	bt_sketch_check_q(q);
	bt_sketch_from_datum(&sk, PG_GETARG_DATUM(0));
	if (sk.count == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(bt_sketch_quantile(&sk, q));
}

PG_FUNCTION_INFO_V1(bt_sketch_quantiles_fn);
Datum
bt_sketch_quantiles_fn(PG_FUNCTION_ARGS)
{
	BtSketch	sk;
	double	   *qs;
	bool	   *nulls;
	int			n = bt_read_quantiles(PG_GETARG_ARRAYTYPE_P(1), &qs, &nulls);

	bt_sketch_from_datum(&sk, PG_GETARG_DATUM(0));
	if (sk.count == 0)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(bt_quantiles_array(&sk, n, qs, nulls));
}

PG_FUNCTION_INFO_V1(bt_sketch_count_fn);
Datum
bt_sketch_count_fn(PG_FUNCTION_ARGS)
{
	BtSketch	sk;

	bt_sketch_from_datum(&sk, PG_GETARG_DATUM(0));
	if (sk.count > (uint64) PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bt_sketch count out of range for type bigint")));
	PG_RETURN_INT64((int64) sk.count);
}

PG_FUNCTION_INFO_V1(bt_sketch_relative_accuracy_fn);
Datum
bt_sketch_relative_accuracy_fn(PG_FUNCTION_ARGS)
{
	BtSketch	sk;

	bt_sketch_from_datum(&sk, PG_GETARG_DATUM(0));
	PG_RETURN_FLOAT8(bt_sketch_alpha(&sk));
}

/* bt_sketch_add(a, b): the merge of two sketches; a null side is ignored. */
PG_FUNCTION_INFO_V1(bt_sketch_add_fn);
Datum
bt_sketch_add_fn(PG_FUNCTION_ARGS)
{
	BtSketch	a,
				b;

	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(PG_ARGISNULL(0) ? 1 : 0));
	bt_sketch_from_datum(&a, PG_GETARG_DATUM(0));
	bt_sketch_from_datum(&b, PG_GETARG_DATUM(1));
	bt_sketch_merge(&a, &b);
	PG_RETURN_BYTEA_P(bt_sketch_to_varlena(&a));
}

/*
 * bt_sketch_quantile_bounds(sketch, q, confidence) -> (estimate, lower,
 * upper, lower_rank, upper_rank).  The bounds are the sketch buckets holding
 * the order statistics of ranks l and u from order_stat.c: the true value of
 * each such rank lies in its bucket, so [lower, upper] covers the population
 * quantile with probability >= confidence.  A side with no attainable rank
 * is null.
 */
PG_FUNCTION_INFO_V1(bt_sketch_quantile_bounds_fn);
Datum
bt_sketch_quantile_bounds_fn(PG_FUNCTION_ARGS)
{
	BtSketch	sk;
	double		q = PG_GETARG_FLOAT8(1);
	double		conf = PG_GETARG_FLOAT8(2);
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	int64		l,
				u;

	bt_sketch_check_q(q);
	bt_check_confidence(conf);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	bt_sketch_from_datum(&sk, PG_GETARG_DATUM(0));
	if (sk.count == 0)
		PG_RETURN_NULL();

	bt_quantile_rank_ci(sk.count, q, conf, &l, &u);
	values[0] = Float8GetDatum(bt_sketch_quantile(&sk, q));
	nulls[1] = nulls[3] = (l == 0);
	nulls[2] = nulls[4] = (u == 0);
	if (l > 0)
	{
		values[1] = Float8GetDatum(bt_sketch_rank_value(&sk, l - 1).lower);
		values[3] = Int64GetDatum(l);
	}
	if (u > 0)
	{
		values[2] = Float8GetDatum(bt_sketch_rank_value(&sk, u - 1).upper);
		values[4] = Int64GetDatum(u);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
