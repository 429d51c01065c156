/*-------------------------------------------------------------------------
 *
 * jsonbuild.c
 *	  Small helpers for building jsonb results with pushJsonbValue.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "jsonbuild.h"
#include "stored_numeric.h"

void
bt_push_key(JsonbParseState **ps, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(ps, WJB_KEY, &v);
}

void
bt_push_string(JsonbParseState **ps, JsonbIteratorToken tok,
			   const char *s, int len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = len;
	pushJsonbValue(ps, tok, &v);
}

void
bt_push_cstring(JsonbParseState **ps, JsonbIteratorToken tok, const char *s)
{
	if (s == NULL)
		bt_push_null(ps, tok);
	else
		bt_push_string(ps, tok, s, strlen(s));
}

void
bt_push_numeric(JsonbParseState **ps, JsonbIteratorToken tok, Numeric n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = n;
	pushJsonbValue(ps, tok, &v);
}

void
bt_push_int(JsonbParseState **ps, JsonbIteratorToken tok, int64 i)
{
	bt_push_numeric(ps, tok, bt_numeric_from_int64(i));
}

void
bt_push_null(JsonbParseState **ps, JsonbIteratorToken tok)
{
	JsonbValue	v;

	v.type = jbvNull;
	pushJsonbValue(ps, tok, &v);
}

/*
 * Round to BT_DECIMALS places so that output never shows binary noise such
 * as 0.30000000000000004.  Values too large to round (beyond 1e15) already
 * have no fractional noise worth removing; infinities are clamped to the
 * largest double so that the result is always a valid JSON number.
 *
 * The result is float8_numeric's: the shortest decimal of at most DBL_DIG
 * significant digits.  When the rounded value has at most DBL_DIG digits in
 * all, that decimal is the rounded value itself, which is built from its
 * digits without printing and parsing (this runs once per moved object).
 */
Numeric
bt_round_numeric(double v)
{
	if (isinf(v))
		v = v > 0 ? DBL_MAX : -DBL_MAX;
	else if (fabs(v) < 1e15)
	{
		double		scaled = rint(v * BT_ROUND_SCALE);

		if (fabs(scaled) < 1e15)	/* at most DBL_DIG digits */
		{
			int64		digits = (int64) scaled;
			int			decimals = BT_DECIMALS;

			while (decimals > 0 && digits % 10 == 0)
			{
				digits /= 10;
				decimals--;
			}
			return bt_numeric_from_units(digits, decimals);
		}
		v = scaled / BT_ROUND_SCALE;
		if (v == 0.0)
			v = 0.0;			/* no "-0" */
	}
	return DatumGetNumeric(DirectFunctionCall1(float8_numeric,
											   Float8GetDatum(v)));
}
