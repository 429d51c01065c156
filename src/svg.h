/*-------------------------------------------------------------------------
 *
 * svg.h
 *	  A picture of a diff: the plan of two drawing versions as SVG, with
 *	  each change drawn in its colour (see svg.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_SVG_H
#define BUILDTRACE_SVG_H

#include "lib/stringinfo.h"

#include "diff.h"

/* What a picture can show, in legend order. */
typedef enum BtSvgKind
{
	BT_SVG_UNCHANGED,
	BT_SVG_ADDED,
	BT_SVG_REMOVED,
	BT_SVG_MOVED,
	BT_SVG_RESIZED,
	BT_SVG_RETYPED,
	BT_SVG_MODIFIED,
	BT_SVG_ROTATED,
	BT_SVG_REIDENTIFIED,
	BT_SVG_NKINDS
} BtSvgKind;

/* Also the class names of the SVG elements and the options' kind names. */
extern const char *const bt_svg_kind_names[BT_SVG_NKINDS];

#define BT_SVG_ALL_KINDS ((1u << BT_SVG_NKINDS) - 1)

/* Width limits, in pixels. */
#define BT_SVG_MIN_WIDTH 120
#define BT_SVG_MAX_WIDTH 20000

typedef struct BtSvgOptions
{
	int			width;			/* of the whole picture, pixels */
	bool		labels;			/* name the changed objects */
	bool		ids;			/* data-id on every element, for scripts */
	bool		clouds;			/* revision clouds around clusters */
	uint32		kinds;			/* (1 << BtSvgKind) for each kind shown */
} BtSvgOptions;

/*
 * Append the SVG document of diff d of version a to b to out (which may
 * belong to another memory context than the current one, the scratch).
 */
extern void bt_svg_write(BtDrawing *a, BtDrawing *b, BtDiff *d,
						 const BtSvgOptions *opt, StringInfo out);

#endif							/* BUILDTRACE_SVG_H */
