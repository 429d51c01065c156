/*-------------------------------------------------------------------------
 *
 * diff.c
 *	  Matching two drawing versions by id and classifying the changes.
 *
 * Both versions arrive sorted by id (drawing.c), so matching is a merge
 * join.  Most objects of a real pair are unchanged, and an unchanged object
 * is byte-identical in both jsonb values, so that is checked first; only
 * the rest pay for numeric arithmetic and an attribute walk.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "diff.h"

const char *const bt_direction_names[8] = {
	"east", "north-east", "north", "north-west",
	"west", "south-west", "south", "south-east"
};

/*
 * A change is reported only when it is greater than the tolerance.  The
 * relative epsilon makes a change that equals the tolerance in decimal
 * (1.0 -> 1.1 with tolerance 0.1) count as "at" it despite binary rounding.
 */
static inline bool
exceeds(double change, double tolerance)
{
	return change > tolerance * (1.0 + 1e-9);
}

static inline bool
numeric_bytes_equal(Numeric a, Numeric b)
{
	return VARSIZE_ANY(a) == VARSIZE_ANY(b) &&
		memcmp(a, b, VARSIZE_ANY(a)) == 0;
}

static double
numeric_to_double(Numeric n)
{
	/* Never fails: values beyond double range become +/-Inf. */
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(n)));
}

/* b - a exactly; *d gets it as a double. */
static Numeric
numeric_delta(Numeric a, Numeric b, double *d)
{
	Numeric		r;

	if (numeric_bytes_equal(a, b))
	{
		*d = 0.0;
		return NULL;
	}
	r = numeric_sub_opt_error(b, a, NULL);
	*d = numeric_to_double(r);
	return r;
}

static int
compass(double dx, double dy)
{
	double		deg = atan2(dy, dx) * 180.0 / M_PI;	/* -180 .. 180 */
	int			sector = (int) floor(deg / 45.0 + 0.5);

	return (sector + 8) % 8;
}

static bool
values_equal(JsonbValue *a, JsonbValue *b)
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
			return numeric_bytes_equal(a->val.numeric, b->val.numeric) ||
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

/* id, x, y, type, width or height (switch on length: no strlen per key) */
static inline bool
is_core_key(JsonbValue *k)
{
	const char *s = k->val.string.val;

	switch (k->val.string.len)
	{
		case 1:
			return s[0] == 'x' || s[0] == 'y';
		case 2:
			return memcmp(s, "id", 2) == 0;
		case 4:
			return memcmp(s, "type", 4) == 0;
		case 5:
			return memcmp(s, "width", 5) == 0;
		case 6:
			return memcmp(s, "height", 6) == 0;
	}
	return false;
}

/* Next non-core key/value pair of an object iterator; false at the end. */
static bool
next_attr(JsonbIterator **it, JsonbValue *k, JsonbValue *v)
{
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(it, k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(it, v, true);
		if (!is_core_key(k))
			return true;
	}
	return false;
}

/* jsonb's own key order: shorter first, then bytes. */
static int
cmp_keys(JsonbValue *a, JsonbValue *b)
{
	if (a->val.string.len != b->val.string.len)
		return a->val.string.len < b->val.string.len ? -1 : 1;
	return memcmp(a->val.string.val, b->val.string.val, a->val.string.len);
}

/* Compare the attributes (non-core keys) of two objects into m. */
static void
compare_attrs(BtMatch *m)
{
	JsonbIterator *ia = JsonbIteratorInit(m->a->obj);
	JsonbIterator *ib = JsonbIteratorInit(m->b->obj);
	JsonbValue	ka,
				va,
				kb,
				vb;
	bool		hasa = next_attr(&ia, &ka, &va);
	bool		hasb = next_attr(&ib, &kb, &vb);
	int			cap = 4;

	m->attrs = palloc(sizeof(BtAttrChange) * cap);
	while (hasa || hasb)
	{
		int			c = !hasa ? 1 : !hasb ? -1 : cmp_keys(&ka, &kb);
		BtAttrChange ch;

		if (c == 0 && values_equal(&va, &vb))
		{
			hasa = next_attr(&ia, &ka, &va);
			hasb = next_attr(&ib, &kb, &vb);
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
			cap *= 2;
			m->attrs = repalloc(m->attrs, sizeof(BtAttrChange) * cap);
		}
		m->attrs[m->nattrs++] = ch;
		if (c <= 0)
			hasa = next_attr(&ia, &ka, &va);
		if (c >= 0)
			hasb = next_attr(&ib, &kb, &vb);
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
 * Classify a matched pair that is not byte-identical (m zeroed apart from
 * a and b); returns true if anything changed.
 */
static bool
compare_objects(BtMatch *m, double move_tol, double size_tol)
{
	BtFields   *a = &m->fa;
	BtFields   *b = &m->fb;
	double		ddx,
				ddy,
				dw,
				dh;

	bt_object_fields(m->a, a);
	bt_object_fields(m->b, b);
	if (m->a->is_hash || m->b->is_hash)
	{
		/* A content hash is only ever equal or not equal. */
		m->content = m->modified = true;
		return true;
	}

	m->retyped = (a->type == NULL) != (b->type == NULL) ||
		(a->type && (a->typelen != b->typelen ||
					 memcmp(a->type, b->type, a->typelen) != 0));

	m->dx = numeric_delta(a->x, b->x, &ddx);
	m->dy = numeric_delta(a->y, b->y, &ddy);
	if (ddx != 0.0 || ddy != 0.0)
	{
		m->distance = hypot(ddx, ddy);
		m->direction = compass(ddx, ddy);
		m->moved = exceeds(m->distance, move_tol);
	}
	numeric_delta(a->width, b->width, &dw);
	numeric_delta(a->height, b->height, &dh);
	m->resized = exceeds(fabs(dw), size_tol) || exceeds(fabs(dh), size_tol);

	compare_attrs(m);
	return m->moved || m->resized || m->retyped || m->modified;
}

void
bt_diff_compute(BtDrawing *a, BtDrawing *b, double move_tol, double size_tol,
				BtDiff *out)
{
	int			i = 0,
				j = 0;
	uint32		steps = 0;

	memset(out, 0, sizeof(BtDiff));
	out->added = palloc_huge(sizeof(BtObject *) * Max(b->nobjs, 1));
	out->removed = palloc_huge(sizeof(BtObject *) * Max(a->nobjs, 1));
	out->maxchanged = 64;
	out->changed = palloc(sizeof(BtMatch) * out->maxchanged);

	while (i < a->nobjs || j < b->nobjs)
	{
		int			c;
		BtObject   *oa,
				   *ob;
		BtMatch    *m;

		if ((++steps & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		c = i >= a->nobjs ? 1 : j >= b->nobjs ? -1 :
			bt_key_cmp(&a->byid[i], a->objs, &b->byid[j], b->objs);
		if (c < 0)
		{
			out->removed[out->nremoved++] = &a->objs[a->byid[i++].obj];
			continue;
		}
		if (c > 0)
		{
			out->added[out->nadded++] = &b->objs[b->byid[j++].obj];
			continue;
		}
		oa = &a->objs[a->byid[i++].obj];
		ob = &b->objs[b->byid[j++].obj];
		/* b was read with a as its like (diff_sql.c): from_like is identical */
		Assert(!ob->from_like || identical(oa, ob));
		if (ob->from_like || identical(oa, ob))
		{
			out->nunchanged++;
			continue;
		}
		if (out->nchanged == out->maxchanged)
		{
			out->maxchanged *= 2;
			out->changed = repalloc_huge(out->changed,
										 sizeof(BtMatch) * out->maxchanged);
		}
		m = &out->changed[out->nchanged];
		memset(m, 0, sizeof(BtMatch));
		m->a = oa;
		m->b = ob;
		if (!compare_objects(m, move_tol, size_tol))
		{
			out->nunchanged++;
			continue;
		}
		out->nchanged++;
		out->nmoved += m->moved;
		out->nresized += m->resized;
		out->nretyped += m->retyped;
		out->nmodified += m->modified;
	}
}
