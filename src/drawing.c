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

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "drawing.h"
#include "jsonbuild.h"

/* errmsg texts; errdetail says where and what. */
#define M_TOP		"drawing version is not a JSON array or object"
#define M_NOT_OBJ	"drawing object is not a JSON object"
#define M_MAP_VALUE "map value is neither a content hash nor an object"
#define M_MISSING	"drawing object lacks a required key"
#define M_NULL		"null value in drawing object"
#define M_NOT_NUM	"non-numeric value in drawing object"
#define M_NEGATIVE	"negative size in drawing object"
#define M_BAD_ID	"invalid id in drawing object"
#define M_BAD_TYPE	"invalid type in drawing object"
#define M_ID_DIFFERS "id inside map value differs from its key"
#define M_DUPLICATE "duplicate id in drawing version"

typedef struct ReadState
{
	char		version;
	List	  **problems;		/* NULL: raise the first problem */
	int			nproblems;
	Numeric		zero;
} ReadState;

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

	initStringInfo(&d);
	if (st->version)
	{
		appendStringInfo(&d, "Version %c", st->version);
		sep = ", ";
	}
	if (index >= 0)
		appendStringInfo(&d, "%s%s %d", sep, *sep ? "element" : "Element", index);
	if (index >= 0 && id)
		appendStringInfo(&d, " (id \"%.*s\")", idlen, id);
	else if (id)
		appendStringInfo(&d, "%s%s \"%.*s\"", sep, *sep ? "object" : "Object",
						 idlen, id);
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
		p->id = id ? pnstrdup(id, idlen) : NULL;
		p->key = key;
		p->sqlerrcode = sqlerrcode;
		p->message = pstrdup(message);
		p->detail = d.data;
		*st->problems = lappend(*st->problems, p);
		st->nproblems++;
	}
}

static bool
get_key(JsonbContainer *obj, const char *key, JsonbValue *res)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), res) != NULL;
}

/* One of x, y, width, height: a JSON number (and not negative for sizes). */
static Numeric
check_number(ReadState *st, BtObject *o, const char *key, bool is_size)
{
	JsonbValue	v;
	Numeric		n;

	if (!get_key(o->obj, key, &v))
	{
		report(st, o->index, o->id, o->idlen, key,
			   ERRCODE_SQL_JSON_MEMBER_NOT_FOUND, M_MISSING,
			   psprintf("key \"%s\" is missing.", key));
		return NULL;
	}
	if (v.type != jbvNumeric)
	{
		bool		isnull = v.type == jbvNull;

		report(st, o->index, o->id, o->idlen, key,
			   isnull ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_NON_NUMERIC_SQL_JSON_ITEM,
			   isnull ? M_NULL : M_NOT_NUM,
			   psprintf("key \"%s\" is %s.", key, describe(&v)));
		return NULL;
	}
	n = v.val.numeric;
	if (is_size &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
										  NumericGetDatum(st->zero))) < 0)
	{
		report(st, o->index, o->id, o->idlen, key,
			   ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, M_NEGATIVE,
			   psprintf("key \"%s\" is %s, but sizes must not be negative.", key,
						DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(n)))));
		return NULL;
	}
	return n;
}

/*
 * Check an id value and set o->id/idlen/idval.  Strings are used as they
 * are; numbers by their jsonb text, so 7 and "7" are the same id.
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
		report(st, o->index, NULL, 0, "id", code,
			   v->type == jbvNull ? M_NULL : M_BAD_ID, problem);
		return false;
	}
	o->idval = *v;
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
	int			before = st->nproblems;
	bool		idok = true;

	o->obj = obj;
	o->objlen = objlen;
	o->is_hash = false;

	if (mapkey == NULL)
	{
		if (!get_key(obj, "id", &v))
		{
			report(st, o->index, NULL, 0, "id",
				   ERRCODE_SQL_JSON_MEMBER_NOT_FOUND, M_MISSING,
				   "key \"id\" is missing.");
			idok = false;
		}
		else
			idok = check_id(st, o, &v);
	}
	else
	{
		o->id = mapkey->val.string.val;
		o->idlen = mapkey->val.string.len;
		o->idval = *mapkey;
		/* An "id" inside a map value must agree with the key. */
		if (get_key(obj, "id", &v))
		{
			BtObject	inner = *o;

			if (check_id(st, &inner, &v) &&
				(inner.idlen != o->idlen || memcmp(inner.id, o->id, o->idlen) != 0))
				report(st, o->index, o->id, o->idlen, "id",
					   ERRCODE_INVALID_PARAMETER_VALUE, M_ID_DIFFERS,
					   psprintf("key \"id\" is \"%.*s\".", inner.idlen, inner.id));
		}
	}
	if (!idok)
	{
		o->id = NULL;
		o->idlen = 0;
	}

	o->type = NULL;
	o->typelen = 0;
	if (get_key(obj, "type", &v))
	{
		if (v.type == jbvString)
		{
			o->type = v.val.string.val;
			o->typelen = v.val.string.len;
		}
		else
			report(st, o->index, o->id, o->idlen, "type",
				   v.type == jbvNull ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_INVALID_PARAMETER_VALUE,
				   v.type == jbvNull ? M_NULL : M_BAD_TYPE,
				   psprintf("key \"type\" is %s.", describe(&v)));
	}

	o->x = check_number(st, o, "x", false);
	o->y = check_number(st, o, "y", false);
	o->width = check_number(st, o, "width", true);
	o->height = check_number(st, o, "height", true);

	return idok && st->nproblems == before;
}

static void
read_array(ReadState *st, JsonbContainer *arr, BtDrawing *out)
{
	JsonbIterator *it = JsonbIteratorInit(arr);
	JsonbIteratorToken tok;
	JsonbValue	v;
	int			index = 0;

	out->objs = palloc(sizeof(BtObject) * Max(JsonContainerSize(arr), 1));
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		BtObject   *o = &out->objs[out->nobjs];

		if (tok != WJB_ELEM)
			continue;
		CHECK_FOR_INTERRUPTS();
		o->index = index++;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
		{
			report(st, o->index, NULL, 0, NULL,
				   ERRCODE_SQL_JSON_OBJECT_NOT_FOUND, M_NOT_OBJ,
				   psprintf("the element is %s.", describe(&v)));
			continue;
		}
		if (check_object(st, o, v.val.binary.data, v.val.binary.len, NULL))
			out->nobjs++;
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
	out->objs = palloc(sizeof(BtObject) * Max(JsonContainerSize(map), 1));
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		BtObject   *o = &out->objs[out->nobjs];

		if (tok != WJB_KEY)
			continue;
		CHECK_FOR_INTERRUPTS();
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		o->index = -1;
		if (v.type == jbvString)
		{
			o->id = k.val.string.val;
			o->idlen = k.val.string.len;
			o->idval = k;
			o->is_hash = true;
			o->hash = v.val.string.val;
			o->hashlen = v.val.string.len;
			o->type = NULL;
			o->typelen = 0;
			o->obj = NULL;
			o->objlen = 0;
			out->nobjs++;
		}
		else if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
		{
			if (check_object(st, o, v.val.binary.data, v.val.binary.len, &k))
				out->nobjs++;
		}
		else
			report(st, -1, k.val.string.val, k.val.string.len, NULL,
				   ERRCODE_SQL_JSON_OBJECT_NOT_FOUND, M_MAP_VALUE,
				   psprintf("the value is %s.", describe(&v)));
	}
}

/* Order by id bytes (a prefix sorts first), then by element index. */
static int
cmp_objects(const void *pa, const void *pb)
{
	const BtObject *a = pa;
	const BtObject *b = pb;
	int			r = memcmp(a->id, b->id, Min(a->idlen, b->idlen));

	if (r != 0)
		return r;
	if (a->idlen != b->idlen)
		return a->idlen < b->idlen ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

static void
check_duplicates(ReadState *st, BtDrawing *d)
{
	int			first = 0;

	for (int i = 1; i < d->nobjs; i++)
	{
		BtObject   *p = &d->objs[first];
		BtObject   *o = &d->objs[i];

		if (o->idlen == p->idlen && memcmp(o->id, p->id, o->idlen) == 0)
			report(st, o->index, o->id, o->idlen, "id",
				   ERRCODE_INVALID_PARAMETER_VALUE, M_DUPLICATE,
				   psprintf("the id is also used by element %d.", p->index));
		else
			first = i;
	}
}

bool
bt_drawing_read(Jsonb *jb, char version, BtDrawing *out, List **problems)
{
	ReadState	st;
	JsonbContainer *root = &jb->root;
	JsonbValue	v;

	st.version = version;
	st.problems = problems;
	st.nproblems = 0;
	st.zero = int64_to_numeric(0);
	out->objs = NULL;
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

	/* pg_qsort notices input that is already in order and returns early. */
	if (out->nobjs > 1)
		qsort(out->objs, out->nobjs, sizeof(BtObject), cmp_objects);
	if (!out->map_form)
		check_duplicates(&st, out);

	return st.nproblems == 0;
}

void
bt_problems_push(JsonbParseState **ps, List *problems, bool with_version)
{
	ListCell   *lc;

	foreach(lc, problems)
	{
		BtProblem  *p = lfirst(lc);

		pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
		if (with_version)
		{
			bt_push_key(ps, "version");
			bt_push_cstring(ps, WJB_VALUE, psprintf("%c", p->version));
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
		/* unpack_sql_state() returns a static buffer; the value must outlive it */
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
bt_object_push(JsonbParseState **ps, BtObject *o)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;

	if (o->index >= 0)
	{
		v.type = jbvBinary;
		v.val.binary.data = o->obj;
		v.val.binary.len = o->objlen;
		pushJsonbValue(ps, WJB_ELEM, &v);
		return;
	}
	pushJsonbValue(ps, WJB_BEGIN_OBJECT, NULL);
	bt_push_key(ps, "id");
	pushJsonbValue(ps, WJB_VALUE, &o->idval);
	if (o->is_hash)
	{
		bt_push_key(ps, "content");
		bt_push_string(ps, WJB_VALUE, o->hash, o->hashlen);
	}
	else
	{
		it = JsonbIteratorInit(o->obj);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY && v.val.string.len == 2 &&
				memcmp(v.val.string.val, "id", 2) == 0)
			{
				tok = JsonbIteratorNext(&it, &v, true);
				continue;
			}
			if (tok == WJB_KEY || tok == WJB_VALUE)
				pushJsonbValue(ps, tok, &v);
		}
	}
	pushJsonbValue(ps, WJB_END_OBJECT, NULL);
}

char *
bt_object_type_name(BtObject *o)
{
	return o->type ? pnstrdup(o->type, o->typelen) : pstrdup("object");
}
