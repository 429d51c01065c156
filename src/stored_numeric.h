/*-------------------------------------------------------------------------
 *
 * stored_numeric.h
 *	  Numbers as jsonb stores them, read and made without numeric
 *	  arithmetic.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_STORED_NUMERIC_H
#define BUILDTRACE_STORED_NUMERIC_H

#include "utils/numeric.h"

/* A stored numeric's sign, weight and base-10000 digits: its value. */
typedef struct BtNumericParts
{
	bool		negative;
	int16		weight;
	const int16 *digits;
	int			ndigits;
} BtNumericParts;

/* The same stored bytes (then certainly the same number). */
static inline bool
bt_numeric_bytes_equal(Numeric a, Numeric b)
{
	return VARSIZE_ANY(a) == VARSIZE_ANY(b) &&
		memcmp(a, b, VARSIZE_ANY(a)) == 0;
}

/* false for NaN and infinities, which jsonb never holds */
extern bool bt_numeric_parts(Numeric n, BtNumericParts *p);

/* A number as a double (correctly rounded; beyond range +/-Inf). */
extern double bt_numeric_double(Numeric n);

/*
 * How many characters numeric_out prints for n, without printing it: a few
 * bytes of jsonb may print as 131,000 digits.
 */
extern int	bt_numeric_text_length(Numeric n);

/*
 * b - a as an integer count of units of 10^-dscale, dscale being
 * numeric_sub's display scale (the larger of the two), when both are exact
 * and small (at most three base-10000 digits, |value| below 10^15 units)
 * and dscale is at most BT_SCALED_DELTA_MAX_SCALE; false otherwise.  A
 * diff subtracts two coordinates per changed object this way, in one call
 * and without numeric arithmetic.
 */
#define BT_SCALED_DELTA_MAX_SCALE 15
extern bool bt_numeric_scaled_delta(Numeric a, Numeric b, int *dscale,
									int64 *delta);

/*
 * units * 10^-dscale as a numeric, stored as numeric.c stores it;
 * |units| < 10^16, 0 <= dscale <= 15.
 */
extern Numeric bt_numeric_from_units(int64 units, int dscale);

/* v as a numeric, stored as int64_to_numeric stores it. */
extern Numeric bt_numeric_from_int64(int64 v);

#endif							/* BUILDTRACE_STORED_NUMERIC_H */
