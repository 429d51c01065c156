/*-------------------------------------------------------------------------
 *
 * shift.c
 *	  Finding a whole-drawing shift among the moves of the objects that
 *	  kept their ids.
 *
 * Moves beyond the tolerance are counted in the cells of a grid of twice
 * the tolerance, and the densest cell's mean move is the candidate; it is
 * the shift if enough objects moved by it.  The cells are counted in a
 * hash table rather than sorted: a heavy revision moves tens of thousands
 * of objects, most of them into one cell or a few.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "miscadmin.h"

#include "shift.h"
#include "tolerance.h"

/* A cell of the grid, in cells from the origin. */
typedef struct CellKey
{
	double		cx;
	double		cy;
} CellKey;

typedef struct MoveCell
{
	CellKey		key;
	int			count;			/* moves in the cell */
	double		sumx;			/* their sum, in the moves' order */
	double		sumy;
	char		status;			/* simplehash's */
} MoveCell;

#define SH_PREFIX movecell
#define SH_ELEMENT_TYPE MoveCell
#define SH_KEY_TYPE CellKey
#define SH_KEY key
/*
 * Every byte of the key goes through the hash: moves are the user's, and a
 * hash that folded bits together would let a drawing pile its cells into
 * one bucket chain.  cell_of makes -0 into 0, so equal keys hash alike.
 */
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) &(k), sizeof(CellKey))
#define SH_EQUAL(tb, a, b) ((a).cx == (b).cx && (a).cy == (b).cy)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* The cell of a move; adding 0.0 makes -0 the cell of 0, as == has it. */
static inline CellKey
cell_of(const BtMove *m, double cell)
{
	CellKey		k = {rint(m->dx / cell) + 0.0, rint(m->dy / cell) + 0.0};

	return k;
}

/*
 * The densest cell of the moves beyond the tolerance, with the mean of its
 * moves in (*mx, *my); false if no cell holds three.  Of cells that hold
 * as many, the one nearest the origin wins, so that the diff of b against
 * a finds the opposite shift; two as near (opposite moves) are no shift at
 * all.  Which cell wins does not depend on the order the cells are looked
 * at in.
 */
static bool
densest_cell(const BtMove *moves, int n, double tol, double *mx, double *my)
{
	double		cell = Max(tol, 1e-9) * 2;
	double		bestreach = 0;
	movecell_hash *cells = movecell_create(CurrentMemoryContext, 16, NULL);
	movecell_iterator it;
	MoveCell   *c;
	MoveCell   *last = NULL;
	int			bestlen = 0;
	bool		tied = false;

	*mx = *my = 0;
	for (int i = 0; i < n; i++)
	{
		CellKey		k;
		bool		found;

		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!bt_exceeds(moves[i].distance, tol))
			continue;

		/*
		 * A move past double's range (between coordinates of opposite signs
		 * near its end) is no part of a shift, which is a double too
		 */
		if (!isfinite(moves[i].dx) || !isfinite(moves[i].dy))
			continue;
		k = cell_of(&moves[i], cell);
		/* a NaN cell would equal no key, not even itself */
		if (isnan(k.cx) || isnan(k.cy))
			continue;
		/* objects moved together come in runs of one cell */
		if (last == NULL || last->key.cx != k.cx || last->key.cy != k.cy)
		{
			last = movecell_insert(cells, k, &found);
			if (!found)
			{
				last->count = 0;
				last->sumx = last->sumy = 0;
			}
		}
		last->count++;
		last->sumx += moves[i].dx;
		last->sumy += moves[i].dy;
	}
	movecell_start_iterate(cells, &it);
	for (uint32 i = 0; (c = movecell_iterate(cells, &it)) != NULL; i++)
	{
		double		reach = hypot(c->key.cx, c->key.cy);

		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (c->count == bestlen && reach == bestreach)
			tied = true;
		else if (c->count > bestlen || (c->count == bestlen && reach < bestreach))
		{
			bestlen = c->count;
			bestreach = reach;
			*mx = c->sumx / c->count;
			*my = c->sumy / c->count;
			tied = false;
		}
	}
	movecell_destroy(cells);
	/* the moves of a cell can sum past double's range */
	return bestlen >= 3 && !tied && isfinite(*mx) && isfinite(*my);
}

/*
 * Whether move m lies within tol of (sx, sy).  hypot() is dear, and a
 * coordinate's difference alone decides most moves: hypot(rx, ry) >=
 * max(rx, ry).  The shift is finite (see densest_cell), so an infinite move
 * is far from it, not NaN.
 */
static inline bool
moved_with(const BtMove *m, double sx, double sy, double tol)
{
	double		rx = fabs(m->dx - sx);
	double		ry = fabs(m->dy - sy);

	Assert(isfinite(sx) && isfinite(sy));
	if (bt_exceeds(Max(rx, ry), tol))
		return false;
	return !bt_exceeds(hypot(rx, ry), tol);
}

bool
bt_find_shift(const BtMove *moves, int n, double tol, double min_share,
			  int nmatched, double *sx, double *sy)
{
	int			support = 0;

	if (!densest_cell(moves, n, tol, sx, sy))
		return false;
	/* moves just past the tolerance can average to no move at all */
	if (!bt_exceeds(hypot(*sx, *sy), tol))
		return false;
	for (int i = 0; i < n; i++)
	{
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		support += moved_with(&moves[i], *sx, *sy, tol);
	}
	return support >= 3 && support >= min_share * nmatched;
}
