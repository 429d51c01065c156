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

/* A stored numeric's display scale (decimal places). */
extern int	bt_numeric_dscale(Numeric n);

/*
 * How many characters numeric_out prints for n, without printing it: a few
 * bytes of jsonb may print as 131,000 digits.
 */
extern int	bt_numeric_text_length(Numeric n);

/*
 * A numeric as an integer count of units of 10^-dscale, when it is exact
 * and small (at most three base-10000 digits, |value| below 10^15 units);
 * false otherwise.
 */
extern bool bt_numeric_units(Numeric n, int dscale, int64 *units);

/*
 * units * 10^-dscale as a numeric, stored as numeric.c stores it;
 * |units| < 10^16, 0 <= dscale <= 15.
 */
extern Numeric bt_numeric_from_units(int64 units, int dscale);

#endif							/* BUILDTRACE_STORED_NUMERIC_H */
