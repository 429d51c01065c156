/*-------------------------------------------------------------------------
 *
 * svg.c
 *	  A picture of a diff: the plan of two drawing versions as one
 *	  standalone SVG document.
 *
 * Each object is its box (x, y the centre; width, height; rotation in
 * degrees counter-clockwise about the centre), y up.  Unchanged objects
 * are grey outlines, added ones green, removed ones red and dashed; a
 * moved object is drawn at its new place, with a faint outline at the old
 * one and an arrow between; resized, retyped, modified and rotated objects
 * are orange (a rotated one also faint at its old angle); objects found
 * again under a new id are blue.  With a whole-drawing shift, version a is
 * drawn shifted onto b, and the shift is one arrow under the plan.
 * Revision clouds enclose clusters of nearby changes; a legend with the
 * counts, a scale bar in buildtrace.units and a north arrow sit under the
 * plan; changed objects are labelled as the summary names them, leaving
 * out labels that would overlap others.
 *
 * Every object element carries data-id (and data-previous-id when it was
 * re-identified) and classes naming its kinds, for tools and tests.  The
 * output depends on the inputs, the options and the settings only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "guc.h"
#include "sortcheck.h"
#include "summary.h"
#include "svg.h"
#include "unionfind.h"

const char *const bt_svg_kind_names[BT_SVG_NKINDS] = {
	"unchanged", "added", "removed", "moved", "resized", "retyped",
	"modified", "rotated", "reidentified"
};

/* The same kinds, as the legend says them. */
static const char *const kind_words[BT_SVG_NKINDS] = {
	"unchanged", "added", "removed", "moved", "resized", "retyped",
	"modified", "rotated", "re-identified"
};

#define KIND(k) (1u << (k))

/*
 * Later rules win among the kinds, so an object that moved and was resized
 * is purple, and a re-identified one blue only when nothing else changed.
 */
static const char *const style =
".unchanged{fill:none;stroke:#9e9e9e}"
".reidentified{fill:#1e88e5;fill-opacity:.7;stroke:#0d47a1}"
".resized,.retyped,.modified,.rotated{fill:#fb8c00;fill-opacity:.7;stroke:#e65100}"
".moved{fill:#8e24aa;fill-opacity:.7;stroke:#4a148c}"
".removed{fill:#e53935;fill-opacity:.6;stroke:#b71c1c;stroke-dasharray:4 3}"
".added{fill:#43a047;fill-opacity:.7;stroke:#1b5e20}"
".ghost{fill:none;stroke:#8e24aa;stroke-opacity:.6;stroke-dasharray:3 2}"
".arrow{fill:none;stroke:#4a148c;stroke-width:1.5}"
".cloud{fill:none;stroke:#c2185b;stroke-width:1.5}"
".label{font-size:11px;fill:#212121;stroke:#fff;stroke-width:3px;"
"paint-order:stroke;stroke-linejoin:round}"
".legend text,.scale text,.north text,.shift text{font-size:12px;fill:#212121}";

#define MARGIN 24.0
#define MAX_ASPECT 2.0			/* the plan is at most this many widths tall */
#define LEGEND_ROW 20.0
#define CLOUD_CELL 48.0			/* changes about this close share a cloud */
#define CLOUD_PAD 6.0
#define SCALLOP 12.0
#define MAX_SCALLOPS 128		/* per side: a larger cloud has larger arcs */
#define MIN_SCALLOPS 8
#define SCALLOP_BUDGET 16384	/* all clouds' arcs past MIN_SCALLOPS a side */
#define MAX_PX 1e8				/* beyond any picture; keeps put_px exact */
#define LABEL_CELL 6.0
#define LABEL_CHAR 6.2			/* average width of a character, pixels */
#define LABEL_HEIGHT 13.0
#define LABEL_MAX_CHARS 32
#define MAX_LABELS 400

/* An object's box in drawing units. */
typedef struct Box
{
	double		cx;
	double		cy;
	double		w;
	double		h;
	double		rot;
} Box;

/* An axis-aligned rectangle in pixels, y down. */
typedef struct PixBox
{
	double		x0;
	double		y0;
	double		x1;
	double		y1;
} PixBox;

/* One object to draw. */
typedef struct Shape
{
	BtObject   *obj;			/* named by; a's object when removed */
	BtObject   *prev;			/* re-identified: a's object */
	uint32		kinds;			/* KIND() bits shown */
	Box			now;
	Box		   *old;			/* moved or rotated: drawn too; else NULL */
} Shape;

/* The box of a shape that reaches an edge of the plan's extent. */
typedef struct EdgeBox
{
	Shape	   *shape;
	bool		old;			/* its earlier place (moved or rotated) */
} EdgeBox;

typedef struct Picture
{
	const BtSvgOptions *opt;
	BtDiff	   *d;
	StringInfo	out;			/* the document is appended here */
	Shape	   *shapes;
	int			nshapes;
	int			nungeometric;	/* content hashes: nothing to draw */
	double		minx,
				maxx,
				miny,
				maxy;			/* extent in drawing units */
	EdgeBox		at_minx,		/* the boxes that reach the extent's edges */
				at_maxx,
				at_miny,
				at_maxy;
	double		scale;			/* pixels per drawing unit */
	double		ox;				/* pixel x of minx */
	double		legend_top;
	double		height;
} Picture;

/* ---------- writing ---------- */

/*
 * Bytes appended to the document: inline while the buffer, sized up front,
 * has room, and through appendBinaryStringInfo when it must grow.  A
 * picture appends a few bytes at a time, some dozen times per object,
 * where a call into the server for each cost a tenth of the picture.
 */
static inline void
put_bytes(StringInfo s, const char *p, int n)
{
	if (likely(s->len + n < s->maxlen))
	{
		memcpy(s->data + s->len, p, n);
		s->len += n;
		s->data[s->len] = '\0';
	}
	else
		appendBinaryStringInfo(s, p, n);
}

static inline void
put_char(StringInfo s, char c)
{
	put_bytes(s, &c, 1);
}

/* A string known at run time; a constant goes through put_literal. */
static inline void
put_string(StringInfo s, const char *t)
{
	put_bytes(s, t, strlen(t));
}

/*
 * A pixel coordinate to 0.1 px, without trailing zeros: written by hand,
 * as it is the bulk of a large picture and vsnprintf is slow.
 */
static void
put_px(StringInfo s, double v)
{
	char		buf[32];
	char	   *end = buf + sizeof(buf);
	char	   *p = end;
	long		t;
	bool		negative;

	/* far outside the picture, where only a degenerate plan puts a shape */
	v = isnan(v) ? 0.0 : Max(-MAX_PX, Min(v, MAX_PX));
	t = lround(v * 10.0);
	negative = t < 0;

	if (negative)
		t = -t;
	if (t % 10 != 0)
	{
		*--p = '0' + t % 10;
		*--p = '.';
	}
	t /= 10;
	do
	{
		*--p = '0' + t % 10;
		t /= 10;
	} while (t > 0);
	if (negative)
		*--p = '-';
	put_bytes(s, p, end - p);
}

/*
 * A string constant, its length known when compiled: the markup around the
 * numbers of every element, where a strlen each time would show.
 */
#define put_literal(s, lit) put_bytes((s), (lit), sizeof(lit) - 1)

/* " name=\"v\"", name a string constant */
#define put_attr_px(s, name, v) put_attr_px_after((s), " " name "=\"", \
												  sizeof(" " name "=\"") - 1, (v))

static void
put_attr_px_after(StringInfo s, const char *prefix, int len, double v)
{
	put_bytes(s, prefix, len);
	put_px(s, v);
	put_char(s, '"');
}

/* The five bytes that XML markup reserves, all below 64, as bits. */
#define MARKUP_BYTES \
	((UINT64CONST(1) << '&') | (UINT64CONST(1) << '<') | (UINT64CONST(1) << '>') | \
	 (UINT64CONST(1) << '"') | (UINT64CONST(1) << '\''))

/*
 * Text as XML character data or an attribute value.  Control characters
 * and U+FFFE/U+FFFF, which XML 1.0 does not allow even escaped, become
 * U+FFFD; tab, newline and carriage return are written as references, as
 * an attribute value read back would have them as spaces.
 */
static void
put_escaped(StringInfo s, const char *t, int len)
{
	int			run = 0;		/* start of the bytes that need no escape */

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) t[i];
		const char *esc;

		/* the usual id or name needs no escape: a test or two a byte */
		if (c >= 64 ? c != 0xEF : c >= 0x20 && !((MARKUP_BYTES >> c) & 1))
			continue;
		if (c == '&')
			esc = "&amp;";
		else if (c == '<')
			esc = "&lt;";
		else if (c == '>')
			esc = "&gt;";
		else if (c == '"')
			esc = "&quot;";
		else if (c == '\'')
			esc = "&#39;";
		else if (c == '\t')
			esc = "&#9;";
		else if (c == '\n')
			esc = "&#10;";
		else if (c == '\r')
			esc = "&#13;";
		else if (c < 0x20)
			esc = "\xEF\xBF\xBD";
		else if (c == 0xEF && i + 2 < len && (unsigned char) t[i + 1] == 0xBF &&
				 ((unsigned char) t[i + 2] & 0xFE) == 0xBE)
		{
			put_bytes(s, t + run, i - run);
			put_literal(s, "\xEF\xBF\xBD");
			i += 2;
			run = i + 1;
			continue;
		}
		else
			continue;
		put_bytes(s, t + run, i - run);
		put_string(s, esc);
		run = i + 1;
	}
	put_bytes(s, t + run, len - run);
}

static void
put_classes(StringInfo s, const char *first, uint32 kinds)
{
	put_string(s, first);
	for (int k = 0; k < BT_SVG_NKINDS; k++)
		if (kinds & KIND(k))
		{
			put_char(s, ' ');
			put_string(s, bt_svg_kind_names[k]);
		}
}

/*
 * data-id, and data-previous-id when the object was re-identified; none
 * without the ids option (a picture shown as an image has no use for them,
 * and a long id would be repeated in every element of its object).
 */
static void
put_ids(Picture *pic, Shape *sh)
{
	StringInfo	s = pic->out;

	if (!pic->opt->ids)
		return;
	put_literal(s, " data-id=\"");
	put_escaped(s, sh->obj->id, sh->obj->idlen);
	put_char(s, '"');
	if (sh->prev)
	{
		put_literal(s, " data-previous-id=\"");
		put_escaped(s, sh->prev->id, sh->prev->idlen);
		put_char(s, '"');
	}
}

/* ---------- what to draw ---------- */

/* The box of an object; a's objects are moved by the drawing's shift. */
static Box
object_box(Picture *pic, BtObject *o, BtFields *f, bool of_a)
{
	BtFields	own;
	Box			b;

	if (f == NULL)
	{
		bt_object_fields(o, &own);
		f = &own;
	}
	b.cx = bt_numeric_double(f->x);
	b.cy = bt_numeric_double(f->y);
	b.w = bt_numeric_double(f->width);
	b.h = bt_numeric_double(f->height);
	/* as bt_diff reduces it: also keeps huge angles printable */
	b.rot = bt_angle_mod_360(f->rotation);
	if (of_a && pic->d->has_shift)
	{
		b.cx += pic->d->shift_dx;
		b.cy += pic->d->shift_dy;
	}
	return b;
}

/*
 * A new shape for o with the shown ones of kinds, or NULL when o is not
 * drawn: it has no geometry, or it is removed and removals are hidden, or
 * all its kinds are hidden and so is the unchanged context.
 */
static Shape *
add_shape(Picture *pic, BtObject *o, uint32 kinds)
{
	uint32		shown = kinds & pic->opt->kinds;
	Shape	   *s;

	if (o->is_hash)
	{
		pic->nungeometric++;
		return NULL;
	}
	if (shown == 0)
	{
		if ((kinds & KIND(BT_SVG_REMOVED)) ||
			!(pic->opt->kinds & KIND(BT_SVG_UNCHANGED)))
			return NULL;
		shown = KIND(BT_SVG_UNCHANGED);
	}
	s = &pic->shapes[pic->nshapes++];
	memset(s, 0, sizeof(Shape));
	s->obj = o;
	s->kinds = shown;
	return s;
}

static uint32
match_kinds(BtMatch *m)
{
	return (m->moved ? KIND(BT_SVG_MOVED) : 0) |
		(m->resized ? KIND(BT_SVG_RESIZED) : 0) |
		(m->retyped ? KIND(BT_SVG_RETYPED) : 0) |
		(m->modified ? KIND(BT_SVG_MODIFIED) : 0) |
		(m->rotated ? KIND(BT_SVG_ROTATED) : 0) |
		(m->reidentified ? KIND(BT_SVG_REIDENTIFIED) : 0);
}

static void
add_match(Picture *pic, BtMatch *m)
{
	Shape	   *s = add_shape(pic, m->b, match_kinds(m));

	if (s == NULL)
		return;
	s->now = object_box(pic, m->b, &m->fb, false);
	if (m->reidentified)
		s->prev = m->a;
	if (s->kinds & (KIND(BT_SVG_MOVED) | KIND(BT_SVG_ROTATED)))
	{
		s->old = palloc(sizeof(Box));
		*s->old = object_box(pic, m->a, &m->fa, true);
	}
}

/* How b's objects appear in the diff, by their index in b's objs. */
#define B_CONTEXT 0
#define B_REIDENTIFIED_ONLY 1	/* identical apart from the id */
#define B_CHANGED 2

/*
 * The shapes in drawing order: the unchanged context first, so that
 * changes are drawn over it, then removed, changed and added objects, each
 * in id order.
 */
static void
collect_shapes(Picture *pic, BtDrawing *a, BtDrawing *b)
{
	BtDiff	   *d = pic->d;
	uint8	   *role = palloc_extended(Max(b->nobjs, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);

	pic->shapes = palloc_huge(sizeof(Shape) * (b->nobjs + d->nremoved + 1));
	for (int i = 0; i < d->matching.npairs; i++)
		role[d->matching.pairs[i].b - b->objs] = B_REIDENTIFIED_ONLY;
	for (int i = 0; i < d->nchanged; i++)
		role[d->changed[i].b - b->objs] = B_CHANGED;
	for (int i = 0; i < d->nadded; i++)
		role[d->added[i] - b->objs] = B_CHANGED;

	for (int i = 0; i < b->nobjs; i++)
	{
		BtObject   *o = &b->objs[b->byid[i].obj];
		Shape	   *s;

		CHECK_FOR_INTERRUPTS();

		/*
		 * id order is not b's order in memory: fetch the entry, then the
		 * object whose place this reads, some steps ahead
		 */
		if (i + 2 * BT_PREFETCH_STAGE < b->nobjs)
			bt_prefetch(&b->objs[b->byid[i + 2 * BT_PREFETCH_STAGE].obj]);
		if (i + BT_PREFETCH_STAGE < b->nobjs)
			bt_prefetch_object(&b->objs[b->byid[i + BT_PREFETCH_STAGE].obj]);
		if (role[o - b->objs] == B_CONTEXT &&
			(s = add_shape(pic, o, KIND(BT_SVG_UNCHANGED))) != NULL)
			s->now = object_box(pic, o, NULL, false);
	}
	for (int i = 0; i < d->nremoved; i++)
	{
		Shape	   *s = add_shape(pic, d->removed[i], KIND(BT_SVG_REMOVED));

		CHECK_FOR_INTERRUPTS();
		if (s)
			s->now = object_box(pic, d->removed[i], NULL, true);
	}
	for (int i = 0; i < d->nchanged; i++)
	{
		CHECK_FOR_INTERRUPTS();
		add_match(pic, &d->changed[i]);
	}
	for (int i = 0; i < d->matching.npairs; i++)
	{
		BtReidentified *r = &d->matching.pairs[i];
		Shape	   *s;

		CHECK_FOR_INTERRUPTS();
		if (role[r->b - b->objs] == B_REIDENTIFIED_ONLY &&
			(s = add_shape(pic, r->b, KIND(BT_SVG_REIDENTIFIED))) != NULL)
		{
			s->now = object_box(pic, r->b, NULL, false);
			s->prev = r->a;
		}
	}
	for (int i = 0; i < d->nadded; i++)
	{
		Shape	   *s = add_shape(pic, d->added[i], KIND(BT_SVG_ADDED));

		CHECK_FOR_INTERRUPTS();
		if (s)
			s->now = object_box(pic, d->added[i], NULL, false);
	}
	pfree(role);
}

/* ---------- placing the plan ---------- */

/* Half the width and height of the axis-aligned hull of a turned box. */
static void
half_extent(const Box *b, double *hw, double *hh)
{
	double		c = 1.0;
	double		s = 0.0;

	if (b->rot != 0.0)			/* most objects are not turned */
	{
		c = fabs(cos(b->rot * (M_PI / 180.0)));
		s = fabs(sin(b->rot * (M_PI / 180.0)));
	}
	*hw = (fabs(b->w) * c + fabs(b->h) * s) / 2.0;
	*hh = (fabs(b->w) * s + fabs(b->h) * c) / 2.0;
}

static void
extend(Picture *pic, Shape *s, const Box *b)
{
	double		hw,
				hh;
	EdgeBox		e;

	half_extent(b, &hw, &hh);
	if (!isfinite(b->cx - hw) || !isfinite(b->cx + hw) ||
		!isfinite(b->cy - hh) || !isfinite(b->cy + hh) || !isfinite(b->rot))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("drawing object is out of range for a picture"),
				 errdetail("Object \"%s\" has a place, size or rotation beyond double precision.",
						   bt_clip_id(s->obj->id, s->obj->idlen))));
	e.shape = s;
	e.old = b == s->old;
	if (b->cx - hw < pic->minx)
	{
		pic->minx = b->cx - hw;
		pic->at_minx = e;
	}
	if (b->cx + hw > pic->maxx)
	{
		pic->maxx = b->cx + hw;
		pic->at_maxx = e;
	}
	if (b->cy - hh < pic->miny)
	{
		pic->miny = b->cy - hh;
		pic->at_miny = e;
	}
	if (b->cy + hh > pic->maxy)
	{
		pic->maxy = b->cy + hh;
		pic->at_maxy = e;
	}
}

/* An edge's object for a detail: its id, and which place of it. */
static char *
edge_name(const EdgeBox *e)
{
	return psprintf("\"%s\"%s", bt_clip_id(e->shape->obj->id, e->shape->obj->idlen),
					e->old ? " (its earlier place)" : "");
}

/*
 * The plan's extent overflows: name what reaches its two ends, one object
 * (at one place or two) or two.
 */
static void
extent_error(Picture *pic, bool across)
{
	const EdgeBox *lo = across ? &pic->at_minx : &pic->at_miny;
	const EdgeBox *hi = across ? &pic->at_maxx : &pic->at_maxy;
	const char *axis = across ? "x" : "y";
	char	   *detail;

	if (lo->shape == hi->shape && lo->old == hi->old)
		detail = psprintf("Object %s spans more in %s than double precision can hold.",
						  edge_name(lo), axis);
	else if (lo->shape == hi->shape)
		detail = psprintf("Object \"%s\" moved further in %s than double precision can hold.",
						  bt_clip_id(lo->shape->obj->id, lo->shape->obj->idlen), axis);
	else
		detail = psprintf("Objects %s and %s are further apart in %s than double precision can hold.",
						  edge_name(lo), edge_name(hi), axis);
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("drawing is too large for a picture"),
			 errdetail_internal("%s", detail)));
}

/*
 * The scale that fits the plan into the picture's width (and at most
 * MAX_ASPECT widths tall), and the plan's place.
 */
static void
place_plan(Picture *pic)
{
	double		plan_w = pic->opt->width - 2 * MARGIN;
	double		ww,
				wh,
				sx,
				sy;

	pic->minx = pic->miny = INFINITY;
	pic->maxx = pic->maxy = -INFINITY;
	pic->at_minx.shape = pic->at_maxx.shape = pic->at_miny.shape = pic->at_maxy.shape = NULL;
	for (int i = 0; i < pic->nshapes; i++)
	{
		CHECK_FOR_INTERRUPTS();
		extend(pic, &pic->shapes[i], &pic->shapes[i].now);
		if (pic->shapes[i].old)
			extend(pic, &pic->shapes[i], pic->shapes[i].old);
	}
	if (pic->nshapes == 0)
		pic->minx = pic->maxx = pic->miny = pic->maxy = 0.0;
	ww = pic->maxx - pic->minx;
	wh = pic->maxy - pic->miny;
	if (!isfinite(ww) || !isfinite(wh))
		extent_error(pic, !isfinite(ww));
	sx = ww > 0 ? plan_w / ww : INFINITY;
	sy = wh > 0 ? (MAX_ASPECT * pic->opt->width) / wh : INFINITY;
	pic->scale = Min(sx, sy);
	if (isinf(pic->scale) || pic->scale <= 0)
		pic->scale = 1.0;
	pic->ox = MARGIN + (plan_w - ww * pic->scale) / 2.0;
	pic->legend_top = MARGIN + Max(wh * pic->scale, 40.0) + MARGIN + 12.0;
}

static double
px_x(Picture *pic, double x)
{
	return pic->ox + (x - pic->minx) * pic->scale;
}

static double
px_y(Picture *pic, double y)
{
	return MARGIN + (pic->maxy - y) * pic->scale;
}

static PixBox
pix_box(Picture *pic, const Box *b)
{
	double		hw,
				hh;
	double		x = px_x(pic, b->cx);
	double		y = px_y(pic, b->cy);
	PixBox		p;

	half_extent(b, &hw, &hh);
	hw *= pic->scale;
	hh *= pic->scale;
	p.x0 = x - hw;
	p.y0 = y - hh;
	p.x1 = x + hw;
	p.y1 = y + hh;
	return p;
}

/* ---------- objects ---------- */

static void
draw_rect(Picture *pic, Shape *sh, const char *cls, uint32 kinds, const Box *b)
{
	StringInfo	s = pic->out;
	double		w = Max(fabs(b->w) * pic->scale, 1.0);
	double		h = Max(fabs(b->h) * pic->scale, 1.0);
	double		x = px_x(pic, b->cx);
	double		y = px_y(pic, b->cy);

	put_literal(s, "<rect class=\"");
	put_classes(s, cls, kinds);
	put_char(s, '"');
	put_ids(pic, sh);
	put_attr_px(s, "x", x - w / 2);
	put_attr_px(s, "y", y - h / 2);
	put_attr_px(s, "width", w);
	put_attr_px(s, "height", h);
	if (b->rot != 0.0)
	{
		/* counter-clockwise with y up is clockwise-negative on screen */
		put_literal(s, " transform=\"rotate(");
		put_px(s, -b->rot);
		put_char(s, ' ');
		put_px(s, x);
		put_char(s, ' ');
		put_px(s, y);
		put_literal(s, ")\"");
	}
	put_literal(s, "/>\n");
}

static void
draw_arrow(Picture *pic, Shape *sh)
{
	StringInfo	s = pic->out;

	put_literal(s, "<line class=\"arrow moved\"");
	put_ids(pic, sh);
	put_attr_px(s, "x1", px_x(pic, sh->old->cx));
	put_attr_px(s, "y1", px_y(pic, sh->old->cy));
	put_attr_px(s, "x2", px_x(pic, sh->now.cx));
	put_attr_px(s, "y2", px_y(pic, sh->now.cy));
	put_literal(s, " marker-end=\"url(#bt-arrow)\"/>\n");
}

static void
draw_shapes(Picture *pic)
{
	for (int i = 0; i < pic->nshapes; i++)
	{
		Shape	   *sh = &pic->shapes[i];

		CHECK_FOR_INTERRUPTS();

		/*
		 * the ids are in the objects, scattered: fetch the object's entry,
		 * then its id, some shapes ahead
		 */
		if (pic->opt->ids && i + 2 * BT_PREFETCH_STAGE < pic->nshapes)
		{
			bt_prefetch(pic->shapes[i + 2 * BT_PREFETCH_STAGE].obj);
			bt_prefetch(pic->shapes[i + BT_PREFETCH_STAGE].obj->id);
		}
		if (sh->old)
		{
			draw_rect(pic, sh, "ghost",
					  sh->kinds & (KIND(BT_SVG_MOVED) | KIND(BT_SVG_ROTATED)), sh->old);
			if (sh->kinds & KIND(BT_SVG_MOVED))
				draw_arrow(pic, sh);
		}
		draw_rect(pic, sh, "obj", sh->kinds, &sh->now);
	}
}

/* ---------- revision clouds ---------- */

/* A changed shape in the cell of the grid its centre falls in. */
typedef struct CellEntry
{
	int32		cx;
	int32		cy;
	int			shape;
} CellEntry;

static int
cmp_cell_entry(const void *x, const void *y)
{
	const CellEntry *a = x;
	const CellEntry *b = y;

	bt_sort_tick();

	if (a->cx != b->cx)
		return a->cx < b->cx ? -1 : 1;
	if (a->cy != b->cy)
		return a->cy < b->cy ? -1 : 1;
	return (a->shape > b->shape) - (a->shape < b->shape);
}

/* The first entry in cell (cx, cy), or -1. */
static int
find_cell(CellEntry *e, int n, int32 cx, int32 cy)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (e[mid].cx < cx || (e[mid].cx == cx && e[mid].cy < cy))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && e[lo].cx == cx && e[lo].cy == cy ? lo : -1;
}

/*
 * The number of arcs along a side of len pixels, at most max_arcs: the
 * clouds cost a bounded number of bytes however large their changes are.
 */
static int
scallops(double len, int max_arcs)
{
	return Max(1, Min(max_arcs, (int) rint(len / SCALLOP)));
}

/* b clipped to the plan, above the legend */
static PixBox
clip_to_plan(Picture *pic, PixBox b)
{
	b.x0 = Min(Max(b.x0, 0.0), pic->opt->width);
	b.y0 = Min(Max(b.y0, 0.0), pic->legend_top);
	b.x1 = Min(Max(b.x1, b.x0), pic->opt->width);
	b.y1 = Min(Max(b.y1, b.y0), pic->legend_top);
	return b;
}

/* A scalloped outline around b, drawn clockwise so the arcs bulge out. */
static void
draw_cloud(Picture *pic, PixBox b, int max_arcs)
{
	StringInfo	s = pic->out;
	double		w = b.x1 - b.x0;
	double		h = b.y1 - b.y0;
	int			nx = scallops(w, max_arcs);
	int			ny = scallops(h, max_arcs);
	double		steps[4][2] = {{w / nx, 0}, {0, h / ny}, {-w / nx, 0}, {0, -h / ny}};

	put_literal(s, "<path class=\"cloud\" d=\"M");
	put_px(s, b.x0);
	put_char(s, ' ');
	put_px(s, b.y0);
	for (int side = 0; side < 4; side++)
	{
		double		r = fabs(steps[side][0] + steps[side][1]) / 2.0;

		for (int i = 0; i < (side % 2 == 0 ? nx : ny); i++)
		{
			put_literal(s, "a");
			put_px(s, r);
			put_char(s, ' ');
			put_px(s, r);
			put_literal(s, " 0 0 1 ");
			put_px(s, steps[side][0]);
			put_char(s, ' ');
			put_px(s, steps[side][1]);
		}
	}
	put_literal(s, "z\"/>\n");
}

static PixBox
shape_pixels(Picture *pic, Shape *sh)
{
	PixBox		p = pix_box(pic, &sh->now);

	if (sh->old)
	{
		PixBox		o = pix_box(pic, sh->old);

		p.x0 = Min(p.x0, o.x0);
		p.y0 = Min(p.y0, o.y0);
		p.x1 = Max(p.x1, o.x1);
		p.y1 = Max(p.y1, o.y1);
	}
	return p;
}

/* The changes in cells of CLOUD_CELL pixels, sorted by cell. */
static CellEntry *
changed_cells(Picture *pic, int *n)
{
	CellEntry  *e = palloc_huge(sizeof(CellEntry) * Max(pic->nshapes, 1));

	*n = 0;
	for (int i = 0; i < pic->nshapes; i++)
	{
		Shape	   *sh = &pic->shapes[i];

		CHECK_FOR_INTERRUPTS();
		if (sh->kinds == KIND(BT_SVG_UNCHANGED))
			continue;
		e[*n].cx = (int32) floor(px_x(pic, sh->now.cx) / CLOUD_CELL);
		e[*n].cy = (int32) floor(px_y(pic, sh->now.cy) / CLOUD_CELL);
		e[(*n)++].shape = i;
	}
	qsort(e, *n, sizeof(CellEntry), cmp_cell_entry);
	return e;
}

/* One cloud per group of changes in touching cells. */
static void
draw_clouds(Picture *pic)
{
	int			n;
	int			nclouds = 0;
	int			max_arcs;
	CellEntry  *e = changed_cells(pic, &n);
	int		   *parent = palloc_huge(sizeof(int) * Max(n, 1));
	PixBox	   *box = palloc_huge(sizeof(PixBox) * Max(n, 1));
	static const int32 next[4][2] = {{0, 1}, {1, -1}, {1, 0}, {1, 1}};

	for (int i = 0; i < n; i++)
		parent[i] = i;
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (i > 0 && e[i - 1].cx == e[i].cx && e[i - 1].cy == e[i].cy)
			bt_uf_join(parent, i - 1, i);
		for (int k = 0; k < 4; k++)
		{
			int			j = find_cell(e, n, e[i].cx + next[k][0], e[i].cy + next[k][1]);

			if (j >= 0)
				bt_uf_join(parent, i, j);
		}
	}
	for (int i = 0; i < n; i++)
	{
		int			r = bt_uf_root(parent, i);
		PixBox		p = shape_pixels(pic, &pic->shapes[e[i].shape]);

		CHECK_FOR_INTERRUPTS();

		if (r == i)
		{
			box[r] = p;
			nclouds++;
		}
		box[r].x0 = Min(box[r].x0, p.x0);
		box[r].y0 = Min(box[r].y0, p.y0);
		box[r].x1 = Max(box[r].x1, p.x1);
		box[r].y1 = Max(box[r].y1, p.y1);
	}

	/*
	 * A side gets its cloud's share of the budget, at most MAX_SCALLOPS, and
	 * at least what a cloud around one or two nearby changes needs anyway.
	 */
	max_arcs = Max(MIN_SCALLOPS, Min(MAX_SCALLOPS, SCALLOP_BUDGET / (4 * Max(nclouds, 1))));
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (parent[i] != i)
			continue;
		box[i].x0 -= CLOUD_PAD;
		box[i].y0 -= CLOUD_PAD;
		box[i].x1 += CLOUD_PAD;
		box[i].y1 += CLOUD_PAD;
		draw_cloud(pic, clip_to_plan(pic, box[i]), max_arcs);
	}
}

/* ---------- labels ---------- */

/* Cells of LABEL_CELL pixels that placed labels cover. */
typedef struct LabelGrid
{
	uint8	   *used;
	int			w;
	int			h;
} LabelGrid;

/* Mark the cells of p as used, unless one of them is: then false. */
static bool
take_cells(LabelGrid *g, PixBox p)
{
	int			x0 = Max(0, (int) floor(p.x0 / LABEL_CELL));
	int			y0 = Max(0, (int) floor(p.y0 / LABEL_CELL));
	int			x1 = Min(g->w - 1, (int) floor(p.x1 / LABEL_CELL));
	int			y1 = Min(g->h - 1, (int) floor(p.y1 / LABEL_CELL));

	for (int y = y0; y <= y1; y++)
		for (int x = x0; x <= x1; x++)
			if (g->used[y * g->w + x])
				return false;
	for (int y = y0; y <= y1; y++)
		for (int x = x0; x <= x1; x++)
			g->used[y * g->w + x] = 1;
	return true;
}

/*
 * The label of a changed shape above the right of its box, unless it would
 * overlap a label already placed.
 */
static void
draw_label(Picture *pic, LabelGrid *g, Shape *sh)
{
	const char *name = bt_object_name(sh->obj);
	int			len = strlen(name);
	int			chars = pg_mbstrlen_with_len(name, len);
	bool		cut = chars > LABEL_MAX_CHARS;
	PixBox		at = pix_box(pic, &sh->now);
	PixBox		spot;
	double		w;
	double		right = pic->opt->width - 2;

	/* a name longer than a label ends in an ellipsis, as in the summary */
	if (cut)
	{
		len = pg_mbcharcliplen(name, len, LABEL_MAX_CHARS - 1);
		while (len > 0 && name[len - 1] == ' ')
			len--;
		chars = pg_mbstrlen_with_len(name, len) + 1;
	}
	w = chars * LABEL_CHAR;

	/* right of the box, else left of it, else over it inside the picture */
	spot.x0 = at.x1 + 2;
	if (spot.x0 + w > right)
		spot.x0 = at.x0 - 2 - w;
	if (spot.x0 < 2)
		spot.x0 = Max(2, Min(at.x0, right - w));
	spot.x1 = spot.x0 + w;
	spot.y1 = Max(at.y0 - 1, LABEL_HEIGHT);
	spot.y0 = spot.y1 - LABEL_HEIGHT;
	if (!take_cells(g, spot))
		return;
	put_literal(pic->out, "<text class=\"label\"");
	put_ids(pic, sh);
	put_attr_px(pic->out, "x", spot.x0);
	put_attr_px(pic->out, "y", spot.y1 - 3);
	put_char(pic->out, '>');
	put_escaped(pic->out, name, len);
	if (cut)
		put_literal(pic->out, BT_ELLIPSIS);
	put_literal(pic->out, "</text>\n");
}

static void
draw_labels(Picture *pic)
{
	LabelGrid	g;
	int			placed = 0;

	g.w = (int) ceil(pic->opt->width / LABEL_CELL) + 1;
	g.h = (int) ceil(pic->legend_top / LABEL_CELL) + 1;
	g.used = palloc0((Size) g.w * g.h);
	for (int i = 0; i < pic->nshapes && placed < MAX_LABELS; i++)
	{
		Shape	   *sh = &pic->shapes[i];
		int			before = pic->out->len;

		CHECK_FOR_INTERRUPTS();
		if (sh->kinds == KIND(BT_SVG_UNCHANGED))
			continue;
		draw_label(pic, &g, sh);
		placed += pic->out->len != before;
	}
	pfree(g.used);
}

/* ---------- legend, scale, north, shift ---------- */

static int
kind_count(BtDiff *d, int k)
{
	switch ((BtSvgKind) k)
	{
		case BT_SVG_UNCHANGED:
			return d->nunchanged;
		case BT_SVG_ADDED:
			return d->nadded;
		case BT_SVG_REMOVED:
			return d->nremoved;
		case BT_SVG_MOVED:
			return d->nmoved;
		case BT_SVG_RESIZED:
			return d->nresized;
		case BT_SVG_RETYPED:
			return d->nretyped;
		case BT_SVG_MODIFIED:
			return d->nmodified;
		case BT_SVG_ROTATED:
			return d->nrotated;
		case BT_SVG_REIDENTIFIED:
			return d->matching.npairs;
		case BT_SVG_NKINDS:
			break;
	}
	return 0;
}

/*
 * Lay out (and with draw, write) the legend: a swatch and "3 added" per
 * kind shown that the diff has, wrapping into rows.  Returns the number of
 * rows.
 */
static int
legend(Picture *pic, bool draw)
{
	StringInfo	s = pic->out;
	double		x = MARGIN;
	int			rows = 1;

	for (int k = 0; k < BT_SVG_NKINDS; k++)
	{
		char	   *text;
		double		w;
		double		y;

		if (!(pic->opt->kinds & KIND(k)) || kind_count(pic->d, k) == 0)
			continue;
		text = psprintf("%d %s", kind_count(pic->d, k), kind_words[k]);

		w = 16 + strlen(text) * 7.0 + 14;
		if (x + w > pic->opt->width - MARGIN && x > MARGIN)
		{
			x = MARGIN;
			rows++;
		}
		y = pic->legend_top + (rows - 1) * LEGEND_ROW;
		if (draw)
		{
			appendStringInfo(s, "<rect class=\"swatch %s\"", bt_svg_kind_names[k]);
			put_attr_px(s, "x", x);
			put_attr_px(s, "y", y - 10);
			put_literal(s, " width=\"12\" height=\"10\"/><text");
			put_attr_px(s, "x", x + 16);
			put_attr_px(s, "y", y);
			appendStringInfo(s, ">%s</text>\n", text);
		}
		x += w;
	}
	return rows;
}

/* The largest 1, 2 or 5 times a power of ten not over v. */
static double
round_length(double v)
{
	double		p = pow(10.0, floor(log10(v)));

	return v >= 5 * p ? 5 * p : v >= 2 * p ? 2 * p : p;
}

/* A bar about a fifth of the plan's width long, in buildtrace.units. */
static void
draw_scale(Picture *pic, double y)
{
	StringInfo	s = pic->out;
	double		len = round_length((pic->opt->width - 2 * MARGIN) / pic->scale / 5.0);
	double		w = len * pic->scale;
	char	   *words;

	if (!isfinite(len) || len <= 0)
		return;
	put_literal(s, "<g class=\"scale\"><path d=\"M");
	put_px(s, MARGIN);
	put_char(s, ' ');
	put_px(s, y - 6);
	put_literal(s, "v6h");
	put_px(s, w);
	put_literal(s, "v-6\" fill=\"none\" stroke=\"#424242\" stroke-width=\"1.5\"/><text");
	put_attr_px(s, "x", MARGIN + w + 6);
	put_attr_px(s, "y", y);
	put_char(s, '>');
	words = bt_length_words(len);
	put_escaped(s, words, strlen(words));
	put_literal(s, "</text></g>\n");
}

/* North is up: y grows to the north in every drawing. */
static void
draw_north(Picture *pic, double y)
{
	StringInfo	s = pic->out;
	double		x = pic->opt->width - MARGIN - 6;

	put_literal(s, "<g class=\"north\"><path d=\"M");
	put_px(s, x);
	put_char(s, ' ');
	put_px(s, y - 14);
	put_literal(s, "l6 16l-6-4l-6 4z\" fill=\"#424242\"/><text");
	put_attr_px(s, "x", x - 20);
	put_attr_px(s, "y", y);
	put_literal(s, ">N</text></g>\n");
}

/* The whole-drawing shift: one arrow and its words, not one per object. */
static void
draw_shift(Picture *pic, double y)
{
	StringInfo	s = pic->out;
	BtDiff	   *d = pic->d;
	double		len = hypot(d->shift_dx, d->shift_dy);
	double		x = pic->opt->width / 2.0 - 60;
	double		cy = y - 5;
	char	   *words;

	appendStringInfo(s, "<g class=\"shift\" data-dx=\"%.*g\" data-dy=\"%.*g\">"
					 "<line class=\"arrow\"", DBL_DIG, d->shift_dx, DBL_DIG, d->shift_dy);
	put_attr_px(s, "x1", x - 10 * d->shift_dx / len);
	put_attr_px(s, "y1", cy + 10 * d->shift_dy / len);
	put_attr_px(s, "x2", x + 10 * d->shift_dx / len);
	put_attr_px(s, "y2", cy - 10 * d->shift_dy / len);
	put_literal(s, " marker-end=\"url(#bt-arrow)\"/><text");
	put_attr_px(s, "x", x + 16);
	put_attr_px(s, "y", y);
	put_literal(s, ">whole drawing moved ");
	words = bt_distance_words(len, bt_compass(d->shift_dx, d->shift_dy));
	/* the words hold buildtrace.units, which may hold markup */
	put_escaped(s, words, strlen(words));
	put_literal(s, "</text></g>\n");
}

/* ---------- the document ---------- */

static void
begin_document(Picture *pic)
{
	StringInfo	s = pic->out;
	int			w = pic->opt->width;
	int			h = (int) ceil(pic->height);

	appendStringInfo(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
					 "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", w, h, w, h);
	put_literal(s, "<title>Changes between two drawing versions</title>\n");
	put_literal(s, "<defs><marker id=\"bt-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" "
				"refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
				"<path d=\"M0 0L10 5L0 10z\" fill=\"#4a148c\"/></marker></defs>\n");
	appendStringInfo(s, "<style>%s</style>\n", style);
	put_literal(s, "<rect class=\"paper\" width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
}

static void
draw_plan(Picture *pic)
{
	StringInfo	s = pic->out;

	put_literal(s, "<g class=\"plan\">\n");
	draw_shapes(pic);
	if (pic->nshapes == 0)
	{
		put_literal(s, "<text class=\"empty\"");
		put_attr_px(s, "x", MARGIN);
		put_attr_px(s, "y", MARGIN + 24);
		put_literal(s, ">No objects to draw.</text>\n");
	}
	if (pic->opt->clouds)
		draw_clouds(pic);
	if (pic->opt->labels)
		draw_labels(pic);
	put_literal(s, "</g>\n");
}

static void
draw_margin(Picture *pic, int rows)
{
	StringInfo	s = pic->out;
	double		y = pic->legend_top + rows * LEGEND_ROW + 4;

	put_literal(s, "<g class=\"legend\">\n");
	legend(pic, true);
	if (pic->nungeometric > 0)
	{
		put_literal(s, "<text");
		put_attr_px(s, "x", MARGIN);
		put_attr_px(s, "y", y);
		appendStringInfo(s, ">%d without geometry, not drawn</text>\n", pic->nungeometric);
		y += LEGEND_ROW;
	}
	put_literal(s, "</g>\n");
	if (pic->nshapes > 0)
		draw_scale(pic, y);
	if (pic->d->has_shift)
		draw_shift(pic, y);
	draw_north(pic, y);
}

/* About the bytes of one object's elements, to size the output once. */
#define BYTES_PER_SHAPE 110

void
bt_svg_write(BtDrawing *a, BtDrawing *b, BtDiff *d, const BtSvgOptions *opt,
			 StringInfo out)
{
	Picture		pic;
	int			rows;

	memset(&pic, 0, sizeof(pic));
	pic.opt = opt;
	pic.d = d;
	collect_shapes(&pic, a, b);
	place_plan(&pic);
	rows = legend(&pic, false);
	pic.height = pic.legend_top + (rows + (pic.nungeometric > 0)) * LEGEND_ROW + 4 + MARGIN;

	pic.out = out;
	enlargeStringInfo(out, Min((Size) 4096 + (Size) BYTES_PER_SHAPE * pic.nshapes,
							   MaxAllocSize / 2));
	begin_document(&pic);
	draw_plan(&pic);
	draw_margin(&pic, rows);
	put_literal(out, "</svg>\n");
}
