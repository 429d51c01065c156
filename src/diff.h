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
#include "matcher.h"
#include "shift.h"
#include "stored_numeric.h"
#include "typeintern.h"

/* What a diff is asked to report, from the arguments or the settings. */
typedef struct BtDiffParams
{
	double		move_tol;		/* a move of at most this is no move */
	double		size_tol;
	double		rotation_tol;	/* degrees */
	bool		match_geometry; /* pair objects that changed their id */
	double		match_distance; /* farthest nearest neighbour to pair */
	double		shift_min_share;	/* of matched objects, for a shift */
} BtDiffParams;

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
	/* new_match zeroes from here on; keep the fields above */
	bool		moved;
	bool		resized;
	bool		retyped;
	bool		modified;
	bool		rotated;
	bool		shifted;		/* moved with the whole drawing */
	bool		content;		/* map form: the content hash changed */
	bool		reidentified;	/* paired by bt_match_leftovers */
	BtMatchBasis basis;
	int			direction;		/* index into bt_direction_names */
	int			nattrs;
	Numeric		dx;				/* exact, from the jsonb numerics; relative */
	Numeric		dy;				/* to the shift when there is one */
	double		ddx;			/* the move as stored, in doubles */
	double		ddy;
	double		distance;		/* hypot(ddx, ddy), or against a shift */
	double		rotation_delta; /* degrees, in (-180, 180] */
	BtAttrChange *attrs;
} BtMatch;

/* The last move vector measured, with its distance and compass point. */
typedef struct BtLastMove
{
	bool		valid;
	double		dx;
	double		dy;
	double		distance;
	int			direction;
} BtLastMove;

/*
 * The last exact delta built on one axis, shared by the moves that repeat
 * it (objects moved together): value is NULL until one is built.
 */
typedef struct BtLastDelta
{
	Numeric		value;
	int64		units;			/* value in units of 10^-dscale */
	int			dscale;
} BtLastDelta;

typedef struct BtDiff
{
	BtObject  **added;			/* all lists in id order */
	int			nadded;
	BtObject  **removed;
	int			nremoved;
	BtMatch    *changed;
	int			nchanged;
	int			maxchanged;		/* allocated length of changed */
	BtMove	   *moves;			/* those of the id merge's entries that moved */
	int			nmoves;
	int			nmoved;
	int			nresized;
	int			nretyped;
	int			nmodified;
	int			nrotated;
	int			nshifted;
	int			nunchanged;
	BtMatching	matching;		/* re-identified and ambiguous objects */
	BtTypeIntern types;			/* fa.type and fb.type of the changed entries,
								 * and the summary's added and removed
								 * objects' */
	bool		has_shift;		/* the whole drawing moved by (shift_dx, */
	double		shift_dx;		/* shift_dy), rounded as output */
	double		shift_dy;
	Numeric		shift_x;		/* the same as written, exact */
	Numeric		shift_y;
	int			nkept_by_id;	/* changed[] entries of the id merge */
	int			nreported;		/* changed[] entries with a kind of change;
								 * internal to bt_diff_compute */
	int			next_kept;		/* internal to bt_diff_compute */
	BtLastMove	last_move;		/* internal to bt_diff_compute */
	BtLastDelta last_dx;		/* internal to bt_diff_compute */
	BtLastDelta last_dy;
} BtDiff;

/* Compass points, counter-clockwise from east (y grows to the north). */
extern const char *const bt_direction_names[8];

/*
 * An angle in degrees reduced to (-360, 360), exactly past a billion
 * degrees, where a double holds too few of its digits; absent is 0.
 */
extern double bt_angle_mod_360(Numeric a);

/* The compass point of a move (dx, dy), an index into bt_direction_names. */
extern int	bt_compass(double dx, double dy);

extern void bt_diff_compute(BtDrawing *a, BtDrawing *b, const BtDiffParams *p,
							BtDiff *out);

/* Equal JSON values (numbers by value). */
extern bool bt_values_equal(JsonbValue *a, JsonbValue *b);

#endif							/* BUILDTRACE_DIFF_H */
