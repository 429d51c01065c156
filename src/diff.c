/*-------------------------------------------------------------------------
 *
 * diff.c
 *	  Matching two drawing versions by id and classifying the changes.
 *
 * Both versions arrive sorted by id (drawing.c), so matching is a merge
 * join.  Most objects of a real pair are unchanged, and an unchanged object
 * is byte-identical in both jsonb values, so that is checked first; only
 * the rest pay for numeric arithmetic and an attribute walk.  Then a
 * whole-drawing shift is looked for among the objects that kept their ids,
 * the objects left over on both sides are paired by content and geometry
 * (matcher.c), and, when the drawing shifted, every move is taken relative
 * to the shift.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "diff.h"
#include "jsonbuild.h"
#include "jsonbwrite.h"
#include "shift.h"
#include "stored_numeric.h"
#include "tolerance.h"

const char *const bt_direction_names[8] = {
	"east", "north-east", "north", "north-west",
	"west", "south-west", "south", "south-east"
};

/*
 * exact powers of ten, one for each scale of a scaled delta: sized by the
 * scale, a shorter list would be padded with zeros to divide by
 */
static const double pow10d[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

StaticAssertDecl(lengthof(pow10d) == BT_SCALED_DELTA_MAX_SCALE + 1,
				 "pow10d must have a power of ten for every scale of a scaled delta");

/* b - a as a double; below 2^53 units, one division: correctly rounded. */
static double
numeric_change(Numeric a, Numeric b)
{
	int			dscale;
	int64		units;

	if (bt_numeric_bytes_equal(a, b))
		return 0.0;
	if (bt_numeric_scaled_delta(a, b, &dscale, &units))
		return (double) units / pow10d[dscale];
	return bt_numeric_double(numeric_sub_opt_error(b, a, NULL));
}

/*
 * b - a exactly, with numeric_sub's display scale, and as a double in *d;
 * NULL when the two are the same bytes.  Usual coordinates are subtracted
 * as scaled integers, and a delta equal to the axis' last one is that one.
 */
static Numeric
numeric_delta(Numeric a, Numeric b, double *d, BtLastDelta *last)
{
	int			dscale;
	int64		units;
	Numeric		r;

	if (bt_numeric_bytes_equal(a, b))
	{
		*d = 0.0;
		return NULL;
	}
	if (bt_numeric_scaled_delta(a, b, &dscale, &units))
	{
		*d = (double) units / pow10d[dscale];
		if (last->value == NULL || last->units != units || last->dscale != dscale)
		{
			last->value = bt_numeric_from_units(units, dscale);
			last->units = units;
			last->dscale = dscale;
		}
		return last->value;
	}
	r = numeric_sub_opt_error(b, a, NULL);
	*d = bt_numeric_double(r);
	return r;
}

int
bt_compass(double dx, double dy)
{
	double		deg = atan2(dy, dx) * 180.0 / M_PI; /* -180 .. 180 */
	int			sector;

	/* a move of overflowing size (infinite both ways) points nowhere: east */
	if (isnan(deg))
		return 0;
	sector = (int) floor(deg / 45.0 + 0.5);

	return (sector + 8) % 8;
}

bool
bt_values_equal(JsonbValue *a, JsonbValue *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return bt_numeric_bytes_equal(a->val.numeric, b->val.numeric) ||
				DatumGetBool(DirectFunctionCall2(numeric_eq,
												 NumericGetDatum(a->val.numeric),
												 NumericGetDatum(b->val.numeric)));
		case jbvBinary:
			return compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) a->type);
	}
	return false;
}

/*
 * Compare the attributes of two objects into m, walking both to their ends
 * (which fills m->fa and m->fb).
 */
static void
compare_attrs(BtMatch *m, BtAttrCursor *ia, BtAttrCursor *ib)
{
	JsonbValue	ka,
				va,
				kb,
				vb;
	bool		hasa,
				hasb;
	int			cap = 0;

	hasa = bt_attrs_next(ia, &ka, &va);
	hasb = bt_attrs_next(ib, &kb, &vb);

	m->attrs = NULL;			/* most changed objects keep their attributes */
	while (hasa || hasb)
	{
		int			c;
		BtAttrChange ch;

		if (!hasa || !hasb)
			c = hasa ? -1 : 1;
		else
			c = bt_jsonb_key_cmp(ka.val.string.val, ka.val.string.len,
								 kb.val.string.val, kb.val.string.len);
		if (c == 0 && bt_values_equal(&va, &vb))
		{
			hasa = bt_attrs_next(ia, &ka, &va);
			hasb = bt_attrs_next(ib, &kb, &vb);
			continue;
		}
		ch.key = c <= 0 ? ka : kb;
		ch.has_from = c <= 0;
		ch.has_to = c >= 0;
		if (ch.has_from)
			ch.from = va;
		if (ch.has_to)
			ch.to = vb;
		if (m->nattrs == cap)
		{
			cap = Max(cap * 2, 4);
			m->attrs = m->attrs ? repalloc(m->attrs, sizeof(BtAttrChange) * cap) :
				palloc(sizeof(BtAttrChange) * cap);
		}
		m->attrs[m->nattrs++] = ch;
		if (c <= 0)
			hasa = bt_attrs_next(ia, &ka, &va);
		if (c >= 0)
			hasb = bt_attrs_next(ib, &kb, &vb);
	}
	m->modified = m->nattrs > 0;
}

/* Byte-identical in both versions: certainly unchanged. */
static inline bool
identical(BtObject *a, BtObject *b)
{
	if (a->is_hash || b->is_hash)
		return a->is_hash && b->is_hash && a->hashlen == b->hashlen &&
			memcmp(a->hash, b->hash, a->hashlen) == 0;
	return a->objlen == b->objlen && memcmp(a->obj, b->obj, a->objlen) == 0;
}

/*
 * An angle reduced to (-360, 360) degrees; absent is 0.  Past a billion
 * degrees a double holds too few of the angle's digits to reduce it, so the
 * exact value is reduced instead.
 */
double
bt_angle_mod_360(Numeric a)
{
	double		v;

	if (a == NULL)
		return 0.0;
	v = bt_numeric_double(a);
	if (fabs(v) < 1e9)
		return fmod(v, 360.0);
	return bt_numeric_double(numeric_mod_opt_error(a, bt_numeric_from_int64(360), NULL));
}

/* The turn from rotation a to b, in (-180, 180] degrees; absent is 0. */
static double
rotation_delta(Numeric a, Numeric b)
{
	double		d;

	/* the usual changed object kept its angle: no need to reduce it */
	if (a && b && bt_numeric_bytes_equal(a, b))
		return 0.0;
	d = fmod(bt_angle_mod_360(b) - bt_angle_mod_360(a), 360.0);

	if (d <= -180.0)
		d += 360.0;
	else if (d > 180.0)
		d -= 360.0;
	return d;
}

/* Distance, direction and whether it counts, of a move (dx, dy). */
static void
set_move(BtDiff *d, BtMatch *m, double dx, double dy, double move_tol)
{
	/* objects moved together share the vector: keep the last one's */
	if (!d->last_move.valid || dx != d->last_move.dx || dy != d->last_move.dy)
	{
		d->last_move.valid = true;
		d->last_move.dx = dx;
		d->last_move.dy = dy;
		d->last_move.distance = hypot(dx, dy);
		d->last_move.direction = bt_compass(dx, dy);
	}
	m->distance = d->last_move.distance;
	m->direction = d->last_move.direction;
	m->moved = bt_exceeds(m->distance, move_tol);
}

/*
 * A changed pair's types as interned pointers: equal types become one
 * pointer, which the writer and the summary read again in cache.
 */
static inline void
intern_types(BtDiff *d, BtFields *a, BtFields *b)
{
	if (a->type)
		a->type = bt_type_intern(&d->types, a->type, a->typelen);
	if (b->type && a->type && b->typelen == a->typelen &&
		memcmp(b->type, a->type, a->typelen) == 0)
		b->type = a->type;		/* the usual object keeps its type */
	else if (b->type)
		b->type = bt_type_intern(&d->types, b->type, b->typelen);
}

/*
 * Classify a matched pair (m zeroed apart from a, b and how it was
 * matched); returns true if anything changed.
 */
static bool
compare_objects(BtDiff *d, BtMatch *m, const BtDiffParams *p)
{
	BtFields   *a = &m->fa;
	BtFields   *b = &m->fb;
	double		dw,
				dh;

	BtAttrCursor ia,
				ib;
	JsonbValue	k,
				v;

	/* the usual move changes no attribute, and needs no walk of them */
	if (!bt_fields_if_attrs_equal(m->a, m->b, a, b))
	{
		bt_attrs_begin(&ia, m->a, a);
		bt_attrs_begin(&ib, m->b, b);
		if (m->a->is_hash || m->b->is_hash)
		{
			/* A content hash is only ever equal or not equal. */
			while (bt_attrs_next(&ia, &k, &v) || bt_attrs_next(&ib, &k, &v))
				;
			m->content = m->modified = !identical(m->a, m->b);
			intern_types(d, a, b);
			return m->modified;
		}
		compare_attrs(m, &ia, &ib);
	}

	intern_types(d, a, b);
	m->retyped = a->type != b->type;

	m->dx = numeric_delta(a->x, b->x, &m->ddx, &d->last_dx);
	m->dy = numeric_delta(a->y, b->y, &m->ddy, &d->last_dy);
	if (m->ddx != 0.0 || m->ddy != 0.0)
		set_move(d, m, m->ddx, m->ddy, p->move_tol);
	dw = numeric_change(a->width, b->width);
	dh = numeric_change(a->height, b->height);
	m->resized = bt_exceeds(fabs(dw), p->size_tol) || bt_exceeds(fabs(dh), p->size_tol);
	if (a->rotation || b->rotation)
	{
		m->rotation_delta = rotation_delta(a->rotation, b->rotation);
		m->rotated = bt_exceeds(fabs(m->rotation_delta), p->rotation_tol);
	}
	return m->moved || m->resized || m->retyped || m->modified || m->rotated;
}

/*
 * Add (sign 1) or take away (sign -1) entry m's kinds of change in d's
 * counts, as its flags are set and changed: a pass over the entries to
 * count them would fetch each one again, out of cache in a large version.
 */
static inline void
tally(BtDiff *d, const BtMatch *m, int sign)
{
	d->nmoved += sign * m->moved;
	d->nresized += sign * m->resized;
	d->nretyped += sign * m->retyped;
	d->nmodified += sign * m->modified;
	d->nrotated += sign * m->rotated;
	d->nshifted += sign * m->shifted;
	d->nreported += sign * (m->moved || m->resized || m->retyped || m->modified ||
							m->rotated);
}

/*
 * A new entry at the end of d's changed list, for compare_objects: zeroed
 * from its flags on, with a and b set.  The fields, two thirds of the
 * entry, are left for compare_objects, which fills them in any case.
 */
static BtMatch *
new_match(BtDiff *d, BtObject *a, BtObject *b)
{
	BtMatch    *m;

	if (d->nchanged == d->maxchanged)
	{
		d->maxchanged *= 2;
		d->changed = repalloc_huge(d->changed, sizeof(BtMatch) * d->maxchanged);
	}
	m = &d->changed[d->nchanged];
	memset(&m->moved, 0, sizeof(BtMatch) - offsetof(BtMatch, moved));
	m->a = a;
	m->b = b;
	return m;
}

/*
 * Classify a pair; keep it if anything changed, if it moved at all (a move
 * within the tolerance still tells whether it went with a shift), or if it
 * was re-identified.  Returns the entry kept, or NULL.
 */
static BtMatch *
classify(BtDiff *d, BtObject *a, BtObject *b, const BtDiffParams *p,
		 const BtReidentified *reid)
{
	BtMatch    *m = new_match(d, a, b);

	if (reid)
	{
		m->reidentified = true;
		m->basis = reid->basis;
	}
	if (compare_objects(d, m, p) || m->ddx != 0.0 || m->ddy != 0.0 || reid)
	{
		d->nchanged++;
		tally(d, m, 1);
		return m;
	}
	d->nunchanged++;
	return NULL;
}

typedef void (*SameIdFn) (BtDiff *d, BtObject *a, BtObject *b, const BtDiffParams *p);

/*
 * In a version larger than the cache, each pair that the merge compares
 * waits for its two objects from memory.  Some steps ahead, fetch the
 * objects of a pair that will be compared: those whose b object the read
 * did not take from a (most of a version is taken).  The sides advance
 * together but for the objects of one side only, so a's entry at the same
 * distance is, mostly, the namesake.
 */
static inline void
prefetch_merge(const BtDrawing *a, const BtDrawing *b, int i, int j)
{
	int			ia = i + BT_PREFETCH_AHEAD;
	int			jb = j + BT_PREFETCH_AHEAD;

	if (jb < b->nobjs && !b->objs[b->byid[jb].obj].from_like)
	{
		bt_prefetch_object(&b->objs[b->byid[jb].obj]);
		if (ia < a->nobjs)
			bt_prefetch_object(&a->objs[a->byid[ia].obj]);
	}
}

/*
 * The merge join by id: fn for each pair of objects with the same id; with
 * leftovers, the objects of one side only go to d's added and removed.
 */
static void
merge_by_id(BtDrawing *a, BtDrawing *b, BtDiff *d, const BtDiffParams *p,
			SameIdFn fn, bool leftovers)
{
	int			i = 0,
				j = 0;
	uint32		steps = 0;

	while (i < a->nobjs || j < b->nobjs)
	{
		int			c;

		if ((++steps & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		prefetch_merge(a, b, i, j);
		c = i >= a->nobjs ? 1 : j >= b->nobjs ? -1 :
			bt_key_cmp(&a->byid[i], a->objs, &b->byid[j], b->objs);
		if (c < 0)
		{
			if (leftovers)
				d->removed[d->nremoved++] = &a->objs[a->byid[i].obj];
			i++;
		}
		else if (c > 0)
		{
			if (leftovers)
				d->added[d->nadded++] = &b->objs[b->byid[j].obj];
			j++;
		}
		else
		{
			BtObject   *oa = &a->objs[a->byid[i++].obj];
			BtObject   *ob = &b->objs[b->byid[j++].obj];

			fn(d, oa, ob, p);
		}
	}
}

static void
classify_same_id(BtDiff *d, BtObject *oa, BtObject *ob, const BtDiffParams *p)
{
	/*
	 * b was read with a as its like (diff_sql.c): from_like is identical,
	 * unlike_namesake is not
	 */
	Assert(!ob->from_like || identical(oa, ob));
	Assert(!ob->unlike_namesake || !identical(oa, ob));
	if (ob->from_like || (!ob->unlike_namesake && identical(oa, ob)))
		d->nunchanged++;
	else
	{
		BtMatch    *m = classify(d, oa, ob, p, NULL);

		/* the shift is looked for among these moves, kept apart and small */
		if (m && (m->ddx != 0.0 || m->ddy != 0.0))
		{
			BtMove	   *mv = &d->moves[d->nmoves++];

			mv->dx = m->ddx;
			mv->dy = m->ddy;
			mv->distance = m->distance;
			mv->object = m - d->changed;
		}
	}
}

/*
 * With a shift, an object that kept its place moved against the drawing:
 * the second merge adds the pairs that the first counted unchanged.
 */
static void
add_unmoved(BtDiff *d, BtObject *oa, BtObject *ob, const BtDiffParams *p)
{
	BtMatch    *m;

	/* the first merge kept the changed pairs, in this same order */
	if (d->next_kept < d->nkept_by_id && d->changed[d->next_kept].b == ob)
	{
		d->next_kept++;
		return;
	}
	m = new_match(d, oa, ob);
	(void) compare_objects(d, m, p);
	d->nchanged++;
	tally(d, m, 1);
}

/* A shift as written, exactly, and as doubles. */
typedef struct WrittenShift
{
	Numeric		x;
	Numeric		y;
	double		dx;
	double		dy;
} WrittenShift;

/* a - b, where a NULL a is zero. */
static Numeric
numeric_minus(Numeric a, Numeric b)
{
	return numeric_sub_opt_error(a ? a : bt_numeric_from_int64(0), b, NULL);
}

/*
 * Whether match m, which moved by (ddx, ddy), went with shift w.  The
 * doubles of a move and of the shift are roundings of their decimals,
 * which far from 0 can put their difference on either side of the
 * tolerance: a move the doubles do not tell of is measured on its exact
 * difference from the shift, as a move is without a shift, which then goes
 * to *nx, *ny (else they are NULL).
 */
static bool
went_with(const BtMatch *m, double ddx, double ddy, const WrittenShift *w, double tol,
		  Numeric *nx, Numeric *ny)
{
	double		rx = ddx - w->dx;
	double		ry = ddy - w->dy;
	double		slack = bt_rounding_slack(fabs(ddx) + fabs(w->dx) + fabs(ddy) + fabs(w->dy));
	double		dist;

	*nx = *ny = NULL;
	/* hypot() is dear, and one coordinate tells of most moves */
	if (bt_exceeds(Max(fabs(rx), fabs(ry)) - slack, tol))
		return false;
	dist = hypot(rx, ry);
	if (!bt_exceeds(dist + slack, tol))
		return true;
	if (bt_exceeds(dist - slack, tol))
		return false;
	*nx = numeric_minus(m->dx, w->x);
	*ny = numeric_minus(m->dy, w->y);
	return !bt_exceeds(hypot(bt_numeric_double(*nx), bt_numeric_double(*ny)), tol);
}

/* How many of the objects that kept their ids and moved went with w. */
static int
written_support(const BtDiff *d, const WrittenShift *w, double tol)
{
	int			support = 0;
	Numeric		nx,
				ny;

	for (int i = 0; i < d->nmoves; i++)
	{
		const BtMove *mv = &d->moves[i];

		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		support += went_with(&d->changed[mv->object], mv->dx, mv->dy, w, tol, &nx, &ny);
		if (nx != NULL)
		{
			pfree(nx);
			pfree(ny);
		}
	}
	return support;
}

/* Of the objects that kept their ids and moved, the first nearest (x, y). */
static const BtMatch *
move_nearest(const BtDiff *d, double x, double y)
{
	const BtMove *nearest = &d->moves[0];
	double		best = hypot(nearest->dx - x, nearest->dy - y);

	for (int i = 1; i < d->nmoves; i++)
	{
		double		dist = hypot(d->moves[i].dx - x, d->moves[i].dy - y);

		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (dist < best)
		{
			nearest = &d->moves[i];
			best = dist;
		}
	}
	return &d->changed[nearest->object];
}

/*
 * What a shift search asks of the diff: its moves, tolerance and need; and
 * the candidate with the most objects so far as written, which the search
 * mostly returns and need not be written again.
 */
typedef struct ShiftJudge
{
	const BtDiff *d;
	double		tol;
	double		needed;
	int			best_support;
	double		best_x;
	double		best_y;
	WrittenShift best;
} ShiftJudge;

/*
 * Shift candidate (x, y) as it is written, into *w, and how many objects
 * that kept their ids went with it as written, so that relative moves add
 * up with it exactly and the objects are judged against it: the candidate
 * rounded as output, or, when that leaves fewer with it than a shift needs
 * (far from 0, or with a tolerance near the rounding), the move nearest
 * it, exactly, if more went with that.  0 when the candidate rounds to no
 * move.
 */
static int
written_shift(const ShiftJudge *j, double x, double y, WrittenShift *w)
{
	const BtMatch *m;
	WrittenShift nearest;
	int			support;
	int			nearest_support;

	w->x = bt_round_numeric(bt_round_double(x));
	w->y = bt_round_numeric(bt_round_double(y));
	w->dx = bt_numeric_double(w->x);
	w->dy = bt_numeric_double(w->y);
	if (!bt_exceeds(hypot(w->dx, w->dy), j->tol))
		return 0;
	support = written_support(j->d, w, j->tol);

	/*
	 * Unless rounding moved the candidate, or its doubles are coarse next to
	 * the tolerance, the move nearest it has no more with it
	 */
	if (support >= j->needed ||
		(fabs(w->dx - x) + fabs(w->dy - y) <= j->tol * 1e-6 &&
		 (fabs(x) + fabs(y)) * DBL_EPSILON * 1e3 <= j->tol))
		return support;
	m = move_nearest(j->d, x, y);
	nearest.x = m->dx ? m->dx : bt_numeric_from_int64(0);
	nearest.y = m->dy ? m->dy : bt_numeric_from_int64(0);
	nearest.dx = m->ddx;
	nearest.dy = m->ddy;
	if (!bt_exceeds(hypot(nearest.dx, nearest.dy), j->tol))
		return support;
	nearest_support = written_support(j->d, &nearest, j->tol);
	if (nearest_support <= support)
		return support;
	*w = nearest;
	return nearest_support;
}

static int
shift_support(void *arg, double x, double y)
{
	ShiftJudge *j = arg;
	WrittenShift w;
	int			support = written_shift(j, x, y, &w);

	if (support > j->best_support)
	{
		j->best_support = support;
		j->best_x = x;
		j->best_y = y;
		j->best = w;
	}
	return support;
}

/*
 * The whole-drawing shift, from the moves of the objects that kept their
 * ids (shift.c), weighed and kept as written (written_shift).
 */
static void
find_shift(BtDiff *d, const BtDiffParams *p, int nmatched)
{
	ShiftJudge	judge = {0};
	WrittenShift w;
	double		sx,
				sy;

	judge.d = d;
	judge.tol = p->move_tol;
	judge.needed = Max(3, p->shift_min_share * nmatched);
	judge.best_support = -1;

	if (d->nmoves == 0 ||
		!bt_find_shift(d->moves, d->nmoves, p->move_tol, p->shift_min_share,
					   nmatched, shift_support, &judge, &sx, &sy))
		return;
	if (sx == judge.best_x && sy == judge.best_y)
		w = judge.best;
	else if (written_shift(&judge, sx, sy, &w) < judge.needed)
		return;
	d->has_shift = true;
	d->shift_dx = w.dx;
	d->shift_dy = w.dy;
	d->shift_x = w.x;
	d->shift_y = w.y;
}

/* A move against the shift, or one that went with it. */
static void
measure_against_shift(BtDiff *d, BtMatch *m, const BtDiffParams *p)
{
	WrittenShift w = {d->shift_x, d->shift_y, d->shift_dx, d->shift_dy};
	Numeric		nx,
				ny;

	m->moved = false;
	if (went_with(m, m->ddx, m->ddy, &w, p->move_tol, &nx, &ny))
	{
		m->shifted = true;
		return;
	}
	if (nx == NULL)
	{
		nx = numeric_minus(m->dx, w.x);
		ny = numeric_minus(m->dy, w.y);
	}
	set_move(d, m, bt_numeric_double(nx), bt_numeric_double(ny), p->move_tol);
	m->dx = nx;
	m->dy = ny;
}

/* Every move becomes a move against the shift, or goes with it. */
static void
apply_shift(BtDiff *d, const BtDiffParams *p)
{
	for (int i = 0; i < d->nchanged; i++)
	{
		BtMatch    *m = &d->changed[i];

		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (m->a->is_hash || m->b->is_hash)
			continue;
		tally(d, m, -1);
		measure_against_shift(d, m, p);
		tally(d, m, 1);
	}
}

/*
 * Merge the sorted runs [lo, mid) and [mid, hi) of indexes src into dst,
 * by the ids in b of the entries they index.
 */
static void
merge_run_pair(const BtMatch *c, const int *src, int *dst, int lo, int mid,
			   int hi)
{
	int			l = lo,
				r = mid;

	for (int k = lo; k < hi; k++)
	{
		if ((k & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (r >= hi || (l < mid && bt_object_id_cmp(c[src[l]].b, c[src[r]].b) <= 0))
			dst[k] = src[l++];
		else
			dst[k] = src[r++];
	}
}

/*
 * The indexes of the n entries in the order of their ids in b, the first
 * sorted of which are known to be in order.  The entries come as a few
 * runs already in that order (the id merge, the re-identified objects,
 * those measured against a shift), so the runs are found and merged two by
 * two until one is left: one pass over the entries for the usual two or
 * three, and n log n comparisons at the most.  NULL when they are in order
 * already.
 */
static int *
order_by_runs(const BtMatch *c, int n, int sorted)
{
	int		   *order,
			   *other,
			   *starts;
	int			nruns = 1;

#ifdef USE_ASSERT_CHECKING
	for (int i = 1; i < sorted && i < n; i++)
		Assert(bt_object_id_cmp(c[i - 1].b, c[i].b) <= 0);
#endif
	sorted = Max(sorted, 1);

	/* mostly they are all in order: found without allocating */
	while (sorted < n && bt_object_id_cmp(c[sorted - 1].b, c[sorted].b) <= 0)
	{
		if ((sorted & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		sorted++;
	}
	if (sorted >= n)
		return NULL;
	order = palloc_huge(sizeof(int) * n);
	other = palloc_huge(sizeof(int) * n);
	starts = palloc_huge(sizeof(int) * (n + 1));
	starts[0] = 0;
	for (int i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		order[i] = i;
		if (i >= sorted && bt_object_id_cmp(c[i - 1].b, c[i].b) > 0)
			starts[nruns++] = i;
	}
	starts[nruns] = n;
	while (nruns > 1)
	{
		int			merged = 0;
		int		   *swap;

		/* runs 2k and 2k + 1 become run k; an odd last run is copied */
		for (int r = 0; r < nruns; r += 2)
		{
			merge_run_pair(c, order, other, starts[r], starts[Min(r + 1, nruns)],
						   starts[Min(r + 2, nruns)]);
			starts[merged++] = starts[r];
		}
		starts[merged] = n;
		nruns = merged;
		swap = order;
		order = other;
		other = swap;
	}
	pfree(other);
	pfree(starts);
	return order;
}

/*
 * Put the changed objects in the order of their ids in b.  Entries are
 * large, so their indexes are ordered first and then each entry is moved
 * once, cycle by cycle.  The id merge made its entries in that order:
 * comparing them again would read each one's object, out of cache in a
 * large version, for nothing.
 */
static void
sort_changed(BtDiff *d)
{
	BtMatch    *c = d->changed;
	int			n = d->nchanged;
	int		   *order = order_by_runs(c, n, d->nkept_by_id);

	if (order == NULL)
		return;
	for (int i = 0; i < n; i++)
	{
		BtMatch		first;
		int			j = i;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (order[i] == i)
			continue;
		first = c[i];
		/* slot j takes entry order[j]; the slot emptied is next */
		while (order[j] != i)
		{
			int			k = order[j];

			c[j] = c[k];
			order[j] = j;
			j = k;
		}
		c[j] = first;
		order[j] = j;
	}
	pfree(order);
}

void
bt_diff_compute(BtDrawing *a, BtDrawing *b, const BtDiffParams *p, BtDiff *out)
{
	int			nmatched;

	memset(out, 0, sizeof(BtDiff));
	out->added = palloc_huge(sizeof(BtObject *) * Max(b->nobjs, 1));
	out->removed = palloc_huge(sizeof(BtObject *) * Max(a->nobjs, 1));

	/*
	 * Every changed entry pairs an object of a with one of b, so there are at
	 * most that many.  Reserving them all at once never copies the list as it
	 * grows; the pages of entries never written are never touched.
	 */
	out->maxchanged = Max(Min(a->nobjs, b->nobjs), 1);
	out->changed = palloc_huge(sizeof(BtMatch) * out->maxchanged);
	out->moves = palloc_huge(sizeof(BtMove) * out->maxchanged);

	merge_by_id(a, b, out, p, classify_same_id, true);
	out->nkept_by_id = out->nchanged;
	find_shift(out, p, out->nchanged + out->nunchanged);
	if (p->match_geometry)
	{
		BtMatchParams mp = {p->move_tol, p->size_tol, p->match_distance,
		out->shift_dx, out->shift_dy, out->shift_x, out->shift_y};

		bt_match_leftovers(out->removed, &out->nremoved, out->added, &out->nadded,
						   &mp, &out->matching);
		for (int i = 0; i < out->matching.npairs; i++)
		{
			BtReidentified *r = &out->matching.pairs[i];

			/* identical apart from the id, and no shift to measure against */
			if (r->basis == BT_BASIS_CONTENT && !out->has_shift)
				out->nunchanged++;
			else
				classify(out, r->a, r->b, p, r);
		}
	}
	nmatched = out->nchanged + out->nunchanged;
	if (out->has_shift)
	{
		merge_by_id(a, b, out, p, add_unmoved, false);
		apply_shift(out, p);
	}
	sort_changed(out);
	/* an object that went with the shift and did nothing else is unchanged */
	out->nunchanged = nmatched - out->nreported;
}
