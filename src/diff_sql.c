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

#include "common/shortest_dec.h"
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
#include "jsonbwrite.h"
#include "stored_numeric.h"
#include "summary.h"

PG_FUNCTION_INFO_V1(bt_diff);
PG_FUNCTION_INFO_V1(bt_try_diff);
PG_FUNCTION_INFO_V1(bt_validate);

/*
 * Each object's keys in jsonb order (shorter first, then bytewise); its
 * values are written in the same order.  "previous_id", the longest, comes
 * last, so that leaving it out is writing one key fewer.
 */
static const BtJwKey moved_keys[] =
{
	BT_JW_KEY("dx"), BT_JW_KEY("dy"), BT_JW_KEY("id"), BT_JW_KEY("to"),
	BT_JW_KEY("from"), BT_JW_KEY("type"), BT_JW_KEY("distance"),
	BT_JW_KEY("direction"), BT_JW_KEY("previous_id")
};
static const BtJwKey resized_keys[] =
{
	BT_JW_KEY("id"), BT_JW_KEY("to"), BT_JW_KEY("from"), BT_JW_KEY("type"),
	BT_JW_KEY("previous_id")
};
static const BtJwKey retyped_keys[] =
{
	BT_JW_KEY("id"), BT_JW_KEY("to"), BT_JW_KEY("from"),
	BT_JW_KEY("previous_id")
};
static const BtJwKey modified_keys[] =
{
	BT_JW_KEY("id"), BT_JW_KEY("type"), BT_JW_KEY("changed"),
	BT_JW_KEY("previous_id")
};
static const BtJwKey rotated_keys[] =
{
	BT_JW_KEY("id"), BT_JW_KEY("to"), BT_JW_KEY("from"), BT_JW_KEY("type"),
	BT_JW_KEY("delta"), BT_JW_KEY("previous_id")
};
static const BtJwKey reidentified_keys[] =
{
	BT_JW_KEY("id"), BT_JW_KEY("type"), BT_JW_KEY("basis"),
	BT_JW_KEY("previous_id")
};
static const BtJwKey ambiguous_keys[] =
{
	BT_JW_KEY("type"), BT_JW_KEY("added"), BT_JW_KEY("removed")
};
static const BtJwKey shift_keys[] =
{
	BT_JW_KEY("dx"), BT_JW_KEY("dy"), BT_JW_KEY("objects"),
	BT_JW_KEY("distance"), BT_JW_KEY("direction")
};
static const BtJwKey point_keys[] =
{
	BT_JW_KEY("x"), BT_JW_KEY("y")
};
static const BtJwKey size_keys[] =
{
	BT_JW_KEY("width"), BT_JW_KEY("height")
};
static const BtJwKey from_to_keys[] =
{
	BT_JW_KEY("to"), BT_JW_KEY("from")
};
static const BtJwKey diff_keys[] =
{
	BT_JW_KEY("added"), BT_JW_KEY("moved"), BT_JW_KEY("shift"),
	BT_JW_KEY("counts"), BT_JW_KEY("removed"), BT_JW_KEY("resized"),
	BT_JW_KEY("retyped"), BT_JW_KEY("rotated"), BT_JW_KEY("summary"),
	BT_JW_KEY("modified"), BT_JW_KEY("ambiguous"), BT_JW_KEY("reidentified")
};
static const BtJwKey count_keys[] =
{
	BT_JW_KEY("added"), BT_JW_KEY("moved"), BT_JW_KEY("removed"),
	BT_JW_KEY("resized"), BT_JW_KEY("retyped"), BT_JW_KEY("rotated"),
	BT_JW_KEY("shifted"), BT_JW_KEY("modified"), BT_JW_KEY("ambiguous"),
	BT_JW_KEY("unchanged"), BT_JW_KEY("reidentified")
};

/*
 * The shapes of the objects a diff lists by the thousand.  A changed
 * object's kind has two: without "previous_id" and, if re-identified, with.
 */
#define MATCH_SHAPES(keys) \
	{BT_JW_SHAPE(keys, lengthof(keys) - 1), BT_JW_SHAPE(keys, lengthof(keys))}
static BtJwShape moved_shapes[2] = MATCH_SHAPES(moved_keys);
static BtJwShape resized_shapes[2] = MATCH_SHAPES(resized_keys);
static BtJwShape retyped_shapes[2] = MATCH_SHAPES(retyped_keys);
static BtJwShape modified_shapes[2] = MATCH_SHAPES(modified_keys);
static BtJwShape rotated_shapes[2] = MATCH_SHAPES(rotated_keys);
static BtJwShape reidentified_shape =
BT_JW_SHAPE(reidentified_keys, lengthof(reidentified_keys));
static BtJwShape point_shape = BT_JW_SHAPE(point_keys, 2);
static BtJwShape size_shape = BT_JW_SHAPE(size_keys, 2);
static BtJwShape from_to_shape = BT_JW_SHAPE(from_to_keys, 2);

/* A changed object, with "previous_id" (its last key) if re-identified. */
static void
begin_match(BtJsonbWriter *w, BtJwShape *shapes, BtMatch *m)
{
	bt_jw_begin_shape(w, &shapes[m->reidentified ? 1 : 0]);
}

static void
write_id(BtJsonbWriter *w, BtFields *f)
{
	JsonbValue	id;

	bt_jw_value(w, bt_fields_id(f, &id));
}

static void
end_match(BtJsonbWriter *w, BtMatch *m)
{
	if (m->reidentified)
		write_id(w, &m->fa);
	bt_jw_end(w);
}

static void
write_type(BtJsonbWriter *w, BtFields *o)
{
	if (o->type)
		bt_jw_string(w, o->type, o->typelen);
	else
		bt_jw_null(w);
}

static void
write_pair(BtJsonbWriter *w, BtJwShape *shape, Numeric v1, Numeric v2)
{
	bt_jw_begin_shape(w, shape);
	bt_jw_numeric(w, v1);
	bt_jw_numeric(w, v2);
	bt_jw_end(w);
}

static void
write_moved(BtJsonbWriter *w, BtMatch *m, Numeric zero)
{
	begin_match(w, moved_shapes, m);
	bt_jw_numeric(w, m->dx ? m->dx : zero);
	bt_jw_numeric(w, m->dy ? m->dy : zero);
	write_id(w, &m->fb);
	write_pair(w, &point_shape, m->fb.x, m->fb.y);
	write_pair(w, &point_shape, m->fa.x, m->fa.y);
	write_type(w, &m->fb);
	bt_jw_rounded(w, m->distance);
	bt_jw_cstring(w, bt_direction_names[m->direction]);
	end_match(w, m);
}

static void
write_resized(BtJsonbWriter *w, BtMatch *m, Numeric zero)
{
	begin_match(w, resized_shapes, m);
	write_id(w, &m->fb);
	write_pair(w, &size_shape, m->fb.width, m->fb.height);
	write_pair(w, &size_shape, m->fa.width, m->fa.height);
	write_type(w, &m->fb);
	end_match(w, m);
}

static void
write_retyped(BtJsonbWriter *w, BtMatch *m, Numeric zero)
{
	begin_match(w, retyped_shapes, m);
	write_id(w, &m->fb);
	write_type(w, &m->fb);
	write_type(w, &m->fa);
	end_match(w, m);
}

/* A map entry's whole value: its hash, or its attribute object. */
static void
write_content(BtJsonbWriter *w, BtObject *o)
{
	if (o->is_hash)
		bt_jw_string(w, o->hash, o->hashlen);
	else
		bt_jw_container(w, o->obj, o->objlen);
}

/* {"from": ..., "to": ...} of one attribute; a side that does not exist is left out. */
static void
write_attr_change(BtJsonbWriter *w, BtAttrChange *ch)
{
	if (ch->has_from && ch->has_to)
	{
		bt_jw_begin_shape(w, &from_to_shape);
		bt_jw_value(w, &ch->to);
		bt_jw_value(w, &ch->from);
	}
	else
	{
		bt_jw_begin_object(w, ch->has_to ? from_to_keys : from_to_keys + 1, 1);
		bt_jw_value(w, ch->has_to ? &ch->to : &ch->from);
	}
	bt_jw_end(w);
}

/*
 * "changed": for a map entry whose hash changed (or that turned from a hash
 * into attributes or back) its whole value as "content"; otherwise the
 * changed attributes, already in key order from the comparison.  The two
 * never meet: attributes are compared only between two attribute objects.
 */
static void
write_changed(BtJsonbWriter *w, BtMatch *m)
{
	static const BtJwKey content_key[] = {BT_JW_KEY("content")};
	BtJwKey    *keys;

	if (m->content)
	{
		bt_jw_begin_object(w, content_key, 1);
		bt_jw_begin_shape(w, &from_to_shape);
		write_content(w, m->b);
		write_content(w, m->a);
		bt_jw_end(w);
		bt_jw_end(w);
		return;
	}
	keys = palloc(sizeof(BtJwKey) * Max(m->nattrs, 1));
	for (int i = 0; i < m->nattrs; i++)
	{
		keys[i].s = m->attrs[i].key.val.string.val;
		keys[i].len = m->attrs[i].key.val.string.len;
	}
	bt_jw_begin_object(w, keys, m->nattrs);
	for (int i = 0; i < m->nattrs; i++)
		write_attr_change(w, &m->attrs[i]);
	bt_jw_end(w);
	pfree(keys);
}

static void
write_modified(BtJsonbWriter *w, BtMatch *m, Numeric zero)
{
	begin_match(w, modified_shapes, m);
	write_id(w, &m->fb);
	write_type(w, &m->fb);
	write_changed(w, m);
	end_match(w, m);
}

static void
write_rotated(BtJsonbWriter *w, BtMatch *m, Numeric zero)
{
	begin_match(w, rotated_shapes, m);
	write_id(w, &m->fb);
	bt_jw_numeric(w, m->fb.rotation ? m->fb.rotation : zero);
	bt_jw_numeric(w, m->fa.rotation ? m->fa.rotation : zero);
	write_type(w, &m->fb);
	bt_jw_rounded(w, m->rotation_delta);
	end_match(w, m);
}

/* An object's id as output: as written in an array, the key in a map. */
static void
write_object_id(BtJsonbWriter *w, BtObject *o)
{
	BtFields	f;

	bt_object_fields(o, &f);
	write_id(w, &f);
}

static void
write_reidentified(BtJsonbWriter *w, BtMatching *mt)
{
	bt_jw_begin_array(w, mt->npairs);
	for (int i = 0; i < mt->npairs; i++)
	{
		BtReidentified *r = &mt->pairs[i];

		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		bt_jw_begin_shape(w, &reidentified_shape);
		bt_jw_value(w, &r->b_id);
		if (r->type)
			bt_jw_string(w, r->type, r->typelen);
		else
			bt_jw_null(w);
		bt_jw_cstring(w, bt_basis_names[r->basis]);
		bt_jw_value(w, &r->a_id);
		bt_jw_end(w);
	}
	bt_jw_end(w);
}

static void
write_id_list(BtJsonbWriter *w, BtObject **objs, int n)
{
	bt_jw_begin_array(w, n);
	for (int i = 0; i < n; i++)
		write_object_id(w, objs[i]);
	bt_jw_end(w);
}

static void
write_ambiguous(BtJsonbWriter *w, BtMatching *mt)
{
	bt_jw_begin_array(w, mt->ngroups);
	for (int i = 0; i < mt->ngroups; i++)
	{
		BtAmbiguous *g = &mt->groups[i];
		BtFields	first;

		CHECK_FOR_INTERRUPTS();
		bt_object_fields(g->removed[0], &first);
		bt_jw_begin_object(w, ambiguous_keys, lengthof(ambiguous_keys));
		write_type(w, &first);
		write_id_list(w, g->added, g->nadded);
		write_id_list(w, g->removed, g->nremoved);
		bt_jw_end(w);
	}
	bt_jw_end(w);
}

static void
write_shift(BtJsonbWriter *w, BtDiff *d)
{
	if (!d->has_shift)
	{
		bt_jw_null(w);
		return;
	}
	bt_jw_begin_object(w, shift_keys, lengthof(shift_keys));
	bt_jw_numeric(w, d->shift_x);
	bt_jw_numeric(w, d->shift_y);
	bt_jw_int(w, d->nshifted);
	bt_jw_rounded(w, hypot(d->shift_dx, d->shift_dy));
	bt_jw_cstring(w, bt_direction_names[bt_compass(d->shift_dx, d->shift_dy)]);
	bt_jw_end(w);
}

typedef void (*WriteMatch) (BtJsonbWriter *w, BtMatch *m, Numeric zero);

/*
 * Writing reads each object's id and numbers again, long after comparing
 * them; in a large diff they have left the cache by then.  Fetch those of
 * an entry some entries ahead while writing this one.
 */
static inline void
prefetch_match(BtMatch *m)
{
	bt_prefetch(m->fb.id);
	bt_prefetch(m->fb.x);
	bt_prefetch(m->fa.x);
	bt_prefetch(m->fb.type);
}

/* Whether the changed object has the flag at flag_off set. */
static inline bool
has_flag(BtMatch *m, size_t flag_off)
{
	return *((bool *) ((char *) m + flag_off));
}

/* The changed objects with one flag set, in id order; n of them. */
static void
write_matches(BtJsonbWriter *w, BtDiff *d, int n, size_t flag_off,
			  WriteMatch fn)
{
	Numeric		zero = bt_numeric_from_int64(0);

	bt_jw_begin_array(w, n);
	/* the list of a large diff is far larger than the cache: stop early */
	for (int i = 0, left = n; i < d->nchanged && left > 0; i++)
	{
		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		/* the objects of entries of other lists are not read */
		if (i + BT_PREFETCH_AHEAD < d->nchanged &&
			has_flag(&d->changed[i + BT_PREFETCH_AHEAD], flag_off))
			prefetch_match(&d->changed[i + BT_PREFETCH_AHEAD]);
		if (has_flag(&d->changed[i], flag_off))
		{
			fn(w, &d->changed[i], zero);
			left--;
		}
	}
	bt_jw_end(w);
}

static void
write_objects(BtJsonbWriter *w, BtObject **objs, int n)
{
	bt_jw_begin_array(w, n);
	for (int i = 0; i < n; i++)
	{
		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		bt_object_write(w, objs[i]);
	}
	bt_jw_end(w);
}

static void
write_counts(BtJsonbWriter *w, BtDiff *d)
{
	bt_jw_begin_object(w, count_keys, lengthof(count_keys));
	bt_jw_int(w, d->nadded);
	bt_jw_int(w, d->nmoved);
	bt_jw_int(w, d->nremoved);
	bt_jw_int(w, d->nresized);
	bt_jw_int(w, d->nretyped);
	bt_jw_int(w, d->nrotated);
	bt_jw_int(w, d->nshifted);
	bt_jw_int(w, d->nmodified);
	bt_jw_int(w, d->matching.nambiguous);
	bt_jw_int(w, d->nunchanged);
	bt_jw_int(w, d->matching.npairs);
	bt_jw_end(w);
}

/*
 * The bytes the result certainly holds (the added and removed objects as
 * stored, and each changed object's type in every list that names it), and
 * room for the rest, so that the buffer is rarely copied while it grows.
 * Pages reserved but never written cost nothing.
 */
static Size
diff_size_bounds(BtDiff *d, Size *estimate)
{
	Size		at_least = 0;
	Size		extra = 4096;

	for (int i = 0; i < d->nadded; i++)
		at_least += d->added[i]->objlen;
	for (int i = 0; i < d->nremoved; i++)
		at_least += d->removed[i]->objlen;
	for (int i = 0; i < d->nchanged; i++)
	{
		BtMatch    *m = &d->changed[i];
		int			lists = m->moved + m->resized + m->rotated + m->modified;

		at_least += (Size) lists * m->fb.typelen;
		if (m->retyped)
			at_least += (Size) m->fa.typelen + m->fb.typelen;
		extra += 320 + (Size) m->nattrs * 64;
	}
	extra += (Size) (d->nadded + d->nremoved) * 64;
	extra += (Size) d->matching.npairs * 128 + (Size) d->matching.nambiguous * 48;
	*estimate = at_least + extra;
	return at_least;
}

/* The diff's jsonb, allocated in ctx; the scratch work in the current context. */
static Jsonb *
diff_to_jsonb(BtDiff *d, MemoryContext ctx)
{
	BtJsonbWriter w;
	MemoryContext old = MemoryContextSwitchTo(ctx);
	Size		estimate;
	Size		at_least = diff_size_bounds(d, &estimate);

	bt_jw_init(&w, at_least, estimate);
	MemoryContextSwitchTo(old);
	bt_jw_begin_object(&w, diff_keys, lengthof(diff_keys));
	write_objects(&w, d->added, d->nadded);
	write_matches(&w, d, d->nmoved, offsetof(BtMatch, moved), write_moved);
	write_shift(&w, d);
	write_counts(&w, d);
	write_objects(&w, d->removed, d->nremoved);
	write_matches(&w, d, d->nresized, offsetof(BtMatch, resized), write_resized);
	write_matches(&w, d, d->nretyped, offsetof(BtMatch, retyped), write_retyped);
	write_matches(&w, d, d->nrotated, offsetof(BtMatch, rotated), write_rotated);
	bt_jw_cstring(&w, bt_summary(d));
	write_matches(&w, d, d->nmodified, offsetof(BtMatch, modified), write_modified);
	write_ambiguous(&w, &d->matching);
	write_reidentified(&w, &d->matching);
	bt_jw_end(&w);
	return bt_jw_finish(&w);
}

static double
tolerance_arg(FunctionCallInfo fcinfo, int argno, double guc, const char *name)
{
	double		t;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return guc;
	t = PG_GETARG_FLOAT8(argno);
	/* the setting's range: past it a tolerance means nothing, and overflows */
	if (!(t >= 0 && t <= BT_TOLERANCE_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a number from 0 to %g", name, BT_TOLERANCE_MAX),
				 errdetail("The value given was %s.", double_to_shortest_decimal(t))));
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
	BtDiff		d;
	bool		ok;
	Jsonb	   *result;

	scratch = AllocSetContextCreate(CurrentMemoryContext, "buildtrace diff",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	ok = bt_diff_drawings(ja, jb, p, collect, &a, &b, &d);
	if (ok)
		result = diff_to_jsonb(&d, old);
	else
	{
		JsonbValue *res = problems_to_jsonb(problems);

		MemoryContextSwitchTo(old);
		result = JsonbValueToJsonb(res);
	}
	MemoryContextSwitchTo(old);
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
	Jsonb	   *ja;
	Jsonb	   *jb;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	bt_diff_params_from_settings(&p);
	p.move_tol = tolerance_arg(fcinfo, 2, bt_move_tolerance, "move_tolerance");
	p.size_tol = tolerance_arg(fcinfo, 3, bt_size_tolerance, "size_tolerance");
	/* match_geometry: an argument since 0.2.0 (0.1.0's SQL passes four) */
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		p.match_geometry = PG_GETARG_BOOL(4);

	/*
	 * Decompressing a large version takes a while and cannot be cancelled;
	 * between the two, a cancel need not wait for the second.
	 */
	ja = PG_GETARG_JSONB_P(0);
	CHECK_FOR_INTERRUPTS();
	jb = PG_GETARG_JSONB_P(1);
	if (!try)
		PG_RETURN_JSONB_P(bt_diff_versions(ja, jb, &p, NULL));
	bt_diff_versions(ja, jb, &p, &outcome);
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
