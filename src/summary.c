/*-------------------------------------------------------------------------
 *
 * summary.c
 *	  The plain-English summary of a diff, for a site manager.
 *
 * A whole-drawing shift comes first, then objects found again under new
 * ids and objects that could not be told apart, then the kinds in the
 * order added, removed, moved, resized, retyped, modified, rotated.  Within
 * a kind, one sentence per group (object type, plus the compass direction
 * for moves and the new type for retypes), groups in byte order of their
 * names, objects in id order, each named by its label (the first of
 * buildtrace.label_keys that holds a string with visible text or a number) or
 * else its id:
 *
 *	 "1 window added (W1). 2 doors moved about 2 units east (D1, D4)."
 *
 * Objects of several types that moved by one vector make one sentence
 * ("1 wall and 2 doors moved about 0.5 m north together (…)."), and a
 * change of the label alone reads as a rename.  Past
 * buildtrace.summary_max_sentences sentences, a headline with the counts
 * comes first, then the largest groups, then how many groups were left out.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "guc.h"
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

/* How a retype reads (a SumItem's sub). */
enum
{
	RETYPE_NAMED,				/* "became a window" */
	RETYPE_RESPELLED,			/* only blanks or underscores differ */
	RETYPE_PAST_CUT				/* differs past what a type shows */
};

typedef struct SumItem
{
	char	   *type;			/* display type */
	char	   *type2;			/* retyped: the new type; else "" */
	int			sub;			/* moved: direction; modified: content?;
								 * retyped: RETYPE_* */
	int			seq;			/* id order */
	double		amount;			/* moved: distance; rotated: degrees */
	double		rounded;		/* moved: the distance as written */
	BtObject   *obj;			/* named by its label or id when written */
} SumItem;

/* One sentence, with the number of objects it speaks of. */
typedef struct Sentence
{
	char	   *text;
	int			objects;
	int			seq;			/* order of writing */
} Sentence;

typedef struct Summary
{
	Sentence   *s;
	int			n;
	int			max;
} Summary;

static void
add_sentence(Summary *sum, char *text, int objects)
{
	if (sum->n == sum->max)
	{
		sum->max = Max(sum->max * 2, 16);
		sum->s = sum->s ? repalloc(sum->s, sizeof(Sentence) * sum->max) :
			palloc(sizeof(Sentence) * sum->max);
	}
	sum->s[sum->n].text = text;

	sum->s[sum->n].objects = objects;
	sum->s[sum->n].seq = sum->n;
	sum->n++;
}

static int
cmp_items(const void *pa, const void *pb)
{
	const SumItem *a = pa;
	const SumItem *b = pb;
	int			r = a->type == b->type ? 0 : strcmp(a->type, b->type);

	if (r == 0 && a->type2 != b->type2)
		r = strcmp(a->type2, b->type2);
	if (r == 0)
		r = (a->sub > b->sub) - (a->sub < b->sub);
	if (r == 0)
		r = (a->seq > b->seq) - (a->seq < b->seq);
	return r;
}

/*
 * The sorts of items are specialised (sort_template.h), their comparisons
 * inlined: a heavy revision sorts one item per changed object.  Each
 * checks for interrupts as it goes.
 */
#define ST_SORT sort_items_by_group
#define ST_ELEMENT_TYPE SumItem
#define ST_COMPARE(a, b) cmp_items(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

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
 * (stairs, columns) is taken to be plural already.  Endings are matched
 * in either case, and a word ending in a capital gets capitals: BOXES.
 * A word cut short (ending in the ellipsis) is left as it is.
 */
static char *
plural(const char *w)
{
	size_t		n = strlen(w);
	char	   *lower;
	bool		caps;

	if (n == 0 || ends_with(w, BT_ELLIPSIS))
		return pstrdup(w);
	lower = pstrdup(w);
	for (char *c = lower; *c; c++)
		*c = pg_ascii_tolower((unsigned char) *c);
	caps = w[n - 1] >= 'A' && w[n - 1] <= 'Z';
	if (ends_with(lower, "ss") || ends_with(lower, "x") || ends_with(lower, "z") ||
		ends_with(lower, "ch") || ends_with(lower, "sh"))
		return psprintf("%s%s", w, caps ? "ES" : "es");
	if (ends_with(lower, "s"))
		return pstrdup(w);
	if (n >= 2 && lower[n - 1] == 'y' && strchr("aeiou", lower[n - 2]) == NULL)
		return psprintf("%.*s%s", (int) n - 1, w, caps ? "IES" : "ies");
	return psprintf("%s%s", w, caps ? "S" : "s");
}

/*
 * Whether w starts with a vowel letter: ASCII, or in a UTF-8 database one of
 * Latin-1's accented vowels or a ligature of them (Éclair, Œil), which
 * English writes after "an" as it writes their plain letters.
 */
static bool
starts_with_vowel(const char *w)
{
	unsigned char c0 = (unsigned char) w[0];
	unsigned char c1;

	if (c0 != '\0' && strchr("aeiouAEIOU", c0))
		return true;
	if (GetDatabaseEncoding() != PG_UTF8 || c0 < 0xC3 || c0 > 0xC5)
		return false;
	c1 = (unsigned char) w[1];
	if (c0 == 0xC5)				/* U+0152, U+0153: OE ligatures */
		return c1 == 0x92 || c1 == 0x93;
	if (c0 != 0xC3 || c1 < 0x80 || c1 > 0xBF)
		return false;

	/*
	 * U+00C0..U+00FF, capitals and small letters 0x20 apart: A-grave to AE,
	 * E-grave to I-diaeresis, O-grave to O-diaeresis, O-stroke to
	 * U-diaeresis; not C-cedilla, Eth, N-tilde, the signs, Y-acute, Thorn or
	 * sharp s.
	 */
	c1 &= 0x1F;
	return c1 <= 0x06 || (c1 >= 0x08 && c1 <= 0x0F) ||
		(c1 >= 0x12 && c1 <= 0x16) || (c1 >= 0x18 && c1 <= 0x1C);
}

static const char *
article(const char *w)
{
	return starts_with_vowel(w) ? "an" : "a";
}

/* "1 door", "2 doors" */
static void
append_count(StringInfo s, int n, const char *type)
{
	appendStringInfo(s, "%d %s", n, n == 1 ? type : plural(type));
}

/* Decimal places that keep two significant digits of an amount. */
static int
amount_decimals(double d)
{
	return (d > 0 && !isinf(d)) ? 1 - (int) floor(log10(d)) : 0;
}

/*
 * Whether an amount is past what a reader counts digits of (1.2e+20,
 * 1e-10): written in scientific notation, and rounded as written.
 */
static inline bool
amount_in_e_notation(double d)
{
	return d >= 1e15 || d < 1e-6;
}

/*
 * An amount rounded to two significant digits: the value format_amount
 * writes.  Equal rounded values are written alike, so moves are grouped by
 * this number without writing each one.
 */
static double
round_amount(double d)
{
	int			decimals = amount_decimals(d);
	double		scale;

	if (!(d > 0) || isinf(d))
		return d;
	if (amount_in_e_notation(d))
		return strtod(psprintf("%.2g", d), NULL);
	if (decimals <= 0)
		return rint(d / pow(10, -decimals)) * pow(10, -decimals);
	scale = pow(10, decimals);
	return rint(d * scale) / scale;
}

/* Two significant digits, no trailing zeros: 2, 0.5, 13, 120, 0.037. */
static char *
format_amount(double d)
{
	int			decimals = amount_decimals(d);
	char	   *s;
	char	   *end;

	if (!(d > 0) || isinf(d))
		return psprintf("%g", d);
	if (amount_in_e_notation(d))
		return psprintf("%.2g", d);
	if (decimals <= 0)
		return psprintf("%.0f", round_amount(d));
	s = psprintf("%.*f", decimals, round_amount(d));
	end = s + strlen(s) - 1;
	while (*end == '0')
		*end-- = '\0';
	if (*end == '.')
		*end = '\0';
	return s;
}

/*
 * "2 units", in buildtrace.units ("1 unit" only for "units"; an empty
 * setting leaves the number alone).
 */
char *
bt_length_words(double length)
{
	char	   *amount = format_amount(length);
	const char *units = bt_units;

	if (strcmp(units, "units") == 0 && strcmp(amount, "1") == 0)
		units = "unit";
	return psprintf("%s%s%s", amount, *units ? " " : "", units);
}

/* "about 2 units east" */
char *
bt_distance_words(double distance, int direction)
{
	return psprintf("about %s %s", bt_length_words(distance),
					bt_direction_names[direction]);
}

static void
append_names(StringInfo s, SumItem *items, int n)
{
	appendStringInfoString(s, " (");
	for (int i = 0; i < n && i < BT_SUMMARY_MAX_IDS; i++)
		appendStringInfo(s, "%s%s", i ? ", " : "", bt_object_name(items[i].obj));
	if (n > BT_SUMMARY_MAX_IDS)
		appendStringInfo(s, " and %d more", n - BT_SUMMARY_MAX_IDS);
	appendStringInfoString(s, ").");
}

static double
mean_amount(SumItem *items, int n)
{
	double		total = 0;

	for (int i = 0; i < n; i++)
		total += items[i].amount;
	return total / n;
}

/*
 * The text built in s, kept at its length (a drawing of many types has as
 * many sentences, and s was given a kilobyte).
 */
static char *
sentence_of(StringInfo s)
{
	char	   *text = pstrdup(s->data);

	pfree(s->data);
	return text;
}

/* One sentence for a group of n items of the same kind and group. */
static void
add_group(Summary *sum, SumKind kind, SumItem *items, int n)
{
	StringInfoData s;
	char	   *words;

	initStringInfo(&s);
	append_count(&s, n, items[0].type);
	switch (kind)
	{
		case SK_ADDED:
			appendStringInfoString(&s, " added");
			break;
		case SK_REMOVED:
			appendStringInfoString(&s, " removed");
			break;
		case SK_MOVED:
			appendStringInfo(&s, " moved %s", bt_distance_words(mean_amount(items, n),
																items[0].sub));
			break;
		case SK_RESIZED:
			appendStringInfoString(&s, " resized");
			break;
		case SK_RETYPED:
			words = items[0].type2;
			/* "door" to "door " or "curtain_wall" to "curtain wall" */
			if (items[0].sub == RETYPE_RESPELLED)
				appendStringInfoString(&s, n == 1 ? " had its type respelled" :
									   " had their types respelled");
			/* the two read the same as far as shown, or one is absent */
			else if (items[0].sub == RETYPE_PAST_CUT)
				appendStringInfoString(&s, n == 1 ? " changed its type" :
									   " changed their types");
			else if (n == 1)
				appendStringInfo(&s, " became %s %s", article(words), words);
			else
				appendStringInfo(&s, " became %s", plural(words));
			break;
		case SK_MODIFIED:
			appendStringInfoString(&s, items[0].sub ? " changed content" :
								   " changed attributes");
			break;
		case SK_ROTATED:
			appendStringInfo(&s, " rotated %s" BT_DEGREE, format_amount(mean_amount(items, n)));
			break;
	}
	append_names(&s, items, n);
	add_sentence(sum, sentence_of(&s), n);
}

/* Sort the items of one kind into groups and write a sentence per group. */
static void
add_kind(Summary *sum, SumKind kind, SumItem *items, int n)
{
	int			start = 0;

	sort_items_by_group(items, n);
	for (int i = 1; i <= n; i++)
	{
		if (i < n && strcmp(items[i].type, items[start].type) == 0 &&
			strcmp(items[i].type2, items[start].type2) == 0 &&
			items[i].sub == items[start].sub)
			continue;
		add_group(sum, kind, items + start, i - start);
		start = i;
	}
}

/* ---------- names ---------- */

/* Whether s has a character other than a blank (bt_blank_len). */
static bool
has_visible_text(const char *s, int len)
{
	for (int i = 0, gap; i < len; i += gap)
	{
		if ((gap = bt_blank_len(s + i, len - i)) == 0)
			return true;
	}
	return false;
}

/*
 * Whether a label value names its object: only a string with visible text
 * or a number does (null, "", "  ", true, objects and arrays are passed
 * over).
 */
static bool
names_object(JsonbValue *v)
{
	return (v->type == jbvString && has_visible_text(v->val.string.val, v->val.string.len)) ||
		v->type == jbvNumeric;
}

/* The text of a label value that names its object. */
static char *
label_text(JsonbValue *v)
{
	char	   *n;

	if (v->type == jbvString)
		return bt_display_text(v->val.string.val, v->val.string.len);
	n = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return bt_clip_text(n, strlen(n));
}

/*
 * The first of buildtrace.label_keys whose value in o names it, or NULL;
 * *label, unless label is NULL, gets that name.  A key present with a
 * value that names nothing ({"name": null}) gives way to the next key, as
 * if it were absent.
 */
static const BtLabelKey *
label_key(BtObject *o, char **label)
{
	if (label)
		*label = NULL;
	if (o->is_hash)
		return NULL;
	for (int i = 0; i < bt_label_key_list->nkeys; i++)
	{
		const BtLabelKey *key = &bt_label_key_list->keys[i];
		JsonbValue	found;
		JsonbValue *value = getKeyJsonValueFromContainer(o->obj, key->s, key->len, &found);

		if (value && names_object(value))
		{
			if (label)
				*label = label_text(value);
			return key;
		}
	}
	return NULL;
}

const char *
bt_object_name(BtObject *o)
{
	char	   *label;

	label_key(o, &label);
	return label ? label : bt_display_id(o->id, o->idlen);
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
	it.rounded = 0;
	it.obj = o;
	return it;
}

/* ---------- sentences about the whole drawing ---------- */

/* "The whole drawing moved about 10 units east." */
static void
add_shift(Summary *sum, BtDiff *d)
{
	add_sentence(sum, psprintf("The whole drawing moved %s.",
							   bt_distance_words(hypot(d->shift_dx, d->shift_dy),
												 bt_compass(d->shift_dx, d->shift_dy))),
				 d->nshifted);
}

/* "89 objects kept their geometry under new ids." and the like. */
static void
add_matching(Summary *sum, BtMatching *mt)
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
		add_sentence(sum, psprintf(kept == 1 ? "%d object kept its geometry under a new id." :
								   "%d objects kept their geometry under new ids.", kept), kept);
	if (near > 0)
		add_sentence(sum, psprintf(near == 1 ? "%d object was found again nearby under a new id." :
								   "%d objects were found again nearby under new ids.", near), near);
	if (mt->nambiguous > 0)
		add_sentence(sum, psprintf(mt->nambiguous == 1 ?
								   "%d object could not be told apart from others of its type." :
								   "%d objects could not be told apart from others of their type.",
								   mt->nambiguous), mt->nambiguous);
}

/* ---------- moves of several types together ---------- */

static int
cmp_moves(const void *pa, const void *pb)
{
	const SumItem *a = pa;
	const SumItem *b = pb;
	int			r = (a->sub > b->sub) - (a->sub < b->sub);

	if (r == 0)
		r = (a->rounded > b->rounded) - (a->rounded < b->rounded);
	if (r == 0)
		r = (a->seq > b->seq) - (a->seq < b->seq);
	return r;
}

#define ST_SORT sort_items_by_move
#define ST_ELEMENT_TYPE SumItem
#define ST_COMPARE(a, b) cmp_moves(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

static inline uint32
type_pointer_hash(const char *type)
{
	uint64		v = (uint64) (uintptr_t) type;

	return hash_combine(murmurhash32((uint32) v), murmurhash32((uint32) (v >> 32)));
}

/*
 * A display type and how many of a group's items are of it (count_types;
 * a name can have several pointers).
 */
typedef struct TypeCount
{
	const char *type;
	int			count;
	char		status;			/* simplehash's */
} TypeCount;

#define SH_PREFIX typecounts
#define SH_ELEMENT_TYPE TypeCount
#define SH_KEY_TYPE const char *
#define SH_KEY type
#define SH_HASH_KEY(tb, k) type_pointer_hash(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static int
cmp_type_count(const TypeCount *a, const TypeCount *b)
{
	return a->type == b->type ? 0 : strcmp(a->type, b->type);
}

#define ST_SORT sort_type_counts
#define ST_ELEMENT_TYPE TypeCount
#define ST_COMPARE(a, b) cmp_type_count(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The types of n items with their counts, in name order; returns how many.
 * Items are counted by type pointer, then the distinct pointers are sorted
 * by name: a heavy revision moves tens of thousands of objects together,
 * mostly of a handful of types, and sorting the items themselves by name
 * would cost a comparison of names for each of n log n steps.  A type has
 * one name, and so one pointer (see TypeNames); but types that differ can
 * have one display name (an absent type and "", long names cut alike),
 * whose counts are added up here.
 */
static int
count_types(SumItem *items, int n, TypeCount **out)
{
	typecounts_hash *counts = typecounts_create(CurrentMemoryContext, 16, NULL);
	typecounts_iterator it;
	TypeCount  *last = NULL;
	TypeCount  *tc;
	TypeCount  *types;
	int			ntypes = 0;

	for (int i = 0; i < n; i++)
	{
		bool		found;

		if ((i & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (last == NULL || last->type != items[i].type)
		{
			last = typecounts_insert(counts, items[i].type, &found);
			if (!found)
				last->count = 0;
		}
		last->count++;
	}
	types = palloc(sizeof(TypeCount) * counts->members);
	typecounts_start_iterate(counts, &it);
	while ((tc = typecounts_iterate(counts, &it)) != NULL)
		types[ntypes++] = *tc;
	typecounts_destroy(counts);
	sort_type_counts(types, ntypes);

	/* one name can have several pointers: those are one type */
	n = 0;
	for (int i = 0; i < ntypes; i++)
	{
		if (n > 0 && strcmp(types[i].type, types[n - 1].type) == 0)
			types[n - 1].count += types[i].count;
		else
			types[n++] = types[i];
	}
	*out = types;
	return n;
}

/*
 * "1 wall and 2 doors moved about 0.5 m north together (…)." for n items
 * of the ntypes types counted in types.
 */
static void
add_together(Summary *sum, SumItem *items, int n, TypeCount *types, int ntypes)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < ntypes; i++)
	{
		if (i > 0)
			appendStringInfoString(&s, i == ntypes - 1 ? " and " : ", ");
		append_count(&s, types[i].count, types[i].type);
	}
	appendStringInfo(&s, " moved %s together", bt_distance_words(items[0].amount, items[0].sub));
	append_names(&s, items, n);
	add_sentence(sum, sentence_of(&s), n);
}

/*
 * Objects of more than one type that moved by one vector (the same
 * direction and rounded distance) make one sentence; the others are left
 * in items for the sentences per type.  Returns how many are left.
 */
static int
add_moves_together(Summary *sum, SumItem *items, int n)
{
	int			left = 0,
				start = 0;

	for (int i = 0; i < n; i++)
	{
		/* objects moved together come in runs of one distance */
		if (i > 0 && items[i].amount == items[i - 1].amount)
			items[i].rounded = items[i - 1].rounded;
		else
			items[i].rounded = round_amount(items[i].amount);
	}
	sort_items_by_move(items, n);
	for (int i = 1; i <= n; i++)
	{
		int			ntypes = 1;
		TypeCount  *types = NULL;

		if (i < n && items[i].sub == items[start].sub &&
			items[i].rounded == items[start].rounded)
			continue;
		/* most groups are of one type, one pointer: counted without a table */
		for (int k = start + 1; k < i; k++)
		{
			if (items[k].type != items[start].type)
			{
				ntypes = count_types(items + start, i - start, &types);
				break;
			}
		}
		if (ntypes > 1)
			add_together(sum, items + start, i - start, types, ntypes);
		else
			for (int k = start; k < i; k++)
				items[left++] = items[k];
		if (types)
			pfree(types);
		start = i;
	}
	return left;
}

/* ---------- renames ---------- */

/* "Room 5 renamed to Kueche." when only the label changed; else false. */
static bool
add_rename(Summary *sum, BtMatch *m)
{
	BtAttrChange *ch = m->nattrs == 1 ? &m->attrs[0] : NULL;
	const BtLabelKey *key;
	char	   *type;
	char	   *from;
	char	   *to;
	size_t		typelen;

	if (m->nattrs != 1 || m->content || m->moved || m->resized || m->retyped ||
		m->rotated || !ch->has_from || !ch->has_to || !names_object(&ch->from))
		return false;
	/* the key must be the one that names the object, as its new value does */
	key = label_key(m->b, NULL);
	if (key == NULL || key->len != ch->key.val.string.len ||
		memcmp(key->s, ch->key.val.string.val, key->len) != 0)
		return false;
	from = label_text(&ch->from);
	to = label_text(&ch->to);
	/* "Room 5" to "Room  5 " changed attributes: it reads the same */
	if (strcmp(from, to) == 0)
		return false;
	type = bt_type_name(&m->fb);
	type[0] = pg_toupper((unsigned char) type[0]);
	/* a label that starts with its type ("Room 5") is not given it twice */
	typelen = strlen(type);
	if (pg_strncasecmp(from, type, typelen) == 0 &&
		(from[typelen] == ' ' || from[typelen] == '\0'))
		type = "";
	add_sentence(sum, psprintf("%s%s%s renamed to %s.", type, *type ? " " : "", from, to), 1);
	return true;
}

/* ---------- the changed objects, kind by kind ---------- */

static bool
in_kind(BtMatch *m, SumKind k)
{
	switch (k)
	{
		case SK_MOVED:
			return m->moved;
		case SK_RESIZED:
			return m->resized;
		case SK_RETYPED:
			return m->retyped;
		case SK_MODIFIED:
			return m->modified;
		case SK_ROTATED:
			return m->rotated;
		default:
			return false;
	}
}

/* How many changed objects are of kind k. */
static int
kind_count(BtDiff *d, SumKind k)
{
	switch (k)
	{
		case SK_MOVED:
			return d->nmoved;
		case SK_RESIZED:
			return d->nresized;
		case SK_RETYPED:
			return d->nretyped;
		case SK_MODIFIED:
			return d->nmodified;
		case SK_ROTATED:
			return d->nrotated;
		default:
			return 0;
	}
}

/* An interned type and its display name, in TypeNames' table. */
typedef struct TypeName
{
	const char *type;
	char	   *name;
	char		status;			/* simplehash's */
} TypeName;

#define SH_PREFIX typenames
#define SH_ELEMENT_TYPE TypeName
#define SH_KEY_TYPE const char *
#define SH_KEY type
#define SH_HASH_KEY(tb, k) type_pointer_hash(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * The display name of each type, by interned pointer (typeintern.h): equal
 * types are one pointer, so the items of one type share one name, and the
 * sorts and counts of items compare names by pointer before their text.
 */
typedef struct TypeNames
{
	typenames_hash *names;
	TypeName   *last;			/* objects in id order often repeat a type */
	BtTypeIntern *types;		/* the diff's, for the types not yet interned */
} TypeNames;

/* The display name of f's type, which is interned in tn->types. */
static char *
type_name(TypeNames *tn, BtFields *f)
{
	bool		found;

	if (tn->last == NULL || tn->last->type != f->type)
	{
		tn->last = typenames_insert(tn->names, f->type, &found);
		if (!found)
			tn->last->name = bt_type_name(f);
	}
	return tn->last->name;
}

/*
 * The display name of an added or removed object's type, which no earlier
 * step has read: its fields are read here, the text interned.
 */
static char *
object_type_name(TypeNames *tn, BtObject *o)
{
	BtFields	f;

	bt_object_fields(o, &f);
	if (f.type)
		f.type = bt_type_intern(tn->types, f.type, f.typelen);
	return type_name(tn, &f);
}

/* The items of kind k among the changed objects; returns how many. */
static int
changed_items(Summary *sum, BtDiff *d, SumKind k, SumItem *items,
			  TypeNames *names)
{
	int			n = 0;

	/* the list of a large diff is far larger than the cache: stop early */
	for (int i = 0, left = kind_count(d, k); i < d->nchanged && left > 0; i++)
	{
		BtMatch    *m = &d->changed[i];

		if ((i & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!in_kind(m, k))
			continue;
		left--;
		if (k == SK_MODIFIED && add_rename(sum, m))
			continue;
		items[n] = item_for(m->b, type_name(names, &m->fb), i);
		if (k == SK_MOVED)
		{
			items[n].sub = m->direction;
			items[n].amount = m->distance;
		}
		else if (k == SK_RETYPED)
		{
			items[n].type = type_name(names, &m->fa);
			items[n].type2 = type_name(names, &m->fb);
			items[n].sub = bt_types_read_alike(&m->fa, &m->fb) ? RETYPE_RESPELLED :
				strcmp(items[n].type, items[n].type2) == 0 ? RETYPE_PAST_CUT : RETYPE_NAMED;
		}
		else if (k == SK_MODIFIED)
			items[n].sub = m->content;
		else if (k == SK_ROTATED)
			items[n].amount = fabs(m->rotation_delta);
		n++;
	}
	return n;
}

/*
 * The items of the added or removed objects.  Their objects have not been
 * read since the versions were: fetch them some steps ahead, the entry a
 * stage before the object it points to.
 */
static int
object_items(BtObject **objs, int nobjs, SumItem *items, TypeNames *names)
{
	for (int n = 0; n < nobjs; n++)
	{
		if ((n & 0xFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (n + 2 * BT_PREFETCH_STAGE < nobjs)
			bt_prefetch(objs[n + 2 * BT_PREFETCH_STAGE]);
		if (n + BT_PREFETCH_STAGE < nobjs)
			bt_prefetch_object(objs[n + BT_PREFETCH_STAGE]);
		items[n] = item_for(objs[n], object_type_name(names, objs[n]), n);
	}
	return nobjs;
}

static void
add_changes(Summary *sum, BtDiff *d)
{
	int			nmax = Max(Max(d->nadded, d->nremoved), d->nchanged);
	SumItem    *items = palloc_huge(sizeof(SumItem) * Max(nmax, 1));
	TypeNames	names = {typenames_create(CurrentMemoryContext, 16, NULL), NULL,
	&d->types};
	int			n;

	n = object_items(d->added, d->nadded, items, &names);
	add_kind(sum, SK_ADDED, items, n);
	n = object_items(d->removed, d->nremoved, items, &names);
	add_kind(sum, SK_REMOVED, items, n);
	for (SumKind k = SK_MOVED; k <= SK_ROTATED; k++)
	{
		CHECK_FOR_INTERRUPTS();
		n = changed_items(sum, d, k, items, &names);
		if (k == SK_MOVED)
			n = add_moves_together(sum, items, n);
		add_kind(sum, k, items, n);
	}
	pfree(items);
}

/* ---------- bounding ---------- */

static int
cmp_larger(const void *pa, const void *pb)
{
	const Sentence *a = pa;
	const Sentence *b = pb;

	if (a->objects != b->objects)
		return a->objects > b->objects ? -1 : 1;
	return a->seq - b->seq;
}

static int
cmp_seq(const void *pa, const void *pb)
{
	return ((const Sentence *) pa)->seq - ((const Sentence *) pb)->seq;
}

/* "Changes: 12 added, 5 removed, 14 moved." */
static char *
headline(BtDiff *d)
{
	static const char *const names[] = {"added", "removed", "moved", "resized",
	"retyped", "modified", "rotated"};
	int			counts[] = {d->nadded, d->nremoved, d->nmoved, d->nresized,
	d->nretyped, d->nmodified, d->nrotated};
	StringInfoData s;
	int			written = 0;

	initStringInfo(&s);
	appendStringInfoString(&s, "Changes:");
	for (int k = 0; k < (int) lengthof(counts); k++)
		if (counts[k] > 0)
			appendStringInfo(&s, "%s %d %s", written++ ? "," : "", counts[k], names[k]);
	appendStringInfoChar(&s, '.');
	return s.data;
}

/*
 * All sentences, or, past the limit, the headline, the largest groups in
 * their usual order and how many groups were left out.
 */
static char *
assemble(Summary *sum, BtDiff *d)
{
	StringInfoData s;
	int			shown = sum->n;
	int			limit = Max(bt_summary_max_sentences, 3);

	initStringInfo(&s);
	if (sum->n > limit)
	{
		shown = limit - 2;
		qsort(sum->s, sum->n, sizeof(Sentence), cmp_larger);
		qsort(sum->s, shown, sizeof(Sentence), cmp_seq);
		appendStringInfoString(&s, headline(d));
	}
	for (int i = 0; i < shown; i++)
		appendStringInfo(&s, "%s%s", s.len ? " " : "", sum->s[i].text);
	if (shown < sum->n)
		appendStringInfo(&s, " " BT_ELLIPSIS " and %d more groups of changes.", sum->n - shown);
	return s.data;
}

char *
bt_summary(BtDiff *d)
{
	Summary		sum = {NULL, 0, 0};

	if (d->has_shift)
		add_shift(&sum, d);
	add_matching(&sum, &d->matching);
	add_changes(&sum, d);
	if (sum.n == 0)
		return pstrdup("No changes.");
	return assemble(&sum, d);
}
