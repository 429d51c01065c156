/*-------------------------------------------------------------------------
 *
 * text_equal.h
 *	  Whether two text values are equal, compared as bytes.
 *
 * Byte equality is texteq's answer under any deterministic collation, which
 * every column buildtrace compares this way (drawing ids, tenants) has: the
 * database's default collation cannot be nondeterministic.  It skips the
 * function call, which matters on the one-pair INSERT's path.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_TEXT_EQUAL_H
#define BUILDTRACE_TEXT_EQUAL_H

#include "fmgr.h"
#include "utils/builtins.h"

/* a and b are text Datums, possibly compressed or short-headed */
static inline bool
bt_text_equal(Datum a, Datum b)
{
	const text *ta = DatumGetTextPP(a);
	const text *tb = DatumGetTextPP(b);

	return VARSIZE_ANY_EXHDR(ta) == VARSIZE_ANY_EXHDR(tb) &&
		memcmp(VARDATA_ANY(ta), VARDATA_ANY(tb), VARSIZE_ANY_EXHDR(ta)) == 0;
}

#endif							/* BUILDTRACE_TEXT_EQUAL_H */
