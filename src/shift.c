/*-------------------------------------------------------------------------
 *
 * shift.c
 *	  Finding a whole-drawing shift among the moves of the objects that
 *	  kept their ids.
 *
 * Moves beyond the tolerance are counted in the cells of a grid of twice
 * the tolerance, and the densest cell's mean move is the candidate; it is
 * the shift if enough objects moved by it.  Moves within the tolerance of
 * one vector can straddle the edge of a cell, but always lie in one block
 * of 2 x 2 cells: when no cell leads to a shift, the densest blocks are
 * searched from their centres.  The cells are counted in a hash table
 * rather than sorted: a heavy revision moves tens of thousands of objects,
 * most of them into one cell or a few.
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
 * Count the moves beyond the tolerance into cells; *maxcount is the most
 * any cell holds.
 */
static movecell_hash *
count_cells(const BtMove *moves, int n, double tol, double cell, int *maxcount)
{
	movecell_hash *cells = movecell_create(CurrentMemoryContext, 16, NULL);
	MoveCell   *last = NULL;

	*maxcount = 0;
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
		*maxcount = Max(*maxcount, last->count);
	}
	return cells;
}

/*
 * The densest cell, with the mean of its moves in (*mx, *my); false if no
 * cell holds three.  Of cells that hold as many, the one nearest the
 * origin wins, so that the diff of b against a finds the opposite shift;
 * two as near (opposite moves) are no shift at all.  Which cell wins does
 * not depend on the order the cells are looked at in.
 */
static bool
densest_cell(movecell_hash *cells, double *mx, double *my)
{
	double		bestreach = 0;
	movecell_iterator it;
	MoveCell   *c;
	int			bestlen = 0;
	bool		tied = false;

	*mx = *my = 0;
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

/* How many moves lie within tol of (sx, sy). */
static int
support_of(const BtMove *moves, int n, double sx, double sy, double tol)
{
	int			support = 0;

	for (int i = 0; i < n; i++)
	{
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		support += moved_with(&moves[i], sx, sy, tol);
	}
	return support;
}

/*
 * (*sx, *sy) moved to the mean of the moves within radius of it, summed in
 * the moves' order (so the diff of b against a finds the opposite mean);
 * left where it is if none is, or if they sum past double's range.
 */
static void
recentre(const BtMove *moves, int n, double radius, double *sx, double *sy)
{
	double		sumx = 0,
				sumy = 0;
	int			k = 0;

	for (int i = 0; i < n; i++)
	{
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!isfinite(moves[i].dx) || !isfinite(moves[i].dy) ||
			!moved_with(&moves[i], *sx, *sy, radius))
			continue;
		sumx += moves[i].dx;
		sumy += moves[i].dy;
		k++;
	}
	if (k > 0 && isfinite(sumx / k) && isfinite(sumy / k))
	{
		*sx = sumx / k;
		*sy = sumy / k;
	}
}

/* A point in the moves' units: where a search for a shift starts. */
typedef struct ShiftSeed
{
	double		x;
	double		y;
} ShiftSeed;

/*
 * The centres of the blocks of 2 x 2 cells that hold the most moves, at
 * most MAX_BLOCK_SEEDS of them (none if more hold as many, or if they hold
 * fewer than needed: the moves within tol of any vector lie in one block);
 * returns how many.  A block is named by its cell of the highest numbers:
 * cells k - 1 and k on an axis make block k, centred at (k - 1/2) cells, so
 * that b against a has the opposite blocks.
 */
#define MAX_BLOCK_SEEDS 8

static int
densest_blocks(movecell_hash *cells, double cell, double needed, ShiftSeed *seeds)
{
	movecell_hash *blocks = movecell_create(CurrentMemoryContext, 16, NULL);
	movecell_iterator it;
	MoveCell   *c;
	int			best = 0;
	int			nseeds = 0;

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

			b->count = (found ? b->count : 0) + c->count;
		}
	}
	movecell_start_iterate(blocks, &it);
	for (uint32 i = 0; (c = movecell_iterate(blocks, &it)) != NULL; i++)
	{
		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (c->count > best)
		{
			best = c->count;
			nseeds = 0;
		}
		if (c->count == best)
		{
			if (nseeds < MAX_BLOCK_SEEDS)
			{
				seeds[nseeds].x = (c->key.cx - 0.5) * cell;
				seeds[nseeds].y = (c->key.cy - 0.5) * cell;
			}
			nseeds++;
		}
	}
	movecell_destroy(blocks);
	return nseeds <= MAX_BLOCK_SEEDS && best >= needed ? nseeds : 0;
}

/*
 * The best shift that the densest blocks lead to: from each block's centre
 * to the mean of the moves in its reach, then to the mean of those within
 * tol of that; the one most moves went with wins, of as many the one
 * nearest the origin (two as near are no shift).  So moves that went
 * together across the edge of a cell are found.
 */
static bool
best_block_shift(const BtMove *moves, int n, double tol, double cell, double needed,
				 movecell_hash *cells, double *sx, double *sy, int *support)
{
	ShiftSeed	seeds[MAX_BLOCK_SEEDS];
	int			nseeds = densest_blocks(cells, cell, needed, seeds);
	double		bestreach = 0;
	bool		tied = false;

	*support = 0;
	for (int i = 0; i < nseeds; i++)
	{
		double		x = seeds[i].x;
		double		y = seeds[i].y;
		int			k;
		double		reach;

		/* a block's moves lie within a cell of its centre on each axis */
		recentre(moves, n, cell * M_SQRT2, &x, &y);
		recentre(moves, n, tol, &x, &y);
		k = support_of(moves, n, x, y, tol);
		reach = hypot(x, y);
		if (k == *support && reach == bestreach && (x != *sx || y != *sy))
			tied = true;
		else if (k > *support || (k == *support && reach < bestreach))
		{
			*support = k;
			bestreach = reach;
			*sx = x;
			*sy = y;
			tied = false;
		}
	}
	return *support > 0 && !tied;
}

bool
bt_find_shift(const BtMove *moves, int n, double tol, double min_share,
			  int nmatched, double *sx, double *sy)
{
	double		cell = Max(tol, 1e-9) * 2;
	double		needed = Max(3, min_share * nmatched);
	int			maxcount;
	movecell_hash *cells = count_cells(moves, n, tol, cell, &maxcount);
	int			support = 0;
	bool		found;

	/* moves just past the tolerance can average to no move at all */
	if (densest_cell(cells, sx, sy) && bt_exceeds(hypot(*sx, *sy), tol))
		support = support_of(moves, n, *sx, *sy, tol);
	found = support >= needed;

	/*
	 * Moves within tol of one vector lie in one block of 2 x 2 cells, not
	 * always in one cell; blocks are looked at when they could hold enough
	 */
	if (!found && (double) maxcount * 4 >= needed)
	{
		found = best_block_shift(moves, n, tol, cell, needed, cells, sx, sy, &support) &&
			bt_exceeds(hypot(*sx, *sy), tol) && support >= needed;
	}
	movecell_destroy(cells);
	return found;
}
