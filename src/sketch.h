/*-------------------------------------------------------------------------
 *
 * sketch.h
 *	  A quantile sketch with a relative error bound (DDSketch / UDDSketch).
 *
 * A value x with |x| >= BT_SKETCH_MIN_INDEXABLE goes to bucket
 *		i = ceil(L(|x|) * multiplier),	multiplier = 7 / (10 ln gamma),
 *		gamma = (1 + alpha) / (1 - alpha),
 * where L is DDSketch's cubically interpolated log2: for |x| = 2^e (1 + s),
 * 0 <= s < 1, L = e + P(s), P(s) = (6/35) s^3 - (3/5) s^2 + (10/7) s.  L is
 * continuous and strictly increasing, so buckets are intervals, and since
 * dL/dlog2(x) >= (10/7) ln 2 (its minimum, at s = 0) each bucket spans a ratio
 * of at most gamma: the bucket's harmonic-mean representative is within
 * alpha of every value in it.  L costs a few multiplications instead of a
 * call to log().  Positives and negatives have separate
 * dense stores (a negative value uses the bucket of its magnitude), and
 * everything smaller in magnitude (zeros, subnormals) is counted in "zero".
 * Bucket boundaries are fixed, so merging is exact and order-independent.
 *
 * Memory is bounded: a store never spans more than bt_sketch_max_buckets()
 * buckets: 2048 at alpha = 1 % (a dynamic range of about 4e17), scaled as
 * 1 / alpha so every alpha covers that range (204,800 at alpha = 0.01 %).
 * When a value or a merge would exceed that, the whole sketch is
 * collapsed (UDDSketch): bucket i becomes ceil(i / 2), i.e. gamma becomes
 * gamma^2 and the bound alpha becomes 2 alpha / (1 + alpha^2), uniformly for
 * every quantile.  The collapse level is a function of the set of values
 * only, so merge(a, b) is bit-for-bit the sketch of a ∪ b (the README's
 * percentile section gives the bounds).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BT_SKETCH_H
#define BT_SKETCH_H

#include <float.h>
#include <math.h>

#include "lib/stringinfo.h"

#define BT_SKETCH_MAX_BUCKETS	2048	/* at alpha >= 1 % */
#define BT_SKETCH_MIN_INDEXABLE DBL_MIN
#define BT_SKETCH_MIN_ALPHA		0.0001
#define BT_SKETCH_MAX_ALPHA		0.5
#define BT_SKETCH_DEFAULT_ALPHA 0.01
#define BT_SKETCH_MAX_LEVEL		30
/* Ranks are computed in double precision, exact up to 2^53. */
#define BT_SKETCH_MAX_COUNT		(UINT64CONST(1) << 53)

/* One sign's buckets: counts[k] is bucket offset + k. */
typedef struct BtStore
{
	int32		offset;			/* bucket index of counts[0] */
	int32		cap;			/* allocated length of counts */
	uint64	   *counts;			/* NULL while cap == 0 */
} BtStore;

typedef struct BtSketch
{
	double		alpha0;			/* relative accuracy asked for */
	int			level;			/* number of uniform collapses */
	int32		max_buckets;	/* bt_sketch_max_buckets(alpha0) */
	double		log_gamma0;		/* ln(gamma0) */
	double		multiplier;		/* 7 / (10 ln gamma0), cached for the hot path */
	uint64		count;			/* all values */
	uint64		zero;			/* values with |x| < MIN_INDEXABLE */
	double		min;			/* exact extremes, valid when count > 0 */
	double		max;
	BtStore		pos;
	BtStore		neg;
	MemoryContext mcxt;			/* where the stores live */
} BtSketch;

/* Where a rank falls: the bucket's estimate and the interval it covers. */
typedef struct BtRankValue
{
	double		estimate;
	double		lower;
	double		upper;
} BtRankValue;

extern void bt_sketch_init(BtSketch *sk, double alpha, MemoryContext mcxt);
extern void bt_sketch_check_alpha(double alpha);
extern int32 bt_sketch_max_buckets(double alpha);
extern double bt_sketch_alpha(const BtSketch *sk);
extern void bt_sketch_copy(BtSketch *dst, const BtSketch *src, MemoryContext mcxt);
extern void bt_sketch_merge(BtSketch *dst, const BtSketch *src);
extern BtRankValue bt_sketch_rank_value(const BtSketch *sk, uint64 rank);
extern double bt_sketch_quantile(const BtSketch *sk, double q);
extern void bt_sketch_check_q(double q);
extern void bt_sketch_store_add_slow(BtSketch *sk, BtStore *st, int32 i);
extern void bt_sketch_reject_value(double x);
extern void bt_sketch_assert_valid(const BtSketch *sk);

/* Binary form (the bt_sketch varlena body and the aggregate state). */
extern void bt_sketch_encode(const BtSketch *sk, StringInfo buf);
extern void bt_sketch_encode_counts(StringInfo buf, const uint64 *counts, int32 n);
extern void bt_sketch_decode(BtSketch *sk, StringInfo buf, MemoryContext mcxt,
							 bool from_text);
extern char *bt_sketch_to_text(const BtSketch *sk);
extern void bt_sketch_from_text(BtSketch *sk, const char *str, MemoryContext mcxt);

/* ceil(i / 2^k) without relying on the sign behaviour of >>. */
static inline int32
bt_ceil_shift(int32 i, int k)
{
	if (i >= 0)
		return (int32) (((int64) i + ((int64) 1 << k) - 1) >> k);
	return (int32) -(((int64) -(int64) i) >> k);
}

/* P(s) of the interpolated log2 (see the top of this file). */
#define BT_CUBIC_A	(6.0 / 35.0)
#define BT_CUBIC_B	(-3.0 / 5.0)
#define BT_CUBIC_C	(10.0 / 7.0)

/*
 * L(m) for a normal double m > 0: exponent and mantissa straight from the
 * IEEE bits (m >= DBL_MIN, so never subnormal).
 */
static inline double
bt_approx_log2(double m)
{
	uint64		bits;
	double		frac;
	int			e;

	memcpy(&bits, &m, sizeof(bits));
	e = (int) ((bits >> 52) & 0x7FF) - 1023;
	bits = (bits & UINT64CONST(0x000FFFFFFFFFFFFF)) | UINT64CONST(0x3FF0000000000000);
	memcpy(&frac, &bits, sizeof(frac));
	frac -= 1.0;
	return (double) e + ((BT_CUBIC_A * frac + BT_CUBIC_B) * frac + BT_CUBIC_C) * frac;
}

/* Bucket of a magnitude m >= MIN_INDEXABLE at the sketch's current level. */
static inline int32
bt_sketch_index(const BtSketch *sk, double m)
{
	double		y = bt_approx_log2(m) * sk->multiplier;
	int32		i = (int32) y;

	i += (i < y);				/* ceil, without a libm call */
	return sk->level == 0 ? i : bt_ceil_shift(i, sk->level);
}

static inline void
bt_sketch_store_add(BtSketch *sk, BtStore *st, int32 i)
{
	uint32		k = (uint32) (i - st->offset);

	if (likely(k < (uint32) st->cap))
		st->counts[k]++;
	else
		bt_sketch_store_add_slow(sk, st, i);
}

/*
 * -0 is kept as 0, wherever a value enters a sketch, so that its extremes do
 * not depend on the order of a 0 and a -0.
 */
static inline double
bt_sketch_unsigned_zero(double x)
{
	return unlikely(x == 0.0) ? 0.0 : x;
}

/* The per-row path: keep it small, no allocation unless a store grows. */
static inline void
bt_sketch_add(BtSketch *sk, double x)
{
	if (unlikely(!isfinite(x)))
		bt_sketch_reject_value(x);
	x = bt_sketch_unsigned_zero(x);

	if (x >= BT_SKETCH_MIN_INDEXABLE)
		bt_sketch_store_add(sk, &sk->pos, bt_sketch_index(sk, x));
	else if (x <= -BT_SKETCH_MIN_INDEXABLE)
		bt_sketch_store_add(sk, &sk->neg, bt_sketch_index(sk, -x));
	else
		sk->zero++;

	if (unlikely(sk->count == 0))
		sk->min = sk->max = x;
	else if (x < sk->min)
		sk->min = x;
	else if (x > sk->max)
		sk->max = x;
	sk->count++;
}

#endif							/* BT_SKETCH_H */
