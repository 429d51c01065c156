/*-------------------------------------------------------------------------
 *
 * diff.h
 *	  Matching two drawing versions by id and classifying the changes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_DIFF_H
#define BUILDTRACE_DIFF_H

#include "drawing.h"

/* One attribute whose value differs, or that exists on one side only. */
typedef struct BtAttrChange
{
	JsonbValue	key;
	bool		has_from;		/* false: the key is new in b */
	bool		has_to;			/* false: the key was dropped in b */
	JsonbValue	from;
	JsonbValue	to;
} BtAttrChange;

/* An object present in both versions that changed in at least one way. */
typedef struct BtMatch
{
	BtObject   *a;
	BtObject   *b;
	BtFields	fa;				/* fields of a and b */
	BtFields	fb;
	bool		moved;
	bool		resized;
	bool		retyped;
	bool		modified;
	bool		content;		/* map form: the content hash changed */
	Numeric		dx;				/* exact, from the jsonb numerics */
	Numeric		dy;
	double		distance;
	int			direction;		/* index into bt_direction_names */
	int			nattrs;
	BtAttrChange *attrs;
} BtMatch;

typedef struct BtDiff
{
	BtObject  **added;			/* all lists in id order */
	int			nadded;
	BtObject  **removed;
	int			nremoved;
	BtMatch    *changed;
	int			nchanged;
	int			maxchanged;		/* allocated length of changed */
	int			nmoved;
	int			nresized;
	int			nretyped;
	int			nmodified;
	int			nunchanged;
} BtDiff;

/* Compass points, counter-clockwise from east (y grows to the north). */
extern const char *const bt_direction_names[8];

extern void bt_diff_compute(BtDrawing *a, BtDrawing *b, double move_tol,
							double size_tol, BtDiff *out);

#endif							/* BUILDTRACE_DIFF_H */
