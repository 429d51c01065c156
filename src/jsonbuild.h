/*-------------------------------------------------------------------------
 *
 * jsonbuild.h
 *	  Small helpers for building jsonb results with pushJsonbValue.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_JSONBUILD_H
#define BUILDTRACE_JSONBUILD_H

#include <math.h>

#include "utils/jsonb.h"
#include "utils/numeric.h"

/* Object key from a NUL-terminated string. */
extern void bt_push_key(JsonbParseState **ps, const char *key);

/* Values; tok is WJB_VALUE inside an object, WJB_ELEM inside an array. */
extern void bt_push_string(JsonbParseState **ps, JsonbIteratorToken tok,
						   const char *s, int len);
extern void bt_push_cstring(JsonbParseState **ps, JsonbIteratorToken tok,
							const char *s);
extern void bt_push_numeric(JsonbParseState **ps, JsonbIteratorToken tok,
							Numeric n);
extern void bt_push_int(JsonbParseState **ps, JsonbIteratorToken tok,
						int64 v);
extern void bt_push_null(JsonbParseState **ps, JsonbIteratorToken tok);

/* A double rounded to BT_DECIMALS decimal places, as a clean JSON number. */
#define BT_DECIMALS 9
#define BT_ROUND_SCALE 1e9
extern Numeric bt_round_numeric(double v);

/*
 * v rounded to BT_DECIMALS places as a double; from 1e15 on a double has no
 * such places to round (and v * BT_ROUND_SCALE could overflow).
 */
static inline double
bt_round_double(double v)
{
	return fabs(v) < 1e15 ? rint(v * BT_ROUND_SCALE) / BT_ROUND_SCALE : v;
}

#endif							/* BUILDTRACE_JSONBUILD_H */
