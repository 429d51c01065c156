/*-------------------------------------------------------------------------
 *
 * sketch.c
 *	  The bt_sketch data structure: mapping, growth and collapse, merge,
 *	  rank lookup, and the validated binary form.  See sketch.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "libpq/pqformat.h"
#include "port/pg_bswap.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "sketch.h"

#define BT_SKETCH_FORMAT_VERSION 1

static void bt_store_collapse(BtSketch *sk, BtStore *st);

void
bt_sketch_check_alpha(double alpha)
{
	if (!(alpha >= BT_SKETCH_MIN_ALPHA && alpha <= BT_SKETCH_MAX_ALPHA))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relative accuracy must be between %g and %g",
						BT_SKETCH_MIN_ALPHA, BT_SKETCH_MAX_ALPHA),
				 errdetail("The relative accuracy given was %s.", float8out_internal(alpha))));
}

void
bt_sketch_check_q(double q)
{
	if (!(q >= 0.0 && q <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("quantile must be between 0 and 1"),
				 errdetail("The quantile given was %s.", float8out_internal(q))));
}

void
bt_sketch_reject_value(double x)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot add %s to a bt_sketch",
					isnan(x) ? "NaN" : (x > 0 ? "Infinity" : "-Infinity")),
			 errdetail("Only finite values have a quantile with a relative error bound."),
			 errhint("Filter the value out, or map it to a finite value, before aggregating.")));
}

/*
 * Widest span of buckets a store may use.  Plain IEEE division and rounding,
 * so every machine agrees (the decoder checks stored sketches against it).
 */
int32
bt_sketch_max_buckets(double alpha)
{
	if (!(alpha >= BT_SKETCH_MIN_ALPHA))	/* also NaN */
		alpha = BT_SKETCH_MIN_ALPHA;
	alpha = Min(alpha, BT_SKETCH_MAX_ALPHA);
	return Max(BT_SKETCH_MAX_BUCKETS, (int32) rint(BT_SKETCH_MAX_BUCKETS * 0.01 / alpha));
}

void
bt_sketch_init(BtSketch *sk, double alpha, MemoryContext mcxt)
{
	bt_sketch_check_alpha(alpha);
	memset(sk, 0, sizeof(BtSketch));
	sk->alpha0 = alpha;
	sk->log_gamma0 = log((1.0 + alpha) / (1.0 - alpha));
	sk->multiplier = 1.0 / (BT_CUBIC_C * sk->log_gamma0);
	sk->max_buckets = bt_sketch_max_buckets(alpha);
	sk->mcxt = mcxt;
}

/*
 * The relative error bound that currently holds: a bucket at level k spans a
 * ratio of at most gamma0^(2^k), so alpha = tanh(2^k ln(gamma0) / 2).
 */
double
bt_sketch_alpha(const BtSketch *sk)
{
	return sk->level == 0 ? sk->alpha0 : tanh(ldexp(sk->log_gamma0, sk->level) / 2.0);
}

/* The magnitude x with L(x) = a (inverse of bt_approx_log2, by bisection). */
static double
bt_approx_log2_inverse(double a)
{
	double		e = floor(a);
	double		target = a - e;
	double		lo = 0.0,
				hi = 1.0;

	for (int i = 0; i < 60; i++)
	{
		double		mid = (lo + hi) / 2.0;

		if (((BT_CUBIC_A * mid + BT_CUBIC_B) * mid + BT_CUBIC_C) * mid < target)
			lo = mid;
		else
			hi = mid;
	}
	return ldexp(1.0 + (lo + hi) / 2.0, (int) e);
}

/*
 * Magnitudes covered by bucket i at the sketch's level: (*lo, *hi], and the
 * representative 2 lo hi / (lo + hi), within (r - 1) / (r + 1) <= alpha of
 * both ends, r = hi / lo <= gamma.  The reciprocals of a bucket near
 * DBL_MIN overflow: there it is lo times a factor in [1, 2), which cannot.
 */
static double
bt_bucket_bounds(const BtSketch *sk, int32 i, double *lo, double *hi)
{
	double		reciprocals;
	double		representative;

	*lo = bt_approx_log2_inverse(ldexp((double) i - 1.0, sk->level) / sk->multiplier);
	*hi = bt_approx_log2_inverse(ldexp((double) i, sk->level) / sk->multiplier);
	/* the top bucket reaches past DBL_MAX, but no finite value does */
	*hi = Min(*hi, DBL_MAX);
	reciprocals = 1.0 / *lo + 1.0 / *hi;
	representative = isfinite(reciprocals) ? 2.0 / reciprocals :
		*lo * (2.0 / (1.0 + *lo / *hi));

	/*
	 * The inverse is a bisection of the approximate logarithm, which rounds
	 * otherwise than the forward index: a value an ulp past either end can be
	 * in the bucket.  The ends are widened a little, so that they bound every
	 * value the bucket holds.
	 */
	*lo *= 1.0 - 4.0 * DBL_EPSILON;
	*hi = Min(*hi * (1.0 + 4.0 * DBL_EPSILON), DBL_MAX);
	return representative;
}

/* Lowest and highest non-empty bucket; false when the store is empty. */
static bool
bt_store_range(const BtStore *st, int32 *lo, int32 *hi)
{
	int			a = 0,
				b = st->cap - 1;

	while (a <= b && st->counts[a] == 0)
		a++;
	if (a > b)
		return false;
	while (st->counts[b] == 0)
		b--;
	*lo = st->offset + a;
	*hi = st->offset + b;
	return true;
}

/*
 * Re-home a store so that it covers buckets lo..hi (hi - lo < max_buckets),
 * keeping its counts.  Slack is split around the range so that growth in
 * either direction rarely reallocates again.
 */
static void
bt_store_resize(BtSketch *sk, BtStore *st, int32 lo, int32 hi)
{
	int32		need = hi - lo + 1;
	int32		cap = Min(sk->max_buckets, Max(64, 2 * need));
	int32		offset = lo - (cap - need) / 2;
	uint64	   *counts;

	Assert(need <= sk->max_buckets);
	counts = MemoryContextAllocZero(sk->mcxt, cap * sizeof(uint64));
	for (int k = 0; k < st->cap; k++)
	{
		if (st->counts[k] != 0)
		{
			int32		j = st->offset + k - offset;

			Assert(j >= 0 && j < cap);
			counts[j] = st->counts[k];
		}
	}
	if (st->counts)
		pfree(st->counts);
	st->counts = counts;
	st->cap = cap;
	st->offset = offset;
}

/* Bucket i becomes ceil(i / 2) in one store. */
static void
bt_store_collapse(BtSketch *sk, BtStore *st)
{
	int32		lo,
				hi;
	uint64	   *old = st->counts;
	int32		oldoff = st->offset,
				oldcap = st->cap;

	if (st->cap == 0)
		return;
	if (!bt_store_range(st, &lo, &hi))
	{
		st->offset = bt_ceil_shift(st->offset, 1);
		return;
	}
	st->counts = NULL;
	st->cap = 0;
	bt_store_resize(sk, st, bt_ceil_shift(lo, 1), bt_ceil_shift(hi, 1));
	for (int k = 0; k < oldcap; k++)
		if (old[k] != 0)
			st->counts[bt_ceil_shift(oldoff + k, 1) - st->offset] += old[k];
	pfree(old);
}

/* UDDSketch collapse of the whole sketch: gamma becomes gamma^2. */
static void
bt_sketch_collapse(BtSketch *sk)
{
	if (sk->level >= BT_SKETCH_MAX_LEVEL)
		elog(ERROR, "bt_sketch collapsed too often");
	bt_store_collapse(sk, &sk->pos);
	bt_store_collapse(sk, &sk->neg);
	sk->level++;
}

/*
 * A value's bucket falls outside the store's array: grow the array, or, if
 * the used range would exceed max_buckets, collapse until it fits.  The
 * decision depends only on the used range, never on the allocation, so the
 * final level is a function of the set of values.
 */
void
bt_sketch_store_add_slow(BtSketch *sk, BtStore *st, int32 i)
{
	int32		lo = i,
				hi = i;

	for (;;)
	{
		int32		ulo,
					uhi;

		lo = hi = i;
		if (st->cap > 0 && bt_store_range(st, &ulo, &uhi))
		{
			lo = Min(lo, ulo);
			hi = Max(hi, uhi);
		}
		if ((int64) hi - lo + 1 <= sk->max_buckets)
			break;
		bt_sketch_collapse(sk);
		i = bt_ceil_shift(i, 1);
	}
	if (i < st->offset || i >= st->offset + st->cap)
		bt_store_resize(sk, st, lo, hi);
	st->counts[i - st->offset]++;
}

static void
bt_store_copy(BtStore *dst, const BtStore *src, MemoryContext mcxt)
{
	*dst = *src;
	if (src->cap > 0)
	{
		dst->counts = MemoryContextAlloc(mcxt, src->cap * sizeof(uint64));
		memcpy(dst->counts, src->counts, src->cap * sizeof(uint64));
	}
}

void
bt_sketch_copy(BtSketch *dst, const BtSketch *src, MemoryContext mcxt)
{
	*dst = *src;
	dst->mcxt = mcxt;
	bt_store_copy(&dst->pos, &src->pos, mcxt);
	bt_store_copy(&dst->neg, &src->neg, mcxt);
}

/* Would the union of a and b's used ranges exceed max_buckets? */
static bool
bt_store_union_too_wide(const BtStore *a, const BtStore *b, int32 max_buckets)
{
	int32		alo,
				ahi,
				blo,
				bhi;
	bool		ha = a->cap > 0 && bt_store_range(a, &alo, &ahi);
	bool		hb = b->cap > 0 && bt_store_range(b, &blo, &bhi);

	if (!ha || !hb)
		return false;
	return (int64) Max(ahi, bhi) - Min(alo, blo) + 1 > max_buckets;
}

static void
bt_store_merge(BtSketch *sk, BtStore *dst, const BtStore *src)
{
	int32		lo,
				hi,
				dlo,
				dhi;

	if (src->cap == 0 || !bt_store_range(src, &lo, &hi))
		return;
	if (dst->cap > 0 && bt_store_range(dst, &dlo, &dhi))
	{
		lo = Min(lo, dlo);
		hi = Max(hi, dhi);
	}
	if (lo < dst->offset || hi >= dst->offset + dst->cap)
		bt_store_resize(sk, dst, lo, hi);
	for (int k = 0; k < src->cap; k++)
	{
		uint64	   *c;

		if (src->counts[k] == 0)
			continue;
		c = &dst->counts[src->offset + k - dst->offset];
		if (pg_add_u64_overflow(*c, src->counts[k], c))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("bt_sketch count out of range")));
	}
}

/*
 * dst := dst ∪ src.  Both are brought to the same (the higher) level, then
 * collapsed together while the union is too wide; the result equals the
 * sketch built from all values directly.
 */
void
bt_sketch_merge(BtSketch *dst, const BtSketch *src)
{
	BtSketch	tmp;
	const BtSketch *s = src;

	if (dst->alpha0 != src->alpha0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge bt_sketch values with different relative accuracy"),
				 errdetail("One sketch was built with relative accuracy %s, the other with %s.",
						   float8out_internal(dst->alpha0), float8out_internal(src->alpha0)),
				 errhint("Build every sketch that is to be merged with the same relative accuracy.")));
	if (src->count == 0)
		return;

	while (dst->level < src->level)
		bt_sketch_collapse(dst);
	if (src->level < dst->level)
	{
		bt_sketch_copy(&tmp, src, CurrentMemoryContext);
		while (tmp.level < dst->level)
			bt_sketch_collapse(&tmp);
		s = &tmp;
	}
	while (bt_store_union_too_wide(&dst->pos, &s->pos, dst->max_buckets) ||
		   bt_store_union_too_wide(&dst->neg, &s->neg, dst->max_buckets))
	{
		if (s != &tmp)
		{
			bt_sketch_copy(&tmp, src, CurrentMemoryContext);
			s = &tmp;
		}
		bt_sketch_collapse(dst);
		bt_sketch_collapse(&tmp);
	}
	bt_store_merge(dst, &dst->pos, &s->pos);
	bt_store_merge(dst, &dst->neg, &s->neg);

	if (dst->count == 0)
	{
		dst->min = s->min;
		dst->max = s->max;
	}
	else
	{
		dst->min = Min(dst->min, s->min);
		dst->max = Max(dst->max, s->max);
	}
	if (pg_add_u64_overflow(dst->count, s->count, &dst->count) ||
		pg_add_u64_overflow(dst->zero, s->zero, &dst->zero) ||
		dst->count > BT_SKETCH_MAX_COUNT)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bt_sketch count out of range"),
				 errdetail("A bt_sketch counts at most " UINT64_FORMAT " values.",
						   BT_SKETCH_MAX_COUNT)));
	bt_sketch_assert_valid(dst);
}

/*
 * The estimate for the value of 0-based rank "rank" (in ascending order) and
 * the interval [lower, upper] its bucket covers, both clamped to the exact
 * min and max (which can only bring them closer to the true value).
 */
BtRankValue
bt_sketch_rank_value(const BtSketch *sk, uint64 rank)
{
	uint64		seen = 0;
	double		lo,
				hi;
	BtRankValue r;
	int			k;

	Assert(rank < sk->count);
	r.estimate = 0.0;
	r.lower = -BT_SKETCH_MIN_INDEXABLE;
	r.upper = BT_SKETCH_MIN_INDEXABLE;

	/* Negatives first, largest magnitude first. */
	for (k = sk->neg.cap - 1; k >= 0; k--)
	{
		seen += sk->neg.counts[k];
		if (rank < seen)
		{
			r.estimate = -bt_bucket_bounds(sk, sk->neg.offset + k, &lo, &hi);
			r.lower = -hi;
			r.upper = -lo;
			goto found;
		}
	}
	seen += sk->zero;
	if (rank < seen)
		goto found;
	for (k = 0; k < sk->pos.cap; k++)
	{
		seen += sk->pos.counts[k];
		if (rank < seen)
		{
			r.estimate = bt_bucket_bounds(sk, sk->pos.offset + k, &lo, &hi);
			r.lower = lo;
			r.upper = hi;
			goto found;
		}
	}
	elog(ERROR, "bt_sketch rank %llu not found", (unsigned long long) rank);

found:
	/* the extremes are known exactly, and so are their bounds */
	if (rank == 0)
		r.estimate = r.lower = r.upper = sk->min;
	else if (rank == sk->count - 1)
		r.estimate = r.lower = r.upper = sk->max;
	r.estimate = Max(sk->min, Min(sk->max, r.estimate));
	r.lower = Max(sk->min, Min(sk->max, r.lower));
	r.upper = Max(sk->min, Min(sk->max, r.upper));
	return r;
}

/*
 * The 0-based rank floor(q (n - 1)), q read as the decimal it was written
 * as: 0.29 is stored as the double just below it, and 0.29 * 100 comes out
 * at 28.999999999999996, a few ulps short of the rank the decimal reaches.
 * A product that close below a whole number counts as that number.
 */
static uint64
quantile_rank(double q, uint64 count)
{
	double		x = q * (double) (count - 1);
	double		rank = floor(x);
	double		slack = 4.0 * DBL_EPSILON * x;

	if (slack < 0.5 && rank + 1.0 - x <= slack)
		rank += 1.0;
	return Min((uint64) rank, count - 1);
}

/*
 * The q-quantile as DDSketch defines it: the value of 0-based rank
 * floor(q (n - 1)).  The estimate is within alpha * |x| of that value.
 */
double
bt_sketch_quantile(const BtSketch *sk, double q)
{
	bt_sketch_check_q(q);
	Assert(sk->count > 0);
	return bt_sketch_rank_value(sk, quantile_rank(q, sk->count)).estimate;
}

#ifdef USE_ASSERT_CHECKING
static uint64
bt_store_total(const BtStore *st)
{
	uint64		n = 0;

	for (int k = 0; k < st->cap; k++)
		n += st->counts[k];
	return n;
}
#endif

/* Cheap consistency check after each state change (assert builds only). */
void
bt_sketch_assert_valid(const BtSketch *sk)
{
#ifdef USE_ASSERT_CHECKING
	Assert(sk->alpha0 >= BT_SKETCH_MIN_ALPHA && sk->alpha0 <= BT_SKETCH_MAX_ALPHA);
	Assert(sk->level >= 0 && sk->level <= BT_SKETCH_MAX_LEVEL);
	Assert(bt_store_total(&sk->pos) + bt_store_total(&sk->neg) + sk->zero == sk->count);
	Assert(sk->count == 0 || sk->min <= sk->max);
#endif
}

/* ---------------------------------------------------------------------
 * Binary form, network byte order, used for the stored bt_sketch, its
 * send/recv, and the aggregate's serialized state:
 *
 *	uint8 version, uint8 level, float8 alpha0, uint64 count, uint64 zero,
 *	float8 min, float8 max, then for the positive and the negative store:
 *	int32 first bucket, int32 nbuckets, counts[nbuckets] as unsigned LEB128
 *	varints (most counts take one byte; trimmed: first and last non-zero).
 * ---------------------------------------------------------------------
 */
/* The longest a count's varint can be: ceil(64 / 7) bytes. */
#define BT_VARINT_MAX_BYTES 10

/*
 * n bucket counts as unsigned LEB128 varints, written in place after one
 * enlargement: a rollup's sketch is read and written again for every pair
 * the pipeline stores.
 */
void
bt_sketch_encode_counts(StringInfo buf, const uint64 *counts, int32 n)
{
	uint8	   *p;

	enlargeStringInfo(buf, n * BT_VARINT_MAX_BYTES);
	p = (uint8 *) buf->data + buf->len;
	for (int32 k = 0; k < n; k++)
	{
		uint64		v = counts[k];

		for (; v >= 0x80; v >>= 7)
			*p++ = (uint8) (0x80 | (v & 0x7F));
		*p++ = (uint8) v;
	}
	buf->len = (char *) p - buf->data;
	buf->data[buf->len] = '\0';
}

static void
bt_store_encode(const BtStore *st, StringInfo buf)
{
	int32		lo,
				hi;

	if (st->cap == 0 || !bt_store_range(st, &lo, &hi))
	{
		pq_sendint32(buf, 0);
		pq_sendint32(buf, 0);
		return;
	}
	pq_sendint32(buf, lo);
	pq_sendint32(buf, hi - lo + 1);
	bt_sketch_encode_counts(buf, st->counts + (lo - st->offset), hi - lo + 1);
}

void
bt_sketch_encode(const BtSketch *sk, StringInfo buf)
{
	pq_sendbyte(buf, BT_SKETCH_FORMAT_VERSION);
	pq_sendbyte(buf, sk->level);
	pq_sendfloat8(buf, sk->alpha0);
	pq_sendint64(buf, sk->count);
	pq_sendint64(buf, sk->zero);
	pq_sendfloat8(buf, sk->count ? sk->min : 0.0);
	pq_sendfloat8(buf, sk->count ? sk->max : 0.0);
	bt_store_encode(&sk->pos, buf);
	bt_store_encode(&sk->neg, buf);
}

/* Whether the value being decoded came from text input (sets the errcode). */
static bool bt_decoding_text = false;

static void bt_bad_binary(const char *detail_fmt,...) pg_attribute_printf(1, 2);

static void
bt_bad_binary(const char *detail_fmt,...)
{
	char		detail[256];
	va_list		ap;

	va_start(ap, detail_fmt);
	vsnprintf(detail, sizeof(detail), detail_fmt, ap);
	va_end(ap);
	if (bt_decoding_text)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type bt_sketch"),
				 errdetail_internal("%s", detail)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid bt_sketch binary representation"),
			 errdetail_internal("%s", detail)));
}

/* Read n bytes or fail with 22P03 (pq_getmsg* would raise 08P01). */
static const char *
bt_read(StringInfo buf, int n)
{
	const char *p;

	if (n < 0 || buf->cursor > buf->len - n)
		bt_bad_binary("The data ends at byte %d, before the end of the sketch.", buf->len);
	p = buf->data + buf->cursor;
	buf->cursor += n;
	return p;
}

static uint64
bt_read_u64(StringInfo buf)
{
	uint64		v;

	memcpy(&v, bt_read(buf, 8), 8);
	return pg_ntoh64(v);
}

static int32
bt_read_i32(StringInfo buf)
{
	uint32		v;

	memcpy(&v, bt_read(buf, 4), 4);
	return (int32) pg_ntoh32(v);
}

static double
bt_read_f64(StringInfo buf)
{
	union
	{
		uint64		i;
		double		d;
	}			u;

	u.i = bt_read_u64(buf);
	return u.d;
}

/*
 * n varints into counts, read in place; each at most ten bytes, the last of
 * which may hold only the 64th bit.  Returns their sum, which must fit.
 */
static uint64
bt_decode_counts(StringInfo buf, uint64 *counts, int32 n, const char *which)
{
	const uint8 *start = (const uint8 *) buf->data;
	const uint8 *p = start + buf->cursor;
	const uint8 *end = start + buf->len;
	uint64		total = 0;

	for (int32 k = 0; k < n; k++)
	{
		uint64		v = 0;
		uint8		b;

		for (int shift = 0;; shift += 7)
		{
			if (p == end)
				bt_bad_binary("The data ends at byte %d, before the end of the sketch.", buf->len);
			b = *p++;
			if (shift == 63 && b > 1)
				bt_bad_binary("A bucket count at byte %d does not fit in 64 bits.",
							  (int) (p - start));
			v |= (uint64) (b & 0x7F) << shift;
			if ((b & 0x80) == 0)
				break;
		}
		counts[k] = v;
		if (pg_add_u64_overflow(total, v, &total))
			bt_bad_binary("The %s store's counts overflow.", which);
	}
	buf->cursor = p - start;
	return total;
}

static uint64
bt_store_decode(BtSketch *sk, BtStore *st, StringInfo buf, const char *which)
{
	int32		first = bt_read_i32(buf);
	int32		n = bt_read_i32(buf);

	/* Largest |bucket| a double can map to (|L| <= 1024), plus slack. */
	double		limit = ldexp(ceil(1024.0 * sk->multiplier) + 2.0,
							  -sk->level) + 2.0;
	uint64		total;

	if (n < 0 || n > sk->max_buckets)
		bt_bad_binary("The %s store has %d buckets; at most %d are allowed.",
					  which, n, sk->max_buckets);
	if (n == 0)
	{
		if (first != 0)
			bt_bad_binary("The empty %s store has first bucket %d.", which, first);
		return 0;
	}
	if (fabs((double) first) > limit || fabs((double) first + n - 1) > limit)
		bt_bad_binary("The %s store's buckets %d to %d are out of range.",
					  which, first, first + n - 1);
	if (n > buf->len - buf->cursor)
	{
		int			rest = buf->len - buf->cursor;

		/* each bucket takes at least one byte */
		bt_bad_binary("The %s store has %d %s but only %d %s.",
					  which, n, n == 1 ? "bucket" : "buckets",
					  rest, rest == 1 ? "byte follows" : "bytes follow");
	}
	st->counts = MemoryContextAlloc(sk->mcxt, n * sizeof(uint64));
	st->cap = n;
	st->offset = first;
	total = bt_decode_counts(buf, st->counts, n, which);
	if (st->counts[0] == 0 || st->counts[n - 1] == 0)
		bt_bad_binary("The %s store's first and last bucket must not be empty.", which);
	return total;
}

/* Where the extreme v must lie, given which parts of the sketch are used. */
static bool
bt_extreme_consistent(double v, bool neg, bool zero, bool pos, bool is_min)
{
	bool		inneg = v <= -BT_SKETCH_MIN_INDEXABLE;
	bool		inpos = v >= BT_SKETCH_MIN_INDEXABLE;
	bool		inzero = !inneg && !inpos;

	if (is_min)
		return neg ? inneg : zero ? inzero : inpos;
	return pos ? inpos : zero ? inzero : inneg;
}

/*
 * Whether magnitude m lies in bucket i, or in a neighbour of it: a build
 * that rounds the bucket polynomial differently (fused multiply-adds, say)
 * may put a value within an ulp of a bucket edge into the next bucket, and
 * its sketches must still read.
 */
static bool
bt_in_bucket(const BtSketch *sk, double m, int32 i)
{
	int64		d = (int64) bt_sketch_index(sk, m) - i;

	return d >= -1 && d <= 1;
}

/*
 * Whether the extremes lie in the extreme buckets: the minimum in the
 * negative store's highest bucket, else (no zeros) the positive store's
 * lowest; the maximum in the positive store's highest, else the negative
 * store's lowest.  Decoded stores begin and end with a used bucket.  Only
 * called once bt_extreme_consistent holds, so each extreme is indexable
 * where it is looked up.
 */
static bool
bt_extremes_in_buckets(const BtSketch *sk)
{
	const BtStore *pos = &sk->pos;
	const BtStore *neg = &sk->neg;

	if (neg->cap > 0 && !bt_in_bucket(sk, -sk->min, neg->offset + neg->cap - 1))
		return false;
	if (neg->cap == 0 && sk->zero == 0 && !bt_in_bucket(sk, sk->min, pos->offset))
		return false;
	if (pos->cap > 0 && !bt_in_bucket(sk, sk->max, pos->offset + pos->cap - 1))
		return false;
	if (pos->cap == 0 && sk->zero == 0 && !bt_in_bucket(sk, -sk->max, neg->offset))
		return false;
	return true;
}

/*
 * A sketch collapses only when a store's used range grows past max_buckets,
 * so at level L > 0 some store's range at level L - 1 was wider than that.
 * Bucket i of level L holds buckets 2i - 1 and 2i of level L - 1, so a
 * store whose range is now lo..hi spanned at most 2 (hi - lo) + 2 buckets
 * then.  A sketch where no store could have (an empty one, say) would
 * coarsen every sketch merged with it.
 */
static bool
bt_level_needed(const BtSketch *sk)
{
	const BtStore *stores[] = {&sk->pos, &sk->neg};

	for (int k = 0; k < 2; k++)
	{
		int32		lo,
					hi;

		if (stores[k]->cap > 0 && bt_store_range(stores[k], &lo, &hi) &&
			2 * ((int64) hi - lo) + 2 > sk->max_buckets)
			return true;
	}
	return false;
}

/*
 * Decode and validate everything: a corrupt or hostile value raises 22P03,
 * never crashes or yields a sketch that breaks later invariants.
 */
void
bt_sketch_decode(BtSketch *sk, StringInfo buf, MemoryContext mcxt, bool from_text)
{
	int			version;
	int			level;
	double		alpha;
	uint64		npos,
				nneg,
				parts;

	bt_decoding_text = from_text;
	version = (uint8) *bt_read(buf, 1);
	level = (uint8) *bt_read(buf, 1);
	alpha = bt_read_f64(buf);

	if (version != BT_SKETCH_FORMAT_VERSION)
		bt_bad_binary("The format version is %d; this build reads version %d.",
					  version, BT_SKETCH_FORMAT_VERSION);
	if (!(alpha >= BT_SKETCH_MIN_ALPHA && alpha <= BT_SKETCH_MAX_ALPHA))
		bt_bad_binary("The relative accuracy %s is outside %g to %g.",
					  float8out_internal(alpha), BT_SKETCH_MIN_ALPHA, BT_SKETCH_MAX_ALPHA);
	if (level > BT_SKETCH_MAX_LEVEL)
		bt_bad_binary("The collapse level %d exceeds %d.", level, BT_SKETCH_MAX_LEVEL);
	bt_sketch_init(sk, alpha, mcxt);
	sk->level = level;
	sk->count = bt_read_u64(buf);
	if (sk->count > BT_SKETCH_MAX_COUNT)
		bt_bad_binary("The total count %llu exceeds " UINT64_FORMAT ".",
					  (unsigned long long) sk->count, BT_SKETCH_MAX_COUNT);
	sk->zero = bt_read_u64(buf);
	sk->min = bt_read_f64(buf);
	sk->max = bt_read_f64(buf);
	if (!isfinite(sk->min) || !isfinite(sk->max) || sk->min > sk->max)
		bt_bad_binary("The minimum %s and maximum %s must be finite and in order.",
					  float8out_internal(sk->min), float8out_internal(sk->max));
	sk->min = bt_sketch_unsigned_zero(sk->min);
	sk->max = bt_sketch_unsigned_zero(sk->max);
	npos = bt_store_decode(sk, &sk->pos, buf, "positive");
	nneg = bt_store_decode(sk, &sk->neg, buf, "negative");
	if (buf->cursor != buf->len)
		bt_bad_binary("Unexpected data follows the end of the sketch at byte %d.", buf->cursor);
	if (pg_add_u64_overflow(npos, nneg, &parts) ||
		pg_add_u64_overflow(parts, sk->zero, &parts) || parts != sk->count)
		bt_bad_binary("The bucket counts do not add up to the total count %llu.",
					  (unsigned long long) sk->count);
	if (sk->level > 0 && !bt_level_needed(sk))
		bt_bad_binary("The collapse level %d is higher than the values need.", sk->level);
	if (sk->count == 0 ? (sk->min != 0.0 || sk->max != 0.0) :
		(!bt_extreme_consistent(sk->min, nneg > 0, sk->zero > 0, npos > 0, true) ||
		 !bt_extreme_consistent(sk->max, nneg > 0, sk->zero > 0, npos > 0, false) ||
		 !bt_extremes_in_buckets(sk)))
		bt_bad_binary("The minimum %s and maximum %s do not match the buckets.",
					  float8out_internal(sk->min), float8out_internal(sk->max));
	/* one value is both extremes: readers report the one, merges keep both */
	if (sk->count == 1 && sk->min != sk->max)
		bt_bad_binary("A sketch of one value has the minimum %s and the maximum %s.",
					  float8out_internal(sk->min), float8out_internal(sk->max));
	bt_sketch_assert_valid(sk);
}
