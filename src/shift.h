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
} BtMove;

/*
 * The shift (*sx, *sy) of the n moves, if at least min_share of the
 * nmatched objects compared (and three) moved by it, give or take tol;
 * false if there is none.  Objects that did not move are not in moves.
 */
/* How many of the n moves lie within tol of (sx, sy). */
extern int	bt_shift_support(const BtMove *moves, int n, double sx, double sy, double tol);

extern bool bt_find_shift(const BtMove *moves, int n, double tol, double min_share,
						  int nmatched, double *sx, double *sy);

#endif							/* BUILDTRACE_SHIFT_H */
