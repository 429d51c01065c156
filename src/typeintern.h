/*-------------------------------------------------------------------------
 *
 * typeintern.h
 *	  Equal type texts of a diff's changed objects as one pointer.
 *
 * A changed object's type is read again after the comparison: by the
 * writer and by the summary, which groups objects by it.  By then a large
 * version's object data has left the cache, and every read of a type text
 * is a cache miss.  Interned while the object is still in cache, each
 * type is read from its first occurrence, a few places that stay in cache,
 * and equal types are equal pointers.  The interned text is that first
 * occurrence in the version's jsonb, not a copy.  The summary interns the
 * types of the added and removed objects into the same table, so that it
 * names each type once.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_TYPEINTERN_H
#define BUILDTRACE_TYPEINTERN_H

typedef struct BtInternedType
{
	const char *name;			/* the first occurrence; not NUL-terminated */
	int			len;
	uint32		hash;
} BtInternedType;

/* An open-addressing table; all zero is an empty one. */
typedef struct BtTypeIntern
{
	BtInternedType *slots;
	int			nslots;			/* a power of two, or 0 */
	int			nused;
	const char *last;			/* the last text interned, checked first */
	int			lastlen;
} BtTypeIntern;

/* The first occurrence of the len bytes at s among those interned in t. */
extern const char *bt_type_intern(BtTypeIntern *t, const char *s, int len);

#endif							/* BUILDTRACE_TYPEINTERN_H */
