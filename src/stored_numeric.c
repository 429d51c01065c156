/*-------------------------------------------------------------------------
 *
 * stored_numeric.c
 *	  Numbers as jsonb stores them, read and made without numeric
 *	  arithmetic: a diff reads four or five per changed object and writes
 *	  as many, where numeric.c's general routines (fmgr calls, digit
 *	  buffers, palloc per step) would cost more than the rest of the diff.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "stored_numeric.h"

/*
 * The stored form, read as drawing.c's numeric_is_negative reads its first
 * uint16: 0x8000 | sign 0x2000 | scale 0x1F80 | weight 0x007F in the short
 * form; sign and scale in the long form, followed there by an int16
 * weight.  Stored numerics have no leading or trailing zero digits, so
 * sign, weight and digits are the value, whatever the display scale.
 */
static inline bool
read_parts(Numeric n, BtNumericParts *p)
{
	const char *data = VARDATA_ANY(n);
	int			size = VARSIZE_ANY_EXHDR(n);
	uint16		head;

	memcpy(&head, data, sizeof(head));
	if ((head & 0xC000) == 0x8000)
	{
		p->negative = (head & 0x2000) != 0;
		p->weight = (head & 0x0040) ? (int16) (head | ~0x003F) : (int16) (head & 0x003F);
		p->digits = (const int16 *) (data + sizeof(uint16));
		p->ndigits = (size - (int) sizeof(uint16)) / (int) sizeof(int16);
		return true;
	}
	if ((head & 0x8000) == 0)
	{
		p->negative = (head & 0xC000) == 0x4000;
		memcpy(&p->weight, data + sizeof(uint16), sizeof(p->weight));
		p->digits = (const int16 *) (data + 2 * sizeof(uint16));
		p->ndigits = (size - 2 * (int) sizeof(uint16)) / (int) sizeof(int16);
		return true;
	}
	return false;				/* NaN or infinity */
}

bool
bt_numeric_parts(Numeric n, BtNumericParts *p)
{
	return read_parts(n, p);
}

/*
 * A numeric of at most three base-10000 digits and an exponent within
 * 10000^±5, as a double without going through text: the digits make an
 * integer below 2^53, and one multiplication or division by an exact power
 * of ten rounds once, so the result is the correctly rounded value that
 * strtod gives too.  false for any other numeric.
 */
static bool
numeric_double_exact(Numeric n, double *out)
{
	static const double pow10000[] = {1.0, 1e4, 1e8, 1e12, 1e16, 1e20};
	BtNumericParts p;
	int			exponent;
	double		m = 0;

	if (!read_parts(n, &p) || p.ndigits > 3)
		return false;
	for (int i = 0; i < p.ndigits; i++)
		m = m * 10000 + p.digits[i];
	exponent = p.weight + 1 - p.ndigits;
	if (p.ndigits > 0 && (exponent < -5 || exponent > 5))
		return false;
	if (p.ndigits > 0)
		m = exponent >= 0 ? m * pow10000[exponent] : m / pow10000[-exponent];
	*out = p.negative ? -m : m;
	return true;
}

double
bt_numeric_double(Numeric n)
{
	double		d;

	/* the usual coordinate, without numeric_out and strtod */
	if (numeric_double_exact(n, &d))
		return d;
	/* Never fails: values beyond double range become +/-Inf. */
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(n)));
}

/* A stored numeric's display scale (decimal places), from its header. */
static inline int
numeric_dscale(Numeric n)
{
	uint16		head;

	memcpy(&head, VARDATA_ANY(n), sizeof(head));
	if ((head & 0xC000) == 0x8000)
		return (head & 0x1F80) >> 7;
	return head & 0x3FFF;
}

int
bt_numeric_text_length(Numeric n)
{
	BtNumericParts p;
	int			dscale = numeric_dscale(n);
	int			length;
	int16		first;

	if (!read_parts(n, &p))
		return strlen("-Infinity");
	length = (p.negative ? 1 : 0) + (dscale > 0 ? 1 + dscale : 0);
	if (p.weight < 0 || p.ndigits == 0)
		return length + 1;		/* "0" before the point */
	/* the first digit without its leading zeros, four for each after it */
	memcpy(&first, p.digits, sizeof(first));
	return length + (first >= 1000 ? 4 : first >= 100 ? 3 : first >= 10 ? 2 : 1) +
		4 * p.weight;
}

/*
 * A numeric as an integer count of units of 10^-dscale, when it is exact
 * and small: at most three base-10000 digits, |value| below 10^15 units.
 */
static inline bool
numeric_units(Numeric n, int dscale, int64 *units)
{
	static const int64 pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000,
		10000000, 100000000, 1000000000, INT64CONST(10000000000),
	INT64CONST(100000000000), INT64CONST(1000000000000)};
	BtNumericParts p;
	int64		m = 0;
	int			shift;

	if (!read_parts(n, &p) || p.ndigits > 3)
		return false;
	for (int i = 0; i < p.ndigits; i++)
		m = m * 10000 + p.digits[i];
	/* value = m * 10^(4 * (weight + 1 - ndigits)); in units of 10^-dscale */
	shift = p.ndigits == 0 ? 0 : 4 * (p.weight + 1 - p.ndigits) + dscale;
	if (shift < 0)
	{
		if (-shift >= (int) lengthof(pow10) || m % pow10[-shift] != 0)
			return false;
		m /= pow10[-shift];
	}
	else if (shift > 0)
	{
		if (shift >= (int) lengthof(pow10) || m >= INT64CONST(1000000000000000) / pow10[shift])
			return false;
		m *= pow10[shift];
	}
	if (m >= INT64CONST(1000000000000000))
		return false;
	*units = p.negative ? -m : m;
	return true;
}

bool
bt_numeric_scaled_delta(Numeric a, Numeric b, int *dscale, int64 *delta)
{
	int64		ua,
				ub;

	*dscale = Max(numeric_dscale(a), numeric_dscale(b));
	if (*dscale > BT_SCALED_DELTA_MAX_SCALE ||
		!numeric_units(a, *dscale, &ua) || !numeric_units(b, *dscale, &ub))
		return false;
	*delta = ub - ua;
	return true;
}

/*
 * The numeric units * 10^-dscale, as make_result() in numeric.c stores it:
 * the short form, base-10000 digits without leading or trailing zeros,
 * zero as positive with weight 0.  |units| < 10^16, dscale <= 15.
 */
Numeric
bt_numeric_from_units(int64 units, int dscale)
{
	static const uint64 pow10[] = {1, 10, 100, 1000};
	int16		digits[6];		/* below 10^19 once aligned: five digits */
	int			ndigits = 0;
	int			pad = (4 - dscale % 4) % 4;
	int			fraction_digits = (dscale + pad) / 4;
	bool		negative = units < 0;
	uint64		u = negative ? -(uint64) units : (uint64) units;
	int			weight = 0;
	int			first;
	Numeric		n;
	uint16		head;

	Assert(dscale >= 0 && dscale <= 15 && u < UINT64CONST(10000000000000000));
	/* align the value on a digit boundary, then digits from the last */
	for (u *= pow10[pad]; u > 0; u /= 10000)
		digits[lengthof(digits) - 1 - ndigits++] = (int16) (u % 10000);
	first = lengthof(digits) - ndigits;
	if (ndigits > 0)
		weight = ndigits - 1 - fraction_digits;
	while (ndigits > 0 && digits[first + ndigits - 1] == 0)
		ndigits--;
	if (ndigits == 0)
	{
		weight = 0;
		negative = false;
	}
	n = (Numeric) palloc(VARHDRSZ + sizeof(uint16) + ndigits * sizeof(int16));
	SET_VARSIZE(n, VARHDRSZ + sizeof(uint16) + ndigits * sizeof(int16));
	head = 0x8000 | (negative ? 0x2000 : 0) | (dscale << 7) |
		(weight < 0 ? 0x0040 : 0) | (weight & 0x003F);
	memcpy(VARDATA(n), &head, sizeof(head));
	memcpy(VARDATA(n) + sizeof(head), &digits[first], ndigits * sizeof(int16));
	return n;
}

/*
 * v as a numeric, as int64_to_numeric makes it, without its digit
 * arithmetic for any |v| below 10^16: every result writes its counts, and
 * that arithmetic cost three times as much.
 */
Numeric
bt_numeric_from_int64(int64 v)
{
	const int64 bound = INT64CONST(10000000000000000);

	if (v > -bound && v < bound)
		return bt_numeric_from_units(v, 0);
	return int64_to_numeric(v);
}
