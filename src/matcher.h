/*-------------------------------------------------------------------------
 *
 * matcher.h
 *	  Pairing objects that lost their id between two versions (a re-export
 *	  regenerates ids) by content and geometry (see matcher.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_MATCHER_H
#define BUILDTRACE_MATCHER_H

#include "drawing.h"

/* The evidence a pair was made on, strongest first. */
typedef enum BtMatchBasis
{
	BT_BASIS_CONTENT,			/* identical apart from the id */
	BT_BASIS_GEOMETRY,			/* same type, place and size */
	BT_BASIS_NEAREST			/* same type, mutual nearest neighbours */
} BtMatchBasis;

extern const char *const bt_basis_names[3];

typedef struct BtReidentified
{
	BtObject   *a;				/* the removed object */
	BtObject   *b;				/* the added object it is */
	BtMatchBasis basis;
	JsonbValue	a_id;			/* their ids as written, and b's type (NULL */
	JsonbValue	b_id;			/* when it has none), read once by the */
	const char *type;			/* matcher for the output */
	int			typelen;
} BtReidentified;

/* Objects that cannot be told apart: none of them is paired. */
typedef struct BtAmbiguous
{
	BtObject  **removed;		/* in id order */
	int			nremoved;
	BtObject  **added;
	int			nadded;
} BtAmbiguous;

typedef struct BtMatchParams
{
	double		move_tol;		/* a place within this is the same place */
	double		size_tol;
	double		distance;		/* the farthest a nearest neighbour may be */
	double		shift_dx;		/* the whole-drawing shift to allow for */
	double		shift_dy;
	Numeric		shift_x;		/* the same as written, exact; NULL */
	Numeric		shift_y;		/* without a shift */
} BtMatchParams;

typedef struct BtMatching
{
	BtReidentified *pairs;		/* in the added object's id order */
	int			npairs;
	BtAmbiguous *groups;		/* by their first removed object's id */
	int			ngroups;
	int			nambiguous;		/* objects in all groups */
} BtMatching;

/*
 * Pair the removed objects with the added ones.  Both arrays are in id
 * order; the paired objects are taken out of them (the counts shrink).
 * Deterministic, independent of input order, never guessing: where two
 * candidates are equally good nothing is paired and the group is reported.
 */
extern void bt_match_leftovers(BtObject **removed, int *nremoved,
							   BtObject **added, int *nadded,
							   const BtMatchParams *p, BtMatching *out);

#endif							/* BUILDTRACE_MATCHER_H */
