/*-------------------------------------------------------------------------
 *
 * summary.c
 *	  The plain-English summary of a diff, for a site manager.
 *
 * A whole-drawing shift comes first, then objects found again under new
 * ids, then the kinds in the order added, removed, moved, resized,
 * retyped, modified, rotated, and last the objects that could not be told
 * apart.  Within a kind, one sentence per group (object type, plus the
 * compass direction for moves and the new type for retypes), groups in
 * byte order of their names, ids in id order:
 *
 *	 "1 window added (W1). 2 doors moved about 2 units east (D1, D4)."
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"

#include "summary.h"

typedef enum SumKind
{
	SK_ADDED,
	SK_REMOVED,
	SK_MOVED,
	SK_RESIZED,
	SK_RETYPED,
	SK_MODIFIED,
	SK_ROTATED
} SumKind;

typedef struct SumItem
{
	char	   *type;			/* display type */
	char	   *type2;			/* retyped: the new type; else "" */
	int			sub;			/* moved: direction; modified: content? */
	int			seq;			/* id order */
	double		amount;			/* moved: distance */
	BtObject   *obj;
} SumItem;

static int
cmp_items(const void *pa, const void *pb)
{
	const SumItem *a = pa;
	const SumItem *b = pb;
	int			r = strcmp(a->type, b->type);

	if (r == 0)
		r = strcmp(a->type2, b->type2);
	if (r == 0)
		r = (a->sub > b->sub) - (a->sub < b->sub);
	if (r == 0)
		r = (a->seq > b->seq) - (a->seq < b->seq);
	return r;
}

static bool
ends_with(const char *w, const char *suffix)
{
	size_t		lw = strlen(w),
				ls = strlen(suffix);

	return lw >= ls && strcmp(w + lw - ls, suffix) == 0;
}

/*
 * Simple English plurals: class -> classes, box -> boxes, gallery ->
 * galleries, storey -> storeys; a word already ending in a single "s"
 * (stairs, columns) is taken to be plural already.
 */
static char *
plural(const char *w)
{
	size_t		n = strlen(w);

	if (n == 0)
		return pstrdup(w);
	if (ends_with(w, "ss") || ends_with(w, "x") || ends_with(w, "z") ||
		ends_with(w, "ch") || ends_with(w, "sh"))
		return psprintf("%ses", w);
	if (ends_with(w, "s"))
		return pstrdup(w);
	if (n >= 2 && w[n - 1] == 'y' && strchr("aeiouAEIOU", w[n - 2]) == NULL)
		return psprintf("%.*sies", (int) n - 1, w);
	return psprintf("%ss", w);
}

/* A type as words: curtain_wall -> curtain wall. */
static char *
type_words(const char *type)
{
	char	   *w = pstrdup(type);

	for (char *c = w; *c; c++)
		if (*c == '_')
			*c = ' ';
	return w;
}

static const char *
article(const char *w)
{
	return strchr("aeiouAEIOU", w[0]) && w[0] ? "an" : "a";
}

/* "1 door", "2 doors" */
static void
append_count(StringInfo s, int n, const char *type)
{
	char	   *words = type_words(type);

	appendStringInfo(s, "%d %s", n, n == 1 ? words : plural(words));
}

/* Two significant digits, no trailing zeros: 2, 0.5, 13, 120, 0.037. */
static char *
format_amount(double d)
{
	int			decimals;
	double		scale;
	char	   *s;
	char	   *end;

	if (!(d > 0) || isinf(d))
		return psprintf("%g", d);
	decimals = 1 - (int) floor(log10(d));
	if (decimals <= 0)
		return psprintf("%.0f", rint(d / pow(10, -decimals)) * pow(10, -decimals));
	scale = pow(10, decimals);
	s = psprintf("%.*f", decimals, rint(d * scale) / scale);
	end = s + strlen(s) - 1;
	while (*end == '0')
		*end-- = '\0';
	if (*end == '.')
		*end = '\0';
	return s;
}

static void
append_ids(StringInfo s, SumItem *items, int n)
{
	appendStringInfoString(s, " (");
	for (int i = 0; i < n && i < BT_SUMMARY_MAX_IDS; i++)
		appendStringInfo(s, "%s%.*s", i ? ", " : "",
						 items[i].obj->idlen, items[i].obj->id);
	if (n > BT_SUMMARY_MAX_IDS)
		appendStringInfo(s, " and %d more", n - BT_SUMMARY_MAX_IDS);
	appendStringInfoString(s, ").");
}

/* One sentence for a group of n items of the same kind and group. */
static void
append_sentence(StringInfo s, SumKind kind, SumItem *items, int n)
{
	double		total = 0;
	char	   *amount;

	if (s->len > 0)
		appendStringInfoChar(s, ' ');
	append_count(s, n, items[0].type);
	switch (kind)
	{
		case SK_ADDED:
			appendStringInfoString(s, " added");
			break;
		case SK_REMOVED:
			appendStringInfoString(s, " removed");
			break;
		case SK_MOVED:
			for (int i = 0; i < n; i++)
				total += items[i].amount;
			amount = format_amount(total / n);
			appendStringInfo(s, " moved about %s %s %s", amount,
							 strcmp(amount, "1") == 0 ? "unit" : "units",
							 bt_direction_names[items[0].sub]);
			break;
		case SK_RESIZED:
			appendStringInfoString(s, " resized");
			break;
		case SK_RETYPED:
			amount = type_words(items[0].type2);
			if (n == 1)
				appendStringInfo(s, " became %s %s", article(amount), amount);
			else
				appendStringInfo(s, " became %s", plural(amount));
			break;
		case SK_MODIFIED:
			appendStringInfoString(s, items[0].sub ? " changed content" :
								   " changed attributes");
			break;
		case SK_ROTATED:
			for (int i = 0; i < n; i++)
				total += items[i].amount;
			appendStringInfo(s, " rotated about %s°", format_amount(total / n));
			break;
	}
	append_ids(s, items, n);
}

/* Sort the items of one kind into groups and write a sentence per group. */
static void
append_kind(StringInfo s, SumKind kind, SumItem *items, int n)
{
	int			start = 0;

	qsort(items, n, sizeof(SumItem), cmp_items);
	for (int i = 1; i <= n; i++)
	{
		if (i < n && strcmp(items[i].type, items[start].type) == 0 &&
			strcmp(items[i].type2, items[start].type2) == 0 &&
			items[i].sub == items[start].sub)
			continue;
		append_sentence(s, kind, items + start, i - start);
		start = i;
	}
}

static SumItem
item_for(BtObject *o, char *type, int seq)
{
	SumItem		it;

	it.type = type;
	it.type2 = "";
	it.sub = 0;
	it.seq = seq;
	it.amount = 0;
	it.obj = o;
	return it;
}

/* "The whole drawing moved about 10 units east." */
static void
append_shift(StringInfo s, BtDiff *d)
{
	char	   *amount = format_amount(hypot(d->shift_dx, d->shift_dy));

	appendStringInfo(s, "The whole drawing moved about %s %s %s.", amount,
					 strcmp(amount, "1") == 0 ? "unit" : "units",
					 bt_direction_names[bt_compass(d->shift_dx, d->shift_dy)]);
}

/* "89 objects kept their geometry under new ids." and the like. */
static void
append_matching(StringInfo s, BtMatching *mt)
{
	int			kept = 0,
				near = 0;

	for (int i = 0; i < mt->npairs; i++)
	{
		if (mt->pairs[i].basis == BT_BASIS_NEAREST)
			near++;
		else
			kept++;
	}
	if (kept > 0)
		appendStringInfo(s, "%s%d %s kept %s geometry under new ids.", s->len ? " " : "",
						 kept, kept == 1 ? "object" : "objects", kept == 1 ? "its" : "their");
	if (near > 0)
		appendStringInfo(s, "%s%d %s found again nearby under new ids.", s->len ? " " : "",
						 near, near == 1 ? "object was" : "objects were");
}

static void
append_ambiguous(StringInfo s, BtMatching *mt)
{
	if (mt->nambiguous > 0)
		appendStringInfo(s, "%s%d objects could not be told apart from others of their type.",
						 s->len ? " " : "", mt->nambiguous);
}

char *
bt_summary(BtDiff *d)
{
	StringInfoData s;
	int			nmax = Max(Max(d->nadded, d->nremoved), d->nchanged);
	SumItem    *items = palloc_huge(sizeof(SumItem) * Max(nmax, 1));
	int			n;

	initStringInfo(&s);
	if (d->has_shift)
		append_shift(&s, d);
	append_matching(&s, &d->matching);
	for (n = 0; n < d->nadded; n++)
		items[n] = item_for(d->added[n], bt_object_type_name(d->added[n]), n);
	append_kind(&s, SK_ADDED, items, n);
	for (n = 0; n < d->nremoved; n++)
		items[n] = item_for(d->removed[n], bt_object_type_name(d->removed[n]), n);
	append_kind(&s, SK_REMOVED, items, n);

	for (SumKind k = SK_MOVED; k <= SK_ROTATED; k++)
	{
		n = 0;
		for (int i = 0; i < d->nchanged; i++)
		{
			BtMatch    *m = &d->changed[i];
			bool		in = k == SK_MOVED ? m->moved :
				k == SK_RESIZED ? m->resized :
				k == SK_RETYPED ? m->retyped :
				k == SK_MODIFIED ? m->modified : m->rotated;

			if (!in)
				continue;
			items[n] = item_for(m->b, bt_type_name(&m->fb), i);
			if (k == SK_MOVED)
			{
				items[n].sub = m->direction;
				items[n].amount = m->distance;
			}
			else if (k == SK_RETYPED)
			{
				items[n].type = bt_type_name(&m->fa);
				items[n].type2 = bt_type_name(&m->fb);
			}
			else if (k == SK_MODIFIED)
				items[n].sub = m->content;
			else if (k == SK_ROTATED)
				items[n].amount = fabs(m->rotation_delta);
			n++;
		}
		append_kind(&s, k, items, n);
	}
	append_ambiguous(&s, &d->matching);
	if (s.len == 0)
		appendStringInfoString(&s, "No changes.");
	return s.data;
}
