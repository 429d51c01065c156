/*-------------------------------------------------------------------------
 *
 * shift.c
 *	  Finding a whole-drawing shift among the moves of the objects that
 *	  kept their ids.
 *
 * Moves beyond the tolerance are counted in the cells of a grid of twice
 * the tolerance, and the densest cell's mean move is the first candidate.
 * Moves within the tolerance of one vector can straddle the edge of a
 * cell, but always lie in one block of 2 x 2 cells: the blocks that hold as
 * many moves as a shift needs, or as the first candidate has, are searched
 * too, from the mean of their moves to the mean of the moves within the
 * tolerance, until it stays.  The candidate that most moves went with is
 * the shift, if they are enough.  The cells are counted in a hash table
 * rather than sorted: a heavy revision moves tens of thousands of objects,
 * most of them into one cell or a few.  Means are taken from a first move,
 * so that identical moves far from 0 have themselves as their mean.
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

/*
 * A running mean of moves: the first one, and the sum of the others'
 * differences from it in the moves' order (so b against a has the
 * opposite mean).
 */
typedef struct MeanMove
{
	int			count;
	double		firstx;
	double		firsty;
	double		sumx;
	double		sumy;
} MeanMove;

typedef struct MoveCell
{
	CellKey		key;
	MeanMove	moves;			/* the moves in the cell */
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

static inline void
mean_add(MeanMove *mean, const BtMove *m)
{
	if (mean->count++ == 0)
	{
		mean->firstx = m->dx;
		mean->firsty = m->dy;
		mean->sumx = mean->sumy = 0;
		return;
	}
	mean->sumx += m->dx - mean->firstx;
	mean->sumy += m->dy - mean->firsty;
}

/* The mean into (*x, *y); false if there are no moves or it is no number. */
static inline bool
mean_of(const MeanMove *mean, double *x, double *y)
{
	if (mean->count == 0)
		return false;
	*x = mean->firstx + mean->sumx / mean->count;
	*y = mean->firsty + mean->sumy / mean->count;
	return isfinite(*x) && isfinite(*y);
}

/*
 * Whether a move can be part of a shift: beyond the tolerance, and within
 * double's range (a move between coordinates of opposite signs near its
 * end is not, and the shift is a double too).
 */
static inline bool
may_shift(const BtMove *m, double tol)
{
	return bt_exceeds(m->distance, tol) && isfinite(m->dx) && isfinite(m->dy);
}

/* Count the moves that may shift into cells. */
static movecell_hash *
count_cells(const BtMove *moves, int n, double tol, double cell)
{
	movecell_hash *cells = movecell_create(CurrentMemoryContext, 16, NULL);
	MoveCell   *last = NULL;

	for (int i = 0; i < n; i++)
	{
		CellKey		k;
		bool		found;

		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!may_shift(&moves[i], tol))
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
				last->moves.count = 0;
		}
		mean_add(&last->moves, &moves[i]);
	}
	return cells;
}

/*
 * The most moves a block of 2 x 2 cells can hold: the four largest counts
 * of cells together, but cell skip's (unless it is NULL).  Moves scattered
 * over many cells make no block worth building.
 */
static int
block_bound(movecell_hash *cells, const CellKey *skip)
{
	int			top[4] = {0, 0, 0, 0};
	movecell_iterator it;
	MoveCell   *c;

	movecell_start_iterate(cells, &it);
	for (uint32 i = 0; (c = movecell_iterate(cells, &it)) != NULL; i++)
	{
		int			k = 4;

		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (skip && c->key.cx == skip->cx && c->key.cy == skip->cy)
			continue;
		while (k > 0 && top[k - 1] < c->moves.count)
		{
			if (k < 4)
				top[k] = top[k - 1];
			k--;
		}
		if (k < 4)
			top[k] = c->moves.count;
	}
	return top[0] + top[1] + top[2] + top[3];
}

/*
 * The densest cell (*best), with the mean of its moves in (*mx, *my);
 * false if no cell holds three.  Of cells that hold as many, the one
 * nearest the origin wins, so that the diff of b against a finds the
 * opposite shift; two as near (opposite moves) are no shift at all.  Which
 * cell wins does not depend on the order the cells are looked at in.
 */
static bool
densest_cell(movecell_hash *cells, CellKey *best, double *mx, double *my)
{
	double		bestreach = 0;
	movecell_iterator it;
	MoveCell   *c;
	MoveCell   *winner = NULL;
	bool		tied = false;

	movecell_start_iterate(cells, &it);
	for (uint32 i = 0; (c = movecell_iterate(cells, &it)) != NULL; i++)
	{
		double		reach = hypot(c->key.cx, c->key.cy);
		int			bestlen = winner ? winner->moves.count : 0;

		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (c->moves.count == bestlen && reach == bestreach)
			tied = true;
		else if (c->moves.count > bestlen || (c->moves.count == bestlen && reach < bestreach))
		{
			winner = c;
			bestreach = reach;
			tied = false;
		}
	}
	if (winner == NULL || winner->moves.count < 3 || tied)
		return false;
	*best = winner->key;
	return mean_of(&winner->moves, mx, my);
}

/*
 * Whether move m lies within tol of (sx, sy).  hypot() is dear, and a
 * coordinate's difference alone decides most moves: hypot(rx, ry) >=
 * max(rx, ry).  The shift is finite, so an infinite move is far from it,
 * not NaN.
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

/*
 * (*sx, *sy) moved to the mean of the moves within tol of it, and so on
 * until it stays (at most 8 steps), or while none is.
 */
static void
recentre(const BtMove *moves, int n, double tol, double *sx, double *sy)
{
	for (int step = 0; step < 8; step++)
	{
		MeanMove	mean = {0};
		double		x,
					y;

		for (int i = 0; i < n; i++)
		{
			if ((i & 0x3FFF) == 0)
				CHECK_FOR_INTERRUPTS();
			if (may_shift(&moves[i], tol) && moved_with(&moves[i], *sx, *sy, tol))
				mean_add(&mean, &moves[i]);
		}
		if (!mean_of(&mean, &x, &y) || (x == *sx && y == *sy))
			return;
		*sx = x;
		*sy = y;
	}
}

/* A block of 2 x 2 cells to search, named by its cell of the highest numbers. */
typedef struct ShiftSeed
{
	int			count;			/* moves in the block */
	double		reach;			/* its centre's distance from no move */
	CellKey		key;
} ShiftSeed;

/* The most blocks searched: those beyond hold the fewest moves. */
#define MAX_BLOCK_SEEDS 16

/* Cell numbers up to which one more is exact, and so is a block's centre. */
#define BLOCK_CELLS_EXACT 4503599627370496.0	/* 2^52 */

/* Blocks by count, most first, then by reach, nearest first. */
static int
cmp_seed(const void *x, const void *y)
{
	const ShiftSeed *a = x;
	const ShiftSeed *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return (a->reach > b->reach) - (a->reach < b->reach);
}

static inline bool
seeds_alike(const ShiftSeed *a, const ShiftSeed *b)
{
	return a->count == b->count && a->reach == b->reach;
}

/* Whether cell k is one of block b's: cells k - 1 and k on an axis make block k. */
static inline bool
in_block(CellKey k, CellKey b)
{
	return (k.cx == b.cx || k.cx == b.cx - 1) && (k.cy == b.cy || k.cy == b.cy - 1);
}

/*
 * The blocks of 2 x 2 cells that hold at least needed moves, but not those
 * of cell skip (unless it is NULL), into *seeds, the densest
 * MAX_BLOCK_SEEDS of them; returns how many.  Blocks as dense and as near
 * as the first one left out are left out with it, so that b against a
 * searches the opposite blocks: block k, of cells k - 1 and k, is centred
 * at (k - 1/2) cells.
 */
static int
blocks_to_search(movecell_hash *cells, double needed, const CellKey *skip, ShiftSeed **seeds)
{
	movecell_hash *blocks = movecell_create(CurrentMemoryContext, 16, NULL);
	movecell_iterator it;
	MoveCell   *c;
	int			n = 0;

	movecell_start_iterate(cells, &it);
	for (uint32 i = 0; (c = movecell_iterate(cells, &it)) != NULL; i++)
	{
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int corner = 0; corner < 4; corner++)
		{
			CellKey		k = {c->key.cx + (corner & 1), c->key.cy + (corner >> 1)};
			bool		found;
			MoveCell   *b = movecell_insert(blocks, k, &found);

			b->moves.count = (found ? b->moves.count : 0) + c->moves.count;
		}
	}
	*seeds = palloc(sizeof(ShiftSeed) * blocks->members);
	movecell_start_iterate(blocks, &it);
	for (uint32 i = 0; (c = movecell_iterate(blocks, &it)) != NULL; i++)
	{
		ShiftSeed  *seed = &(*seeds)[n];

		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (c->moves.count < needed || (skip && in_block(*skip, c->key)))
			continue;
		/* past 2^52 cells a neighbour's number is no longer one more */
		if (fabs(c->key.cx - 0.5) >= BLOCK_CELLS_EXACT ||
			fabs(c->key.cy - 0.5) >= BLOCK_CELLS_EXACT)
			continue;
		seed->count = c->moves.count;
		seed->key = c->key;
		seed->reach = hypot(c->key.cx - 0.5, c->key.cy - 0.5);
		n++;
	}
	movecell_destroy(blocks);
	qsort(*seeds, n, sizeof(ShiftSeed), cmp_seed);
	if (n > MAX_BLOCK_SEEDS)
	{
		int			keep = MAX_BLOCK_SEEDS;

		while (keep > 0 && seeds_alike(&(*seeds)[keep - 1], &(*seeds)[keep]))
			keep--;
		n = keep;
	}
	return n;
}

/* The mean of the moves in block b, into (*x, *y); false if none. */
static bool
block_mean(const BtMove *moves, int n, double tol, double cell, CellKey b,
		   double *x, double *y)
{
	MeanMove	mean = {0};

	for (int i = 0; i < n; i++)
	{
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (may_shift(&moves[i], tol) && in_block(cell_of(&moves[i], cell), b))
			mean_add(&mean, &moves[i]);
	}
	return mean_of(&mean, x, y);
}

/* The best shift so far, and whether another is as good and as near. */
typedef struct ShiftChoice
{
	int			support;
	double		reach;
	double		x;
	double		y;
	bool		tied;
} ShiftChoice;

/*
 * Weigh candidate (x, y): the one most moves went with wins, of as many the
 * one nearest no move; two as near are no shift, whichever comes first.
 */
static void
weigh(ShiftChoice *best, int support, double x, double y)
{
	double		reach = hypot(x, y);

	if (support == best->support && reach == best->reach && (x != best->x || y != best->y))
		best->tied = true;
	else if (support > best->support || (support == best->support && reach < best->reach))
	{
		best->support = support;
		best->reach = reach;
		best->x = x;
		best->y = y;
		best->tied = false;
	}
}

bool
bt_find_shift(const BtMove *moves, int n, double tol, double min_share,
			  int nmatched, BtShiftSupport support, void *arg, double *sx, double *sy)
{
	double		cell = Max(tol, 1e-9) * 2;
	double		needed = Max(3, min_share * nmatched);
	movecell_hash *cells = count_cells(moves, n, tol, cell);
	ShiftChoice best = {0};
	CellKey		winner;
	double		x,
				y;
	bool		from_cell = false;

	/* moves just past the tolerance can average to no move at all */
	if (densest_cell(cells, &winner, &x, &y) && bt_exceeds(hypot(x, y), tol))
	{
		weigh(&best, support(arg, x, y), x, y);
		from_cell = best.support >= needed;
	}

	/*
	 * The moves within tol of any vector lie in one block: those that could
	 * hold a shift, or one with as many moves as the cell's, and that do not
	 * hold the cell's moves, which lead to the cell's vector
	 */
	if (block_bound(cells, from_cell ? &winner : NULL) >= Max(needed, best.support))
	{
		ShiftSeed  *seeds;
		int			nseeds = blocks_to_search(cells, Max(needed, best.support),
											  from_cell ? &winner : NULL, &seeds);

		for (int i = 0; i < nseeds; i++)
		{
			if (!block_mean(moves, n, tol, cell, seeds[i].key, &x, &y))
				continue;
			recentre(moves, n, tol, &x, &y);
			if (bt_exceeds(hypot(x, y), tol))
				weigh(&best, support(arg, x, y), x, y);
		}
		pfree(seeds);
	}
	movecell_destroy(cells);
	*sx = best.x;
	*sy = best.y;
	return best.support >= needed && !best.tied;
}
