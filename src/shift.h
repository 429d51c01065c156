/*-------------------------------------------------------------------------
 *
 * shift.h
 *	  Finding a whole-drawing shift among the moves of the objects that
 *	  kept their ids (see shift.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_SHIFT_H
#define BUILDTRACE_SHIFT_H

/* The move of one object that kept its id, as the comparison measured it. */
typedef struct BtMove
{
	double		dx;
	double		dy;
	double		distance;		/* hypot(dx, dy) */
	int			object;			/* the caller's index of the object */
} BtMove;

/*
 * How many objects went with a shift candidate (sx, sy), as the caller
 * judges them: the shift is what it writes, and a move near the tolerance
 * is measured on what was written, not on its double.
 */
typedef int (*BtShiftSupport) (void *arg, double sx, double sy);

/*
 * The shift (*sx, *sy) of the n moves, if at least min_share of the
 * nmatched objects compared (and three) moved by it, give or take tol;
 * false if there is none.  Objects that did not move are not in moves.
 */
extern bool bt_find_shift(const BtMove *moves, int n, double tol, double min_share,
						  int nmatched, BtShiftSupport support, void *arg,
						  double *sx, double *sy);

#endif							/* BUILDTRACE_SHIFT_H */
