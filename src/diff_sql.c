/*-------------------------------------------------------------------------
 *
 * diff_sql.c
 *	  SQL entry points bt_diff, bt_try_diff and bt_validate, and the jsonb
 *	  shape of a diff (see DESIGN.md, "Output: a diff").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "diff.h"
#include "diff_sql.h"
#include "drawing.h"
#include "guc.h"
#include "jsonbuild.h"
#include "summary.h"

PG_FUNCTION_INFO_V1(bt_diff);
PG_FUNCTION_INFO_V1(bt_try_diff);
PG_FUNCTION_INFO_V1(bt_validate);

static void
push_id_type(JsonbParseState **ps, BtFields *o, bool with_type)
{
	bt_push_key(ps, "id");
	pushJsonbValue(ps, WJB_VALUE, &o->idval);
	if (with_type)
	{
		bt_push_key(ps, "type");
		if (o->type)
			bt_push_string(ps, WJB_VALUE, o->type, o->typelen);
		else
			bt_push_null(ps, WJB_VALUE);
	}
}

/* The id under which b has the object, and its id in a if that differs. */
static void
push_match_ids(JsonbParseState **ps, BtMatch *m, bool with_type)
{
	push_id_type(ps, &m->fb, with_type);
	if (m->reidentified)
	{
		bt_push_key(ps, "previous_id");
		pushJsonbValue(ps, WJB_VALUE, &m->fa.idval);
	}
}

static void
push_pair(JsonbParseState **ps, const char *key, const char *k1, Numeric v1,
		  const char *k2, Numeric v2)
{
	bt_push_key(ps, key);
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	bt_push_key(ps, k1);
	bt_push_numeric(ps, WJB_VALUE, v1);
	bt_push_key(ps, k2);
	bt_push_numeric(ps, WJB_VALUE, v2);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

static void
push_moved(JsonbParseState **ps, BtMatch *m)
{
	Numeric		zero = int64_to_numeric(0);

	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	push_match_ids(ps, m, true);
	push_pair(ps, "from", "x", m->fa.x, "y", m->fa.y);
	push_pair(ps, "to", "x", m->fb.x, "y", m->fb.y);
	bt_push_key(ps, "dx");
	bt_push_numeric(ps, WJB_VALUE, m->dx ? m->dx : zero);
	bt_push_key(ps, "dy");
	bt_push_numeric(ps, WJB_VALUE, m->dy ? m->dy : zero);
	bt_push_key(ps, "distance");
	bt_push_rounded(ps, WJB_VALUE, m->distance);
	bt_push_key(ps, "direction");
	bt_push_cstring(ps, WJB_VALUE, bt_direction_names[m->direction]);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

static void
push_resized(JsonbParseState **ps, BtMatch *m)
{
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	push_match_ids(ps, m, true);
	push_pair(ps, "from", "width", m->fa.width, "height", m->fa.height);
	push_pair(ps, "to", "width", m->fb.width, "height", m->fb.height);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

static void
push_type(JsonbParseState **ps, BtFields *o)
{
	if (o->type)
		bt_push_string(ps, WJB_VALUE, o->type, o->typelen);
	else
		bt_push_null(ps, WJB_VALUE);
}

static void
push_retyped(JsonbParseState **ps, BtMatch *m)
{
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	push_match_ids(ps, m, false);
	bt_push_key(ps, "from");
	push_type(ps, &m->fa);
	bt_push_key(ps, "to");
	push_type(ps, &m->fb);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

/* A map entry's whole value: its hash, or its attribute object. */
static void
push_content(JsonbParseState **ps, BtObject *o)
{
	JsonbValue	v;

	if (o->is_hash)
		bt_push_string(ps, WJB_VALUE, o->hash, o->hashlen);
	else
	{
		v.type = jbvBinary;
		v.val.binary.data = o->obj;
		v.val.binary.len = o->objlen;
		pushJsonbValue(ps, WJB_VALUE, &v);
	}
}

static void
push_modified(JsonbParseState **ps, BtMatch *m)
{
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	push_match_ids(ps, m, true);
	bt_push_key(ps, "changed");
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	if (m->content)
	{
		bt_push_key(ps, "content");
		pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
		bt_push_key(ps, "from");
		push_content(ps, m->a);
		bt_push_key(ps, "to");
		push_content(ps, m->b);
		pushJsonbValue(ps, WJB_END_OBJECT, NULL);
	}
	for (int i = 0; i < m->nattrs; i++)
	{
		pushJsonbValue(ps, WJB_KEY, &m->attrs[i].key);
		pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
		/* A side where the key does not exist is left out. */
		if (m->attrs[i].has_from)
		{
			bt_push_key(ps, "from");
			pushJsonbValue(ps, WJB_VALUE, &m->attrs[i].from);
		}
		if (m->attrs[i].has_to)
		{
			bt_push_key(ps, "to");
			pushJsonbValue(ps, WJB_VALUE, &m->attrs[i].to);
		}
		pushJsonbValue(ps, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

static void
push_rotated(JsonbParseState **ps, BtMatch *m)
{
	Numeric		zero = int64_to_numeric(0);

	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	push_match_ids(ps, m, true);
	bt_push_key(ps, "from");
	bt_push_numeric(ps, WJB_VALUE, m->fa.rotation ? m->fa.rotation : zero);
	bt_push_key(ps, "to");
	bt_push_numeric(ps, WJB_VALUE, m->fb.rotation ? m->fb.rotation : zero);
	bt_push_key(ps, "delta");
	bt_push_rounded(ps, WJB_VALUE, m->rotation_delta);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

/* An object's id as output: as written in an array, the key in a map. */
static void
push_object_id(JsonbParseState **ps, JsonbIteratorToken tok, BtObject *o)
{
	BtFields	f;

	bt_object_fields(o, &f);
	pushJsonbValue(ps, tok, &f.idval);
}

static void
push_reidentified(JsonbParseState **ps, BtMatching *mt)
{
	bt_push_key(ps, "reidentified");
	pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < mt->npairs; i++)
	{
		BtReidentified *r = &mt->pairs[i];
		BtFields	fa,
					fb;

		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		bt_object_fields(r->a, &fa);
		bt_object_fields(r->b, &fb);
		pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
		push_id_type(ps, &fb, true);
		bt_push_key(ps, "previous_id");
		pushJsonbValue(ps, WJB_VALUE, &fa.idval);
		bt_push_key(ps, "basis");
		bt_push_cstring(ps, WJB_VALUE, bt_basis_names[r->basis]);
		pushJsonbValue(ps, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(ps, WJB_END_ARRAY, NULL);
}

static void
push_id_list(JsonbParseState **ps, const char *key, BtObject **objs, int n)
{
	bt_push_key(ps, key);
	pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
		push_object_id(ps, WJB_ELEM, objs[i]);
	pushJsonbValue(ps, WJB_END_ARRAY, NULL);
}

static void
push_ambiguous(JsonbParseState **ps, BtMatching *mt)
{
	bt_push_key(ps, "ambiguous");
	pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < mt->ngroups; i++)
	{
		BtAmbiguous *g = &mt->groups[i];
		BtFields	first;

		bt_object_fields(g->removed[0], &first);
		pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
		bt_push_key(ps, "type");
		if (first.type)
			bt_push_string(ps, WJB_VALUE, first.type, first.typelen);
		else
			bt_push_null(ps, WJB_VALUE);
		push_id_list(ps, "removed", g->removed, g->nremoved);
		push_id_list(ps, "added", g->added, g->nadded);
		pushJsonbValue(ps, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(ps, WJB_END_ARRAY, NULL);
}

static void
push_shift(JsonbParseState **ps, BtDiff *d)
{
	bt_push_key(ps, "shift");
	if (!d->has_shift)
	{
		bt_push_null(ps, WJB_VALUE);
		return;
	}
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	bt_push_key(ps, "dx");
	bt_push_rounded(ps, WJB_VALUE, d->shift_dx);
	bt_push_key(ps, "dy");
	bt_push_rounded(ps, WJB_VALUE, d->shift_dy);
	bt_push_key(ps, "distance");
	bt_push_rounded(ps, WJB_VALUE, hypot(d->shift_dx, d->shift_dy));
	bt_push_key(ps, "direction");
	bt_push_cstring(ps, WJB_VALUE, bt_direction_names[bt_compass(d->shift_dx, d->shift_dy)]);
	bt_push_key(ps, "objects");
	bt_push_int(ps, WJB_VALUE, d->nshifted);
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

typedef void (*PushMatch) (JsonbParseState **ps, BtMatch *m);

static void
push_matches(JsonbParseState **ps, const char *key, BtDiff *d, size_t flag_off,
			 PushMatch fn)
{
	bt_push_key(ps, key);
	pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < d->nchanged; i++)
	{
		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (*((bool *) ((char *) &d->changed[i] + flag_off)))
			fn(ps, &d->changed[i]);
	}
	pushJsonbValue(ps, WJB_END_ARRAY, NULL);
}

static void
push_objects(JsonbParseState **ps, const char *key, BtObject **objs, int n)
{
	bt_push_key(ps, key);
	pushJsonbValue(ps, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		bt_object_push(ps, objs[i]);
	}
	pushJsonbValue(ps, WJB_END_ARRAY, NULL);
}

static void
push_count(JsonbParseState **ps, const char *key, int n)
{
	bt_push_key(ps, key);
	bt_push_int(ps, WJB_VALUE, n);
}

static JsonbValue *
diff_to_jsonb(BtDiff *d)
{
	JsonbParseState *ps = NULL;

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	push_objects(&ps, "added", d->added, d->nadded);
	push_objects(&ps, "removed", d->removed, d->nremoved);
	push_matches(&ps, "moved", d, offsetof(BtMatch, moved), push_moved);
	push_matches(&ps, "resized", d, offsetof(BtMatch, resized), push_resized);
	push_matches(&ps, "retyped", d, offsetof(BtMatch, retyped), push_retyped);
	push_matches(&ps, "modified", d, offsetof(BtMatch, modified), push_modified);
	push_matches(&ps, "rotated", d, offsetof(BtMatch, rotated), push_rotated);
	push_reidentified(&ps, &d->matching);
	push_ambiguous(&ps, &d->matching);
	push_shift(&ps, d);

	bt_push_key(&ps, "counts");
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	push_count(&ps, "added", d->nadded);
	push_count(&ps, "removed", d->nremoved);
	push_count(&ps, "moved", d->nmoved);
	push_count(&ps, "resized", d->nresized);
	push_count(&ps, "retyped", d->nretyped);
	push_count(&ps, "modified", d->nmodified);
	push_count(&ps, "rotated", d->nrotated);
	push_count(&ps, "reidentified", d->matching.npairs);
	push_count(&ps, "ambiguous", d->matching.nambiguous);
	push_count(&ps, "shifted", d->nshifted);
	push_count(&ps, "unchanged", d->nunchanged);
	pushJsonbValue(&ps, WJB_END_OBJECT, NULL);

	bt_push_key(&ps, "summary");
	bt_push_cstring(&ps, WJB_VALUE, bt_summary(d));
	return pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
}

static double
tolerance_arg(FunctionCallInfo fcinfo, int argno, double guc, const char *name)
{
	double		t;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return guc;
	t = PG_GETARG_FLOAT8(argno);
	if (isnan(t) || t < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a non-negative number", name),
				 errdetail("The value given was %g.", t)));
	return t;
}

/* The problems as a jsonb array, each naming its version. */
static JsonbValue *
problems_to_jsonb(List *problems)
{
	JsonbParseState *ps = NULL;

	pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
	bt_problems_push(&ps, problems, true);
	return pushJsonbValue(&ps, WJB_END_ARRAY, NULL);
}

void
bt_diff_params_from_settings(BtDiffParams *p)
{
	p->move_tol = bt_move_tolerance;
	p->size_tol = bt_size_tolerance;
	p->rotation_tol = bt_rotation_tolerance;
	p->match_geometry = bt_match_geometry;
	p->match_distance = bt_match_distance;
	p->shift_min_share = bt_shift_min_share;
}

bool
bt_diff_drawings(Jsonb *ja, Jsonb *jb, const BtDiffParams *p, List **collect,
				 BtDrawing *a, BtDrawing *b, BtDiff *d)
{
	bool		ok = bt_drawing_read(ja, 'a', a, collect, NULL);

	/* b is read against a: its objects identical to a's are not read again */
	ok = bt_drawing_read(jb, 'b', b, collect, ok && !a->map_form ? a : NULL) && ok;
	if (ok)
		bt_diff_compute(a, b, p, d);
	return ok;
}

/*
 * Diff two versions.  With out == NULL bad drawing data raises an ERROR;
 * otherwise it gives out->diff == NULL, out->problems and the first problem.
 * Results are allocated in the caller's memory context; the work is done in
 * a scratch context.
 */
Jsonb *
bt_diff_versions(Jsonb *ja, Jsonb *jb, const BtDiffParams *p,
				 BtDiffOutcome *out)
{
	MemoryContext scratch,
				old;
	BtDrawing	a,
				b;
	List	   *problems = NIL;
	List	  **collect = out ? &problems : NULL;
	JsonbValue *res = NULL;
	BtDiff		d;
	bool		ok;
	Jsonb	   *result;

	scratch = AllocSetContextCreate(CurrentMemoryContext, "buildtrace diff",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	ok = bt_diff_drawings(ja, jb, p, collect, &a, &b, &d);
	if (ok)
		res = diff_to_jsonb(&d);
	else
		res = problems_to_jsonb(problems);

	MemoryContextSwitchTo(old);
	result = JsonbValueToJsonb(res);
	if (out)
	{
		memset(out, 0, sizeof(*out));
		if (ok)
		{
			out->diff = result;
			out->counts.added = d.nadded;
			out->counts.removed = d.nremoved;
			out->counts.moved = d.nmoved;
			out->counts.resized = d.nresized;
			out->counts.retyped = d.nretyped;
			out->counts.modified = d.nmodified;
			out->counts.unchanged = d.nunchanged;
			out->counts.rotated = d.nrotated;
			out->counts.reidentified = d.matching.npairs;
			out->counts.shifted = d.nshifted;
		}
		else
		{
			BtProblem  *first = linitial(problems);

			out->problems = result;
			out->sqlerrcode = first->sqlerrcode;
			out->message = pstrdup(first->message);
			out->detail = pstrdup(first->detail);
		}
	}
	MemoryContextDelete(scratch);
	return result;
}

/*
 * bt_diff and bt_try_diff.  With try, bad drawing data gives
 * {"problems": [...]} (each problem naming its version) instead of an error.
 */
static Datum
diff_common(FunctionCallInfo fcinfo, bool try)
{
	BtDiffParams p;
	BtDiffOutcome outcome;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	bt_diff_params_from_settings(&p);
	p.move_tol = tolerance_arg(fcinfo, 2, bt_move_tolerance, "move_tolerance");
	p.size_tol = tolerance_arg(fcinfo, 3, bt_size_tolerance, "size_tolerance");
	/* match_geometry: an argument since 0.2.0 (0.1.0's SQL passes four) */
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		p.match_geometry = PG_GETARG_BOOL(4);
	if (!try)
		PG_RETURN_JSONB_P(bt_diff_versions(PG_GETARG_JSONB_P(0), PG_GETARG_JSONB_P(1),
										   &p, NULL));
	bt_diff_versions(PG_GETARG_JSONB_P(0), PG_GETARG_JSONB_P(1), &p, &outcome);
	if (outcome.diff)
		PG_RETURN_JSONB_P(outcome.diff);
	else
	{
		JsonbParseState *ps = NULL;
		JsonbValue	v;

		v.type = jbvBinary;
		v.val.binary.data = &outcome.problems->root;
		v.val.binary.len = VARSIZE(outcome.problems) - VARHDRSZ;
		pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
		bt_push_key(&ps, "problems");
		pushJsonbValue(&ps, WJB_VALUE, &v);
		PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_OBJECT, NULL)));
	}
}

Datum
bt_diff(PG_FUNCTION_ARGS)
{
	return diff_common(fcinfo, false);
}

Datum
bt_try_diff(PG_FUNCTION_ARGS)
{
	return diff_common(fcinfo, true);
}

/* Every problem of one version, [] when it is valid. */
Datum
bt_validate(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	MemoryContext scratch,
				old;
	BtDrawing	d;
	List	   *problems = NIL;
	JsonbParseState *ps = NULL;
	JsonbValue *res;
	Jsonb	   *out;

	scratch = AllocSetContextCreate(CurrentMemoryContext, "buildtrace validate",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	bt_drawing_read(jb, 0, &d, &problems, NULL);
	pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
	bt_problems_push(&ps, problems, false);
	res = pushJsonbValue(&ps, WJB_END_ARRAY, NULL);
	MemoryContextSwitchTo(old);
	out = JsonbValueToJsonb(res);
	MemoryContextDelete(scratch);
	PG_RETURN_JSONB_P(out);
}
