/*-------------------------------------------------------------------------
 *
 * matcher.c
 *	  Pairing objects that lost their id between two versions.
 *
 * CAD and IFC tools regenerate ids on export, so an object can leave the
 * id match as "removed" and come back as "added".  The objects left over
 * on both sides are paired by evidence, strongest first:
 *
 *	content		identical apart from the id (hash, then a full compare);
 *	geometry	same type, place within the move tolerance and size within
 *				the size tolerance, the only such candidate both ways;
 *	nearest		same type, each the other's single nearest neighbour within
 *				buildtrace.match_distance, repeated while pairs are found.
 *
 * The two geometric stages run first among objects whose other attributes
 * (all but id and place, size and rotation: level, name, material …) are
 * equal, then among all: two walls stacked on two floors are told apart by
 * their level before their place is weighed.
 *
 * Never a guess: where candidates are equally good (identical content, two
 * at the same distance) nothing is paired and the objects are reported as
 * one ambiguous group.  Places are looked up in a grid of cells as large
 * as the search radius, kept as an array sorted by (type, cell), so the
 * work is O(n log n) and the result depends on the two sets of objects,
 * not on their order; a crowd of one type piled in a few cells is not
 * matched by place, which would take every pair of its members.  A whole-drawing shift found among the objects that
 * kept their ids is allowed for: added objects are placed back by it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "diff.h"
#include "matcher.h"
#include "sortcheck.h"
#include "tolerance.h"
#include "unionfind.h"

/* candidates in an object's 3x3 cells beyond which its place pairs nothing */
#define MAX_NEAR_CANDIDATES 128

/* the columns of an object's 3x3 cells, each one run of the sorted grid */
#define NEAR_COLUMNS 3

/*
 * Grid cells are this much wider than the farthest pairing: two objects
 * that far apart, the tolerance's own epsilon included, then always lie in
 * neighbouring cells, whatever the rounding of their coordinates.
 */
#define CELL_MARGIN (1 + 1e-6)

const char *const bt_basis_names[3] = {"content", "geometry", "nearest"};

/* One leftover object, removed (side 0) or added (side 1). */
typedef struct Cand
{
	BtObject   *o;
	int			side;
	int			order;			/* position in its side's id order */
	bool		paired;
	bool		ambiguous;		/* identical to another: never paired */
	bool		placed;			/* has a finite place (geometry stages) */
	bool		crowded;		/* removed: too many candidates near to weigh */
	const char *type;
	int			typelen;
	uint32		typehash;
	double		x,
				y,
				w,
				h;				/* added objects: x, y less the shift */
	Numeric		nx,
				ny;				/* x and y as written */
	double		rounded[2];		/* |x|, |y| as the doubles were rounded at: as
								 * read, or as measured from the median place
								 * (rebase_places) */
	int64		cx,
				cy;				/* grid cell */
	uint64		content;		/* hash of all but the id */
	uint64		attrs;			/* of all but id, place, size, rotation */
	double		best;			/* nearest stage: best distance so far */
	int			nbest;			/* how many candidates at that distance */
	int			argbest;		/* one of them */
	int			ngeometry;		/* geometry stage: candidates */
	int			geometry_with;	/* one of them */
	int			pair_index;		/* added objects: its entry in out->pairs */
	JsonbValue	idval;			/* the id as written */
} Cand;

/*
 * An added candidate in the grid, with its sort key: the sort and the
 * searches of the grid read these few bytes instead of the candidate's.
 */
typedef struct GridEntry
{
	uint32		typehash;
	int			index;			/* the candidate; -1 in a search key */
	int64		cx;
	int64		cy;
} GridEntry;

typedef struct Matcher
{
	Cand	   *c;				/* removed first, then added */
	int			nremoved;
	int			n;
	GridEntry  *grid;			/* added candidates by (type, cell) */
	int			ngrid;
	int		   *near_runs;		/* per removed object: the grid runs of its
								 * columns of cells (find_near_runs) */
	int		   *parent;			/* union-find over ambiguous objects */
	double		cell;
	double		lo[2];			/* the extent of the placed candidates */
	double		hi[2];
	double		read_extent[2]; /* the largest |x|, |y| of them as read */
	bool		rebased[2];		/* measured exactly from the median place */
	const BtMatchParams *p;
	BtMatching *out;
	int			maxpairs;
	bool		same_attrs;		/* this round pairs equal attributes only */
} Matcher;

/* ---------- content ---------- */

/*
 * A hash of bytes with a seed (0 to 7).  Keys and most values are short,
 * and hash_bytes_extended's setup costs more than they do: up to seven
 * bytes are read as one integer, with the length and the seed in the top
 * byte, and mixed by a bijection, so no two short values of one seed
 * collide ("abcdef" and "abcdef\x01" did when the length was folded into
 * the bytes' bits).  The hashes only group objects of one diff.
 */
static inline uint64
bytes_hash(const void *data, int len, uint64 seed)
{
	const unsigned char *p = data;
	uint64		v = 0;

	if (len > 7)
		return hash_bytes_extended(p, len, seed);
	for (int i = 0; i < len; i++)
		v |= (uint64) p[i] << (8 * i);
	/* splitmix64's finalizer */
	v |= (seed << 59) | ((uint64) len << 56);
	v ^= UINT64CONST(0x9E3779B97F4A7C15);
	v = (v ^ (v >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	v = (v ^ (v >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return v ^ (v >> 31);
}

/*
 * A hash of a number's value, so that 6.0 and 6 hash alike, without
 * hash_numeric's cost: sign, weight and digits, not the display scale.
 */
static uint64
numeric_value_hash(Numeric n)
{
	BtNumericParts p;

	if (!bt_numeric_parts(n, &p))
		return 8;
	return hash_combine64((uint64) p.negative << 16 | (uint16) p.weight,
						  bytes_hash(p.digits, p.ndigits * sizeof(int16), 2));
}

/*
 * A nested array or object by its values, as jsonb_hash_extended hashes a
 * document: [1.0] and [1] are equal jsonb, and hash alike (their bytes do
 * not).
 */
static uint64
container_hash(JsonbContainer *jc)
{
	JsonbIterator *it = JsonbIteratorInit(jc);
	JsonbValue	v;
	JsonbIteratorToken r;
	uint64		h = 5;

	while ((r = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (r == WJB_BEGIN_ARRAY)
			h ^= ((uint64) JB_FARRAY) << 32 | JB_FARRAY;
		else if (r == WJB_BEGIN_OBJECT)
			h ^= ((uint64) JB_FOBJECT) << 32 | JB_FOBJECT;
		else if (r == WJB_KEY || r == WJB_VALUE || r == WJB_ELEM)
			JsonbHashScalarValueExtended(&v, &h, 5);
	}
	return h;
}

static uint64
value_hash(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return bytes_hash(v->val.string.val, v->val.string.len, 1);
		case jbvNumeric:
			return numeric_value_hash(v->val.numeric);
		case jbvBool:
			return v->val.boolean ? 3 : 4;
		case jbvBinary:
			return container_hash(v->val.binary.data);
		default:
			return 6;
	}
}

static inline bool
is_id_key(JsonbValue *k)
{
	return k->val.string.len == 2 && memcmp(k->val.string.val, "id", 2) == 0;
}

/* Next key/value pair other than the id; false at the end. */
static bool
next_non_id(BtPairCursor *c, JsonbValue *k, JsonbValue *v)
{
	while (bt_pairs_next(c, k, v))
	{
		if (!is_id_key(k))
			return true;
	}
	return false;
}

/*
 * Fold one key/value pair (not the id) into a candidate's hashes: all of
 * them into the content hash, all but place, size and turn into attrs.
 */
static void
hash_pair(JsonbValue *k, JsonbValue *v, void *arg)
{
	Cand	   *c = arg;
	uint64		h = hash_combine64(bytes_hash(k->val.string.val, k->val.string.len, 0),
								   value_hash(v));

	c->content = hash_combine64(c->content, h);
	if (!bt_is_place_key(k->val.string.val, k->val.string.len))
		c->attrs = hash_combine64(c->attrs, h);
}

static bool
content_equal(BtObject *a, BtObject *b)
{
	BtPairCursor ia,
				ib;
	JsonbValue	ka,
				va,
				kb,
				vb;
	bool		hasa,
				hasb;

	if (a->is_hash || b->is_hash)
		return a->is_hash && b->is_hash && a->hashlen == b->hashlen &&
			memcmp(a->hash, b->hash, a->hashlen) == 0;
	bt_pairs_begin(&ia, a->obj);
	bt_pairs_begin(&ib, b->obj);
	for (;;)
	{
		hasa = next_non_id(&ia, &ka, &va);
		hasb = next_non_id(&ib, &kb, &vb);
		if (!hasa || !hasb)
			return hasa == hasb;
		if (ka.val.string.len != kb.val.string.len ||
			memcmp(ka.val.string.val, kb.val.string.val, ka.val.string.len) != 0 ||
			!bt_values_equal(&va, &vb))
			return false;
	}
}

/* ---------- pairs ---------- */

static void
pair(Matcher *m, int r, int a, BtMatchBasis basis)
{
	BtReidentified *pr;

	if (m->out->npairs >= m->maxpairs)
		elog(ERROR, "matcher: more pairs than objects on one side");
	m->c[a].pair_index = m->out->npairs;
	pr = &m->out->pairs[m->out->npairs++];
	pr->a = m->c[r].o;
	pr->b = m->c[a].o;
	pr->basis = basis;
	pr->a_id = m->c[r].idval;
	pr->b_id = m->c[a].idval;
	pr->type = m->c[a].type;
	pr->typelen = m->c[a].typelen;
	m->c[r].paired = m->c[a].paired = true;
}

/*
 * A candidate's content hash with its index, sorted in a compact array of
 * its own rather than through the candidates (far apart in memory).  The
 * index breaks ties: removed objects first, each side in id order.
 */
typedef struct ContentKey
{
	uint64		content;
	int			index;
} ContentKey;

static inline int
cmp_content_key(const ContentKey *a, const ContentKey *b)
{
	if (a->content != b->content)
		return a->content < b->content ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

#define ST_SORT sort_content_keys
#define ST_ELEMENT_TYPE ContentKey
#define ST_COMPARE(a, b) cmp_content_key(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* The most top bits of the hash that sort_by_content buckets by. */
#define CONTENT_BUCKET_BITS_MAX 16

/*
 * The keys in cmp_content_key's order, in a new array.  The hashes are
 * uniform, so a counting pass over their top bits (about one bucket per
 * key) does most of a sort's work in two passes; each bucket, of a key or
 * two, is then sorted on its own.  Copies of one object share a hash and
 * make one large bucket, which the comparison sort takes.
 */
static ContentKey *
sort_by_content(const ContentKey *keys, int n)
{
	int			bits = 1;
	int			nbuckets;
	int		   *starts;
	int		   *next;
	ContentKey *sorted = palloc_huge(sizeof(ContentKey) * Max(n, 1));

	while ((1 << bits) < n && bits < CONTENT_BUCKET_BITS_MAX)
		bits++;
	nbuckets = 1 << bits;
	starts = palloc0(sizeof(int) * (nbuckets + 1));
	next = palloc(sizeof(int) * nbuckets);
	for (int i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		starts[(keys[i].content >> (64 - bits)) + 1]++;
	}
	for (int b = 0; b < nbuckets; b++)
	{
		starts[b + 1] += starts[b];
		next[b] = starts[b];
	}
	/* in index order, so each bucket is too */
	for (int i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		sorted[next[keys[i].content >> (64 - bits)]++] = keys[i];
	}
	for (int b = 0; b < nbuckets; b++)
	{
		if ((b & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (starts[b + 1] - starts[b] > 1)
			sort_content_keys(sorted + starts[b], starts[b + 1] - starts[b]);
	}
	pfree(starts);
	pfree(next);
	return sorted;
}

/* One group of equal content hash, keys [from, to). */
static void
content_group(Matcher *m, ContentKey *keys, int from, int to)
{
	Cand	   *first = &m->c[keys[from].index];
	int			nr = 0,
				na = 0;

	for (int i = from; i < to; i++)
	{
		Cand	   *c = &m->c[keys[i].index];

		/* the first member is compared with the others, not itself */
		if (i > from && !content_equal(first->o, c->o))
			return;				/* a hash collision: leave it to geometry */
		if (c->side == 0)
			nr++;
		else
			na++;
	}
	if (nr == 0 || na == 0)
		return;
	if (nr == 1 && na == 1)
	{
		pair(m, keys[from].index, keys[from + 1].index, BT_BASIS_CONTENT);
		return;
	}
	for (int i = from; i < to; i++)
	{
		m->c[keys[i].index].ambiguous = true;
		bt_uf_join(m->parent, keys[from].index, keys[i].index);
	}
}

/*
 * The sorted keys visit the candidates, and through them the objects, in
 * no order of memory: each is fetched some keys ahead, the candidate first,
 * then its entry, then the object's bytes, each step reading what the one
 * before fetched.
 */
static inline void
prefetch_content(Matcher *m, ContentKey *keys, int i)
{
	if (i + 3 * BT_PREFETCH_STAGE < m->n)
		bt_prefetch(&m->c[keys[i + 3 * BT_PREFETCH_STAGE].index]);
	if (i + 2 * BT_PREFETCH_STAGE < m->n)
		bt_prefetch(m->c[keys[i + 2 * BT_PREFETCH_STAGE].index].o);
	if (i + BT_PREFETCH_STAGE < m->n)
		bt_prefetch_object(m->c[keys[i + BT_PREFETCH_STAGE].index].o);
}

static void
match_content(Matcher *m)
{
	ContentKey *unsorted = palloc_huge(sizeof(ContentKey) * m->n);
	ContentKey *keys;
	int			start = 0;

	for (int i = 0; i < m->n; i++)
	{
		unsorted[i].content = m->c[i].content;
		unsorted[i].index = i;
	}
	keys = sort_by_content(unsorted, m->n);
	pfree(unsorted);
	for (int i = 1; i <= m->n; i++)
	{
		prefetch_content(m, keys, i);
		if (i < m->n && keys[i].content == keys[start].content)
			continue;
		CHECK_FOR_INTERRUPTS();
		if (i - start > 1)
			content_group(m, keys, start, i);
		start = i;
	}
	pfree(keys);
}

/* ---------- places ---------- */

static inline bool
same_type(const Cand *a, const Cand *b)
{
	return a->typehash == b->typehash && a->typelen == b->typelen &&
		(a->typelen == 0 || memcmp(a->type, b->type, a->typelen) == 0);
}

/*
 * The grid's order: by type hash and cell, then candidate (in a cell, the
 * added objects' id order); a search key, of index -1, comes before the
 * entries of its cell.
 */
static inline int
cmp_grid_entry(const GridEntry *a, const GridEntry *b)
{
	if (a->typehash != b->typehash)
		return a->typehash < b->typehash ? -1 : 1;
	if (a->cx != b->cx)
		return a->cx < b->cx ? -1 : 1;
	if (a->cy != b->cy)
		return a->cy < b->cy ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

#define ST_SORT sort_grid
#define ST_ELEMENT_TYPE GridEntry
#define ST_COMPARE(a, b) cmp_grid_entry(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

static inline bool
eligible(Cand *c)
{
	return c->placed && !c->paired && !c->ambiguous;
}

static void
build_grid(Matcher *m)
{
	m->grid = palloc_huge(sizeof(GridEntry) * Max(m->n - m->nremoved, 1));
	m->ngrid = 0;
	/* objects paired by content take no part in the geometric stages */
	for (int i = m->nremoved; i < m->n; i++)
	{
		Cand	   *c = &m->c[i];
		GridEntry  *e = &m->grid[m->ngrid];

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!eligible(c))
			continue;
		e->typehash = c->typehash;
		e->index = i;
		e->cx = c->cx;
		e->cy = c->cy;
		m->ngrid++;
	}
	sort_grid(m->grid, m->ngrid);
}

/* First grid position not before the cell (typehash, cx, cy). */
static int
grid_lower(Matcher *m, uint32 typehash, int64 cx, int64 cy)
{
	GridEntry	key = {typehash, -1, cx, cy};
	int			lo = 0,
				hi = m->ngrid;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (cmp_grid_entry(&m->grid[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * For every removed object, the added objects of its type (and of types
 * sharing its hash) in its 3x3 cells, paired or not: the grid is sorted by
 * (type, cx, cy), so each column of three cells is one run of it,
 * [from, to).  The runs stay as they are from pass to pass, so they are
 * searched for once.  A removed object whose runs hold more than
 * MAX_NEAR_CANDIDATES (objects piled at one place) is marked crowded and
 * passed over: no place tells its members apart, and visiting every pair
 * of them would make the stages quadratic.
 */
static void
find_near_runs(Matcher *m)
{
	m->near_runs = palloc_huge(sizeof(int) * 2 * NEAR_COLUMNS * Max(m->nremoved, 1));
	for (int r = 0; r < m->nremoved; r++)
	{
		Cand	   *cr = &m->c[r];
		int		   *run = &m->near_runs[2 * NEAR_COLUMNS * r];
		int			n = 0;

		CHECK_FOR_INTERRUPTS();
		/* one that is not eligible now never will be: no pass visits it */
		if (!eligible(cr))
		{
			memset(run, 0, sizeof(int) * 2 * NEAR_COLUMNS);
			continue;
		}
		for (int k = 0; k < NEAR_COLUMNS; k++)
		{
			int64		cx = cr->cx + k - 1;

			run[2 * k] = grid_lower(m, cr->typehash, cx, cr->cy - 1);
			run[2 * k + 1] = grid_lower(m, cr->typehash, cx, cr->cy + 2);
			n += run[2 * k + 1] - run[2 * k];
		}
		cr->crowded = n > MAX_NEAR_CANDIDATES;
	}
}

typedef void (*CandidateFn) (Matcher *m, int r, int a, double d);

/* Call fn for every unpaired added object of r's type in r's 3x3 cells. */
static void
each_near(Matcher *m, int r, CandidateFn fn)
{
	Cand	   *cr = &m->c[r];
	const int  *run = &m->near_runs[2 * NEAR_COLUMNS * r];

	if (cr->crowded)
		return;
	for (int k = 0; k < NEAR_COLUMNS; k++)
	{
		for (int g = run[2 * k]; g < run[2 * k + 1]; g++)
		{
			int			a = m->grid[g].index;
			Cand	   *ca = &m->c[a];

			if (ca->paired || !same_type(cr, ca))
				continue;
			fn(m, r, a, hypot(ca->x - cr->x, ca->y - cr->y));
		}
	}
}

static inline bool
within(double change, double tolerance)
{
	/* a change equal to the tolerance is within it; NaN is not */
	return !bt_exceeds(change, tolerance) && !isnan(change);
}

/*
 * The distance of a removed candidate's place from an added one's, less
 * the shift, from their coordinates as written.
 */
static double
exact_distance(const Matcher *m, const Cand *r, const Cand *a)
{
	Numeric		dx = numeric_sub_opt_error(a->nx, r->nx, NULL);
	Numeric		dy = numeric_sub_opt_error(a->ny, r->ny, NULL);
	double		d;

	if (m->p->shift_x)
	{
		Numeric		sx = numeric_sub_opt_error(dx, m->p->shift_x, NULL);
		Numeric		sy = numeric_sub_opt_error(dy, m->p->shift_y, NULL);

		pfree(dx);
		pfree(dy);
		dx = sx;
		dy = sy;
	}
	d = hypot(bt_numeric_double(dx), bt_numeric_double(dy));
	pfree(dx);
	pfree(dy);
	return d;
}

/*
 * How far the distance of two candidates' places as doubles can be from
 * their distance as written: more than the roundings of the places (as
 * read, or as measured exactly from the median), of the shift where it was
 * taken off as a double, and of the distance.  Never from the places as
 * moved back by the shift, so that b against a allows the same.
 */
static inline double
place_rounding(const Matcher *m, const Cand *cr, const Cand *ca)
{
	return bt_rounding_slack(cr->rounded[0] + ca->rounded[0] + cr->rounded[1] + ca->rounded[1] +
							 (m->rebased[0] ? 0 : fabs(m->p->shift_dx)) +
							 (m->rebased[1] ? 0 : fabs(m->p->shift_dy)));
}

/*
 * Whether the places of removed candidate r and added candidate a, d apart
 * as doubles, lie within tol.  The doubles are roundings of the places,
 * which far from 0 can put a distance near tol on either side of it: such
 * a distance is measured again on the places as written, as the moves are.
 */
static bool
place_within(const Matcher *m, int r, int a, double d, double tol)
{
	const Cand *cr = &m->c[r];
	const Cand *ca = &m->c[a];

	if (isnan(d) || fabs(d - tol * (1 + 1e-9)) > place_rounding(m, cr, ca))
		return within(d, tol);
	return within(exact_distance(m, cr, ca), tol);
}

static void
geometry_candidate(Matcher *m, int r, int a, double d)
{
	Cand	   *cr = &m->c[r];
	Cand	   *ca = &m->c[a];

	if ((m->same_attrs && cr->attrs != ca->attrs) ||
		!place_within(m, r, a, d, m->p->move_tol) || !within(fabs(ca->w - cr->w), m->p->size_tol) ||
		!within(fabs(ca->h - cr->h), m->p->size_tol))
		return;
	cr->ngeometry++;
	cr->geometry_with = a;
	ca->ngeometry++;
	ca->geometry_with = r;
}

static void
match_geometry(Matcher *m)
{
	for (int i = 0; i < m->n; i++)
		m->c[i].ngeometry = 0;
	for (int r = 0; r < m->nremoved; r++)
	{
		CHECK_FOR_INTERRUPTS();
		if (eligible(&m->c[r]))
			each_near(m, r, geometry_candidate);
	}
	for (int a = m->nremoved; a < m->n; a++)
	{
		Cand	   *ca = &m->c[a];

		if (eligible(ca) && ca->ngeometry == 1 &&
			m->c[ca->geometry_with].ngeometry == 1)
			pair(m, ca->geometry_with, a, BT_BASIS_GEOMETRY);
	}
}

/*
 * Whether distances d and best are as near: the same but for the rounding
 * of the places (place_rounding) and a relative epsilon, as a tolerance
 * has (bt_exceeds).  Places 0 and 9e-10 away are not as near.
 */
static inline bool
as_near(double d, double best, double rounding)
{
	return fabs(d - best) <= 1e-9 * Max(d, best) + rounding;
}

/* Whether r and a may be each other's nearest in this round. */
static inline bool
nearest_allowed(Matcher *m, int r, int a, double d)
{
	return (!m->same_attrs || m->c[r].attrs == m->c[a].attrs) &&
		place_within(m, r, a, d, m->p->distance);
}

/* A nearest pass's first look: each object's nearest distance. */
static void
nearest_distance(Matcher *m, int r, int a, double d)
{
	if (!nearest_allowed(m, r, a, d))
		return;
	m->c[r].best = Min(m->c[r].best, d);
	m->c[a].best = Min(m->c[a].best, d);
}

static inline void
count_as_near(Cand *c, int other, double d, double rounding)
{
	if (!as_near(d, c->best, rounding))
		return;
	c->nbest++;
	c->argbest = other;
}

/*
 * Its second: how many candidates are as near as the nearest, and one of
 * them.  Counted against the nearest distance, found first, so that the
 * count does not depend on the order the candidates come in (as near is
 * no equality: a, b and c can each be as near as the next).
 */
static void
nearest_count(Matcher *m, int r, int a, double d)
{
	double		rounding;

	if (!nearest_allowed(m, r, a, d))
		return;
	rounding = place_rounding(m, &m->c[r], &m->c[a]);
	count_as_near(&m->c[r], a, d, rounding);
	count_as_near(&m->c[a], r, d, rounding);
}

/*
 * One pass of the nearest stage: every object's nearest candidates, and,
 * if pair_them, the pairs of mutual only nearest ones; the number of pairs
 * it made.
 */
static int
match_nearest_once(Matcher *m, bool pair_them)
{
	int			made = 0;

	for (int i = 0; i < m->n; i++)
	{
		m->c[i].nbest = 0;
		m->c[i].best = get_float8_infinity();
	}
	for (int r = 0; r < m->nremoved; r++)
	{
		CHECK_FOR_INTERRUPTS();
		if (eligible(&m->c[r]))
			each_near(m, r, nearest_distance);
	}
	for (int r = 0; r < m->nremoved; r++)
	{
		CHECK_FOR_INTERRUPTS();
		if (eligible(&m->c[r]))
			each_near(m, r, nearest_count);
	}
	if (!pair_them)
		return 0;
	for (int a = m->nremoved; a < m->n; a++)
	{
		Cand	   *ca = &m->c[a];

		if (eligible(ca) && ca->nbest == 1 && m->c[ca->argbest].nbest == 1 &&
			m->c[ca->argbest].argbest == a)
		{
			pair(m, ca->argbest, a, BT_BASIS_NEAREST);
			made++;
		}
	}
	return made;
}

/* Ties of the last nearest pass: join each object with its equals. */
static void
join_tie(Matcher *m, int r, int a, double d)
{
	Cand	   *cr = &m->c[r];
	Cand	   *ca = &m->c[a];
	double		rounding;

	if (!place_within(m, r, a, d, m->p->distance))
		return;
	rounding = place_rounding(m, cr, ca);
	if ((cr->nbest > 1 && as_near(d, cr->best, rounding)) ||
		(ca->nbest > 1 && as_near(d, ca->best, rounding)))
	{
		cr->ambiguous = ca->ambiguous = true;
		bt_uf_join(m->parent, r, a);
	}
}

static void
match_places(Matcher *m)
{
	int			made = 0;

	build_grid(m);
	find_near_runs(m);
	/* equal attributes first, then any */
	for (int round = 0; round < 2; round++)
	{
		m->same_attrs = round == 0;
		match_geometry(m);
		/* Each pass may free a nearest neighbour for another object. */
		for (int pass = 0; pass < 8 && (made = match_nearest_once(m, true)) > 0; pass++)
			;
	}

	/*
	 * The ties are those of a pass that made no pair.  When the last pass
	 * still made pairs (the pass limit), the nearest candidates are taken
	 * once more, without pairing, so that none is a paired object's.
	 */
	if (made > 0)
		(void) match_nearest_once(m, false);
	for (int r = 0; r < m->nremoved; r++)
	{
		CHECK_FOR_INTERRUPTS();
		if (eligible(&m->c[r]))
			each_near(m, r, join_tie);
	}
}

/* ---------- setup and results ---------- */

static void
init_cand(Matcher *m, Cand *c, BtObject *o, int side, int order)
{
	BtFields	f;

	memset(c, 0, sizeof(Cand));
	c->o = o;
	c->side = side;
	c->order = order;
	/* one walk: the fields, and every pair into the content hashes */
	bt_object_fields_each(o, &f, hash_pair, c);
	bt_fields_id(&f, &c->idval);
	if (o->is_hash)
	{
		c->content = bytes_hash(o->hash, o->hashlen, 7);
		return;
	}
	c->type = f.type;
	c->typelen = f.type ? f.typelen : 0;
	c->typehash = f.type ? hash_bytes((const unsigned char *) f.type, f.typelen) : 0;
	c->nx = f.x;
	c->ny = f.y;
	c->x = bt_numeric_double(f.x);
	c->y = bt_numeric_double(f.y);
	c->rounded[0] = fabs(c->x);
	c->rounded[1] = fabs(c->y);
	c->x -= side ? m->p->shift_dx : 0;
	c->y -= side ? m->p->shift_dy : 0;
	c->w = bt_numeric_double(f.width);
	c->h = bt_numeric_double(f.height);
	/* a shift can take a place past double's range */
	c->placed = isfinite(c->x) && isfinite(c->y) && isfinite(c->w) && isfinite(c->h);
	if (c->placed)
	{
		m->lo[0] = Min(m->lo[0], c->x);
		m->hi[0] = Max(m->hi[0], c->x);
		m->lo[1] = Min(m->lo[1], c->y);
		m->hi[1] = Max(m->hi[1], c->y);
		m->read_extent[0] = Max(m->read_extent[0], c->rounded[0]);
		m->read_extent[1] = Max(m->read_extent[1], c->rounded[1]);
	}
}

static int
cmp_double(const void *x, const void *y)
{
	double		a = *(const double *) x;
	double		b = *(const double *) y;

	return (a > b) - (a < b);
}

/* The median of the placed candidates' places along one axis. */
static double
median_place(Matcher *m, int axis)
{
	double	   *v = palloc(sizeof(double) * m->n);
	int			k = 0;
	double		median;

	for (int i = 0; i < m->n; i++)
	{
		if (m->c[i].placed)
			v[k++] = axis == 0 ? m->c[i].x : m->c[i].y;
	}
	qsort(v, k, sizeof(double), cmp_double);
	median = k > 0 ? v[k / 2] : 0;
	pfree(v);
	return median;
}

/*
 * A place is a double only to within its last bits, which far from 0 (a
 * billion cells and more, as read or by the shift) is more than the cells'
 * margin: two places within reach of each other as written could lie two
 * cells apart.  Along such an axis every place is taken again as its exact
 * distance from the median place (less the shift), which a double holds
 * the more closely the nearer the place lies to the others; one object far
 * out neither moves the median nor widens the others' cells.  Decided on
 * the places as read, so that b against a decides alike.
 */
static void
rebase_places(Matcher *m, int axis)
{
	Numeric		shift = axis == 0 ? m->p->shift_x : m->p->shift_y;
	double		extent = Max(m->read_extent[axis],
							 fabs(axis == 0 ? m->p->shift_dx : m->p->shift_dy));
	Numeric		origin;

	if (!isfinite(extent) || extent / m->cell < 1e9)
		return;
	m->rebased[axis] = true;
	origin = DatumGetNumeric(DirectFunctionCall1(float8_numeric,
												 Float8GetDatum(median_place(m, axis))));
	m->lo[axis] = get_float8_infinity();
	m->hi[axis] = -get_float8_infinity();
	for (int i = 0; i < m->n; i++)
	{
		Cand	   *c = &m->c[i];
		Numeric		v;
		double		place;

		CHECK_FOR_INTERRUPTS();
		if (!c->placed)
			continue;
		v = numeric_sub_opt_error(axis == 0 ? c->nx : c->ny, origin, NULL);
		if (c->side == 1 && shift != NULL)
			v = numeric_sub_opt_error(v, shift, NULL);
		place = bt_numeric_double(v);
		*(axis == 0 ? &c->x : &c->y) = place;
		c->rounded[axis] = fabs(place);
		c->placed = isfinite(place);
		if (c->placed)
		{
			m->lo[axis] = Min(m->lo[axis], place);
			m->hi[axis] = Max(m->hi[axis], place);
		}
	}
}

/*
 * Where the grid's cells along one axis are counted from: 0, or, when a
 * place lies too far from 0 for its cell number to be exact in a double,
 * the median place, so that pairing does not depend on where the drawing
 * lies (a plan in map coordinates, 5e6 and up, with a search radius of a
 * millimetre) and one object far out does not unplace the others.
 */
static double
grid_origin(Matcher *m, int axis)
{
	if (Max(fabs(m->lo[axis]), fabs(m->hi[axis])) / m->cell * CELL_MARGIN < 1e15)
		return 0;
	return median_place(m, axis);
}

/*
 * Put the placed candidates in grid cells; a place too far from the
 * grid's origin for its cell number to be exact takes part in content only.
 */
static void
place_in_grid(Matcher *m)
{
	double		ox,
				oy;

	rebase_places(m, 0);
	rebase_places(m, 1);
	ox = grid_origin(m, 0);
	oy = grid_origin(m, 1);
	for (int i = 0; i < m->n; i++)
	{
		Cand	   *c = &m->c[i];
		double		gx,
					gy;

		CHECK_FOR_INTERRUPTS();
		if (!c->placed)
			continue;
		gx = (c->x - ox) / m->cell;
		gy = (c->y - oy) / m->cell;
		c->placed = fabs(gx) * CELL_MARGIN < 1e15 && fabs(gy) * CELL_MARGIN < 1e15;
		if (c->placed)
		{
			c->cx = (int64) floor(gx);
			c->cy = (int64) floor(gy);
		}
	}
}

typedef struct GroupMember
{
	int			root;
	int			index;
} GroupMember;

static int
cmp_group_member(const void *x, const void *y, void *arg)
{
	const Cand *c = arg;
	const GroupMember *gx = x;
	const GroupMember *gy = y;
	const Cand *a = &c[gx->index];
	const Cand *b = &c[gy->index];

	bt_sort_tick();

	if (gx->root != gy->root)
		return gx->root - gy->root;
	if (a->side != b->side)
		return a->side - b->side;
	return a->order - b->order;
}

/* One group of ambiguous objects, members [from, to) of gm. */
static void
add_group(Matcher *m, GroupMember *gm, int from, int to)
{
	BtAmbiguous *g = &m->out->groups[m->out->ngroups];

	g->removed = palloc(sizeof(BtObject *) * (to - from));
	g->added = palloc(sizeof(BtObject *) * (to - from));
	g->nremoved = g->nadded = 0;
	for (int i = from; i < to; i++)
	{
		Cand	   *c = &m->c[gm[i].index];

		if (c->side == 0)
			g->removed[g->nremoved++] = c->o;
		else
			g->added[g->nadded++] = c->o;
	}
	if (g->nremoved == 0 || g->nadded == 0)
		return;
	m->out->ngroups++;
	m->out->nambiguous += to - from;
}

/*
 * The ambiguous objects left unpaired, one group per union-find root, in
 * the order of the root (the lowest index: a removed object's id order).
 */
static void
collect_groups(Matcher *m)
{
	GroupMember *gm = palloc_huge(sizeof(GroupMember) * Max(m->n, 1));
	int			ngm = 0,
				start = 0;

	for (int i = 0; i < m->n; i++)
		if (m->c[i].ambiguous && !m->c[i].paired)
		{
			gm[ngm].root = bt_uf_root(m->parent, i);
			gm[ngm++].index = i;
		}
	qsort_arg(gm, ngm, sizeof(GroupMember), cmp_group_member, m->c);
	m->out->groups = palloc(sizeof(BtAmbiguous) * Max(ngm, 1));
	for (int i = 1; i <= ngm; i++)
	{
		if (i < ngm && gm[i].root == gm[start].root)
			continue;
		add_group(m, gm, start, i);
		start = i;
	}
	pfree(gm);
}

/* Take the paired objects out of an id-ordered array. */
static void
compact(Cand *c, BtObject **objs, int *n)
{
	int			kept = 0;

	for (int i = 0; i < *n; i++)
		if (!c[i].paired)
			objs[kept++] = objs[i];
	*n = kept;
}

/*
 * The pairs in the id order of their added objects: the added candidates
 * are in that order, and each is paired at most once.
 */
static void
order_pairs(Matcher *m)
{
	BtReidentified *sorted;
	int			n = 0;

	if (m->out->npairs == 0)
		return;
	sorted = palloc_huge(sizeof(BtReidentified) * m->out->npairs);
	for (int a = m->nremoved; a < m->n; a++)
		if (m->c[a].paired)
			sorted[n++] = m->out->pairs[m->c[a].pair_index];
	Assert(n == m->out->npairs);
	pfree(m->out->pairs);
	m->out->pairs = sorted;
}

/* The i-th leftover, the removed ones first. */
static inline BtObject *
leftover(BtObject **removed, int nremoved, BtObject **added, int i)
{
	return i < nremoved ? removed[i] : added[i - nremoved];
}

void
bt_match_leftovers(BtObject **removed, int *nremoved,
				   BtObject **added, int *nadded,
				   const BtMatchParams *p, BtMatching *out)
{
	Matcher		m;

	memset(out, 0, sizeof(BtMatching));
	if (*nremoved == 0 || *nadded == 0)
		return;
	memset(&m, 0, sizeof(Matcher));
	m.p = p;
	m.out = out;
	m.nremoved = *nremoved;
	m.n = *nremoved + *nadded;
	m.cell = Max(Max(p->distance, p->move_tol), 1e-9) * CELL_MARGIN;
	m.lo[0] = m.lo[1] = get_float8_infinity();
	m.hi[0] = m.hi[1] = -get_float8_infinity();
	m.c = palloc_huge(sizeof(Cand) * m.n);
	m.parent = palloc_huge(sizeof(int) * m.n);
	/* each object is paired at most once: reserve the most there can be */
	m.maxpairs = Min(*nremoved, *nadded);
	out->pairs = palloc_huge(sizeof(BtReidentified) * m.maxpairs);
	for (int i = 0; i < m.n; i++)
	{
		CHECK_FOR_INTERRUPTS();

		/*
		 * the leftovers are in id order, not their stored order: fetch the
		 * entry a stage before its object, whose address it holds
		 */
		if (i + 2 * BT_PREFETCH_STAGE < m.n)
			bt_prefetch(leftover(removed, m.nremoved, added, i + 2 * BT_PREFETCH_STAGE));
		if (i + BT_PREFETCH_STAGE < m.n)
			bt_prefetch_object(leftover(removed, m.nremoved, added, i + BT_PREFETCH_STAGE));
		m.parent[i] = i;
		init_cand(&m, &m.c[i], leftover(removed, m.nremoved, added, i),
				  i < m.nremoved ? 0 : 1, i < m.nremoved ? i : i - m.nremoved);
	}
	place_in_grid(&m);
	match_content(&m);
	match_places(&m);
	collect_groups(&m);
	order_pairs(&m);
	compact(m.c, removed, nremoved);
	compact(m.c + m.nremoved, added, nadded);
}
