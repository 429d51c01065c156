/*-------------------------------------------------------------------------
 *
 * drawing.c
 *	  Reading and checking one drawing version.
 *
 * A version is an array of objects, a wrapper {"objects": [...]}, or a map
 * from id to a content hash (string) or to an attribute object.  The binary
 * jsonb is walked directly; nothing is converted to text.
 *
 * There is one checker.  Each problem goes through report(), which either
 * raises it (bt_diff) or records it and carries on (bt_validate,
 * bt_try_diff), so the two paths can never disagree on what is wrong or on
 * the wording.  Problems are found in element order, then duplicate ids in
 * id order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "drawing.h"
#include "jsonbuild.h"
#include "stored_numeric.h"

/* errmsg texts; errdetail says where and what. */
#define M_TOP		"drawing version is not a JSON array or object"
#define M_NOT_OBJ	"drawing object is not a JSON object"
#define M_MAP_VALUE "map value is neither a content hash nor an object"
#define M_MISSING	"drawing object lacks a required key"
#define M_NULL		"null value in drawing object"
#define M_NOT_NUM	"non-numeric value in drawing object"
#define M_NEGATIVE	"negative size in drawing object"
#define M_RANGE		"value out of range in drawing object"
#define M_BAD_ID	"invalid id in drawing object"
#define M_BAD_TYPE	"invalid type in drawing object"
#define M_ID_DIFFERS "id inside map value differs from its key"
#define M_DUPLICATE "duplicate id in drawing version"

/*
 * Problems of one version listed at most; the rest are counted.  A list of
 * millions (a million empty objects) would cost gigabytes and tell no more.
 */
#define MAX_LISTED_PROBLEMS 1000

typedef struct ReadState
{
	char		version;
	List	  **problems;		/* NULL: raise the first problem */
	int			nproblems;
	Numeric		zero;
	const BtDrawing *like;		/* valid earlier version (array form), or NULL */
	int			like_next;		/* its object expected next */
	int		   *like_taken;		/* per like object: the object taken from it,
								 * or read as its changed namesake; or -1 */
	bool		like_twice;		/* a like object was claimed twice */
	bool		like_lost;		/* the last object read was not where
								 * like_next expected it, and not looked for
								 * elsewhere */
} ReadState;

/* A number as a detail shows it: its digits, cut as long text is. */
static char *
numeric_text_clipped(Numeric n)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));

	return bt_clip_text(s, strlen(s));
}

static const char *
describe(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		case jbvArray:
			return "an array";
		case jbvObject:
			return "an object";
		default:
			return "an unsupported value";
	}
}

/*
 * Record or raise one problem.  index < 0 and id == NULL means the version
 * itself; index < 0 with an id means a map entry.
 */
static void
report(ReadState *st, int index, const char *id, int idlen, const char *key,
	   int sqlerrcode, const char *message, const char *what)
{
	StringInfoData d;
	const char *sep = "";
	char	   *shown_id;

	if (st->problems != NULL && st->nproblems >= MAX_LISTED_PROBLEMS)
	{
		st->nproblems++;
		return;
	}
	shown_id = id ? bt_clip_id(id, idlen) : NULL;
	initStringInfo(&d);
	if (st->version)
	{
		appendStringInfo(&d, "Version %c", st->version);
		sep = ", ";
	}
	if (index >= 0)
		appendStringInfo(&d, "%s%s %d", sep, *sep ? "element" : "Element", index);
	if (index >= 0 && id)
		appendStringInfo(&d, " (id \"%s\")", shown_id);
	else if (id)
		appendStringInfo(&d, "%s%s \"%s\"", sep, *sep ? "object" : "Object",
						 shown_id);
	if (index < 0 && id == NULL)
		appendStringInfo(&d, "%s %s", st->version ? "" : "The version", what);
	else
		appendStringInfo(&d, ": %s", what);

	if (st->problems == NULL)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg_internal("%s", message),
				 errdetail_internal("%s", d.data)));
	else
	{
		BtProblem  *p = palloc(sizeof(BtProblem));

		p->version = st->version;
		p->index = index;
		p->id = shown_id;
		p->key = key;
		p->sqlerrcode = sqlerrcode;
		p->message = pstrdup(message);
		p->detail = d.data;
		*st->problems = lappend(*st->problems, p);
		st->nproblems++;
	}
}

/* After the listed problems, one saying how many more were counted. */
static void
report_unlisted(ReadState *st)
{
	BtProblem  *p = palloc(sizeof(BtProblem));

	p->version = st->version;
	p->index = -1;
	p->id = NULL;
	p->key = NULL;
	p->sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
	p->message = pstrdup("too many problems in drawing version to list");
	if (st->version)
		p->detail = psprintf("Version %c has %d problems; the first %d are listed.",
							 st->version, st->nproblems, MAX_LISTED_PROBLEMS);
	else
		p->detail = psprintf("The version has %d problems; the first %d are listed.",
							 st->nproblems, MAX_LISTED_PROBLEMS);
	*st->problems = lappend(*st->problems, p);
}

static bool
get_key(JsonbContainer *obj, const char *key, JsonbValue *res)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), res) != NULL;
}

/*
 * The value of child i of a container whose data starts at base, as
 * fillJsonbValue() in jsonb_util.c does it: numerics and nested containers
 * are int-aligned.
 */
static inline void
fill_child(JEntry je, const char *base, uint32 off, uint32 len, JsonbValue *v)
{
	if (JBE_ISSTRING(je))
	{
		v->type = jbvString;
		v->val.string.val = (char *) base + off;
		v->val.string.len = len;
	}
	else if (JBE_ISNUMERIC(je))
	{
		v->type = jbvNumeric;
		v->val.numeric = (Numeric) (base + INTALIGN(off));
	}
	else if (JBE_ISBOOL_TRUE(je) || JBE_ISBOOL_FALSE(je))
	{
		v->type = jbvBool;
		v->val.boolean = JBE_ISBOOL_TRUE(je);
	}
	else if (JBE_ISNULL(je))
		v->type = jbvNull;
	else
	{
		v->type = jbvBinary;
		v->val.binary.data = (JsonbContainer *) (base + INTALIGN(off));
		v->val.binary.len = len - (INTALIGN(off) - off);
	}
}

void
bt_pairs_begin(BtPairCursor *c, JsonbContainer *obj)
{
	c->count = JsonContainerSize(obj);
	c->children = obj->children;
	c->base = (const char *) (obj->children + c->count * 2);
	c->next = 0;
	c->keyoff = 0;
	/* the values' data follows the keys' */
	c->valoff = 0;
	for (uint32 i = 0; i < c->count; i++)
		JBE_ADVANCE_OFFSET(c->valoff, c->children[i]);
}

bool
bt_pairs_next(BtPairCursor *c, JsonbValue *key, JsonbValue *value)
{
	uint32		keystart = c->keyoff;
	uint32		valstart = c->valoff;
	JEntry		kje,
				vje;

	if (c->next >= c->count)
		return false;
	kje = c->children[c->next];
	vje = c->children[c->count + c->next];
	JBE_ADVANCE_OFFSET(c->keyoff, kje);
	JBE_ADVANCE_OFFSET(c->valoff, vje);
	c->next++;
	/* an object's keys are always strings */
	key->type = jbvString;
	key->val.string.val = (char *) c->base + keystart;
	key->val.string.len = c->keyoff - keystart;
	fill_child(vje, c->base, valstart, c->valoff - valstart, value);
	return true;
}

/* The keys every object may have; CK_ID is ignored for map entries. */
typedef enum CoreKey
{
	CK_ID, CK_TYPE, CK_X, CK_Y, CK_WIDTH, CK_HEIGHT, CK_ROTATION, CK_COUNT
} CoreKey;

typedef struct CoreValues
{
	JsonbValue *v[CK_COUNT];	/* NULL when the key is absent */
	JsonbValue	store[CK_COUNT];
} CoreValues;

static inline int
core_key(const char *k, uint32 len)
{
	switch (len)
	{
		case 1:
			return k[0] == 'x' ? CK_X : k[0] == 'y' ? CK_Y : -1;
		case 2:
			return memcmp(k, "id", 2) == 0 ? CK_ID : -1;
		case 4:
			return memcmp(k, "type", 4) == 0 ? CK_TYPE : -1;
		case 5:
			return memcmp(k, "width", 5) == 0 ? CK_WIDTH : -1;
		case 6:
			return memcmp(k, "height", 6) == 0 ? CK_HEIGHT : -1;
		case 8:
			return memcmp(k, "rotation", 8) == 0 ? CK_ROTATION : -1;
	}
	return -1;
}

/*
 * Find the core keys of an object in one forward pass over its JEntry
 * array (keys come first, then values in the same order), instead of six
 * binary searches: this is the innermost loop of every diff.
 */
static void
scan_core(JsonbContainer *obj, CoreValues *cv)
{
	uint32		count = JsonContainerSize(obj);
	const JEntry *ch = obj->children;
	const char *base = (const char *) (ch + count * 2);
	uint32		off = 0;
	uint32		valoff;

	/* jsonb keys are unique, so there are at most CK_COUNT core keys */
	int			found[CK_COUNT];
	uint32		which[CK_COUNT];
	int			nwhich = 0;

	for (int k = 0; k < CK_COUNT; k++)
		cv->v[k] = NULL;
	/* Keys: remember the index of each core key. */
	for (uint32 i = 0; i < count; i++)
	{
		uint32		start = off;
		int			k;

		JBE_ADVANCE_OFFSET(off, ch[i]);
		k = core_key(base + start, off - start);
		if (k >= 0)
		{
			which[nwhich] = i;
			found[nwhich] = k;
			nwhich++;
		}
	}
	/* Values: walk on, filling those of the core keys. */
	valoff = off;
	for (uint32 w = 0, i = 0; w < (uint32) nwhich && i < count; i++)
	{
		uint32		start = valoff;

		JBE_ADVANCE_OFFSET(valoff, ch[count + i]);
		if (which[w] != i)
			continue;
		fill_child(ch[count + i], base, start, valoff - start, &cv->store[found[w]]);
		cv->v[found[w]] = &cv->store[found[w]];
		w++;
	}
}

/*
 * Whether a numeric may be negative, without numeric_cmp (whose fmgr call
 * and detoast checks cost more than the rest of reading an object).  PG15
 * has no public sign macro, so this reads the first uint16 after the
 * varlena header, as numeric.c's NUMERIC_FLAGBITS does: 0x0000 positive
 * long form, 0x4000 negative long form, 0x8000 short form (sign in bit
 * 0x2000), 0xC000 special (NaN, +Inf, -Inf; jsonb admits none of them).
 */
static inline bool
numeric_maybe_negative(Numeric n)
{
	uint16		head = *(const uint16 *) VARDATA_ANY(n);

	switch (head & 0xC000)
	{
		case 0x0000:
			return false;
		case 0x8000:
			return (head & 0x2000) != 0;
		default:
			return true;		/* negative, or special: ask numeric_cmp */
	}
}

/*
 * Whether a numeric is in the short form, whose weight of at most 63
 * base-10000 digits keeps it below 1e256: well within double precision.
 * jsonb stores every numeric that fits in that form so.
 */
static inline bool
numeric_is_short(Numeric n)
{
	uint16		head = *(const uint16 *) VARDATA_ANY(n);

	return (head & 0xC000) == 0x8000;
}

/*
 * A value the header calls negative (or special) is confirmed with
 * numeric_cmp, so no zero such as -0 or -0.00 is ever reported;
 * sql/diff_errors checks that negative values of both storage forms are.
 */
static bool
numeric_is_negative(Numeric n, Numeric zero)
{
	return numeric_maybe_negative(n) &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
										  NumericGetDatum(zero))) < 0;
}

/* Report what is wrong with the value of key, if anything (see below). */
static pg_noinline void
number_problem(ReadState *st, BtObject *o, const char *key, JsonbValue *vp,
			   bool is_size)
{
	JsonbValue	v;
	Numeric		n;

	if (vp == NULL)
	{
		report(st, o->index, o->id, o->idlen, key,
			   ERRCODE_SQL_JSON_MEMBER_NOT_FOUND, M_MISSING,
			   psprintf("key \"%s\" is missing.", key));
		return;
	}
	v = *vp;
	if (v.type != jbvNumeric)
	{
		bool		isnull = v.type == jbvNull;

		report(st, o->index, o->id, o->idlen, key,
			   isnull ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_NON_NUMERIC_SQL_JSON_ITEM,
			   isnull ? M_NULL : M_NOT_NUM,
			   psprintf("key \"%s\" is %s.", key, describe(&v)));
		return;
	}
	n = v.val.numeric;
	if (is_size && numeric_is_negative(n, st->zero))
	{
		report(st, o->index, o->id, o->idlen, key,
			   ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, M_NEGATIVE,
			   psprintf("key \"%s\" is %s, but sizes must not be negative.", key,
						numeric_text_clipped(n)));
		return;
	}
	/* places and sizes are measured in doubles: 1e400 would be infinite */
	if (!numeric_is_short(n) && isinf(bt_numeric_double(n)))
		report(st, o->index, o->id, o->idlen, key,
			   ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, M_RANGE,
			   psprintf("key \"%s\" is beyond the range of double precision (about 1.8e308).", key));
}

/*
 * One of x, y, width, height, rotation: a JSON number within double
 * precision (and not negative for sizes).  Five per object: the usual value
 * passes inline.
 */
static inline void
check_number(ReadState *st, BtObject *o, const char *key, JsonbValue *vp,
			 bool is_size)
{
	if (likely(vp != NULL && vp->type == jbvNumeric && numeric_is_short(vp->val.numeric) &&
			   (!is_size || !numeric_maybe_negative(vp->val.numeric))))
		return;
	number_problem(st, o, key, vp, is_size);
}

/*
 * Check an id value and set o->id/idlen.  Strings are used as they are;
 * numbers by their jsonb text, so 7 and "7" are the same id.
 */
static bool
check_id(ReadState *st, BtObject *o, JsonbValue *v)
{
	const char *problem = NULL;
	int			code = ERRCODE_INVALID_PARAMETER_VALUE;

	if (v->type == jbvString && v->val.string.len > 0)
	{
		o->id = v->val.string.val;
		o->idlen = v->val.string.len;
	}
	else if (v->type == jbvNumeric &&
			 bt_numeric_text_length(v->val.numeric) > BT_ID_MAX_BYTES)
		problem = psprintf("key \"id\" is a number of more than %d characters.", BT_ID_MAX_BYTES);
	else if (v->type == jbvNumeric)
	{
		char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(v->val.numeric)));

		o->id = s;
		o->idlen = strlen(s);
	}
	else if (v->type == jbvString)
	{
		code = ERRCODE_ZERO_LENGTH_CHARACTER_STRING;
		problem = "key \"id\" is an empty string.";
	}
	else
	{
		if (v->type == jbvNull)
			code = ERRCODE_NULL_VALUE_NOT_ALLOWED;
		problem = psprintf("key \"id\" is %s.", describe(v));
	}
	if (problem)
	{
		/* a map entry is named by its key, an element by its index */
		report(st, o->index, o->index < 0 ? o->id : NULL, o->index < 0 ? o->idlen : 0,
			   "id", code, v->type == jbvNull ? M_NULL : M_BAD_ID, problem);
		return false;
	}
	return true;
}

/*
 * Check the attribute object of an array element (mapkey == NULL) or of a
 * map entry, filling *o.  Returns false if the object has a problem.
 */
static bool
check_object(ReadState *st, BtObject *o, JsonbContainer *obj, int objlen,
			 JsonbValue *mapkey)
{
	JsonbValue	v;
	CoreValues	cv;
	int			before = st->nproblems;
	bool		idok = true;

	scan_core(obj, &cv);
	o->obj = obj;
	o->hash = NULL;
	o->hashlen = 0;
	o->objlen = objlen;
	o->is_hash = false;
	o->from_like = false;
	o->unlike_namesake = false;

	if (mapkey == NULL)
	{
		if (cv.v[CK_ID] == NULL)
		{
			report(st, o->index, NULL, 0, "id",
				   ERRCODE_SQL_JSON_MEMBER_NOT_FOUND, M_MISSING,
				   "key \"id\" is missing.");
			idok = false;
		}
		else
			idok = check_id(st, o, cv.v[CK_ID]);
	}
	else
	{
		o->id = mapkey->val.string.val;
		o->idlen = mapkey->val.string.len;
		/* An "id" inside a map value must agree with the key. */
		if (cv.v[CK_ID] != NULL)
		{
			BtObject	inner = *o;

			if (check_id(st, &inner, cv.v[CK_ID]) &&
				(inner.idlen != o->idlen || memcmp(inner.id, o->id, o->idlen) != 0))
				report(st, o->index, o->id, o->idlen, "id",
					   ERRCODE_INVALID_PARAMETER_VALUE, M_ID_DIFFERS,
					   psprintf("key \"id\" is \"%s\".",
								bt_clip_id(inner.id, inner.idlen)));
		}
	}
	if (!idok)
	{
		o->id = NULL;
		o->idlen = 0;
	}

	if (cv.v[CK_TYPE] != NULL)
	{
		v = *cv.v[CK_TYPE];
		if (v.type != jbvString)
			report(st, o->index, o->id, o->idlen, "type",
				   v.type == jbvNull ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_INVALID_PARAMETER_VALUE,
				   v.type == jbvNull ? M_NULL : M_BAD_TYPE,
				   psprintf("key \"type\" is %s.", describe(&v)));
	}

	check_number(st, o, "x", cv.v[CK_X], false);
	check_number(st, o, "y", cv.v[CK_Y], false);
	check_number(st, o, "width", cv.v[CK_WIDTH], true);
	check_number(st, o, "height", cv.v[CK_HEIGHT], true);
	/* rotation is optional, but a number when present */
	if (cv.v[CK_ROTATION] != NULL)
		check_number(st, o, "rotation", cv.v[CK_ROTATION], false);

	return idok && st->nproblems == before;
}

/*
 * Sorting by id: small keys (BtIdKey) rather than the objects.  Equal ids
 * (duplicates) are ordered by position in objs, which is element order.
 */
static inline uint64
id_prefix(const char *id, int len)
{
	uint64		p = 0;

	for (int i = 0; i < 8; i++)
		p = (p << 8) | (i < len ? (unsigned char) id[i] : 0);
	return p;
}

static inline int
cmp_keys(const BtIdKey *a, const BtIdKey *b, BtObject *objs)
{
	int			r = bt_key_cmp(a, objs, b, objs);

	if (r != 0)
		return r;
	return (a->obj > b->obj) - (a->obj < b->obj);
}

/*
 * Keep objs[nobjs], which passed the checks, and its sort key, while its
 * id is still in cache.
 */
static inline void
accept_object(BtDrawing *out)
{
	BtObject   *o = &out->objs[out->nobjs];
	BtIdKey    *k = &out->byid[out->nobjs];

	k->prefix = id_prefix(o->id, o->idlen);
	k->obj = out->nobjs;
	k->idlen = o->idlen;
	out->nobjs++;
}

/*
 * An element byte-identical to the object of the earlier version expected
 * next (or to the one after it, which skips an object removed since) is that
 * object again: valid, with the same id.  Unchanged objects, most of a new
 * version, are then not read at all.
 */
static bool
reuse_like(ReadState *st, BtObject *o, JsonbContainer *obj, int objlen)
{
	const BtDrawing *like = st->like;

	for (int j = st->like_next; j < st->like_next + 2 && j < like->nobjs; j++)
	{
		const BtObject *p = &like->objs[j];

		if (p->objlen == objlen && memcmp(p->obj, obj, objlen) == 0)
		{
			int			index = o->index;

			*o = *p;			/* id and idlen point into the earlier version */
			o->obj = obj;
			o->index = index;
			o->from_like = true;
			o->unlike_namesake = false;
			st->like_next = j + 1;
			st->like_lost = false;
			return true;
		}
	}
	return false;
}

/*
 * After a changed or new object, expect next the one after its namesake.
 * Returns true when the namesake was one that reuse_like has just found not
 * identical to the object.  An object not where it was expected is mostly a
 * new one, which the search for its namesake, a cache miss at every step in
 * a large version, would not find: the search waits until a second object
 * in a row is not where expected, which is when the versions' orders part.
 */
static bool
resync_like(ReadState *st, const BtIdKey *key, const BtObject *objs)
{
	const BtDrawing *like = st->like;
	const BtObject *o = &objs[key->obj];
	int			lo = 0,
				hi = like->nobjs;

	/* usually the changed object is the one expected (or the one after) */
	for (int j = st->like_next; j < st->like_next + 2 && j < like->nobjs; j++)
	{
		if (bt_object_id_cmp(&like->objs[j], o) == 0)
		{
			st->like_next = j + 1;
			st->like_lost = false;
			return true;
		}
	}
	if (!st->like_lost)
	{
		st->like_lost = true;
		return false;
	}
	st->like_lost = false;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (bt_key_cmp(&like->byid[mid], like->objs, key, objs) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < like->nobjs && bt_key_cmp(&like->byid[lo], like->objs, key, objs) == 0)
		st->like_next = like->byid[lo].obj + 1;
	return false;
}

/*
 * The like object just before like_next is object o's: taken by it, or its
 * changed namesake.  Either way o sorts where that object does.
 */
static inline void
claim_like(ReadState *st, int o)
{
	int		   *claimed = &st->like_taken[st->like_next - 1];

	st->like_twice |= *claimed >= 0;
	*claimed = o;
}

static void
read_array(ReadState *st, JsonbContainer *arr, BtDrawing *out)
{
	uint32		count = JsonContainerSize(arr);
	const JEntry *ch = arr->children;
	const char *base = (const char *) (ch + count);
	uint32		off = 0;

	out->objs = palloc_huge(sizeof(BtObject) * Max(count, 1));
	out->byid = palloc_huge(sizeof(BtIdKey) * Max(count, 1));
	for (uint32 i = 0; i < count; i++)
	{
		BtObject   *o = &out->objs[out->nobjs];
		uint32		start = off;
		JsonbValue	v;

		CHECK_FOR_INTERRUPTS();
		JBE_ADVANCE_OFFSET(off, ch[i]);
		fill_child(ch[i], base, start, off - start, &v);
		o->index = i;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
		{
			report(st, o->index, NULL, 0, NULL,
				   ERRCODE_SQL_JSON_OBJECT_NOT_FOUND, M_NOT_OBJ,
				   psprintf("the element is %s.", describe(&v)));
			continue;
		}
		if (st->like && reuse_like(st, o, v.val.binary.data, v.val.binary.len))
		{
			/* reuse_like took the like object before like_next */
			claim_like(st, out->nobjs);
			accept_object(out);
		}
		else if (check_object(st, o, v.val.binary.data, v.val.binary.len, NULL))
		{
			accept_object(out);
			if (st->like)
			{
				o->unlike_namesake = resync_like(st, &out->byid[out->nobjs - 1],
												 out->objs);
				/* resync_like found its namesake just before like_next */
				if (o->unlike_namesake)
					claim_like(st, out->nobjs - 1);
			}
		}
		else if (o->id != NULL)
		{
			/*
			 * Invalid, but its id is sound: it still takes part in the
			 * duplicate check, so that every problem is listed at once.  A
			 * version with a problem is not diffed, so nothing else reads it.
			 */
			accept_object(out);
		}
	}
}

static void
read_map(ReadState *st, JsonbContainer *map, BtDrawing *out)
{
	JsonbIterator *it = JsonbIteratorInit(map);
	JsonbIteratorToken tok;
	JsonbValue	k;
	JsonbValue	v;

	out->map_form = true;
	out->objs = palloc_huge(sizeof(BtObject) * Max(JsonContainerSize(map), 1));
	out->byid = palloc_huge(sizeof(BtIdKey) * Max(JsonContainerSize(map), 1));
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		BtObject   *o = &out->objs[out->nobjs];

		if (tok != WJB_KEY)
			continue;
		CHECK_FOR_INTERRUPTS();
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		o->index = -1;
		if (k.val.string.len == 0)
		{
			/* The key is the id, and ids are never empty. */
			report(st, -1, NULL, 0, NULL,
				   ERRCODE_ZERO_LENGTH_CHARACTER_STRING, M_BAD_ID,
				   "has an empty map key, but ids must not be empty.");
			continue;
		}
		if (v.type == jbvString)
		{
			o->id = k.val.string.val;
			o->idlen = k.val.string.len;
			o->is_hash = true;
			o->from_like = false;
			o->unlike_namesake = false;
			o->hash = v.val.string.val;
			o->hashlen = v.val.string.len;
			o->obj = NULL;
			o->objlen = 0;
			accept_object(out);
		}
		else if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
		{
			if (check_object(st, o, v.val.binary.data, v.val.binary.len, &k))
				accept_object(out);
		}
		else
			report(st, -1, k.val.string.val, k.val.string.len, NULL,
				   ERRCODE_SQL_JSON_OBJECT_NOT_FOUND, M_MAP_VALUE,
				   psprintf("the value is %s.", describe(&v)));
	}
}

#define ST_SORT sort_keys
#define ST_ELEMENT_TYPE BtIdKey
#define ST_COMPARE(a, b, objs) cmp_keys(a, b, objs)
#define ST_COMPARE_ARG_TYPE BtObject
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * LSD radix sort of keys by prefix, a byte at a time, skipping bytes that
 * are the same in every key (ids usually share a few leading characters
 * and have zero padding at the end).  Stable, so keys with equal prefixes
 * stay in objs order.  tmp has room for n keys; returns the buffer that
 * holds the result (keys or tmp).
 */
static BtIdKey *
radix_sort_prefix(BtIdKey *keys, BtIdKey *tmp, int n)
{
	uint32	   *counts = palloc0(sizeof(uint32) * 8 * 256);
	BtIdKey    *src = keys,
			   *dst = tmp;

	for (int i = 0; i < n; i++)
	{
		uint64		p = keys[i].prefix;

		for (int b = 0; b < 8; b++)
			counts[b * 256 + ((p >> (8 * b)) & 0xFF)]++;
	}
	for (int b = 0; b < 8; b++)
	{
		uint32	   *c = counts + b * 256;
		uint32		sum = 0;
		BtIdKey    *swap;

		if (c[(src[0].prefix >> (8 * b)) & 0xFF] == (uint32) n)
			continue;			/* every key has this byte */
		CHECK_FOR_INTERRUPTS();
		for (int d = 0; d < 256; d++)
		{
			uint32		k = c[d];

			c[d] = sum;
			sum += k;
		}
		for (int i = 0; i < n; i++)
			dst[c[(src[i].prefix >> (8 * b)) & 0xFF]++] = src[i];
		swap = src;
		src = dst;
		dst = swap;
	}
	pfree(counts);
	return src;
}

/*
 * Sort n keys to objs: radix on the prefixes, then runs of equal prefixes
 * that involve an id longer than eight bytes get a comparison sort; other
 * equal prefixes are equal ids, already in objs order as cmp_keys wants.
 * Returns the sorted keys: keys itself, or a new array (keys freed).
 */
static BtIdKey *
sort_id_keys(BtIdKey *keys, int n, BtObject *objs)
{
	BtIdKey    *tmp,
			   *sorted;
	int			i;

	/* Exporters often write objects in id order: then there is no work. */
	for (i = 1; i < n && keys[i - 1].prefix < keys[i].prefix; i++)
		;
	if (i >= n)
		return keys;
	if (n < 64)
	{
		sort_keys(keys, n, objs);
		return keys;
	}
	tmp = palloc_huge(sizeof(BtIdKey) * n);
	sorted = radix_sort_prefix(keys, tmp, n);
	pfree(sorted == keys ? tmp : keys);
	for (int start = 0, j = 1; j <= n; j++)
	{
		bool		is_long = false;

		if (j < n && sorted[j].prefix == sorted[start].prefix)
			continue;
		for (int k = start; k < j && j - start > 1 && !is_long; k++)
			is_long = sorted[k].idlen > 8;
		if (is_long)
			sort_keys(sorted + start, j - start, objs);
		start = j;
	}
	return sorted;
}

/*
 * Sort a version read with a like version: the objects taken from it, and
 * the changed namesakes of its objects, come in its id order already (each
 * like object was claimed once), so only the others (new, or out of the
 * like version's order) are sorted, and the two runs are merged.
 */
static void
sort_with_like(ReadState *st, BtDrawing *d)
{
	const BtDrawing *like = st->like;
	BtIdKey    *taken = palloc_huge(sizeof(BtIdKey) * Max(d->nobjs, 1));
	BtIdKey    *rest = palloc_huge(sizeof(BtIdKey) * Max(d->nobjs, 1));
	int			ntaken = 0,
				nrest = 0,
				i = 0,
				j = 0;

	for (int k = 0; k < like->nobjs; k++)
	{
		int			o = st->like_taken[like->byid[k].obj];

		if ((k & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (o >= 0)
			taken[ntaken++] = d->byid[o];
	}
	for (int k = 0; k < d->nobjs; k++)
	{
		if ((k & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!d->objs[k].from_like && !d->objs[k].unlike_namesake)
			rest[nrest++] = d->byid[k];
	}
	Assert(ntaken + nrest == d->nobjs);
	rest = sort_id_keys(rest, nrest, d->objs);
	for (int k = 0; k < d->nobjs; k++)
	{
		if ((k & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (j >= nrest ||
			(i < ntaken && cmp_keys(&taken[i], &rest[j], d->objs) < 0))
			d->byid[k] = taken[i++];
		else
			d->byid[k] = rest[j++];
	}
	pfree(taken);
	pfree(rest);
}

/* Sort d->byid, filled while reading. */
static void
sort_objects(ReadState *st, BtDrawing *d)
{
	if (d->byid == NULL)
		d->byid = palloc(sizeof(BtIdKey));
	if (st->like && !st->like_twice)
		sort_with_like(st, d);
	else
		d->byid = sort_id_keys(d->byid, d->nobjs, d->objs);
}

static void
check_duplicates(ReadState *st, BtDrawing *d)
{
	int			first = 0;

	for (int i = 1; i < d->nobjs; i++)
	{
		if (bt_key_cmp(&d->byid[first], d->objs, &d->byid[i], d->objs) == 0)
		{
			BtObject   *p = &d->objs[d->byid[first].obj];
			BtObject   *o = &d->objs[d->byid[i].obj];

			report(st, o->index, o->id, o->idlen, "id",
				   ERRCODE_INVALID_PARAMETER_VALUE, M_DUPLICATE,
				   psprintf("the id is also used by element %d.", p->index));
		}
		else
			first = i;
	}
}

bool
bt_drawing_read(Jsonb *jb, char version, BtDrawing *out, List **problems,
				const BtDrawing *like)
{
	ReadState	st;
	JsonbContainer *root = &jb->root;
	JsonbValue	v;

	Assert(like == NULL || !like->map_form);
	st.version = version;
	st.problems = problems;
	st.nproblems = 0;
	st.zero = bt_numeric_from_int64(0);
	st.like = like;
	st.like_next = 0;
	st.like_twice = false;
	st.like_lost = false;
	st.like_taken = NULL;
	if (like)
	{
		st.like_taken = palloc_huge(sizeof(int) * Max(like->nobjs, 1));
		memset(st.like_taken, -1, sizeof(int) * Max(like->nobjs, 1));
	}
	out->objs = NULL;
	out->byid = NULL;
	out->nobjs = 0;
	out->map_form = false;

	if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbValue *s = getIthJsonbValueFromContainer(root, 0);

		report(&st, -1, NULL, 0, NULL, ERRCODE_INVALID_PARAMETER_VALUE, M_TOP,
			   psprintf("is %s.", describe(s)));
		return false;
	}
	if (JB_ROOT_IS_ARRAY(jb))
		read_array(&st, root, out);
	else if (get_key(root, "objects", &v) && v.type == jbvBinary &&
			 JsonContainerIsArray(v.val.binary.data))
		read_array(&st, v.val.binary.data, out);
	else
		read_map(&st, root, out);

	sort_objects(&st, out);
	if (st.like_taken)
		pfree(st.like_taken);
	if (!out->map_form)
		check_duplicates(&st, out);
	if (st.nproblems > MAX_LISTED_PROBLEMS)
		report_unlisted(&st);

	return st.nproblems == 0;
}

void
bt_problems_push(JsonbParseState **ps, List *problems, bool with_version)
{
	ListCell   *lc;

	foreach(lc, problems)
	{
		BtProblem  *p = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
		if (with_version)
		{
			bt_push_key(ps, "version");
			/* a problem of the pair itself names no version */
			bt_push_cstring(ps, WJB_VALUE,
							p->version ? psprintf("%c", p->version) : NULL);
		}
		bt_push_key(ps, "index");
		if (p->index >= 0)
			bt_push_int(ps, WJB_VALUE, p->index);
		else
			bt_push_null(ps, WJB_VALUE);
		bt_push_key(ps, "id");
		bt_push_cstring(ps, WJB_VALUE, p->id);
		bt_push_key(ps, "key");
		bt_push_cstring(ps, WJB_VALUE, p->key);
		bt_push_key(ps, "sqlstate");
		/* unpack_sql_state() returns a static buffer, which is reused */
		bt_push_cstring(ps, WJB_VALUE, pstrdup(unpack_sql_state(p->sqlerrcode)));
		bt_push_key(ps, "message");
		bt_push_cstring(ps, WJB_VALUE, p->message);
		bt_push_key(ps, "detail");
		bt_push_cstring(ps, WJB_VALUE, p->detail);
		pushJsonbValue(ps, WJB_END_OBJECT, NULL);
	}
}

/*
 * An added or removed object as output: array elements as written; map
 * entries as {"id": key, "content": hash} or their attributes plus "id".
 */
void
bt_object_write(BtJsonbWriter *w, BtObject *o)
{
	static const BtJwKey hash_keys[] = {BT_JW_KEY("id"), BT_JW_KEY("content")};
	static const BtJwKey id_key = BT_JW_KEY("id");
	BtJwKey    *keys;
	JsonbValue *vals;
	JsonbValue	idval;
	BtPairCursor c;
	JsonbValue	k;
	bool		id_placed = false;
	int			n = 0;

	if (o->index >= 0)
	{
		bt_jw_container(w, o->obj, o->objlen);
		return;
	}
	if (o->is_hash)
	{
		bt_jw_begin_object(w, hash_keys, 2);
		bt_jw_string(w, o->id, o->idlen);
		bt_jw_string(w, o->hash, o->hashlen);
		bt_jw_end(w);
		return;
	}
	/* the attributes come in key order; the map key goes in as "id" */
	idval.type = jbvString;
	idval.val.string.val = (char *) o->id;
	idval.val.string.len = o->idlen;
	keys = palloc(sizeof(BtJwKey) * (JsonContainerSize(o->obj) + 1));
	vals = palloc(sizeof(JsonbValue) * (JsonContainerSize(o->obj) + 1));
	bt_pairs_begin(&c, o->obj);
	while (bt_pairs_next(&c, &k, &vals[n]))
	{
		int			cmp = bt_jsonb_key_cmp(k.val.string.val, k.val.string.len,
										   id_key.s, id_key.len);

		if (cmp == 0)
			continue;			/* equal to the map key (checked on reading) */
		if (cmp > 0 && !id_placed)
		{
			vals[n + 1] = vals[n];
			keys[n] = id_key;
			vals[n++] = idval;
			id_placed = true;
		}
		keys[n].s = k.val.string.val;
		keys[n++].len = k.val.string.len;
	}
	if (!id_placed)
	{
		keys[n] = id_key;
		vals[n++] = idval;
	}
	bt_jw_begin_object(w, keys, n);
	for (int i = 0; i < n; i++)
		bt_jw_value(w, &vals[i]);
	bt_jw_end(w);
	pfree(keys);
	pfree(vals);
}

/* The id as its text (a map entry's key); set_field gives a number its own. */
static void
fields_start(BtObject *o, BtFields *f)
{
	memset(f, 0, sizeof(BtFields));
	f->id = o->id;
	f->idlen = o->idlen;
}

/* Set the field of core key ck from its value, which reading checked. */
static inline void
set_field(BtObject *o, BtFields *f, int ck, JsonbValue *v)
{
	switch (ck)
	{
		case CK_ID:

			/*
			 * A map entry's id is its key and an element's string id is
			 * o->id, both set by fields_start; a number is kept as written.
			 */
			if (o->index >= 0 && v->type == jbvNumeric)
			{
				f->id = (const char *) v->val.numeric;
				f->idlen = BT_ID_NUMERIC;
			}
			break;
		case CK_TYPE:
			/* reading took only a string; the test keeps the compiler sure */
			if (v->type == jbvString)
			{
				f->type = v->val.string.val;
				f->typelen = v->val.string.len;
			}
			break;
		case CK_X:
			f->x = v->val.numeric;
			break;
		case CK_Y:
			f->y = v->val.numeric;
			break;
		case CK_WIDTH:
			f->width = v->val.numeric;
			break;
		case CK_HEIGHT:
			f->height = v->val.numeric;
			break;
		case CK_ROTATION:
			f->rotation = v->val.numeric;
			break;
	}
}

void
bt_object_fields(BtObject *o, BtFields *f)
{
	CoreValues	cv;

	fields_start(o, f);
	if (o->is_hash)
		return;
	scan_core(o->obj, &cv);
	for (int k = 0; k < CK_COUNT; k++)
	{
		if (cv.v[k])
			set_field(o, f, k, cv.v[k]);
	}
}

void
bt_object_fields_each(BtObject *o, BtFields *f, BtPairFn fn, void *arg)
{
	BtPairCursor c;
	JsonbValue	k,
				v;

	fields_start(o, f);
	if (o->is_hash)
		return;
	bt_pairs_begin(&c, o->obj);
	while (bt_pairs_next(&c, &k, &v))
	{
		int			ck = core_key(k.val.string.val, k.val.string.len);

		if (ck >= 0)
			set_field(o, f, ck, &v);
		if (ck != CK_ID)
			fn(&k, &v, arg);
	}
}

void
bt_attrs_begin(BtAttrCursor *c, BtObject *o, BtFields *f)
{
	fields_start(o, f);
	c->o = o;
	c->f = f;
	if (o->is_hash)
	{
		/* no pairs: the first bt_attrs_next ends the walk */
		memset(&c->pairs, 0, sizeof(BtPairCursor));
		return;
	}
	bt_pairs_begin(&c->pairs, o->obj);
}

bool
bt_attrs_next(BtAttrCursor *c, JsonbValue *key, JsonbValue *value)
{
	while (bt_pairs_next(&c->pairs, key, value))
	{
		int			ck = core_key(key->val.string.val, key->val.string.len);

		if (ck < 0)
			return true;
		set_field(c->o, c->f, ck, value);
	}
	return false;
}

/*
 * Two values stored alike, byte for byte (then certainly equal): the same
 * type and the same data, a number's or a container's from its int-aligned
 * start, as fill_child reads them.
 */
static inline bool
same_stored(JEntry ja, const char *pa, uint32 offa, uint32 lena,
			JEntry jb, const char *pb, uint32 offb, uint32 lenb)
{
	uint32		type = ja & JENTRY_TYPEMASK;

	if (type != (jb & JENTRY_TYPEMASK))
		return false;
	if (type == JENTRY_ISNUMERIC || type == JENTRY_ISCONTAINER)
	{
		lena -= INTALIGN(offa) - offa;
		lenb -= INTALIGN(offb) - offb;
		offa = INTALIGN(offa);
		offb = INTALIGN(offb);
	}
	return lena == lenb && memcmp(pa + offa, pb + offb, lena) == 0;
}

/*
 * The usual moved object differs from its earlier self in its place only:
 * the same keys (so the same header, the same key JEntries and key bytes)
 * and the same bytes in every value but the core keys'.  Then no attribute
 * changed, and one pass over both objects' JEntries fills their fields,
 * where the attribute walk would decode and compare every pair.  A place
 * value may change its length, which moves the values after it: each
 * object's offsets are followed on their own.  Returns false, with the
 * fields not to be used, for any other pair, which the walk then compares.
 */
bool
bt_fields_if_attrs_equal(BtObject *a, BtObject *b, BtFields *fa, BtFields *fb)
{
	JsonbContainer *ca = a->obj;
	JsonbContainer *cb = b->obj;
	uint32		count;
	const JEntry *cha;
	const JEntry *chb;
	const char *basea;
	const char *baseb;
	uint32		keyoff = 0;
	uint32		offa = 0;
	uint32		offb;

	if (a->is_hash || b->is_hash || ca->header != cb->header)
		return false;
	count = JsonContainerSize(ca);
	cha = ca->children;
	chb = cb->children;
	if (memcmp(cha, chb, sizeof(JEntry) * count) != 0)
		return false;			/* keys of other lengths */
	basea = (const char *) (cha + count * 2);
	baseb = (const char *) (chb + count * 2);
	for (uint32 i = 0; i < count; i++)
		JBE_ADVANCE_OFFSET(offa, cha[i]);
	if (memcmp(basea, baseb, offa) != 0)
		return false;			/* other keys */
	offb = offa;
	fields_start(a, fa);
	fields_start(b, fb);
	for (uint32 i = 0; i < count; i++)
	{
		uint32		keystart = keyoff;
		uint32		starta = offa;
		uint32		startb = offb;
		JEntry		jea = cha[count + i];
		JEntry		jeb = chb[count + i];
		int			ck;

		JBE_ADVANCE_OFFSET(keyoff, cha[i]);
		JBE_ADVANCE_OFFSET(offa, jea);
		JBE_ADVANCE_OFFSET(offb, jeb);
		ck = core_key(basea + keystart, keyoff - keystart);
		if (ck >= 0)
		{
			JsonbValue	va,
						vb;

			fill_child(jea, basea, starta, offa - starta, &va);
			fill_child(jeb, baseb, startb, offb - startb, &vb);
			set_field(a, fa, ck, &va);
			set_field(b, fb, ck, &vb);
		}
		else if (!same_stored(jea, basea, starta, offa - starta,
							  jeb, baseb, startb, offb - startb))
			return false;
	}
	return true;
}

static char *
clip(const char *s, int len, int max_bytes, bool blank_before_cut)
{
	int			keep;

	if (len <= max_bytes)
		return pnstrdup(s, len);
	keep = pg_mbcliplen(s, len, max_bytes);
	/* "Room 5 …" reads as a cut after a whole word: "Room 5…" */
	while (!blank_before_cut && keep > 0 && s[keep - 1] == ' ')
		keep--;
	return psprintf("%.*s" BT_ELLIPSIS, keep, s);
}

char *
bt_clip_text(const char *s, int len)
{
	return clip(s, len, BT_TEXT_MAX_BYTES, true);
}

int
bt_blank_len(const char *s, int len)
{
	unsigned char c = (unsigned char) s[0];

	if (c == ' ' || c < 0x20 || c == 0x7F)
		return 1;
	if (c < 0xC2 || c > 0xE2 || GetDatabaseEncoding() != PG_UTF8)
		return 0;
	/* C2 80 to C2 9F: U+0080 to U+009F; E2 80 A8 or A9: U+2028, U+2029 */
	if (c == 0xC2)
		return len >= 2 && (unsigned char) s[1] <= 0x9F ? 2 : 0;
	if (c == 0xE2)
		return len >= 3 && (unsigned char) s[1] == 0x80 &&
			((unsigned char) s[2] == 0xA8 || (unsigned char) s[2] == 0xA9) ? 3 : 0;
	return 0;
}

/*
 * The length of the blank at s, as bt_blank_len, an underscore one too
 * with underscore_blank, as in a type (curtain_wall: curtain wall).
 */
static inline int
gap_len(const char *s, int len, bool underscore_blank)
{
	return underscore_blank && *s == '_' ? 1 : bt_blank_len(s, len);
}

/* bt_display_text's work, with underscores as blanks or not */
static char *
display_text(const char *s, int len, bool underscore_blank)
{
	/* enough bytes to know whether the text must be cut, and where */
	char		out[BT_TEXT_MAX_BYTES + MAX_MULTIBYTE_CHAR_LEN + 2];
	int			n = 0;
	bool		blank_before = false;
	int			i = 0;

	for (uint32 step = 0; i < len && n <= BT_TEXT_MAX_BYTES + MAX_MULTIBYTE_CHAR_LEN; step++)
	{
		int			gap = gap_len(s + i, len - i, underscore_blank);

		if ((step & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (gap > 0)
		{
			blank_before = n > 0;
			i += gap;
			continue;
		}
		if (blank_before)
			out[n++] = ' ';
		blank_before = false;
		out[n++] = s[i++];
	}
	return clip(out, n, BT_TEXT_MAX_BYTES, false);
}

char *
bt_display_text(const char *s, int len)
{
	return display_text(s, len, false);
}

char *
bt_display_id(const char *id, int len)
{
	/* as display_text: enough bytes to know where to cut */
	char		out[BT_TEXT_MAX_BYTES + MAX_MULTIBYTE_CHAR_LEN + 2];
	int			n = 0;

	for (int i = 0; i < len && n <= BT_TEXT_MAX_BYTES + MAX_MULTIBYTE_CHAR_LEN;)
	{
		int			gap = bt_blank_len(id + i, len - i);

		out[n++] = gap > 0 ? ' ' : id[i];
		i += Max(gap, 1);
	}
	return clip(out, n, BT_TEXT_MAX_BYTES, true);
}

char *
bt_clip_id(const char *id, int len)
{
	return clip(id, len, BT_ID_MAX_BYTES, true);
}

bool
bt_types_read_alike(const BtFields *a, const BtFields *b)
{
	int			i = 0,
				j = 0;
	bool		started = false;

	if (a->type == NULL || b->type == NULL)
		return false;
	for (uint32 step = 0;; step++)
	{
		bool		gap_a = false,
					gap_b = false;
		int			gap;

		if ((step & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		while (i < a->typelen && (gap = gap_len(a->type + i, a->typelen - i, true)) > 0)
			i += gap, gap_a = true;
		while (j < b->typelen && (gap = gap_len(b->type + j, b->typelen - j, true)) > 0)
			j += gap, gap_b = true;
		/* gaps at either end do not count */
		if (i == a->typelen || j == b->typelen)
			return i == a->typelen && j == b->typelen;
		if ((started && gap_a != gap_b) || a->type[i] != b->type[j])
			return false;
		started = true;
		i++;
		j++;
	}
}

char *
bt_type_name(BtFields *f)
{
	char	   *name = f->type ? display_text(f->type, f->typelen, true) : "";

	return *name ? name : pstrdup("object");
}
