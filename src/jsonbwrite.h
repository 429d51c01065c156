/*-------------------------------------------------------------------------
 *
 * jsonbwrite.h
 *	  Writing a jsonb value's bytes directly, in final key order.
 *
 * pushJsonbValue builds a tree of JsonbValues that JsonbValueToJsonb then
 * sorts and copies; for a large diff that tree is several times the size of
 * the result and its conversion cannot be interrupted.  This writer appends
 * each container's header, JEntries and children to one buffer as they come,
 * copies input containers as they are stored, and checks for interrupts as
 * it grows.  The caller gives every object's keys up front, already in jsonb
 * order (shorter first, then bytewise; see bt_jsonb_key_cmp), and then the
 * values in that order; the writer checks the order and the counts.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BUILDTRACE_JSONBWRITE_H
#define BUILDTRACE_JSONBWRITE_H

#include "utils/jsonb.h"
#include "utils/numeric.h"

/* Containers open at once: the diff's deepest path is four. */
#define BT_JW_MAX_DEPTH 8

typedef struct BtJwFrame
{
	Size		base;			/* where the container begins, before padding */
	Size		jentries;		/* where its JEntry array begins */
	Size		data;			/* where its children's data begins */
	int			nentries;		/* JEntries: elements, or keys and values */
	int			next;			/* the next JEntry to fill */
} BtJwFrame;

typedef struct BtJsonbWriter
{
	char	   *buf;			/* a Jsonb varlena being written */
	Size		len;
	Size		cap;
	Size		checked;		/* len at the last interrupt check */
	int			depth;
	BtJwFrame	stack[BT_JW_MAX_DEPTH];
	Numeric		rounded;		/* the last value of bt_jw_rounded, or NULL */
	double		rounded_from;	/* ... and the double it was rounded from */
} BtJsonbWriter;

/* An object's key; BT_JW_KEY("id") for a constant one. */
typedef struct BtJwKey
{
	const char *s;
	int			len;
} BtJwKey;

#define BT_JW_KEY(s) {s, sizeof(s) - 1}

/*
 * The first nkeys of a constant key list, whose object beginning (header,
 * JEntries and key bytes) is the same for every object of that shape: built
 * on first use, then copied whole.  Declare it static with BT_JW_SHAPE.
 */
typedef struct BtJwShape
{
	const BtJwKey *keys;
	int			nkeys;
	int			keybytes;		/* bytes of its keys, once built */
	char	   *image;			/* NULL until first used */
} BtJwShape;

#define BT_JW_SHAPE(keys, nkeys) {keys, nkeys, 0, NULL}

/* jsonb's key order: shorter first, then bytewise. */
extern int	bt_jsonb_key_cmp(const char *a, int alen, const char *b, int blen);

/*
 * Start a result in CurrentMemoryContext, with room for about estimate
 * bytes; a result known to need at_least bytes beyond jsonb's limit fails
 * here, before any is written.
 */
extern void bt_jw_init(BtJsonbWriter *w, Size at_least, Size estimate);
extern Jsonb *bt_jw_finish(BtJsonbWriter *w);

extern void bt_jw_begin_array(BtJsonbWriter *w, int nelems);
extern void bt_jw_begin_object(BtJsonbWriter *w, const BtJwKey *keys,
							   int nkeys);
extern void bt_jw_begin_shape(BtJsonbWriter *w, BtJwShape *shape);
extern void bt_jw_end(BtJsonbWriter *w);

extern void bt_jw_string(BtJsonbWriter *w, const char *s, int len);
extern void bt_jw_cstring(BtJsonbWriter *w, const char *s); /* NULL: null */
extern void bt_jw_null(BtJsonbWriter *w);
extern void bt_jw_numeric(BtJsonbWriter *w, Numeric n);
extern void bt_jw_int(BtJsonbWriter *w, int64 v);
extern void bt_jw_rounded(BtJsonbWriter *w, double v);

/* A stored container, copied as it is. */
extern void bt_jw_container(BtJsonbWriter *w, JsonbContainer *c, int len);

/* A scalar JsonbValue, or a jbvBinary container. */
extern void bt_jw_value(BtJsonbWriter *w, const JsonbValue *v);

#endif							/* BUILDTRACE_JSONBWRITE_H */
