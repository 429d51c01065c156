/*-------------------------------------------------------------------------
 *
 * svg_sql.c
 *	  SQL entry point bt_svg: the options and the picture of a diff.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "diff.h"
#include "diff_sql.h"
#include "drawing.h"
#include "svg.h"

PG_FUNCTION_INFO_V1(bt_svg);

#define OPTION_NAMES "width, labels, clouds, ids and kinds"

/* A jsonb value as text, for an error's detail: cut as long text is. */
static char *
jsonb_text(Jsonb *j)
{
	char	   *s = JsonbToCString(NULL, &j->root, VARSIZE(j));

	return bt_clip_text(s, strlen(s));
}

static char *
value_text(JsonbValue *v)
{
	return jsonb_text(JsonbValueToJsonb(v));
}

static int
width_option(JsonbValue *v)
{
	int			w = 0;
	bool		ok = false;

	if (v->type == jbvNumeric)
	{
		/* the digits as given: a double would round 799.99999999999999999 */
		char	   *digits = DatumGetCString(DirectFunctionCall1(numeric_out,
																 NumericGetDatum(v->val.numeric)));
		char	   *end;
		long		l;

		errno = 0;
		l = strtol(digits, &end, 10);
		if (*end == '.')
			end += strspn(end + 1, "0") + 1;
		ok = errno == 0 && *end == '\0' && l >= BT_SVG_MIN_WIDTH && l <= BT_SVG_MAX_WIDTH;
		w = (int) l;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bt_svg option \"width\" must be a whole number of pixels from %d to %d",
						BT_SVG_MIN_WIDTH, BT_SVG_MAX_WIDTH),
				 errdetail("The value given is %s.", value_text(v))));
	return w;
}

static bool
bool_option(const char *name, JsonbValue *v)
{
	if (v->type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bt_svg option \"%s\" must be true or false", name),
				 errdetail("The value given is %s.", value_text(v))));
	return v->val.boolean;
}

static int
kind_named(JsonbValue *e)
{
	if (e->type == jbvString)
		for (int k = 0; k < BT_SVG_NKINDS; k++)
			if (strlen(bt_svg_kind_names[k]) == (size_t) e->val.string.len &&
				memcmp(bt_svg_kind_names[k], e->val.string.val, e->val.string.len) == 0)
				return k;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("bt_svg option \"kinds\" names an unknown kind"),
			 errdetail("The element given is %s.", value_text(e)),
			 errhint("The kinds are unchanged, added, removed, moved, resized, retyped, modified, rotated and reidentified.")));
	return -1;
}

/* "kinds": an array of kind names */
static uint32
kinds_option(JsonbValue *v)
{
	uint32		kinds = 0;
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bt_svg option \"kinds\" must be an array of kind names"),
				 errdetail("The value given is %s.", value_text(v))));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			kinds |= 1u << kind_named(&e);
	return kinds;
}

static void
svg_options(Jsonb *jo, BtSvgOptions *opt)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	opt->width = 800;
	opt->labels = true;
	opt->ids = true;
	opt->clouds = true;
	opt->kinds = BT_SVG_ALL_KINDS;
	if (!JB_ROOT_IS_OBJECT(jo))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bt_svg options must be a JSON object"),
				 errdetail("The options given are %s.",
						   jsonb_text(jo))));
	it = JsonbIteratorInit(&jo->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;

		if (tok != WJB_KEY)
			continue;
		name = bt_clip_text(k.val.string.val, k.val.string.len);
		(void) JsonbIteratorNext(&it, &v, true);
		if (strcmp(name, "width") == 0)
			opt->width = width_option(&v);
		else if (strcmp(name, "labels") == 0)
			opt->labels = bool_option(name, &v);
		else if (strcmp(name, "clouds") == 0)
			opt->clouds = bool_option(name, &v);
		else if (strcmp(name, "ids") == 0)
			opt->ids = bool_option(name, &v);
		else if (strcmp(name, "kinds") == 0)
			opt->kinds = kinds_option(&v);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized bt_svg option \"%s\"", name),
					 errdetail("The options object has a key \"%s\", which is no option of bt_svg.", name),
					 errhint("The options are " OPTION_NAMES ".")));
	}
}

/*
 * bt_svg(a, b, options): the picture of bt_diff(a, b) with the settings'
 * tolerances.  Invalid versions raise bt_diff's errors.
 */
Datum
bt_svg(PG_FUNCTION_ARGS)
{
	Jsonb	   *ja = PG_GETARG_JSONB_P(0);
	Jsonb	   *jb = PG_GETARG_JSONB_P(1);
	BtSvgOptions opt;
	BtDiffParams p;
	MemoryContext scratch,
				old;
	BtDrawing	a,
				b;
	BtDiff		d;
	StringInfoData svg;

	svg_options(PG_GETARG_JSONB_P(2), &opt);
	bt_diff_params_from_settings(&p);
	/* the text is built in place, its header first: no copy of a large result */
	initStringInfo(&svg);
	appendStringInfoSpaces(&svg, VARHDRSZ);
	scratch = AllocSetContextCreate(CurrentMemoryContext, "buildtrace svg",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	(void) bt_diff_drawings(ja, jb, &p, NULL, &a, &b, &d);
	bt_svg_write(&a, &b, &d, &opt, &svg);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
	SET_VARSIZE(svg.data, svg.len);
	PG_RETURN_TEXT_P((text *) svg.data);
}
